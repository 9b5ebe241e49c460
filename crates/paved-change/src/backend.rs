//! Where change records live: the evidence file itself, ServiceNow, GitHub or GitLab
//! deployments, or PagerDuty change events. Each backend creates its record idempotently (a
//! re-run of the same job attempt finds the record it made), reports an approval state, and
//! closes the record with a result.

use std::fmt;

use paved_core::http::{Auth, Client, HttpError, Secret};
use paved_forge::deployments::{DeploymentSpec, GitHubDeployments, GitLabDeployments};
use paved_forge::{GitHubConfig, GitLabConfig};
use serde_json::{Value, json};

use crate::bundle::{Bundle, Previous};
use crate::error::{Error, Result};

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The evidence bundle file is the record (no approver: records are approved when opened).
    File,
    /// A ServiceNow `change_request` (Table API).
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
}

// ---------------------------------------------------------------------------------------------
// file
// ---------------------------------------------------------------------------------------------

/// The bundle file is the record. Records are approved when opened: there is no approver, and
/// editing `record.state` to `rejected` or `cancelled` stops a `wait`.
#[derive(Debug)]
pub struct FileBackend {
    /// The records directory.
    pub records: std::path::PathBuf,
}

impl Backend for FileBackend {
    fn kind(&self) -> Kind {
        Kind::File
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let path = crate::bundle::record_path(&self.records, &bundle.id);
        let existing = path.exists().then(|| Bundle::load(&path)).transpose()?;
        Ok(Opened {
            id: bundle.id.clone(),
            number: bundle.id.clone(),
            url: None,
            // `open` writes the evidence before asking the backend; a record without an id is
            // that evidence, not a record made earlier.
            created: existing.is_none_or(|e| e.record.id.is_empty()),
            approval: Approval::Approved,
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        let path = crate::bundle::record_path(&self.records, id);
        if !path.exists() {
            return Err(Error::usage(
                format!(
                    "there is no change record `{id}` in `{}`",
                    self.records.display()
                ),
                "pass the `change-id` that `paved-change open` printed, and the same `--records` directory",
            ));
        }
        let b = Bundle::load(&path)?;
        let approval = match b.record.state.as_str() {
            "rejected" => Approval::Rejected,
            "cancelled" | "canceled" => Approval::Cancelled,
            "pending" => Approval::Pending,
            _ => Approval::Approved,
        };
        Ok(State {
            approval,
            label: b.record.state,
        })
    }

    fn close(&self, id: &str, _: Outcome, _: &str, _: Option<&Bundle>) -> Result<()> {
        // The record file itself is updated by the caller.
        self.state(id).map(|_| ())
    }
}

// ---------------------------------------------------------------------------------------------
// ServiceNow
// ---------------------------------------------------------------------------------------------

/// ServiceNow `change_request` states (the Change Management state model).
pub mod snow_state {
    /// New.
    pub const NEW: i64 = -5;
    /// Assess: approval requested.
    pub const ASSESS: i64 = -4;
    /// Authorize.
    pub const AUTHORIZE: i64 = -3;
    /// Scheduled: approved.
    pub const SCHEDULED: i64 = -2;
    /// Implement.
    pub const IMPLEMENT: i64 = -1;
    /// Review.
    pub const REVIEW: i64 = 0;
    /// Closed.
    pub const CLOSED: i64 = 3;
    /// Canceled.
    pub const CANCELED: i64 = 4;

    /// The label of a state value.
    pub fn label(state: i64) -> &'static str {
        match state {
            NEW => "New",
            ASSESS => "Assess",
            AUTHORIZE => "Authorize",
            SCHEDULED => "Scheduled",
            IMPLEMENT => "Implement",
            REVIEW => "Review",
            CLOSED => "Closed",
            CANCELED => "Canceled",
            _ => "unknown",
        }
    }
}

/// ServiceNow settings.
#[derive(Debug, Clone)]
pub struct ServiceNowConfig {
    /// Instance URL, e.g. `https://acme.service-now.com`.
    pub url: String,
    /// Basic (`SERVICENOW_USERNAME` + `SERVICENOW_PASSWORD`) or OAuth bearer (`SERVICENOW_TOKEN`).
    pub auth: Auth,
    /// `type` of new changes (`normal`).
    pub change_type: String,
    /// `assignment_group` of new changes.
    pub assignment_group: Option<String>,
    /// `category` of new changes.
    pub category: Option<String>,
}

impl ServiceNowConfig {
    /// Credentials from `SERVICENOW_TOKEN`, or `SERVICENOW_USERNAME` and `SERVICENOW_PASSWORD`.
    pub fn auth_from(env: &dyn Fn(&str) -> Option<String>) -> Result<Auth> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(token) = get("SERVICENOW_TOKEN") {
            return Ok(Auth::bearer(Secret::new(token)));
        }
        match (get("SERVICENOW_USERNAME"), get("SERVICENOW_PASSWORD")) {
            (Some(user), Some(password)) => Ok(Auth::basic(user, Secret::new(password))),
            _ => Err(Error::usage(
                "ServiceNow needs credentials, and neither `SERVICENOW_TOKEN` nor `SERVICENOW_USERNAME` with `SERVICENOW_PASSWORD` is set",
                "set them from CI secrets: an OAuth access token in `SERVICENOW_TOKEN`, or a user with the `itil` role in `SERVICENOW_USERNAME`/`SERVICENOW_PASSWORD`",
            )),
        }
    }
}

