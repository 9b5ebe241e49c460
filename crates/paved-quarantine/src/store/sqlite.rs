//! The SQLite store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{HistoryBuilder, HistoryQuery, Ingested, Row, SCHEMA_VERSION, parse_and_insert};
use crate::error::{Error, Result};
use crate::model::{History, RunMeta, TestId};

const MIGRATIONS: &[(i64, &str)] = &[(
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
)];

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
        // A page cache large enough that a big report's inserts do not thrash it (memory is only
        // used as pages are touched).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY;",
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
            tx.execute(
                "INSERT INTO paved_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, super::now()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn ingest_file(&mut self, meta: &RunMeta, path: &Path, key: &str) -> Result<Ingested> {
        let name = self.describe();
        let err = |e: rusqlite::Error| Error::store(&name, e);
        // A file already stored for this run is not parsed again (checked again under the lock).
        let done: Option<i64> = self
            .conn
            .query_row(
                "SELECT f.run FROM ingested_files f JOIN runs r ON r.id = f.run
                 WHERE r.run_id = ?1 AND r.attempt = ?2 AND r.variant = ?3 AND f.file = ?4",
                params![meta.run_id, meta.attempt, meta.variant, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if done.is_some() {
            return Ok(Ingested::AlreadyIngested);
        }
        // Tests already known need no insert: one scan of the keys instead of a B-tree probe per
        // test case (a steady CI history re-ingests the same tests every run). A test another
        // process adds meanwhile is inserted with `ON CONFLICT DO NOTHING`, so a stale set is
        // only slower, never wrong.
        let known: std::collections::HashSet<i64> = {
            let mut stmt = self.conn.prepare("SELECT id FROM tests").map_err(err)?;
            let keys = stmt.query_map([], |r| r.get::<_, i64>(0)).map_err(err)?;
            keys.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        // Parse before taking the write lock, so concurrent ingests wait only for each other's
        // inserts. The results are then inserted in key order: B-tree inserts in order touch each
        // page once instead of jumping across the whole tree per test (several times faster on a
        // million-test report). A stable sort keeps the attempts of a test reported twice in
        // document order.
        let mut pending: Vec<Pending> = Vec::new();
        let n = parse_and_insert(path, &meta.variant, |rows: Vec<Row>| {
            pending.reserve(rows.len());
            for row in rows {
                let is_new = !known.contains(&row.key);
                pending.push(Pending {
                    key: row.key,
                    outcome: row.outcome,
                    attempts: row.attempts,
                    any_failure: row.any_failure,
                    message: row.message,
                    test: is_new.then(|| Box::new((row.result.id, row.result.file))),
                });
            }
            Ok(())
        })?;
        drop(known);
        pending.sort_by_key(|p| p.key);

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
        let fresh = tx
            .execute(
                "INSERT INTO ingested_files (run, file, tests) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![run, key, n],
            )
            .map_err(err)?;
        if fresh == 0 {
            return Ok(Ingested::AlreadyIngested);
        }
        {
            let mut test_stmt = tx
                .prepare_cached(
                    "INSERT INTO tests (id, suite, classname, name, variant, file)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )
                .map_err(err)?;
            let mut result_stmt = tx
                .prepare_cached(
                    "INSERT INTO results (run, test, outcome, attempts, any_failure, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (run, test) DO UPDATE SET
                       outcome = excluded.outcome,
                       attempts = results.attempts + excluded.attempts,
                       any_failure = MAX(results.any_failure, excluded.any_failure),
                       message = COALESCE(results.message, excluded.message)",
                )
                .map_err(err)?;
            for p in pending {
                if let Some(test) = &p.test {
                    let (id, file) = &**test;
                    test_stmt
                        .execute(params![
                            p.key,
                            id.suite,
                            id.classname,
                            id.name,
                            id.variant,
                            file
                        ])
                        .map_err(err)?;
                }
                result_stmt
                    .execute(params![
                        run,
                        p.key,
                        p.outcome,
                        p.attempts,
                        p.any_failure,
                        p.message
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(Ingested::Stored { tests: n })
    }

    pub fn history(&mut self, q: &HistoryQuery) -> Result<History> {
        let err = self.err();
        let limit = q.window.map_or(-1, i64::from);
        let mut b = HistoryBuilder::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, commit_sha, branch, run_id, attempt, variant, time FROM (
                   SELECT * FROM runs
                   WHERE (?1 IS NULL OR branch = ?1) AND (?2 IS NULL OR variant = ?2)
                   ORDER BY time DESC, id DESC LIMIT ?3
                 ) ORDER BY time, id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(params![q.branch, q.variant, limit], |r| {
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
        let mut run_ids = Vec::new();
        for row in rows {
            let (id, meta) = row.map_err(&err)?;
            run_ids.push(id);
            b.run(id, meta);
        }
        let Some(&first) = run_ids.first() else {
            return Ok(b.finish());
        };
        // The window is contiguous in (time, id) order; select its results by run id set.
        let ids: Vec<String> = run_ids.iter().map(ToString::to_string).collect();
        let _ = first;
        let in_list = ids.join(",");
        let mut tests = self
            .conn
            .prepare(&format!(
                "SELECT DISTINCT t.id, t.suite, t.classname, t.name, t.variant, t.file
                 FROM tests t JOIN results r ON r.test = t.id WHERE r.run IN ({in_list})
                 ORDER BY t.suite, t.classname, t.name, t.variant"
            ))
            .map_err(&err)?;
        let rows = tests
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    TestId {
                        suite: r.get(1)?,
                        classname: r.get(2)?,
                        name: r.get(3)?,
                        variant: r.get(4)?,
                    },
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(&err)?;
        for row in rows {
            let (key, id, file) = row.map_err(&err)?;
            b.test(key, id, file);
        }
        let mut results = self
            .conn
            .prepare(&format!(
                "SELECT run, test, outcome, attempts, any_failure FROM results WHERE run IN ({in_list})"
            ))
            .map_err(&err)?;
        let rows = results
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .map_err(&err)?;
        for row in rows {
            let (run, test, outcome, attempts, any_failure) = row.map_err(&err)?;
            b.outcome(run, test, outcome, attempts, any_failure);
        }
        Ok(b.finish())
    }

    /// Rows in `results` (for tests and diagnostics).
    pub fn count_results(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(self.err())
    }
}

/// A result waiting to be inserted; `test` is set for tests the store does not know yet.
struct Pending {
    key: i64,
    outcome: i16,
    attempts: i32,
    any_failure: bool,
    message: Option<String>,
    test: Option<Box<(TestId, Option<String>)>>,
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
