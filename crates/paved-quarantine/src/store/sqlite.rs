//! The SQLite store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::packed::{PackedReport, V1Row, digest, v1_reports};
use super::{HistoryBuilder, HistoryQuery, Ingested, SCHEMA_VERSION, parse_report};
use crate::error::{Error, Result};
use crate::model::{History, RunMeta, RunTotals, TestId};

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        variant TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        branch TEXT NOT NULL,
        time INTEGER NOT NULL,
        UNIQUE (run_id, attempt, variant)
    );
    CREATE TABLE tests (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        classname TEXT NOT NULL,
        name TEXT NOT NULL,
        variant TEXT NOT NULL,
        file TEXT
    );
    CREATE TABLE results (
        run INTEGER NOT NULL REFERENCES runs (id),
        test INTEGER NOT NULL REFERENCES tests (id),
        outcome INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        any_failure INTEGER NOT NULL,
        message TEXT,
        PRIMARY KEY (run, test)
    ) WITHOUT ROWID;
    CREATE TABLE ingested_files (
        run INTEGER NOT NULL REFERENCES runs (id),
        file TEXT NOT NULL,
        tests INTEGER NOT NULL,
        PRIMARY KEY (run, file)
    );
    CREATE INDEX runs_time ON runs (time, id);",
    ),
    (
        2,
        "CREATE TABLE keysets (
        id INTEGER PRIMARY KEY,
        digest INTEGER NOT NULL,
        tests INTEGER NOT NULL,
        keys BLOB NOT NULL
    );
    CREATE INDEX keysets_digest ON keysets (digest);
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        run INTEGER NOT NULL REFERENCES runs (id),
        file TEXT NOT NULL,
        tests INTEGER NOT NULL,
        ran INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        flaky INTEGER NOT NULL,
        keyset INTEGER NOT NULL REFERENCES keysets (id),
        codes BLOB NOT NULL,
        failures TEXT NOT NULL,
        UNIQUE (run, file)
    );",
    ),
    (
        3,
        "CREATE TABLE collect_watermarks (
        source TEXT PRIMARY KEY,
        run_id BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE collected_runs (
        run_id TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        url TEXT NOT NULL,
        PRIMARY KEY (run_id, attempt)
    );",
    ),
    (
        4,
        "CREATE TABLE collected_parts (
        part TEXT PRIMARY KEY,
        url TEXT NOT NULL
    );",
    ),
];

