//! The backends against local servers that follow each documented API: ServiceNow's Table API,
//! GitHub and GitLab deployments, PagerDuty's Events API v2. Library-level, with the fake clock,
//! so retries and `wait` polls take no time.

use std::sync::Arc;
use std::time::Duration;

use paved_change::backend::{
    Approval, Backend, GitHubBackend, GitLabBackend, Outcome, PagerDuty, ServiceNow,
    ServiceNowConfig, SnowApi,
};
use paved_change::bundle::{
    Artifact, BaseSource, Bundle, Changes, Ci, Commits, Previous, Record, Timestamps,
};
use paved_change::error::Error;
use paved_change::wait;
use paved_core::error::Diagnostic;
use paved_core::http::{Auth, Secret};
use paved_testkit::http::{FakeClock, FakeResponse, FakeServer, RecordedRequest, test_client};
use serde_json::{Value, json};

use crate::support::stateful_snow;

const SYS_ID: &str = "0123456789abcdef0123456789abcdef";
const TABLE: &str = "/api/now/table/change_request";
const SNOW_TOKEN: &str = "snow-oauth-token-5e3cr3t";

fn bundle() -> Bundle {
    Bundle {
        schema: paved_change::bundle::SCHEMA_URI.into(),
        schema_version: 1,
        id: "chg-0000000000000001".into(),
        correlation_id: "acme/rocket:42:prod".into(),
        environment: "prod".into(),
        version: "1.4.0".into(),
        repository: Some("acme/rocket".into()),
        commits: Commits {
            head: "a".repeat(40),
            base: Some("b".repeat(40)),
            base_source: BaseSource::Tag,
            base_ref: Some("v1.3.0".into()),
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
        previous: Some(Previous {
            id: None,
            commit: Some("b".repeat(40)),
            digests: vec![format!("sha256:{}", "d".repeat(64))],
            deployed_at: None,
        }),
        ci: Ci {
            provider: "github".into(),
            run_url: Some("https://github.com/acme/rocket/actions/runs/42/attempts/1".into()),
            actor: Some("ada".into()),
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

fn snow(server: &FakeServer) -> (ServiceNow, Arc<FakeClock>) {
    let (client, clock) = test_client();
    let config = ServiceNowConfig {
        url: server.url(),
        auth: Auth::bearer(Secret::new(SNOW_TOKEN)),
        change_type: "normal".into(),
        assignment_group: Some("Release Management".into()),
        category: None,
        api: SnowApi::Table,
        standard_template: None,
    };
    (ServiceNow::new(client, config), clock)
}

fn snow_record(state: &str, approval: &str) -> Value {
    json!({ "sys_id": SYS_ID, "number": "CHG0030001", "state": state, "approval": approval })
}

#[test]
fn servicenow_creates_fills_fields_and_requests_approval() {
    let server = FakeServer::start();
    let store = stateful_snow(&server);
    let (sn, _) = snow(&server);
    let opened = sn.open(&bundle()).unwrap();
    assert_eq!(opened.id, SYS_ID);
    assert_eq!(opened.number, "CHG0030001");
    assert!(opened.created);
    assert_eq!(opened.approval, Approval::Pending);

    // Looked up by correlation id first, then created, then moved to Assess.
    let reqs = server.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].query_param("sysparm_query").as_deref(),
        Some("correlation_id=acme/rocket:42:prod")
    );
    let created = server.requests_to("POST", TABLE)[0].json();
    for field in [
        "short_description",
        "description",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "start_date",
        "end_date",
    ] {
        assert!(
            created[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} missing: {created}"
        );
    }
    assert_eq!(created["correlation_id"], "acme/rocket:42:prod");
    assert_eq!(created["start_date"], "2026-01-05 10:00:00");
    assert_eq!(created["end_date"], "2026-01-05 11:00:00");
    assert_eq!(created["assignment_group"], "Release Management");
    assert!(
        created["backout_plan"]
            .as_str()
            .unwrap()
            .contains(&format!("sha256:{}", "d".repeat(64))),
        "the back-out plan names the previous digest"
    );
    assert_eq!(store.lock().unwrap().as_ref().unwrap()["state"], "-4");
    // Bearer auth on every request.
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {SNOW_TOKEN}")))
    );
}

#[test]
fn servicenow_rerun_finds_the_existing_record() {
    let server = FakeServer::start();
    stateful_snow(&server);
    let (sn, _) = snow(&server);
    let first = sn.open(&bundle()).unwrap();
    let again = sn.open(&bundle()).unwrap();
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.id, again.id);
    assert_eq!(
        server.requests_to("POST", TABLE).len(),
        1,
        "one record, not two"
    );
}

