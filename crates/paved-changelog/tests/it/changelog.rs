//! paved-changelog end to end, on real repositories built with git.

use crate::common::TestRepo;

/// A history with everything the notes must handle: breaking changes, scopes, PR refs, a
/// cancelled feature (feat + its revert), a revert of a released fix, a merge whose own message
/// must not count, a Latin-1 commit, invalid UTF-8, unparsed and hidden commits.
fn fixture() -> TestRepo {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: initial release");
    repo.commit_file("b.txt", "fix(core): a bug that ships in 1.0.0");
    repo.tag("v1.0.0");

    repo.commit_file(
        "c.txt",
        "feat(api)!: remove the v1 endpoints (#12)\n\nBREAKING CHANGE: clients must call /v2.",
    );
    repo.commit_file("d.txt", "fix(cli): handle an empty config (#14)");
    repo.commit_file("e.txt", "feat: experimental flag");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    repo.commit_file("f.txt", "perf(io): read files in one pass");
    repo.commit_file("g.txt", "docs: explain the flags");
    repo.commit_file("h.txt", "Update README");
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.commit_file("i.txt", "feat(ui): dark mode (#15)");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "--no-ff",
        "-q",
        "topic",
        "-m",
        "feat!: Merge pull request #15 from acme/topic",
    ]);
    let msg = repo.path().join("msg.txt");
    std::fs::write(&msg, b"fix(i18n): caf\xe9 cr\xe8me\n").unwrap();
    repo.git(&[
        "-c",
        "i18n.commitEncoding=ISO-8859-1",
        "commit",
        "-q",
        "--allow-empty",
        "-F",
        msg.to_str().unwrap(),
    ]);
    repo.commit_raw(b"fix: bad bytes \xff here\n", None);
    repo.tag("v2.0.0");

    // Unreleased: a revert of a fix that shipped in 1.0.0, and a feature.
    let b = repo.git(&["log", "--format=%H", "-1", "--", "b.txt"]);
    repo.git(&["revert", "--no-edit", &b]);
    repo.commit_file("j.txt", "feat(api): pagination (#21)");
    repo
}

#[test]
fn templates_render_the_fixture() {
    let repo = fixture();
    for template in ["markdown", "github", "gitlab", "plain"] {
        let run = repo.paved(&["--tag", "v2.0.0", "--template", template]);
        insta::assert_snapshot!(format!("tag_{template}"), run.ok());
    }
    let unreleased = repo.paved(&["--template", "markdown"]);
    insta::assert_snapshot!("unreleased_markdown", unreleased.ok());
}

#[test]
fn all_releases() {
    let repo = fixture();
    insta::assert_snapshot!("all_markdown", repo.paved(&["--all"]).ok());
}

#[test]
fn context_json() {
    let repo = fixture();
    let run = repo.paved(&["--tag", "v2.0.0", "--context"]);
    insta::assert_snapshot!("context", run.ok());
}

/// Issue #16, item 5: the release to describe is `PAVED_CHANGELOG_TAG`; `PAVED_TAG` (also
/// paved-version's switch) still works for a tag name, with a warning, and a switch value in it
/// is ignored.
#[test]
fn tag_name_has_its_own_env_name() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("feat: two");
    let title = |env: &[(&str, &str)]| -> (String, String) {
        let run = repo.paved_env(&["--context"], env);
        let ctx: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        (
            ctx["releases"][0]["title"].as_str().unwrap().to_owned(),
            run.stderr.clone(),
        )
    };
    assert_eq!(title(&[("PAVED_CHANGELOG_TAG", "v1.0.0")]).0, "1.0.0");
    let (t, stderr) = title(&[("PAVED_TAG", "v1.0.0")]);
    assert_eq!(t, "1.0.0");
    assert!(
        stderr.contains("`PAVED_TAG`") && stderr.contains("`PAVED_CHANGELOG_TAG`"),
        "{stderr}"
    );
    // paved-version's switch, set for the whole job, means the unreleased notes here.
    assert_eq!(title(&[("PAVED_TAG", "true")]).0, "1.1.0");
}

