//! `paved-quarantine gate`: the merge check that known-flaky tests cannot block.
//!
//! Reads this run's JUnit files (every attempt of every test, across files, folded as they are
//! read into a small record per test by [`paved_junit::Tally`]: memory stays bounded on a
//! million-test report) and the reviewed `quarantine.toml`, then:
//!
//! - the last attempt decides: a test that is not quarantined and whose final attempt failed is
//!   a **failure** (exit 1), whatever earlier attempts said (pytest-rerunfailures writes its
//!   reruns as empty test cases before the final one, so an earlier "pass" may be a rerun);
//! - a test whose final pass follows a failed attempt is reported as **flaky**, not failed;
//! - a quarantined test that failed is reported and does not count (run-but-ignore: quarantined
//!   tests keep running, so their results keep flowing into the history that releases them);
//! - a parent that failed only because quarantined subtests failed (`go test` fails the parent
//!   of a failing subtest) is counted as quarantined with them: at least one of its subtests
//!   (`name/…`) failed in this run, and every one that failed is quarantined;
//! - an expired quarantine entry no longer shields its test: the test's failure counts, with a
//!   message naming the entry and its expiry. `--allow-expired` keeps the shield (with a
//!   warning); `--fail-on-expired` fails the gate on any expired entry, even one whose test passed.
//!
//! Output: a line per finding on stderr (annotations on GitHub), a markdown job summary, outputs
//! `failed`, `flaky`, `quarantined`, and `--json` on stdout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use jiff::civil::Date;
use paved_core::ci::{Annotation, CiSink, Level, Outputs};
use paved_core::config::QuarantineConfig;
use paved_junit::{FailedTest, Summary, Tallied, Tally};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::list::QuarantineList;
use crate::model::TestResult;

/// Arguments of `gate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// This run's JUnit XML files or glob patterns (every attempt, including rerun reports).
    #[arg(value_name = "FILE|GLOB", required = true)]
    pub files: Vec<String>,

    /// The reviewed quarantine list [default: `[quarantine] list`, else quarantine.toml]. A missing file quarantines nothing.
    #[arg(long, env = "PAVED_LIST", value_name = "FILE")]
    pub list: Option<PathBuf>,

    /// The variant these reports ran under (must match what `ingest` used).
    #[arg(long, env = "PAVED_VARIANT", value_name = "V", default_value = "")]
    pub variant: String,

    /// Fail the gate (exit 1) when the list has expired entries, even where their tests passed.
    #[arg(long, env = "PAVED_FAIL_ON_EXPIRED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub fail_on_expired: bool,

    /// Let expired entries still shield their tests' failures (with a warning); by default an
    /// expired entry no longer does, and its test's failure fails the gate.
    #[arg(long, env = "PAVED_ALLOW_EXPIRED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub allow_expired: bool,

    /// The date expiry is checked against [default: today, UTC].
    #[arg(long, env = "PAVED_TODAY", value_name = "YYYY-MM-DD")]
    pub today: Option<Date>,

    /// Config file [default: paved.toml in the current directory].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Also write outputs as a dotenv file (always on GitLab CI, default paved.env there).
    #[arg(long, env = "PAVED_DOTENV", value_name = "FILE")]
    pub dotenv: Option<PathBuf>,

    /// Print the result as JSON on stdout.
    #[arg(long, env = "PAVED_JSON", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub json: bool,

    /// The history store (a SQLite file or a postgres:// URL): each failure is then marked new, quarantined (flaky), flaky, or broken on the default branch since a commit, as `analyze` judges it [default: none: no history].
    #[arg(long, env = "PAVED_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,

    /// With `--store`: analyse the most recent N runs [default: `[quarantine] window`, else 50].
    #[arg(long, env = "PAVED_WINDOW", value_name = "N")]
    pub window: Option<u32>,

    /// Post the findings as one pull request comment (GitHub) or merge request note (GitLab), edited in place on re-runs. A failure to post is a warning and leaves the exit code alone.
    #[arg(long, env = "PAVED_COMMENT", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub comment: bool,
}

