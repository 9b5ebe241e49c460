//! `gate` and `analyze` through the real binary: exit codes, the job summary, annotations,
//! and the `--help` of ingest, analyze and gate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PAVED_") {
            c.env_remove(k);
        }
    }
    for k in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "NO_COLOR",
    ] {
        c.env_remove(k);
    }
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name)
}

const LIST: &str = r#"# reviewed
[[test]]
id = "shop|shop|tests::always_fails"
reason = "flaky: 3 of 20 runs failed"
owner = "@acme/shop"
issue = "https://github.com/acme/shop/issues/7"
added = 2026-11-01
expires = 2026-12-01

[[test]]
id = "pytest|test_app|test_gone"
reason = "flaky"
owner = "@acme/py"
added = 2026-10-01
expires = 2026-11-01
"#;

struct Gate {
    out: Output,
    summary: String,
    github_output: String,
}

fn gate(dir: &Path, files: &[&str], extra: &[&str]) -> Gate {
    let summary = dir.join("summary.md");
    let outputs = dir.join("outputs");
    let _ = std::fs::remove_file(&summary);
    let _ = std::fs::remove_file(&outputs);
    let out = bin()
        .current_dir(dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .arg("gate")
        .args(files.iter().map(|f| fixture(f)))
        .args(["--today", "2026-11-22"])
        .args(extra)
        .output()
        .unwrap();
    Gate {
        out,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        github_output: std::fs::read_to_string(&outputs).unwrap_or_default(),
    }
}

#[test]
fn gate_counts_only_unquarantined_failures_on_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quarantine.toml"), LIST).unwrap();

    // nextest: always_fails is quarantined, flaky_counter passed on retry: the gate passes.
    let g = gate(dir.path(), &["nextest.xml"], &[]);
    let stderr = String::from_utf8_lossy(&g.out.stderr).into_owned();
    assert_eq!(g.out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "::warning title=flaky test (passed on retry)::shop|shop|tests::flaky_counter"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "::notice title=quarantined test failed (not counted)::shop|shop|tests::always_fails"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("::warning title=quarantine expired::"),
        "{stderr}"
    );
    assert!(g.github_output.contains("passed<<"), "{}", g.github_output);
    insta::assert_snapshot!("gate_passed_summary", g.summary);

    // Adding surefire: totalIsRounded failed on every attempt and is not quarantined: exit 1.
    let g = gate(dir.path(), &["nextest.xml", "surefire.xml"], &[]);
    let stderr = String::from_utf8_lossy(&g.out.stderr).into_owned();
    assert_eq!(g.out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("::error title=test failed::com.acme.shop.CartTest|com.acme.shop.CartTest|totalIsRounded"), "{stderr}");
    insta::assert_snapshot!("gate_failed_summary", g.summary);

    // Expired entries can fail the gate.
    let g = gate(dir.path(), &["nextest.xml"], &["--fail-on-expired"]);
    assert_eq!(g.out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&g.out.stderr).contains("::error title=quarantine expired::"));
    // ... also from paved.toml.
    std::fs::write(
        dir.path().join("paved.toml"),
        "[quarantine]\nfail-on-expired = true\n",
    )
    .unwrap();
    assert_eq!(
        gate(dir.path(), &["nextest.xml"], &[]).out.status.code(),
        Some(1)
    );
    std::fs::remove_file(dir.path().join("paved.toml")).unwrap();
}

#[test]
fn gate_merges_rerun_reports_and_without_a_list_quarantines_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // gotestsum: TestBroken fails every attempt.
    let g = gate(dir.path(), &["gotestsum-rerun.xml"], &["--json"]);
    assert_eq!(g.out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&g.out.stdout).unwrap();
    assert_eq!(
        json["failed"][0]["id"],
        "github.com/acme/shop/api|github.com/acme/shop/api|TestBroken"
    );
    assert_eq!(json["failed"][0]["attempts"], 3);
    assert_eq!(
        json["flaky"][0]["id"],
        "github.com/acme/shop/api|github.com/acme/shop/api|TestFlakyLogin"
    );
    // A first report where a test failed, and a rerun report where it passed: flaky, not failed.
    let first = dir.path().join("first.xml");
    let rerun = dir.path().join("rerun.xml");
    std::fs::write(&first, r#"<testsuite name="s"><testcase classname="c" name="t"><failure message="boom"/></testcase></testsuite>"#).unwrap();
    std::fs::write(
        &rerun,
        r#"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#,
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["gate", "--json"])
        .arg(&first)
        .arg(&rerun)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["flaky"][0]["id"], "s|c|t");
    // Bad input is exit 2, not a gate decision.
    let out = bin()
        .current_dir(dir.path())
        .args(["gate", "missing.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn analyze_prints_a_table_json_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("q.db");
    for (run, commit) in [("1", "c1"), ("2", "c1"), ("3", "c2")] {
        let out = bin()
            .current_dir(dir.path())
            .args(["ingest", "--commit", commit, "--run-id", run, "--store"])
            .arg(&store)
            .arg(fixture("nextest.xml"))
            .arg(fixture("gotestsum-rerun.xml"))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let summary = dir.path().join("summary.md");
    let out = bin()
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["analyze", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("analyze_table", String::from_utf8_lossy(&out.stdout));
    insta::assert_snapshot!(
        "analyze_summary",
        std::fs::read_to_string(&summary).unwrap()
    );
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["runs"], 3);
    assert_eq!(json["tests"][0]["verdict"], "flaky");
}

#[test]
fn help() {
    for sub in ["ingest", "analyze", "gate"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{sub}"), String::from_utf8_lossy(&out.stdout));
    }
}