#[test]
fn tag_range_rules() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("feat: two");
    repo.tag("v1.1.0-rc.1");
    repo.commit("fix: three");
    repo.tag("v1.1.0-rc.2");
    repo.commit("fix: four");
    repo.tag("v1.1.0");
    let descriptions = |args: &[&str]| -> Vec<String> {
        let ctx: serde_json::Value = serde_json::from_str(repo.paved(args).ok()).unwrap();
        ctx["releases"][0]["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["description"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    // A stable release covers everything since the previous stable release.
    assert_eq!(
        descriptions(&["--tag", "v1.1.0", "--context"]),
        ["two", "four", "three"]
    );
    // A pre-release covers what is new since the previous tag.
    assert_eq!(
        descriptions(&["--tag", "v1.1.0-rc.2", "--context"]),
        ["three"]
    );
    let ctx: serde_json::Value =
        serde_json::from_str(repo.paved(&["--tag", "v1.1.0-rc.2", "--context"]).ok()).unwrap();
    assert_eq!(ctx["releases"][0]["prerelease"], true);
    assert_eq!(ctx["releases"][0]["previous_tag"], "v1.1.0-rc.1");
    // --all follows the chain of releases; release candidates fold into the stable release.
    let all: serde_json::Value =
        serde_json::from_str(repo.paved(&["--all", "--context"]).ok()).unwrap();
    let titles: Vec<_> = all["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["1.1.0", "1.0.0"]);
}

#[test]
fn unreleased_is_titled_with_the_next_version() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("fix: two");
    assert!(repo.paved(&[]).ok().starts_with("## [1.0.1] - "));
    assert!(
        repo.paved(&["--pre", "rc"])
            .ok()
            .starts_with("## [1.0.1-rc.1] - ")
    );
    assert!(
        repo.paved(&["--release-as", "3.0.0"])
            .ok()
            .starts_with("## [3.0.0] - ")
    );
    repo.commit("docs: only docs");
    let only_docs = TestRepo::new();
    only_docs.commit("feat: one");
    only_docs.tag("v1.0.0");
    only_docs.commit("docs: nothing to release");
    let out = only_docs.paved(&[]);
    assert!(out.ok().starts_with("## [Unreleased]"), "{}", out.stdout);
    assert!(out.ok().contains("No notable changes."));
}

#[test]
fn hidden_types_are_configurable() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.commit("docs: guide");
    repo.commit("fix: bug");
    let default = repo.paved(&["--template", "plain"]);
    assert!(!default.ok().contains("guide"));
    repo.write(
        "paved.toml",
        "[changelog.sections]\ndocs = \"Documentation\"\nfix = \"\"\n",
    );
    let custom = repo.paved(&["--template", "plain"]);
    assert!(
        custom.ok().contains("Documentation:\n  - guide"),
        "{}",
        custom.stdout
    );
    assert!(!custom.ok().contains("bug"));
    repo.write("paved.toml", "[changelog]\nsection = 1\n");
    let bad = repo.paved(&[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("section"), "{}", bad.stderr);
}

#[test]
fn split_squash_is_opt_in() {
    let repo = TestRepo::new();
    repo.commit("feat: big change (#30)\n\n* feat(a): first part\n\n* fix(b): second part\n\nSigned-off-by: x <x@example.com>");
    let plain = repo.paved(&["--template", "plain"]);
    assert!(plain.ok().contains("big change (#30)"));
    let split = repo.paved(&["--template", "plain", "--split-squash"]);
    let out = split.ok();
    assert!(
        out.contains("a: first part (#30)") && out.contains("b: second part (#30)"),
        "{out}"
    );
    assert!(!out.contains("big change"), "{out}");
}

/// Issue #16, items 3 and 4, end to end on commitlint's real CHANGELOG.md (see
/// `tests/fixtures/README.md`): the new release goes on top and every other byte stays; writing
/// a level-1 release (`# [21.2.0]`) again replaces it rather than adding a second one.
#[test]
fn output_on_a_real_lerna_changelog_touches_only_its_section() {
    let original = include_str!("../fixtures/commitlint-CHANGELOG.md");
    let repo = TestRepo::new();
    repo.commit("feat: resolve pure-ESM presets");
    repo.tag("v21.2.0");
    repo.commit("fix: a");
    repo.tag("v21.2.2");
    repo.commit("feat: a new rule");
    repo.write("CHANGELOG.md", original);
    let run = repo.paved(&["--output", "CHANGELOG.md"]);
    run.ok();
    let out = repo.read("CHANGELOG.md");
    let first = original.find("## [21.2.2]").unwrap();
    assert!(out.starts_with(&original[..first]), "header changed");
    assert!(out.ends_with(&original[first..]), "older releases changed");
    let added = &out[first..out.len() - (original.len() - first)];
    assert!(
        added.starts_with("## [21.3.0]") && added.contains("a new rule"),
        "{added}"
    );

    let run = repo.paved(&["--tag", "v21.2.0", "--output", "CHANGELOG.md"]);
    run.ok();
    let again = repo.read("CHANGELOG.md");
    assert_eq!(again.matches("[21.2.0]").count(), 1, "duplicated 21.2.0");
    assert!(again.contains("resolve pure-ESM presets"));
}

/// Issue #16, item 7: with nothing new since the last release, `--output` leaves the file alone
/// and says so, instead of adding an empty "Unreleased" section.
#[test]
fn output_with_nothing_new_writes_nothing() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    let before = "# Changelog\n\n## [1.0.0] - 2026-01-01\n\n- one\n";
    repo.write("CHANGELOG.md", before);
    for extra in [None, Some("chore: tidy")] {
        if let Some(message) = extra {
            repo.commit(message);
        }
        let run = repo.paved(&["--output", "CHANGELOG.md"]);
        run.ok();
        assert_eq!(repo.read("CHANGELOG.md"), before, "{}", run.stderr);
        assert!(run.stderr.contains("nothing new"), "{}", run.stderr);
    }
}

