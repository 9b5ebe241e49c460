//! The PostgreSQL store: the schema of the SQLite store, in PostgreSQL types.

use std::path::Path;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

use super::{HistoryBuilder, HistoryQuery, Ingested, Row, SCHEMA_VERSION, parse_and_insert};
use crate::error::{Error, Result};
use crate::model::{History, RunMeta, TestId};

const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE runs (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        variant TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        branch TEXT NOT NULL,
        time BIGINT NOT NULL,
        UNIQUE (run_id, attempt, variant)
    );
    CREATE TABLE tests (
        id BIGINT PRIMARY KEY,
        suite TEXT NOT NULL,
        classname TEXT NOT NULL,
        name TEXT NOT NULL,
        variant TEXT NOT NULL,
        file TEXT
    );
    CREATE TABLE results (
        run BIGINT NOT NULL REFERENCES runs (id),
        test BIGINT NOT NULL REFERENCES tests (id),
        outcome SMALLINT NOT NULL,
        attempts INTEGER NOT NULL,
        any_failure BOOLEAN NOT NULL,
        message TEXT,
        PRIMARY KEY (run, test)
    );
    CREATE TABLE ingested_files (
        run BIGINT NOT NULL REFERENCES runs (id),
        file TEXT NOT NULL,
        tests BIGINT NOT NULL,
        PRIMARY KEY (run, file)
    );
    CREATE INDEX runs_time ON runs (time, id);",
)];

/// The advisory lock key that serialises migrations ("paved-q").
const MIGRATION_LOCK: i64 = 0x0070_6176_6564_2d71;

/// A PostgreSQL history store.
pub struct PgStore {
    name: String,
    client: Client,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("name", &self.name).finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

impl PgStore {
    pub fn open(url: &str) -> Result<PgStore> {
        let name = redact(url);
        let client = Client::connect(url, NoTls).map_err(|e| Error::store(&name, e))?;
        let mut store = PgStore { name, client };
        store.migrate()?;
        Ok(store)
    }

    pub fn describe(&self) -> String {
        self.name.clone()
    }

