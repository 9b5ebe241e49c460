//! Dependency propagation in Cargo and npm workspaces: a package whose workspace dependency is
//! released is released too, and `--write` points its requirement at the new version, in files
//! the real `cargo` and `npm` still accept.

use std::process::Command;

use crate::common::TestRepo;

const PAVED_TOML: &str = r#"[[version.package]]
name = "a"
path = "crates/a"

[[version.package]]
name = "b"
path = "crates/b"

[[version.package]]
name = "c"
path = "crates/c"
"#;

const ROOT: &str = r#"[workspace]
members = ["crates/*"]
resolver = "2"

# shared requirements
[workspace.dependencies]
c = { path = "crates/c", version = "1.0.0" } # keep this comment
"#;

const A: &str = r#"[package]
name = "a"
version = "1.0.0"
edition = "2021"

[dependencies]
b = { path = "../b", version = "=1.0.0" }   # exact pin
"#;

const B: &str = r#"[package]
name = "b"
version = "1.0.0"
edition = "2021"

[dependencies]
c.workspace = true
"#;

const C: &str = "[package]\nname = \"c\"\nversion = \"1.0.0\"\nedition = \"2021\"\n";

fn cargo(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap()
}

/// a -> b -> c (b through `workspace = true`), with a Cargo.lock made by cargo.
fn cargo_workspace(toml: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.write("paved.toml", toml);
    repo.write("Cargo.toml", ROOT);
    repo.write(".gitignore", "target/\n");
    for (name, manifest) in [("a", A), ("b", B), ("c", C)] {
        repo.write(&format!("crates/{name}/Cargo.toml"), manifest);
        repo.write(&format!("crates/{name}/src/lib.rs"), "");
    }
    let lock = cargo(repo.path(), &["generate-lockfile", "--offline"]);
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore: init"]);
    for name in ["a", "b", "c"] {
        repo.tag(&format!("{name}-v1.0.0"));
    }
    repo.commit_file("crates/c/src/new.rs", "feat(c): a new function");
    repo
}

fn package<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == name)
        .unwrap()
}

#[test]
fn a_released_dependency_releases_its_dependents_transitively() {
    let repo = cargo_workspace(PAVED_TOML);
    let run = repo.paved(&["--json"]);
    let json = run.json();
    let (a, b, c) = (
        package(&json, "a"),
        package(&json, "b"),
        package(&json, "c"),
    );
    assert_eq!(
        (c["version"].as_str(), c["bump"].as_str()),
        (Some("1.1.0"), Some("minor"))
    );
    assert_eq!(
        (b["version"].as_str(), b["bump"].as_str()),
        (Some("1.0.1"), Some("patch"))
    );
    assert_eq!(
        (a["version"].as_str(), a["bump"].as_str()),
        (Some("1.0.1"), Some("patch"))
    );
    assert_eq!(
        b["dependencies"],
        serde_json::json!([{ "name": "c", "from": "1.0.0", "to": "1.1.0" }])
    );
    assert_eq!(
        a["dependencies"],
        serde_json::json!([{ "name": "b", "from": "1.0.0", "to": "1.0.1" }])
    );
    assert!(
        run.stderr.contains(
            "b: 1.0.0 -> 1.0.1 (patch bump; 0 commits since b-v1.0.0; dependency c 1.0.0 -> 1.1.0)"
        ),
        "{}",
        run.stderr
    );
    // One package asked for gets the same answer.
    assert_eq!(repo.paved(&["--package", "a"]).stdout, "1.0.1\n");
}

