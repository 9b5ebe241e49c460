//! The GitHub backend: a deployment with statuses.

use paved_core::http::{Client, Secret};
use paved_forge::GitHubConfig;
use paved_forge::deployments::GitHubDeployments;

use super::{
    Approval, Backend, DIGEST_LABEL, Kind, Opened, Outcome, State, forge_err, parse_id, previous,
    spec,
};
use crate::bundle::{Bundle, Previous};
use crate::error::Result;

/// A GitHub deployment: created with status `queued`; `wait` treats `in_progress` and `success`
/// as approved (set by a deployment protection app or a person), `failure`/`error` as rejected
/// and `inactive` as cancelled; `close` adds `success` or `failure`.
#[derive(Debug)]
pub struct GitHubBackend {
    deployments: GitHubDeployments,
    token: Option<Secret>,
    production: bool,
}

impl GitHubBackend {
    /// From `config`.
    pub fn new(client: Client, config: GitHubConfig, production: bool) -> Self {
        GitHubBackend {
            token: config.token.clone(),
            deployments: GitHubDeployments::new(client, config),
            production,
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
        let d = self
            .deployments
            .create(&spec(bundle, self.production))
            .map_err(forge_err)?;
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
        let status = self
            .deployments
            .latest_status(parse_id(id)?)
            .map_err(forge_err)?;
        Ok(State {
            approval: gh_state(&status),
            label: status,
        })
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
