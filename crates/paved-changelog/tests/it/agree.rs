//! paved-changelog and paved-version give the same answers on the same repository: the version
//! and whether a package releases (workspace dependency propagation included), and which commits
//! are not conventional. Both binaries are run, as a release job runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, TestRepo};

/// The paved-version binary of this build: cargo puts it next to paved-changelog when both
/// packages are built (`cargo nextest run -p paved-version -p paved-changelog`, or the whole
/// workspace). A missing or stale one fails the test with the command that builds it.
fn paved_version() -> PathBuf {
    let bin = crate::common::bin()
        .with_file_name(format!("paved-version{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "`{}` is not built ({e}); run these tests with `cargo nextest run -p paved-version -p paved-changelog`",
                bin.display()
            )
        });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut stack = vec![
        root.join("crates/paved-version/src"),
        root.join("crates/paved-core/src"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified())
                && newest.as_ref().is_none_or(|(n, _)| t > *n)
            {
                newest = Some((t, path));
            }
        }
    }
    if let Some((t, path)) = newest {
        assert!(
            t <= built,
            "`{}` is older than `{}`; run these tests with `cargo nextest run -p paved-version -p paved-changelog` so both binaries are built",
            bin.display(),
            path.display()
        );
    }
    bin
}

fn version(repo: &TestRepo, args: &[&str]) -> Run {
    repo.run(paved_version(), args, &[])
}

fn tool(program: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("npm_config_cache", dir.join(".npm-cache"))
        .env("npm_config_update_notifier", "false")
        .output()
        .unwrap_or_else(|e| {
            panic!("`{program}` could not be started ({e}); install it (`cargo xtask tools`)")
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const CARGO_PAVED_TOML: &str = r#"[[version.package]]
name = "core"
path = "crates/core"

[[version.package]]
name = "app"
path = "crates/app"

[[version.package]]
name = "cli"
path = "crates/cli"
"#;

/// A Cargo workspace: cli -> app (a `path` dependency, renamed) -> core (`workspace = true`).
/// cargo itself reads it (`cargo metadata`), so it is a workspace cargo would build.
fn cargo_workspace() -> TestRepo {
    let repo = TestRepo::new();
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/rocket.git",
    ]);
    repo.write("paved.toml", CARGO_PAVED_TOML);
    repo.write(".gitignore", "target/\n");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n\
         [workspace.dependencies]\ncore = { path = \"crates/core\", version = \"1.2.0\" }\n",
    );
    repo.write(
        "crates/core/Cargo.toml",
        "[package]\nname = \"core\"\nversion = \"1.2.0\"\nedition = \"2021\"\n",
    );
    repo.write(
        "crates/app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ncore.workspace = true\n",
    );
    repo.write(
        "crates/cli/Cargo.toml",
        "[package]\nname = \"cli\"\nversion = \"0.4.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nthe-app = { package = \"app\", path = \"../app\", version = \"1.0.0\" }\n",
    );
    for name in ["core", "app", "cli"] {
        repo.write(&format!("crates/{name}/src/lib.rs"), "");
    }
    let meta = tool(
        "cargo",
        repo.path(),
        &["metadata", "--offline", "--format-version", "1"],
    );
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    assert_eq!(meta["workspace_members"].as_array().unwrap().len(), 3);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore: init"]);
    for tag in ["core-v1.2.0", "app-v1.0.0", "cli-v0.4.0"] {
        repo.tag(tag);
    }
    repo.commit_file("crates/core/src/lib.rs", "feat(core): parse faster");
    repo
}

/// An npm workspace: `@acme/web` depends on `@acme/ui` (a caret range), which npm links
/// offline.
fn npm_workspace() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"ui\"\npath = \"packages/ui\"\n\n\
         [[version.package]]\nname = \"web\"\npath = \"packages/web\"\n",
    );
    repo.write(".gitignore", "node_modules/\n.npm-cache/\n");
    repo.write(
        "package.json",
        "{\n  \"name\": \"acme\",\n  \"private\": true,\n  \"workspaces\": [\"packages/*\"]\n}\n",
    );
    repo.write(
        "packages/ui/package.json",
        "{\n  \"name\": \"@acme/ui\",\n  \"version\": \"2.1.0\"\n}\n",
    );
    repo.write(
        "packages/web/package.json",
        "{\n  \"name\": \"@acme/web\",\n  \"version\": \"0.9.0\",\n  \"dependencies\": { \"@acme/ui\": \"^2.1.0\" }\n}\n",
    );
    tool(
        "npm",
        repo.path(),
        &[
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
        ],
    );
    let ls = tool("npm", repo.path(), &["ls", "--all", "--json"]);
    let tree: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(
        tree["dependencies"]["@acme/web"]["dependencies"]["@acme/ui"]["version"], "2.1.0",
        "{tree:#}"
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore: init"]);
    repo.tag("ui-v2.1.0");
    repo.tag("web-v0.9.0");
    repo.commit_file("packages/ui/index.js", "fix(ui): focus ring");
    repo
}

