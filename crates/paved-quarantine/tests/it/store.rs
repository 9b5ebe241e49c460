//! The history store through the real binary: idempotent re-ingest, transactions, and eight
//! concurrent `ingest` processes into SQLite and into a real PostgreSQL cluster.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paved_quarantine::store::{HistoryQuery, Store};

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
        "GITHUB_SHA",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
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

fn ingest(dir: &Path, store: &str, run: &str, files: &[PathBuf]) -> Output {
    bin()
        .current_dir(dir)
        .args([
            "ingest", "--store", store, "--commit", "abc123", "--branch", "main",
        ])
        .args(["--run-id", run])
        .args(files)
        .output()
        .unwrap()
}

fn all_fixtures() -> Vec<PathBuf> {
    [
        "surefire.xml",
        "nextest.xml",
        "pytest.xml",
        "jest-junit.xml",
        "gotestsum-rerun.xml",
    ]
    .iter()
    .map(|f| fixture(f))
    .collect()
}

/// Results per fixture set: 5 + 4 + 8 + 5 + 3.
const ROWS_PER_RUN: usize = 25;

fn count(store: &str) -> (usize, usize) {
    let mut s = Store::open(Some(store)).unwrap();
    let h = s.history(&HistoryQuery::default()).unwrap();
    // Every test of every run is counted in the per-run totals (outcomes hold only the tests
    // that failed somewhere).
    let tests: u64 = h.run_totals().iter().map(|t| t.tests).sum();
    (h.runs.len(), usize::try_from(tests).unwrap())
}

#[test]
fn reingest_is_idempotent_and_bad_files_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("q.db").display().to_string();
    let out = ingest(dir.path(), &store, "1", &all_fixtures());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&store), (1, ROWS_PER_RUN));
    // The same files for the same run again: nothing added.
    let out = ingest(dir.path(), &store, "1", &all_fixtures());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already ingested"));
    assert_eq!(count(&store), (1, ROWS_PER_RUN));

    // A truncated file between good ones: the good ones are stored, the bad one is named, exit 2.
    let bad = dir.path().join("truncated.xml");
    let text = std::fs::read_to_string(fixture("surefire.xml")).unwrap();
    std::fs::write(&bad, &text[..text.len() / 2]).unwrap();
    let out = ingest(
        dir.path(),
        &store,
        "2",
        &[fixture("pytest.xml"), bad.clone(), fixture("nextest.xml")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("truncated.xml") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert_eq!(count(&store), (2, ROWS_PER_RUN + 8 + 4));
    // Fixing the file and re-running the step stores it (the failed attempt left no marker).
    std::fs::write(&bad, &text).unwrap();
    let out = ingest(
        dir.path(),
        &store,
        "2",
        &[fixture("pytest.xml"), bad, fixture("nextest.xml")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&store), (2, ROWS_PER_RUN + 8 + 4 + 5));
}

#[test]
fn default_store_location_and_ci_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .env("GITHUB_SHA", "deadbeef")
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_RUN_ATTEMPT", "2")
        .env("GITHUB_REF_NAME", "main")
        .args(["ingest", "--json"])
        .arg(fixture("nextest.xml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run"]["commit"], "deadbeef");
    assert_eq!(json["run"]["run_id"], "77");
    assert_eq!(json["run"]["attempt"], 2);
    assert_eq!(json["tests"], 4);
    assert!(dir.path().join(".paved/quarantine.db").is_file());
    // Without CI variables or flags, the commit is asked for.
    let out = bin()
        .current_dir(dir.path())
        .arg("ingest")
        .arg(fixture("nextest.xml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--commit"));
}

