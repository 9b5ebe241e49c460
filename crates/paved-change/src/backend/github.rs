//! The GitHub backend: a deployment with statuses, gated by the environment's required reviewers
//! on the workflow run that opened it.

use std::sync::{Mutex, PoisonError};

use paved_core::http::{Client, Secret};
use paved_forge::GitHubConfig;
use paved_forge::deployments::{GitHubDeployments, Protection, RunReview};

use super::{
    Approval, Backend, DIGEST_LABEL, Kind, Opened, Outcome, Review, State, forge_err, parse_id,
    previous, seen_reviews, spec,
};
use crate::bundle::{Bundle, Previous};
use crate::error::Result;

/// A GitHub deployment: created with status `queued`, with the workflow run id in its payload.
/// A status someone posts decides first (`in_progress`/`success` approved, `failure`/`error`
/// rejected, `inactive` cancelled); otherwise `wait` reads the run's review of the environment
/// (required reviewers gate the run's job in that `environment:`, not paved's deployment): a run
/// waiting for review, or not yet at that job, is pending; otherwise the latest review decides. An
/// environment with no protection rules (other than a branch policy) gates nothing, so a change
/// to it is approved. An environment held only by a wait timer is approved when the timer
/// elapses (`wait_timer_started_at` + `wait_timer`), or when the run stops waiting on it; one
/// held by a custom deployment protection rule (a GitHub App) is pending while the run waits on
/// it, approved once the run no longer does, and rejected when the run ended instead.
/// `close` adds `success` or `failure`.
#[derive(Debug)]
pub struct GitHubBackend {
    deployments: GitHubDeployments,
    token: Option<Secret>,
    production: bool,
    /// The reviews the last `state` read, by deployment id.
    seen: Mutex<Option<(u64, Vec<Review>)>>,
    /// The workflow run and environment of the deployment `state` last read (they never change,
    /// so polls do not read the deployment again).
    run: Mutex<Option<(u64, Option<RunOf>)>>,
    /// The deployment whose run `state` has seen waiting on its environment.
    seen_waiting: Mutex<Option<u64>>,
}

impl GitHubBackend {
    /// From `config`.
    pub fn new(client: Client, config: GitHubConfig, production: bool) -> Self {
        GitHubBackend {
            token: config.token.clone(),
            deployments: GitHubDeployments::new(client, config),
            production,
            seen: Mutex::new(None),
            run: Mutex::new(None),
            seen_waiting: Mutex::new(None),
        }
    }
}

impl GitHubBackend {
    /// The evidence digest deployment `id` records: the newest status that names one (a re-run
    /// whose evidence changed adds one), else the payload's `evidence_digest`.
    fn digest_of(&self, id: u64, payload: &serde_json::Value) -> Result<Option<String>> {
        let statuses = self.deployments.statuses(id).map_err(forge_err)?;
        if let Some(d) = statuses
            .iter()
            .find_map(|s| digest_after_label(&s.description))
        {
            return Ok(Some(d));
        }
        // GitHub returns the payload as it was given: an object, or a string holding JSON.
        let payload = match payload {
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
            other => other.clone(),
        };
        Ok(payload["evidence_digest"].as_str().map(str::to_owned))
    }
}

/// The `sha256:` digest after [`DIGEST_LABEL`] in a status description paved wrote
/// (`paved-change chg-… paved evidence digest: sha256:…`).
fn digest_after_label(text: &str) -> Option<String> {
    let rest = text.strip_prefix("paved-change chg-")?;
    let (_, rest) = rest.split_once(DIGEST_LABEL)?;
    rest.split_whitespace()
        .next()
        .filter(|d| d.starts_with("sha256:") && crate::validate::is_digest(d))
        .map(str::to_owned)
}

/// The run id to record in the deployment's payload: the bundle's, or the one in its run URL.
fn run_id(bundle: &Bundle) -> Option<u64> {
    bundle
        .ci
        .run_id
        .as_deref()
        .and_then(|r| r.trim().parse().ok())
        .or_else(|| {
            let url = bundle.ci.run_url.as_deref()?;
            let rest = url.split("/actions/runs/").nth(1)?;
            rest.split('/').next()?.parse().ok()
        })
}

/// A deployment's workflow run id and environment.
type RunOf = (u64, String);

