//! The README's adoption YAML: one block per forge, complete and copy-pasteable, at most 20
//! lines, covering release + PR gate (+ the flaky-test loop once it exists), the same in
//! docs/pipelines.md, and what `cargo xtask e2e` runs.
//!
//! An adoption block is a ```` ```yaml ```` block whose first line is a comment naming the file
//! a consumer writes it to (`# .github/workflows/paved.yml`, `# .gitlab-ci.yml`). The e2e runs
//! each block as written with one documented rewrite of the reference lines only (see
//! [`local`]): a reusable workflow is called from a local copy, a component is included from a
//! local copy of `templates/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

const GITHUB: &str = ".github/workflows/paved.yml";
const GITLAB: &str = ".gitlab-ci.yml";
const MAX_LINES: usize = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The adoption blocks of a markdown text, by the file they name. A second block for one file
/// is an error: a reader would not know which to copy.
fn adoption_blocks(markdown: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body.find("```").expect("an unclosed ```yaml block");
        let block = &body[..end];
        rest = &body[end + 3..];
        let Some(file) = block
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .filter(|f| *f == GITHUB || *f == GITLAB)
        else {
            continue;
        };
        assert!(
            out.insert(file.to_owned(), block.to_owned()).is_none(),
            "two adoption blocks for `{file}`"
        );
    }
    out
}

/// The e2e's rewrite of the reference lines: `uses: paved-dev/paved/.github/workflows/X.yml@vV`
/// calls the copy `./.github/workflows/paved-X.yml`; `component: $CI_SERVER_FQDN/paved-dev/paved/X@V`
/// includes `local: paved/templates/X/template.yml`. Every other byte stays.
fn local(block: &str) -> String {
    block
        .split_inclusive('\n')
        .map(|line| {
            let indent = &line[..line.len() - line.trim_start().len()];
            let text = line.trim_start();
            if let Some(r) = text.strip_prefix("uses: paved-dev/paved/.github/workflows/")
                && let Some((name, _)) = r.split_once(".yml@")
            {
                return format!("{indent}uses: ./.github/workflows/paved-{name}.yml\n");
            }
            if let Some(r) = text.strip_prefix("- component: $CI_SERVER_FQDN/paved-dev/paved/")
                && let Some((name, _)) = r.split_once('@')
            {
                return format!("{indent}- local: paved/templates/{name}/template.yml\n");
            }
            line.to_owned()
        })
        .collect()
}

/// Every raw string literal (`r#"…"#`) of a Rust source: the files the e2e writes.
fn raw_strings(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("r#\"") {
        let body = &rest[start + 3..];
        let Some(end) = body.find("\"#") else { break };
        out.push(&body[..end]);
        rest = &body[end + 2..];
    }
    out
}

fn readme_blocks() -> BTreeMap<String, String> {
    adoption_blocks(&read("README.md"))
}

#[test]
fn each_forge_has_one_adoption_block_of_at_most_20_lines() {
    let blocks = readme_blocks();
    assert_eq!(
        blocks.keys().collect::<Vec<_>>(),
        [GITHUB, GITLAB],
        "README.md needs one adoption block per forge"
    );
    for (file, block) in &blocks {
        let lines = block.lines().count();
        assert!(
            lines <= MAX_LINES,
            "README.md's `{file}` block is {lines} lines; keep it at most {MAX_LINES}"
        );
    }
}

#[test]
fn docs_pipelines_shows_the_readme_blocks_byte_for_byte() {
    assert_eq!(
        adoption_blocks(&read("docs/pipelines.md")),
        readme_blocks(),
        "README.md and docs/pipelines.md show different adoption YAML; make them the same"
    );
}

/// The keys of `with: { a: x, b: y }` / `inputs: { … }` on one line.
fn flow_keys<'a>(line: &'a str, key: &str) -> Vec<&'a str> {
    let Some(map) = line.trim_start().strip_prefix(key) else {
        return Vec::new();
    };
    let map = map.trim().trim_start_matches('{').trim_end_matches('}');
    map.split(',')
        .filter_map(|kv| kv.split_once(':').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty())
        .collect()
}

#[test]
fn the_github_block_runs_release_and_the_pr_gate_with_inputs_the_workflows_take() {
    let block = &readme_blocks()[GITHUB];
    let mut called = Vec::new();
    let mut current: Option<String> = None;
    for line in block.lines() {
        if let Some(r) = line
            .trim_start()
            .strip_prefix("uses: paved-dev/paved/.github/workflows/")
        {
            let (name, version) = r.split_once('@').expect("a pinned reusable workflow");
            assert!(version.starts_with('v'), "`{line}`: pin a release tag");
            let text = read(&format!(".github/workflows/{name}"));
            assert!(
                text.contains("workflow_call:"),
                "{name} is not a reusable workflow"
            );
            called.push(name.to_owned());
            current = Some(text);
        }
        for key in flow_keys(line, "with:") {
            let workflow = current.as_deref().expect("`with:` after `uses:`");
            assert!(
                workflow.contains(&format!("\n      {key}:\n")),
                "the README passes `{key}:` to a workflow that has no such input"
            );
        }
    }
    assert_eq!(called, ["release.yml", "pr.yml"]);
    assert!(block.contains("junit-artifact: junit"), "{block}");
}

