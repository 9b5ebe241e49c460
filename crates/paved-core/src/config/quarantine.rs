//! `[quarantine]`: settings for paved-quarantine.
//!
//! ```toml
//! [quarantine]
//! store = ".paved/quarantine.db"   # or "postgres://user@host/db"
//! list = "quarantine.toml"
//! window = 50                      # analyse the 50 most recent runs
//! branches = ["main", "gh-readonly-queue/main/*"]   # the runs verdicts come from
//! min-runs = 5
//! flaky-threshold = 0.02
//! infra-failure-ratio = 0.8
//! infra-min-tests = 5
//! release-threshold = 0.1
//! min-clean-runs = 35
//! expiry-days = 30
//! fail-on-expired = false
//! ```
//!
//! Every key is optional; the `QuarantineConfig::DEFAULT_*` constants are used for missing ones, and a
//! command-line flag (or its `PAVED_*` env twin) overrides the file.

use serde::Deserialize;

/// `[quarantine]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct QuarantineConfig {
    /// The history store: a SQLite path, or a `postgres://` URL (default `.paved/quarantine.db`).
    pub store: Option<String>,
    /// The reviewed quarantine list, relative to the repository root (default `quarantine.toml`).
    pub list: Option<String>,
    /// How many of the most recent runs `analyze`, `update` and `report` look at (default 50).
    pub window: Option<u32>,
    /// Only runs of this one branch are analysed (the older spelling of `branches = [B]`).
    pub branch: Option<String>,
    /// The branches whose runs verdicts come from: names, or patterns where `*` matches any
    /// characters (default: `main`, `master`, `$CI_DEFAULT_BRANCH` when set, their merge-queue
    /// branches `gh-readonly-queue/<branch>/*`, and runs ingested without a branch). Failures
    /// seen only on other branches (pull requests) never quarantine a test.
    pub branches: Option<Vec<String>>,
    /// Runs a test needs in the window before its failure rate alone can make it flaky
    /// (default 5). Same-commit flakes and retry-passes count from the first run.
    pub min_runs: Option<u32>,
    /// A test is flaky when the Wilson lower bound (95%) of its flaky-run rate exceeds this
    /// (default 0.02), or when it has a same-commit flake or a retry-pass.
    pub flaky_threshold: Option<f64>,
    /// A run in which more than this share of its tests failed is an infrastructure failure and
    /// is left out of the analysis (default 0.8).
    pub infra_failure_ratio: Option<f64>,
    /// The infrastructure guard applies only to runs with at least this many tests (default 5),
    /// so a run of a tiny suite with one real failure is not discarded.
    pub infra_min_tests: Option<u32>,
    /// `update` releases a quarantined test when the Wilson upper bound of its flaky-run rate is
    /// under this (default 0.1: after 35 clean runs the 95% Wilson upper bound is 0.099) ...
    pub release_threshold: Option<f64>,
    /// ... and it has at least this many clean runs in a row at the end of the window (default 35).
    pub min_clean_runs: Option<u32>,
    /// `update` gives a new entry an expiry this many days after it is added (default 30).
    pub expiry_days: Option<u32>,
    /// The owner `update` writes when CODEOWNERS names no one for the test's file
    /// (default `unassigned`).
    pub default_owner: Option<String>,
    /// `gate` fails (exit 1) when the list has expired entries, instead of warning (default false).
    pub fail_on_expired: Option<bool>,
}

impl QuarantineConfig {
    /// Default `window`: the most recent runs analysed.
    pub const DEFAULT_WINDOW: u32 = 50;
    /// Default `min-runs`.
    pub const DEFAULT_MIN_RUNS: u32 = 5;
    /// Default `flaky-threshold`.
    pub const DEFAULT_FLAKY_THRESHOLD: f64 = 0.02;
    /// Default `infra-failure-ratio`.
    pub const DEFAULT_INFRA_FAILURE_RATIO: f64 = 0.8;
    /// Default `infra-min-tests`.
    pub const DEFAULT_INFRA_MIN_TESTS: u32 = 5;
    /// Default `release-threshold`.
    pub const DEFAULT_RELEASE_THRESHOLD: f64 = 0.1;
    /// Default `min-clean-runs`.
    pub const DEFAULT_MIN_CLEAN_RUNS: u32 = 35;
    /// Default `expiry-days`.
    pub const DEFAULT_EXPIRY_DAYS: u32 = 30;
    /// Default `list`.
    pub const DEFAULT_LIST: &str = "quarantine.toml";

    /// Check value ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("flaky-threshold", self.flaky_threshold),
            ("infra-failure-ratio", self.infra_failure_ratio),
            ("release-threshold", self.release_threshold),
        ] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(format!(
                    "`[quarantine] {key}` is {v}; it is a rate between 0 and 1"
                ));
            }
        }
        if self.branch.is_some() && self.branches.is_some() {
            return Err(
                "`[quarantine] branch` and `branches` are both set; keep `branches` (a list) only"
                    .into(),
            );
        }
        if self.branches.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "`[quarantine] branches` is empty, so no run would count; name at least one branch (e.g. `[\"main\"]`)".into(),
            );
        }
        if self.window == Some(0) {
            return Err("`[quarantine] window` is 0; analyse at least one run".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PavedConfig;

    #[test]
    fn parses_and_validates() {
        let c = PavedConfig::parse(
            "[quarantine]\nwindow = 30\nflaky-threshold = 0.05\nfail-on-expired = true\nstore = \"postgres://db/x\"\n",
        )
        .unwrap();
        assert_eq!(c.quarantine.window, Some(30));
        assert_eq!(c.quarantine.fail_on_expired, Some(true));
        assert!(c.quarantine.validate().is_ok());
        let err = PavedConfig::parse("[quarantine]\nflaky-treshold = 0.05\n").unwrap_err();
        assert!(err.contains("flaky-treshold"), "{err}");
        let c = PavedConfig::parse(
            "[quarantine]\nbranches = [\"main\", \"gh-readonly-queue/main/*\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.quarantine.branches.as_deref().map(<[String]>::len),
            Some(2)
        );
        assert!(c.quarantine.validate().is_ok());
        let c = PavedConfig::parse("[quarantine]\nbranches = []\n").unwrap();
        assert!(
            c.quarantine
                .validate()
                .unwrap_err()
                .contains("`[quarantine] branches` is empty")
        );
        let c = PavedConfig::parse("[quarantine]\nrelease-threshold = 2.0\n").unwrap();
        assert!(
            c.quarantine
                .validate()
                .unwrap_err()
                .contains("release-threshold")
        );
    }
}