/// paved-version's plan of each package, and paved-changelog's `--json` for it.
fn both(repo: &TestRepo, names: &[&str]) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let plans = version(repo, &["--json"]).json();
    names
        .iter()
        .map(|name| {
            let plan = plans["packages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["package"] == *name)
                .unwrap_or_else(|| panic!("no plan for `{name}`: {plans:#}"))
                .clone();
            let notes = repo.paved(&["--package", name, "--json"]).json();
            ((*name).to_owned(), plan, notes)
        })
        .collect()
}

/// The two tools agree on every package: released or not, the version and the tag.
fn assert_agree(runs: &[(String, serde_json::Value, serde_json::Value)]) {
    for (name, plan, notes) in runs {
        let released = plan["released"].as_bool().unwrap();
        let null = serde_json::Value::Null;
        let (version, tag) = if released {
            (&plan["version"], &plan["tag"])
        } else {
            (&null, &null)
        };
        assert_eq!(
            &notes["version"], version,
            "`{name}`: paved-version {plan:#}\npaved-changelog {notes:#}"
        );
        assert_eq!(&notes["tag"], tag, "`{name}`");
    }
}

#[test]
fn a_cargo_package_released_by_its_dependency_gets_the_same_version_and_says_why() {
    let repo = cargo_workspace();
    let runs = both(&repo, &["core", "app", "cli"]);
    assert_agree(&runs);
    let version_of = |n: &str| {
        let (_, plan, notes) = runs.iter().find(|(name, _, _)| name == n).unwrap();
        (
            plan["version"].as_str().unwrap().to_owned(),
            notes["notes"].as_str().unwrap().to_owned(),
        )
    };
    let (core, _) = version_of("core");
    let (app, app_notes) = version_of("app");
    let (cli, cli_notes) = version_of("cli");
    assert_eq!(
        (core.as_str(), app.as_str(), cli.as_str()),
        ("1.3.0", "1.0.1", "0.4.1")
    );
    // The section says why a package with no commits of its own is released.
    assert!(
        app_notes.contains("### Dependencies\n\n- bumped `core` to 1.3.0\n"),
        "{app_notes}"
    );
    assert!(!app_notes.contains("No notable changes"), "{app_notes}");
    assert!(
        cli_notes.contains("- bumped `app` to 1.0.1\n"),
        "{cli_notes}"
    );

    // Once tagged, the tagged release's notes say the same, and `--all` keeps that section.
    for tag in ["core-v1.3.0", "app-v1.0.1", "cli-v0.4.1"] {
        repo.tag(tag);
    }
    let tagged = repo
        .paved(&[
            "--package",
            "app",
            "--tag",
            "app-v1.0.1",
            "--template",
            "plain",
        ])
        .ok()
        .to_owned();
    assert!(
        tagged.contains("Dependencies:\n  - bumped core to 1.3.0"),
        "{tagged}"
    );
    let context = repo
        .paved(&["--package", "app", "--tag", "app-v1.0.1", "--context"])
        .json();
    assert_eq!(
        context["releases"][0]["dependencies"],
        serde_json::json!([{ "name": "core", "from": "1.2.0", "to": "1.3.0" }])
    );
    let all = repo.paved(&["--package", "app", "--all"]).ok().to_owned();
    assert!(all.contains("## [1.0.1]"), "{all}");
    assert!(all.contains("- bumped `core` to 1.3.0"), "{all}");
    // Nothing new since those tags: both tools say nothing is released.
    assert_agree(&both(&repo, &["core", "app", "cli"]));
}

