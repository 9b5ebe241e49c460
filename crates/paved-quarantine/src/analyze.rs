//! `paved-quarantine analyze`: per-test figures over the recent history, and the verdict.
//!
//! For each test, over the runs in the window where it ran (skipped runs do not count):
//!
//! - `runs`, `failures` (final outcome failed or errored);
//! - `retry_passes`: runs where it failed and then passed on a retry;
//! - `same_commit_flakes`: commits at which it both passed and failed (in different runs);
//! - `flip_rate`: changes between failing and passing from one run to the next, over `runs - 1`;
//! - the Wilson score interval (95%) on the *flaky-run rate*: runs with any failed attempt
//!   (final failures plus retry-passes) over runs;
//! - `clean_streak`: runs in a row at the end of the window without any failed attempt.
//!
//! Verdicts, in this order (the README's "Verdicts" section says the same with examples):
//!
//! 1. **broken since `<commit>`**: the test failed (finally) on every run from some run on to the
//!    end of the window, and that streak is a change point, not bad luck:
//!    - it failed on every run of the window (it broke before the window began); or
//!    - the streak is at least [`BROKEN_MIN_RUNS`] runs long, and a streak that long has less than [`BREAK_CHANCE`] (1%) chance at the highest failure
//!      rate the runs before it allow (the upper 95% Wilson bound of their final failures).
//!      With 40 clean runs before it (upper bound 8.8%) two failing runs are a break; after 10
//!      clean runs (27.8%) it takes four; a test failing 4 of 40 runs before (23%) needs four.
//!
//!    A break is never quarantined: that would hide it. Its first failing commit and the last
//!    good one are named; when they are the same commit (a re-run of the last good commit
//!    failed, and everything after), the break came from outside the code, and is one still.
//! 2. **flaky**: evidence of nondeterminism: a pass and a fail at the same commit, a pass on a
//!    retry, or flips that one change point cannot explain (at least two changes between
//!    failing and passing, at least `min-runs` runs, and a Wilson lower bound on the flaky-run
//!    rate above `flaky-threshold`). A test that failed for a while and was fixed (one flip) is
//!    not flaky.
//! 3. **stable** otherwise.
//!
//! Only tests that failed at least once in the window are analysed one by one (plus, for
//! `update`, the quarantined ones, whose clean runs release them); the others are counted.
//!
//! Runs in which more than `infra-failure-ratio` of the tests failed (and which have at least
//! `infra-min-tests` tests) are discarded first: a dead database or runner is not a flake of
//! every test in the suite.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use paved_core::config::QuarantineConfig;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Break, History, Outcome, TestStats, Verdict};
use crate::store::{HistoryQuery, Store};

/// The z value for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The fewest failing runs at the end of the window that make a break, when the test passed
/// earlier in the window.
pub const BROKEN_MIN_RUNS: u32 = 2;

/// A failing streak is a break when a streak that long had less than this chance at the highest
/// failure rate the runs before it allow.
pub const BREAK_CHANCE: f64 = 0.01;

/// The thresholds `analyze` applies, from `[quarantine]` and flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub min_runs: u32,
    pub flaky_threshold: f64,
    pub infra_failure_ratio: f64,
    pub infra_min_tests: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_runs: QuarantineConfig::DEFAULT_MIN_RUNS,
            flaky_threshold: QuarantineConfig::DEFAULT_FLAKY_THRESHOLD,
            infra_failure_ratio: QuarantineConfig::DEFAULT_INFRA_FAILURE_RATIO,
            infra_min_tests: QuarantineConfig::DEFAULT_INFRA_MIN_TESTS,
        }
    }
}

impl Thresholds {
    /// From `[quarantine]`, defaults for missing keys.
    pub fn from_config(c: &QuarantineConfig) -> Thresholds {
        let d = Thresholds::default();
        Thresholds {
            min_runs: c.min_runs.unwrap_or(d.min_runs),
            flaky_threshold: c.flaky_threshold.unwrap_or(d.flaky_threshold),
            infra_failure_ratio: c.infra_failure_ratio.unwrap_or(d.infra_failure_ratio),
            infra_min_tests: c.infra_min_tests.unwrap_or(d.infra_min_tests),
        }
    }
}

