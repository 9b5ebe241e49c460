//! `paved-quarantine update`: add newly flaky tests to `quarantine.toml` and release the ones
//! that are stable again.
//!
//! - **Add**: a test whose verdict is [`Verdict::Flaky`] and that no entry covers gets an entry
//!   for its variant, with the evidence as the reason, the owner from CODEOWNERS (by the test's
//!   file: the report's `file` attribute, else the file [`crate::source`] finds in the
//!   repository; `[quarantine] default-owner` otherwise), and `expires = added + expiry-days`.
//!   Subtests: a flaky parent whose failures its subtests explain (see
//!   [`failed_through_subtests`]) is not added; the leaves that failed are. A parent already
//!   listed next to its failing subtests (all quarantined) is released for the same reason.
//! - **Release**: an entry is removed when every test it covers has had at least
//!   `min-clean-runs` consecutive clean runs at the end of the window *and* the Wilson upper
//!   bound on its flaky-run rate (runs with any failed attempt) is under `release-threshold`. An
//!   entry with no runs in the window is kept (no evidence is not evidence of stability) and
//!   reported as **not observed**: quarantined tests are meant to keep running under the gate.
//! - `--open-issues` opens an issue per added test (recording its URL in the entry) and closes
//!   the entry's issue with a comment when it is released.
//! - `--propose` leaves the checkout alone and keeps one pull request / merge request with the
//!   change and the evidence instead, closing it when there is nothing to change (see
//!   [`crate::propose`]).
//!
//! The figures come from the history store, analysed as `analyze` does (`--store`, `--window`,
//! `--branch`), or from `--stats FILE` (the output of `analyze --json`).
//!
//! The file is edited in place through `toml_edit`, so comments and ordering are kept, and
//! written atomically. `--dry-run` prints the diff and writes nothing.

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use paved_core::config::{PavedConfig, QuarantineConfig};
use paved_core::{Error, Result};
use paved_forge::ForgeKind;
use paved_forge::issues::{IssueSpec, IssueTracker};

use crate::codeowners::CodeOwners;
use crate::list::{IdParts, QuarantineEntry, QuarantineList, format_id};
use crate::model::{History, TestStats, Verdict};

/// Default of `[quarantine] release-threshold`.
pub const DEFAULT_RELEASE_THRESHOLD: f64 = QuarantineConfig::DEFAULT_RELEASE_THRESHOLD;
/// Default of `[quarantine] min-clean-runs`.
pub const DEFAULT_MIN_CLEAN_RUNS: u32 = QuarantineConfig::DEFAULT_MIN_CLEAN_RUNS;
/// Default of `[quarantine] expiry-days`.
pub const DEFAULT_EXPIRY_DAYS: u32 = QuarantineConfig::DEFAULT_EXPIRY_DAYS;
/// Default of `[quarantine] default-owner`.
pub const DEFAULT_OWNER: &str = "unassigned";
/// Default of `[quarantine] list`.
pub const DEFAULT_LIST: &str = QuarantineConfig::DEFAULT_LIST;
/// The label put on issues paved opens.
pub const ISSUE_LABEL: &str = "flaky-test";

/// Where the list and config are: shared by `update`, `filter` and `report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListLocation {
    /// The quarantine list [default: `[quarantine] list`, else quarantine.toml at the repository root].
    #[arg(long, env = "PAVED_LIST", value_name = "FILE")]
    pub list: Option<PathBuf>,

    /// The repository root (CODEOWNERS, paved.toml and the default list are looked up there).
    #[arg(
        short = 'C',
        long = "repo",
        env = "PAVED_REPO",
        value_name = "DIR",
        default_value = "."
    )]
    pub repo: PathBuf,

    /// Config file [default: paved.toml at the repository root].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ListLocation {
    /// The `[quarantine]` config and the list path (flag > env > config > default).
    pub fn resolve(&self) -> Result<(QuarantineConfig, PathBuf)> {
        let (config, _) = PavedConfig::load(self.config.as_deref(), &self.repo)?;
        let config = config.quarantine;
        let in_repo = |p: &str| {
            if self.repo == Path::new(".") {
                PathBuf::from(p)
            } else {
                self.repo.join(p)
            }
        };
        let path = match (&self.list, &config.list) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => in_repo(p),
            (None, None) => in_repo(DEFAULT_LIST),
        };
        Ok((config, path))
    }
}

