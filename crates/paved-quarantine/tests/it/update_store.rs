//! End to end through the store: `ingest` JUnit files of several runs, then `update` (no
//! `--stats`: it analyses the store), `filter` the result, and `report` from the store.

use std::path::Path;
use std::process::{Command, Output};

fn bin(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(dir)
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn junit(flaky_fails: bool) -> String {
    let flaky = if flaky_fails {
        "<testcase classname=\"tests.test_cart\" name=\"test_total[EUR]\" file=\"tests/test_cart.py\" time=\"0.1\"><failure message=\"assert 3 == 4\">boom</failure></testcase>"
    } else {
        "<testcase classname=\"tests.test_cart\" name=\"test_total[EUR]\" file=\"tests/test_cart.py\" time=\"0.1\"/>"
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"pytest\" tests=\"4\" failures=\"{}\" errors=\"0\" skipped=\"0\">\
         {flaky}\
         <testcase classname=\"tests.test_a\" name=\"test_a\" time=\"0.1\"/>\
         <testcase classname=\"tests.test_b\" name=\"test_b\" time=\"0.1\"/>\
         <testcase classname=\"tests.test_c\" name=\"test_c\" time=\"0.1\"/>\
         </testsuite></testsuites>\n",
        u8::from(flaky_fails)
    )
}

/// Write run `run`'s report (the cart test failing or not) and ingest it at commit `commit`.
fn ingest_run(dir: &Path, run: u32, flaky_fails: bool, commit: u32) {
    ingest_on(dir, "main", run, flaky_fails, commit);
}

/// [`ingest_run`] on branch `branch`.
fn ingest_on(dir: &Path, branch: &str, run: u32, flaky_fails: bool, commit: u32) {
    let file = dir.join(format!("run{run}.xml"));
    std::fs::write(&file, junit(flaky_fails)).unwrap();
    ok(&bin(
        dir,
        &[
            "ingest",
            file.to_str().unwrap(),
            "--commit",
            &format!("{commit:040x}"),
            "--branch",
            branch,
            "--run-id",
            &format!("{}", 500 + run),
            "--attempt",
            "1",
        ],
    ));
}

#[test]
fn ingest_then_update_filter_and_report_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("CODEOWNERS"),
        "* @acme/all\ntests/test_cart.py @acme/shop\n",
    )
    .unwrap();
    // Six runs on three commits: the cart test fails once and passes once at the same commit.
    for run in 0..6u32 {
        ingest_run(d, run, run % 2 == 0, run / 2 + 1);
    }
    ok(&bin(d, &["update", "--today", "2026-11-22"]));
    let text = std::fs::read_to_string(d.join("quarantine.toml")).unwrap();
    assert!(
        text.contains("id = \"pytest|tests.test_cart|test_total[EUR]\""),
        "{text}"
    );
    assert!(text.contains("owner = \"@acme/shop\""), "{text}");
    assert!(text.contains("expires = 2026-12-22"), "{text}");
    assert_eq!(
        text.matches("[[test]]").count(),
        1,
        "only the flaky test: {text}"
    );

    let args = ok(&bin(d, &["filter", "--runner", "pytest"]));
    assert_eq!(args, "--deselect 'tests/test_cart.py::test_total[EUR]'\n");

    ok(&bin(d, &["report"]));
    let md = std::fs::read_to_string(d.join("quarantine-report.md")).unwrap();
    assert!(md.contains("6 runs in the window"), "{md}");
    assert!(
        md.contains("`pytest\\|tests.test_cart\\|test_total[EUR]`"),
        "{md}"
    );
    let html = std::fs::read_to_string(d.join("quarantine-report.html")).unwrap();
    assert_eq!(html.matches("class=\"cell ").count(), 6);
}

/// A quarantined test that never fails again is released after enough clean runs, judged from
/// the store even though it has no failure in the window (the store keeps only the keys of
/// passing tests; `update` follows the quarantined ones by key).
#[test]
fn a_quarantined_test_with_only_clean_runs_in_the_window_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("quarantine.toml"),
        "# Reviewed list.\n\n[[test]]\nid = \"pytest|tests.test_cart|test_total[EUR]\"\nreason = \"flaky\"\nowner = \"@acme/shop\"\nadded = \"2026-10-01\"\nexpires = \"2026-12-31\"\n",
    )
    .unwrap();
    for run in 0..36u32 {
        ingest_run(d, run, false, run + 1);
    }
    // `analyze --json` includes the quarantined test too, so `update --stats` releases it.
    let stats = ok(&bin(d, &["analyze", "--json"]));
    assert!(stats.contains("test_total[EUR]"), "{stats}");
    std::fs::write(d.join("stats.json"), &stats).unwrap();
    let diff = ok(&bin(
        d,
        &[
            "update",
            "--stats",
            "stats.json",
            "--dry-run",
            "--today",
            "2026-11-22",
        ],
    ));
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("test_total[EUR]")),
        "{diff}"
    );
    ok(&bin(d, &["update", "--today", "2026-11-22"]));
    let text = std::fs::read_to_string(d.join("quarantine.toml")).unwrap();
    assert!(
        !text.contains("test_total[EUR]"),
        "36 clean runs should release it:\n{text}"
    );
    assert!(text.contains("# Reviewed list."), "{text}");
}

