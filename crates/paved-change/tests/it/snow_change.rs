//! ServiceNow through the Change Management API (`sn_chg_rest`): standard changes from a
//! template, normal changes, every state move read back, against a local instance that follows
//! the documented routes and answers every field as `{"value", "display_value"}`.

use std::sync::{Arc, Mutex};

use paved_change::backend::{
    Approval, Backend, Outcome, ServiceNow, ServiceNowConfig, SnowApi, snow_state,
};
use paved_change::bundle::{
    Artifact, BaseSource, Bundle, Changes, Ci, Commits, Record, Timestamps,
};
use paved_core::error::Diagnostic;
use paved_core::http::{Auth, Secret};
use paved_testkit::http::{FakeResponse, FakeServer, RecordedRequest, test_client};
use serde_json::{Map, Value, json};

const SYS_ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
const TEMPLATE_ID: &str = "7e3a1f0d1b2c3d4e5f60718293a4b5c6";
const RETIRED_ID: &str = "00000000000000000000000000000bad";
const CHANGE: &str = "/api/sn_chg_rest/change";
const TEMPLATES: &str = "/api/sn_chg_rest/change/standard/template";

fn bundle() -> Bundle {
    Bundle {
        schema: paved_change::bundle::SCHEMA_URI.into(),
        schema_version: 1,
        id: "chg-0000000000000002".into(),
        correlation_id: "acme/rocket:43:prod".into(),
        environment: "prod".into(),
        version: "1.5.0".into(),
        repository: Some("acme/rocket".into()),
        commits: Commits {
            head: "a".repeat(40),
            base: Some("b".repeat(40)),
            base_source: BaseSource::Tag,
            base_ref: Some("v1.4.0".into()),
            list: Vec::new(),
            merges: 0,
        },
        changes: Changes {
            source: "none".into(),
            ..Changes::default()
        },
        tests: None,
        artifacts: vec![Artifact {
            name: None,
            digest: format!("sha256:{}", "c".repeat(64)),
        }],
        previous: None,
        ci: Ci {
            provider: "github".into(),
            ..Ci::default()
        },
        timestamps: Timestamps {
            opened_at: "2026-01-05T10:00:00Z".into(),
            ..Timestamps::default()
        },
        record: Record {
            backend: "servicenow".into(),
            state: "pending".into(),
            evidence_digest: Some(format!("sha256:{}", "e".repeat(64))),
            ..Record::default()
        },
    }
}

fn sn(server: &FakeServer, template: Option<&str>) -> ServiceNow {
    let (client, _) = test_client();
    ServiceNow::new(
        client,
        ServiceNowConfig {
            url: server.url(),
            auth: Auth::basic("paved", Secret::new("pa55word-s3cret")),
            change_type: "normal".into(),
            assignment_group: None,
            category: None,
            api: SnowApi::Change,
            standard_template: template.map(str::to_owned),
        },
    )
}

/// `{"value", "display_value"}` for every field, as the Change Management API answers.
fn shaped(record: &Map<String, Value>) -> Value {
    let label = |k: &str, v: &str| match k {
        "state" => v
            .parse()
            .map_or_else(|_| v.to_owned(), |s| snow_state::label(s).to_owned()),
        _ => v.to_owned(),
    };
    Value::Object(
        record
            .iter()
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (
                    k.clone(),
                    json!({ "value": text, "display_value": label(k, &text) }),
                )
            })
            .collect(),
    )
}

/// How the fake instance treats a `PATCH`.
#[derive(Clone, Copy, PartialEq)]
enum Patch {
    /// Applies it.
    Apply,
    /// Answers 200 and leaves `state` as it was (a business rule).
    KeepState,
    /// Answers 409: the model does not allow the move.
    Conflict,
}

struct Instance {
    record: Arc<Mutex<Option<Map<String, Value>>>>,
    patch: Arc<Mutex<Patch>>,
}

