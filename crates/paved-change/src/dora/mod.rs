//! DORA's four keys from deployments, wherever they are recorded ([`sources`]), kept in
//! PostgreSQL at scale ([`store`]), rendered as text, markdown and HTML ([`render`]).
//!
//! Every source is turned into [`Deployment`]s first; the figures are computed from those alone:
//! - **deployment frequency**: finished deployments (success or failure) in the window, per day
//!   and per week;
//! - **lead time for changes**: for each commit of a successful deployment, the time from the
//!   commit landing (committer time) to the deployment finishing; the median, the 90th percentile
//!   (nearest rank: the value at position ⌈0.9·n⌉ of the sorted list) and the mean;
//! - **change failure rate**: failed deployments / finished deployments;
//! - **time to restore**: from a failed deployment (the first of a run of failures) to the next
//!   successful deployment of the same repository to the same environment; the median. Failures
//!   not yet followed by a success are counted as unrestored.
//!
//! The figures are given in total, per repository, per environment and per ISO week (a restore
//! belongs to the week, repository and environment of the failure it ends; a week's frequency
//! is over the days of that week inside the window). Records that are not finished are counted
//! as open and left out of the figures.

pub mod render;
pub mod sources;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;

pub use render::{html, human_secs, markdown, table};

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed (a change failure).
    Failure,
    /// Not finished yet: counted as open, left out of the figures.
    Open,
}

impl Outcome {
    /// `success`, `failure` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Open => "open",
        }
    }

    /// The outcome named `s` (as [`Outcome::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "open" => Some(Outcome::Open),
            _ => None,
        }
    }
}

/// One deployment, from any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Where it was read: `records`, `github`, `gitlab`, `servicenow` or `ledger`.
    pub source: String,
    /// Its id, unique within the source (the store's key is source and id).
    pub id: String,
    /// The repository (`owner/name`, a GitLab project path, an image repository).
    pub repository: String,
    /// The environment.
    pub environment: String,
    /// When it finished (RFC 3339); when it was opened, for an open one.
    pub at: String,
    /// How it ended.
    pub outcome: Outcome,
    /// When each commit it deployed landed (RFC 3339), for the lead time.
    pub committed_at: Vec<String>,
}

impl Deployment {
    /// The local evidence bundles as deployments.
    pub fn from_bundle(b: &Bundle) -> Deployment {
        let closed = b.timestamps.closed_at.clone();
        let (at, outcome) = match (closed, b.record.result.as_deref()) {
            (Some(t), Some(r)) => (
                t,
                if r == "success" {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
            ),
            _ => (b.timestamps.opened_at.clone(), Outcome::Open),
        };
        Deployment {
            source: "records".into(),
            id: b.id.clone(),
            repository: b
                .repository
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| LOCAL_REPOSITORY.into()),
            environment: b.environment.clone(),
            at,
            outcome,
            committed_at: b
                .commits
                .list
                .iter()
                .map(|c| c.committed_at.clone())
                .collect(),
        }
    }
}

/// The repository name of a local record that names none.
pub const LOCAL_REPOSITORY: &str = "(local)";

/// The four figures over one set of deployments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Finished deployments.
    pub deployments: usize,
    /// Of which successful.
    pub successful: usize,
    /// Of which failed.
    pub failed: usize,
    /// Records opened and not finished (left out of the figures).
    pub open: usize,
    /// Deployments per day.
    pub deployments_per_day: f64,
    /// Deployments per week.
    pub deployments_per_week: f64,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Failed / finished deployments (`null` with no deployments).
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
    /// 90th percentile (nearest rank), in seconds.
    pub p90_seconds: Option<i64>,
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

/// The figures of one repository or environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The repository or environment.
    pub name: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of one ISO week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    /// The ISO week, e.g. `2026-W02`.
    pub week: String,
    /// Its Monday (`YYYY-MM-DD`).
    pub starts: String,
    /// Its figures (frequency over the days of the week inside the window).
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures in total (flattened at the top level), per repository, environment and week.
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
    /// The figures over everything.
    #[serde(flatten)]
    pub total: Figures,
    /// Per repository, by name.
    pub repositories: Vec<Group>,
    /// Per environment, by name.
    pub environments: Vec<Group>,
    /// Per ISO week, oldest first; every week of the window is listed.
    pub weeks: Vec<Week>,
}

