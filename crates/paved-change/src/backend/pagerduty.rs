//! The PagerDuty backend: change events through the Events API v2.

use paved_core::http::{Client, Method, Secret};
use serde_json::{Value, json};

use super::{Api, Approval, Backend, Kind, Opened, Outcome, State, excerpt};
use crate::bundle::Bundle;
use crate::error::{Error, Result};

/// PagerDuty change events (Events API v2, `POST /v2/change/enqueue` → `202`). Informational:
/// the record is approved at once and `wait` never waits. A re-run does not send a second event
/// when the local record of the same correlation id exists.
#[derive(Debug)]
pub struct PagerDuty {
    api: Api,
    url: String,
    routing_key: Secret,
}

impl PagerDuty {
    /// Events API root (`https://events.pagerduty.com`) and the integration's routing key
    /// (`PAGERDUTY_ROUTING_KEY`).
    pub fn new(client: Client, url: &str, routing_key: Secret) -> Self {
        PagerDuty {
            api: Api {
                client,
                auth: None,
                accept_json: false,
                auth_hint: "check `PAGERDUTY_ROUTING_KEY`: it must be the integration key of an Events API v2 integration on the service",
                // The routing key travels in the body.
                body_secret: Some(routing_key.clone()),
            },
            url: url.trim_end_matches('/').to_owned(),
            routing_key,
        }
    }

    fn send(&self, summary: &str, timestamp: &str, details: &Value, links: &Value) -> Result<()> {
        let summary: String = summary.chars().take(1024).collect();
        let body = json!({
            "routing_key": self.routing_key.expose(),
            "payload": {
                "summary": summary,
                "timestamp": timestamp,
                "source": "paved-change",
                "custom_details": details,
            },
            "links": links,
        });
        let response = self.api.send(
            self.api
                .request(Method::Post, format!("{}/v2/change/enqueue", self.url)),
            Some(&body),
        )?;
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

/// The event's link to the CI run, when the bundle has one.
fn ci_link(bundle: &Bundle) -> Option<Value> {
    bundle
        .ci
        .run_url
        .as_ref()
        .map(|u| json!({ "href": u, "text": "CI run" }))
}

impl Backend for PagerDuty {
    fn kind(&self) -> Kind {
        Kind::Pagerduty
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let mut links: Vec<Value> = ci_link(bundle).into_iter().collect();
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
                "evidence_digest": bundle.record.evidence_digest,
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
                Value::Array(ci_link(b).into_iter().collect()),
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
