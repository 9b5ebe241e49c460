//! The GitLab backend: a deployment, approved through a protected environment.
//!
//! A GitLab deployment has no free-form field, so the evidence digest is recorded as a commit
//! status on the deployed commit: name [`EVIDENCE_STATUS`], state `success`, description
//! `paved evidence digest: sha256:…`, linked to the CI job. It is visible in the commit's and the
//! pipeline's status list, cannot be edited (only a newer one posted), and `verify` reads the
//! newest one back through the deployment's sha.

use std::sync::{Mutex, PoisonError};

use paved_core::http::{Client, Secret};
use paved_forge::GitLabConfig;
use paved_forge::deployments::{CommitStatus, Deployment, GitLabDeployments};

use super::{
    Approval, Backend, DIGEST_LABEL, Kind, Opened, Outcome, Review, State, digest_in, forge_err,
    parse_id, previous, seen_reviews, spec,
};
use crate::bundle::{Bundle, Previous};
use crate::error::Result;

/// A GitLab deployment: created `running`. One `rejected` approval, or `failed`, rejects it;
/// `canceled`/`skipped` cancel it; `blocked` (a protected environment waiting for approval) and
/// `created` are pending. `running` and `success` are approved only when no approval is still
/// needed (`pending_approval_count` is 0, or absent: GitLab Free has no approval rules);
/// `close` sets `success` or `failed`.
#[derive(Debug)]
pub struct GitLabBackend {
    deployments: GitLabDeployments,
    token: Option<Secret>,
    /// The approvals the last `state` read, by deployment id.
    seen: Mutex<Option<(u64, Vec<Review>)>>,
}

impl GitLabBackend {
    /// From `config`.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLabBackend {
            token: config.token.as_ref().map(|t| t.secret().clone()),
            deployments: GitLabDeployments::new(client, config),
            seen: Mutex::new(None),
        }
    }
}

/// The name of the commit status that holds the evidence digest.
pub const EVIDENCE_STATUS: &str = "paved-change/evidence";

impl GitLabBackend {
    /// The evidence digest recorded on `sha`: the newest [`EVIDENCE_STATUS`] status naming one.
    fn digest_on(&self, sha: &str) -> Result<Option<String>> {
        Ok(self
            .deployments
            .commit_statuses(sha, EVIDENCE_STATUS)
            .map_err(forge_err)?
            .iter()
            .find_map(|s| digest_in(&s.description)))
    }
}

fn gl_state(d: &Deployment) -> State {
    let outstanding = d.pending_approval_count.unwrap_or(0);
    if let Some(r) = d.approvals.iter().find(|a| a.state == "rejected") {
        return State {
            approval: Approval::Rejected,
            label: format!("{} (rejected by {})", d.status, r.user),
        };
    }
    let approval = match d.status.as_str() {
        "running" | "success" if outstanding == 0 => Approval::Approved,
        "failed" => Approval::Rejected,
        "canceled" | "skipped" => Approval::Cancelled,
        _ => Approval::Pending,
    };
    let label = if outstanding > 0 {
        let s = if outstanding == 1 { "" } else { "s" };
        format!("{} ({outstanding} approval{s} needed)", d.status)
    } else {
        d.status.clone()
    };
    State { approval, label }
}

impl Backend for GitLabBackend {
    fn kind(&self) -> Kind {
        Kind::Gitlab
    }

    fn last_deployment(&self, environment: &str) -> Result<Option<Previous>> {
        Ok(self
            .deployments
            .last_successful(environment)
            .map_err(forge_err)?
            .map(previous))
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let mut s = spec(bundle, false);
        if let Some(r) = &bundle.ci.ref_name {
            s.ref_name.clone_from(r);
        }
        let d = self.deployments.create(&s).map_err(forge_err)?;
        // Recorded once per digest: a re-run with the same evidence posts nothing.
        if let Some(digest) = &bundle.record.evidence_digest
            && self.digest_on(&d.sha)?.as_ref() != Some(digest)
        {
            let status = CommitStatus {
                state: "success".into(),
                name: EVIDENCE_STATUS.into(),
                description: format!("{DIGEST_LABEL} {digest}"),
                ref_name: Some(s.ref_name.clone()).filter(|r| !r.is_empty() && *r != d.sha),
                target_url: bundle.ci.run_url.clone(),
            };
            self.deployments
                .post_commit_status(&d.sha, &status)
                .map_err(forge_err)?;
        }
        Ok(Opened {
            id: d.id.to_string(),
            number: d.number.to_string(),
            approval: gl_state(&d).approval,
            url: d.url,
            created: d.created,
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        let id = parse_id(id)?;
        let d = self.deployments.get(id).map_err(forge_err)?;
        let state = gl_state(&d);
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some((id, d.approvals));
        Ok(state)
    }

    fn reviews(&self, id: &str) -> Result<Vec<Review>> {
        seen_reviews(&self.seen, id)
    }

    fn close(&self, id: &str, outcome: Outcome, _: &str, _: Option<&Bundle>) -> Result<()> {
        let status = match outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failed",
        };
        self.deployments
            .set_status(parse_id(id)?, status)
            .map_err(forge_err)?;
        Ok(())
    }

    fn secret(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    fn recorded_digest(&self, id: &str) -> Result<Option<String>> {
        let d = self.deployments.get(parse_id(id)?).map_err(forge_err)?;
        self.digest_on(&d.sha)
    }
}
