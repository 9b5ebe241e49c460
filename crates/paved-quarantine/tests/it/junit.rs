//! The JUnit parser against real runner output (tests/fixtures/junit, see its README) and against
//! hostile input.

use std::io::Write;
use std::path::{Path, PathBuf};

use paved_junit::{Report, Summary, Tallied, Tally, parse_bytes, parse_file};
use paved_quarantine::model::Outcome;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name)
}

/// One line per test: identity, attempts, file and first message, for snapshots.
fn render(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.results {
        let attempts: Vec<&str> = r
            .attempts
            .iter()
            .map(|a| match a.outcome {
                Outcome::Passed => "pass",
                Outcome::Failed => "FAIL",
                Outcome::Error => "ERROR",
                Outcome::Skipped => "skip",
            })
            .collect();
        out.push_str(&format!(
            "[{}] [{}] [{}] {}",
            r.id.suite,
            r.id.classname,
            r.id.name,
            attempts.join(",")
        ));
        if let Some(f) = &r.file {
            out.push_str(&format!(" file={f}"));
        }
        if let Some(m) = r.attempts.iter().find_map(|a| a.message.as_deref()) {
            out.push_str(&format!(" msg={m:?}"));
        }
        out.push('\n');
    }
    let s = Summary::of(&report.results);
    out.push_str(&format!(
        "tests={} passed={} failed={} skipped={} flaky={}\n",
        s.tests, s.passed, s.failed, s.skipped, s.flaky
    ));
    out
}

fn parsed(name: &str) -> Report {
    parse_file(&fixture(name), "linux").unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn find<'a>(r: &'a Report, name: &str) -> &'a paved_quarantine::model::TestResult {
    r.results
        .iter()
        .find(|t| t.id.name == name)
        .unwrap_or_else(|| panic!("no test `{name}`"))
}

#[test]
fn surefire() {
    let r = parsed("surefire.xml");
    let flaky = find(&r, "checkoutTimesOut");
    assert!(flaky.passed_on_retry());
    assert_eq!(flaky.attempts.len(), 3);
    assert_eq!(flaky.attempts[2].time, Some(1002.25));
    let broken = find(&r, "totalIsRounded");
    assert!(broken.failed_every_attempt());
    assert_eq!(broken.attempts.len(), 3);
    assert_eq!(
        find(&r, "discountApplies").final_outcome(),
        Outcome::Skipped
    );
    insta::assert_snapshot!(render(&r));
}

#[test]
fn nextest() {
    let r = parsed("nextest.xml");
    let flaky = find(&r, "tests::flaky_counter");
    assert!(flaky.passed_on_retry());
    let broken = find(&r, "tests::always_fails");
    assert!(broken.failed_every_attempt());
    assert_eq!(broken.attempts.len(), 3, "failure + two rerunFailures");
    // A suite per test binary.
    assert_eq!(find(&r, "api_works").id.suite, "shop::api");
    insta::assert_snapshot!(render(&r));
}

#[test]
fn pytest() {
    let r = parsed("pytest.xml");
    let t = find(&r, "test_call_and_teardown");
    assert_eq!(
        t.attempts.len(),
        1,
        "call failure + teardown error = one attempt"
    );
    assert_eq!(t.final_outcome(), Outcome::Failed);
    assert_eq!(
        find(&r, "test_teardown_only").final_outcome(),
        Outcome::Error
    );
    // Internal whitespace is collapsed: `firefox  esr` is reported as `firefox esr`.
    find(&r, "test_param[firefox esr]");
    insta::assert_snapshot!(render(&r));
}

#[test]
fn jest_junit() {
    let r = parsed("jest-junit.xml");
    assert_eq!(
        find(&r, "Login form rejects (bad) [input] \"quoted\"").final_outcome(),
        Outcome::Failed
    );
    insta::assert_snapshot!(render(&r));
}

#[test]
fn go_junit_report() {
    insta::assert_snapshot!(render(&parsed("go-junit-report.xml")));
}