/// A ServiceNow change request through the Table API.
///
/// - `GET /api/now/table/change_request?sysparm_query=correlation_id=…&sysparm_limit=1`: the
///   record a re-run made;
/// - `POST /api/now/table/change_request` → `201 {"result": {…}}`;
/// - `PATCH /api/now/table/change_request/{sys_id}` to move it: Assess (`-4`, requests
///   approval), Implement (`-1`) once approved, Review (`0`), Closed (`3`) with `close_code`
///   (`successful` / `unsuccessful`) and `close_notes`;
/// - `GET /api/now/table/change_request/{sys_id}` (`404` when there is none) for `state` and
///   `approval` (`not requested`, `requested`, `approved`, `rejected`).
#[derive(Debug)]
pub struct ServiceNow {
    client: Client,
    config: ServiceNowConfig,
}

const SNOW_FIELDS: &str = "sys_id,number,state,approval";

impl ServiceNow {
    /// A client for the instance in `config`.
    pub fn new(client: Client, config: ServiceNowConfig) -> Self {
        ServiceNow { client, config }
    }

    fn table(&self, rest: &str) -> String {
        format!(
            "{}/api/now/table/change_request{rest}",
            self.config.url.trim_end_matches('/')
        )
    }

    fn request(
        &self,
        method: paved_core::http::Method,
        url: String,
    ) -> paved_core::http::RequestBuilder<'_> {
        self.client
            .request(method, url)
            .header("Accept", "application/json")
            .auth(&self.config.auth)
            .auth_hint(
                "check the ServiceNow credentials (`SERVICENOW_TOKEN`, or `SERVICENOW_USERNAME`/`SERVICENOW_PASSWORD`) and that the user may read and write `change_request` (the `itil` role)",
            )
    }

    fn record(value: &Value) -> Result<SnowRecord> {
        let r = &value["result"];
        let r = if r.is_array() { &r[0] } else { r };
        let text = |k: &str| match &r[k] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("value").and_then(Value::as_str).map(str::to_owned),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let sys_id = text("sys_id").filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::Backend(format!(
                "ServiceNow answered without a `sys_id`: {}",
                excerpt(value)
            ))
        })?;
        Ok(SnowRecord {
            sys_id,
            number: text("number").unwrap_or_default(),
            state: text("state").and_then(|s| s.trim().parse().ok()),
            approval: text("approval").unwrap_or_default(),
        })
    }

    fn find(&self, correlation_id: &str) -> Result<Option<SnowRecord>> {
        let value: Value = self
            .request(paved_core::http::Method::Get, self.table(""))
            .query("sysparm_query", &format!("correlation_id={correlation_id}"))
            .query("sysparm_fields", SNOW_FIELDS)
            .query("sysparm_limit", "1")
            .send()?
            .json()?;
        if value["result"].as_array().is_none_or(Vec::is_empty) {
            return Ok(None);
        }
        Self::record(&value).map(Some)
    }

    /// The record named by a `sys_id` or a number (`CHG0030001`).
    fn get(&self, id: &str) -> Result<SnowRecord> {
        let looks_like_number = !id.chars().all(|c| c.is_ascii_hexdigit()) || id.len() != 32;
        let response = if looks_like_number {
            self.request(paved_core::http::Method::Get, self.table(""))
                .query("sysparm_query", &format!("number={id}"))
                .query("sysparm_fields", SNOW_FIELDS)
                .query("sysparm_limit", "1")
                .send()?
        } else {
            self.request(paved_core::http::Method::Get, self.table(&format!("/{id}")))
                .query("sysparm_fields", SNOW_FIELDS)
                .allow_status(404)
                .send()?
        };
        let value: Value = if response.status() == 404 {
            Value::Null
        } else {
            response.json()?
        };
        let empty = match &value["result"] {
            Value::Array(a) => a.is_empty(),
            Value::Object(_) => false,
            _ => true,
        };
        if empty {
            return Err(Error::usage(
                format!("ServiceNow has no change request `{id}`"),
                "pass the `change-id` (sys_id) or `change-number` (CHG…) that `paved-change open` printed",
            ));
        }
        Self::record(&value)
    }

    fn patch(&self, sys_id: &str, body: &Value) -> Result<SnowRecord> {
        let value: Value = self
            .request(
                paved_core::http::Method::Patch,
                self.table(&format!("/{sys_id}")),
            )
            .query("sysparm_fields", SNOW_FIELDS)
            .json(body)
            .send()?
            .json()?;
        Self::record(&value)
    }

    fn web_url(&self, sys_id: &str) -> String {
        format!(
            "{}/nav_to.do?uri=change_request.do?sys_id={sys_id}",
            self.config.url.trim_end_matches('/')
        )
    }
}