#[test]
fn write_rewrites_requirements_and_the_lock_and_cargo_accepts_them() {
    let repo = cargo_workspace(PAVED_TOML);
    let lock_before = repo.read("Cargo.lock");
    repo.paved(&["--write"]).ok();
    assert_eq!(
        repo.read("Cargo.toml"),
        ROOT.replace(
            "version = \"1.0.0\" } # keep",
            "version = \"1.1.0\" } # keep"
        )
    );
    assert_eq!(
        repo.read("crates/a/Cargo.toml"),
        A.replace(
            "version = \"1.0.0\"\nedition",
            "version = \"1.0.1\"\nedition"
        )
        .replace("\"=1.0.0\"", "\"=1.0.1\"")
    );
    assert_eq!(
        repo.read("crates/b/Cargo.toml"),
        B.replace("1.0.0", "1.0.1")
    );
    assert_eq!(
        repo.read("crates/c/Cargo.toml"),
        C.replace("1.0.0", "1.1.0")
    );
    assert_ne!(repo.read("Cargo.lock"), lock_before);

    // cargo reads the rewritten workspace, and finds the lock file already up to date.
    let meta = cargo(
        repo.path(),
        &["metadata", "--offline", "--locked", "--format-version", "1"],
    );
    assert!(
        meta.status.success(),
        "{}",
        String::from_utf8_lossy(&meta.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    let mut versions: Vec<(String, String)> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    versions.sort();
    assert_eq!(
        versions,
        [("a", "1.0.1"), ("b", "1.0.1"), ("c", "1.1.0")].map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let no_deps = cargo(
        repo.path(),
        &[
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
        ],
    );
    assert!(no_deps.status.success());
}

#[test]
fn propagate_false_keeps_a_package_where_it_is() {
    let toml = PAVED_TOML.replace(
        "name = \"a\"\npath = \"crates/a\"\n",
        "name = \"a\"\npath = \"crates/a\"\npropagate = false\n",
    );
    let repo = cargo_workspace(&toml);
    let json = repo.paved(&["--json"]).json();
    let a = package(&json, "a");
    assert_eq!(
        (a["version"].as_str(), a["released"].as_bool()),
        (Some("1.0.0"), Some(false))
    );
    assert_eq!(package(&json, "b")["version"], "1.0.1");
}

fn npm(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("npm")
        .current_dir(dir)
        .args(args)
        .env("npm_config_cache", dir.join(".npm-cache"))
        .env("npm_config_update_notifier", "false")
        .output()
        .expect("npm is installed (`cargo xtask tools`)")
}

#[test]
fn npm_workspace_ranges_keep_their_operator_and_npm_accepts_them() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"x\"\npath = \"packages/x\"\n\n\
         [[version.package]]\nname = \"y\"\npath = \"packages/y\"\n\n\
         [[version.package]]\nname = \"z\"\npath = \"packages/z\"\n\n\
         [[version.package]]\nname = \"w\"\npath = \"packages/w\"\n",
    );
    repo.write(".gitignore", "node_modules/\n.npm-cache/\n");
    repo.write(
        "package.json",
        "{\n  \"name\": \"root\",\n  \"private\": true,\n  \"workspaces\": [\"packages/*\"]\n}\n",
    );
    let y = "{\n  \"name\": \"@s/y\",\n  \"version\": \"2.0.0\",\n  \"dependencies\": {\n    \"left-pad-not-here\": \"^9.0.0\",\n    \"@s/x\": \"^1.2.0\"\n  }\n}\n";
    let z = "{\n  \"name\": \"@s/z\",\n  \"version\": \"0.3.0\",\n  \"devDependencies\": { \"@s/x\": \"~1.2.0\" },\n  \"peerDependencies\": { \"@s/y\": \"2.0.0\" }\n}\n";
    let w = "{\n  \"name\": \"@s/w\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": { \"@s/x\": \"workspace:*\" }\n}\n";
    repo.write(
        "packages/x/package.json",
        "{\n  \"name\": \"@s/x\",\n  \"version\": \"1.2.0\"\n}\n",
    );
    repo.write(
        "packages/y/package.json",
        &y.replace("    \"left-pad-not-here\": \"^9.0.0\",\n", ""),
    );
    repo.write("packages/z/package.json", z);
    repo.write("packages/w/package.json", w);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore: init"]);
    for tag in ["x-v1.2.0", "y-v2.0.0", "z-v0.3.0", "w-v1.0.0"] {
        repo.tag(tag);
    }
    repo.commit_file("packages/x/index.js", "feat: export more");
    let json = repo.paved(&["--json"]).json();
    for (name, version) in [
        ("x", "1.3.0"),
        ("y", "2.0.1"),
        ("z", "0.3.1"),
        ("w", "1.0.1"),
    ] {
        assert_eq!(package(&json, name)["version"], version, "{name}: {json:#}");
    }
    assert_eq!(
        package(&json, "z")["dependencies"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    repo.paved(&["--write"]).ok();
    let y_now = y.replace("    \"left-pad-not-here\": \"^9.0.0\",\n", "");
    assert_eq!(
        repo.read("packages/y/package.json"),
        y_now.replace("2.0.0", "2.0.1").replace("^1.2.0", "^1.3.0")
    );
    assert_eq!(
        repo.read("packages/z/package.json"),
        z.replace("0.3.0", "0.3.1")
            .replace("~1.2.0", "~1.3.0")
            .replace("\"2.0.0\"", "\"2.0.1\"")
    );
    // `workspace:*` (pnpm, yarn) is left as it is; only w's own version moves.
    assert_eq!(
        repo.read("packages/w/package.json"),
        w.replace("1.0.0", "1.0.1")
    );

    // npm links the workspace offline: every rewritten range is satisfied by the local package.
    std::fs::remove_dir_all(repo.path().join("packages/w")).unwrap();
    let install = npm(
        repo.path(),
        &[
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
        ],
    );
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let ls = npm(repo.path(), &["ls", "--all", "--json"]);
    assert!(
        ls.status.success(),
        "{}",
        String::from_utf8_lossy(&ls.stdout)
    );
    let tree: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(tree["dependencies"]["@s/y"]["version"], "2.0.1", "{tree:#}");
    assert_eq!(
        tree["dependencies"]["@s/y"]["dependencies"]["@s/x"]["version"], "1.3.0",
        "{tree:#}"
    );
}

#[test]
fn a_dependency_cycle_ends_with_both_released_once() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"p\"\npath = \"p\"\n\n[[version.package]]\nname = \"q\"\npath = \"q\"\n",
    );
    repo.write(
        "p/package.json",
        "{ \"name\": \"p\", \"version\": \"1.0.0\", \"dependencies\": { \"q\": \"^1.0.0\" } }\n",
    );
    repo.write(
        "q/package.json",
        "{ \"name\": \"q\", \"version\": \"1.0.0\", \"devDependencies\": { \"p\": \"^1.0.0\" } }\n",
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "chore: init"]);
    repo.tag("p-v1.0.0");
    repo.tag("q-v1.0.0");
    repo.commit_file("p/index.js", "fix: a bug");
    let json = repo.paved(&["--json"]).json();
    assert_eq!(package(&json, "p")["version"], "1.0.1");
    assert_eq!(package(&json, "q")["version"], "1.0.1");
    repo.paved(&["--write"]).ok();
    assert!(repo.read("p/package.json").contains("\"q\": \"^1.0.1\""));
    assert!(repo.read("q/package.json").contains("\"p\": \"^1.0.1\""));
}

#[test]
fn a_broken_manifest_is_named_and_nothing_is_written() {
    let repo = cargo_workspace(PAVED_TOML);
    repo.write("crates/b/Cargo.toml", "[package\nname = \"b\"\n");
    let run = repo.paved(&["--write"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "could not read the dependencies in `crates/b/Cargo.toml`: it is not valid TOML"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(repo.read("crates/c/Cargo.toml"), C);
}