/// Issue 14, problem 2: green for 40 commits, then red on every run from one commit on. Under the
/// old rule the Wilson bound (10 of 50) called it flaky and `update` quarantined it.
#[test]
fn a_regression_is_broken_since_its_commit_and_never_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for run in 0..50u32 {
        ingest_run(d, run, run >= 40, run + 1);
    }
    let out = bin(d, &["update", "--today", "2026-11-22", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["added"].as_array().unwrap().len(), 0, "{json}");
    let first_bad = format!("{:040x}", 41);
    let last_good = format!("{:040x}", 40);
    assert_eq!(
        json["breaks"][0]["id"],
        "pytest|tests.test_cart|test_total[EUR]"
    );
    assert_eq!(json["breaks"][0]["since"], first_bad.as_str());
    assert_eq!(json["breaks"][0]["last_good"], last_good.as_str());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("is broken since {first_bad}"))
            && stderr.contains("not quarantined"),
        "{stderr}"
    );
    assert!(
        !d.join("quarantine.toml").exists()
            || !std::fs::read_to_string(d.join("quarantine.toml"))
                .unwrap()
                .contains("test_total")
    );

    let out = ok(&bin(d, &["analyze", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["tests"][0]["verdict"], "broken");
    assert_eq!(json["tests"][0]["broken"]["since"], first_bad.as_str());
    assert_eq!(json["tests"][0]["broken"]["failing_runs"], 10);
    let table = ok(&bin(d, &["analyze"]));
    assert!(
        table.contains(&format!("broken since {}", &first_bad[..12])),
        "{table}"
    );
}

/// Issue 14, problem 3: a pull request that breaks a test (three failing runs on its branch,
/// never passing there) next to 47 green runs on main. By default only the default branch (and
/// its merge queue) decides: the test is not quarantined. `analyze --branch` still shows the
/// feature branch alone.
#[test]
fn failures_only_on_a_feature_branch_never_quarantine_a_test() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for run in 0..47u32 {
        ingest_on(d, "main", run, false, run + 1);
    }
    for run in 47..50u32 {
        ingest_on(d, "feature/cart-rounding", run, true, run + 1);
    }
    // A merge-queue run on main's queue counts as main (it passed here).
    ingest_on(d, "gh-readonly-queue/main/pr-7-abc", 50, false, 51);

    let out = bin(d, &["update", "--today", "2026-11-22", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["added"].as_array().unwrap().len(), 0, "{json}");
    assert_eq!(json["breaks"].as_array().unwrap().len(), 0, "{json}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&bin(d, &["analyze", "--json"]))).unwrap();
    assert_eq!(
        json["runs"], 48,
        "47 on main and 1 in its merge queue: {json}"
    );
    assert_eq!(json["tests"].as_array().unwrap().len(), 0, "{json}");

    // One branch on request: there the test fails on every run.
    let json: serde_json::Value = serde_json::from_str(&ok(&bin(
        d,
        &["analyze", "--json", "--branch", "feature/cart-rounding"],
    )))
    .unwrap();
    assert_eq!(json["runs"], 3);
    assert_eq!(json["tests"][0]["verdict"], "broken");

    // `[quarantine] branches` names the branches that decide; with the feature branch in them,
    // its failures count (a break at the end of the window, still never quarantined).
    std::fs::write(
        d.join("paved.toml"),
        "[quarantine]\nbranches = [\"main\", \"feature/*\"]\n",
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&bin(d, &["analyze", "--json"]))).unwrap();
    assert_eq!(json["runs"], 50, "{json}");
    assert_eq!(json["tests"][0]["verdict"], "broken");
    assert_eq!(json["tests"][0]["broken"]["failing_runs"], 3);
    // The old single key and the list together are ambiguous: refused, naming both.
    std::fs::write(
        d.join("paved.toml"),
        "[quarantine]\nbranch = \"main\"\nbranches = [\"main\"]\n",
    )
    .unwrap();
    let out = bin(d, &["analyze"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`[quarantine] branch`") && stderr.contains("`branches`"),
        "{stderr}"
    );
}