/// The result of an analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Runs in the history.
    pub runs: usize,
    /// The branches (names or `*` patterns) whose runs were analysed; empty for every branch.
    /// An empty name stands for runs ingested without a branch.
    pub branches: Vec<String>,
    /// Indices into `History::runs` of runs discarded as infrastructure failures.
    pub discarded_runs: Vec<usize>,
    /// The most tests any analysed run had (every test, not only those below).
    pub tests_per_run: u64,
    /// The tests that failed at least once (and those the query followed): flaky first, then broken, then stable; within each, highest upper bound first.
    pub tests: Vec<TestStats>,
    /// Quarantine entries none of whose tests ran in the window (see [`not_observed`]).
    pub not_observed: Vec<NotObserved>,
}

/// A quarantine entry none of whose tests ran (passed or failed) in the analysed runs: skipped
/// by `filter`, renamed or deleted. No evidence either way, so it is neither released nor kept
/// in silence: `analyze` and `update` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotObserved {
    /// The list id, with ` (variant)` for a variant entry.
    pub id: String,
    pub owner: String,
    pub expires: jiff::civil::Date,
}

/// The entries of `list` that no test of `tests` (the analysed ones, which include every
/// quarantined test that ran) matches.
pub fn not_observed(list: &crate::list::QuarantineList, tests: &[TestStats]) -> Vec<NotObserved> {
    let mut seen = vec![false; list.len()];
    for t in tests.iter().filter(|t| t.runs > 0) {
        if let Some(i) = list.position(&t.id) {
            seen[i] = true;
        }
    }
    list.entries()
        .iter()
        .zip(seen)
        .filter(|(_, seen)| !seen)
        .map(|(e, _)| NotObserved {
            id: match &e.variant {
                Some(v) => format!("{} ({v})", e.id),
                None => e.id.clone(),
            },
            owner: e.owner.clone(),
            expires: e.expires,
        })
        .collect()
}

/// `not observed: `id` (owner o, expires d): …`, as `analyze` and `update` print it.
pub fn not_observed_text(n: &NotObserved) -> String {
    format!(
        "not observed: `{}` (owner {}, expires {}): quarantined, but no run of the window ran it; run it (the gate ignores its failures) so its results can release it, or remove the entry",
        n.id, n.owner, n.expires
    )
}

impl Analysis {
    /// Tests with this verdict.
    pub fn with(&self, v: Verdict) -> impl Iterator<Item = &TestStats> {
        self.tests.iter().filter(move |t| t.verdict == v)
    }
}

/// The Wilson score interval (95%) for `k` successes in `n` trials; `(0, 1)` when `n` is 0.
pub fn wilson(k: u32, n: u32) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = f64::from(n);
    let p = f64::from(k) / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = p + z2 / (2.0 * n);
    let margin = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (
        ((centre - margin) / denom).clamp(0.0, 1.0),
        ((centre + margin) / denom).clamp(0.0, 1.0),
    )
}

/// Indices of runs to discard as infrastructure failures.
pub fn infra_failures(history: &History, t: &Thresholds) -> Vec<usize> {
    history
        .run_totals()
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.ran >= u64::from(t.infra_min_tests)
                && r.ran > 0
                && r.failed as f64 / r.ran as f64 > t.infra_failure_ratio
        })
        .map(|(i, _)| i)
        .collect()
}

