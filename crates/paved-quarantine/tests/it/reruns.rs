//! The last attempt decides: every rerun encoding, each made by the real runner in the test, read
//! by `gate` (and `ingest`) the way the runner itself decided.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PAVED_") || k.starts_with("GITHUB_") || k.starts_with("GITLAB") {
            c.env_remove(k);
        }
    }
    c
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `gate --json` over `files` in `dir`: the exit code and the decision.
fn gate(dir: &Path, files: &[&Path]) -> (Option<i32>, serde_json::Value, String) {
    let out: Output = bin()
        .current_dir(dir)
        .args(["gate", "--json", "--today", "2026-11-22"])
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("gate printed no JSON ({e}): {stderr}"));
    (out.status.code(), json, stderr)
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A test module whose `test_always` always fails, `test_flaky` fails on its first attempt only
/// (a counter file next to it), and `test_ok` passes.
const PYTEST_MODULE: &str = r#"import pathlib

def test_always():
    assert False, "always fails"

def test_flaky():
    counter = pathlib.Path(__file__).with_name("attempts")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    assert n >= 1, "first attempt fails"

def test_ok():
    pass
"#;

/// pytest 9 with pytest-rerunfailures writes every rerun attempt as an empty `<testcase/>` (the
/// plugin's "rerun" outcome is neither passed nor failed to pytest's junitxml) before the final
/// one, under both junit families.
#[test]
fn pytest_rerunfailures_always_failing_test_fails_the_gate() {
    let pytest = paved_testkit::tool("pytest");
    for family in ["xunit2", "xunit1"] {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("test_reruns.py"), PYTEST_MODULE);
        let report = dir.path().join("pytest.xml");
        let out = Command::new(&pytest)
            .current_dir(dir.path())
            .args(["-q", "-p", "no:cacheprovider", "--reruns", "2"])
            .arg(format!("-ojunit_family={family}"))
            .arg(format!("--junitxml={}", report.display()))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("rerun"),
            "pytest-rerunfailures is not installed next to pytest; run `cargo xtask tools`\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "pytest itself fails: {stdout}");
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches(r#"name="test_always""#).count(),
            3,
            "the shape under test: two reruns and the final attempt\n{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, Some(1), "{family}: {stderr}");
        assert_eq!(ids(&json["failed"]), ["pytest|test_reruns|test_always"]);
        assert_eq!(json["failed"][0]["attempts"], 3);
        assert_eq!(json["failed"][0]["message"], "AssertionError: always fails");
        // The report records no failed attempt of test_flaky (its rerun is an empty element),
        // so no pass "follows a failure" that the report shows: nothing is claimed.
        assert_eq!(ids(&json["flaky"]), Vec::<String>::new(), "{family}");
        assert!(!stderr.contains("passed on retry"), "{stderr}");
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["summary"]["passed"], 2);
    }
}

/// jest `retryTimes` with jest-junit writes one test case per test, with its final attempt only:
/// an always-failing test fails the gate, a test that passed on its retry is a plain pass there.
#[test]
fn jest_retry_times_always_failing_test_fails_the_gate() {
    let jest = paved_testkit::tool("jest");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("package.json"),
        "{\"name\": \"t\", \"private\": true}\n",
    );
    write(&dir.path().join("jest.setup.js"), "jest.retryTimes(2);\n");
    write(
        &dir.path().join("app.test.js"),
        r#"let attempts = 0;
test('always fails', () => { expect(1).toBe(2); });
test('flaky', () => { attempts += 1; expect(attempts).toBeGreaterThan(1); });
test('ok', () => {});
"#,
    );
    let report = dir.path().join("jest.xml");
    // jest resolves reporters from the project; this one lives next to jest in the tools.
    let reporter = paved_testkit::tools_dir().join("npm/node_modules/jest-junit");
    assert!(
        reporter.join("package.json").is_file(),
        "jest-junit is not installed at {}; run `cargo xtask tools`",
        reporter.display()
    );
    let out = Command::new(&jest)
        .current_dir(dir.path())
        .env("PATH", paved_testkit::path_with_tools())
        .env("JEST_JUNIT_OUTPUT_FILE", &report)
        .args([
            "--ci",
            "--rootDir",
            ".",
            "--setupFilesAfterEnv",
            "./jest.setup.js",
            "--reporters=default",
        ])
        .arg(format!("--reporters={}", reporter.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "jest itself fails: {stderr}");
    assert!(
        report.is_file(),
        "jest-junit wrote no report (is it installed next to jest? run `cargo xtask tools`): {stderr}"
    );
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");

    let (code, json, stderr) = gate(dir.path(), &[&report]);
    assert_eq!(code, Some(1), "{stderr}");
    // jest-junit names the suite of top-level tests after their (missing) describe block.
    assert_eq!(
        ids(&json["failed"]),
        ["undefined|always fails|always fails"]
    );
    assert_eq!(json["failed"][0]["attempts"], 1);
    assert_eq!(ids(&json["flaky"]), Vec::<String>::new());
    assert_eq!(json["summary"]["passed"], 2);
}