#[derive(Debug, Clone)]
struct SnowRecord {
    sys_id: String,
    number: String,
    state: Option<i64>,
    approval: String,
}

fn snow_state(r: &SnowRecord) -> State {
    use snow_state::*;
    let state = r.state.unwrap_or(NEW);
    let approval = match (state, r.approval.as_str()) {
        (CANCELED, _) => Approval::Cancelled,
        (_, "rejected") => Approval::Rejected,
        (_, "approved") | (SCHEDULED | IMPLEMENT | REVIEW | CLOSED, _) => Approval::Approved,
        _ => Approval::Pending,
    };
    let label = if r.approval.is_empty() {
        label(state).to_owned()
    } else {
        format!("{} (approval {})", label(state), r.approval)
    };
    State { approval, label }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: the Table API's internal date-time format.
fn snow_time(rfc3339: &str, plus_secs: i64) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| {
            t.checked_add(jiff::SignedDuration::from_secs(plus_secs))
                .ok()
        })
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

impl Backend for ServiceNow {
    fn kind(&self) -> Kind {
        Kind::Servicenow
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let (record, created) = match self.find(&bundle.correlation_id)? {
            Some(r) => (r, false),
            None => {
                let mut body = json!({
                    "short_description": crate::text::short_description(bundle),
                    "description": crate::text::description(bundle),
                    "implementation_plan": crate::text::implementation_plan(bundle),
                    "backout_plan": crate::text::backout_plan(bundle),
                    "test_plan": crate::text::test_plan(bundle),
                    "justification": format!("Release {} to {}", bundle.version, bundle.environment),
                    "start_date": snow_time(&bundle.timestamps.opened_at, 0),
                    "end_date": snow_time(&bundle.timestamps.opened_at, 3600),
                    "correlation_id": bundle.correlation_id,
                    "correlation_display": "paved-change",
                    "type": self.config.change_type,
                });
                if let Some(g) = &self.config.assignment_group {
                    body["assignment_group"] = json!(g);
                }
                if let Some(c) = &self.config.category {
                    body["category"] = json!(c);
                }
                let value: Value = self
                    .request(paved_core::http::Method::Post, self.table(""))
                    .query("sysparm_fields", SNOW_FIELDS)
                    .json(&body)
                    .send()?
                    .json()?;
                (Self::record(&value)?, true)
            }
        };
        // Request approval: New → Assess. A re-run leaves a record that moved on alone.
        let record = if record.state.is_none_or(|s| s == snow_state::NEW) {
            self.patch(
                &record.sys_id,
                &json!({ "state": snow_state::ASSESS.to_string() }),
            )?
        } else {
            record
        };
        Ok(Opened {
            url: Some(self.web_url(&record.sys_id)),
            approval: snow_state(&record).approval,
            id: record.sys_id,
            number: record.number,
            created,
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        Ok(snow_state(&self.get(id)?))
    }

    fn start(&self, id: &str) -> Result<()> {
        let r = self.get(id)?;
        if r.state.is_some_and(|s| s < snow_state::IMPLEMENT) {
            self.patch(
                &r.sys_id,
                &json!({ "state": snow_state::IMPLEMENT.to_string() }),
            )?;
        }
        Ok(())
    }

    fn close(&self, id: &str, outcome: Outcome, notes: &str, _: Option<&Bundle>) -> Result<()> {
        let r = self.get(id)?;
        match r.state {
            Some(snow_state::CLOSED) => return Ok(()),
            Some(snow_state::CANCELED) => {
                return Err(Error::Refused {
                    message: format!(
                        "ServiceNow change `{}` is cancelled; it cannot be closed",
                        r.number
                    ),
                    hint: Some("open a new change for the next deployment".into()),
                });
            }
            Some(s) if s < snow_state::IMPLEMENT => {
                self.patch(
                    &r.sys_id,
                    &json!({ "state": snow_state::IMPLEMENT.to_string() }),
                )?;
            }
            _ => {}
        }
        if r.state != Some(snow_state::REVIEW) {
            self.patch(
                &r.sys_id,
                &json!({ "state": snow_state::REVIEW.to_string() }),
            )?;
        }
        let code = match outcome {
            Outcome::Success => "successful",
            Outcome::Failure => "unsuccessful",
        };
        self.patch(
            &r.sys_id,
            &json!({
                "state": snow_state::CLOSED.to_string(),
                "close_code": code,
                "close_notes": notes,
            }),
        )?;
        Ok(())
    }

    fn secret(&self) -> Option<&Secret> {
        Some(self.config.auth.secret())
    }
}

fn excerpt(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

// ---------------------------------------------------------------------------------------------
// GitHub and GitLab deployments
// ---------------------------------------------------------------------------------------------

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

fn parse_id(id: &str) -> Result<u64> {
    id.trim().parse().map_err(|_| {
        Error::usage(
            format!("`{id}` is not a deployment id"),
            "pass the numeric `change-id` that `paved-change open` printed",
        )
    })
}

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
        }),
        production,
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

impl Backend for GitHubBackend {
    fn kind(&self) -> Kind {
        Kind::Github
    }