/// Which history to analyse: shared by `update` and `report`.
#[derive(Debug, Clone, clap::Args)]
pub struct HistorySource {
    /// The history store: a SQLite path or a `postgres://` URL [default: `[quarantine] store`, else .paved/quarantine.db].
    #[arg(long, env = "PAVED_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,

    /// Analyse the most recent N runs [default: `[quarantine] window`, else 50].
    #[arg(long, env = "PAVED_WINDOW", value_name = "N")]
    pub window: Option<u32>,

    /// Only runs of this one branch [default: the verdict branches: `[quarantine] branches`, else main, master and their merge queues].
    #[arg(long, env = "PAVED_BRANCH", value_name = "B")]
    pub branch: Option<String>,
}

impl HistorySource {
    /// Query the store and analyse it (what `analyze` does), following the tests of `focus`
    /// even where they never failed.
    pub fn load(
        &self,
        config: Option<&Path>,
        focus: &[crate::model::TestId],
    ) -> crate::error::Result<(History, crate::analyze::Analysis)> {
        let (_, history, analysis) = crate::analyze::load(
            config,
            self.store.as_deref(),
            self.window,
            self.branch.as_deref(),
            None,
            focus,
        )?;
        Ok((history, analysis))
    }
}

/// Arguments of `update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub location: ListLocation,

    /// Per-test figures as JSON (the output of `analyze --json`) instead of analysing the store.
    #[arg(long, env = "PAVED_STATS", value_name = "FILE")]
    pub stats: Option<PathBuf>,

    #[command(flatten)]
    pub history: HistorySource,

    /// Show the change to the list as a diff on stdout and write nothing.
    #[arg(long, env = "PAVED_DRY_RUN", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub dry_run: bool,

    /// Open an issue for each newly quarantined test and close it when the test is released.
    #[arg(long, env = "PAVED_OPEN_ISSUES", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub open_issues: bool,

    /// Propose the change as one pull request (GitHub) or merge request (GitLab) on `--propose-branch`, updated by later runs and closed when there is nothing to change, instead of writing the list.
    #[arg(long, env = "PAVED_PROPOSE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub propose: bool,

    /// The branch `--propose` keeps its one commit on (replaced on every run).
    #[arg(long, env = "PAVED_PROPOSE_BRANCH", value_name = "BRANCH", default_value = paved_forge::proposals::DEFAULT_BRANCH)]
    pub propose_branch: String,

    /// The forge for `--open-issues` and `--propose` [default: the CI's forge].
    #[arg(long, env = "PAVED_FORGE", value_name = "github|gitlab")]
    pub forge: Option<String>,

    /// Release once the Wilson upper bound on the flaky-run rate is under this [default: `[quarantine] release-threshold`, else 0.1].
    #[arg(long, env = "PAVED_RELEASE_THRESHOLD", value_name = "RATE")]
    pub release_threshold: Option<f64>,

    /// ...after at least this many consecutive clean runs [default: `[quarantine] min-clean-runs`, else 35].
    #[arg(long, env = "PAVED_MIN_CLEAN_RUNS", value_name = "N")]
    pub min_clean_runs: Option<u32>,

    /// New entries expire after this many days [default: 30].
    #[arg(long, env = "PAVED_EXPIRY_DAYS", value_name = "DAYS")]
    pub expiry_days: Option<u32>,

    /// The date to record as today (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, env = "PAVED_TODAY", value_name = "DATE")]
    pub today: Option<Date>,

    /// Print the result as JSON on stdout.
    #[arg(long, env = "PAVED_JSON", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub json: bool,
}

/// How `update` decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub release_threshold: f64,
    pub min_clean_runs: u32,
    pub expiry_days: u32,
    pub default_owner: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            release_threshold: DEFAULT_RELEASE_THRESHOLD,
            min_clean_runs: DEFAULT_MIN_CLEAN_RUNS,
            expiry_days: DEFAULT_EXPIRY_DAYS,
            default_owner: DEFAULT_OWNER.into(),
        }
    }
}

