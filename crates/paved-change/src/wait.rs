//! The approval gate: poll a record until it is decided or the time is up, logging one line per
//! state change (never one per poll).

use std::time::Duration;

use paved_core::http::Clock;

use crate::backend::{Approval, Backend, Kind, Review, State};
use crate::error::{Error, Result};

/// How `wait` ended (a timeout is an error: exit 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Approved, rejected or cancelled.
    pub approval: Approval,
    /// The backend's words for the final state.
    pub label: String,
    /// How many times the record was read.
    pub polls: u32,
    /// Who decided, when and with what comment, from the backend's approval records (empty when
    /// the backend keeps none).
    pub reviews: Vec<Review>,
}

/// Poll `id` every `interval` until it is approved, rejected or cancelled, or `timeout` has
/// passed. `log` gets one line per state change.
pub fn wait(
    backend: &dyn Backend,
    id: &str,
    timeout: Duration,
    interval: Duration,
    clock: &dyn Clock,
    log: &mut dyn FnMut(&str),
) -> Result<Decision> {
    let start = clock.now();
    let interval = interval.max(Duration::from_millis(1));
    let mut last: Option<State> = None;
    let mut polls = 0;
    loop {
        let state = backend.state(id)?;
        polls += 1;
        if last.as_ref() != Some(&state) {
            let waited = clock.now().duration_since(start).unwrap_or_default();
            log(&format!(
                "change {id}: {} [{}] after {}",
                state.label,
                state.approval.as_str(),
                human(waited)
            ));
        }
        if state.approval != Approval::Pending {
            return Ok(Decision {
                approval: state.approval,
                label: state.label,
                polls,
                reviews: backend.reviews(id)?,
            });
        }
        let elapsed = clock.now().duration_since(start).unwrap_or_default();
        if elapsed >= timeout {
            return Err(Error::Timeout {
                id: id.to_owned(),
                waited: human(timeout),
                state: state.label,
            });
        }
        last = Some(state);
        clock.sleep(interval.min(timeout - elapsed));
    }
}

/// `1h 5m`, `30s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec}s"));
    }
    parts.join(" ")
}

/// Parse `90d`, `4h`, `30s`, `1h 30m` (or ISO 8601 `PT1H`) into a duration; days are 24 hours.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(
            format!("`{flag} {text}` is not a duration"),
            "use a number and a unit, e.g. `30s`, `15m`, `4h` or `90d`",
        )
    };
    let span: jiff::Span = text.trim().parse().map_err(|_| bad())?;
    let secs = span
        .total(jiff::SpanTotal::from(jiff::Unit::Second).days_are_24_hours())
        .map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One line a person reads about a review: `approved by grace at 2026-01-05T10:20:00Z: lgtm`
/// (the comment on one line, cut to 200 characters; the CI sink shields it when printed).
pub fn review_line(r: &Review) -> String {
    format!("{} {}", r.state, decided_by(r, false))
}

/// `by grace at 2026-01-05T10:20:00Z: lgtm`, the comment quoted when `quote`.
fn decided_by(r: &Review, quote: bool) -> String {
    let mut line = format!("by {}", r.user);
    if let Some(at) = &r.at {
        line.push_str(&format!(" at {at}"));
    }
    if let Some(comment) = &r.comment {
        let one: String = comment
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        if quote {
            line.push_str(&format!(": \"{one}\""));
        } else {
            line.push_str(&format!(": {one}"));
        }
    }
    line
}

/// What `wait` says when change `change` (the number people use, or the id given) in `backend`
/// was not approved: the change, its approval and the backend's own state, who decided and why
/// (when the backend keeps approval records), and what to do next.
pub fn refusal(change: &str, backend: Kind, decision: &Decision) -> String {
    let approval = decision.approval.as_str();
    let deciders: Vec<String> = decision
        .reviews
        .iter()
        .filter(|r| r.state == approval)
        .map(|r| decided_by(r, true))
        .collect();
    let who = if deciders.is_empty() {
        String::new()
    } else {
        format!(": {approval} {}", deciders.join("; and "))
    };
    let next = match decision.approval {
        Approval::Cancelled => "open a new change for the next deployment",
        _ => {
            "address the reasons given, then ask for approval again (re-run the pipeline: `paved-change open` finds the change, or opens a new one)"
        }
    };
    format!(
        "change {change} ({backend}) was {approval}, state {}{who}. Do not deploy it: {next}.",
        decision.label
    )
}

/// The `approved-by` output: who approved, comma-separated, each once, in review order.
pub fn approvers(reviews: &[Review]) -> String {
    let mut users: Vec<&str> = Vec::new();
    for r in reviews.iter().filter(|r| r.state == "approved") {
        if !users.contains(&r.user.as_str()) {
            users.push(&r.user);
        }
    }
    users.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(approval: Approval, label: &str, reviews: Vec<Review>) -> Decision {
        Decision {
            approval,
            label: label.to_owned(),
            polls: 1,
            reviews,
        }
    }

    fn review(user: &str, state: &str, comment: Option<&str>) -> Review {
        Review {
            user: user.to_owned(),
            state: state.to_owned(),
            at: Some("2026-01-05T10:20:00Z".to_owned()),
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn a_rejection_names_the_change_its_approval_the_approver_and_what_to_do() {
        let d = decision(
            Approval::Rejected,
            "New (approval rejected)",
            vec![
                review("Abel Tuter", "approved", Some("fine by me")),
                review(
                    "Bernard Laboy",
                    "rejected",
                    Some("The backout plan\nwas never tested"),
                ),
            ],
        );
        assert_eq!(
            refusal("CHG0030001", Kind::Servicenow, &d),
            "change CHG0030001 (servicenow) was rejected, state New (approval rejected): rejected \
             by Bernard Laboy at 2026-01-05T10:20:00Z: \"The backout plan was never tested\". Do \
             not deploy it: address the reasons given, then ask for approval again (re-run the \
             pipeline: `paved-change open` finds the change, or opens a new one)."
        );
    }

    #[test]
    fn a_rejection_without_approval_records_names_the_backend_state() {
        let d = decision(Approval::Rejected, "rejected", Vec::new());
        let text = refusal("chg-1f2e", Kind::File, &d);
        assert!(
            text.starts_with(
                "change chg-1f2e (file) was rejected, state rejected. Do not deploy it: address the reasons given"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_cancelled_change_asks_for_a_new_one() {
        let d = decision(Approval::Cancelled, "Canceled", Vec::new());
        assert_eq!(
            refusal("CHG0030002", Kind::Servicenow, &d),
            "change CHG0030002 (servicenow) was cancelled, state Canceled. Do not deploy it: open a new change for the next deployment."
        );
    }
}
