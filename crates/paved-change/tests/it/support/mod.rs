//! Fakes shared by the integration tests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use paved_testkit::http::{FakeResponse, FakeServer, RecordedRequest};
use serde_json::{Value, json};

pub const SYS_ID: &str = "0123456789abcdef0123456789abcdef";
pub const TABLE: &str = "/api/now/table/change_request";

/// A ServiceNow instance holding at most one change request, following the Table API: a query
/// by correlation id or number, create, read by sys_id, and PATCH updates.
pub fn stateful_snow(server: &FakeServer) -> Arc<Mutex<Option<Value>>> {
    let store: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let s = Arc::clone(&store);
    server
        .route("GET", TABLE)
        .respond_with(move |r: &RecordedRequest| {
            let q = r.query_param("sysparm_query").unwrap_or_default();
            let rec = s.lock().unwrap().clone();
            let hit = rec.filter(|v| {
                q == format!(
                    "correlation_id={}",
                    v["correlation_id"].as_str().unwrap_or("")
                ) || q == format!("number={}", v["number"].as_str().unwrap_or(""))
            });
            FakeResponse::json(
                200,
                json!({ "result": hit.into_iter().collect::<Vec<_>>() }),
            )
        });
    let s = Arc::clone(&store);
    server
        .route("POST", TABLE)
        .respond_with(move |r: &RecordedRequest| {
            let mut v = r.json();
            // paved writes the evidence digest into the description and the work notes: a
            // create without it is refused, so every test that opens a record checks it arrives.
            let digest = v["description"]
                .as_str()
                .and_then(paved_change::backend::digest_in)
                .filter(|d| d.len() == 71 && d.starts_with("sha256:"));
            let noted = digest.as_ref().is_some_and(|d| {
                v["work_notes"]
                    .as_str()
                    .is_some_and(|n| n.contains(d.as_str()))
            });
            if !noted {
                return FakeResponse::json(
                    400,
                    json!({"error": {"message": "test fake: no evidence digest in description and work_notes"}, "status": "failure"}),
                );
            }
            v["sys_id"] = json!(SYS_ID);
            v["number"] = json!("CHG0030001");
            v["state"] = json!("-5");
            v["approval"] = json!("not requested");
            *s.lock().unwrap() = Some(v.clone());
            FakeResponse::json(201, json!({ "result": v }))
        });
    let path = format!("{TABLE}/{SYS_ID}");
    let s = Arc::clone(&store);
    server
        .route("GET", &path)
        .respond_with(move |_| match s.lock().unwrap().clone() {
            Some(v) => FakeResponse::json(200, json!({ "result": v })),
            None => FakeResponse::json(
                404,
                json!({"error": {"message": "No Record found"}, "status": "failure"}),
            ),
        });
    let s = Arc::clone(&store);
    server
        .route("PATCH", &path)
        .respond_with(move |r: &RecordedRequest| {
            let mut guard = s.lock().unwrap();
            let Some(v) = guard.as_mut() else {
                return FakeResponse::json(404, json!({"error": {"message": "No Record found"}}));
            };
            for (k, val) in r.json().as_object().unwrap() {
                v[k] = val.clone();
            }
            if v["state"] == "-4" && v["approval"] == "not requested" {
                v["approval"] = json!("requested");
            }
            FakeResponse::json(200, json!({ "result": v.clone() }))
        });
    store
}