/// One test the gate has something to say about.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `suite|classname|name` (the quarantine list's id).
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub attempts: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The quarantine entry's owner and issue, when quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// When its quarantine entry expired, if it has: an expired entry shields nothing unless
    /// `--allow-expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<Date>,
    /// For a parent counted as quarantined: it failed only because these quarantined subtests
    /// did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
    /// What the history store says about this failure (`gate --store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<crate::gate_history::Known>,
}

/// An expired quarantine entry.
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    pub id: String,
    pub owner: String,
    pub expires: Date,
    /// Its test failed in this run, and the failure counts (the entry shields nothing).
    pub counted: bool,
}

/// The gate's decision.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub passed: bool,
    pub summary: Summary,
    /// Not quarantined, failed on the final attempt: these fail the gate.
    pub failed: Vec<Finding>,
    /// Passed on a retry.
    pub flaky: Vec<Finding>,
    /// Quarantined and failed: reported, not counted.
    pub quarantined: Vec<Finding>,
    pub expired: Vec<Expired>,
    pub fail_on_expired: bool,
    pub allow_expired: bool,
}

fn finding(r: &FailedTest, list: &QuarantineList, today: Date) -> Finding {
    let entry = list.matches(&r.id);
    Finding {
        expired: entry.filter(|e| e.is_expired(today)).map(|e| e.expires),
        through: Vec::new(),
        history: None,
        id: crate::list::format_id(&r.id),
        variant: r.id.variant.clone(),
        file: r.file.clone(),
        attempts: r.attempts as usize,
        message: r.message.clone(),
        owner: entry.map(|e| e.owner.clone()),
        issue: entry.and_then(|e| e.issue.clone()),
    }
}

/// What the gate asks of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Expiry is checked against this date.
    pub today: Date,
    /// Any expired entry fails the gate.
    pub fail_on_expired: bool,
    /// Expired entries still shield their tests.
    pub allow_expired: bool,
}

/// Decide on `results` (all attempts merged) against `list`.
pub fn decide(results: &[TestResult], list: &QuarantineList, policy: Policy) -> Decision {
    decide_tallied(&Tallied::of(results), list, policy)
}

/// Decide on a run's reports folded by a [`paved_junit::Tally`] against `list`: only the tests
/// with a failed attempt matter (every other one passed or was skipped in the end).
pub fn decide_tallied(tallied: &Tallied, list: &QuarantineList, policy: Policy) -> Decision {
    let results = &tallied.failed;
    let today = policy.today;
    let shields = |r: &FailedTest| {
        list.matches(&r.id)
            .is_some_and(|e| policy.allow_expired || !e.is_expired(today))
    };
    let failed_finally = |r: &FailedTest| r.outcome.is_failure();
    // Failed subtests by parent (every ancestor level), for parents that `go test` failed
    // through them.
    let mut subtests: std::collections::HashMap<(&str, &str, &str, &str), Vec<&FailedTest>> =
        std::collections::HashMap::new();
    for r in results.iter().filter(|r| failed_finally(r)) {
        let name = r.id.name.as_str();
        for (i, _) in name.match_indices('/') {
            subtests
                .entry((&r.id.suite, &r.id.classname, &r.id.variant, &name[..i]))
                .or_default()
                .push(r);
        }
    }
    let mut failed = Vec::new();
    let mut flaky = Vec::new();
    let mut quarantined = Vec::new();
    let mut counted = std::collections::HashSet::new();
    for r in results {
        if failed_finally(r) {
            let through = subtests
                .get(&(
                    r.id.suite.as_str(),
                    r.id.classname.as_str(),
                    r.id.variant.as_str(),
                    r.id.name.as_str(),
                ))
                .filter(|subs| subs.iter().all(|s| shields(s)));
            if shields(r) {
                quarantined.push(finding(r, list, today));
            } else if let Some(subs) = through {
                let mut f = finding(r, list, today);
                f.through = subs.iter().map(|s| crate::list::format_id(&s.id)).collect();
                quarantined.push(f);
            } else {
                if let Some(i) = list.position(&r.id) {
                    counted.insert(i);
                }
                failed.push(finding(r, list, today));
            }
        } else if r.passed_on_retry() {
            flaky.push(finding(r, list, today));
        }
    }
    let expired: Vec<Expired> = list
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_expired(today))
        .map(|(i, e)| Expired {
            id: e.id.clone(),
            owner: e.owner.clone(),
            expires: e.expires,
            counted: counted.contains(&i),
        })
        .collect();
    let passed = failed.is_empty() && (expired.is_empty() || !policy.fail_on_expired);
    Decision {
        passed,
        summary: tallied.summary,
        failed,
        flaky,
        quarantined,
        expired,
        fail_on_expired: policy.fail_on_expired,
        allow_expired: policy.allow_expired,
    }
}

