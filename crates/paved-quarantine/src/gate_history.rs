//! `gate --store`: what the history store knows about each failure of this run.
//!
//! The store's runs of the verdict branches (the default branch and `[quarantine] branches`,
//! as `analyze` reads them) are analysed by [`crate::analyze::load`], the same code and
//! thresholds as `analyze`, and each failure is one of:
//!
//! - **new**: not failing on those branches (it never failed in the window, or `analyze` calls
//!   it stable): most likely this change broke it;
//! - **quarantined (flaky)**: in the reviewed list (the gate did not count it);
//! - **flaky on the default branch, not quarantined yet**: `analyze` says flaky, and the next
//!   `update` will propose it;
//! - **broken on `<branch>` since `<commit>`**: `analyze`'s broken-since verdict; this change
//!   did not cause it.
//!
//! Without `--store` nothing is looked up and the gate says what it always said.

use serde::Serialize;

use crate::analyze::Analysis;
use crate::error::Result;
use crate::gate::{Decision, Finding};
use crate::model::{History, Verdict};

/// What the history says about one failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Known {
    /// Not failing on the verdict branches.
    New,
    /// In the quarantine list.
    Quarantined,
    /// Flaky on the verdict branches by `analyze`, not in the list yet.
    Flaky,
    /// Broken on the verdict branches from `since` on.
    Broken {
        /// The branch of the first failing run (empty: ingested without one).
        branch: String,
        since: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_good: Option<String>,
        failing_runs: u32,
    },
}

impl Known {
    /// As shown to people: `new`, `quarantined (flaky)`, `broken on `main` since abc123`.
    pub fn text(&self) -> String {
        match self {
            Known::New => "new (not failing on the default branch)".into(),
            Known::Quarantined => "quarantined (flaky)".into(),
            Known::Flaky => "flaky on the default branch (not quarantined yet)".into(),
            Known::Broken { branch, since, .. } => {
                let branch = if branch.is_empty() {
                    "the default branch".to_owned()
                } else {
                    format!("`{}`", branch.replace('`', "'"))
                };
                format!(
                    "broken on {branch} since {}",
                    since.get(..12).unwrap_or(since)
                )
            }
        }
    }
}

/// What `analysis` (of `history`) says about `f`, a failure the gate counted.
fn known(f: &Finding, history: &History, analysis: &Analysis) -> Known {
    let stats = analysis
        .tests
        .iter()
        .find(|t| t.id.variant == f.variant && crate::list::format_id(&t.id) == f.id);
    match stats {
        Some(t) if t.verdict == Verdict::Broken => match &t.broken {
            Some(b) => Known::Broken {
                branch: history
                    .runs
                    .iter()
                    .find(|r| r.commit == b.since)
                    .map(|r| r.branch.clone())
                    .unwrap_or_default(),
                since: b.since.clone(),
                last_good: b.last_good.clone(),
                failing_runs: b.failing_runs,
            },
            None => Known::New,
        },
        Some(t) if t.verdict == Verdict::Flaky => Known::Flaky,
        _ => Known::New,
    }
}

/// Mark each failure of `decision` with what the store `store` (or `[quarantine] store`) knows,
/// and say it on stderr. A store that cannot be read is a warning: the history explains the
/// decision, it does not make it, so the gate's exit code stays its own.
pub fn attach(
    decision: &mut Decision,
    config: Option<&std::path::Path>,
    store: Option<&str>,
    window: Option<u32>,
) {
    if let Err(e) = try_attach(decision, config, store, window) {
        // Each cause once, as `paved_core::cli::report` prints them.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        paved_core::cli::warn(&format!(
            "could not compare the failures with the history store: {text}; the gate decided without it"
        ));
    }
}

fn try_attach(
    decision: &mut Decision,
    config: Option<&std::path::Path>,
    store: Option<&str>,
    window: Option<u32>,
) -> Result<()> {
    let (_, history, analysis) = crate::analyze::load(config, store, window, None, None, &[])?;
    if history.runs.is_empty() {
        // An empty or new store (a wrong path creates one) would call every failure new.
        paved_core::cli::warn(&format!(
            "the history store `{}` has no runs of the default branch, so failures are not compared with it; check `--store`, or `collect`/`ingest` the default branch's runs first",
            store.unwrap_or("[quarantine] store")
        ));
        return Ok(());
    }
    for f in &mut decision.failed {
        let k = known(f, &history, &analysis);
        paved_core::cli::info(&format!(
            "`{}`{}: {}",
            f.id,
            if f.variant.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.variant)
            },
            k.text()
        ));
        f.history = Some(k);
    }
    for f in &mut decision.quarantined {
        f.history = Some(Known::Quarantined);
    }
    let new = decision
        .failed
        .iter()
        .filter(|f| f.history == Some(Known::New))
        .count();
    paved_core::cli::info(&format!(
        "{new} of {} failures are new against {} runs of the default branch",
        decision.failed.len(),
        analysis.runs - analysis.discarded_runs.len()
    ));
    Ok(())
}
