//! `paved-quarantine gate`: the merge check that known-flaky tests cannot block.
//!
//! Reads this run's JUnit files (every attempt of every test, across files) and the reviewed
//! `quarantine.toml`, then:
//!
//! - the last attempt decides: a test that is not quarantined and whose final attempt failed is
//!   a **failure** (exit 1), whatever earlier attempts said (pytest-rerunfailures writes its
//!   reruns as empty test cases before the final one, so an earlier "pass" may be a rerun);
//! - a test whose final pass follows a failed attempt is reported as **flaky**, not failed;
//! - a quarantined test that failed is reported and does not count;
//! - an expired quarantine entry warns (or fails the gate with `fail-on-expired`); it still
//!   shields its test, because the list, not the gate, is where quarantine is decided.
//!
//! Output: a line per finding on stderr (annotations on GitHub), a markdown job summary, outputs
//! `failed`, `flaky`, `quarantined`, and `--json` on stdout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use jiff::civil::Date;
use paved_core::ci::{Annotation, CiSink, Level, Outputs};
use paved_core::config::QuarantineConfig;
use paved_junit::Summary;
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

    /// Fail the gate (exit 1) when the list has expired entries, instead of warning.
    #[arg(long, env = "PAVED_FAIL_ON_EXPIRED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub fail_on_expired: bool,

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
}

/// An expired quarantine entry.
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    pub id: String,
    pub owner: String,
    pub expires: Date,
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
}

fn finding(r: &TestResult, list: &QuarantineList) -> Finding {
    let entry = list.matches(&r.id);
    Finding {
        id: crate::list::format_id(&r.id),
        variant: r.id.variant.clone(),
        file: r.file.clone(),
        attempts: r.attempts.len(),
        message: r
            .attempts
            .iter()
            .rev()
            .find(|a| a.outcome.is_failure())
            .and_then(|a| a.message.clone()),
        owner: entry.map(|e| e.owner.clone()),
        issue: entry.and_then(|e| e.issue.clone()),
    }
}

/// Decide on `results` (all attempts merged) against `list`.
pub fn decide(
    results: &[TestResult],
    list: &QuarantineList,
    today: Date,
    fail_on_expired: bool,
) -> Decision {
    let mut failed = Vec::new();
    let mut flaky = Vec::new();
    let mut quarantined = Vec::new();
    for r in results {
        let is_quarantined = list.matches(&r.id).is_some();
        if r.final_outcome().is_failure() {
            if is_quarantined {
                quarantined.push(finding(r, list));
            } else {
                failed.push(finding(r, list));
            }
        } else if r.passed_on_retry() {
            flaky.push(finding(r, list));
        }
    }
    let expired: Vec<Expired> = list
        .entries()
        .iter()
        .filter(|e| e.is_expired(today))
        .map(|e| Expired {
            id: e.id.clone(),
            owner: e.owner.clone(),
            expires: e.expires,
        })
        .collect();
    let passed = failed.is_empty() && (expired.is_empty() || !fail_on_expired);
    Decision {
        passed,
        summary: Summary::of(results),
        failed,
        flaky,
        quarantined,
        expired,
        fail_on_expired,
    }
}

fn md_code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

fn with_variant(f: &Finding) -> String {
    if f.variant.is_empty() {
        md_code(&f.id)
    } else {
        format!("{} ({})", md_code(&f.id), f.variant)
    }
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
        sink.annotate(&Annotation {
            level: Some(if d.fail_on_expired {
                Level::Error
            } else {
                Level::Warning
            }),
            title: Some("quarantine expired".into()),
            file: None,
            line: None,
            message: format!(
                "the quarantine of {} (owner {}) expired on {}; fix the test, or extend `expires` in the list after review",
                e.id, e.owner, e.expires
            ),
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
    let mut reports = Vec::with_capacity(files.len());
    for f in &files {
        reports.push(paved_junit::parse_file(f, &variant)?);
    }
    let merged = paved_junit::merge_reports(reports);
    let list = QuarantineList::load_or_empty(&list_path(args.list.as_deref(), &q))?;
    let today = match args.today {
        Some(d) => d,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    };
    let fail_on_expired = args.fail_on_expired || q.fail_on_expired.unwrap_or(false);
    let decision = decide(&merged.results, &list, today, fail_on_expired);

    let sink = CiSink::from_env(args.dotenv.clone());
    annotate(&sink, &decision);
    sink.write_summary(&markdown(&decision))?;
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