/// Analyse `history` (runs oldest first, as the store returns it).
pub fn analyze(history: &History, t: &Thresholds) -> Analysis {
    let discarded = infra_failures(history, t);
    let mut keep = vec![true; history.runs.len()];
    for &r in &discarded {
        keep[r] = false;
    }
    // Per test: its outcomes in run order.
    let mut per_test: Vec<Vec<&crate::model::RunOutcome>> = vec![Vec::new(); history.tests.len()];
    for o in &history.outcomes {
        if keep[o.run] && o.outcome != Outcome::Skipped {
            per_test[o.test].push(o);
        }
    }
    let mut tests = Vec::with_capacity(history.tests.len());
    for (i, outcomes) in per_test.iter_mut().enumerate() {
        if outcomes.is_empty() {
            continue;
        }
        outcomes.sort_by_key(|o| o.run);
        tests.push(stats_of(history, i, outcomes, t));
    }
    tests.sort_by(|a, b| {
        let rank = |v: Verdict| match v {
            Verdict::Flaky => 0,
            Verdict::Broken => 1,
            Verdict::Stable => 2,
        };
        rank(a.verdict)
            .cmp(&rank(b.verdict))
            .then(b.wilson_upper.total_cmp(&a.wilson_upper))
            .then_with(|| a.id.cmp(&b.id))
    });
    let tests_per_run = history
        .run_totals()
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(t, _)| t.tests)
        .max()
        .unwrap_or(0);
    Analysis {
        branches: Vec::new(),
        tests_per_run,
        runs: history.runs.len(),
        discarded_runs: discarded,
        tests,
        not_observed: Vec::new(),
    }
}

fn stats_of(
    history: &History,
    test: usize,
    outcomes: &[&crate::model::RunOutcome],
    t: &Thresholds,
) -> TestStats {
    let runs = u32::try_from(outcomes.len()).unwrap_or(u32::MAX);
    let failed = |o: &crate::model::RunOutcome| o.outcome.is_failure();
    let failures = u32::try_from(outcomes.iter().filter(|o| failed(o)).count()).unwrap_or(0);
    let retry_passes = u32::try_from(
        outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Passed && o.any_failure)
            .count(),
    )
    .unwrap_or(0);
    let flaky_runs = failures + retry_passes;
    let mut by_commit: HashMap<&str, (bool, bool)> = HashMap::new();
    for o in outcomes {
        let e = by_commit
            .entry(history.runs[o.run].commit.as_str())
            .or_default();
        if failed(o) {
            e.1 = true;
        } else {
            e.0 = true;
        }
    }
    let same_commit_flakes =
        u32::try_from(by_commit.values().filter(|(p, f)| *p && *f).count()).unwrap_or(0);
    let flips = outcomes
        .windows(2)
        .filter(|w| failed(w[0]) != failed(w[1]))
        .count();
    let flip_rate = if runs > 1 {
        flips as f64 / f64::from(runs - 1)
    } else {
        0.0
    };
    let clean_streak = u32::try_from(
        outcomes
            .iter()
            .rev()
            .take_while(|o| !o.any_failure && !failed(o))
            .count(),
    )
    .unwrap_or(0);
    let (wilson_lower, wilson_upper) = wilson(flaky_runs, runs);
    let broken = change_point(history, outcomes);
    let verdict = if broken.is_some() {
        Verdict::Broken
    } else if same_commit_flakes > 0
        || retry_passes > 0
        || (flips >= 2 && runs >= t.min_runs && wilson_lower > t.flaky_threshold)
    {
        Verdict::Flaky
    } else {
        Verdict::Stable
    };
    TestStats {
        id: history.tests[test].clone(),
        file: history.files.get(test).cloned().flatten(),
        runs,
        failures,
        same_commit_flakes,
        retry_passes,
        flip_rate,
        wilson_lower,
        wilson_upper,
        clean_streak,
        verdict,
        broken,
    }
}

