//! Where change records live: the evidence file itself, ServiceNow, GitHub or GitLab
//! deployments, or PagerDuty change events. Each backend creates its record idempotently (a
//! re-run of the same job attempt finds the record it made), reports an approval state, and
//! closes the record with a result.
//!
//! This module owns what every backend shares: the [`Backend`] trait and its types, the one way a
//! backend sends a REST request of its own (`Api`), and the helpers of the two deployment
//! backends. Each backend lives in its own file.

use std::fmt;

use paved_core::http::{Auth, Client, HttpError, Method, RequestBuilder, Response, Secret};
use paved_forge::deployments::{Deployment, DeploymentSpec};
use serde_json::{Value, json};

use crate::bundle::{Bundle, Previous};
use crate::error::{Error, Result};

mod file;
mod github;
mod gitlab;
mod pagerduty;
mod servicenow;

pub use file::FileBackend;
pub use github::GitHubBackend;
pub use gitlab::GitLabBackend;
pub use pagerduty::PagerDuty;
pub use paved_forge::deployments::Review;
pub use servicenow::{ServiceNow, ServiceNowConfig, SnowApi, snow_state};

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The evidence bundle file is the record (no approver: records are approved when opened).
    File,
    /// A ServiceNow `change_request` (the Table API, or the Change Management API).
    Servicenow,
    /// A GitHub deployment with statuses.
    Github,
    /// A GitLab deployment.
    Gitlab,
    /// A PagerDuty change event (informational: never waits).
    Pagerduty,
}

impl Kind {
    /// The name used in flags, config and bundles.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Servicenow => "servicenow",
            Kind::Github => "github",
            Kind::Gitlab => "gitlab",
            Kind::Pagerduty => "pagerduty",
        }
    }

    /// Parse a config value.
    pub fn parse(s: &str) -> Result<Kind> {
        <Kind as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            Error::usage(
                format!("`backend = \"{s}\"` is not a change backend"),
                "use `file`, `servicenow`, `github`, `gitlab` or `pagerduty`",
            )
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Waiting for a decision.
    Pending,
    /// Approved: go ahead.
    Approved,
    /// Rejected by an approver.
    Rejected,
    /// Cancelled (or closed without being approved).
    Cancelled,
}

impl Approval {
    /// The word used in records and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Pending => "pending",
            Approval::Approved => "approved",
            Approval::Rejected => "rejected",
            Approval::Cancelled => "cancelled",
        }
    }
}

/// A record's state as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// What it means for the gate.
    pub approval: Approval,
    /// The backend's own words, e.g. `Assess (approval requested)`: one log line per change.
    pub label: String,
}

/// The record `open` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The backend's id.
    pub id: String,
    /// The number people use.
    pub number: String,
    /// A link to it.
    pub url: Option<String>,
    /// Whether this run created it (`false`: a re-run found it).
    pub created: bool,
    /// Its state right after opening.
    pub approval: Approval,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Outcome {
    /// It worked.
    Success,
    /// It failed (a failed change, for the change failure rate).
    Failure,
}

impl Outcome {
    /// `success` / `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// A change-record system.
pub trait Backend: fmt::Debug {
    /// Which backend.
    fn kind(&self) -> Kind;

    /// The last successful deployment to `environment` the backend knows of.
    fn last_deployment(&self, _environment: &str) -> Result<Option<Previous>> {
        Ok(None)
    }

    /// Create the record for `bundle`, or find the one its correlation id already has.
    fn open(&self, bundle: &Bundle) -> Result<Opened>;

    /// The record's approval state.
    fn state(&self, id: &str) -> Result<State>;

    /// Who approved or rejected the record, when and with what comment, as the backend's own
    /// approval records had it when [`Backend::state`] last read record `id` (GitHub environment
    /// reviews, GitLab deployment approvals); empty for backends that keep none. `wait` asks
    /// once, when the record is decided, so it costs no request of its own.
    fn reviews(&self, _id: &str) -> Result<Vec<Review>> {
        Ok(Vec::new())
    }

    /// Called once when `wait` sees the record approved (ServiceNow moves it to Implement).
    fn start(&self, _id: &str) -> Result<()> {
        Ok(())
    }

    /// Close the record with `outcome`.
    fn close(&self, id: &str, outcome: Outcome, notes: &str, bundle: Option<&Bundle>)
    -> Result<()>;

    /// The credential, so the CI can mask it.
    fn secret(&self) -> Option<&Secret> {
        None
    }

