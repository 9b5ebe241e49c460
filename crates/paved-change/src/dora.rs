//! DORA's four keys from change records:
//! - **deployment frequency**: closed deployments (success or failure) in the window, per day;
//! - **lead time for changes**: for each commit of a successful deployment, the time from the
//!   commit landing (committer time) to the deployment closing; the median over all commits;
//! - **change failure rate**: failed deployments / closed deployments;
//! - **time to restore**: from a failed deployment (the first of a run of failures) to the next
//!   successful deployment to the same environment; the median. Failures not yet followed by a
//!   success are counted as unrestored.
//!
//! A deployment's time is its `closed_at`; records that are not closed are counted as open and
//! left out of the figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::bundle::Bundle;
use crate::text::count;

/// The figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dora {
    /// The environment, or `null` for all.
    pub environment: Option<String>,
    /// Window start (RFC 3339).
    pub since: String,
    /// Window end (RFC 3339).
    pub until: String,
    /// Window length in days.
    pub days: f64,
    /// Closed deployments in the window.
    pub deployments: usize,
    /// Of which successful.
    pub successful: usize,
    /// Of which failed.
    pub failed: usize,
    /// Records opened in the window and not closed (left out of the figures).
    pub open: usize,
    /// Deployments per day.
    pub deployments_per_day: f64,
    /// Deployments per week.
    pub deployments_per_week: f64,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Failed / closed deployments (`null` with no deployments).
    pub change_failure_rate: Option<f64>,
    /// Time to restore.
    pub time_to_restore: Restore,
}

/// Lead time for changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadTime {
    /// Commits measured.
    pub commits: usize,
    /// Median, in seconds.
    pub median_seconds: Option<i64>,
    /// Mean, in seconds.
    pub mean_seconds: Option<i64>,
}

/// Time to restore service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restore {
    /// Failures followed by a successful deployment.
    pub restored: usize,
    /// Failures not (yet) followed by one.
    pub unrestored: usize,
    /// Median, in seconds.
    pub median_seconds: Option<i64>,
}