#[test]
fn gotestsum_rerun_fails() {
    let r = parsed("gotestsum-rerun.xml");
    let flaky = find(&r, "TestFlakyLogin");
    assert!(flaky.passed_on_retry(), "duplicate test cases are attempts");
    let broken = find(&r, "TestBroken");
    assert_eq!(broken.attempts.len(), 3);
    assert!(broken.failed_every_attempt());
    insta::assert_snapshot!(render(&r));
}

#[test]
fn playwright() {
    let r = parsed("playwright.xml");
    assert_eq!(
        find(&r, "cart › fails always").final_outcome(),
        Outcome::Failed
    );
    insta::assert_snapshot!(render(&r));
}

#[test]
fn gradle() {
    insta::assert_snapshot!(render(&parsed("gradle.xml")));
}

#[test]
fn rspec() {
    let r = parsed("rspec.xml");
    // rspec_junit_formatter: classname = the top-level group's file, dotted, no extension;
    // name = the full description (nested groups joined by spaces); file = that file.
    let t = find(&r, "Cart#total rounds \"half up\" <to> 2 places & more");
    assert_eq!(t.id.classname, "spec.models.cart_spec");
    assert_eq!(t.file.as_deref(), Some("./spec/models/cart_spec.rb"));
    let shared = find(&r, "Money cents behaves like a number is numeric");
    assert_eq!(shared.id.classname, "spec.lib.money_spec");
    insta::assert_snapshot!(render(&r));
}

#[test]
fn dotnet() {
    insta::assert_snapshot!(render(&parsed("dotnet.xml")));
}

#[test]
fn variant_is_part_of_identity() {
    let a = parse_file(&fixture("gradle.xml"), "linux").unwrap();
    let b = parse_file(&fixture("gradle.xml"), "windows").unwrap();
    assert_ne!(a.results[0].id, b.results[0].id);
    assert_eq!(a.results[0].id.name, b.results[0].id.name);
}

fn err_of(name: &str, xml: &str) -> String {
    parse_bytes(name, "", xml.as_bytes())
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_input_gets_clear_errors() {
    let e = err_of("empty.xml", "");
    assert!(e.contains("empty.xml") && e.contains("empty"), "{e}");
    let e = err_of("trunc.xml", "<testsuite name=\"a\"><testcase name=\"x\">");
    assert!(e.contains("trunc.xml") && e.contains("truncated"), "{e}");
    let e = err_of(
        "trunc2.xml",
        "<testsuites><testsuite name=\"a\"><testcase name=\"x\"/>",
    );
    assert!(e.contains("truncated"), "{e}");
    let e = err_of(
        "pom.xml",
        "<project><modelVersion>4.0.0</modelVersion></project>",
    );
    assert!(
        e.contains("pom.xml") && e.contains("not a JUnit XML report") && e.contains("<project>"),
        "{e}"
    );
    let e = err_of("broken.xml", "<testsuite><testcase name=\"a\"></testsuite>");
    assert!(e.contains("broken.xml") && e.contains("malformed"), "{e}");
    let e = err_of(
        "noname.xml",
        "<testsuite><testcase classname=\"a\"/></testsuite>",
    );
    assert!(e.contains("no `name`"), "{e}");
    let e = err_of("text.xml", "just some text");
    assert!(e.contains("text.xml"), "{e}");
}

#[test]
fn empty_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junit.xml");
    std::fs::write(&p, "").unwrap();
    let e = parse_file(&p, "").unwrap_err().to_string();
    assert!(e.contains("junit.xml") && e.contains("empty"), "{e}");
}

#[test]
fn billion_laughs_is_refused_without_expanding() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str("]>\n<testsuite name=\"&lol9;\"><testcase name=\"&lol9;\"/></testsuite>\n");
    let e = err_of("lolz.xml", &xml);
    assert!(e.contains("lolz.xml") && e.contains("entities"), "{e}");
    // Without a DOCTYPE, an unknown entity reference is kept as written, never expanded.
    let r = parse_bytes(
        "ref.xml",
        "",
        b"<testsuite name=\"s\"><testcase name=\"a &lol9; b\"/></testsuite>",
    )
    .unwrap();
    assert_eq!(r.results[0].id.name, "a &lol9; b");
}