#[test]
fn the_gitlab_block_tags_releases_and_gates_with_inputs_the_components_take() {
    let block = &readme_blocks()[GITLAB];
    let mut included = Vec::new();
    let mut current: Option<String> = None;
    for line in block.lines() {
        if let Some(r) = line
            .trim_start()
            .strip_prefix("- component: $CI_SERVER_FQDN/paved-dev/paved/")
        {
            let (name, version) = r.split_once('@').expect("a pinned component");
            assert!(
                version.bytes().next().is_some_and(|b| b.is_ascii_digit()),
                "`{line}`: components are pinned without the `v`"
            );
            let text = read(&format!("templates/{name}/template.yml"));
            let spec = text.split("\n---\n").next().unwrap().to_owned();
            included.push(name.to_owned());
            current = Some(spec);
        }
        for key in flow_keys(line, "inputs:") {
            let spec = current.as_deref().expect("`inputs:` after `component:`");
            assert!(
                spec.contains(&format!("\n    {key}:")),
                "the README passes `{key}:` to a component that has no such input"
            );
        }
    }
    assert_eq!(included, ["version", "changelog", "version", "quarantine"]);
    for needle in [
        "tag: true, push: true",
        "publish: gitlab",
        "command: lint",
        "command: gate",
    ] {
        assert!(block.contains(needle), "no `{needle}` in {block}");
    }
}

/// Placeholder until the flaky-test loop lands (`.github/workflows/quarantine.yml` and the
/// quarantine component's propose step are being built): the README must not name a workflow
/// that does not exist, and once it exists, the README's block must call it and the e2e run it.
#[test]
fn the_flaky_test_loop_is_adopted_once_its_workflow_exists() {
    let blocks = readme_blocks();
    let github = &blocks[GITHUB];
    let e2e = read("xtask/src/e2e.rs");
    if root().join(".github/workflows/quarantine.yml").is_file() {
        assert!(
            github.contains("paved-dev/paved/.github/workflows/quarantine.yml@"),
            "quarantine.yml exists: add the flaky-test loop to README.md's `{GITHUB}` block"
        );
        assert!(
            e2e.contains("quarantine.yml"),
            "quarantine.yml exists: the e2e must run it"
        );
    } else {
        assert!(
            !github.contains("quarantine.yml"),
            "README.md calls quarantine.yml, which does not exist"
        );
    }
    let component = read("templates/quarantine/template.yml");
    let spec = component.split("\n---\n").next().unwrap();
    if !spec.contains("\n    propose:") {
        assert!(
            !blocks[GITLAB].contains("propose"),
            "README.md's GitLab block uses a `propose` input the quarantine component lacks"
        );
    }
}

#[test]
fn the_local_rewrite_changes_only_the_reference_lines() {
    for (file, block) in readme_blocks() {
        let rewritten = local(&block);
        assert_eq!(rewritten.lines().count(), block.lines().count());
        let changed: Vec<(&str, &str)> = block
            .lines()
            .zip(rewritten.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert!(!changed.is_empty(), "{file}: nothing to rewrite");
        for (before, after) in changed {
            assert!(
                before.contains("paved-dev/paved/") && !after.contains("paved-dev/paved/"),
                "{file}: `{before}` -> `{after}`"
            );
        }
    }
    assert_eq!(
        local("    uses: paved-dev/paved/.github/workflows/pr.yml@v0.1.0\n"),
        "    uses: ./.github/workflows/paved-pr.yml\n"
    );
    assert_eq!(
        local("  - component: $CI_SERVER_FQDN/paved-dev/paved/version@0.1.0\n"),
        "  - local: paved/templates/version/template.yml\n"
    );
}

/// What the issue asks: the e2e runs the README's blocks, not files of its own. Today's e2e
/// consumers (`GITHUB_RELEASE`, `GITHUB_PR`, `GITLAB_CI` in xtask/src/e2e.rs) are test-shaped
/// files of their own (`push: false`, `show` jobs), so this fails; it is ignored until the e2e
/// writes each consumer's file from README.md (with `local`'s rewrite) and checks what it now
/// checks through the blocks' own outputs.
#[test]
#[ignore = "xtask/src/e2e.rs does not run the README's blocks yet (its owner must switch its consumers to them)"]
fn the_e2e_runs_the_readme_blocks_byte_for_byte() {
    let e2e = read("xtask/src/e2e.rs");
    let written = raw_strings(&e2e);
    for (file, block) in readme_blocks() {
        let expected = local(&block);
        assert!(
            written.contains(&expected.as_str()),
            "xtask/src/e2e.rs writes no consumer `{file}` that is README.md's block:\n{expected}"
        );
    }
}

#[test]
fn raw_strings_are_read_from_rust_source() {
    let source = "const A: &str = r#\"one\n\"#;\nconst B: &str = \"x\";\nconst C: &str = r#\"two \"q\" \n\"#;\n";
    assert_eq!(raw_strings(source), ["one\n", "two \"q\" \n"]);
}