fn ts(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse().ok())
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// Compute the figures for `environment` (all when `None`) in `since..until`.
pub fn compute(
    bundles: &[Bundle],
    environment: Option<&str>,
    since: Timestamp,
    until: Timestamp,
) -> Dora {
    let in_env = |b: &&Bundle| environment.is_none_or(|e| b.environment == e);
    let in_window = |t: Timestamp| t >= since && t <= until;
    let mut closed: Vec<(&Bundle, Timestamp, bool)> = Vec::new();
    let mut open = 0;
    for b in bundles.iter().filter(in_env) {
        match (
            ts(b.timestamps.closed_at.as_deref()),
            b.record.result.as_deref(),
        ) {
            (Some(t), Some(r)) => {
                if in_window(t) {
                    closed.push((b, t, r == "success"));
                }
            }
            _ => {
                if ts(Some(&b.timestamps.opened_at)).is_some_and(in_window) {
                    open += 1;
                }
            }
        }
    }
    closed.sort_by_key(|(b, t, _)| (*t, b.id.clone()));

    let mut lead: Vec<i64> = Vec::new();
    for (b, t, ok) in &closed {
        if !ok {
            continue;
        }
        for c in &b.commits.list {
            if let Some(ct) = ts(Some(&c.committed_at)) {
                lead.push((*t - ct).get_seconds().max(0));
            }
        }
    }
    let mean = (!lead.is_empty()).then(|| {
        let n = i64::try_from(lead.len()).unwrap_or(i64::MAX);
        lead.iter().sum::<i64>() / n
    });

    // Time to restore, per environment, in time order.
    let mut by_env: BTreeMap<&str, Vec<(Timestamp, bool)>> = BTreeMap::new();
    for (b, t, ok) in &closed {
        by_env
            .entry(b.environment.as_str())
            .or_default()
            .push((*t, *ok));
    }
    let mut restore: Vec<i64> = Vec::new();
    let mut unrestored = 0;
    for list in by_env.values() {
        let mut broken_since: Option<Timestamp> = None;
        for (t, ok) in list {
            match (ok, broken_since) {
                (false, None) => broken_since = Some(*t),
                (true, Some(since)) => {
                    restore.push((*t - since).get_seconds());
                    broken_since = None;
                }
                _ => {}
            }
        }
        if broken_since.is_some() {
            unrestored += 1;
        }
    }

    let deployments = closed.len();
    let failed = closed.iter().filter(|(_, _, ok)| !ok).count();
    let days = ((until - since).get_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
    let per_day = deployments as f64 / days;
    Dora {
        environment: environment.map(str::to_owned),
        since: since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        until: until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        days: (days * 100.0).round() / 100.0,
        deployments,
        successful: deployments - failed,
        failed,
        open,
        deployments_per_day: round(per_day, 3),
        deployments_per_week: round(per_day * 7.0, 3),
        lead_time: LeadTime {
            commits: lead.len(),
            median_seconds: median(&mut lead),
            mean_seconds: mean,
        },
        change_failure_rate: (deployments > 0)
            .then(|| round(failed as f64 / deployments as f64, 4)),
        time_to_restore: Restore {
            restored: restore.len(),
            unrestored,
            median_seconds: median(&mut restore),
        },
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `2d 3h`, `45m`, `0s`.
pub fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 && d == 0 {
        parts.push(format!("{m}m"));
    }
    if sec > 0 && d == 0 && h == 0 {
        parts.push(format!("{sec}s"));
    }
    if parts.is_empty() {
        parts.push("0s".into());
    }
    parts.join(" ")
}

fn rows(d: &Dora) -> Vec<(&'static str, String)> {
    vec![
        (
            "deployment frequency",
            format!(
                "{:.2}/day ({:.2}/week), {}",
                d.deployments_per_day,
                d.deployments_per_week,
                count(d.deployments, "deployment", "deployments")
            ),
        ),
        (
            "lead time for changes",
            match d.lead_time.median_seconds {
                Some(m) => format!(
                    "median {} ({})",
                    human_secs(m),
                    count(d.lead_time.commits, "commit", "commits")
                ),
                None => "no commits deployed".into(),
            },
        ),
        (
            "change failure rate",
            match d.change_failure_rate {
                Some(r) => format!("{:.1}% ({} of {})", r * 100.0, d.failed, d.deployments),
                None => "no deployments".into(),
            },
        ),
        (
            "time to restore",
            match d.time_to_restore.median_seconds {
                Some(m) => format!(
                    "median {} ({} restored, {} not restored)",
                    human_secs(m),
                    d.time_to_restore.restored,
                    d.time_to_restore.unrestored
                ),
                None if d.time_to_restore.unrestored > 0 => format!(
                    "not restored yet ({})",
                    count(d.time_to_restore.unrestored, "failure", "failures")
                ),
                None => "no failures".into(),
            },
        ),
    ]
}

fn title(d: &Dora) -> String {
    format!(
        "DORA metrics for {}, {} .. {} ({} days)",
        d.environment.as_deref().unwrap_or("all environments"),
        &d.since[..10.min(d.since.len())],
        &d.until[..10.min(d.until.len())],
        d.days
    )
}

/// A plain table.
pub fn table(d: &Dora) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", title(d));
    for (k, v) in rows(d) {
        let _ = writeln!(s, "  {k:<22} {v}");
    }
    if d.open > 0 {
        let _ = writeln!(
            s,
            "  ({} not counted)",
            count(d.open, "open record", "open records")
        );
    }
    s
}

/// A markdown summary.
pub fn markdown(d: &Dora) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {}\n", title(d));
    let _ = writeln!(s, "| metric | value |\n| --- | --- |");
    for (k, v) in rows(d) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    if d.open > 0 {
        let _ = writeln!(
            s,
            "\n{} not counted.",
            count(d.open, "open record", "open records")
        );
    }
    s
}