    fn migrate(&mut self) -> Result<()> {
        let name = self.name.clone();
        let err = |e: postgres::Error| Error::store(&name, e);
        let mut tx = self.client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS paved_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .map_err(err)?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM paved_migrations",
                &[],
            )
            .map_err(err)?
            .get(0);
        if current > SCHEMA_VERSION {
            return Err(Error::NewerSchema {
                store: name.clone(),
                found: current,
                known: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO paved_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &super::now()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn ingest_file(&mut self, meta: &RunMeta, path: &Path, key: &str) -> Result<Ingested> {
        let mut tries = 0;
        loop {
            match self.try_ingest(meta, path, key) {
                Err(Attempt::Retry(_)) if tries < 5 => tries += 1,
                Err(Attempt::Retry(e)) => return Err(Error::store(&self.name, e)),
                Err(Attempt::Fail(e)) => return Err(e),
                Ok(v) => return Ok(v),
            }
        }
    }

    fn try_ingest(
        &mut self,
        meta: &RunMeta,
        path: &Path,
        key: &str,
    ) -> std::result::Result<Ingested, Attempt> {
        let name = self.name.clone();
        let err = |e: postgres::Error| {
            if retryable(&e) {
                Attempt::Retry(e)
            } else {
                Attempt::Fail(Error::store(&name, e))
            }
        };
        let mut tx = self.client.transaction().map_err(err)?;
        let attempt = i64::from(meta.attempt);
        let run: i64 = tx
            .query_one(
                "INSERT INTO runs (run_id, attempt, variant, commit_sha, branch, time)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (run_id, attempt, variant) DO UPDATE SET commit_sha = runs.commit_sha
                 RETURNING id",
                &[
                    &meta.run_id,
                    &attempt,
                    &meta.variant,
                    &meta.commit,
                    &meta.branch,
                    &meta.time,
                ],
            )
            .map_err(err)?
            .get(0);
        let fresh = tx
            .execute(
                "INSERT INTO ingested_files (run, file, tests) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
                &[&run, &key],
            )
            .map_err(err)?;
        if fresh == 0 {
            return Ok(Ingested::AlreadyIngested);
        }
        let test_stmt = tx
            .prepare(
                "INSERT INTO tests (id, suite, classname, name, variant, file)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .map_err(err)?;
        let result_stmt = tx
            .prepare(
                "INSERT INTO results (run, test, outcome, attempts, any_failure, message)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (run, test) DO UPDATE SET
                   outcome = excluded.outcome,
                   attempts = results.attempts + excluded.attempts,
                   any_failure = results.any_failure OR excluded.any_failure,
                   message = COALESCE(results.message, excluded.message)",
            )
            .map_err(err)?;
        let mut retry = None;
        let parsed = parse_and_insert(path, &meta.variant, |rows: Vec<Row>| {
            for row in rows {
                let id = &row.result.id;
                let r = tx
                    .execute(
                        &test_stmt,
                        &[
                            &row.key,
                            &id.suite,
                            &id.classname,
                            &id.name,
                            &id.variant,
                            &row.result.file,
                        ],
                    )
                    .and_then(|_| {
                        tx.execute(
                            &result_stmt,
                            &[
                                &run,
                                &row.key,
                                &row.outcome,
                                &row.attempts,
                                &row.any_failure,
                                &row.message,
                            ],
                        )
                    });
                if let Err(e) = r {
                    let message = e.to_string();
                    if retryable(&e) {
                        retry = Some(e);
                    }
                    return Err(Error::store(&name, message));
                }
            }
            Ok(())
        });
        let n = match parsed {
            Ok(n) => n,
            Err(e) => {
                return Err(match retry {
                    Some(r) => Attempt::Retry(r),
                    None => Attempt::Fail(e),
                });
            }
        };
        let n_i64 = i64::try_from(n).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE ingested_files SET tests = $3 WHERE run = $1 AND file = $2",
            &[&run, &key, &n_i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Ingested::Stored { tests: n })
    }

    pub fn history(&mut self, q: &HistoryQuery) -> Result<History> {
        let name = self.name.clone();
        let err = |e: postgres::Error| Error::store(&name, e);
        let limit: Option<i64> = q.window.map(i64::from);
        let mut b = HistoryBuilder::default();
        let rows = self
            .client
            .query(
                "SELECT id, commit_sha, branch, run_id, attempt, variant, time FROM (
                   SELECT * FROM runs
                   WHERE ($1::TEXT IS NULL OR branch = $1) AND ($2::TEXT IS NULL OR variant = $2)
                   ORDER BY time DESC, id DESC LIMIT $3
                 ) w ORDER BY time, id",
                &[&q.branch, &q.variant, &limit],
            )
            .map_err(err)?;
        let mut ids: Vec<i64> = Vec::new();
        for r in rows {
            let id: i64 = r.get(0);
            let attempt: i64 = r.get(4);
            ids.push(id);
            b.run(
                id,
                RunMeta {
                    commit: r.get(1),
                    branch: r.get(2),
                    run_id: r.get(3),
                    attempt: u32::try_from(attempt).unwrap_or(0),
                    variant: r.get(5),
                    time: r.get(6),
                },
            );
        }
        if ids.is_empty() {
            return Ok(b.finish());
        }
        let rows = self
            .client
            .query(
                "SELECT DISTINCT t.id, t.suite, t.classname, t.name, t.variant, t.file
                 FROM tests t JOIN results r ON r.test = t.id WHERE r.run = ANY($1)
                 ORDER BY t.suite, t.classname, t.name, t.variant",
                &[&ids],
            )
            .map_err(err)?;
        for r in rows {
            b.test(
                r.get(0),
                TestId {
                    suite: r.get(1),
                    classname: r.get(2),
                    name: r.get(3),
                    variant: r.get(4),
                },
                r.get(5),
            );
        }
        let rows = self
            .client
            .query(
                "SELECT run, test, outcome, attempts, any_failure FROM results WHERE run = ANY($1)",
                &[&ids],
            )
            .map_err(err)?;
        for r in rows {
            let outcome: i16 = r.get(2);
            let attempts: i32 = r.get(3);
            b.outcome(
                r.get(0),
                r.get(1),
                i64::from(outcome),
                i64::from(attempts),
                r.get(4),
            );
        }
        Ok(b.finish())
    }
}

enum Attempt {
    Retry(postgres::Error),
    Fail(Error),
}
