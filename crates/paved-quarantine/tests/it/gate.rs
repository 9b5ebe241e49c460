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

/// gotestsum's JUnit for one package where the subtest `TestTotal/with_discount` failed: `go
/// test` fails the parent `TestTotal` with it (its output is the subtest's `--- FAIL`).
const GO_SUBTEST_FAILED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="4" errors="0" time="0.012000">
	<testsuite tests="5" failures="4" time="0.012000" name="example.com/shop/cart" timestamp="2026-11-20T10:00:00Z">
		<testcase classname="example.com/shop/cart" name="TestTotal/with_discount" time="0.000000">
			<failure message="Failed" type="">=== RUN   TestTotal/with_discount&#xA;    cart_test.go:12: got 9.99, want 10.00&#xA;--- FAIL: TestTotal/with_discount (0.00s)&#xA;</failure>
		</testcase>
		<testcase classname="example.com/shop/cart" name="TestTotal/rounding" time="0.000000"></testcase>
		<testcase classname="example.com/shop/cart" name="TestTotal" time="0.000000">
			<failure message="Failed" type="">=== RUN   TestTotal&#xA;--- FAIL: TestTotal (0.00s)&#xA;</failure>
		</testcase>
		<testcase classname="example.com/shop/cart" name="TestCheckout/card" time="0.000000">
			<failure message="Failed" type="">=== RUN   TestCheckout/card&#xA;    cart_test.go:30: declined&#xA;--- FAIL: TestCheckout/card (0.00s)&#xA;</failure>
		</testcase>
		<testcase classname="example.com/shop/cart" name="TestCheckout" time="0.000000">
			<failure message="Failed" type="">=== RUN   TestCheckout&#xA;--- FAIL: TestCheckout (0.00s)&#xA;</failure>
		</testcase>
	</testsuite>
</testsuites>
"#;

fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_parent_failed_only_by_quarantined_subtests_does_not_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("go.xml");
    std::fs::write(&report, GO_SUBTEST_FAILED).unwrap();
    let entry = |name: &str| {
        format!(
            "[[test]]\nid = \"example.com/shop/cart|example.com/shop/cart|{name}\"\nreason = \"flaky\"\nowner = \"@acme/shop\"\nadded = 2026-11-01\nexpires = 2026-12-01\n\n"
        )
    };
    let run = |list: &str| {
        std::fs::write(dir.path().join("quarantine.toml"), list).unwrap();
        let out = bin()
            .current_dir(dir.path())
            .args(["gate", "--json", "--today", "2026-11-22"])
            .arg(&report)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids = |key: &str| -> std::collections::BTreeSet<String> {
            json[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    f["id"]
                        .as_str()
                        .unwrap()
                        .rsplit('|')
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        };
        (out.status.code(), ids("failed"), ids("quarantined"))
    };
    // Both failing subtests quarantined: their parents failed through them only.
    let (code, failed, quarantined) =
        run(&(entry("TestTotal/with_discount") + &entry("TestCheckout/card")));
    assert_eq!(code, Some(0), "failed: {failed:?}");
    assert_eq!(
        quarantined,
        set(&[
            "TestCheckout",
            "TestCheckout/card",
            "TestTotal",
            "TestTotal/with_discount"
        ])
    );
    // One of them not quarantined: it fails the gate, and so does its parent.
    let (code, failed, quarantined) = run(&entry("TestTotal/with_discount"));
    assert_eq!(code, Some(1));
    assert_eq!(failed, set(&["TestCheckout", "TestCheckout/card"]));
    assert_eq!(quarantined, set(&["TestTotal", "TestTotal/with_discount"]));
}