impl Policy {
    /// Flag/env values over `[quarantine]` over the defaults, validated.
    pub fn resolve(args: &UpdateArgs, config: &QuarantineConfig) -> Result<Policy> {
        let policy = Policy {
            release_threshold: args
                .release_threshold
                .or(config.release_threshold)
                .unwrap_or(DEFAULT_RELEASE_THRESHOLD),
            min_clean_runs: args
                .min_clean_runs
                .or(config.min_clean_runs)
                .unwrap_or(DEFAULT_MIN_CLEAN_RUNS),
            expiry_days: args
                .expiry_days
                .or(config.expiry_days)
                .unwrap_or(DEFAULT_EXPIRY_DAYS),
            default_owner: config
                .default_owner
                .clone()
                .unwrap_or_else(|| DEFAULT_OWNER.into()),
        };
        if !(policy.release_threshold > 0.0 && policy.release_threshold <= 1.0) {
            return Err(Error::Usage(format!(
                "the release threshold `{}` is not a rate in (0, 1]; use e.g. `0.05`",
                policy.release_threshold
            )));
        }
        if policy.expiry_days == 0 {
            return Err(Error::Usage(
                "`expiry-days` is 0, so every new entry would be expired at once; use e.g. `30`"
                    .into(),
            ));
        }
        Ok(policy)
    }
}

/// A test to release, with the evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Release {
    /// Index of the entry in the list.
    #[serde(skip)]
    pub index: usize,
    pub entry: QuarantineEntry,
    pub why: String,
}

/// What `update` will do.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Plan {
    pub added: Vec<QuarantineEntry>,
    pub released: Vec<Release>,
    /// Quarantined tests that are broken now: still quarantined, but a real break.
    pub broken: Vec<String>,
    /// Every broken test in the analysis (quarantined or not), with where it broke: never added.
    pub breaks: Vec<BrokenTest>,
    /// Entries none of whose tests ran in the window: kept, and named.
    pub not_observed: Vec<crate::analyze::NotObserved>,
    /// Flaky parents not added because their failures are those of their subtests (the
    /// subtests are added instead), as display ids.
    pub parents: Vec<String>,
}

/// Whether `s` failed only because its subtests did: its subtests (`name/…`, one level down,
/// same suite, classname and variant) had at least as many runs with a failed attempt as it
/// had. `go test` fails a parent whenever a subtest fails, so without this rule a flaky subtest
/// would quarantine its whole parent. A parent that failed more often fails on its own too.
pub fn failed_through_subtests(s: &TestStats, stats: &[TestStats]) -> bool {
    let child_failures: u32 = subtests(s, stats)
        .map(|c| c.failures + c.retry_passes)
        .sum();
    child_failures > 0 && s.failures + s.retry_passes <= child_failures
}

/// The subtests of `s` one level down (`name/x`, same suite, classname and variant).
fn subtests<'a>(s: &'a TestStats, stats: &'a [TestStats]) -> impl Iterator<Item = &'a TestStats> {
    let prefix = format!("{}/", s.id.name);
    stats.iter().filter(move |c| {
        c.id.suite == s.id.suite
            && c.id.classname == s.id.classname
            && c.id.variant == s.id.variant
            && c.id
                .name
                .strip_prefix(&prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    })
}

/// A broken test `update` did not (and never does) quarantine.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BrokenTest {
    /// The list id (`suite|classname|name`), with the variant when there is one.
    pub id: String,
    #[serde(flatten)]
    pub at: crate::model::Break,
}

