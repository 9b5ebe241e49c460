//! The ServiceNow backend: a `change_request` through the Table API or the Change Management
//! API (`sn_chg_rest`, which can also create a standard change from a template), moved through
//! the Change Management state model and read back after every move.

use paved_core::http::{Auth, Client, Method, RequestBuilder, Secret};
use serde_json::{Value, json};

use super::{
    Api, Approval, Backend, DIGEST_LABEL, Kind, Opened, Outcome, Review, State, digest_in, excerpt,
};
use crate::bundle::Bundle;
use crate::error::{Error, Result};

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
    /// Which REST API paved talks to.
    pub api: SnowApi,
    /// With the Change Management API: create a standard change from this template (its name
    /// or sys_id) instead of a normal change.
    pub standard_template: Option<String>,
}

/// Which ServiceNow REST API paved uses for change requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SnowApi {
    /// The Table API on `change_request` (`/api/now/table/change_request`).
    #[default]
    Table,
    /// The Change Management API (`/api/sn_chg_rest/change`): normal changes, and standard
    /// changes from a template (`--standard-template`).
    Change,
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

/// A ServiceNow change request through the Table API, or through the Change Management API
/// ([`SnowApi::Change`]):
///
/// - `GET /api/sn_chg_rest/change/standard/template?sysparm_query=name=…` (or
///   `…/template/{sys_id}`): the standard change template, which must be `active`;
/// - `POST /api/sn_chg_rest/change/standard/{template_sys_id}` (or `…/change/normal`) with the
///   fields paved sets; a standard change is pre-approved: `open` moves it New → Scheduled;
/// - `GET /api/sn_chg_rest/change?sysparm_query=…` (by correlation id or number),
///   `GET /api/sn_chg_rest/change/{sys_id}` and `PATCH` the same to move it. Its answers hold
///   every field as `{"value", "display_value"}`, which is read like the Table API's strings.
///
/// The Table API:
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
    api: Api,
    config: ServiceNowConfig,
}

const SNOW_FIELDS: &str = "sys_id,number,state,approval,description";

impl ServiceNow {
    /// A client for the instance in `config`.
    pub fn new(client: Client, config: ServiceNowConfig) -> Self {
        ServiceNow {
            api: Api {
                client,
                auth: Some(config.auth.clone()),
                accept_json: true,
                auth_hint: "check the ServiceNow credentials (`SERVICENOW_TOKEN`, or `SERVICENOW_USERNAME`/`SERVICENOW_PASSWORD`) and that the user may read and write `change_request` (the `itil` role)",
                body_secret: None,
            },
            config,
        }
    }

    fn root(&self) -> &str {
        self.config.url.trim_end_matches('/')
    }

    fn table(&self, rest: &str) -> String {
        match self.config.api {
            SnowApi::Table => format!("{}/api/now/table/change_request{rest}", self.root()),
            SnowApi::Change => format!("{}/api/sn_chg_rest/change{rest}", self.root()),
        }
    }