#[test]
fn an_npm_package_released_by_its_dependency_gets_the_same_version() {
    let repo = npm_workspace();
    let runs = both(&repo, &["ui", "web"]);
    assert_agree(&runs);
    let (_, web, notes) = &runs[1];
    assert_eq!(web["version"], "0.9.1");
    let notes = notes["notes"].as_str().unwrap();
    assert!(notes.contains("- bumped `ui` to 2.1.1\n"), "{notes}");

    // `propagate = false`: neither tool releases web, and the changelog still names the
    // dependency its requirement follows.
    repo.write(
        "paved.toml",
        &repo.read("paved.toml").replace(
            "path = \"packages/web\"\n",
            "path = \"packages/web\"\npropagate = false\n",
        ),
    );
    let runs = both(&repo, &["ui", "web"]);
    assert_agree(&runs);
    assert_eq!(runs[1].1["released"], false);
}

/// A history whose commits `lint` rejects for reasons other than a header that does not parse
/// (an unknown type, a breaking unknown type, git's merge wording on a single-parent commit, a
/// `fixup!`), with a type the config adds (`deps`), which all three accept.
#[test]
fn lint_the_analysis_and_the_changelog_count_the_same_commits_as_not_conventional() {
    let repo = TestRepo::new();
    repo.write("paved.toml", "[version.types]\ndeps = \"patch\"\n");
    repo.git(&["add", "paved.toml"]);
    repo.git(&["commit", "-q", "-m", "chore: configure paved"]);
    repo.tag("v1.0.0");
    let base = repo.head();
    for (file, message) in [
        ("a", "feat: search"),
        ("b", "wip: half of the parser"),
        ("c", "feature: export as CSV"),
        ("d", "deps: bump serde"),
        ("e", "Merge branch 'topic' into main"),
        ("f", "fixup! feat: search"),
        ("g", "Update README"),
        ("h", "refactor!: drop the v1 config"),
        ("i", "hack!: the old API is gone"),
        ("j", "fix(api): handle an empty body"),
    ] {
        repo.commit_file(file, message);
    }

    let lint = version(
        &repo,
        &["lint", "--range", &format!("{base}..HEAD"), "--json"],
    );
    assert_eq!(lint.code, 1, "{lint:?}");
    let lint: serde_json::Value = serde_json::from_str(&lint.stdout).unwrap();
    let rejected: Vec<(String, String)> = lint["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["header"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut headers: Vec<&str> = rejected.iter().map(|(h, _)| h.as_str()).collect();
    headers.sort_unstable();
    assert_eq!(
        headers,
        [
            "Merge branch 'topic' into main",
            "Update README",
            "feature: export as CSV",
            "fixup! feat: search",
            "hack!: the old API is gone",
            "wip: half of the parser",
        ]
    );

    let plan = version(&repo, &["--json"]).json();
    assert_eq!(plan["unparsed"], rejected.len(), "{plan:#}");
    assert_eq!(plan["version"], "2.0.0");

    let context = repo.paved(&["--context"]).json();
    let release = &context["releases"][0];
    assert_eq!(release["version"], "2.0.0");
    assert_eq!(
        release["unparsed"].as_array().unwrap().len(),
        rejected.len(),
        "{release:#}"
    );
    let mut from_changelog: Vec<(String, String)> = release["unparsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["summary"].as_str().unwrap().to_owned(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut from_lint = rejected.clone();
    from_changelog.sort();
    from_lint.sort();
    assert_eq!(from_changelog, from_lint);
    // The breaking change of an unknown type is still shown as breaking (it bumps major).
    let breaking: Vec<&str> = release["breaking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["description"].as_str().unwrap())
        .collect();
    assert_eq!(breaking, ["the old API is gone", "drop the v1 config"]);
    let run = repo.paved(&[]);
    assert!(
        run.stderr
            .contains(&format!("{} not conventional (left out)", rejected.len())),
        "{}",
        run.stderr
    );
}