/// An instance with one active template (`Deploy rocket`), one retired one (`Old deploy`), and
/// room for one change request.
fn instance(server: &FakeServer) -> Instance {
    let inst = Instance {
        record: Arc::new(Mutex::new(None)),
        patch: Arc::new(Mutex::new(Patch::Apply)),
    };
    let templates = vec![
        json!({ "sys_id": TEMPLATE_ID, "name": "Deploy rocket", "active": "true" }),
        json!({ "sys_id": RETIRED_ID, "name": "Old deploy", "active": "false" }),
    ];
    let shape = |t: &Value| shaped(t.as_object().unwrap());
    let list = templates.clone();
    server
        .route("GET", TEMPLATES)
        .respond_with(move |r: &RecordedRequest| {
            let q = r.query_param("sysparm_query").unwrap_or_default();
            let hits: Vec<Value> = list
                .iter()
                .filter(|t| {
                    q.split('^').all(|c| match c.split_once('=') {
                        Some((k, v)) => t[k] == v,
                        None => true,
                    })
                })
                .map(shape)
                .collect();
            FakeResponse::json(200, json!({ "result": hits }))
        });
    for t in &templates {
        let id = t["sys_id"].as_str().unwrap();
        server
            .route("GET", &format!("{TEMPLATES}/{id}"))
            .respond(FakeResponse::json(200, json!({ "result": shape(t) })));
    }
    let create = |kind: &'static str, rec: Arc<Mutex<Option<Map<String, Value>>>>| {
        move |r: &RecordedRequest| {
            let mut v = r.json().as_object().unwrap().clone();
            v.insert("sys_id".into(), json!(SYS_ID));
            v.insert("number".into(), json!("CHG0040001"));
            v.insert("type".into(), json!(kind));
            v.insert("state".into(), json!("-5"));
            v.insert(
                "approval".into(),
                json!(if kind == "standard" {
                    "approved"
                } else {
                    "not requested"
                }),
            );
            *rec.lock().unwrap() = Some(v.clone());
            FakeResponse::json(200, json!({ "result": shaped(&v) }))
        }
    };
    server
        .route("POST", &format!("{CHANGE}/standard/{TEMPLATE_ID}"))
        .respond_with(create("standard", Arc::clone(&inst.record)));
    server
        .route("POST", &format!("{CHANGE}/normal"))
        .respond_with(create("normal", Arc::clone(&inst.record)));
    let rec = Arc::clone(&inst.record);
    server
        .route("GET", CHANGE)
        .respond_with(move |r: &RecordedRequest| {
            let q = r.query_param("sysparm_query").unwrap_or_default();
            let hit = rec.lock().unwrap().clone().filter(|v| {
                q.split_once('=')
                    .is_some_and(|(k, val)| v.get(k).and_then(Value::as_str) == Some(val))
            });
            FakeResponse::json(
                200,
                json!({ "result": hit.iter().map(shaped).collect::<Vec<_>>() }),
            )
        });
    let one = format!("{CHANGE}/{SYS_ID}");
    let rec = Arc::clone(&inst.record);
    server
        .route("GET", &one)
        .respond_with(move |_| match rec.lock().unwrap().as_ref() {
            Some(v) => FakeResponse::json(200, json!({ "result": shaped(v) })),
            None => FakeResponse::json(
                404,
                json!({"error": {"message": "No Record found"}, "status": "failure"}),
            ),
        });
    let (rec, mode) = (Arc::clone(&inst.record), Arc::clone(&inst.patch));
    server
        .route("PATCH", &one)
        .respond_with(move |r: &RecordedRequest| {
            let mode = *mode.lock().unwrap();
            if mode == Patch::Conflict {
                return FakeResponse::json(
                    409,
                    json!({"error": {"message": "State transition not allowed", "detail": "Scheduled is not a valid next state"}, "status": "failure"}),
                );
            }
            let mut guard = rec.lock().unwrap();
            let Some(v) = guard.as_mut() else {
                return FakeResponse::json(404, json!({"error": {"message": "No Record found"}}));
            };
            for (k, val) in r.json().as_object().unwrap() {
                if !(k == "state" && mode == Patch::KeepState) {
                    v.insert(k.clone(), val.clone());
                }
            }
            if v["state"] == "-4" && v["approval"] == "not requested" {
                v.insert("approval".into(), json!("requested"));
            }
            FakeResponse::json(200, json!({ "result": shaped(v) }))
        });
    inst
}

