//! The GitLab backend: a deployment, approved through a protected environment.

use paved_core::http::{Client, Secret};
use paved_forge::GitLabConfig;
use paved_forge::deployments::{Deployment, GitLabDeployments};

use super::{Approval, Backend, Kind, Opened, Outcome, State, forge_err, parse_id, previous, spec};
use crate::bundle::{Bundle, Previous};
use crate::error::Result;

/// A GitLab deployment: created `running`; `blocked` (a protected environment waiting for
/// approval) and `created` are pending, `running` and `success` approved, a `rejected` approval
/// or `failed` rejected, `canceled` cancelled; `close` sets `success` or `failed`.
#[derive(Debug)]
pub struct GitLabBackend {
    deployments: GitLabDeployments,
    token: Option<Secret>,
}

impl GitLabBackend {
    /// From `config`.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLabBackend {
            token: config.token.as_ref().map(|t| t.secret().clone()),
            deployments: GitLabDeployments::new(client, config),
        }
    }
}

fn gl_state(d: &Deployment) -> State {
    let approval = if d.approvals.iter().any(|a| a == "rejected") {
        Approval::Rejected
    } else {
        match d.status.as_str() {
            "running" | "success" => Approval::Approved,
            "failed" => Approval::Rejected,
            "canceled" | "skipped" => Approval::Cancelled,
            _ => Approval::Pending,
        }
    };
    State {
        approval,
        label: d.status.clone(),
    }
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
        Ok(Opened {
            id: d.id.to_string(),
            number: d.number.to_string(),
            approval: gl_state(&d).approval,
            url: d.url,
            created: d.created,
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        let d = self.deployments.get(parse_id(id)?).map_err(forge_err)?;
        Ok(gl_state(&d))
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
}