fn concurrent(store: &str, dir: &Path) {
    let children: Vec<_> = (0..8)
        .map(|i| {
            bin()
                .current_dir(dir)
                .args([
                    "ingest", "--store", store, "--commit", "abc", "--branch", "main",
                ])
                .args(["--run-id", &format!("run-{i}")])
                .args(all_fixtures())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(count(store), (8, 8 * ROWS_PER_RUN));
}

#[test]
fn eight_concurrent_ingests_into_sqlite_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shared.db").display().to_string();
    concurrent(&store, dir.path());
}

#[test]
fn eight_concurrent_ingests_into_postgres_lose_nothing() {
    let pg = paved_testkit::postgres::Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    concurrent(&pg.url(), dir.path());
    // Re-ingest through PostgreSQL is idempotent too.
    let out = ingest(dir.path(), &pg.url(), "run-0", &all_fixtures());
    assert!(out.status.success());
    assert_eq!(count(&pg.url()), (8, 8 * ROWS_PER_RUN));
    // The same history from both stores.
    let sqlite = dir.path().join("same.db").display().to_string();
    ingest(dir.path(), &sqlite, "run-0", &all_fixtures());
    let mut a = Store::open(Some(&sqlite)).unwrap();
    let mut b = Store::open(Some(&pg.url())).unwrap();
    let q = HistoryQuery {
        window: Some(1),
        ..HistoryQuery::default()
    };
    let (ha, hb) = (a.history(&q).unwrap(), b.history(&q).unwrap());
    assert_eq!(ha.tests, hb.tests);
    assert_eq!(ha.outcomes.len(), hb.outcomes.len());
    assert_eq!(ha.run_totals(), hb.run_totals());

    // A database written by schema 1 (a row per run and test) is migrated with nothing lost.
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE legacy").unwrap();
    let legacy = pg.url().replace("/postgres", "/legacy");
    let mut old = postgres::Client::connect(&legacy, postgres::NoTls).unwrap();
    old.batch_execute(SCHEMA_1_POSTGRES).unwrap();
    old.batch_execute(
        "CREATE TABLE paved_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
         INSERT INTO paved_migrations VALUES (1, 0);
         INSERT INTO runs (id, run_id, attempt, variant, commit_sha, branch, time)
             VALUES (1, 'r1', 1, '', 'aaa', 'main', 100), (2, 'r2', 1, '', 'aaa', 'main', 200);
         INSERT INTO tests VALUES (11, 's', 'C', 'passes', '', NULL), (12, 's', 'C', 'flaky', '', 'a.py');
         INSERT INTO results VALUES (1, 11, 0, 1, false, NULL), (1, 12, 1, 1, true, 'boom'),
                                    (2, 11, 0, 1, false, NULL), (2, 12, 0, 2, true, NULL);
         INSERT INTO ingested_files VALUES (1, 'one.xml', 2), (2, 'one.xml', 2);",
    )
    .unwrap();
    drop(old);
    let mut migrated = Store::open(Some(&legacy)).unwrap();
    let h = migrated.history(&HistoryQuery::default()).unwrap();
    assert_eq!(h.runs.len(), 2);
    assert_eq!(h.tests.len(), 1, "{:?}", h.tests);
    assert_eq!(h.tests[0].name, "flaky");
    assert_eq!(h.files[0].as_deref(), Some("a.py"));
    assert_eq!(h.outcomes.len(), 2);
    assert!(h.outcomes.iter().all(|o| o.any_failure));
    let totals = h.run_totals();
    assert_eq!((totals[0].tests, totals[0].failed), (2, 1));
    assert_eq!((totals[1].tests, totals[1].flaky), (2, 1));
}

/// Schema 1 of the PostgreSQL store, as released: the starting point of the migration test.
const SCHEMA_1_POSTGRES: &str = "
    CREATE TABLE runs (
        id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, attempt BIGINT NOT NULL,
        variant TEXT NOT NULL, commit_sha TEXT NOT NULL, branch TEXT NOT NULL,
        time BIGINT NOT NULL, UNIQUE (run_id, attempt, variant)
    );
    CREATE TABLE tests (
        id BIGINT PRIMARY KEY, suite TEXT NOT NULL, classname TEXT NOT NULL, name TEXT NOT NULL,
        variant TEXT NOT NULL, file TEXT
    );
    CREATE TABLE results (
        run BIGINT NOT NULL REFERENCES runs (id), test BIGINT NOT NULL REFERENCES tests (id),
        outcome SMALLINT NOT NULL, attempts INTEGER NOT NULL, any_failure BOOLEAN NOT NULL,
        message TEXT, PRIMARY KEY (run, test)
    );
    CREATE TABLE ingested_files (
        run BIGINT NOT NULL REFERENCES runs (id), file TEXT NOT NULL, tests BIGINT NOT NULL,
        PRIMARY KEY (run, file)
    );
    CREATE INDEX runs_time ON runs (time, id);";

#[test]
fn test_keys_are_stable_and_separate_parts() {
    use paved_quarantine::model::TestId;
    let id = |s: &str, c: &str, n: &str, v: &str| TestId {
        suite: s.into(),
        classname: c.into(),
        name: n.into(),
        variant: v.into(),
    };
    let k = paved_quarantine::store::test_key;
    // The key is part of the store format: a change here needs a migration.
    insta::assert_snapshot!(
        k(&id(
            "pytest",
            "tests.test_app",
            "test_login[chrome]",
            "linux"
        ))
        .to_string()
    );
    assert_ne!(k(&id("ab", "c", "x", "")), k(&id("a", "bc", "x", "")));
    assert_ne!(k(&id("s", "c", "n", "")), k(&id("s", "c", "n", "linux")));
    let mut seen = std::collections::HashSet::new();
    for i in 0..200_000 {
        assert!(seen.insert(k(&id("s", "com.example.Class", &format!("test{i}"), ""))));
    }
}