#[test]
fn servicenow_moves_through_implement_review_closed() {
    let server = FakeServer::start();
    let store = stateful_snow(&server);
    let (sn, _) = snow(&server);
    sn.open(&bundle()).unwrap();
    // An approver approves and ServiceNow schedules it.
    {
        let mut g = store.lock().unwrap();
        let v = g.as_mut().unwrap();
        v["approval"] = json!("approved");
        v["state"] = json!("-2");
    }
    assert_eq!(sn.state(SYS_ID).unwrap().approval, Approval::Approved);
    assert_eq!(sn.state("CHG0030001").unwrap().approval, Approval::Approved);
    sn.start(SYS_ID).unwrap();
    assert_eq!(store.lock().unwrap().as_ref().unwrap()["state"], "-1");
    sn.close(SYS_ID, Outcome::Success, "went fine", None)
        .unwrap();
    let patches: Vec<Value> = server
        .requests_to("PATCH", &format!("{TABLE}/{SYS_ID}"))
        .iter()
        .map(RecordedRequest::json)
        .collect();
    let states: Vec<&str> = patches
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["-4", "-1", "0", "3"]);
    let last = patches.last().unwrap();
    assert_eq!(last["close_code"], "successful");
    assert_eq!(last["close_notes"], "went fine");
    // Closing again is a no-op.
    sn.close(SYS_ID, Outcome::Success, "again", None).unwrap();
    assert_eq!(
        server
            .requests_to("PATCH", &format!("{TABLE}/{SYS_ID}"))
            .len(),
        4
    );
}

#[test]
fn servicenow_failure_closes_unsuccessful_and_cancelled_cannot_close() {
    let server = FakeServer::start();
    let store = stateful_snow(&server);
    let (sn, _) = snow(&server);
    sn.open(&bundle()).unwrap();
    store.lock().unwrap().as_mut().unwrap()["state"] = json!("-1");
    sn.close(SYS_ID, Outcome::Failure, "rolled back", None)
        .unwrap();
    let patches = server.requests_to("PATCH", &format!("{TABLE}/{SYS_ID}"));
    assert_eq!(patches.last().unwrap().json()["close_code"], "unsuccessful");

    store.lock().unwrap().as_mut().unwrap()["state"] = json!("4");
    let err = sn.close(SYS_ID, Outcome::Success, "", None).unwrap_err();
    assert_eq!(err.category().code(), 1, "{err}");
}

#[test]
fn servicenow_states_map_to_the_gate() {
    let server = FakeServer::start();
    let path = format!("{TABLE}/{SYS_ID}");
    let (sn, _) = snow(&server);
    for (state, approval, expected) in [
        ("-4", "requested", Approval::Pending),
        ("-3", "requested", Approval::Pending),
        ("-4", "rejected", Approval::Rejected),
        ("-2", "approved", Approval::Approved),
        ("-1", "approved", Approval::Approved),
        ("4", "requested", Approval::Cancelled),
        ("4", "approved", Approval::Cancelled),
    ] {
        server.route("GET", &path).respond(FakeResponse::json(
            200,
            json!({ "result": snow_record(state, approval) }),
        ));
        assert_eq!(
            sn.state(SYS_ID).unwrap().approval,
            expected,
            "{state}/{approval}"
        );
    }
}

#[test]
fn servicenow_auth_errors_are_usage_free_of_the_token_and_hinted() {
    for status in [401, 403] {
        let server = FakeServer::start();
        server.route("GET", TABLE).respond(FakeResponse::json(
            status,
            json!({"error": {"message": "User Not Authenticated", "detail": format!("token {SNOW_TOKEN} rejected")}, "status": "failure"}),
        ));
        let (sn, _) = snow(&server);
        let err = sn.open(&bundle()).unwrap_err();
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert!(text.contains(&status.to_string()), "{text}");
        assert!(text.contains("SERVICENOW_TOKEN"), "{text}");
        assert!(!text.contains(SNOW_TOKEN), "the token leaked: {text}");
        assert_eq!(err.category().code(), 3);
        assert_eq!(server.requests().len(), 1, "auth errors are not retried");
    }
}