#[test]
fn an_expired_entry_no_longer_shields_its_test_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quarantine.toml"),
        LIST.replace("expires = 2026-12-01", "expires = 2026-11-10"),
    )
    .unwrap();
    let g = gate(dir.path(), &["nextest.xml"], &["--json"]);
    let stderr = String::from_utf8_lossy(&g.out.stderr).into_owned();
    assert_eq!(g.out.status.code(), Some(1), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&g.out.stdout).unwrap();
    assert_eq!(json["failed"][0]["id"], "shop|shop|tests::always_fails");
    assert_eq!(json["failed"][0]["expired"], "2026-11-10");
    assert!(
        stderr.contains("the quarantine of shop|shop|tests::always_fails (owner @acme/shop) expired on 2026-11-10, so its failure counts"),
        "{stderr}"
    );
    assert!(g.summary.contains("expired 2026-11-10"), "{}", g.summary);

    // Opting out keeps the shield, loudly.
    let g = gate(dir.path(), &["nextest.xml"], &["--allow-expired"]);
    let stderr = String::from_utf8_lossy(&g.out.stderr).into_owned();
    assert_eq!(g.out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("::warning title=quarantine expired::the quarantine of shop|shop|tests::always_fails (owner @acme/shop) expired on 2026-11-10"),
        "{stderr}"
    );
    // `--fail-on-expired` still fails on any expired entry, even with its test passing.
    let g = gate(
        dir.path(),
        &["nextest.xml"],
        &["--allow-expired", "--fail-on-expired"],
    );
    assert_eq!(g.out.status.code(), Some(1));
}

/// A quarantined test with no runs in the window (skipped by `filter`, renamed, deleted) is
/// reported as not observed, not kept in silence.
#[test]
fn analyze_reports_quarantined_tests_that_were_not_observed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("quarantine.toml"), LIST).unwrap();
    let store = dir.path().join("q.db");
    for run in ["1", "2"] {
        let out = bin()
            .current_dir(dir.path())
            .args(["ingest", "--commit", "c1", "--run-id", run, "--store"])
            .arg(&store)
            .arg(fixture("nextest.xml"))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["not_observed"],
        serde_json::json!([{
            "id": "pytest|test_app|test_gone",
            "owner": "@acme/py",
            "expires": "2026-11-01"
        }])
    );
    let out = bin()
        .current_dir(dir.path())
        .args(["analyze", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("not observed: `pytest|test_app|test_gone` (owner @acme/py, expires 2026-11-01): quarantined, but no run of the window ran it"),
        "{table}"
    );
}

/// The same test far apart in one report: an empty rerun test case (pytest-rerunfailures with
/// pytest 9 writes each rerun attempt so; under pytest-xdist the other workers' results come in
/// between), tens of thousands of other test cases, then its final attempt, failed, in a later
/// suite. The final attempt decides: the gate fails. A test that failed first and passed far
/// later is flaky.
#[test]
fn a_final_failure_far_from_the_same_tests_earlier_pass_still_fails_the_gate() {
    const OTHERS: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("pytest.xml");
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" tests="0">
<testcase classname="test_app" name="test_late" time="0.001" />
<testcase classname="test_app" name="test_recovers" time="0.002"><failure message="AssertionError: first try">assert False</failure></testcase>
"#,
    );
    for i in 0..OTHERS {
        xml.push_str(&format!(
            "<testcase classname=\"test_bulk\" name=\"test_case[{i}]\" time=\"0.001\" />\n"
        ));
    }
    xml.push_str(
        r#"</testsuite><testsuite name="pytest" tests="0">
<testcase classname="test_app" name="test_recovers" time="0.001" />
<testcase classname="test_app" name="test_late" time="0.003"><failure message="AssertionError: late">assert False</failure></testcase>
</testsuite></testsuites>
"#,
    );
    std::fs::write(&report, xml).unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["gate", "--json"])
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["failed"].as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json["failed"][0]["id"], "pytest|test_app|test_late");
    assert_eq!(json["failed"][0]["attempts"], 2);
    assert_eq!(json["failed"][0]["message"], "AssertionError: late");
    assert_eq!(json["flaky"][0]["id"], "pytest|test_app|test_recovers");
    assert_eq!(json["flaky"][0]["message"], "AssertionError: first try");
    let s = &json["summary"];
    assert_eq!(s["tests"], OTHERS + 2);
    assert_eq!((&s["failed"], &s["flaky"]), (&1.into(), &1.into()));
    assert_eq!(s["passed"], OTHERS + 1);
}
