//! The PostgreSQL store: the schema of the SQLite store, in PostgreSQL types.

use std::path::Path;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

use super::packed::{PackedReport, V1Row, digest, v1_reports};
use super::{HistoryBuilder, HistoryQuery, Ingested, SCHEMA_VERSION, parse_report};
use crate::error::{Error, Result};
use crate::model::{History, RunMeta, RunTotals, TestId};

const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        "CREATE TABLE keysets (
        id BIGSERIAL PRIMARY KEY,
        digest BIGINT NOT NULL,
        tests BIGINT NOT NULL,
        keys BYTEA NOT NULL
    );
    CREATE INDEX keysets_digest ON keysets (digest);
    CREATE TABLE reports (
        id BIGSERIAL PRIMARY KEY,
        run BIGINT NOT NULL REFERENCES runs (id),
        file TEXT NOT NULL,
        tests BIGINT NOT NULL,
        ran BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        flaky BIGINT NOT NULL,
        keyset BIGINT NOT NULL REFERENCES keysets (id),
        codes BYTEA NOT NULL,
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

fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

impl PgStore {
    pub fn open(url: &str) -> Result<PgStore> {
        let name = paved_core::redact::redact_url(url);
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
            if *version == 2 {
                pack_v1_results(&mut tx).map_err(err)?;
            }
            tx.execute(
                "INSERT INTO paved_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &super::now()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub fn watermark(&mut self, source: &str) -> Result<Option<i64>> {
        let row = self
            .client
            .query_opt(
                "SELECT run_id FROM collect_watermarks WHERE source = $1",
                &[&source],
            )
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(row.map(|r| r.get(0)))
    }

    pub fn raise_watermark(&mut self, source: &str, run_id: i64) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO collect_watermarks (source, run_id, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (source) DO UPDATE
                 SET run_id = GREATEST(collect_watermarks.run_id, excluded.run_id), updated_at = excluded.updated_at",
                &[&source, &run_id, &super::now()],
            )
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(())
    }

    pub fn record_run_url(&mut self, run_id: &str, attempt: u32, url: &str) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO collected_runs (run_id, attempt, url) VALUES ($1, $2, $3)
                 ON CONFLICT (run_id, attempt) DO UPDATE SET url = excluded.url",
                &[&run_id, &i64::from(attempt), &url],
            )
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(())
    }

    pub fn run_url(&mut self, run_id: &str, attempt: u32) -> Result<Option<String>> {
        let row = self
            .client
            .query_opt(
                "SELECT url FROM collected_runs WHERE run_id = $1 AND attempt = $2",
                &[&run_id, &i64::from(attempt)],
            )
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(row.map(|r| r.get(0)))
    }

    pub fn record_part(&mut self, part: &str, url: &str) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO collected_parts (part, url) VALUES ($1, $2)
                 ON CONFLICT (part) DO UPDATE SET url = excluded.url",
                &[&part, &url],
            )
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(())
    }

    pub fn has_part(&mut self, part: &str) -> Result<bool> {
        let row = self
            .client
            .query_opt("SELECT 1 FROM collected_parts WHERE part = $1", &[&part])
            .map_err(|e| Error::store(&self.name, e))?;
        Ok(row.is_some())
    }

    pub fn ingest_file(&mut self, meta: &RunMeta, path: &Path, key: &str) -> Result<Ingested> {
        // Parsed once, outside the transaction; only the writes are retried.
        let report = parse_report(path, &meta.variant)?;
        let mut tries = 0;
        loop {
            match self.try_ingest(meta, key, &report) {
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
        key: &str,
        report: &PackedReport,
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
        if insert_report(&mut tx, run, key, report)
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
        let name = self.name.clone();
        let err = |e: postgres::Error| Error::store(&name, e);
        let limit = q.window.map(|w| usize::try_from(w).unwrap_or(usize::MAX));
        let mut b = HistoryBuilder::default();
        let rows = self
            .client
            .query(
                "SELECT id, commit_sha, branch, run_id, attempt, variant, time FROM runs
                 WHERE ($1::TEXT IS NULL OR variant = $1) ORDER BY time DESC, id DESC",
                &[&q.variant],
            )
            .map_err(err)?;
        // Newest first, the branch rule applied before the window counts.
        let mut window = Vec::new();
        for r in rows {
            if limit.is_some_and(|l| window.len() >= l) {
                break;
            }
            let branch: String = r.get(2);
            if q.takes_branch(&branch) {
                window.push(r);
            }
        }
        let mut ids: Vec<i64> = Vec::new();
        for r in window.into_iter().rev() {
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
        // One report at a time, through portals: a window of large reports (each with its
        // failures' JSON, megabytes for a large suite) is never all in memory.
        let mut tx = self.client.transaction().map_err(err)?;
        // The tests that failed in the window, named (read before the packed columns).
        let failures = tx
            .bind(
                "SELECT failures FROM reports WHERE run = ANY($1) ORDER BY run, id",
                &[&ids],
            )
            .map_err(err)?;
        loop {
            let rows = tx.query_portal(&failures, 8).map_err(err)?;
            if rows.is_empty() {
                break;
            }
            for r in rows {
                b.failures(r.get(0))?;
            }
        }
        b.focus(&q.focus);
        let portal = tx
            .bind(
                "SELECT run, tests, ran, failed, flaky, keyset, codes FROM reports
                 WHERE run = ANY($1) ORDER BY run, id",
                &[&ids],
            )
            .map_err(err)?;
        loop {
            let rows = tx.query_portal(&portal, 8).map_err(err)?;
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let count = |i| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
                let totals = RunTotals {
                    tests: count(1),
                    ran: count(2),
                    failed: count(3),
                    flaky: count(4),
                };
                let keyset: i64 = r.get(5);
                if !b.has_keyset(keyset) {
                    let row = tx
                        .query_one("SELECT keys FROM keysets WHERE id = $1", &[&keyset])
                        .map_err(err)?;
                    b.keyset(keyset, row.get(0))?;
                }
                let codes: &[u8] = r.get(6);
                b.report(r.get(0), totals, keyset, codes)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(b.finish())
    }
}

/// Store `report` as file `file` of run `run`; `None` when that file is already stored.
fn insert_report(
    tx: &mut postgres::Transaction<'_>,
    run: i64,
    file: &str,
    report: &PackedReport,
) -> std::result::Result<Option<i64>, postgres::Error> {
    let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let t = &report.totals;
    // The same tests as an earlier report (the usual CI run): share its keys.
    let digest = digest(&report.keys);
    let tests = count(t.tests);
    let mut keyset = None;
    for r in tx.query(
        "SELECT id, keys FROM keysets WHERE digest = $1 AND tests = $2",
        &[&digest, &tests],
    )? {
        let keys: &[u8] = r.get(1);
        if keys == report.keys.as_slice() {
            keyset = Some(r.get::<_, i64>(0));
            break;
        }
    }
    let keyset: i64 = match keyset {
        Some(id) => id,
        None => tx
            .query_one(
                "INSERT INTO keysets (digest, tests, keys) VALUES ($1, $2, $3) RETURNING id",
                &[&digest, &tests, &report.keys],
            )?
            .get(0),
    };
    let row = tx.query_opt(
        "INSERT INTO reports (run, file, tests, ran, failed, flaky, keyset, codes, failures)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
        &[
            &run,
            &file,
            &count(t.tests),
            &count(t.ran),
            &count(t.failed),
            &count(t.flaky),
            &keyset,
            &report.codes,
            &report.failures_json.as_str(),
        ],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Migration 2 (see the SQLite store's): version-1 rows packed into reports.
fn pack_v1_results(tx: &mut postgres::Transaction<'_>) -> std::result::Result<(), postgres::Error> {
    let runs: Vec<i64> = tx
        .query("SELECT id FROM runs ORDER BY id", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for run in runs {
        let files: Vec<String> = tx
            .query(
                "SELECT file FROM ingested_files WHERE run = $1 ORDER BY ctid",
                &[&run],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows: Vec<V1Row> = tx
            .query(
                "SELECT r.test, r.outcome, r.attempts, r.any_failure, r.message,
                        t.suite, t.classname, t.name, t.variant, t.file
                 FROM results r JOIN tests t ON t.id = r.test WHERE r.run = $1",
                &[&run],
            )?
            .iter()
            .map(|r| {
                let outcome: i16 = r.get(1);
                let attempts: i32 = r.get(2);
                (
                    r.get::<_, i64>(0),
                    i64::from(outcome),
                    i64::from(attempts),
                    r.get::<_, bool>(3),
                    r.get::<_, Option<String>>(4),
                    TestId {
                        suite: r.get(5),
                        classname: r.get(6),
                        name: r.get(7),
                        variant: r.get(8),
                    },
                    r.get::<_, Option<String>>(9),
                )
            })
            .collect();
        for (file, report) in v1_reports(files, rows) {
            insert_report(tx, run, &file, &report)?;
        }
    }
    tx.batch_execute("DROP TABLE results; DROP TABLE ingested_files; DROP TABLE tests;")
}

enum Attempt {
    Retry(postgres::Error),
    Fail(Error),
}