#[test]
fn servicenow_429_waits_for_retry_after_and_5xx_is_retried() {
    let server = FakeServer::start();
    server.route("GET", TABLE).respond_seq([
        FakeResponse::json(429, json!({"error": {"message": "Too many requests"}}))
            .header("Retry-After", "7"),
        FakeResponse::json(503, json!({"error": {"message": "down"}})),
        FakeResponse::json(200, json!({ "result": [snow_record("-4", "requested")] })),
    ]);
    // The record found holds no evidence digest yet: the re-run records it.
    server
        .route("PATCH", &format!("{TABLE}/{SYS_ID}"))
        .respond(FakeResponse::json(
            200,
            json!({ "result": snow_record("-4", "requested") }),
        ));
    let (sn, clock) = snow(&server);
    let opened = sn.open(&bundle()).unwrap();
    assert!(!opened.created);
    assert_eq!(clock.sleeps()[0], Duration::from_secs(7));
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(server.requests_to("GET", TABLE).len(), 3);
}

#[test]
fn servicenow_gives_up_on_persistent_5xx_with_exit_3() {
    let server = FakeServer::start();
    server.route("GET", TABLE).respond(FakeResponse::json(
        502,
        json!({"error": {"message": "bad gateway"}}),
    ));
    let (sn, _) = snow(&server);
    let err = sn.open(&bundle()).unwrap_err();
    assert_eq!(err.category().code(), 3);
    assert!(err.to_string().contains("after 4 attempts"), "{err}");
}

#[test]
fn servicenow_unknown_record_is_a_usage_error() {
    let server = FakeServer::start();
    stateful_snow(&server);
    let (sn, _) = snow(&server);
    let err = sn.state(SYS_ID).unwrap_err();
    assert_eq!(err.category().code(), 2, "{err}");
    assert!(err.to_string().contains(SYS_ID));
}

// ---------------------------------------------------------------------------------------------
// wait
// ---------------------------------------------------------------------------------------------

fn wait_on(
    server: &FakeServer,
    states: &[(&str, &str)],
    timeout: Duration,
) -> (Result<wait::Decision, Error>, Vec<String>, Arc<FakeClock>) {
    let path = format!("{TABLE}/{SYS_ID}");
    server.route("GET", &path).respond_seq(
        states
            .iter()
            .map(|(s, a)| FakeResponse::json(200, json!({ "result": snow_record(s, a) }))),
    );
    let (sn, _) = snow(server);
    let clock = Arc::new(FakeClock::new());
    let mut lines = Vec::new();
    let result = wait::wait(
        &sn,
        SYS_ID,
        timeout,
        Duration::from_secs(30),
        clock.as_ref(),
        &mut |l| lines.push(l.to_owned()),
    );
    (result, lines, clock)
}

#[test]
fn wait_logs_one_line_per_state_change_not_per_poll() {
    let server = FakeServer::start();
    let (result, lines, clock) = wait_on(
        &server,
        &[
            ("-4", "requested"),
            ("-4", "requested"),
            ("-4", "requested"),
            ("-3", "requested"),
            ("-3", "requested"),
            ("-2", "approved"),
        ],
        Duration::from_secs(3600),
    );
    let d = result.unwrap();
    assert_eq!(d.approval, Approval::Approved);
    assert_eq!(d.polls, 6);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines,
        [
            "change 0123456789abcdef0123456789abcdef: Assess (approval requested) [pending] after 0s",
            "change 0123456789abcdef0123456789abcdef: Authorize (approval requested) [pending] after 1m 30s",
            "change 0123456789abcdef0123456789abcdef: Scheduled (approval approved) [approved] after 2m 30s",
        ]
    );
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(30); 5]);
}

#[test]
fn wait_ends_on_rejection_and_cancellation() {
    for (state, approval, expected) in [
        ("-4", "rejected", Approval::Rejected),
        ("4", "requested", Approval::Cancelled),
    ] {
        let server = FakeServer::start();
        let (result, lines, _) = wait_on(
            &server,
            &[("-4", "requested"), (state, approval)],
            Duration::from_secs(3600),
        );
        assert_eq!(result.unwrap().approval, expected);
        assert_eq!(lines.len(), 2);
    }
}