/// Issue #16, item 7: the breaking-changes list shows the description without its PR reference,
/// and links the PR as the other lists do.
#[test]
fn breaking_list_links_the_pr_instead_of_repeating_it_raw() {
    let repo = TestRepo::new();
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/rocket.git",
    ]);
    repo.commit("feat!: drop the v1 API (#1319)");
    // Forge release bodies link `#1319` / `!1319` themselves, as their other lists say it.
    for (template, pr) in [
        (
            "markdown",
            "[#1319](https://github.com/acme/rocket/pull/1319)",
        ),
        ("github", " in #1319"),
        ("gitlab", " in !1319"),
    ] {
        let out = repo.paved(&["--template", template]).ok().to_owned();
        let breaking: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.contains("Breaking"))
            .skip(1)
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(breaking.len(), 1, "{template}: {out}");
        assert!(
            !breaking[0].contains("(#1319)"),
            "{template}: {}",
            breaking[0]
        );
        assert!(breaking[0].contains(pr), "{template}: {}", breaking[0]);
    }
}

#[test]
fn gitlab_references_offline() {
    let repo = TestRepo::new();
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://gitlab.example.com/group/app.git",
    ]);
    repo.commit("feat: merged through an MR\n\nSee merge request group/app!7");
    let out = repo.paved(&["--template", "markdown"]);
    assert!(
        out.ok()
            .contains("[!7](https://gitlab.example.com/group/app/-/merge_requests/7)"),
        "{}",
        out.stdout
    );
    assert!(
        out.ok()
            .contains("https://gitlab.example.com/group/app/-/commit/")
    );
}

