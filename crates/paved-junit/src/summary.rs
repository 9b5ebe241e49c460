//! Totals over a set of results, for evidence bundles and summaries.

use serde::{Deserialize, Serialize};

use crate::model::{Outcome, TestResult};

/// Totals over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Passed after failing at least once.
    pub flaky: u64,
}

impl Summary {
    /// Count the final outcomes of `results`.
    pub fn of(results: &[TestResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.tests += 1;
            match r.final_outcome() {
                Outcome::Passed if r.passed_on_retry() => {
                    s.passed += 1;
                    s.flaky += 1;
                }
                Outcome::Passed => s.passed += 1,
                Outcome::Skipped => s.skipped += 1,
                _ => s.failed += 1,
            }
        }
        s
    }
}