    fn last_deployment(&self, environment: &str) -> Result<Option<Previous>> {
        Ok(self
            .deployments
            .last_successful(environment)
            .map_err(forge_err)?
            .map(|d| Previous {
                id: Some(d.id.to_string()),
                commit: Some(d.sha),
                digests: Vec::new(),
                deployed_at: Some(d.created_at),
            }))
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let d = self
            .deployments
            .create(&spec(bundle, self.production))
            .map_err(forge_err)?;
        let mut status = d.status.clone();
        if status == "none" {
            self.deployments
                .set_status(
                    d.id,
                    "queued",
                    &format!("paved-change {}", bundle.id),
                    bundle.ci.run_url.as_deref(),
                )
                .map_err(forge_err)?;
            status = "queued".into();
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
}

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

fn gl_state(d: &paved_forge::deployments::Deployment) -> State {
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
            .map(|d| Previous {
                id: Some(d.id.to_string()),
                commit: Some(d.sha),
                digests: Vec::new(),
                deployed_at: Some(d.created_at),
            }))
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

// ---------------------------------------------------------------------------------------------
// PagerDuty
// ---------------------------------------------------------------------------------------------

/// PagerDuty change events (Events API v2, `POST /v2/change/enqueue` → `202`). Informational:
/// the record is approved at once and `wait` never waits. A re-run does not send a second event
/// when the local record of the same correlation id exists.
#[derive(Debug)]
pub struct PagerDuty {
    client: Client,
    url: String,
    routing_key: Secret,
}

impl PagerDuty {
    /// Events API root (`https://events.pagerduty.com`) and the integration's routing key
    /// (`PAGERDUTY_ROUTING_KEY`).
    pub fn new(client: Client, url: &str, routing_key: Secret) -> Self {
        PagerDuty {
            client,
            url: url.trim_end_matches('/').to_owned(),
            routing_key,
        }
    }

    fn send(&self, summary: &str, timestamp: &str, details: &Value, links: &Value) -> Result<()> {
        let summary: String = summary.chars().take(1024).collect();
        let response = self
            .client
            .post(format!("{}/v2/change/enqueue", self.url))
            .json(&json!({
                "routing_key": self.routing_key.expose(),
                "payload": {
                    "summary": summary,
                    "timestamp": timestamp,
                    "source": "paved-change",
                    "custom_details": details,
                },
                "links": links,
            }))
            .auth_hint("check `PAGERDUTY_ROUTING_KEY`: it must be the integration key of an Events API v2 integration on the service")
            .send()
            .map_err(|e| scrub(e, self.routing_key.expose()))?;
        let body: Value = response.json().unwrap_or(Value::Null);
        if body["status"] != "success" && response.status() != 202 {
            return Err(Error::Backend(format!(
                "PagerDuty did not accept the change event: {}",
                excerpt(&body)
            )));
        }
        Ok(())
    }
}

/// The routing key travels in the body, where the HTTP client cannot know it is a secret: take
/// it out of any message.
fn scrub(e: HttpError, key: &str) -> Error {
    let text = e.to_string();
    if key.len() >= 4 && text.contains(key) {
        Error::Backend(text.replace(key, "***"))
    } else {
        e.into()
    }
}

impl Backend for PagerDuty {
    fn kind(&self) -> Kind {
        Kind::Pagerduty
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let mut links = Vec::new();
        if let Some(u) = &bundle.ci.run_url {
            links.push(json!({ "href": u, "text": "CI run" }));
        }
        for pr in &bundle.changes.pull_requests {
            links.push(json!({ "href": pr.url, "text": format!("#{} {}", pr.number, pr.title) }));
        }
        self.send(
            &crate::text::short_description(bundle),
            &bundle.timestamps.opened_at,
            &json!({
                "environment": bundle.environment,
                "version": bundle.version,
                "commit": bundle.commits.head,
                "commits": bundle.commits.list.len(),
                "digests": bundle.artifacts.iter().map(|a| a.digest.clone()).collect::<Vec<_>>(),
                "correlation_id": bundle.correlation_id,
                "actor": bundle.ci.actor,
            }),
            &Value::Array(links),
        )?;
        Ok(Opened {
            id: bundle.id.clone(),
            number: bundle.id.clone(),
            url: None,
            created: true,
            approval: Approval::Approved,
        })
    }

    fn state(&self, _: &str) -> Result<State> {
        Ok(State {
            approval: Approval::Approved,
            label: "informational".into(),
        })
    }

    fn close(
        &self,
        id: &str,
        outcome: Outcome,
        notes: &str,
        bundle: Option<&Bundle>,
    ) -> Result<()> {
        let (summary, links) = match bundle {
            Some(b) => (
                format!(
                    "{} {} to {}: {}",
                    if outcome == Outcome::Success {
                        "Deployed"
                    } else {
                        "Failed to deploy"
                    },
                    b.version,
                    b.environment,
                    outcome.as_str()
                ),
                b.ci.run_url
                    .as_ref()
                    .map(|u| json!([{ "href": u, "text": "CI run" }]))
                    .unwrap_or_else(|| json!([])),
            ),
            None => (format!("change {id}: {}", outcome.as_str()), json!([])),
        };
        self.send(
            &summary,
            &jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            &json!({ "change_id": id, "result": outcome.as_str(), "notes": notes }),
            &links,
        )
    }

    fn secret(&self) -> Option<&Secret> {
        Some(&self.routing_key)
    }
}