/// The break at the end of `outcomes` (one test's runs, oldest first), if the failing runs
/// there are one (see the module docs).
fn change_point(history: &History, outcomes: &[&crate::model::RunOutcome]) -> Option<Break> {
    let failed = |o: &crate::model::RunOutcome| o.outcome.is_failure();
    let commit = |o: &crate::model::RunOutcome| history.runs[o.run].commit.as_str();
    let streak = outcomes.iter().rev().take_while(|o| failed(o)).count();
    if streak == 0 {
        return None;
    }
    let (before, failing) = outcomes.split_at(outcomes.len() - streak);
    let failing_runs = u32::try_from(streak).unwrap_or(u32::MAX);
    let since = commit(failing[0]).to_owned();
    let Some(last) = before.last() else {
        return Some(Break {
            since,
            last_good: None,
            failing_runs,
        });
    };
    if failing_runs < BROKEN_MIN_RUNS {
        return None;
    }
    let earlier_failures = before.iter().filter(|o| failed(o)).count();
    let (_, rate) = wilson(
        u32::try_from(earlier_failures).unwrap_or(u32::MAX),
        u32::try_from(before.len()).unwrap_or(u32::MAX),
    );
    if rate.powi(i32::try_from(streak).unwrap_or(i32::MAX)) >= BREAK_CHANCE {
        return None;
    }
    Some(Break {
        since,
        last_good: Some(commit(last).to_owned()),
        failing_runs,
    })
}

/// Arguments of `analyze`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyzeArgs {
    /// The history store: a SQLite file or a postgres:// URL [default: `[quarantine] store`, else .paved/quarantine.db].
    #[arg(long, env = "PAVED_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,

    /// Analyse the most recent N runs [default: `[quarantine] window`, else 50].
    #[arg(long, env = "PAVED_WINDOW", value_name = "N")]
    pub window: Option<u32>,

    /// Only runs of this one branch [default: the verdict branches: `[quarantine] branches`, else main, master and their merge queues].
    #[arg(long, env = "PAVED_BRANCH", value_name = "B")]
    pub branch: Option<String>,

    /// Only runs of this variant.
    #[arg(long, env = "PAVED_VARIANT", value_name = "V")]
    pub variant: Option<String>,

    /// Also list tests judged stable: those that failed in the window, and the quarantined ones
    /// (from `[quarantine] list`, else quarantine.toml), which are always analysed.
    #[arg(long, env = "PAVED_ALL", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub all: bool,

    /// Config file [default: paved.toml in the current directory].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the result as JSON on stdout.
    #[arg(long, env = "PAVED_JSON", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub json: bool,
}

/// Load config, query the store and analyse: what `analyze`, `update` and `report` share.
pub fn load(
    config: Option<&Path>,
    store: Option<&str>,
    window: Option<u32>,
    branch: Option<&str>,
    variant: Option<&str>,
    focus: &[crate::model::TestId],
) -> Result<(QuarantineConfig, History, Analysis)> {
    let (config, path) = paved_core::config::PavedConfig::load(config, Path::new("."))?;
    let q = config.quarantine;
    q.validate().map_err(|message| {
        Error::Core(paved_core::Error::Config {
            path: path.unwrap_or_else(|| PathBuf::from(paved_core::config::FILE_NAME)),
            message,
        })
    })?;
    let spec = store.map(str::to_owned).or_else(|| q.store.clone());
    let mut store = Store::open(spec.as_deref())?;
    let query = HistoryQuery {
        window: Some(
            window
                .or(q.window)
                .unwrap_or(QuarantineConfig::DEFAULT_WINDOW),
        ),
        branches: verdict_branches(branch, &q),
        variant: variant.map(str::to_owned),
        focus: focus.to_vec(),
    };
    if query.window == Some(0) {
        return Err(Error::Usage(
            "`--window 0` analyses nothing; use at least 1".into(),
        ));
    }
    let history = store.history(&query)?;
    let mut analysis = analyze(&history, &Thresholds::from_config(&q));
    analysis.branches = query.branches;
    Ok((q, history, analysis))
}