    /// The evidence digest the backend's record `id` holds (`Ok(None)`: this backend keeps none
    /// that can be read back).
    fn recorded_digest(&self, _id: &str) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The line a record's text carries the evidence digest in.
pub const DIGEST_LABEL: &str = "paved evidence digest:";

/// The digest on a [`DIGEST_LABEL`] line of `text` (the last one), when it is a `sha256:` digest.
pub fn digest_in(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(DIGEST_LABEL))
        .map(|d| d.trim().to_owned())
        .filter(|d| d.starts_with("sha256:") && crate::validate::is_digest(d))
}

// ---------------------------------------------------------------------------------------------
// Shared request setup
// ---------------------------------------------------------------------------------------------

/// How a backend that calls its REST API directly (ServiceNow, PagerDuty) sets up a request: the
/// credential, the hint shown when the server refuses it, and a secret that travels in bodies
/// and must be taken out of error messages. Every such request goes through here.
#[derive(Debug)]
struct Api {
    client: Client,
    /// Sent as a header (ServiceNow's Basic or Bearer credential).
    auth: Option<Auth>,
    /// `Accept: application/json` on every request.
    accept_json: bool,
    /// What to check when the server answers `401`/`403`.
    auth_hint: &'static str,
    /// A credential inside the body (PagerDuty's routing key), which the HTTP client cannot know
    /// is a secret.
    body_secret: Option<Secret>,
}

impl Api {
    /// A request with the backend's headers, credential and hint.
    fn request(&self, method: Method, url: String) -> RequestBuilder<'_> {
        let request = self.client.request(method, url);
        let request = if self.accept_json {
            request.header("Accept", "application/json")
        } else {
            request
        };
        request
            .auth_opt(self.auth.as_ref())
            .auth_hint(self.auth_hint)
    }

    /// Send `request`, with `body` as its JSON body when there is one.
    fn send(&self, request: RequestBuilder<'_>, body: Option<&Value>) -> Result<Response> {
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        request.send().map_err(|e| self.error(e))
    }

    /// Send `request` and read the answer as JSON.
    fn send_json(&self, request: RequestBuilder<'_>, body: Option<&Value>) -> Result<Value> {
        Ok(self.send(request, body)?.json()?)
    }

    /// An HTTP failure as the backend's error, with any body secret taken out of its message.
    fn error(&self, e: HttpError) -> Error {
        match &self.body_secret {
            Some(secret) => scrub(e, secret.expose()),
            None => e.into(),
        }
    }
}

/// A secret that travels in a body may come back in an error message: take it out.
fn scrub(e: HttpError, key: &str) -> Error {
    let text = e.to_string();
    if key.len() >= 4 && text.contains(key) {
        Error::Backend(text.replace(key, "***"))
    } else {
        e.into()
    }
}

/// The start of an answer, for a message about it.
fn excerpt(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

// ---------------------------------------------------------------------------------------------
// Shared by the GitHub and GitLab deployment backends
// ---------------------------------------------------------------------------------------------

/// A deployment id given on the command line.
/// The reviews the last `state` call read for deployment `id` (none for another deployment).
fn seen_reviews(
    seen: &std::sync::Mutex<Option<(u64, Vec<Review>)>>,
    id: &str,
) -> Result<Vec<Review>> {
    let id = parse_id(id)?;
    Ok(
        match &*seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some((seen, reviews)) if *seen == id => reviews.clone(),
            _ => Vec::new(),
        },
    )
}

fn parse_id(id: &str) -> Result<u64> {
    id.trim().parse().map_err(|_| {
        Error::usage(
            format!("`{id}` is not a deployment id"),
            "pass the numeric `change-id` that `paved-change open` printed",
        )
    })
}

/// The deployment to create for `bundle`.
fn spec(bundle: &Bundle, production: bool) -> DeploymentSpec {
    DeploymentSpec {
        environment: bundle.environment.clone(),
        sha: bundle.commits.head.clone(),
        ref_name: bundle.commits.head.clone(),
        is_tag: false,
        description: crate::text::short_description(bundle),
        correlation_id: bundle.correlation_id.clone(),
        payload: json!({
            "paved_change_id": bundle.id,
            "version": bundle.version,
            "digests": bundle.artifacts.iter().map(|a| a.digest.clone()).collect::<Vec<_>>(),
            "evidence_digest": bundle.record.evidence_digest,
        }),
        production,
    }
}

/// The forge's last successful deployment as the one a change follows.
fn previous(d: Deployment) -> Previous {
    Previous {
        id: Some(d.id.to_string()),
        commit: Some(d.sha),
        digests: Vec::new(),
        deployed_at: Some(d.created_at),
    }
}

/// A forge error; `409` (required status checks not passed) is a decided "no".
fn forge_err(e: paved_forge::Error) -> Error {
    if let paved_forge::Error::Http(h) = &e
        && h.status() == Some(409)
    {
        return Error::Refused {
            message: format!("the forge refused the deployment: {e}"),
            hint: Some(
                "the commit's required status checks have not passed; fix them, then re-run".into(),
            ),
        };
    }
    Error::Forge(e)
}

#[cfg(test)]
mod tests {
    use super::digest_in;

    #[test]
    fn the_digest_line_is_the_last_and_a_real_digest() {
        let (a, b) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let text =
            format!("Deploy\n- 1234567 paved evidence digest: {b}\n\npaved evidence digest: {a}\n");
        assert_eq!(digest_in(&text), Some(a));
        assert_eq!(digest_in("paved evidence digest: md5:abc"), None);
        assert_eq!(digest_in("no digest here"), None);
    }
}