/// Decide what to add and release. `today` dates new entries; owners come from CODEOWNERS by
/// each test's source file, found in `repo` when the report named none (see [`crate::source`]).
pub fn plan(
    list: &QuarantineList,
    stats: &[TestStats],
    owners: &CodeOwners,
    repo: &Path,
    policy: &Policy,
    today: Date,
) -> Result<Plan> {
    let mut plan = Plan {
        not_observed: crate::analyze::not_observed(list, stats),
        ..Plan::default()
    };
    // Which stats each entry covers.
    let mut covered: Vec<Vec<&TestStats>> = vec![Vec::new(); list.len()];
    let mut seen_new = std::collections::HashSet::new();
    for s in stats {
        if let Some(b) = &s.broken
            && s.verdict == Verdict::Broken
        {
            plan.breaks.push(BrokenTest {
                id: crate::analyze::display_id(&s.id),
                at: b.clone(),
            });
        }
        if let Some(i) = list.position(&s.id) {
            covered[i].push(s);
            continue;
        }
        if s.verdict != Verdict::Flaky {
            continue;
        }
        if failed_through_subtests(s, stats) {
            plan.parents.push(crate::analyze::display_id(&s.id));
            continue;
        }
        let id = format_id(&s.id);
        let variant = Some(crate::list::normalize(&s.id.variant)).filter(|v| !v.is_empty());
        if !seen_new.insert((IdParts::of(&s.id), variant.clone())) {
            continue;
        }
        let owner = crate::source::source_file(&s.id, s.file.as_deref(), repo)
            .and_then(|f| owners.owners_of(&f))
            .map_or_else(|| policy.default_owner.clone(), |o| o.join(" "));
        let expires = today
            .checked_add(jiff::Span::new().days(i64::from(policy.expiry_days)))
            .map_err(|e| Error::Usage(format!("cannot compute the expiry date: {e}")))?;
        plan.added.push(QuarantineEntry {
            id,
            variant,
            reason: reason(s),
            owner,
            issue: None,
            added: today,
            expires,
        });
    }
    for (i, (entry, tests)) in list.entries().iter().zip(&covered).enumerate() {
        if tests.iter().any(|s| s.verdict == Verdict::Broken) {
            plan.broken.push(entry.id.clone());
        }
        if tests.is_empty() {
            continue;
        }
        let stable = tests.iter().all(|s| {
            s.verdict != Verdict::Broken
                && s.clean_streak >= policy.min_clean_runs
                && s.wilson_upper < policy.release_threshold
        });
        if !stable
            && tests.iter().all(|s| {
                s.verdict != Verdict::Broken
                    && failed_through_subtests(s, stats)
                    && subtests(s, stats)
                        .filter(|c| c.failures + c.retry_passes > 0)
                        .all(|c| list.position(&c.id).is_some_and(|j| j != i))
            })
        {
            plan.released.push(Release {
                index: i,
                entry: entry.clone(),
                why: "its failures are those of its quarantined subtests, which stay quarantined (the gate ignores a parent failed only by them)".into(),
            });
            continue;
        }
        if stable {
            let runs: u32 = tests.iter().map(|s| s.runs).sum();
            let streak = tests.iter().map(|s| s.clean_streak).min().unwrap_or(0);
            let upper = tests.iter().map(|s| s.wilson_upper).fold(0.0, f64::max);
            plan.released.push(Release {
                index: i,
                entry: entry.clone(),
                why: format!(
                    "stable: the last {streak} runs passed ({runs} in the window); flaky-run rate at most {} (95% Wilson), under the {} release threshold",
                    percent(upper),
                    percent(policy.release_threshold)
                ),
            });
        }
    }
    Ok(plan)
}