/// The branches whose runs decide: `--branch` alone when given, else `[quarantine] branches`
/// (or the older `branch`), else the default branches, their merge queues, and runs ingested
/// without a branch.
pub fn verdict_branches(flag: Option<&str>, q: &QuarantineConfig) -> Vec<String> {
    if let Some(b) = flag {
        return vec![b.to_owned()];
    }
    if let Some(b) = &q.branches {
        return b.clone();
    }
    if let Some(b) = &q.branch {
        return vec![b.clone()];
    }
    let mut names = vec!["main".to_owned(), "master".to_owned()];
    if let Ok(b) = std::env::var("CI_DEFAULT_BRANCH")
        && !b.is_empty()
        && !names.contains(&b)
    {
        names.push(b);
    }
    let queues: Vec<String> = names
        .iter()
        .map(|b| format!("gh-readonly-queue/{b}/*"))
        .collect();
    names.extend(queues);
    names.push(String::new());
    names
}

/// The list id and variant of a test, as shown to people.
pub fn display_id(id: &crate::model::TestId) -> String {
    let base = crate::list::format_id(id);
    if id.variant.is_empty() {
        base
    } else {
        format!("{base} ({})", id.variant)
    }
}

/// A plain-text table of `tests`.
pub fn table(analysis: &Analysis, all: bool) -> String {
    let rows: Vec<&TestStats> = analysis
        .tests
        .iter()
        .filter(|t| all || t.verdict != Verdict::Stable)
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} runs analysed, {} discarded as infrastructure failures, up to {} tests per run; {} flaky, {} broken, {} failed but stable",
        analysis.runs - analysis.discarded_runs.len(),
        analysis.discarded_runs.len(),
        analysis.tests_per_run,
        analysis.with(Verdict::Flaky).count(),
        analysis.with(Verdict::Broken).count(),
        analysis.with(Verdict::Stable).count(),
    );
    if !analysis.branches.is_empty() {
        let _ = writeln!(
            out,
            "verdicts from the runs of {}",
            branch_list(&analysis.branches)
        );
    }
    for n in &analysis.not_observed {
        let _ = writeln!(out, "{}", not_observed_text(n));
    }
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<7} {:>5} {:>5} {:>6} {:>6} {:>5} {:>13} {:>6}  test",
        "verdict", "runs", "fails", "commit", "retry", "flip", "wilson 95%", "clean"
    );
    for t in rows {
        let _ = writeln!(
            out,
            "{:<7} {:>5} {:>5} {:>6} {:>6} {:>5.2} {:>13} {:>6}  {}",
            verdict_name(t.verdict),
            t.runs,
            t.failures,
            t.same_commit_flakes,
            t.retry_passes,
            t.flip_rate,
            format!("{:.3}-{:.3}", t.wilson_lower, t.wilson_upper),
            t.clean_streak,
            display_id(&t.id)
        );
        if let Some(b) = &t.broken {
            let _ = writeln!(out, "        {}", break_text(b, short));
        }
    }
    out
}

/// `main`, `master` and runs without a branch: the branch rule as people read it.
fn branch_list(branches: &[String]) -> String {
    let mut names: Vec<String> = branches
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| format!("`{}`", b.replace('`', "'")))
        .collect();
    if branches.iter().any(String::is_empty) {
        names.push("runs ingested without a branch".into());
    }
    names.join(", ")
}

/// A commit as shown in tables: the first 12 characters of a hash.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// `broken since <commit> (N failing runs; last good <commit>)`, with commits through `show`.
pub fn break_text(b: &Break, show: impl Fn(&str) -> &str) -> String {
    let runs = if b.failing_runs == 1 { "run" } else { "runs" };
    match &b.last_good {
        Some(good) => format!(
            "broken since {}: failed on all {} {runs} from there on; last good {}",
            show(&b.since),
            b.failing_runs,
            show(good)
        ),
        None => format!(
            "broken since {} or earlier: failed on all {} {runs} of the window",
            show(&b.since),
            b.failing_runs
        ),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Flaky => "flaky",
        Verdict::Broken => "broken",
        Verdict::Stable => "stable",
    }
}

