//! The history store: every ingested JUnit report, per run, queryable as a [`History`].
//!
//! - SQLite (the default, `.paved/quarantine.db`): WAL, a busy timeout; each file is parsed
//!   first, then stored in one `BEGIN IMMEDIATE` transaction, so concurrent `ingest` processes
//!   queue for the write lock (only while inserting) instead of failing.
//! - PostgreSQL (`--store postgres://…`): the same schema; migrations run under an advisory lock;
//!   a transaction that loses a deadlock is retried.
//!
//! # Schema (version 1)
//!
//! - `runs`: one row per (run_id, attempt, variant), with commit, branch and ingest time.
//! - `tests`: one row per test identity. The key is a stable 64-bit hash ([`test_key`]) of
//!   (suite, classname, name, variant), so ingest needs no lookup by string; the strings are
//!   stored alongside.
//! - `results`: (run, test) → final outcome, number of attempts, whether any attempt failed, the
//!   first failure message. A test reported twice in one run (a rerun report) adds attempts.
//! - `ingested_files`: (run, file): re-ingesting the same file for the same run is a no-op, so a
//!   retried CI step never double-counts.
//! - `paved_migrations`: applied schema versions.

mod pg;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::model::{History, Outcome, RunMeta, TestId, TestResult};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The default SQLite store, relative to the working directory.
pub const DEFAULT_PATH: &str = ".paved/quarantine.db";

/// What ingesting one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored this many test results.
    Stored { tests: u64 },
    /// This file was already ingested for this run; nothing changed.
    AlreadyIngested,
}

/// Which runs a history query covers.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// The most recent this many runs (all runs when `None`).
    pub window: Option<u32>,
    /// Only runs of this branch.
    pub branch: Option<String>,
    /// Only runs of this variant.
    pub variant: Option<String>,
}

/// An open store.
#[derive(Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(pg::PgStore),
}

impl Store {
    /// Open (and migrate) the store `spec`: `postgres://…`/`postgresql://…`, `sqlite:PATH`, or a
    /// file path. `None` means [`DEFAULT_PATH`].
    pub fn open(spec: Option<&str>) -> Result<Store> {
        let spec = spec.unwrap_or(DEFAULT_PATH);
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            return Ok(Store::Postgres(pg::PgStore::open(spec)?));
        }
        let path = PathBuf::from(spec.strip_prefix("sqlite:").unwrap_or(spec));
        Ok(Store::Sqlite(sqlite::SqliteStore::open(&path)?))
    }

    /// A name for messages (the path, or the URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.describe(),
            Store::Postgres(s) => s.describe(),
        }
    }

    /// Parse `path` and store its results under `meta`, all in one transaction: a file that
    /// fails to parse leaves the store as it was. `key` names the file for idempotency.
    pub fn ingest_file(&mut self, meta: &RunMeta, path: &Path, key: &str) -> Result<Ingested> {
        match self {
            Store::Sqlite(s) => s.ingest_file(meta, path, key),
            Store::Postgres(s) => s.ingest_file(meta, path, key),
        }
    }

    /// The stored history, runs oldest first.
    pub fn history(&mut self, q: &HistoryQuery) -> Result<History> {
        match self {
            Store::Sqlite(s) => s.history(q),
            Store::Postgres(s) => s.history(q),
        }
    }
}

/// The stable key of a test identity: a 64-bit hash of (suite, classname, name, variant),
/// stored as a signed integer for SQL. It is part of the store format: changing it needs a
/// migration. Eight bytes per step with a multiply-xorshift mix and a murmur3 finaliser per
/// part (a byte-at-a-time hash was a fifth of the ingest time on large reports).
pub fn test_key(id: &TestId) -> i64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn fmix(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    let mut h: u64 = 0x7061_7665_642d_7174;
    for part in [&id.suite, &id.classname, &id.name, &id.variant] {
        let bytes = part.as_bytes();
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h ^ v).wrapping_mul(K);
            h ^= h >> 32;
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
        // The length separates parts: ("ab", "c") and ("a", "bc") differ.
        h = fmix(h ^ (bytes.len() as u64));
    }
    h.cast_signed()
}