fn md_code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

fn with_variant(f: &Finding) -> String {
    let mut out = md_code(&f.id);
    if !f.variant.is_empty() {
        out.push_str(&format!(" ({})", f.variant));
    }
    if let Some(d) = f.expired {
        out.push_str(&format!(" (quarantine expired {d})"));
    }
    if !f.through.is_empty() {
        let subs: Vec<String> = f.through.iter().map(|s| md_code(s)).collect();
        out.push_str(&format!(" (failed through {})", subs.join(", ")));
    }
    if let Some(k) = &f.history {
        out.push_str(&format!(" — {}", k.text().replace('|', "\\|")));
    }
    out
}

/// The job summary.
pub fn markdown(d: &Decision) -> String {
    let mut out = String::new();
    let verdict = if d.passed { "passed" } else { "failed" };
    let _ = writeln!(out, "## Test gate: {verdict}\n");
    let s = &d.summary;
    let _ = writeln!(
        out,
        "{} tests: {} passed ({} flaky), {} failed, {} skipped. **{}** failing, {} quarantined failures, {} flaky, {} expired quarantine entries.\n",
        s.tests,
        s.passed,
        s.flaky,
        s.failed,
        s.skipped,
        d.failed.len(),
        d.quarantined.len(),
        d.flaky.len(),
        d.expired.len()
    );
    let section = |out: &mut String, title: &str, items: &[Finding], owner: bool| {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(out, "### {title}\n");
        if owner {
            out.push_str(
                "| test | attempts | owner | issue | message |\n| --- | ---: | --- | --- | --- |\n",
            );
        } else {
            out.push_str("| test | attempts | file | message |\n| --- | ---: | --- | --- |\n");
        }
        for f in items {
            let msg = f.message.as_deref().map(md_code).unwrap_or_default();
            if owner {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    with_variant(f),
                    f.attempts,
                    f.owner.as_deref().unwrap_or(""),
                    f.issue.as_deref().unwrap_or(""),
                    msg
                );
            } else {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    with_variant(f),
                    f.attempts,
                    f.file.as_deref().map(md_code).unwrap_or_default(),
                    msg
                );
            }
        }
        out.push('\n');
    };
    section(&mut out, "Failed (not quarantined)", &d.failed, false);
    section(&mut out, "Flaky (passed on retry)", &d.flaky, false);
    section(
        &mut out,
        "Quarantined failures (not counted)",
        &d.quarantined,
        true,
    );
    if !d.expired.is_empty() {
        let what = if d.fail_on_expired {
            "fail the gate"
        } else {
            "warn"
        };
        let _ = writeln!(out, "### Expired quarantine entries ({what})\n");
        out.push_str("| test | owner | expired |\n| --- | --- | --- |\n");
        for e in &d.expired {
            let _ = writeln!(out, "| {} | {} | {} |", md_code(&e.id), e.owner, e.expires);
        }
        out.push('\n');
    }
    out
}