// ---- CHANGELOG.md ---------------------------------------------------------------------------

#[test]
fn changelog_file_is_created_then_updated_idempotently() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("fix: two");
    repo.paved(&["--output", "CHANGELOG.md"]).ok();
    let first = repo.read("CHANGELOG.md");
    assert!(first.starts_with("# Changelog\n"));
    assert_eq!(first.matches("## [1.0.1]").count(), 1);
    // Re-running for the same version replaces the section and never duplicates it.
    repo.paved(&["--output", "CHANGELOG.md"]).ok();
    assert_eq!(repo.read("CHANGELOG.md"), first);
    // New commit, same unreleased version: the section is replaced with the longer list.
    repo.commit("fix: three");
    repo.paved(&["--output", "CHANGELOG.md"]).ok();
    let second = repo.read("CHANGELOG.md");
    assert_eq!(second.matches("## [1.0.1]").count(), 1);
    assert!(second.contains("- three") && second.contains("- two"));
}

#[test]
fn changelog_file_keeps_hand_written_content() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("feat: two");
    repo.tag("v1.1.0");
    repo.commit("fix: three");
    let existing = "# Changelog of Rocket\n\nWritten by hand. Do not lose me.\n\n## [1.0.0] - 2020-01-01\n\n- A hand-written entry.\n\n## 0.9.0\n\nOld notes.\n\n[1.0.0]: https://example.com/v1.0.0\n";
    repo.write("CHANGELOG.md", existing);
    repo.paved(&["--all", "--output", "CHANGELOG.md"]).ok();
    let out = repo.read("CHANGELOG.md");
    insta::assert_snapshot!("changelog_hand_written", out);
    assert!(out.contains("Written by hand. Do not lose me."));
    assert!(out.contains("Old notes."));
    assert!(out.ends_with("[1.0.0]: https://example.com/v1.0.0\n"));
    repo.paved(&["--all", "--output", "CHANGELOG.md"]).ok();
    assert_eq!(
        repo.read("CHANGELOG.md"),
        out,
        "--all twice must be a no-op"
    );
    // Once released, the 1.1.1 section replaces itself rather than being added again.
    repo.tag("v1.1.1");
    repo.paved(&["--tag", "v1.1.1", "--output", "CHANGELOG.md"])
        .ok();
    assert_eq!(repo.read("CHANGELOG.md").matches("## [1.1.1]").count(), 1);
}

#[test]
fn output_with_a_template_without_headings_is_refused() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    let run = repo.paved(&["--template", "github", "--output", "CHANGELOG.md"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!repo.path().join("CHANGELOG.md").exists());
}

// ---- templates ------------------------------------------------------------------------------

#[test]
fn custom_template_file() {
    let repo = TestRepo::new();
    repo.commit("feat(x): one (#3)");
    repo.write("notes.hbs", "Release {{title}}\n{{#each sections}}{{#each entries}}* {{description}} [{{pr.prefix}}{{pr.number}}] by {{author.name}}\n{{/each}}{{/each}}");
    let run = repo.paved(&["--template", "notes.hbs"]);
    assert_eq!(run.ok(), "Release 0.1.0\n* one [#3] by Ada Lovelace");
}