impl GitHubBackend {
    /// The run and environment of deployment `id`, read once.
    fn run_of(&self, id: u64) -> Result<Option<RunOf>> {
        let mut cached = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, run)) = &*cached
            && *seen == id
        {
            return Ok(run.clone());
        }
        let run = self.deployments.run_of(id).map_err(forge_err)?;
        *cached = Some((id, run.clone()));
        Ok(run)
    }

    /// The protection rules of `environment` (read on each poll that needs them: they can
    /// change while a change waits).
    fn protection_of(&self, environment: &str) -> Result<Protection> {
        self.deployments
            .environment_protection(environment)
            .map_err(forge_err)
    }

    /// Where a run waiting on `environment` with no reviewer to ask stands: a custom rule's app
    /// decides, a wait timer elapses, or (neither) it waits for review.
    fn waiting_without_reviewers(
        &self,
        run: u64,
        environment: &str,
        review: &RunReview,
    ) -> Result<State> {
        let protection = self.protection_of(environment)?;
        if !protection.custom.is_empty() {
            return Ok(State {
                approval: Approval::Pending,
                label: format!(
                    "`{environment}` waiting for its deployment protection rule ({}) in run {run}",
                    protection.custom.join(", ")
                ),
            });
        }
        let minutes = review.wait_timer_minutes.or(protection.wait_timer_minutes);
        if let Some(minutes) = minutes
            && !protection.required_reviewers
        {
            let ends = review
                .wait_timer_started_at
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .and_then(|t| {
                    t.checked_add(jiff::SignedDuration::from_mins(minutes.try_into().ok()?))
                        .ok()
                });
            return Ok(match ends {
                Some(ends) if jiff::Timestamp::now() >= ends => State {
                    approval: Approval::Approved,
                    label: format!(
                        "`{environment}`'s wait timer of {minutes} min elapsed at {ends} in run {run}"
                    ),
                },
                Some(ends) => State {
                    approval: Approval::Pending,
                    label: format!(
                        "`{environment}` waiting for its wait timer of {minutes} min in run {run}: it elapses at {ends}"
                    ),
                },
                None => State {
                    approval: Approval::Pending,
                    label: format!(
                        "`{environment}` waiting for its wait timer of {minutes} min in run {run}"
                    ),
                },
            });
        }
        Ok(State {
            approval: Approval::Pending,
            label: format!("`{environment}` waiting for review in run {run}"),
        })
    }

    /// A run that waited on a gate no reviewer decides (a custom rule, a wait timer) and no
    /// longer does: the job started (approved), unless the run ended instead (rejected).
    fn gate_passed(&self, run: u64, environment: &str) -> Result<State> {
        let status = self.deployments.run_status(run).map_err(forge_err)?;
        Ok(match status.conclusion.as_deref() {
            Some(conclusion) if status.status == "completed" && conclusion != "success" => State {
                approval: Approval::Rejected,
                label: format!(
                    "run {run} ended `{conclusion}` while `{environment}`'s protection rules held it"
                ),
            },
            _ => State {
                approval: Approval::Approved,
                label: format!("`{environment}`'s protection rules let run {run} go on"),
            },
        })
    }
}

fn gh_state(status: &str) -> Approval {
    match status {
        "in_progress" | "success" => Approval::Approved,
        "failure" | "error" => Approval::Rejected,
        "inactive" => Approval::Cancelled,
        _ => Approval::Pending,
    }
}

impl Backend for GitHubBackend {
    fn kind(&self) -> Kind {
        Kind::Github
    }