#[test]
fn large_system_out_is_skipped() {
    // 64 MB in-process is enough to prove the path; the 1 GB case runs the binary (ingest tests).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.xml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    f.write_all(b"<testsuite name=\"s\"><testcase name=\"big\"><system-out><![CDATA[")
        .unwrap();
    let chunk = "line of output with </system-ou and < & > characters\n".repeat(1000);
    for _ in 0..(64 * 1024 * 1024 / chunk.len()) {
        f.write_all(chunk.as_bytes()).unwrap();
    }
    f.write_all(b"]]></system-out><failure message=\"boom\"/></testcase><testcase name=\"after\"/></testsuite>")
        .unwrap();
    drop(f);
    let r = parse_file(&p, "").unwrap();
    assert_eq!(r.results.len(), 2);
    assert_eq!(r.results[0].final_outcome(), Outcome::Failed);
    assert_eq!(r.results[1].final_outcome(), Outcome::Passed);
}

/// A [`Tally`] (a record per test, what `gate` reads) folds every runner's report, and the odd
/// orders reruns come in, as merging every result does: the same totals, and the same tests
/// with a failed attempt, each with its attempts, final outcome, file and last failure message.
#[test]
fn a_tally_folds_every_report_as_merging_every_result_does() {
    let check = |what: &str, files: &[PathBuf]| {
        let mut tally = Tally::new("linux", 16);
        for f in files {
            tally.read_file(f).unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        let reports = files
            .iter()
            .map(|f| parse_file(f, "linux").unwrap_or_else(|e| panic!("{what}: {e}")));
        let merged = paved_junit::merge_reports(reports);
        assert_eq!(tally.finish(), Tallied::of(&merged.results), "{what}");
    };
    let names = [
        "dotnet.xml",
        "go-junit-report.xml",
        "gotestsum-rerun.xml",
        "gradle.xml",
        "jest-junit.xml",
        "nextest.xml",
        "playwright.xml",
        "pytest.xml",
        "rspec.xml",
        "surefire.xml",
    ];
    for name in names {
        check(name, &[fixture(name)]);
    }
    // Every fixture as one run's files: tests of one report and of another never mix.
    check("all", &names.map(fixture));
    // The orders reruns come in (pytest-rerunfailures under xdist, gotestsum, a rerun in a later
    // suite, a skip after a failure), and a rerun report of its own.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, xml: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, xml).unwrap();
        p
    };
    let interleaved = write(
        "interleaved.xml",
        r#"<testsuite name="pytest">
            <testcase classname="m" name="always"/>
            <testcase classname="m" name="flaky" file="m.py"/>
            <testcase classname="m" name="flaky"/>
            <testcase classname="m" name="always"/>
            <testcase classname="m" name="always"><failure message="boom"/></testcase>
            <testcase classname="m" name="late"><failure message="first"/></testcase>
            <testcase classname="m" name="late"><skipped/></testcase>
            <testcase classname="m" name="late"><failure message="second"/></testcase>
        </testsuite>"#,
    );
    let gotestsum = write(
        "gotestsum.xml",
        r#"<testsuites><testsuite name="pkg">
            <testcase classname="pkg" name="TestA"><failure message="timeout"/></testcase>
            <testcase classname="pkg" name="TestB"><failure message="500"/></testcase>
            <testcase classname="pkg" name="TestA"/>
            <testcase classname="pkg" name="TestB"/>
            <testcase classname="pkg" name="TestB"><error message="500"/></testcase>
            </testsuite>
            <testsuite name="s"><testcase classname="c" name="t"/></testsuite>
            <testsuite name="s"><testcase classname="c" name="t"><failure/></testcase>
              <testcase classname="c" name="u"><failure/></testcase>
              <testcase classname="c" name="u"><skipped/></testcase></testsuite>
        </testsuites>"#,
    );
    let rerun = write(
        "rerun.xml",
        r#"<testsuite name="pkg"><testcase classname="pkg" name="TestB" file="b_test.go"/>
            <testcase classname="pkg" name="TestNew"><failure message="new"/></testcase></testsuite>"#,
    );
    check("interleaved", std::slice::from_ref(&interleaved));
    check("gotestsum", std::slice::from_ref(&gotestsum));
    check("with a rerun report", &[gotestsum, interleaved, rerun]);
}