fn annotate(sink: &CiSink, d: &Decision) {
    let note = |level: Level, title: &str, f: &Finding, extra: &str| {
        sink.annotate(&Annotation {
            level: Some(level),
            title: Some(title.to_owned()),
            file: f.file.clone(),
            line: None,
            message: format!(
                "{}{}{}{extra}",
                f.id,
                if f.variant.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.variant)
                },
                f.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        });
    };
    for f in &d.failed {
        note(Level::Error, "test failed", f, "");
    }
    for f in &d.flaky {
        note(Level::Warning, "flaky test (passed on retry)", f, "");
    }
    for f in &d.quarantined {
        let owner = f
            .owner
            .as_deref()
            .map(|o| format!(" [quarantined, owner {o}]"))
            .unwrap_or_default();
        note(
            Level::Notice,
            "quarantined test failed (not counted)",
            f,
            &owner,
        );
    }
    for e in &d.expired {
        let (level, message) = if e.counted {
            (
                Level::Error,
                format!(
                    "the quarantine of {} (owner {}) expired on {}, so its failure counts; fix the test, or extend `expires` in the list after review (`--allow-expired` keeps expired entries shielding)",
                    e.id, e.owner, e.expires
                ),
            )
        } else {
            (
                if d.fail_on_expired {
                    Level::Error
                } else {
                    Level::Warning
                },
                format!(
                    "the quarantine of {} (owner {}) expired on {}{}; fix the test, or extend `expires` in the list after review",
                    e.id,
                    e.owner,
                    e.expires,
                    if d.allow_expired {
                        ", and `--allow-expired` still shields its failures"
                    } else {
                        ""
                    }
                ),
            )
        };
        sink.annotate(&Annotation {
            level: Some(level),
            title: Some("quarantine expired".into()),
            file: None,
            line: None,
            message,
        });
    }
}

/// The list path from the flag, then `[quarantine] list`, then the default.
pub fn list_path(flag: Option<&Path>, q: &QuarantineConfig) -> PathBuf {
    flag.map(Path::to_owned)
        .or_else(|| q.list.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(QuarantineConfig::DEFAULT_LIST))
}

/// Run `gate`.
pub fn run(args: &GateArgs) -> Result<u8> {
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let q = config.quarantine;
    let files = crate::ingest::expand(&args.files)?;
    let variant = paved_junit::normalize(&args.variant);
    // A record per test, not every result: a million-test report stays within tens of MB.
    let bytes = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut tally = Tally::new(&variant, Tally::expected_cases(bytes));
    for f in &files {
        tally.read_file(f)?;
    }
    let tallied = tally.finish();
    let list = QuarantineList::load_or_empty(&list_path(args.list.as_deref(), &q))?;
    let today = match args.today {
        Some(d) => d,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let fail_on_expired = args.fail_on_expired || q.fail_on_expired.unwrap_or(false);
    let mut decision = decide_tallied(
        &tallied,
        &list,
        Policy {
            today,
            fail_on_expired,
            allow_expired: args.allow_expired,
        },
    );

    if args.store.is_some() {
        crate::gate_history::attach(
            &mut decision,
            args.config.as_deref(),
            args.store.as_deref(),
            args.window,
        );
    }

    let sink = CiSink::from_env(args.dotenv.clone());
    annotate(&sink, &decision);
    sink.write_summary(&markdown(&decision))?;
    if args.comment {
        crate::comment::post(&decision);
    }
    let mut outputs = Outputs::new();
    outputs
        .set("passed", decision.passed)
        .set("failed", decision.failed.len())
        .set("flaky", decision.flaky.len())
        .set("quarantined", decision.quarantined.len())
        .set("expired", decision.expired.len());
    for w in sink.write_outputs(&outputs)? {
        paved_core::cli::warn(&w);
    }
    let s = &decision.summary;
    paved_core::cli::info(&format!(
        "gate {}: {} tests, {} failing, {} flaky, {} quarantined failures, {} expired entries",
        if decision.passed { "passed" } else { "failed" },
        s.tests,
        decision.failed.len(),
        decision.flaky.len(),
        decision.quarantined.len(),
        decision.expired.len()
    ));
    if args.json {
        let text = serde_json::to_string_pretty(&decision)
            .map_err(|e| Error::Usage(format!("could not encode the decision: {e}")))?;
        paved_core::cli::print_stdout(&format!("{text}\n"))?;
    }
    Ok(if decision.passed {
        paved_core::exit::OK
    } else {
        paved_core::exit::REFUSED
    })
}
