//! The ServiceNow backend: a `change_request` through the Table API, moved through the Change
//! Management state model.

use paved_core::http::{Auth, Client, Method, RequestBuilder, Secret};
use serde_json::{Value, json};

use super::{
    Api, Approval, Backend, DIGEST_LABEL, Kind, Opened, Outcome, State, digest_in, excerpt,
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

    fn table(&self, rest: &str) -> String {
        format!(
            "{}/api/now/table/change_request{rest}",
            self.config.url.trim_end_matches('/')
        )
    }

    /// A request to the table at `rest` (`""` or `/{sys_id}`) asking for [`SNOW_FIELDS`]; with
    /// `query`, a search for the first record matching that `sysparm_query`.
    fn request(&self, method: Method, rest: &str, query: Option<&str>) -> RequestBuilder<'_> {
        let request = self.api.request(method, self.table(rest));
        match query {
            Some(query) => request
                .query("sysparm_query", query)
                .query("sysparm_fields", SNOW_FIELDS)
                .query("sysparm_limit", "1"),
            None => request.query("sysparm_fields", SNOW_FIELDS),
        }
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
        let looks_like_number = !id.chars().all(|c| c.is_ascii_hexdigit()) || id.len() != 32;
        let request = if looks_like_number {
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

    /// Move the change to `target` (with `extra` fields), then read it back: a `200` that left
    /// the state where it was (a business rule, a mandatory field, an ACL on `state`) is an
    /// external failure naming the state the change is really in. A state past `target` on the
    /// way to Closed counts as moved (approval can schedule a change by itself).
    fn move_to(&self, record: &SnowRecord, target: i64, extra: Value) -> Result<SnowRecord> {
        let mut body = extra;
        body["state"] = json!(target.to_string());
        self.patch(&record.sys_id, &body)?;
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
                    "type": self.config.change_type,
                });
                if let Some(g) = &self.config.assignment_group {
                    body["assignment_group"] = json!(g);
                }
                if let Some(c) = &self.config.category {
                    body["category"] = json!(c);
                }
                let value = self
                    .api
                    .send_json(self.request(Method::Post, "", None), Some(&body))?;
                (Self::record(&value)?, true)
            }
        };
        // Request approval: New → Assess. A re-run leaves a record that moved on alone.
        let record = if record.state.is_none_or(|s| s == snow_state::NEW) {
            self.move_to(&record, snow_state::ASSESS, json!({}))?
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
