//! `cargo xtask lint-ci`: the golden pipelines pass a security audit and their schemas, and every
//! shell step is clean.
//!
//! - every container image a workflow or component names is pinned by digest or by an exact
//!   version tag (no `:latest`, no tag that moves);
//! - every action pinned by full commit SHA carries its version as a comment (`# v4.2.2`);
//! - `zizmor --offline` over the workflows and actions: 0 findings (config in `zizmor.yml`);
//! - `check-jsonschema` with the schemas vendored in the pinned check-jsonschema package
//!   (`--builtin-schema vendor.github-workflows`, `vendor.github-actions`, `vendor.gitlab-ci`,
//!   `vendor.dependabot`; nothing is downloaded), GitLab component files split at `---`;
//! - `.github/dependabot.yml` names only folders that exist, and its github-actions updates
//!   watch `/` (the workflows) and every composite action under `actions/`;
//! - `shellcheck` on every `run:` step and every GitLab `script:`, extracted to files (and on
//!   `actions/setup/*.sh`). A `${{ }}` or `$[[ ]]` inside a shell step is an error of its own: inputs
//!   reach shells only through the environment; so is a step that holds a secret (`secrets.*`,
//!   `github.token` in its, its job's or the workflow's `env:`) and writes into `GITHUB_ENV`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::tools::venv_bin;
use crate::util::{root, step};

