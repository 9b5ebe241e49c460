//! The history store: every ingested JUnit report, per run, queryable as a [`History`].
//!
//! - SQLite (the default, `.paved/quarantine.db`): WAL, a busy timeout; each file is parsed
//!   first, then stored in one `BEGIN IMMEDIATE` transaction, so concurrent `ingest` processes
//!   queue for the write lock (only while inserting) instead of failing.
//! - PostgreSQL (`--store postgres://…`): the same schema; migrations run under an advisory lock;
//!   a transaction that loses a deadlock is retried.
//!
//! # Schema (version 4)
//!
//! - `runs`: one row per (run_id, attempt, variant), with commit, branch and ingest time.
//! - `reports`: one row per ingested file of a run, `UNIQUE (run, file)` (re-ingesting the same
//!   file for the same run is a no-op, so a retried CI step never double-counts). It holds the
//!   report's counts, an outcome byte per test, its key set, and the tests that failed with their
//!   names and messages: see `store::packed`.
//! - `keysets`: the sorted test keys of a report, shared by every report with the same tests (a
//!   suite's runs mostly have the same tests, so a 1M-test history grows by about 1 MB a run,
//!   not 9).
//! - `collect_watermarks`: per source (forge, repository, branch), the newest CI run id whose
//!   artifacts `collect` has read in full (migration 3); older runs are not listed again.
//! - `collected_runs`: the web page of each (run_id, attempt) `collect` read in full, as the
//!   forge's API gave it (migration 3).
//! - `collected_parts`: each part of a run `collect` read in full (`github-artifact:<id>`,
//!   `gitlab-job:<id>`) with its web page (migration 4), so a re-run or a retried job reads only
//!   what is new in it.
//! - `paved_migrations`: applied schema versions. Version 1 kept a row per (run, test);
//!   migration 2 packs those rows (and names from its `tests` table) into `reports`.