/// Outcome as stored.
pub(crate) fn outcome_code(o: Outcome) -> i16 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Error => 2,
        Outcome::Skipped => 3,
    }
}

pub(crate) fn outcome_of(code: i64) -> Outcome {
    match code {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Error,
        _ => Outcome::Skipped,
    }
}

/// A result reduced to what the store keeps.
pub(crate) struct Row {
    pub key: i64,
    pub result: TestResult,
    pub outcome: i16,
    pub attempts: i32,
    pub any_failure: bool,
    pub message: Option<String>,
}

impl Row {
    fn of(result: TestResult) -> Row {
        let any_failure = result.attempts.iter().any(|a| a.outcome.is_failure());
        let message = result
            .attempts
            .iter()
            .find(|a| a.outcome.is_failure())
            .and_then(|a| a.message.clone());
        Row {
            key: test_key(&result.id),
            outcome: outcome_code(result.final_outcome()),
            attempts: i32::try_from(result.attempts.len()).unwrap_or(i32::MAX),
            any_failure,
            message,
            result,
        }
    }
}

const BATCH: usize = 512;

/// Parse `path` on a second thread while `insert` stores batches on this one (ingest is
/// usually bound by both; two cores halve the time). A parse error wins over the insert's
/// "channel closed" and is returned; either error means the caller rolls back. Returns the
/// number of test results (a test reported twice in one suite counts once).
pub(crate) fn parse_and_insert(
    path: &Path,
    variant: &str,
    mut insert: impl FnMut(Vec<Row>) -> Result<()>,
) -> Result<u64> {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Row>>(8);
        let parser = scope.spawn(move || -> Result<u64> {
            let mut batch = Vec::with_capacity(BATCH);
            let mut n = 0u64;
            crate::junit::stream_file(path, variant, |r| {
                n += 1;
                batch.push(Row::of(r));
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The receiver only hangs up after an insert error, which is reported.
                    tx.send(full)
                        .map_err(|_| Error::Usage("ingest stopped".into()))?;
                }
                Ok::<(), Error>(())
            })?;
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            Ok(n)
        });
        let mut insert_result = Ok(());
        for batch in rx {
            insert_result = insert(batch);
            if insert_result.is_err() {
                break;
            }
        }
        let parsed = parser
            .join()
            .unwrap_or_else(|_| Err(Error::Usage("the JUnit parser panicked".into())));
        match (parsed, insert_result) {
            (Err(e), _) if !matches!(&e, Error::Usage(m) if m == "ingest stopped") => Err(e),
            (_, Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Ok(n), Ok(())) => Ok(n),
        }
    })
}

/// Assemble a [`History`] from rows ordered by run.
#[derive(Default)]
pub(crate) struct HistoryBuilder {
    history: History,
    tests: std::collections::HashMap<i64, usize>,
    runs: std::collections::HashMap<i64, usize>,
}

impl HistoryBuilder {
    pub fn run(&mut self, id: i64, meta: RunMeta) {
        self.runs.insert(id, self.history.runs.len());
        self.history.runs.push(meta);
    }

    pub fn test(&mut self, key: i64, id: TestId, file: Option<String>) {
        self.tests.insert(key, self.history.tests.len());
        self.history.tests.push(id);
        self.history.files.push(file);
    }

    pub fn outcome(&mut self, run: i64, test: i64, outcome: i64, attempts: i64, any_failure: bool) {
        let (Some(&run), Some(&test)) = (self.runs.get(&run), self.tests.get(&test)) else {
            return;
        };
        self.history.outcomes.push(crate::model::RunOutcome {
            run,
            test,
            outcome: outcome_of(outcome),
            attempts: u32::try_from(attempts).unwrap_or(0),
            any_failure,
        });
    }

    pub fn finish(mut self) -> History {
        self.history.outcomes.sort_by_key(|o| (o.run, o.test));
        self.history
    }
}

/// The current time, seconds since the epoch.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