fn ts(s: &str) -> Option<Timestamp> {
    s.parse().ok()
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

/// Nearest rank: the value at position ⌈p·n⌉ (1-based) of the sorted list.
fn percentile(v: &mut [i64], p: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    Some(v[rank - 1])
}

/// A finished deployment in the window, with its lead times.
struct Fact<'a> {
    d: &'a Deployment,
    at: Timestamp,
    ok: bool,
    leads: Vec<i64>,
}

/// A failure (the first of a run), and how long until the next success.
struct Incident<'a> {
    repository: &'a str,
    environment: &'a str,
    start: Timestamp,
    restored_after: Option<i64>,
}

fn week_of(t: Timestamp) -> (String, jiff::civil::Date) {
    let date = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    let iso = date.iso_week_date();
    let monday = iso
        .first_of_week()
        .map_or(date, jiff::civil::ISOWeekDate::date);
    (format!("{:04}-W{:02}", iso.year(), iso.week()), monday)
}

fn midnight(d: jiff::civil::Date) -> Option<Timestamp> {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn days_between(a: Timestamp, b: Timestamp) -> f64 {
    ((b - a).get_seconds() as f64 / 86_400.0).max(1.0 / 24.0)
}

fn figures<'a>(
    facts: impl Iterator<Item = &'a Fact<'a>>,
    incidents: impl Iterator<Item = &'a Incident<'a>>,
    open: usize,
    days: f64,
) -> Figures {
    let mut deployments = 0;
    let mut failed = 0;
    let mut lead: Vec<i64> = Vec::new();
    for f in facts {
        deployments += 1;
        if f.ok {
            lead.extend(&f.leads);
        } else {
            failed += 1;
        }
    }
    let mean = (!lead.is_empty()).then(|| {
        let n = i64::try_from(lead.len()).unwrap_or(i64::MAX);
        lead.iter().sum::<i64>() / n
    });
    let mut restore = Vec::new();
    let mut unrestored = 0;
    for i in incidents {
        match i.restored_after {
            Some(s) => restore.push(s),
            None => unrestored += 1,
        }
    }
    let per_day = deployments as f64 / days;
    Figures {
        deployments,
        successful: deployments - failed,
        failed,
        open,
        deployments_per_day: round(per_day, 3),
        deployments_per_week: round(per_day * 7.0, 3),
        lead_time: LeadTime {
            commits: lead.len(),
            median_seconds: median(&mut lead),
            p90_seconds: percentile(&mut lead, 0.9),
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

/// What a breakdown groups by.
#[derive(Clone, Copy)]
enum By {
    Repository,
    Environment,
}

impl By {
    fn pick<'x>(self, repository: &'x str, environment: &'x str) -> &'x str {
        match self {
            By::Repository => repository,
            By::Environment => environment,
        }
    }

    fn of(self, d: &Deployment) -> &str {
        self.pick(&d.repository, &d.environment)
    }
}

/// The figures of each repository or environment, by name.
fn groups(
    facts: &[Fact<'_>],
    incidents: &[Incident<'_>],
    open: &[(&Deployment, Timestamp)],
    days: f64,
    by: By,
) -> Vec<Group> {
    let names: BTreeSet<&str> = facts
        .iter()
        .map(|f| by.of(f.d))
        .chain(open.iter().map(|(d, _)| by.of(d)))
        .collect();
    names
        .into_iter()
        .map(|name| Group {
            name: name.to_owned(),
            figures: figures(
                facts.iter().filter(|f| by.of(f.d) == name),
                incidents
                    .iter()
                    .filter(|i| by.pick(i.repository, i.environment) == name),
                open.iter().filter(|(d, _)| by.of(d) == name).count(),
                days,
            ),
        })
        .collect()
}

/// Compute the figures for `environment` (all when `None`) in `since..until`.
pub fn compute(
    deployments: &[Deployment],
    environment: Option<&str>,
    since: Timestamp,
    until: Timestamp,
) -> Dora {
    let in_env = |d: &&Deployment| environment.is_none_or(|e| d.environment == e);
    let in_window = |t: Timestamp| t >= since && t <= until;
    let mut facts: Vec<Fact<'_>> = Vec::new();
    let mut open: Vec<(&Deployment, Timestamp)> = Vec::new();
    for d in deployments.iter().filter(in_env) {
        let Some(at) = ts(&d.at).filter(|t| in_window(*t)) else {
            continue;
        };
        if d.outcome == Outcome::Open {
            open.push((d, at));
            continue;
        }
        let ok = d.outcome == Outcome::Success;
        let leads = d
            .committed_at
            .iter()
            .filter_map(|c| ts(c))
            .map(|c| (at - c).get_seconds().max(0))
            .collect();
        facts.push(Fact { d, at, ok, leads });
    }
    facts.sort_by(|a, b| (a.at, &a.d.source, &a.d.id).cmp(&(b.at, &b.d.source, &b.d.id)));

    // Time to restore, per repository and environment, in time order.
    let mut runs: BTreeMap<(&str, &str), Vec<&Fact<'_>>> = BTreeMap::new();
    for f in &facts {
        runs.entry((f.d.repository.as_str(), f.d.environment.as_str()))
            .or_default()
            .push(f);
    }
    let mut incidents: Vec<Incident<'_>> = Vec::new();
    for ((repository, environment), list) in &runs {
        let mut broken: Option<Timestamp> = None;
        for f in list {
            match (f.ok, broken) {
                (false, None) => broken = Some(f.at),
                (true, Some(start)) => {
                    incidents.push(Incident {
                        repository,
                        environment,
                        start,
                        restored_after: Some((f.at - start).get_seconds()),
                    });
                    broken = None;
                }
                _ => {}
            }
        }
        if let Some(start) = broken {
            incidents.push(Incident {
                repository,
                environment,
                start,
                restored_after: None,
            });
        }
    }

    let days = days_between(since, until);
    let total = figures(facts.iter(), incidents.iter(), open.len(), days);

    let repositories = groups(&facts, &incidents, &open, days, By::Repository);
    let environments = groups(&facts, &incidents, &open, days, By::Environment);

    // Every ISO week the window touches, oldest first.
    let mut weeks = Vec::new();
    let (_, mut monday) = week_of(since);
    while let Some(start) = midnight(monday).filter(|t| *t < until) {
        let next = monday.checked_add(jiff::Span::new().days(7)).ok();
        let end = next.and_then(midnight);
        let in_week = |t: Timestamp| t >= start && end.is_none_or(|e| t < e);
        let (name, _) = week_of(start);
        let lo = start.max(since);
        let hi = end.map_or(until, |e| e.min(until));
        weeks.push(Week {
            week: name,
            starts: monday.to_string(),
            figures: figures(
                facts.iter().filter(|f| in_week(f.at)),
                incidents.iter().filter(|i| in_week(i.start)),
                open.iter().filter(|(_, t)| in_week(*t)).count(),
                days_between(lo, hi),
            ),
        });
        match next {
            Some(n) => monday = n,
            None => break,
        }
    }

    Dora {
        environment: environment.map(str::to_owned),
        since: since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        until: until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        days: (days * 100.0).round() / 100.0,
        total,
        repositories,
        environments,
        weeks,
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_90th_percentile_is_the_nearest_rank() {
        // n = 10: rank ⌈9⌉ = 9 → the 9th smallest; n = 4: rank ⌈3.6⌉ = 4 → the largest.
        let mut ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&mut ten, 0.9), Some(9));
        let mut four = vec![40, 10, 30, 20];
        assert_eq!(percentile(&mut four, 0.9), Some(40));
        assert_eq!(percentile(&mut [], 0.9), None);
    }

    #[test]
    fn a_week_is_named_by_its_iso_week() {
        // 2026-01-01 is a Thursday: ISO week 1 of 2026 starts on Monday 2025-12-29.
        let (name, monday) = week_of("2026-01-01T12:00:00Z".parse().unwrap());
        assert_eq!(name, "2026-W01");
        assert_eq!(monday.to_string(), "2025-12-29");
    }
}
