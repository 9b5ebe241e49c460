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