fn states_patched(server: &FakeServer) -> Vec<String> {
    server
        .requests_to("PATCH", &format!("{CHANGE}/{SYS_ID}"))
        .iter()
        .map(|r| r.json()["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_standard_change_from_a_template_by_name_is_scheduled_implemented_and_closed() {
    let server = FakeServer::start();
    let inst = instance(&server);
    let sn = sn(&server, Some("Deploy rocket"));
    let opened = sn.open(&bundle()).unwrap();
    assert_eq!(
        (opened.id.as_str(), opened.number.as_str()),
        (SYS_ID, "CHG0040001")
    );
    assert!(opened.created);
    assert_eq!(
        opened.approval,
        Approval::Approved,
        "standard changes are pre-approved"
    );

    let lookup = &server.requests_to("GET", TEMPLATES)[0];
    assert_eq!(
        lookup.query_param("sysparm_query").as_deref(),
        Some("name=Deploy rocket")
    );
    let created = server.requests_to("POST", &format!("{CHANGE}/standard/{TEMPLATE_ID}"));
    assert_eq!(created.len(), 1);
    let body = created[0].json();
    for field in [
        "short_description",
        "description",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "work_notes",
    ] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {body}"
        );
    }
    assert_eq!(body["correlation_id"], "acme/rocket:43:prod");
    assert!(
        body.get("type").is_none(),
        "the template decides the type: {body}"
    );
    assert_eq!(
        inst.record.lock().unwrap().as_ref().unwrap()["state"],
        "-2",
        "New → Scheduled"
    );
    // Read back after the move, through the Change Management API.
    assert!(
        !server
            .requests_to("GET", &format!("{CHANGE}/{SYS_ID}"))
            .is_empty()
    );
    assert_eq!(
        sn.recorded_digest(SYS_ID).unwrap(),
        bundle().record.evidence_digest
    );

    // A re-run finds it by correlation id.
    let again = sn.open(&bundle()).unwrap();
    assert!(!again.created);
    assert_eq!(sn.state("CHG0040001").unwrap().approval, Approval::Approved);

    sn.start(SYS_ID).unwrap();
    sn.close(SYS_ID, Outcome::Success, "went fine", None)
        .unwrap();
    assert_eq!(states_patched(&server), ["-2", "-1", "0", "3"]);
    let last = server.requests_to("PATCH", &format!("{CHANGE}/{SYS_ID}"));
    assert_eq!(last.last().unwrap().json()["close_code"], "successful");
    assert_eq!(inst.record.lock().unwrap().as_ref().unwrap()["state"], "3");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/api/sn_chg_rest/")),
        "no Table API calls"
    );
}

#[test]
fn a_template_by_sys_id_is_read_directly() {
    let server = FakeServer::start();
    instance(&server);
    sn(&server, Some(TEMPLATE_ID)).open(&bundle()).unwrap();
    assert_eq!(
        server
            .requests_to("GET", &format!("{TEMPLATES}/{TEMPLATE_ID}"))
            .len(),
        1
    );
    assert!(server.requests_to("GET", TEMPLATES).is_empty());
}

#[test]
fn an_unknown_or_retired_template_is_a_usage_error_naming_it() {
    let server = FakeServer::start();
    instance(&server);
    for (template, words) in [
        (
            "Deploy missile",
            "has no standard change template `Deploy missile`",
        ),
        ("Old deploy", "`Old deploy` is inactive"),
        (RETIRED_ID, "is inactive"),
    ] {
        let err = sn(&server, Some(template)).open(&bundle()).unwrap_err();
        assert_eq!(err.category().code(), 2, "{err}");
        assert!(err.to_string().contains(words), "{err}");
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("--standard-template"),
            "{err}"
        );
    }
    assert!(
        server
            .requests_to("POST", &format!("{CHANGE}/standard/{RETIRED_ID}"))
            .is_empty(),
        "nothing was created"
    );
}

#[test]
fn a_normal_change_through_the_change_api_requests_approval() {
    let server = FakeServer::start();
    let inst = instance(&server);
    let sn = sn(&server, None);
    let opened = sn.open(&bundle()).unwrap();
    assert_eq!(opened.approval, Approval::Pending);
    assert_eq!(
        server
            .requests_to("POST", &format!("{CHANGE}/normal"))
            .len(),
        1
    );
    assert_eq!(states_patched(&server), ["-4"]);
    assert_eq!(
        inst.record.lock().unwrap().as_ref().unwrap()["approval"],
        "requested"
    );
    let state = sn.state(SYS_ID).unwrap();
    assert_eq!(state.approval, Approval::Pending);
    assert!(state.label.starts_with("Assess"), "{}", state.label);
}

