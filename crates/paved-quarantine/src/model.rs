//! The vocabulary every part of paved-quarantine shares: who a test is, what happened to it in one
//! run, the history the store returns, and the per-test figures `analyze` derives.
//!
//! Who a test is and what its attempts did ([`TestId`], [`Outcome`], [`Attempt`],
//! [`TestResult`]) is paved-junit's vocabulary, re-exported here. The JUnit parser produces
//! [`TestResult`]s, the store keeps them per [`RunMeta`] and returns a
//! [`History`], `analyze` turns a history into [`TestStats`], and `update`, `gate`, `filter` and
//! `report` read those.

use serde::{Deserialize, Serialize};

pub use paved_junit::{Attempt, Outcome, TestId, TestResult};

/// Where a report came from: one CI run (attempt) at one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMeta {
    pub commit: String,
    pub branch: String,
    pub run_id: String,
    pub attempt: u32,
    pub variant: String,
    /// When the run was ingested, seconds since the Unix epoch (UTC).
    pub time: i64,
}

/// A test's final outcome in one stored run, as the store returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Index into [`History::runs`].
    pub run: usize,
    /// Index into [`History::tests`].
    pub test: usize,
    pub outcome: Outcome,
    /// Number of attempts; more than one with a final pass is a retry-pass.
    pub attempts: u32,
    /// At least one attempt failed.
    pub any_failure: bool,
}

/// Counts over the final outcomes of every test in one run (or one report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTotals {
    /// Distinct tests.
    pub tests: u64,
    /// Not skipped.
    pub ran: u64,
    /// Final outcome a failure.
    pub failed: u64,
    /// Passed after a failed attempt.
    pub flaky: u64,
}

/// What the store returns for analysis: runs oldest first, the tests worth a look, and their
/// outcomes.
///
/// `tests` holds the tests that failed at least once in these runs, and the tests asked for by
/// [`HistoryQuery::focus`](crate::store::HistoryQuery::focus) (quarantined ones, to judge their
/// release); a test that passed every time is only counted, in `totals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub runs: Vec<RunMeta>,
    /// Counts over every test of each run, parallel to `runs` (empty in histories written
    /// before they existed: see [`History::run_totals`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<RunTotals>,
    pub tests: Vec<TestId>,
    /// The source file of each test when known, parallel to `tests`.
    pub files: Vec<Option<String>>,
    pub outcomes: Vec<RunOutcome>,
}

impl History {
    /// Counts per run: `totals` when present, else counted from `outcomes`.
    pub fn run_totals(&self) -> Vec<RunTotals> {
        if self.totals.len() == self.runs.len() {
            return self.totals.clone();
        }
        let mut totals = vec![RunTotals::default(); self.runs.len()];
        for o in &self.outcomes {
            let Some(t) = totals.get_mut(o.run) else {
                continue;
            };
            t.tests += 1;
            if o.outcome != Outcome::Skipped {
                t.ran += 1;
            }
            if o.outcome.is_failure() {
                t.failed += 1;
            } else if o.outcome == Outcome::Passed && o.any_failure {
                t.flaky += 1;
            }
        }
        totals
    }
}

/// How `analyze` classifies a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No failures worth acting on.
    Stable,
    /// Fails some of the time with the code unchanged: a quarantine candidate.
    Flaky,
    /// Fails on every run from a change point on (see [`Break`]): a real break, not a flake.
    Broken,
}

/// Where a broken test broke: the runs at the end of the window that all failed, and the
/// commits either side of the change point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Break {
    /// The commit of the first run of the failing streak.
    pub since: String,
    /// The commit of the last run before it that did not fail; `None` when the test failed on
    /// every run of the window (it broke before the window began).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good: Option<String>,
    /// Runs in the failing streak.
    pub failing_runs: u32,
}

/// Per-test figures over the analysed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestStats {
    pub id: TestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub runs: u32,
    /// Runs whose final outcome was a failure.
    pub failures: u32,
    /// Commits at which this test both passed and failed.
    pub same_commit_flakes: u32,
    /// Runs where it failed and then passed on a retry.
    pub retry_passes: u32,
    /// Outcome changes between consecutive runs, over (runs - 1).
    pub flip_rate: f64,
    /// Wilson score interval (95%) on the failure rate.
    pub wilson_lower: f64,
    pub wilson_upper: f64,
    /// Consecutive clean runs at the end of the window.
    pub clean_streak: u32,
    pub verdict: Verdict,
    /// For a broken test: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<Break>,
}
