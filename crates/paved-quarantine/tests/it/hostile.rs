//! Inputs planted to make paved leak or act: a quarantine list that is a symbolic link.

use std::process::Command;

#[test]
fn a_symlinked_quarantine_list_is_refused_and_nothing_is_read_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("quarantine.toml");
    std::os::unix::fs::symlink("/proc/self/environ", &list).unwrap();
    let runs = [
        &["filter", "--runner", "pytest"][..],
        &["gate", "report.xml"],
        &["update", "--dry-run", "--stats", "stats.json"],
    ];
    std::fs::write(dir.path().join("stats.json"), "[]").unwrap();
    std::fs::write(
        dir.path().join("report.xml"),
        r#"<testsuite name="s"><testcase classname="c" name="t"><failure/></testcase></testsuite>"#,
    )
    .unwrap();
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .current_dir(dir.path())
            .args(args)
            .env("PAVED_TEST_SECRET", "s3cret-from-the-environment")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains("symbolic link"), "{args:?}: {stderr}");
        assert!(
            !stdout.contains("s3cret") && !stderr.contains("s3cret"),
            "{args:?} printed the environment"
        );
        assert!(list.symlink_metadata().unwrap().file_type().is_symlink());
    }
}

/// A password in a PostgreSQL store URL never reaches the terminal, in any of the places
/// libpq-style URLs carry one; and the database's error is printed once, as the cause.
#[test]
fn a_store_url_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.xml"),
        r#"<testsuite><testcase classname="c" name="t"/></testsuite>"#,
    )
    .unwrap();
    for store in [
        "postgres://alice@127.0.0.1:1/db?password=hunter2",
        "postgres://alice:hunter2@127.0.0.1:1/db",
        "postgresql://alice@127.0.0.1:1/db?sslmode=disable&password=hunter2",
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .args([
                "ingest", "--commit", "c1", "--run-id", "1", "--store", store, "r.xml",
            ])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{store}: {stderr}");
        assert!(
            stderr.contains("127.0.0.1:1"),
            "the store is still named: {stderr}"
        );
        if store.contains("sslmode") {
            insta::assert_snapshot!("store_password_redacted", stderr);
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\r', "&#13;")
        .replace('\n', "&#10;")
}

/// Test names, failure messages and captured output that try to talk to the Actions runner reach
/// every subcommand's log inert: flaky in one run and failing in the next, so `gate`, `analyze`,
/// `update`, `report` and `filter` all print them.
#[test]
fn test_names_and_messages_cannot_issue_workflow_commands() {
    use paved_testkit::actions::{HOSTILE_LINES, assert_no_injected_command};
    let dir = tempfile::tempdir().unwrap();
    let all = xml_escape(&HOSTILE_LINES.join("\n"));
    let mut flaky = String::from("<testsuites><testsuite name=\"s\">\n");
    let mut failing = flaky.clone();
    for (i, line) in HOSTILE_LINES.iter().enumerate() {
        let name = xml_escape(line);
        flaky.push_str(&format!(
            "<testcase classname=\"c{i}\" name=\"{name}\"><flakyFailure message=\"{all}\">{all}</flakyFailure><system-out>{all}</system-out></testcase>\n"
        ));
        failing.push_str(&format!(
            "<testcase classname=\"c{i}\" name=\"{name}\"><failure message=\"{all}\">{all}</failure><system-err>{all}</system-err></testcase>\n"
        ));
    }
    // A suite named like a command puts it at the start of every line that shows a test id.
    for doc in [&mut flaky, &mut failing] {
        doc.push_str("</testsuite><testsuite name=\"::add-mask::PWNED\">\n");
    }
    flaky.push_str(&format!(
        "<testcase classname=\"k\" name=\"t\"><flakyFailure message=\"{all}\"/></testcase>\n"
    ));
    failing.push_str(&format!(
        "<testcase classname=\"k\" name=\"t\"><failure message=\"{all}\"/></testcase>\n"
    ));
    for doc in [&mut flaky, &mut failing] {
        doc.push_str("</testsuite></testsuites>\n");
    }
    std::fs::write(dir.path().join("flaky.xml"), &flaky).unwrap();
    std::fs::write(dir.path().join("failing.xml"), &failing).unwrap();
    let outputs = dir.path().join("github-output");
    let summary = dir.path().join("step-summary");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .args(args)
            .current_dir(dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_no_injected_command(&stdout);
        assert_no_injected_command(&stderr);
        (out.status.code(), stdout, stderr)
    };
    for run_id in 1..=6 {
        let file = if run_id % 2 == 0 {
            "flaky.xml"
        } else {
            "failing.xml"
        };
        let (code, _, stderr) = run(&[
            "ingest",
            "--commit",
            "c1",
            "--run-id",
            &run_id.to_string(),
            "--store",
            "h.db",
            file,
        ]);
        assert_eq!(code, Some(0), "{stderr}");
    }
    let (code, _, stderr) = run(&["gate", "failing.xml"]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, stderr) = run(&["gate", "flaky.xml", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    for args in [
        &["analyze", "--store", "h.db"][..],
        &["analyze", "--store", "h.db", "--json"],
        &[
            "update",
            "--store",
            "h.db",
            "--dry-run",
            "--today",
            "2026-12-01",
        ],
        &["update", "--store", "h.db", "--today", "2026-12-01"],
        &["report", "--store", "h.db"],
        &["filter", "--runner", "pytest"],
        &["filter", "--runner", "jest", "--format", "lines"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert!(matches!(code, Some(0 | 1)), "{args:?}: {stderr}");
        let writes_a_file =
            args[0] == "report" || (args[0] == "update" && !args.contains(&"--dry-run"));
        if !writes_a_file {
            assert!(
                stdout.contains("PWNED"),
                "{args:?} printed the names: {stdout}"
            );
        }
    }
    let list = std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap();
    assert!(
        list.contains("::add-mask::PWNED"),
        "the list keeps the names: {list}"
    );
}

/// A 90-byte report whose entity is cut inside a multi-byte character once made `gate` and
/// `ingest` panic (exit 101); it is read as text.
#[test]
fn an_entity_cut_inside_a_multibyte_character_does_not_crash_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let report =
        "<testsuite><testcase classname=\"c\" name=\"&quot\u{20ac}\u{20ac}\u{20ac}\"/></testsuite>";
    std::fs::write(dir.path().join("r.xml"), report).unwrap();
    for args in [
        &["gate", "r.xml"][..],
        &[
            "ingest", "--commit", "c1", "--run-id", "1", "--store", "h.db", "r.xml",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