/// Markdown for the job summary.
pub fn markdown(analysis: &Analysis) -> String {
    let mut out = String::from("## Flaky-test analysis\n\n");
    let _ = writeln!(
        out,
        "{} runs analysed ({} discarded as infrastructure failures), up to {} tests per run: **{} flaky**, **{} broken**, {} failed but stable.\n",
        analysis.runs - analysis.discarded_runs.len(),
        analysis.discarded_runs.len(),
        analysis.tests_per_run,
        analysis.with(Verdict::Flaky).count(),
        analysis.with(Verdict::Broken).count(),
        analysis.with(Verdict::Stable).count(),
    );
    if !analysis.branches.is_empty() {
        let _ = writeln!(
            out,
            "Verdicts from the runs of {}; failures seen only on other branches never quarantine a test.\n",
            branch_list(&analysis.branches)
        );
    }
    let rows: Vec<&TestStats> = analysis
        .tests
        .iter()
        .filter(|t| t.verdict != Verdict::Stable)
        .collect();
    if rows.is_empty() {
        return out;
    }
    out.push_str("| verdict | test | runs | failures | same-commit flakes | retry-passes | flip rate | flaky-run rate (95%) |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for t in rows {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {:.2} | {:.1}%–{:.1}% |",
            verdict_name(t.verdict),
            display_id(&t.id).replace('|', "\\|").replace('`', "'"),
            t.runs,
            t.failures,
            t.same_commit_flakes,
            t.retry_passes,
            t.flip_rate,
            t.wilson_lower * 100.0,
            t.wilson_upper * 100.0
        );
    }
    let broken: Vec<&TestStats> = analysis.with(Verdict::Broken).collect();
    if !analysis.not_observed.is_empty() {
        out.push_str("\n### Quarantined but not observed\n\n");
        for n in &analysis.not_observed {
            let _ = writeln!(out, "- {}", not_observed_text(n).replace('|', "\\|"));
        }
    }
    if !broken.is_empty() {
        out.push_str("\n### Broken: real breaks, never quarantined\n\n");
        for t in broken {
            if let Some(b) = &t.broken {
                let _ = writeln!(
                    out,
                    "- `{}`: {}",
                    display_id(&t.id).replace('`', "'"),
                    break_text(b, short)
                );
            }
        }
    }
    out
}

/// Run `analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<u8> {
    // The quarantined tests are analysed even when they did not fail in the window: their
    // clean runs are what `update --stats` releases them on.
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let list_path = PathBuf::from(
        config
            .quarantine
            .list
            .as_deref()
            .unwrap_or(QuarantineConfig::DEFAULT_LIST),
    );
    let list = if list_path.is_file() {
        Some(crate::list::QuarantineList::load(&list_path)?)
    } else {
        None
    };
    let focus = list
        .as_ref()
        .map(crate::list::QuarantineList::focus)
        .unwrap_or_default();
    let (_, _, mut analysis) = load(
        args.config.as_deref(),
        args.store.as_deref(),
        args.window,
        args.branch.as_deref(),
        args.variant.as_deref(),
        &focus,
    )?;
    if let Some(list) = &list {
        analysis.not_observed = not_observed(list, &analysis.tests);
    }
    let sink = paved_core::ci::CiSink::from_env(None);
    for t in analysis.with(Verdict::Broken) {
        if let Some(b) = &t.broken {
            sink.annotate(&paved_core::ci::Annotation {
                level: Some(paved_core::ci::Level::Error),
                title: Some("test broken (not flaky)".into()),
                file: t.file.clone(),
                line: None,
                message: format!("{}: {}", display_id(&t.id), break_text(b, |c| c)),
            });
        }
    }
    sink.write_summary(&markdown(&analysis))?;
    let mut outputs = paved_core::ci::Outputs::new();
    outputs
        .set("flaky", analysis.with(Verdict::Flaky).count())
        .set("broken", analysis.with(Verdict::Broken).count());
    for w in sink.write_outputs(&outputs)? {
        paved_core::cli::warn(&w);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&analysis)
            .map_err(|e| Error::Usage(format!("could not encode the analysis: {e}")))?;
        paved_core::cli::print_stdout(&format!("{text}\n"))?;
    } else {
        paved_core::cli::print_stdout(&table(&analysis, args.all))?;
    }
    Ok(paved_core::exit::OK)
}