/// A SQLite history store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Connection,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::store(&name, format!("could not create `{}`: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| Error::store(&name, e))?;
        let err = |e: rusqlite::Error| Error::store(&name, e);
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        // Large pages for a new database: a report is a few large values, which then take a
        // tenth of the pages (and page writes) that 4 KiB pages would. No effect on an existing
        // database.
        conn.execute_batch("PRAGMA page_size = 65536")
            .map_err(err)?;
        // Switching to WAL needs a moment of exclusive access; concurrent first opens retry.
        let mut tries = 0;
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(e) if tries < 100 && is_busy(&e) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(err(e)),
            }
        }
        // A small page cache (4 MiB): a report is a few large values, written and read once, so
        // a large cache only holds pages that are never looked at again; a small one is reused
        // as a big report's pages are written out, instead of faulting in fresh memory for each.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -4096; PRAGMA temp_store = MEMORY;",
        )
            .map_err(err)?;
        let mut store = SqliteStore {
            path: path.to_owned(),
            conn,
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| Error::store(&self.describe(), e)
    }

    fn migrate(&mut self) -> Result<()> {
        let name = self.describe();
        let err = |e: rusqlite::Error| Error::store(&name, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS paved_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(err)?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM paved_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if current > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                store: name.clone(),
                found: current,
                known: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.execute_batch(sql).map_err(err)?;
            if *version == 2 {
                pack_v1_results(&tx).map_err(err)?;
            }
            tx.execute(
                "INSERT INTO paved_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, super::now()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn watermark(&mut self, source: &str) -> Result<Option<i64>> {
        let name = self.describe();
        self.conn
            .query_row(
                "SELECT run_id FROM collect_watermarks WHERE source = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| Error::store(&name, e))
    }

    pub fn raise_watermark(&mut self, source: &str, run_id: i64) -> Result<()> {
        let name = self.describe();
        self.conn
            .execute(
                "INSERT INTO collect_watermarks (source, run_id, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source) DO UPDATE
                 SET run_id = max(collect_watermarks.run_id, excluded.run_id), updated_at = excluded.updated_at",
                params![source, run_id, super::now()],
            )
            .map_err(|e| Error::store(&name, e))?;
        Ok(())
    }

    pub fn record_run_url(&mut self, run_id: &str, attempt: u32, url: &str) -> Result<()> {
        let name = self.describe();
        self.conn
            .execute(
                "INSERT INTO collected_runs (run_id, attempt, url) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run_id, attempt) DO UPDATE SET url = excluded.url",
                params![run_id, attempt, url],
            )
            .map_err(|e| Error::store(&name, e))?;
        Ok(())
    }

    pub fn run_url(&mut self, run_id: &str, attempt: u32) -> Result<Option<String>> {
        let name = self.describe();
        self.conn
            .query_row(
                "SELECT url FROM collected_runs WHERE run_id = ?1 AND attempt = ?2",
                params![run_id, attempt],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| Error::store(&name, e))
    }

    pub fn record_part(&mut self, part: &str, url: &str) -> Result<()> {
        let name = self.describe();
        self.conn
            .execute(
                "INSERT INTO collected_parts (part, url) VALUES (?1, ?2)
                 ON CONFLICT (part) DO UPDATE SET url = excluded.url",
                params![part, url],
            )
            .map_err(|e| Error::store(&name, e))?;
        Ok(())
    }

    pub fn has_part(&mut self, part: &str) -> Result<bool> {
        let name = self.describe();
        self.conn
            .query_row(
                "SELECT 1 FROM collected_parts WHERE part = ?1",
                params![part],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| Error::store(&name, e))
    }

    pub fn ingest_file(&mut self, meta: &RunMeta, path: &Path, key: &str) -> Result<Ingested> {
        let name = self.describe();
        let err = |e: rusqlite::Error| Error::store(&name, e);
        // A file already stored for this run is not parsed again (checked again under the lock).
        let done: Option<i64> = self
            .conn
            .query_row(
                "SELECT f.id FROM reports f JOIN runs r ON r.id = f.run
                 WHERE r.run_id = ?1 AND r.attempt = ?2 AND r.variant = ?3 AND f.file = ?4",
                params![meta.run_id, meta.attempt, meta.variant, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if done.is_some() {
            return Ok(Ingested::AlreadyIngested);
        }
        // Parse before taking the write lock, so concurrent ingests wait only for each other's
        // (small) writes.
        let report = parse_report(path, &meta.variant)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let run: i64 = tx
            .query_row(
                "INSERT INTO runs (run_id, attempt, variant, commit_sha, branch, time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, attempt, variant) DO UPDATE SET commit_sha = runs.commit_sha
                 RETURNING id",
                params![
                    meta.run_id,
                    meta.attempt,
                    meta.variant,
                    meta.commit,
                    meta.branch,
                    meta.time
                ],
                |r| r.get(0),
            )
            .map_err(err)?;
        if insert_report(&tx, run, key, &report)
            .map_err(err)?
            .is_none()
        {
            return Ok(Ingested::AlreadyIngested);
        }
        tx.commit().map_err(err)?;
        Ok(Ingested::Stored {
            tests: report.totals.tests,
        })
    }

    pub fn history(&mut self, q: &HistoryQuery) -> Result<History> {
        let err = self.err();
        let limit = q.window.map_or(-1, i64::from);
        let mut b = HistoryBuilder::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, commit_sha, branch, run_id, attempt, variant, time FROM runs
                 WHERE (?1 IS NULL OR variant = ?1) ORDER BY time DESC, id DESC",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![q.variant], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    RunMeta {
                        commit: r.get(1)?,
                        branch: r.get(2)?,
                        run_id: r.get(3)?,
                        attempt: r.get(4)?,
                        variant: r.get(5)?,
                        time: r.get(6)?,
                    },
                ))
            })
            .map_err(&err)?;
        // Newest first, the branch rule applied before the window counts.
        let mut window = Vec::new();
        for row in rows {
            if usize::try_from(limit).is_ok_and(|l| window.len() >= l) {
                break;
            }
            let (id, meta) = row.map_err(&err)?;
            if q.takes_branch(&meta.branch) {
                window.push((id, meta));
            }
        }
        let mut run_ids = Vec::new();
        for (id, meta) in window.into_iter().rev() {
            run_ids.push(id);
            b.run(id, meta);
        }
        if run_ids.is_empty() {
            return Ok(b.finish());
        }
        let in_list = run_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // The tests that failed in the window, named (small: read before the packed columns).
        let mut failures = self
            .conn
            .prepare(&format!(
                "SELECT failures FROM reports WHERE run IN ({in_list}) ORDER BY run, id"
            ))
            .map_err(&err)?;
        let mut rows = failures.query([]).map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let json = r.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(&err)?;
            b.failures(json)?;
        }
        b.focus(&q.focus);
        let mut reports = self
            .conn
            .prepare(&format!(
                "SELECT run, tests, ran, failed, flaky, keyset, codes FROM reports
                 WHERE run IN ({in_list}) ORDER BY run, id"
            ))
            .map_err(&err)?;
        let mut rows = reports.query([]).map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let count = |i| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            let totals = RunTotals {
                tests: count(1).map_err(&err)?,
                ran: count(2).map_err(&err)?,
                failed: count(3).map_err(&err)?,
                flaky: count(4).map_err(&err)?,
            };
            let run: i64 = r.get(0).map_err(&err)?;
            let keyset: i64 = r.get(5).map_err(&err)?;
            if !b.has_keyset(keyset) {
                let keys: Vec<u8> = self
                    .conn
                    .query_row("SELECT keys FROM keysets WHERE id = ?1", [keyset], |r| {
                        r.get(0)
                    })
                    .map_err(&err)?;
                b.keyset(keyset, &keys)?;
            }
            let codes = r.get_ref(6).and_then(|v| Ok(v.as_blob()?)).map_err(&err)?;
            b.report(run, totals, keyset, codes)?;
        }
        Ok(b.finish())
    }

    /// Tests stored across every report (for tests and diagnostics).
    pub fn count_results(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(SUM(tests), 0) FROM reports", [], |r| {
                r.get(0)
            })
            .map_err(self.err())
    }
}