#[test]
fn a_state_that_did_not_move_is_exit_3_naming_the_state() {
    let server = FakeServer::start();
    let inst = instance(&server);
    *inst.patch.lock().unwrap() = Patch::KeepState;
    let err = sn(&server, Some("Deploy rocket"))
        .open(&bundle())
        .unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    let text = err.to_string();
    assert!(text.contains("CHG0040001"), "{text}");
    assert!(text.contains("to Scheduled (-2)"), "{text}");
    assert!(text.contains("still in New (-5)"), "{text}");
}

#[test]
fn a_409_on_a_state_move_is_named_and_not_retried() {
    let server = FakeServer::start();
    let inst = instance(&server);
    *inst.patch.lock().unwrap() = Patch::Conflict;
    let err = sn(&server, Some("Deploy rocket"))
        .open(&bundle())
        .unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("from New (-5) to Scheduled (-2): 409 Conflict"),
        "{text}"
    );
    assert!(text.contains("State transition not allowed"), "{text}");
    assert_eq!(
        server
            .requests_to("PATCH", &format!("{CHANGE}/{SYS_ID}"))
            .len(),
        1
    );
}

#[test]
fn refusals_and_rate_limits_of_the_change_api() {
    for status in [401, 403] {
        let server = FakeServer::start();
        server.route("GET", CHANGE).respond(FakeResponse::json(
            status,
            json!({"error": {"message": "User Not Authenticated"}, "status": "failure"}),
        ));
        let err = sn(&server, Some("Deploy rocket"))
            .open(&bundle())
            .unwrap_err();
        assert_eq!(err.category().code(), 3, "{err}");
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert!(
            text.contains(&status.to_string()) && text.contains("SERVICENOW_"),
            "{text}"
        );
        assert!(!text.contains("pa55word-s3cret"), "{text}");
        assert_eq!(server.requests().len(), 1, "not retried");
    }
    // The template was deleted between the lookup and the create: 404, exit 3.
    let server = FakeServer::start();
    instance(&server);
    server
        .route("POST", &format!("{CHANGE}/standard/{TEMPLATE_ID}"))
        .respond(FakeResponse::json(
            404,
            json!({"error": {"message": "Template not found"}}),
        ));
    let err = sn(&server, Some("Deploy rocket"))
        .open(&bundle())
        .unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    // 429 with Retry-After is waited for, then the lookup goes on.
    let server = FakeServer::start();
    instance(&server);
    server.route("GET", TEMPLATES).respond_seq([
        FakeResponse::json(429, json!({"error": {"message": "Too many requests"}}))
            .header("Retry-After", "5"),
        FakeResponse::json(
            200,
            json!({ "result": [{ "sys_id": {"value": TEMPLATE_ID, "display_value": TEMPLATE_ID},
                                  "active": {"value": "true", "display_value": "true"} }] }),
        ),
    ]);
    let (client, clock) = test_client();
    let sn = ServiceNow::new(
        client,
        ServiceNowConfig {
            url: server.url(),
            auth: Auth::bearer(Secret::new("t0ken")),
            change_type: "normal".into(),
            assignment_group: None,
            category: None,
            api: SnowApi::Change,
            standard_template: Some("Deploy rocket".into()),
        },
    );
    assert!(sn.open(&bundle()).unwrap().created);
    assert_eq!(clock.sleeps()[0], std::time::Duration::from_secs(5));
}

#[test]
fn a_standard_template_with_the_table_api_is_a_usage_error() {
    let repo = crate::common::TestRepo::new();
    let run = repo.paved_env(
        &[
            "--backend",
            "servicenow",
            "--servicenow-url",
            "http://127.0.0.1:9",
            "--servicenow-api",
            "table",
            "--standard-template",
            "Deploy rocket",
            "wait",
            SYS_ID,
        ],
        &[("SERVICENOW_TOKEN", "t0ken")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`--standard-template Deploy rocket` needs the Change Management API"),
        "{}",
        run.stderr
    );
}