/// Extracts shell steps. Runs in the tools venv, whose check-jsonschema brings ruamel.yaml.
const EXTRACT: &str = include_str!("extract_shell.py");

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`lint-ci` takes no arguments (got `{a}`)"));
    }
    let start = Instant::now();
    lint(&root())?;
    eprintln!(
        "\nlint-ci: zizmor, check-jsonschema and shellcheck are clean ({:.1}s)",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn files(root: &Path, dir: &str, name: impl Fn(&str) -> bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("could not list {}: {e}", d.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(&name) {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn tool(name: &str) -> PathBuf {
    let venv = venv_bin().join(name);
    if venv.is_file() {
        venv
    } else {
        PathBuf::from(name)
    }
}

/// Every lint, over the tree at `root`.
pub fn lint(root: &Path) -> Result<(), String> {
    let workflows = files(root, ".github/workflows", |n| n.ends_with(".yml"))?;
    let actions = files(root, "actions", |n| n == "action.yml")?;
    let templates = files(root, "templates", |n| n.ends_with(".yml"))?;
    let scripts = files(root, "actions", |n| n.ends_with(".sh"))?;

    eprintln!("\n==> images pinned by digest or exact version");
    let mut yaml = workflows.clone();
    yaml.extend(templates.iter().cloned());
    check_images(root, &yaml)?;

    eprintln!("\n==> actions pinned by SHA name their version (`# vX.Y.Z`)");
    let mut uses = workflows.clone();
    uses.extend(actions.iter().cloned());
    check_pin_comments(root, &uses)?;

    let mut zizmor = Command::new(tool("zizmor"));
    zizmor
        .current_dir(root)
        .args([
            "--offline",
            "--strict-collection",
            "--no-progress",
            "--config",
            "zizmor.yml",
        ])
        .args([".github/workflows", "actions"]);
    step("zizmor (0 findings)", &mut zizmor)?;

    let check = |title: &str, schema: &str, files: &[String], dir: &Path| {
        let mut c = Command::new(tool("check-jsonschema"));
        c.current_dir(dir)
            .args(["--builtin-schema", schema])
            .args(files);
        step(title, &mut c)
    };
    check(
        "schema: GitHub workflows",
        "vendor.github-workflows",
        &workflows,
        root,
    )?;
    check(
        "schema: GitHub actions",
        "vendor.github-actions",
        &actions,
        root,
    )?;
    check(
        "schema: Dependabot",
        "vendor.dependabot",
        &[".github/dependabot.yml".to_owned()],
        root,
    )?;
    eprintln!("\n==> Dependabot watches every composite action, and only folders that exist");
    check_dependabot(root)?;

    let tmp = tempdir("lint-ci")?;
    let mut parts = Vec::new();
    for t in &templates {
        let text = std::fs::read_to_string(root.join(t)).map_err(|e| format!("{t}: {e}"))?;
        let stem = t.replace('/', "_");
        for (i, doc) in text.split("\n---\n").enumerate() {
            let name = format!("{stem}.{i}.yml");
            std::fs::write(tmp.join(&name), doc).map_err(|e| format!("{name}: {e}"))?;
            parts.push(name);
        }
        if !text.contains("\n---\n") {
            return Err(format!(
                "{t}: a component needs a `spec:` header and `---` before its jobs"
            ));
        }
    }
    check(
        "schema: GitLab components (split at ---)",
        "vendor.gitlab-ci",
        &parts,
        &tmp,
    )?;

    let shells = tmp.join("shell");
    std::fs::create_dir_all(&shells).map_err(|e| e.to_string())?;
    let mut extract = Command::new(venv_bin().join("python"));
    extract
        .current_dir(root)
        .args(["-c", EXTRACT])
        .arg(&shells)
        .args(&workflows)
        .args(&actions)
        .args(&templates);
    step(
        "extract shell steps (no expressions inside scripts)",
        &mut extract,
    )?;
    let mut extracted: Vec<PathBuf> = std::fs::read_dir(&shells)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .collect();
    extracted.sort();
    if extracted.is_empty() {
        return Err("found no shell steps to check; the extractor is broken".into());
    }
    let mut sc = Command::new("shellcheck");
    sc.current_dir(root).args(["--norc", "--severity=style"]);
    // Each file names its shell in its shebang.
    sc.args(&scripts).args(&extracted);
    step(
        &format!(
            "shellcheck ({} steps, {} scripts)",
            extracted.len(),
            scripts.len()
        ),
        &mut sc,
    )?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// The container images a workflow or component names outside an expression or input
/// reference, with their line numbers: `image: X`, and the `default:` (or `name:`) under an
/// `image:` block (a component's `image` input, a job's `image: { name: }`).
fn images(text: &str) -> Vec<(usize, String)> {
    let unquote = |v: &str| v.trim().trim_matches(|c| c == '\'' || c == '"').to_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let Some(value) = line.trim_start().strip_prefix("image:") else {
            continue;
        };
        let value = value.split(" #").next().unwrap_or("").trim();
        if !value.is_empty() {
            out.push((n + 1, unquote(value)));
            continue;
        }
        for (m, inner) in lines.iter().enumerate().skip(n + 1) {
            let i = inner.len() - inner.trim_start().len();
            if inner.trim().is_empty() {
                continue;
            }
            if i <= indent {
                break;
            }
            for key in ["default:", "name:"] {
                if let Some(v) = inner.trim_start().strip_prefix(key) {
                    out.push((m + 1, unquote(v)));
                }
            }
        }
    }
    out.retain(|(_, v)| {
        !v.is_empty() && !v.contains("$[[") && !v.contains("${{") && !v.starts_with('$')
    });
    out
}

/// Why an image reference is not pinned, if it is not: it must carry a digest
/// (`@sha256:<64 hex>`) or an exact version tag (`:1.2.3`, `:v1.2.3-…`).
fn unpinned(image: &str) -> Option<&'static str> {
    if let Some((_, digest)) = image.split_once("@sha256:") {
        return (digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some("its digest is not a sha256 of 64 hex digits");
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    let Some((_, tag)) = name.split_once(':') else {
        return Some("it has no tag, so it means `:latest`");
    };
    let version = tag.strip_prefix('v').unwrap_or(tag);
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        None
    } else {
        Some("its tag moves (`:latest`, a distribution or major-version tag)")
    }
}

/// Every container image the golden pipelines name is pinned by digest or exact version.
pub fn check_images(root: &Path, files: &[String]) -> Result<(), String> {
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(root.join(f)).map_err(|e| format!("{f}: {e}"))?;
        for (line, image) in images(&text) {
            if let Some(why) = unpinned(&image) {
                bad.push(format!("{f}:{line}: image `{image}` is not pinned: {why}"));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  pin each image by digest (`name:tag@sha256:…`, from `skopeo inspect --format '{{{{.Digest}}}}' docker://name:tag`) or an exact version tag",
            bad.join("\n")
        ))
    }
}

/// `uses:` lines pinned by a full commit SHA without a `# vX.Y.Z` comment, with line numbers.
fn pins_without_version(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let t = t.strip_prefix("- ").unwrap_or(t);
        let Some(rest) = t.strip_prefix("uses:") else {
            continue;
        };
        let (value, comment) = rest.split_once(" #").unwrap_or((rest, ""));
        let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
        let Some((_, sha)) = value.split_once('@') else {
            continue;
        };
        let pinned = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit());
        let version = comment
            .trim()
            .strip_prefix('v')
            .is_some_and(|v| v.bytes().next().is_some_and(|b| b.is_ascii_digit()));
        if pinned && !version {
            out.push((n + 1, value.to_owned()));
        }
    }
    out
}

/// Every action pinned by commit SHA says which release that is (`# v4.2.2`), so a reader and
/// Dependabot (which rewrites the comment with the SHA) can tell.
pub fn check_pin_comments(root: &Path, files: &[String]) -> Result<(), String> {
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(root.join(f)).map_err(|e| format!("{f}: {e}"))?;
        for (line, uses) in pins_without_version(&text) {
            bad.push(format!(
                "{f}:{line}: `{uses}` is pinned by SHA without the release it is; end the line with `# vX.Y.Z`"
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// The `(ecosystem, directory)` pairs `.github/dependabot.yml` lists, from `directory:` and
/// `directories:` (block or flow list). The schema check runs on the file too; this reads only
/// what the coverage check needs.
fn dependabot_directories(text: &str) -> Vec<(String, String)> {
    let clean = |v: &str| {
        v.split(" #")
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_owned()
    };
    let mut out = Vec::new();
    let mut ecosystem = String::new();
    let mut in_list: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if let Some(i) = in_list {
            match t.strip_prefix("- ") {
                Some(item) if indent >= i => {
                    out.push((ecosystem.clone(), clean(item)));
                    continue;
                }
                _ if t.is_empty() || t.starts_with('#') => continue,
                _ => in_list = None,
            }
        }
        let t = t.strip_prefix("- ").unwrap_or(t);
        if let Some(e) = t.strip_prefix("package-ecosystem:") {
            ecosystem = clean(e);
        } else if let Some(d) = t.strip_prefix("directory:") {
            out.push((ecosystem.clone(), clean(d)));
        } else if let Some(list) = t.strip_prefix("directories:") {
            let list = list.split(" #").next().unwrap_or("").trim();
            if let Some(items) = list.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                out.extend(items.split(',').map(|d| (ecosystem.clone(), clean(d))));
            } else {
                in_list = Some(indent);
            }
        }
    }
    out
}

/// Every directory Dependabot is told to watch exists, and the github-actions ecosystem watches
/// the workflows (`/`) and every composite action under `actions/`.
pub fn check_dependabot(root: &Path) -> Result<(), String> {
    const FILE: &str = ".github/dependabot.yml";
    let text = std::fs::read_to_string(root.join(FILE)).map_err(|e| format!("{FILE}: {e}"))?;
    let listed = dependabot_directories(&text);
    let mut bad = Vec::new();
    for (ecosystem, dir) in &listed {
        if !root.join(dir.trim_start_matches('/')).is_dir() {
            bad.push(format!(
                "{FILE}: the {ecosystem} directory `{dir}` does not exist; remove it or fix the path"
            ));
        }
    }
    let watched = |dir: &str| {
        listed
            .iter()
            .any(|(e, d)| e == "github-actions" && d.trim_end_matches('/') == dir)
    };
    if !watched("") {
        bad.push(format!(
            "{FILE}: github-actions does not watch `/` (the workflows' pins)"
        ));
    }
    let mut actions: Vec<String> = std::fs::read_dir(root.join("actions"))
        .map_err(|e| format!("could not list `actions/`: {e}"))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    actions.sort();
    for a in actions {
        if !watched(&format!("/actions/{a}")) {
            bad.push(format!(
                "{FILE}: the composite action `actions/{a}` is not under github-actions `directories:`; add `/actions/{a}`"
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// A fresh temporary directory under target/ (no tempfile dependency in the binary).
pub fn tempdir(what: &str) -> Result<PathBuf, String> {
    let dir = root()
        .join("target")
        .join("xtask-tmp")
        .join(format!("{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(dir: &Path, rel: &str, text: &str) -> std::process::Output {
        let python = venv_bin().join("python");
        assert!(
            python.is_file(),
            "no tools venv at {}: run `cargo xtask tools`",
            python.display()
        );
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        Command::new(python)
            .current_dir(dir)
            .args(["-c", EXTRACT])
            .arg(&out)
            .arg(rel)
            .output()
            .unwrap()
    }

    #[test]
    fn an_expression_inside_a_run_step_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = extract(
            dir.path(),
            "actions/x/action.yml",
            "name: x\ndescription: x\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo \"${{ inputs.title }}\"\n",
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pass it through env"), "{stderr}");
    }

    #[test]
    fn an_input_inside_a_gitlab_script_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = extract(
            dir.path(),
            "templates/x/template.yml",
            "spec:\n  inputs:\n    a: {}\n---\njob:\n  script:\n    - echo $[[ inputs.a ]]\n",
        );
        assert!(!out.status.success());
    }

    #[test]
    fn unpinned_images_are_refused() {
        let component = "spec:\n  inputs:\n    image:\n      description: x\n      default: 'registry.gitlab.com/gitlab-org/release-cli:latest'\n---\njob:\n  image: $[[ inputs.image ]]\nother:\n  image: docker.io/library/buildpack-deps:bookworm-scm\nthird:\n  image:\n    name: alpine\n    entrypoint: ['']\n";
        let found = images(component);
        assert_eq!(
            found,
            [
                (
                    5,
                    "registry.gitlab.com/gitlab-org/release-cli:latest".to_owned()
                ),
                (
                    10,
                    "docker.io/library/buildpack-deps:bookworm-scm".to_owned()
                ),
                (13, "alpine".to_owned()),
            ]
        );
        for (_, image) in &found {
            assert!(unpinned(image).is_some(), "{image}");
        }
        assert!(
            unpinned("registry.example:5000/tools/git")
                .unwrap()
                .contains("latest")
        );
        assert!(unpinned("node:20").is_some());
        assert!(unpinned("x@sha256:abc").unwrap().contains("64 hex"));
        for ok in [
            "docker.io/library/buildpack-deps:bookworm-scm@sha256:4274ea4975976f86239384ac206f98af5f0978fd8f054886eec1371fc7664025",
            "registry.example:5000/tools/git:2.47.1",
            "alpine/git:v2.47.2-r0",
        ] {
            assert_eq!(unpinned(ok), None, "{ok}");
        }
    }

    #[test]
    fn the_golden_pipelines_pin_their_images() {
        let root = root();
        let mut files = files(&root, "templates", |n| n.ends_with(".yml")).unwrap();
        files.extend(files_of_workflows(&root));
        check_images(&root, &files).unwrap();
    }

    fn files_of_workflows(root: &Path) -> Vec<String> {
        files(root, ".github/workflows", |n| n.ends_with(".yml")).unwrap()
    }

    #[test]
    fn a_secret_written_into_github_env_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // The shape release.yml had: a step holding the token exports it to every later step.
        let out = extract(
            dir.path(),
            ".github/workflows/w.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - env:\n          TOKEN: ${{ secrets.token || github.token }}\n        run: echo \"AUTH=$TOKEN\" >>\"$GITHUB_ENV\"\n",
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("GITHUB_ENV"), "{stderr}");
        assert!(stderr.contains("TOKEN"), "{stderr}");
        // A step that writes GITHUB_ENV without a secret, and one that uses a secret without
        // writing it, are fine.
        let out = extract(
            dir.path(),
            ".github/workflows/v.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"A=1\" >>\"$GITHUB_ENV\"\n      - env:\n          TOKEN: ${{ github.token }}\n        run: curl -H \"$TOKEN\" x\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_sha_pin_without_its_version_comment_is_refused() {
        let text = "steps:\n  - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n  - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02\n  - uses: \"actions/x@ea165f8d65b6e75b540449e92b4886f43607fa02\" # main\n  - uses: paved-dev/paved/actions/setup@v0.1.0\n  - uses: ./local\n";
        assert_eq!(
            pins_without_version(text),
            [
                (
                    3,
                    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02".to_owned()
                ),
                (
                    4,
                    "actions/x@ea165f8d65b6e75b540449e92b4886f43607fa02".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn every_sha_pin_in_the_pipelines_names_its_version() {
        let root = root();
        let mut yaml = files_of_workflows(&root);
        yaml.extend(files(&root, "actions", |n| n == "action.yml").unwrap());
        check_pin_comments(&root, &yaml).unwrap();
    }

    #[test]
    fn dependabot_covers_every_composite_action_and_names_only_real_folders() {
        check_dependabot(&root()).unwrap();

        let dir = tempfile::tempdir().unwrap();
        for d in ["actions/setup", "actions/version", ".github"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let config = "version: 2\nupdates:\n  - package-ecosystem: github-actions\n    directories:\n      - /\n      - /actions/setup\n      - /actions/gone\n    schedule: { interval: weekly }\n  - package-ecosystem: cargo\n    directory: /\n";
        std::fs::write(dir.path().join(".github/dependabot.yml"), config).unwrap();
        let err = check_dependabot(dir.path()).unwrap_err();
        assert!(err.contains("`/actions/gone`"), "{err}");
        assert!(err.contains("`actions/version`"), "{err}");
        assert!(!err.contains("`actions/setup`"), "{err}");
    }

    #[test]
    fn dependabot_directories_are_read_in_both_spellings() {
        let config = "updates:\n  - package-ecosystem: github-actions\n    directories: [/, '/actions/a']\n  - package-ecosystem: cargo\n    directory: \"/fuzz\" # the fuzz workspace\n  - package-ecosystem: github-actions\n    directories:\n      - /actions/b # note\n";
        assert_eq!(
            dependabot_directories(config),
            [
                ("github-actions".to_owned(), "/".to_owned()),
                ("github-actions".to_owned(), "/actions/a".to_owned()),
                ("cargo".to_owned(), "/fuzz".to_owned()),
                ("github-actions".to_owned(), "/actions/b".to_owned()),
            ]
        );
    }

    #[test]
    fn shell_steps_are_extracted_with_their_shell() {
        let dir = tempfile::tempdir().unwrap();
        let out = extract(
            dir.path(),
            ".github/workflows/w.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"$A\"\n      - shell: sh\n        run: echo b\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2);
        assert!(
            names[0].ends_with(".bash") && names[1].ends_with(".sh"),
            "{names:?}"
        );
    }
}