fn percent(rate: f64) -> String {
    let p = (rate * 1000.0).round() / 10.0;
    if p < 10.0 && p.fract() != 0.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// The evidence for quarantining `s`, in one sentence.
pub fn reason(s: &TestStats) -> String {
    let mut parts = vec![format!("flaky: {} of {} runs failed", s.failures, s.runs)];
    if s.same_commit_flakes > 0 {
        parts.push(format!(
            "passed and failed at the same commit {} time(s)",
            s.same_commit_flakes
        ));
    }
    if s.retry_passes > 0 {
        parts.push(format!("passed on retry {} time(s)", s.retry_passes));
    }
    parts.push(format!(
        "flaky-run rate {}-{} (95% Wilson)",
        percent(s.wilson_lower),
        percent(s.wilson_upper)
    ));
    parts.join("; ")
}

/// Apply `plan` to `list`: release first (closing issues), then add (opening issues).
pub fn apply(
    list: &mut QuarantineList,
    plan: &mut Plan,
    issues: Option<&dyn IssueTracker>,
) -> Result<()> {
    let mut release_order: Vec<usize> = (0..plan.released.len()).collect();
    release_order.sort_by_key(|&r| std::cmp::Reverse(plan.released[r].index));
    for r in release_order {
        let release = &plan.released[r];
        if let (Some(tracker), Some(url)) = (issues, release.entry.issue.as_deref()) {
            tracker
                .close_issue(
                    url,
                    Some(&format!(
                        "Released from quarantine by paved-quarantine: {}.",
                        release.why
                    )),
                )
                .map_err(forge_error)?;
        }
        list.remove(release.index);
    }
    for entry in &mut plan.added {
        if let Some(tracker) = issues {
            let issue = tracker
                .open_issue(&issue_spec(entry))
                .map_err(forge_error)?;
            entry.issue = Some(issue.url);
        }
        list.add(entry.clone())?;
    }
    Ok(())
}

/// Carry a forge error over into the crate's error type, keeping its category and hint.
pub(crate) fn forge_error(e: paved_forge::Error) -> Error {
    use paved_core::error::Diagnostic;
    use paved_core::exit::Category;
    let hint = e.hint();
    match e {
        paved_forge::Error::Http(h) => Error::Http(h),
        other if other.category() == Category::Usage => Error::Usage(match hint {
            Some(h) => format!("{other}\n  hint: {h}"),
            None => other.to_string(),
        }),
        other => Error::Refused {
            message: other.to_string(),
            hint,
        },
    }
}

/// The hidden marker an issue about `entry` starts with: the test's list id and variant. A
/// re-run finds the issue by it, whatever a person retitled it to (see
/// [`paved_forge::issues`]).
pub fn issue_marker(entry: &QuarantineEntry) -> String {
    let mut fields = vec![("test", entry.id.as_str())];
    if let Some(v) = entry.variant.as_deref() {
        fields.push(("variant", v));
    }
    paved_forge::issues::hidden_marker("paved-quarantine issue", &fields)
}

/// The issue opened for a newly quarantined test.
pub fn issue_spec(entry: &QuarantineEntry) -> IssueSpec {
    let variant = entry
        .variant
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    let marker = issue_marker(entry);
    IssueSpec {
        title: format!("Flaky test: {}{variant}", entry.id),
        body: format!(
            "{marker}\n`paved-quarantine update` quarantined this test: CI skips it and the gate ignores its failures until it is fixed.\n\n\
             | | |\n|---|---|\n| test | `{}` |\n| variant | {} |\n| evidence | {} |\n| owner | {} |\n| quarantined | {} |\n| expires | {} |\n\n\
             Fix the flakiness; the entry is released (and this issue closed) once the test is stable again.",
            entry.id,
            entry.variant.as_deref().unwrap_or("all"),
            entry.reason,
            entry.owner,
            entry.added,
            entry.expires
        ),
        labels: vec![ISSUE_LABEL.into()],
        marker: Some(marker),
    }
}

/// Read `analyze --json` output: an array of stats, or an object with a `tests` array.
pub fn read_stats(path: &Path) -> Result<Vec<TestStats>> {
    let text = paved_core::fs::read_to_string(path)?;
    let bad = |message: String| Error::BadFile {
        path: path.to_owned(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let tests = match value {
        serde_json::Value::Object(mut o) => o.remove("tests").ok_or_else(|| {
            bad("expected the output of `paved-quarantine analyze --json` (a `tests` array)".into())
        })?,
        v => v,
    };
    serde_json::from_value(tests).map_err(|e| {
        bad(format!(
            "not the output of `paved-quarantine analyze --json`: {e}"
        ))
    })
}

/// A small line diff of `old` → `new` (unified style, 2 lines of context).
pub fn diff(old: &str, new: &str, name: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    // Longest common subsequence over the changed middle; lists are small, and a huge middle
    // falls back to "all removed, all added", which is still a correct diff.
    let mut ops: Vec<(char, &str)> = Vec::new();
    if ma.len().saturating_mul(mb.len()) <= 4_000_000 {
        let (n, m) = (ma.len(), mb.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push((' ', ma[i]));
                i += 1;
                j += 1;
            } else if j < m && (i == n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j]) {
                ops.push(('+', mb[j]));
                j += 1;
            } else {
                ops.push(('-', ma[i]));
                i += 1;
            }
        }
    } else {
        ops.extend(ma.iter().map(|l| ('-', *l)));
        ops.extend(mb.iter().map(|l| ('+', *l)));
    }
    if ops.iter().all(|(op, _)| *op == ' ') {
        return String::new();
    }
    let context = 2;
    let mut all: Vec<(char, &str)> = a[..prefix].iter().map(|l| (' ', *l)).collect();
    all.extend(ops);
    all.extend(a[a.len() - suffix..].iter().map(|l| (' ', *l)));
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let changed: Vec<usize> = (0..all.len()).filter(|&k| all[k].0 != ' ').collect();
    let mut last: Option<usize> = None;
    for (k, (op, line)) in all.iter().enumerate() {
        if !changed
            .iter()
            .any(|&c| k + context >= c && k <= c + context)
        {
            continue;
        }
        if last.is_none_or(|l| l + 1 != k) {
            out.push_str("@@\n");
        }
        out.push(*op);
        out.push_str(line);
        out.push('\n');
        last = Some(k);
    }
    out
}

/// The job summary: what was added and released, with the evidence.
pub fn summary_markdown(plan: &Plan, path: &Path, dry_run: bool) -> String {
    let mut out = format!(
        "## Quarantine update{}\n\n`{}`: {} added, {} released.\n",
        if dry_run { " (dry run)" } else { "" },
        path.display(),
        plan.added.len(),
        plan.released.len()
    );
    let cell = |s: &str| s.replace('|', "\\|").replace('`', "'");
    if !plan.added.is_empty() {
        out.push_str("\n| quarantined | owner | evidence | expires |\n|---|---|---|---|\n");
        for e in &plan.added {
            out.push_str(&format!(
                "| `{}`{} | {} | {} | {} |\n",
                cell(&e.id),
                e.variant
                    .as_deref()
                    .map(|v| format!(" ({})", cell(v)))
                    .unwrap_or_default(),
                cell(&e.owner),
                cell(&e.reason),
                e.expires
            ));
        }
    }
    if !plan.released.is_empty() {
        out.push_str("\n| released | why |\n|---|---|\n");
        for r in &plan.released {
            out.push_str(&format!("| `{}` | {} |\n", cell(&r.entry.id), cell(&r.why)));
        }
    }
    if !plan.not_observed.is_empty() {
        out.push_str(
            "\n| quarantined, not observed in the window | owner | expires |\n|---|---|---|\n",
        );
        for n in &plan.not_observed {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                cell(&n.id),
                cell(&n.owner),
                n.expires
            ));
        }
    }
    if !plan.parents.is_empty() {
        out.push_str("\n| not quarantined: failed only through its subtests |\n|---|\n");
        for p in &plan.parents {
            out.push_str(&format!("| `{}` |\n", cell(p)));
        }
    }
    if !plan.breaks.is_empty() {
        out.push_str("\n| broken: not quarantined, needs a fix | where it broke |\n|---|---|\n");
        for b in &plan.breaks {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                cell(&b.id),
                cell(&crate::analyze::break_text(&b.at, |c| c))
            ));
        }
    }
    out
}