    fn last_deployment(&self, environment: &str) -> Result<Option<Previous>> {
        Ok(self
            .deployments
            .last_successful(environment)
            .map_err(forge_err)?
            .map(previous))
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let mut s = spec(bundle, self.production);
        if let Some(run) = run_id(bundle) {
            s.payload["run_id"] = run.into();
        }
        let d = self.deployments.create(&s).map_err(forge_err)?;
        let mut status = d.status.clone();
        // `digest_after_label` reads it back.
        let note = |digest: &str| format!("paved-change {} {DIGEST_LABEL} {digest}", bundle.id);
        if status == "none" {
            self.deployments
                .set_status(
                    d.id,
                    "queued",
                    &bundle
                        .record
                        .evidence_digest
                        .as_deref()
                        .map_or_else(|| format!("paved-change {}", bundle.id), note),
                    bundle.ci.run_url.as_deref(),
                )
                .map_err(forge_err)?;
            status = "queued".into();
        } else if let Some(digest) = &bundle.record.evidence_digest
            && self.digest_of(d.id, &d.payload)?.as_ref() != Some(digest)
        {
            // A re-run whose evidence changed: a deployment's payload cannot be changed, so the
            // new digest goes into a status of the state the deployment is in.
            self.deployments
                .set_status(d.id, &status, &note(digest), bundle.ci.run_url.as_deref())
                .map_err(forge_err)?;
        }
        Ok(Opened {
            id: d.id.to_string(),
            number: d.number.to_string(),
            url: d.url,
            created: d.created,
            approval: gh_state(&status),
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        let id = parse_id(id)?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let status = self.deployments.latest_status(id).map_err(forge_err)?;
        let approval = gh_state(&status);
        if approval != Approval::Pending {
            return Ok(State {
                approval,
                label: status,
            });
        }
        let Some((run, environment)) = self.run_of(id)? else {
            return Ok(State {
                approval,
                label: format!("{status} (no workflow run recorded: waiting for a status)"),
            });
        };
        let review = self
            .deployments
            .run_review(run, &environment)
            .map_err(forge_err)?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((id, review.reviews.clone()));
        // A run waiting on the environment has a review outstanding, whatever an earlier
        // attempt's reviewers decided; otherwise the latest decision for it stands.
        let decided = review
            .reviews
            .iter()
            .rev()
            .find(|r| matches!(r.state.as_str(), "approved" | "rejected"));
        let mut seen_waiting = self
            .seen_waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if review.waiting {
            *seen_waiting = Some(id);
        }
        let waited = *seen_waiting == Some(id);
        drop(seen_waiting);
        Ok(match decided {
            _ if review.waiting && review.reviewers.is_empty() => {
                self.waiting_without_reviewers(run, &environment, &review)?
            }
            _ if review.waiting => State {
                approval: Approval::Pending,
                label: format!(
                    "`{environment}` waiting for review by {} in run {run}",
                    review.reviewers.join(", ")
                ),
            },
            Some(r) => State {
                approval: if r.state == "approved" {
                    Approval::Approved
                } else {
                    Approval::Rejected
                },
                label: format!("`{environment}` {} by {}", r.state, r.user),
            },
            None if !self.protection_of(&environment)?.gated() => State {
                approval: Approval::Approved,
                label: format!("`{environment}` has no protection rules: nothing to approve"),
            },
            // It waited on a gate no review decides, and no longer does.
            None if waited => self.gate_passed(run, &environment)?,
            None => State {
                approval: Approval::Pending,
                label: format!("{status}: run {run} is not waiting on `{environment}` yet"),
            },
        })
    }

    fn reviews(&self, id: &str) -> Result<Vec<Review>> {
        seen_reviews(&self.seen, id)
    }

    fn close(
        &self,
        id: &str,
        outcome: Outcome,
        notes: &str,
        bundle: Option<&Bundle>,
    ) -> Result<()> {
        let description = if notes.is_empty() {
            format!("deployment {}", outcome.as_str())
        } else {
            notes.to_owned()
        };
        self.deployments
            .set_status(
                parse_id(id)?,
                outcome.as_str(),
                &description,
                bundle.and_then(|b| b.ci.run_url.as_deref()),
            )
            .map_err(forge_err)
    }

    fn secret(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    fn recorded_digest(&self, id: &str) -> Result<Option<String>> {
        let d = self.deployments.get(parse_id(id)?).map_err(forge_err)?;
        self.digest_of(d.id, &d.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::digest_after_label;

    #[test]
    fn only_a_status_paved_wrote_names_a_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            digest_after_label(&format!(
                "paved-change chg-0123456789abcdef paved evidence digest: {d}"
            )),
            Some(d.clone())
        );
        // `close --notes` text, or another tool's status, is not read as one.
        assert_eq!(
            digest_after_label(&format!("all good. paved evidence digest: {d}")),
            None
        );
        assert_eq!(
            digest_after_label("paved-change chg-1 paved evidence digest: sha256:abc"),
            None
        );
    }
}
