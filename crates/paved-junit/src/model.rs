//! What a JUnit report says, in paved's words: who a test is ([`TestId`]), what each attempt of
//! it did ([`Attempt`], [`Outcome`]), and its result in one report ([`TestResult`]).
//!
//! The parser produces these; paved-quarantine stores and analyses them, paved-change sums them
//! into its evidence.

use serde::{Deserialize, Serialize};

/// A test's identity: (suite, classname, name), normalised, plus the variant (an OS, a shard
/// layout, a database: anything under which the same test may behave differently).
///
/// Normalisation trims surrounding whitespace and collapses runs of internal whitespace, so that
/// the same test reported by two runner versions is one test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TestId {
    pub suite: String,
    pub classname: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// What one attempt of a test did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    /// An assertion failed (`<failure>`).
    Failed,
    /// The test could not run to completion (`<error>`).
    Error,
    Skipped,
}

impl Outcome {
    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// One attempt of a test within one report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub outcome: Outcome,
    /// The failure message's first line, when there was one (kept short: it is evidence, not a log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds, when the report says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
}

/// A test's result in one JUnit report (one CI run), with every attempt the runner made, in order.
/// Retries appear as several attempts (surefire `flakyFailure`/`rerunFailure`, nextest reruns,
/// gotestsum duplicates); a pytest call failure plus a teardown error is one failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: TestId,
    /// The source file, when the report names it (used for CODEOWNERS and annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub attempts: Vec<Attempt>,
}

impl TestResult {
    /// What the run finally decided: the outcome of the last attempt that ran (a skip after a
    /// failed attempt does not hide the failure), or skipped when no attempt ran. Attempts are in
    /// the order the runner made them, so a pass written before a failure (pytest-rerunfailures
    /// writes each rerun as an empty test case before the final one) never decides.
    pub fn final_outcome(&self) -> Outcome {
        self.attempts
            .iter()
            .rev()
            .map(|a| a.outcome)
            .find(|o| *o != Outcome::Skipped)
            .unwrap_or(Outcome::Skipped)
    }

    /// A pass that follows a failed attempt, and decides: a retry-pass.
    pub fn passed_on_retry(&self) -> bool {
        self.final_outcome() == Outcome::Passed
            && self.attempts.iter().any(|a| a.outcome.is_failure())
    }

    /// Failed on every attempt it made. Not what decides a run: a test whose final attempt failed
    /// failed, whatever came before (see [`TestResult::final_outcome`]).
    pub fn failed_every_attempt(&self) -> bool {
        !self.attempts.is_empty() && self.attempts.iter().all(|a| a.outcome.is_failure())
    }
}

/// The tests of one JUnit file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<TestResult>,
}