/// Run `update`.
pub fn run(args: &UpdateArgs) -> crate::error::Result<u8> {
    let (config, path) = args.location.resolve()?;
    let policy = Policy::resolve(args, &config)?;
    let today = args.today.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
    });
    let mut list = QuarantineList::load_or_empty(&path)?;
    let stats = match &args.stats {
        Some(path) => read_stats(path)?,
        None => {
            // The store's settings come from the same paved.toml as the list's.
            let repo_config = args.location.repo.join(paved_core::config::FILE_NAME);
            let config = args
                .location
                .config
                .clone()
                .or_else(|| repo_config.is_file().then_some(repo_config));
            // Quarantined tests are followed even when they did not fail: their clean runs are
            // what releases them.
            args.history.load(config.as_deref(), &list.focus())?.1.tests
        }
    };
    let owners = CodeOwners::discover(&args.location.repo)?;
    let mut plan = plan(&list, &stats, &owners, &args.location.repo, &policy, today)?;
    // With no failures in n runs the 95% Wilson upper bound is z²/(n+z²): a threshold under it
    // for the largest window seen can never release anything, which should not pass silently.
    let most_runs = stats.iter().map(|s| s.runs).max().unwrap_or(0);
    let z2 = 1.96_f64 * 1.96;
    let best = z2 / (f64::from(most_runs) + z2);
    if !list.is_empty() && most_runs > 0 && policy.release_threshold <= best {
        paved_core::cli::warn(&format!(
            "no test can be released: with at most {most_runs} runs in the window, the Wilson upper bound of a test that never failed is {}, not under the release threshold {}; raise `[quarantine] window` or `release-threshold`",
            percent(best),
            percent(policy.release_threshold)
        ));
    }

    let before = list.render();
    let before_list = list.clone();
    let forge = || -> Result<ForgeKind> {
        match &args.forge {
            Some(f) => f.parse::<ForgeKind>().map_err(forge_error),
            None => ForgeKind::detect().ok_or_else(|| {
                Error::Usage(
                    "`--open-issues` and `--propose` need a forge: run in GitHub Actions or GitLab CI, or pass `--forge github|gitlab`".into(),
                )
            }),
        }
    };
    let tracker = if args.open_issues && !args.dry_run {
        Some(paved_forge::issues::from_env(forge()?).map_err(forge_error)?)
    } else {
        None
    };
    // Everything `--propose` needs is checked before anything is written (issues included).
    let proposer = if args.propose && !args.dry_run {
        let kind = forge()?;
        let (rel, base, exists) = crate::propose::location(&path, &args.location.repo)?;
        let proposals = paved_forge::proposals::from_env(kind).map_err(forge_error)?;
        Some((proposals, rel, base, exists))
    } else {
        None
    };
    apply(&mut list, &mut plan, tracker.as_deref())?;
    let after = list.render();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );

    for e in &plan.added {
        paved_core::cli::info(&format!(
            "quarantined `{}` (owner {}): {}",
            e.id, e.owner, e.reason
        ));
    }
    for r in &plan.released {
        paved_core::cli::info(&format!("released `{}`: {}", r.entry.id, r.why));
    }
    for b in &plan.breaks {
        paved_core::cli::warn(&format!(
            "`{}` is {}: a real break, not a flake, so it is not quarantined; fix it",
            b.id,
            crate::analyze::break_text(&b.at, |c| c)
        ));
    }
    for n in &plan.not_observed {
        paved_core::cli::warn(&crate::analyze::not_observed_text(n));
    }
    for p in &plan.parents {
        paved_core::cli::info(&format!(
            "`{p}` is not quarantined: its failures are those of its subtests, which are quarantined instead"
        ));
    }
    for b in &plan.broken {
        paved_core::cli::warn(&format!(
            "`{b}` is quarantined but broken: it fails on every run from a change point on (see `analyze`), which is not a flake; fix it or remove it"
        ));
    }
    paved_core::cli::info(&format!(
        "{}: {} added, {} released, {} quarantined{}",
        path.display(),
        plan.added.len(),
        plan.released.len(),
        list.len(),
        if args.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    ));

    let mut proposal = None;
    if let Some((proposals, rel, base, exists)) = &proposer {
        let spec = paved_forge::proposals::ProposalSpec {
            branch: args.propose_branch.clone(),
            base_commit: base.clone(),
            path: rel.clone(),
            content: after.clone(),
            file_exists: *exists,
            message: crate::propose::title(&plan),
            title: crate::propose::title(&plan),
            body: crate::propose::body(&plan, &stats, &before_list, rel),
        };
        let outcome =
            crate::propose::run(proposals.as_ref(), &spec, after != before).map_err(forge_error)?;
        let noun = proposals.noun();
        paved_core::cli::info(&match &outcome {
            crate::propose::Outcome::Opened { url, .. } => format!("opened the {noun} {url}"),
            crate::propose::Outcome::Updated { url, .. } => format!("updated the {noun} {url}"),
            crate::propose::Outcome::Closed { url, .. } => {
                format!("nothing to change: closed the {noun} {url}")
            }
            crate::propose::Outcome::Unchanged => {
                format!(
                    "nothing to change, and no {noun} from `{}` is open",
                    args.propose_branch
                )
            }
        });
        proposal = Some(outcome);
    } else if !args.dry_run && after != before {
        list.save()?;
    }
    let sink = paved_core::ci::CiSink::from_env(None);
    let mut outputs = paved_core::ci::Outputs::new();
    outputs
        .set("added", plan.added.len())
        .set("released", plan.released.len())
        .set("quarantined", list.len())
        .set("changed", after != before);
    if let Some(
        crate::propose::Outcome::Opened { number, url }
        | crate::propose::Outcome::Updated { number, url },
    ) = &proposal
    {
        outputs.set("proposal", number).set("proposal-url", url);
    }
    sink.write_outputs(&outputs)?;
    sink.write_summary(&summary_markdown(&plan, &path, args.dry_run))?;
    if args.json {
        let value = serde_json::json!({
            "list": path.display().to_string(),
            "dry_run": args.dry_run,
            "added": plan.added,
            "released": plan.released,
            "broken": plan.broken,
            "breaks": plan.breaks,
            "parents": plan.parents,
            "not_observed": plan.not_observed,
            "diff": diff(&before, &after, &name),
            "proposal": proposal,
        });
        paved_core::cli::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("serialisable")
        ))?;
    } else if args.dry_run {
        paved_core::cli::print_stdout(&diff(&before, &after, &name))?;
    }
    Ok(0)
}