#[test]
fn template_errors_exit_2_and_name_the_template() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.write("broken.hbs", "{{#each sections}}\n{{title}\n");
    let run = repo.paved(&["--template", "broken.hbs"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("broken.hbs"), "{}", run.stderr);
    repo.write("typo.hbs", "{{titel}}\n");
    let typo = repo.paved(&["--template", "typo.hbs"]);
    assert_eq!(typo.code, 2, "{typo:?}");
    assert!(typo.stderr.contains("titel"), "{}", typo.stderr);
    // Issue #16, item 7: the field is named as written, not as a Rust value.
    assert!(
        typo.stderr.contains("`titel`") && !typo.stderr.contains("Some("),
        "{}",
        typo.stderr
    );
    assert!(typo.stderr.contains("line 1"), "{}", typo.stderr);
    let missing = repo.paved(&["--template", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("github, gitlab"),
        "{}",
        missing.stderr
    );
}

// ---- errors and CI ----------------------------------------------------------------------------

#[test]
fn unknown_tag_is_a_clear_error() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.git(&["tag", "release-1"]);
    let run = repo.paved(&["--tag", "v9.9.9"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`v9.9.9` does not exist"),
        "{}",
        run.stderr
    );
    let other = repo.paved(&["--tag", "release-1"]);
    assert_eq!(other.code, 2);
    assert!(
        other.stderr.contains("does not match the tag template"),
        "{}",
        other.stderr
    );
}

#[test]
fn publish_requires_a_tag() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    assert_eq!(repo.paved(&["--publish", "github"]).code, 2);
}

#[test]
fn monorepo_package_notes() {
    let repo = TestRepo::new();
    repo.write("paved.toml", "[[version.package]]\nname = \"api\"\npath = \"api\"\n\n[[version.package]]\nname = \"web\"\npath = \"web\"\n");
    repo.commit_file("api/x", "feat(api): one");
    repo.commit_file("web/y", "feat(web): two");
    let run = repo.paved(&["--package", "api", "--template", "plain"]);
    assert!(
        run.ok().contains("one") && !run.ok().contains("two"),
        "{}",
        run.stdout
    );
    assert_eq!(repo.paved(&[]).code, 2);
}

#[test]
fn github_outputs_include_notes() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    let out = repo.path().join("out");
    let run = repo.paved_env(
        &["--template", "plain"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out.to_str().unwrap()),
        ],
    );
    run.ok();
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.contains("version<<ghadelimiter_"));
    assert!(
        text.contains("\n0.1.0 (") && text.contains("Features:\n  - one"),
        "{text}"
    );
}

#[test]
fn shallow_clone_without_fetch_exits_3() {
    let origin = TestRepo::new();
    origin.commit_file("a", "feat: one");
    origin.tag("v1.0.0");
    for i in 0..5 {
        origin.commit_file(&format!("f{i}"), "fix: more");
    }
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path().display());
    crate::common::git_cmd(clone.path())
        .args(["clone", "-q", "--depth", "2", "--no-tags", &url, "."])
        .output()
        .unwrap();
    let run = crate::common::run_in(clone.path(), &["--fetch", "never"], &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.is_empty());
    let auto = crate::common::run_in(
        clone.path(),
        &["--fetch", "auto", "--template", "plain"],
        &[],
    );
    assert!(auto.ok().starts_with("1.0.1 ("), "{}", auto.stdout);
}

#[test]
fn help() {
    let run = crate::common::run_in(std::env::temp_dir().as_path(), &["--help"], &[]);
    insta::assert_snapshot!("help", run.ok());
}

/// `Closes #N` / `Fixes #N` footers reach the notes, linked as issues of this repository.
#[test]
fn closing_footers_are_shown_with_their_issues() {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: initial release");
    repo.tag("v1.0.0");
    repo.commit_file(
        "b.txt",
        "fix(cli): handle an empty config (#14)\n\nThe parser read past the end.\n\nCloses #3, #4\nRefs: #9",
    );
    let github = repo.paved(&["--template", "github"]).ok().to_owned();
    assert!(
        github.contains("handle an empty config in #14, closes #3, #4"),
        "{github}"
    );
    assert!(
        !github.contains("#9"),
        "a reference is not a closing footer: {github}"
    );
    let markdown = repo.paved(&["--template", "markdown"]).ok().to_owned();
    assert!(
        markdown.contains("closes [#3](https://github.com/acme/rocket/issues/3), [#4](https://github.com/acme/rocket/issues/4)"),
        "{markdown}"
    );
}