/// Store `report` as file `file` of run `run`; `None` when that file is already stored.
fn insert_report(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    file: &str,
    report: &PackedReport,
) -> rusqlite::Result<Option<i64>> {
    let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let t = &report.totals;
    // The same tests as an earlier report (the usual CI run): share its keys.
    let json = &report.failures_json;
    let digest = digest(&report.keys);
    let tests = count(t.tests);
    let mut keyset = None;
    {
        let mut stmt =
            tx.prepare_cached("SELECT id, keys FROM keysets WHERE digest = ?1 AND tests = ?2")?;
        let mut rows = stmt.query(params![digest, tests])?;
        while let Some(r) = rows.next()? {
            if r.get_ref(1)?.as_blob()? == report.keys.as_slice() {
                keyset = Some(r.get::<_, i64>(0)?);
                break;
            }
        }
    }
    let keyset = match keyset {
        Some(id) => id,
        None => {
            let id = tx.query_row(
                "INSERT INTO keysets (digest, tests, keys) VALUES (?1, ?2, ?3) RETURNING id",
                params![digest, tests, Room::of(&report.keys)],
                |r| r.get(0),
            )?;
            Room::fill(tx, "keysets", "keys", id, &report.keys)?;
            id
        }
    };
    let id = tx
        .query_row(
            "INSERT INTO reports (run, file, tests, ran, failed, flaky, keyset, codes, failures)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING RETURNING id",
            params![
                run,
                file,
                count(t.tests),
                count(t.ran),
                count(t.failed),
                count(t.flaky),
                keyset,
                Room::of(&report.codes),
                json
            ],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        Room::fill(tx, "reports", "codes", id, &report.codes)?;
    }
    Ok(id)
}

/// A large blob inserted as room (a zero blob) and then written in place through SQLite's
/// incremental blob I/O: SQLite copies a bound blob before writing it to its pages, which for a
/// million-test report is megabytes of fresh memory for nothing.
enum Room<'a> {
    Zeros(rusqlite::blob::ZeroBlob),
    /// Too large for a zero blob (which SQLite refuses anyway).
    Bytes(&'a [u8]),
}

impl<'a> Room<'a> {
    fn of(bytes: &'a [u8]) -> Room<'a> {
        match i32::try_from(bytes.len()) {
            Ok(len) => Room::Zeros(rusqlite::blob::ZeroBlob(len)),
            Err(_) => Room::Bytes(bytes),
        }
    }

    /// Write `bytes` into the room made by [`Room::of`] in row `id`.
    fn fill(
        tx: &rusqlite::Transaction<'_>,
        table: &str,
        column: &str,
        id: i64,
        bytes: &[u8],
    ) -> rusqlite::Result<()> {
        if bytes.is_empty() || i32::try_from(bytes.len()).is_err() {
            return Ok(());
        }
        let mut blob = tx.blob_open(rusqlite::MAIN_DB, table, column, id, false)?;
        blob.write_at(bytes, 0)
    }
}

impl rusqlite::ToSql for Room<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Room::Zeros(z) => z.to_sql(),
            Room::Bytes(b) => b.to_sql(),
        }
    }
}

