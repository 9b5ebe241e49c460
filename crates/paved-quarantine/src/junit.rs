//! The streaming JUnit XML parser: one module for every runner's dialect, shared with paved-change.
//!
//! Not built yet. The API other crates rely on:
//! - [`parse_file`] → [`Report`] (the tests in one file, attempts folded per test);
//! - [`Summary::of`] → totals for evidence and summaries.

use std::path::Path;

use crate::model::TestResult;

/// The tests of one JUnit file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<TestResult>,
}

/// Totals over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
                crate::model::Outcome::Passed if r.passed_on_retry() => {
                    s.passed += 1;
                    s.flaky += 1;
                }
                crate::model::Outcome::Passed => s.passed += 1,
                crate::model::Outcome::Skipped => s.skipped += 1,
                _ => s.failed += 1,
            }
        }
        s
    }
}

/// Parse one JUnit XML file. `variant` is part of each test's identity.
pub fn parse_file(path: &Path, variant: &str) -> paved_core::Result<Report> {
    let _ = variant;
    Err(paved_core::Error::Usage(format!(
        "JUnit parsing is not built yet (`{}`)",
        path.display()
    )))
}