pub(crate) mod packed;
mod pg;
mod sqlite;

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::{History, Outcome, RunMeta, RunOutcome, RunTotals, TestId};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

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
    /// Only runs of these branches (names or `*` patterns, see [`branch_matches`]); empty
    /// means every branch. The window counts only these runs.
    pub branches: Vec<String>,
    /// Only runs of this variant.
    pub variant: Option<String>,
    /// Tests to follow even if they never failed in the window (quarantined ones, to judge their
    /// release). An empty variant means every variant.
    pub focus: Vec<TestId>,
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

    /// The newest run id `collect` has read in full from `source` (see `collect_watermarks`).
    pub fn watermark(&mut self, source: &str) -> Result<Option<i64>> {
        match self {
            Store::Sqlite(s) => s.watermark(source),
            Store::Postgres(s) => s.watermark(source),
        }
    }

    /// Move the watermark of `source` up to `run_id` (never down).
    pub fn raise_watermark(&mut self, source: &str, run_id: i64) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.raise_watermark(source, run_id),
            Store::Postgres(s) => s.raise_watermark(source, run_id),
        }
    }

    /// Keep the web page of run `run_id` attempt `attempt`, as the forge's API named it.
    pub fn record_run_url(&mut self, run_id: &str, attempt: u32, url: &str) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.record_run_url(run_id, attempt, url),
            Store::Postgres(s) => s.record_run_url(run_id, attempt, url),
        }
    }

    /// Remember that `collect` read `part` (an artifact, a GitLab job) in full; `url` is its
    /// run's or job's web page.
    pub fn record_part(&mut self, part: &str, url: &str) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.record_part(part, url),
            Store::Postgres(s) => s.record_part(part, url),
        }
    }

    /// Whether `collect` read `part` in full before.
    pub fn has_part(&mut self, part: &str) -> Result<bool> {
        match self {
            Store::Sqlite(s) => s.has_part(part),
            Store::Postgres(s) => s.has_part(part),
        }
    }

    /// The web page `collect` recorded for run `run_id` attempt `attempt`.
    pub fn run_url(&mut self, run_id: &str, attempt: u32) -> Result<Option<String>> {
        match self {
            Store::Sqlite(s) => s.run_url(run_id, attempt),
            Store::Postgres(s) => s.run_url(run_id, attempt),
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

impl HistoryQuery {
    /// Whether runs of `branch` are in this query.
    pub fn takes_branch(&self, branch: &str) -> bool {
        self.branches.is_empty() || self.branches.iter().any(|p| branch_matches(p, branch))
    }
}

/// `pattern` against a branch name: `*` matches any run of characters (`/` included), anything
/// else itself.
pub fn branch_matches(pattern: &str, branch: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = branch.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The stable key of a test identity, as the store keeps it (defined in paved-junit, next to the
/// identity it hashes; part of the store format).
pub use paved_junit::test_key;

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

/// Parse one report for storing, on as many threads as the machine has (see
/// [`paved_junit::parallel`]).
pub(crate) fn parse_report(path: &Path, variant: &str) -> Result<packed::PackedReport> {
    let len = std::fs::metadata(path)
        .map_err(|source| paved_core::Error::Io {
            action: "read the JUnit report",
            path: path.to_owned(),
            source,
        })?
        .len();
    if len == 0 {
        return Err(paved_core::Error::BadFile {
            path: path.to_owned(),
            message:
                "the file is empty; expected a JUnit XML report (`<testsuites>` or `<testsuite>`). \
                      Did the test run crash before writing it?"
                    .into(),
        }
        .into());
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Room for a test case per 128 bytes of each piece is reserved (a generous guess: test cases
    // are rarely shorter; memory that is reserved but never written costs nothing).
    let expected = |bytes: u64| usize::try_from(bytes / 128).unwrap_or(0).min(1 << 26);
    let bits = packed::bucket_bits(expected(len));
    let (pieces, _) = paved_junit::parallel::parse(path, len, threads, |i, bytes| {
        packed::Collector::new(variant, i, expected(bytes), bits)
    })?;
    let report = packed::pack(&pieces);
    // Tens of megabytes for a large report: freed on another core while this one stores it.
    std::thread::spawn(move || drop(pieces));
    Ok(report)
}

/// A stored report being read: its keys (shared with other reports of the same tests), outcome
/// codes and totals.
type RunReport = (std::sync::Arc<Vec<u64>>, Vec<u8>, RunTotals);

/// Assembles a [`History`]: runs oldest first, then the tests to follow, then each run's
/// reports in the order they were stored.
#[derive(Default)]
pub(crate) struct HistoryBuilder {
    history: History,
    /// Test key → index into `history.tests`.
    tests: HashMap<i64, usize>,
    /// Run id → index into `history.runs`.
    runs: HashMap<i64, usize>,
    /// The keys followed, sorted (set when the first report arrives).
    focus: Vec<(u64, usize)>,
    /// The reports of the run being read: (run index, its reports).
    current: Option<(usize, Vec<RunReport>)>,
    /// The last key set read (runs of one suite mostly share one).
    keyset: Option<(i64, std::sync::Arc<Vec<u64>>)>,
}

impl HistoryBuilder {
    pub fn run(&mut self, id: i64, meta: RunMeta) {
        self.runs.insert(id, self.history.runs.len());
        self.history.runs.push(meta);
        self.history.totals.push(RunTotals::default());
    }

    /// The distinct variants of the runs added so far.
    pub fn variants(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .history
            .runs
            .iter()
            .map(|r| r.variant.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Follow the test `id` (stored under `key`).
    pub fn test(&mut self, key: i64, id: TestId, file: Option<String>) {
        if self.tests.contains_key(&key) {
            return;
        }
        self.tests.insert(key, self.history.tests.len());
        self.history.tests.push(id);
        self.history.files.push(file);
    }

    /// Follow the tests of a stored report's `failures` column.
    pub fn failures(&mut self, json: &str) -> Result<()> {
        let rows = packed::parse_failures(json).map_err(|e| {
            Error::Usage(format!(
                "a stored report's failures are damaged ({e}); re-ingest that run"
            ))
        })?;
        for f in rows {
            self.test(f.key, f.id, f.file);
        }
        Ok(())
    }

    /// Follow each test of `focus`, under every variant of the runs when its variant is empty.
    pub fn focus(&mut self, focus: &[TestId]) {
        let variants = self.variants();
        for id in focus {
            let of = |variant: &str| TestId {
                variant: variant.to_owned(),
                ..id.clone()
            };
            if id.variant.is_empty() {
                for v in &variants {
                    let id = of(v);
                    self.test(test_key(&id), id, None);
                }
            } else {
                self.test(test_key(id), id.clone(), None);
            }
        }
    }

    /// Key set `id` is the one read last (no need to read it again).
    pub fn has_keyset(&self, id: i64) -> bool {
        self.keyset.as_ref().is_some_and(|(k, _)| *k == id)
    }

    /// Key set `id`, as stored (little-endian u64s).
    pub fn keyset(&mut self, id: i64, bytes: &[u8]) -> Result<()> {
        let keys = packed::keys_from_bytes(bytes).ok_or_else(|| {
            Error::Usage(format!(
                "stored key set {id} is damaged (not a whole number of keys); re-create the store"
            ))
        })?;
        self.keyset = Some((id, std::sync::Arc::new(keys)));
        Ok(())
    }

    /// One stored report of run `run` (the store's run id), over key set `keyset` (read with
    /// [`HistoryBuilder::keyset`] first).
    pub fn report(&mut self, run: i64, totals: RunTotals, keyset: i64, codes: &[u8]) -> Result<()> {
        let Some(&run) = self.runs.get(&run) else {
            return Ok(());
        };
        let keys = match &self.keyset {
            Some((id, keys)) if *id == keyset && keys.len() == codes.len() => keys.clone(),
            _ => {
                return Err(Error::Usage(format!(
                    "a stored report of run `{}` is damaged (its keys and outcomes do not match); re-ingest that run",
                    self.history.runs[run].run_id
                )));
            }
        };
        if self.current.as_ref().is_some_and(|(r, _)| *r != run) {
            self.finish_run();
        }
        self.current
            .get_or_insert_with(|| (run, Vec::new()))
            .1
            .push((keys, codes.to_vec(), totals));
        Ok(())
    }

    fn finish_run(&mut self) {
        let Some((run, mut reports)) = self.current.take() else {
            return;
        };
        if self.focus.len() != self.tests.len() {
            self.focus = self
                .tests
                .iter()
                .map(|(&k, &i)| (k.cast_unsigned(), i))
                .collect();
            self.focus.sort_unstable();
        }
        let (keys, codes, totals) = if reports.len() == 1 {
            reports.pop().expect("one report")
        } else {
            let (keys, codes) = packed::merge_run(
                reports
                    .into_iter()
                    .map(|(k, c, _)| (k.as_ref().clone(), c))
                    .collect(),
            );
            let totals = packed::totals_of(&codes);
            (std::sync::Arc::new(keys), codes, totals)
        };
        self.history.totals[run] = totals;
        for &(key, test) in &self.focus {
            if let Ok(i) = keys.binary_search(&key) {
                let (outcome, attempts, any_failure) = packed::decode(codes[i]);
                self.history.outcomes.push(RunOutcome {
                    run,
                    test,
                    outcome,
                    attempts,
                    any_failure,
                });
            }
        }
    }

    pub fn finish(mut self) -> History {
        self.finish_run();
        self.history.outcomes.sort_by_key(|o| (o.run, o.test));
        self.history
    }
}

/// The current time, seconds since the epoch.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::branch_matches;

    #[test]
    fn branch_patterns() {
        assert!(branch_matches("main", "main"));
        assert!(!branch_matches("main", "main2"));
        assert!(!branch_matches("main", "feature/main"));
        assert!(branch_matches(
            "gh-readonly-queue/main/*",
            "gh-readonly-queue/main/pr-7-abc"
        ));
        assert!(!branch_matches(
            "gh-readonly-queue/main/*",
            "gh-readonly-queue/master/pr-7"
        ));
        assert!(branch_matches("release/*", "release/1.4/hotfix"));
        assert!(branch_matches("*-stable", "1.4-stable"));
        assert!(branch_matches("a*b*c", "a-b-b-c"));
        assert!(!branch_matches("a*bc", "abc-x"));
        assert!(!branch_matches("ab*ba", "aba"));
        assert!(branch_matches("", ""));
        assert!(!branch_matches("", "main"));
    }
}