#[test]
fn wait_times_out_with_exit_3_without_sleeping_past_the_deadline() {
    let server = FakeServer::start();
    let (result, lines, clock) = wait_on(&server, &[("-4", "requested")], Duration::from_secs(100));
    let err = result.unwrap_err();
    assert_eq!(err.category().code(), 3);
    assert!(err.to_string().contains("within 1m 40s"), "{err}");
    assert!(err.to_string().contains("Assess"), "{err}");
    assert_eq!(lines.len(), 1);
    assert_eq!(
        clock.sleeps(),
        vec![
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::from_secs(10)
        ]
    );
}

/// A `sysapproval_approver` row as the Table API answers with `sysparm_display_value=all`.
fn snow_approval(approver: &str, state: &str, at: &str, comments: &str) -> Value {
    json!({
        "approver": {
            "value": "46d44a23a9fe19810012d100cca80666",
            "display_value": approver,
            "link": "https://acme.service-now.com/api/now/table/sys_user/46d44a23a9fe19810012d100cca80666",
        },
        "state": {"value": state, "display_value": state},
        "comments": {"value": "", "display_value": comments},
        "sys_updated_on": {"value": at, "display_value": at},
    })
}

#[test]
fn wait_names_who_rejected_a_servicenow_change_and_why() {
    let server = FakeServer::start();
    server
        .route("GET", "/api/now/table/sysapproval_approver")
        .query("sysparm_query", &format!("sysapproval={SYS_ID}^ORDERBYsys_updated_on"))
        .query("sysparm_display_value", "all")
        .respond(FakeResponse::json(
            200,
            json!({"result": [
                snow_approval("Abel Tuter", "requested", "2026-01-05 10:00:00", ""),
                snow_approval(
                    "Bernard Laboy",
                    "rejected",
                    "2026-01-05 10:20:00",
                    "2026-01-05 10:20:00 - Bernard Laboy (Comments)\nThe backout plan\nwas never tested\n\n2026-01-05 10:05:00 - Bernard Laboy (Comments)\nLooking at it\n\n",
                ),
            ]}),
        ));
    let (result, _, _) = wait_on(
        &server,
        &[("-4", "requested"), ("-5", "rejected")],
        Duration::from_secs(3600),
    );
    let d = result.unwrap();
    assert_eq!(d.approval, Approval::Rejected);
    assert_eq!(
        d.reviews,
        [paved_change::backend::Review {
            user: "Bernard Laboy".into(),
            state: "rejected".into(),
            at: Some("2026-01-05T10:20:00Z".into()),
            comment: Some("The backout plan\nwas never tested".into()),
        }]
    );
    assert_eq!(
        wait::refusal("CHG0030001", paved_change::backend::Kind::Servicenow, &d),
        "change CHG0030001 (servicenow) was rejected, state New (approval rejected): rejected by \
         Bernard Laboy at 2026-01-05T10:20:00Z: \"The backout plan was never tested\". Do not \
         deploy it: address the reasons given, then ask for approval again (re-run the pipeline: \
         `paved-change open` finds the change, or opens a new one)."
    );
    let asked = server.requests_to("GET", "/api/now/table/sysapproval_approver");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {SNOW_TOKEN}").as_str())
    );
}

#[test]
fn wait_still_decides_when_servicenow_hides_the_approvals() {
    let server = FakeServer::start();
    server
        .route("GET", "/api/now/table/sysapproval_approver")
        .respond(FakeResponse::json(
            403,
            json!({"error": {"message": "Insufficient rights to query records", "detail": "Field(s) present in the query do not have permission to be read"}, "status": "failure"}),
        ));
    let (result, _, _) = wait_on(&server, &[("-5", "rejected")], Duration::from_secs(3600));
    let d = result.unwrap();
    assert_eq!(d.approval, Approval::Rejected);
    assert!(d.reviews.is_empty(), "{:?}", d.reviews);
}

// ---------------------------------------------------------------------------------------------
// GitHub and GitLab deployments
// ---------------------------------------------------------------------------------------------

const GH_DEPLOYMENTS: &str = "/repos/acme/rocket/deployments";

fn github(server: &FakeServer) -> GitHubBackend {
    let (client, _) = test_client();
    let config = paved_forge::GitHubConfig::new(
        &server.url(),
        "acme/rocket",
        Some(Secret::new("ghs_token")),
    )
    .unwrap();
    GitHubBackend::new(client, config, true)
}