    /// A request to the change requests at `rest` (`""` or `/{sys_id}`); with `query`, a search
    /// for the first record matching that `sysparm_query`. The Table API is asked only for
    /// [`SNOW_FIELDS`]; the Change Management API pages with `sysparm_length`.
    fn request(&self, method: Method, rest: &str, query: Option<&str>) -> RequestBuilder<'_> {
        let request = self.api.request(method, self.table(rest));
        match (self.config.api, query) {
            (SnowApi::Table, Some(query)) => request
                .query("sysparm_query", query)
                .query("sysparm_fields", SNOW_FIELDS)
                .query("sysparm_limit", "1"),
            (SnowApi::Table, None) => request.query("sysparm_fields", SNOW_FIELDS),
            (SnowApi::Change, Some(query)) => request
                .query("sysparm_query", query)
                .query("sysparm_length", "1"),
            (SnowApi::Change, None) => request,
        }
    }

    /// Where a new change is created: the table, or the Change Management API's normal or
    /// standard change endpoint (the template looked up first).
    fn create_url(&self) -> Result<String> {
        match (self.config.api, &self.config.standard_template) {
            (SnowApi::Table, _) => Ok(self.table("")),
            (SnowApi::Change, None) => Ok(self.table("/normal")),
            (SnowApi::Change, Some(template)) => {
                let sys_id = self.template(template)?;
                Ok(self.table(&format!("/standard/{sys_id}")))
            }
        }
    }

    /// The sys_id of the active standard change template named (or identified) by `template`.
    fn template(&self, template: &str) -> Result<String> {
        let by_id = is_sys_id(template);
        let request = if by_id {
            self.api
                .request(
                    Method::Get,
                    self.table(&format!("/standard/template/{template}")),
                )
                .allow_status(404)
        } else {
            self.api
                .request(Method::Get, self.table("/standard/template"))
                .query("sysparm_query", &format!("name={template}"))
        };
        let response = self.api.send(request, None)?;
        let value: Value = if response.status() == 404 {
            Value::Null
        } else {
            response.json()?
        };
        let found: Vec<&Value> = match &value["result"] {
            Value::Array(a) => a.iter().collect(),
            r @ Value::Object(_) => vec![r],
            _ => Vec::new(),
        };
        let field = |r: &Value, k: &str| field_text(&r[k]);
        if found.is_empty() {
            return Err(Error::usage(
                format!("ServiceNow has no standard change template `{template}`"),
                "pass `--standard-template` the name (or sys_id) of a published template, as listed under Change > Standard Change > Standard Change Catalog",
            ));
        }
        let active = found
            .iter()
            .find(|r| field(r, "active").is_some_and(|a| a == "true"));
        match active.and_then(|r| field(r, "sys_id")) {
            Some(sys_id) => Ok(sys_id),
            None => Err(Error::usage(
                format!(
                    "the ServiceNow standard change template `{template}` is inactive (retired), so no change can be made from it"
                ),
                "pass `--standard-template` an active template, or ask the change manager to reactivate it",
            )),
        }
    }

    fn record(value: &Value) -> Result<SnowRecord> {
        let r = &value["result"];
        let r = if r.is_array() { &r[0] } else { r };
        let text = |k: &str| field_text(&r[k]);
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
            description: text("description").unwrap_or_default(),
        })
    }

    fn find(&self, correlation_id: &str) -> Result<Option<SnowRecord>> {
        let query = format!("correlation_id={correlation_id}");
        let value = self
            .api
            .send_json(self.request(Method::Get, "", Some(&query)), None)?;
        if value["result"].as_array().is_none_or(Vec::is_empty) {
            return Ok(None);
        }
        Self::record(&value).map(Some)
    }

    /// The record named by a `sys_id` or a number (`CHG0030001`).
    fn get(&self, id: &str) -> Result<SnowRecord> {
        let request = if !is_sys_id(id) {
            self.request(Method::Get, "", Some(&format!("number={id}")))
        } else {
            self.request(Method::Get, &format!("/{id}"), None)
                .allow_status(404)
        };
        let response = self.api.send(request, None)?;
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
        let value = self.api.send_json(
            self.request(Method::Patch, &format!("/{sys_id}"), None),
            Some(body),
        )?;
        Self::record(&value)
    }

    /// A `PATCH` that moves the state. The Change Management API answers `409 Conflict` (or
    /// `400`) when the change's model does not allow the move: that is named, not retried.
    fn patch_state(&self, record: &SnowRecord, target: i64, body: &Value) -> Result<()> {
        let request = self
            .request(Method::Patch, &format!("/{}", record.sys_id), None)
            .allow_status(409);
        let response = self.api.send(request, Some(body))?;
        if response.status() == 409 {
            let why = response
                .json::<Value>()
                .ok()
                .and_then(|v| {
                    v["error"]["message"]
                        .as_str()
                        .or_else(|| v["error"]["detail"].as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let is = record.state.map_or_else(
                || "no state".to_owned(),
                |s| format!("{} ({s})", snow_state::label(s)),
            );
            return Err(Error::Backend(format!(
                "ServiceNow refused to move change `{}` from {is} to {} ({target}): 409 Conflict{}; \
                 check the change model's state transitions and the change's mandatory fields",
                record.number,
                snow_state::label(target),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                },
            )));
        }
        Ok(())
    }

    /// Move the change to `target` (with `extra` fields), then read it back: a `200` that left
    /// the state where it was (a business rule, a mandatory field, an ACL on `state`) is an
    /// external failure naming the state the change is really in. A state past `target` on the
    /// way to Closed counts as moved (approval can schedule a change by itself).
    fn move_to(&self, record: &SnowRecord, target: i64, extra: Value) -> Result<SnowRecord> {
        let mut body = extra;
        body["state"] = json!(target.to_string());
        self.patch_state(record, target, &body)?;
        let now = self.get(&record.sys_id)?;
        let moved = match now.state {
            Some(s) if target == snow_state::CLOSED => s == snow_state::CLOSED,
            Some(s) => s >= target && s != snow_state::CANCELED,
            None => false,
        };
        if moved {
            return Ok(now);
        }
        let is = now.state.map_or_else(
            || "no state".to_owned(),
            |s| format!("{} ({s})", snow_state::label(s)),
        );
        Err(Error::Backend(format!(
            "ServiceNow accepted the update of change `{}` to {} ({target}), but the record \
             read back is still in {is}; check the change's mandatory fields and the business \
             rules or ACLs on `state` for the paved user",
            record.number,
            snow_state::label(target),
        )))
    }

    /// The approvers' decisions on change `sys_id`, oldest first: `sysapproval_approver` through
    /// the Table API (with either change API), each field as `{"value", "display_value"}`. When
    /// they cannot be read (a user without read access to that table gets `403`), a warning and
    /// no reviews: who decided is worth a line, never a failed gate or a blocked deployment.
    fn approvals(&self, sys_id: &str) -> Vec<Review> {
        match self.try_approvals(sys_id) {
            Ok(reviews) => reviews,
            Err(e) => {
                paved_core::cli::warn(&format!(
                    "could not read who approved or rejected ServiceNow change `{sys_id}` from `sysapproval_approver`: {e}; the decision stands, only the approvers are not shown"
                ));
                Vec::new()
            }
        }
    }

    fn try_approvals(&self, sys_id: &str) -> Result<Vec<Review>> {
        let request = self
            .api
            .request(
                Method::Get,
                format!("{}/api/now/table/sysapproval_approver", self.root()),
            )
            .query(
                "sysparm_query",
                &format!("sysapproval={sys_id}^ORDERBYsys_updated_on"),
            )
            .query("sysparm_fields", "approver,state,comments,sys_updated_on")
            .query("sysparm_display_value", "all");
        let value = self.api.send_json(request, None)?;
        let rows = value["result"].as_array().cloned().unwrap_or_default();
        Ok(rows.iter().filter_map(snow_review).collect())
    }

    fn web_url(&self, sys_id: &str) -> String {
        format!(
            "{}/nav_to.do?uri=change_request.do?sys_id={sys_id}",
            self.config.url.trim_end_matches('/')
        )
    }
}

/// A field as either API answers it: the Table API's string (or number), or the Change
/// Management API's `{"value": …, "display_value": …}`.
fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("value").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One `sysapproval_approver` row as a review, when it is a decision (`approved` or
/// `rejected`; `requested`, `not requested`, `cancelled` are not).
fn snow_review(row: &Value) -> Option<Review> {
    let state = field_text(&row["state"])?;
    if state != "approved" && state != "rejected" {
        return None;
    }
    let shown = |k: &str| match &row[k] {
        Value::Object(o) => o
            .get("display_value")
            .and_then(Value::as_str)
            .map(str::to_owned),
        v => field_text(v),
    };
    let user = shown("approver")
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "an unnamed approver".to_owned());
    // `sys_updated_on` is stored as `YYYY-MM-DD HH:MM:SS` in UTC.
    let at = field_text(&row["sys_updated_on"])
        .and_then(|t| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", t.trim()).ok())
        .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|t| t.timestamp().to_string());
    let comment = shown("comments").and_then(|c| latest_journal_entry(&c));
    Some(Review {
        user,
        state,
        at,
        comment,
    })
}

/// The newest entry of a journal field as the Table API shows it (`2026-01-05 10:20:00 - Bernard
/// Laboy (Comments)` then the text, newest first, entries separated by a blank line), without
/// its header line.
fn latest_journal_entry(journal: &str) -> Option<String> {
    let mut lines = journal.trim().lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.contains(" - ") && l.trim_end().ends_with(')'))
    {
        lines.next();
    }
    let text: Vec<&str> = lines.take_while(|l| !l.trim().is_empty()).collect();
    let text = text.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// A 32-character hex sys_id (anything else is a number or a name).
fn is_sys_id(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

#[derive(Debug, Clone)]
struct SnowRecord {
    sys_id: String,
    number: String,
    state: Option<i64>,
    approval: String,
    description: String,
}

/// The record's description: the evidence, and the evidence digest on a line of its own (what
/// `verify` reads back; `work_notes` keeps each digest in the journal too).
fn description_with_digest(bundle: &Bundle) -> String {
    let mut text = crate::text::description(bundle);
    if let Some(d) = &bundle.record.evidence_digest {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("\n{DIGEST_LABEL} {d}\n"));
    }
    text
}

fn digest_note(bundle: &Bundle) -> String {
    bundle
        .record
        .evidence_digest
        .as_ref()
        .map(|d| {
            format!(
                "{DIGEST_LABEL} {d} (paved-change open, {})",
                bundle.correlation_id
            )
        })
        .unwrap_or_default()
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
            // A re-run whose evidence differs records the new digest.
            Some(r)
                if bundle.record.evidence_digest.is_some()
                    && digest_in(&r.description) != bundle.record.evidence_digest =>
            {
                let body = json!({
                    "description": description_with_digest(bundle),
                    "work_notes": digest_note(bundle),
                });
                (self.patch(&r.sys_id, &body)?, false)
            }
            Some(r) => (r, false),
            None => {
                let mut body = json!({
                    "short_description": crate::text::short_description(bundle),
                    "description": description_with_digest(bundle),
                    "work_notes": digest_note(bundle),
                    "implementation_plan": crate::text::implementation_plan(bundle),
                    "backout_plan": crate::text::backout_plan(bundle),
                    "test_plan": crate::text::test_plan(bundle),
                    "justification": format!("Release {} to {}", bundle.version, bundle.environment),
                    "start_date": snow_time(&bundle.timestamps.opened_at, 0),
                    "end_date": snow_time(&bundle.timestamps.opened_at, 3600),
                    "correlation_id": bundle.correlation_id,
                    "correlation_display": "paved-change",
                });
                // The Change Management API's endpoint (or the template) sets the type.
                if self.config.api == SnowApi::Table {
                    body["type"] = json!(self.config.change_type);
                }
                if let Some(g) = &self.config.assignment_group {
                    body["assignment_group"] = json!(g);
                }
                if let Some(c) = &self.config.category {
                    body["category"] = json!(c);
                }
                let url = self.create_url()?;
                let request = match self.config.api {
                    SnowApi::Table => self.request(Method::Post, "", None),
                    SnowApi::Change => self.api.request(Method::Post, url),
                };
                let value = self.api.send_json(request, Some(&body))?;
                (Self::record(&value)?, true)
            }
        };
        // Request approval: New → Assess. A standard change is pre-approved: New → Scheduled.
        // A re-run leaves a record that moved on alone.
        let first = if self.config.standard_template.is_some() {
            snow_state::SCHEDULED
        } else {
            snow_state::ASSESS
        };
        let record = if record.state.is_none_or(|s| s == snow_state::NEW) {
            self.move_to(&record, first, json!({}))?
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

    fn reviews(&self, id: &str) -> Result<Vec<Review>> {
        let sys_id = if is_sys_id(id) {
            id.to_owned()
        } else {
            self.get(id)?.sys_id
        };
        Ok(self.approvals(&sys_id))
    }

    fn recorded_digest(&self, id: &str) -> Result<Option<String>> {
        Ok(digest_in(&self.get(id)?.description))
    }

    fn start(&self, id: &str) -> Result<()> {
        let r = self.get(id)?;
        if r.state.is_some_and(|s| s < snow_state::IMPLEMENT) {
            self.move_to(&r, snow_state::IMPLEMENT, json!({}))?;
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
                self.move_to(&r, snow_state::IMPLEMENT, json!({}))?;
            }
            _ => {}
        }
        if r.state != Some(snow_state::REVIEW) {
            self.move_to(&r, snow_state::REVIEW, json!({}))?;
        }
        let code = match outcome {
            Outcome::Success => "successful",
            Outcome::Failure => "unsuccessful",
        };
        self.move_to(
            &r,
            snow_state::CLOSED,
            json!({ "close_code": code, "close_notes": notes }),
        )?;
        Ok(())
    }

    fn secret(&self) -> Option<&Secret> {
        Some(self.config.auth.secret())
    }
}