/// Migration 2: each run's version-1 `results` rows become one report (named after the run's
/// first ingested file; its other files get empty reports, so they stay ingested), then the
/// version-1 tables go.
fn pack_v1_results(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let runs: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM runs ORDER BY id")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for run in runs {
        let files: Vec<String> = {
            let mut stmt =
                tx.prepare("SELECT file FROM ingested_files WHERE run = ?1 ORDER BY rowid")?;
            stmt.query_map([run], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let rows: Vec<V1Row> = {
            let mut stmt = tx.prepare(
                "SELECT r.test, r.outcome, r.attempts, r.any_failure, r.message,
                        t.suite, t.classname, t.name, t.variant, t.file
                 FROM results r JOIN tests t ON t.id = r.test WHERE r.run = ?1",
            )?;
            stmt.query_map([run], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    TestId {
                        suite: r.get(5)?,
                        classname: r.get(6)?,
                        name: r.get(7)?,
                        variant: r.get(8)?,
                    },
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        for (file, report) in v1_reports(files, rows) {
            insert_report(tx, run, &file, &report)?;
        }
    }
    tx.execute_batch("DROP TABLE results; DROP TABLE ingested_files; DROP TABLE tests;")
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    fn meta(run: &str) -> RunMeta {
        RunMeta {
            commit: "c0ffee".into(),
            branch: "main".into(),
            run_id: run.into(),
            attempt: 1,
            variant: String::new(),
            time: 1_700_000_000,
        }
    }

    /// A store written by schema 1 (a row per run and test) opens as schema 2 with every
    /// result, name and ingested file kept.
    #[test]
    fn a_version_1_store_is_migrated_without_losing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.execute_batch(
                "CREATE TABLE paved_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
                 INSERT INTO paved_migrations VALUES (1, 0);
                 INSERT INTO runs VALUES (1, 'r1', 1, '', 'aaa', 'main', 100), (2, 'r2', 1, '', 'bbb', 'main', 200);
                 INSERT INTO tests VALUES (11, 's', 'C', 'passes', '', NULL), (12, 's', 'C', 'flaky', '', 'a.py'), (13, 's', 'C', 'skips', '', NULL);
                 INSERT INTO results VALUES (1, 11, 0, 1, 0, NULL), (1, 12, 1, 1, 1, 'boom'),
                                            (2, 11, 0, 1, 0, NULL), (2, 12, 0, 2, 1, 'boom again'), (2, 13, 3, 1, 0, NULL);
                 INSERT INTO ingested_files VALUES (1, 'one.xml', 2), (1, 'two.xml', 0), (2, 'one.xml', 3);",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .conn
            .query_row("SELECT MAX(version) FROM paved_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let h = store.history(&HistoryQuery::default()).unwrap();
        assert_eq!(h.runs.len(), 2);
        let totals = h.run_totals();
        assert_eq!((totals[0].tests, totals[0].failed), (2, 1));
        assert_eq!((totals[1].tests, totals[1].ran, totals[1].flaky), (3, 2, 1));
        // The test that failed keeps its name and file, and both its runs.
        assert_eq!(h.tests.len(), 1);
        assert_eq!(h.tests[0].name, "flaky");
        assert_eq!(h.files[0].as_deref(), Some("a.py"));
        let outcomes: Vec<(Outcome, u32, bool)> = h
            .outcomes
            .iter()
            .map(|o| (o.outcome, o.attempts, o.any_failure))
            .collect();
        assert_eq!(
            outcomes,
            [(Outcome::Failed, 1, true), (Outcome::Passed, 2, true)]
        );
        // Files ingested before the migration stay ingested.
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/surefire.xml");
        assert_eq!(
            store.ingest_file(&meta("r1"), &fixture, "two.xml").unwrap(),
            Ingested::AlreadyIngested
        );
        // A second open migrates nothing again.
        drop(store);
        SqliteStore::open(&path).unwrap();
    }

    /// Runs of the same suite store their test keys once.
    #[test]
    fn reports_with_the_same_tests_share_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("q.db")).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit");
        for run in ["1", "2", "3"] {
            store
                .ingest_file(&meta(run), &fixtures.join("surefire.xml"), "surefire.xml")
                .unwrap();
        }
        store
            .ingest_file(&meta("4"), &fixtures.join("pytest.xml"), "pytest.xml")
            .unwrap();
        let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT COUNT(*) FROM reports"), 4);
        assert_eq!(count("SELECT COUNT(*) FROM keysets"), 2);
        let h = store.history(&HistoryQuery::default()).unwrap();
        assert_eq!(h.runs.len(), 4);
        assert!(h.run_totals().iter().all(|t| t.tests > 0));
    }
}