#[test]
fn github_creates_a_deployment_with_a_queued_status_and_finds_it_on_rerun() {
    let server = FakeServer::start();
    let b = bundle();
    // Page 1 holds someone else's deployment and links to page 2, which is empty.
    let page2 = format!(
        "{}{GH_DEPLOYMENTS}?environment=prod&per_page=100&page=2",
        server.url()
    );
    server
        .route("GET", GH_DEPLOYMENTS)
        .respond(
            FakeResponse::json(200, json!([{ "id": 1, "sha": "f".repeat(40), "environment": "prod", "payload": {"correlation_id": "other"} }]))
                .header("Link", format!("<{page2}>; rel=\"next\"")),
        );
    server
        .route("GET", GH_DEPLOYMENTS)
        .query("page", "2")
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", GH_DEPLOYMENTS).respond(FakeResponse::json(
        201,
        json!({ "id": 77, "sha": b.commits.head, "environment": "prod", "created_at": "2026-01-05T10:00:00Z", "payload": {"correlation_id": b.correlation_id} }),
    ));
    server
        .route("GET", &format!("{GH_DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{GH_DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(201, json!({ "state": "queued" })));
    let gh = github(&server);
    let opened = gh.open(&b).unwrap();
    assert_eq!(opened.id, "77");
    assert!(opened.created);
    assert_eq!(opened.approval, Approval::Pending);
    let post = server.requests_to("POST", GH_DEPLOYMENTS)[0].json();
    assert_eq!(post["ref"], b.commits.head);
    assert_eq!(post["environment"], "prod");
    assert_eq!(post["auto_merge"], false);
    assert_eq!(post["production_environment"], true);
    assert_eq!(post["payload"]["correlation_id"], b.correlation_id);
    let status = server.requests_to("POST", &format!("{GH_DEPLOYMENTS}/77/statuses"))[0].json();
    assert_eq!(status["state"], "queued");
    assert_eq!(
        server.requests_to("GET", GH_DEPLOYMENTS).len(),
        2,
        "both pages read"
    );

    // Re-run: the deployment is on page 2 now.
    server.route("GET", GH_DEPLOYMENTS).query("page", "2").respond(FakeResponse::json(
        200,
        json!([{ "id": 77, "sha": b.commits.head, "environment": "prod", "payload": {"correlation_id": b.correlation_id} }]),
    ));
    // The status the first run posted, which names the evidence digest.
    assert!(
        status["description"]
            .as_str()
            .unwrap()
            .ends_with(&format!("paved evidence digest: sha256:{}", "e".repeat(64))),
        "{status}"
    );
    server
        .route("GET", &format!("{GH_DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(
            200,
            json!([{ "state": "queued", "description": status["description"] }]),
        ));
    let again = gh.open(&b).unwrap();
    assert!(!again.created);
    assert_eq!(again.id, "77");
    assert_eq!(server.requests_to("POST", GH_DEPLOYMENTS).len(), 1);
    assert_eq!(
        server
            .requests_to("POST", &format!("{GH_DEPLOYMENTS}/77/statuses"))
            .len(),
        1
    );

    // Gate and close. A deployment with no workflow run in its payload is decided by statuses.
    server.route("GET", &format!("{GH_DEPLOYMENTS}/77")).respond(FakeResponse::json(
        200,
        json!({ "id": 77, "sha": b.commits.head, "environment": "prod", "payload": {"correlation_id": b.correlation_id} }),
    ));
    for (state, expected) in [
        ("queued", Approval::Pending),
        ("in_progress", Approval::Approved),
        ("failure", Approval::Rejected),
        ("inactive", Approval::Cancelled),
    ] {
        server
            .route("GET", &format!("{GH_DEPLOYMENTS}/77/statuses"))
            .respond(FakeResponse::json(200, json!([{ "state": state }])));
        assert_eq!(gh.state("77").unwrap().approval, expected);
    }
    gh.close("77", Outcome::Failure, "", Some(&b)).unwrap();
    let statuses = server.requests_to("POST", &format!("{GH_DEPLOYMENTS}/77/statuses"));
    let last = statuses.last().unwrap().json();
    assert_eq!(last["state"], "failure");
    assert_eq!(last["log_url"], b.ci.run_url.clone().unwrap());
}

#[test]
fn github_409_failed_checks_is_a_refusal() {
    let server = FakeServer::start();
    server
        .route("GET", GH_DEPLOYMENTS)
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", GH_DEPLOYMENTS)
        .respond(FakeResponse::json(
            409,
            json!({ "message": "Conflict: Commit status checks failed for main." }),
        ));
    let err = github(&server).open(&bundle()).unwrap_err();
    assert_eq!(err.category().code(), 1, "{err}");
    assert!(err.to_string().contains("status checks failed"), "{err}");
}

#[test]
fn github_last_successful_deployment_is_the_range_base() {
    let server = FakeServer::start();
    server.route("GET", GH_DEPLOYMENTS).respond(FakeResponse::json(
        200,
        json!([
            { "id": 3, "sha": "3".repeat(40), "environment": "prod", "created_at": "2026-01-03T00:00:00Z" },
            { "id": 2, "sha": "2".repeat(40), "environment": "prod", "created_at": "2026-01-02T00:00:00Z" },
        ]),
    ));
    server
        .route("GET", &format!("{GH_DEPLOYMENTS}/3/statuses"))
        .respond(FakeResponse::json(200, json!([{ "state": "failure" }])));
    server
        .route("GET", &format!("{GH_DEPLOYMENTS}/2/statuses"))
        .respond(FakeResponse::json(200, json!([{ "state": "success" }])));
    let prev = github(&server).last_deployment("prod").unwrap().unwrap();
    assert_eq!(prev.commit.unwrap(), "2".repeat(40));
}

const GL_DEPLOYMENTS: &str = "/projects/acme%2Frocket/deployments";

fn gitlab(server: &FakeServer) -> GitLabBackend {
    let (client, _) = test_client();
    let config = paved_forge::GitLabConfig::new(
        &server.url(),
        "acme/rocket",
        Some(paved_forge::GitLabToken::Private(Secret::new(
            "glpat-token",
        ))),
    )
    .unwrap();
    GitLabBackend::new(client, config)
}

#[test]
fn gitlab_creates_finds_gates_and_closes_a_deployment() {
    let server = FakeServer::start();
    let b = bundle();
    server
        .route("GET", GL_DEPLOYMENTS)
        .respond(FakeResponse::json(
            200,
            json!([{ "id": 5, "iid": 2, "sha": b.commits.head, "status": "success" }]),
        ));
    server.route("POST", GL_DEPLOYMENTS).respond(FakeResponse::json(
        201,
        json!({ "id": 9, "iid": 3, "sha": b.commits.head, "status": "blocked", "environment": {"name": "prod"} }),
    ));
    // The evidence digest goes into a commit status on the deployed sha.
    let statuses = format!(
        "/projects/acme%2Frocket/repository/commits/{}/statuses",
        b.commits.head
    );
    server
        .route("GET", &statuses)
        .respond(FakeResponse::json(200, json!([])));
    server
        .route(
            "POST",
            &format!("/projects/acme%2Frocket/statuses/{}", b.commits.head),
        )
        .respond(FakeResponse::json(
            201,
            json!({ "id": 1, "status": "success" }),
        ));
    let gl = gitlab(&server);
    let opened = gl.open(&b).unwrap();
    assert_eq!((opened.id.as_str(), opened.number.as_str()), ("9", "3"));
    let lookup = &server.requests_to("GET", &statuses)[0];
    assert_eq!(
        lookup.query_param("name").as_deref(),
        Some("paved-change/evidence")
    );
    assert_eq!(opened.approval, Approval::Pending);
    let post = server.requests_to("POST", GL_DEPLOYMENTS)[0].clone();
    assert_eq!(post.header("private-token"), Some("glpat-token"));
    assert_eq!(post.json()["status"], "running");
    assert_eq!(post.json()["sha"], b.commits.head);

    // Re-run: the unfinished deployment of the same commit is found.
    server
        .route("GET", GL_DEPLOYMENTS)
        .respond(FakeResponse::json(
            200,
            json!([{ "id": 9, "iid": 3, "sha": b.commits.head, "status": "blocked" }]),
        ));
    assert!(!gl.open(&b).unwrap().created);
    assert_eq!(server.requests_to("POST", GL_DEPLOYMENTS).len(), 1);

    let one = format!("{GL_DEPLOYMENTS}/9");
    for (body, expected) in [
        (
            json!({ "id": 9, "sha": "x", "status": "blocked", "approvals": [] }),
            Approval::Pending,
        ),
        (
            json!({ "id": 9, "sha": "x", "status": "blocked", "approvals": [{"status": "rejected"}] }),
            Approval::Rejected,
        ),
        (
            json!({ "id": 9, "sha": "x", "status": "running", "approvals": [{"status": "approved"}] }),
            Approval::Approved,
        ),
        (
            json!({ "id": 9, "sha": "x", "status": "canceled" }),
            Approval::Cancelled,
        ),
    ] {
        server
            .route("GET", &one)
            .respond(FakeResponse::json(200, body));
        assert_eq!(gl.state("9").unwrap().approval, expected);
    }
    server.route("PUT", &one).respond(FakeResponse::json(
        200,
        json!({ "id": 9, "sha": "x", "status": "success" }),
    ));
    gl.close("9", Outcome::Success, "", None).unwrap();
    assert_eq!(
        server.requests_to("PUT", &one)[0].json()["status"],
        "success"
    );
    let err = gl.state("nine").unwrap_err();
    assert_eq!(err.category().code(), 2);
}

// ---------------------------------------------------------------------------------------------
// PagerDuty
// ---------------------------------------------------------------------------------------------

const ROUTING_KEY: &str = "R0UTINGKEY0123456789abcdef012345";

#[test]
fn pagerduty_sends_a_change_event_and_never_waits() {
    let server = FakeServer::start();
    server
        .route("POST", "/v2/change/enqueue")
        .respond(FakeResponse::json(
            202,
            json!({ "status": "success", "message": "Change event processed" }),
        ));
    let (client, _) = test_client();
    let pd = PagerDuty::new(client, &server.url(), Secret::new(ROUTING_KEY));
    let opened = pd.open(&bundle()).unwrap();
    assert_eq!(opened.approval, Approval::Approved);
    let body = server.requests_to("POST", "/v2/change/enqueue")[0].json();
    assert_eq!(body["routing_key"], ROUTING_KEY);
    assert_eq!(
        body["payload"]["summary"],
        "Deploy acme/rocket 1.4.0 to prod"
    );
    assert_eq!(body["payload"]["source"], "paved-change");
    assert_eq!(body["payload"]["timestamp"], "2026-01-05T10:00:00Z");
    assert_eq!(body["payload"]["custom_details"]["version"], "1.4.0");
    assert_eq!(body["links"][0]["text"], "CI run");
    assert_eq!(pd.state("x").unwrap().approval, Approval::Approved);
    pd.close("x", Outcome::Success, "", Some(&bundle()))
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn pagerduty_rejection_names_no_routing_key() {
    let server = FakeServer::start();
    server.route("POST", "/v2/change/enqueue").respond(FakeResponse::json(
        400,
        json!({ "status": "invalid event", "message": "Event object is invalid", "errors": [format!("routing_key {ROUTING_KEY} unknown")] }),
    ));
    let (client, _) = test_client();
    let pd = PagerDuty::new(client, &server.url(), Secret::new(ROUTING_KEY));
    let err = pd.open(&bundle()).unwrap_err();
    let text = format!("{err} {}", err.hint().unwrap_or_default());
    assert!(!text.contains(ROUTING_KEY), "{text}");
    assert!(text.contains("400"), "{text}");
}

/// A business rule (or a missing field) can keep a change where it is while the Table API still
/// answers `200` and echoes the fields sent. `close` reads the record back and fails with the
/// state it is really in, instead of printing "closed".
#[test]
fn servicenow_close_fails_when_the_state_did_not_move() {
    let server = FakeServer::start();
    let path = format!("{TABLE}/{SYS_ID}");
    server.route("GET", &path).respond(FakeResponse::json(
        200,
        json!({ "result": snow_record("-2", "approved") }),
    ));
    server
        .route("PATCH", &path)
        .respond_with(|r: &RecordedRequest| {
            let mut echo = snow_record("-2", "approved");
            for (k, v) in r.json().as_object().unwrap() {
                echo[k] = v.clone();
            }
            FakeResponse::json(200, json!({ "result": echo }))
        });
    let (sn, _) = snow(&server);
    let err = sn
        .close(SYS_ID, Outcome::Success, "went fine", None)
        .unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    let text = err.to_string();
    assert!(text.contains("CHG0030001"), "{text}");
    assert!(text.contains("Scheduled"), "{text}");
    // The same read-back guards `start`.
    let err = sn.start(SYS_ID).unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    assert!(err.to_string().contains("Implement"), "{err}");
}
