//! Native approvals: GitHub environments' required reviewers (read from the workflow run's
//! pending deployments and review history) and GitLab protected environments (a `blocked`
//! deployment and its `approvals`), against local servers that follow the documented routes,
//! status codes and bodies:
//! - GitHub REST `2022-11-28`: `GET /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments`
//!   ("Get pending deployments for a workflow run") and `GET …/runs/{run_id}/approvals` ("Get
//!   the review history for a workflow run": `environments`, `state`, `user`, `comment`);
//! - GitLab v4: `GET /projects/:id/deployments/:deployment_id` with `status`, `approvals` (`user`,
//!   `status`, `created_at`, `comment`) and `pending_approval_count` (Premium and Ultimate only).

use std::sync::Arc;
use std::time::Duration;

use paved_change::backend::{Approval, Backend, GitHubBackend, GitLabBackend};
use paved_change::bundle::{
    Artifact, BaseSource, Bundle, Changes, Ci, Commits, Record, Timestamps,
};
use paved_change::wait;
use paved_core::error::Diagnostic;
use paved_core::http::Secret;
use paved_testkit::http::{FakeClock, FakeResponse, FakeServer, test_client};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_approvals_t0ken";
const GL_TOKEN: &str = "glpat-approvals-t0ken";
const DEPLOYMENTS: &str = "/repos/acme/rocket/deployments";
const RUN: &str = "/repos/acme/rocket/actions/runs/4242";

fn bundle() -> Bundle {
    Bundle {
        schema: paved_change::bundle::SCHEMA_URI.into(),
        schema_version: 1,
        id: "chg-00000000000000aa".into(),
        correlation_id: "acme/rocket:4242:prod".into(),
        environment: "prod".into(),
        version: "1.4.0".into(),
        repository: Some("acme/rocket".into()),
        commits: Commits {
            head: "a".repeat(40),
            base: None,
            base_source: BaseSource::Tag,
            base_ref: None,
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
            run_id: Some("4242".into()),
            attempt: Some("1".into()),
            run_url: Some("https://github.com/acme/rocket/actions/runs/4242/attempts/1".into()),
            ..Ci::default()
        },
        timestamps: Timestamps {
            opened_at: "2026-01-05T10:00:00Z".into(),
            ..Timestamps::default()
        },
        record: Record {
            backend: "github".into(),
            state: "pending".into(),
            ..Record::default()
        },
    }
}

fn github(server: &FakeServer) -> GitHubBackend {
    let (client, _) = test_client();
    let config =
        paved_forge::GitHubConfig::new(&server.url(), "acme/rocket", Some(Secret::new(TOKEN)))
            .unwrap();
    GitHubBackend::new(client, config, true)
}

/// The documented shape of one environment in both answers.
fn env(id: u64, name: &str) -> Value {
    json!({
        "id": id, "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4", "name": name,
        "url": format!("https://api.github.com/repos/acme/rocket/environments/{name}"),
        "html_url": format!("https://github.com/acme/rocket/deployments/activity_log?environments_filter={name}"),
        "created_at": "2025-11-01T10:00:00Z", "updated_at": "2025-11-01T10:00:00Z"
    })
}

fn user(login: &str) -> Value {
    json!({ "login": login, "id": 1, "type": "User", "site_admin": false,
            "url": format!("https://api.github.com/users/{login}") })
}

fn pending(name: &str) -> Value {
    json!([{
        "environment": env(7, name),
        "wait_timer": 0,
        "wait_timer_started_at": "2026-01-05T10:00:05Z",
        "current_user_can_approve": false,
        "reviewers": [{ "type": "User", "reviewer": user("grace") }]
    }])
}

fn review(name: &str, state: &str, login: &str, comment: &str) -> Value {
    json!({ "environments": [env(7, name)], "state": state, "user": user(login), "comment": comment })
}

/// A deployment paved made in run 4242, still `queued`.
fn queued_deployment(server: &FakeServer) {
    server.route("GET", &format!("{DEPLOYMENTS}/77")).respond(FakeResponse::json(
        200,
        json!({ "id": 77, "sha": "a".repeat(40), "environment": "prod", "created_at": "2026-01-05T10:00:00Z",
                "payload": { "correlation_id": "acme/rocket:4242:prod", "run_id": 4242 } }),
    ));
    server
        .route("GET", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(200, json!([{ "state": "queued" }])));
}

#[test]
fn github_open_records_the_workflow_run_in_the_payload() {
    let server = FakeServer::start();
    server
        .route("GET", DEPLOYMENTS)
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", DEPLOYMENTS)
        .respond(FakeResponse::json(
            201,
            json!({ "id": 77, "sha": "a".repeat(40), "environment": "prod", "payload": {} }),
        ));
    server
        .route("GET", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(201, json!({ "state": "queued" })));
    github(&server).open(&bundle()).unwrap();
    let post = server.requests_to("POST", DEPLOYMENTS)[0].json();
    assert_eq!(post["payload"]["run_id"], 4242, "{post}");
}

#[test]
fn github_state_reads_the_runs_reviews_for_the_environment() {
    let server = FakeServer::start();
    queued_deployment(&server);
    let gh = github(&server);

    // Waiting for a required reviewer.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, pending("prod")));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Pending, "{s:?}");
    assert!(s.label.contains("grace"), "names who can approve: {s:?}");

    // Another environment's review decides nothing for prod.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review("staging", "approved", "ada", "ok for staging")]),
        ));
    assert_eq!(gh.state("77").unwrap().approval, Approval::Pending);

    // Approved: who, and with what comment.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review("prod", "approved", "grace", "ship it")]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Approved, "{s:?}");
    let reviews = gh.reviews("77").unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].user, "grace");
    assert_eq!(reviews[0].state, "approved");
    assert_eq!(reviews[0].comment.as_deref(), Some("ship it"));

    // Rejected.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review("prod", "rejected", "linus", "not on a Friday")]),
        ));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Rejected, "{s:?}");
    assert!(s.label.contains("linus"), "{s:?}");

    // Every read sent the token and the API version.
    for r in server.requests() {
        assert_eq!(r.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    }
}

#[test]
fn github_wait_polls_pending_deployments_until_approved() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond_seq([
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([review("prod", "approved", "grace", "ship it")])),
        ]);
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond_seq([
            FakeResponse::json(200, pending("prod")),
            FakeResponse::json(200, pending("prod")),
            FakeResponse::json(200, json!([])),
        ]);
    let gh = github(&server);
    let clock = Arc::new(FakeClock::new());
    let mut lines = Vec::new();
    let d = wait::wait(
        &gh,
        "77",
        Duration::from_secs(3600),
        Duration::from_secs(30),
        clock.as_ref(),
        &mut |l| lines.push(l.to_owned()),
    )
    .unwrap();
    assert_eq!(d.approval, Approval::Approved);
    assert_eq!(d.polls, 3);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(d.reviews.len(), 1, "{d:?}");
    assert_eq!(d.reviews[0].user, "grace");
    assert_eq!(
        server.requests_to("GET", &format!("{RUN}/approvals")).len(),
        3,
        "one read per poll, none extra for the reviews"
    );
    assert_eq!(
        server
            .requests_to("GET", &format!("{DEPLOYMENTS}/77"))
            .len(),
        1,
        "the deployment's run is read once"
    );
}

#[test]
fn github_wait_times_out_while_the_review_is_pending() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, pending("prod")));
    let gh = github(&server);
    let clock = Arc::new(FakeClock::new());
    let err = wait::wait(
        &gh,
        "77",
        Duration::from_secs(90),
        Duration::from_secs(30),
        clock.as_ref(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.category().code(), 3, "{err}");
    assert!(
        server
            .requests_to("GET", &format!("{RUN}/pending_deployments"))
            .len()
            >= 3,
        "kept polling"
    );
}

fn environment(rules: Value) -> FakeResponse {
    let mut e = env(7, "prod");
    e["protection_rules"] = rules;
    e["deployment_branch_policy"] =
        json!({ "protected_branches": true, "custom_branch_policies": false });
    FakeResponse::json(200, e)
}

#[test]
fn github_an_environment_without_protection_rules_gates_nothing() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    let gh = github(&server);
    // Required reviewers, and the run has not reached the job yet: pending.
    server
        .route("GET", "/repos/acme/rocket/environments/prod")
        .respond(environment(json!([
            { "id": 3, "node_id": "MDQ6R2F0ZTM=", "type": "required_reviewers",
              "prevent_self_review": false,
              "reviewers": [{ "type": "User", "reviewer": user("grace") }] },
            { "id": 4, "node_id": "MDQ6R2F0ZTQ=", "type": "branch_policy" }
        ])));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Pending, "{s:?}");
    assert!(s.label.contains("not waiting on `prod` yet"), "{s:?}");
    // Only a branch policy: nothing can hold the job, so nothing is waited for.
    server
        .route("GET", "/repos/acme/rocket/environments/prod")
        .respond(environment(json!([
            { "id": 4, "node_id": "MDQ6R2F0ZTQ=", "type": "branch_policy" }
        ])));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Approved, "{s:?}");
    assert!(s.label.contains("no protection rules"), "{s:?}");
}

/// A run waiting on an environment no reviewer gates: `wait_timer` minutes from
/// `wait_timer_started_at`, with no reviewers to ask.
fn pending_on_timer(name: &str, minutes: u64, started: jiff::Timestamp) -> Value {
    json!([{
        "environment": env(7, name),
        "wait_timer": minutes,
        "wait_timer_started_at": started.to_string(),
        "current_user_can_approve": false,
        "reviewers": []
    }])
}

/// `GET …/environments/prod/deployment_protection_rules` with these apps' enabled rules.
fn custom_rules(server: &FakeServer, apps: &[&str]) {
    let rules: Vec<Value> = apps
        .iter()
        .enumerate()
        .map(|(n, slug)| {
            json!({ "id": 3 + n, "node_id": "MDE2OkRlcGxveW1lbnRQcm90ZWN0aW9uUnVsZTM=", "enabled": true,
                    "app": { "id": 1, "node_id": "UHJvdGVjdGlvblJ1bGU6MQ==", "slug": slug,
                             "integration_url": format!("https://api.github.com/apps/{slug}") } })
        })
        .collect();
    server
        .route(
            "GET",
            "/repos/acme/rocket/environments/prod/deployment_protection_rules",
        )
        .respond(FakeResponse::json(
            200,
            json!({ "total_count": rules.len(), "custom_deployment_protection_rules": rules }),
        ));
}

fn run_status(status: &str, conclusion: Option<&str>) -> FakeResponse {
    FakeResponse::json(
        200,
        json!({ "id": 4242, "name": "deploy", "run_attempt": 1, "status": status, "conclusion": conclusion }),
    )
}

#[test]
fn github_a_wait_timer_only_environment_is_approved_when_the_timer_elapses() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/environments/prod")
        .respond(environment(json!([
            { "id": 5, "node_id": "MDQ6R2F0ZTU=", "type": "wait_timer", "wait_timer": 30 },
            { "id": 4, "node_id": "MDQ6R2F0ZTQ=", "type": "branch_policy" }
        ])));
    custom_rules(&server, &[]);
    let now = jiff::Timestamp::now();
    let started = now - jiff::SignedDuration::from_mins(10);
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(
            200,
            pending_on_timer("prod", 30, started),
        ));
    let gh = github(&server);
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Pending, "{s:?}");
    let ends = started + jiff::SignedDuration::from_mins(30);
    assert!(
        s.label.contains(&format!(
            "wait timer of 30 min in run 4242: it elapses at {ends}"
        )),
        "{s:?}"
    );
    // The timer has run out (GitHub may not have started the job yet): approved.
    let started = now - jiff::SignedDuration::from_mins(31);
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(
            200,
            pending_on_timer("prod", 30, started),
        ));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Approved, "{s:?}");
    assert!(s.label.contains("wait timer of 30 min elapsed"), "{s:?}");
}

#[test]
fn github_wait_on_a_wait_timer_ends_when_the_job_starts() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/environments/prod")
        .respond(environment(json!([
            { "id": 5, "node_id": "MDQ6R2F0ZTU=", "type": "wait_timer", "wait_timer": 60 }
        ])));
    // A server without custom deployment protection rules answers 404.
    let started = jiff::Timestamp::now();
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond_seq([
            FakeResponse::json(200, pending_on_timer("prod", 60, started)),
            FakeResponse::json(200, pending_on_timer("prod", 60, started)),
            FakeResponse::json(200, json!([])),
        ]);
    server
        .route("GET", RUN)
        .respond(run_status("in_progress", None));
    let gh = github(&server);
    let clock = Arc::new(FakeClock::new());
    let mut lines = Vec::new();
    let d = wait::wait(
        &gh,
        "77",
        Duration::from_secs(7200),
        Duration::from_secs(60),
        clock.as_ref(),
        &mut |l| lines.push(l.to_owned()),
    )
    .unwrap();
    assert_eq!(d.approval, Approval::Approved, "{lines:#?}");
    assert_eq!(d.polls, 3);
    assert!(lines[0].contains("it elapses at"), "{lines:#?}");
    assert!(lines[1].contains("let run 4242 go on"), "{lines:#?}");
}

#[test]
fn github_a_custom_protection_rule_is_pending_until_the_run_goes_on_or_ends() {
    let server = FakeServer::start();
    queued_deployment(&server);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/environments/prod")
        .respond(environment(json!([
            { "id": 4, "node_id": "MDQ6R2F0ZTQ=", "type": "branch_policy" }
        ])));
    custom_rules(&server, &["deploy-guard"]);
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(
            200,
            pending_on_timer("prod", 0, jiff::Timestamp::now()),
        ));
    let gh = github(&server);
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Pending, "{s:?}");
    assert!(
        s.label
            .contains("deployment protection rule (deploy-guard)"),
        "{s:?}"
    );
    // Not waiting any more, and the run goes on: the app approved.
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", RUN)
        .respond(run_status("in_progress", None));
    assert_eq!(gh.state("77").unwrap().approval, Approval::Approved);
    // The run ended instead (the app rejected it, or someone cancelled it): rejected.
    server
        .route("GET", RUN)
        .respond(run_status("completed", Some("cancelled")));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Rejected, "{s:?}");
    assert!(s.label.contains("ended `cancelled`"), "{s:?}");
    // A fresh `wait` that never saw the run waiting does not take "not waiting" for a pass.
    let fresh = github(&server);
    let s = fresh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Pending, "{s:?}");
    assert!(s.label.contains("not waiting on `prod` yet"), "{s:?}");
}

#[test]
fn github_a_rerun_waiting_for_review_is_pending_despite_an_earlier_rejection() {
    let server = FakeServer::start();
    queued_deployment(&server);
    // Attempt 1 was rejected; "Re-run jobs" asks the reviewers again.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review("prod", "rejected", "linus", "not on a Friday")]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, pending("prod")));
    let gh = github(&server);
    assert_eq!(gh.state("77").unwrap().approval, Approval::Pending);
    // Approved this time: the latest review decides.
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([
                review("prod", "rejected", "linus", "not on a Friday"),
                review("prod", "approved", "grace", "Monday now")
            ]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    let s = gh.state("77").unwrap();
    assert_eq!(s.approval, Approval::Approved, "{s:?}");
    assert_eq!(
        gh.reviews("77").unwrap().len(),
        2,
        "the whole history is kept"
    );
}

#[test]
fn github_review_history_is_read_across_pages() {
    let server = FakeServer::start();
    queued_deployment(&server);
    let page2 = format!("{}{RUN}/approvals?page=2", server.url());
    server.route("GET", &format!("{RUN}/approvals")).respond(
        FakeResponse::json(200, json!([review("staging", "approved", "ada", "")]))
            .header("Link", format!("<{page2}>; rel=\"next\"")),
    );
    server
        .route("GET", &format!("{RUN}/approvals"))
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([review("prod", "approved", "grace", "ship it")]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    assert_eq!(
        github(&server).state("77").unwrap().approval,
        Approval::Approved
    );
}

#[test]
fn github_review_errors_name_the_route_not_the_token() {
    for status in [401u16, 403, 404, 429, 500, 503] {
        let server = FakeServer::start();
        queued_deployment(&server);
        let mut response = FakeResponse::json(
            status,
            json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest" }),
        );
        if status == 429 {
            response = response.header("Retry-After", "1");
        }
        server
            .route("GET", &format!("{RUN}/approvals"))
            .respond(response);
        let err = github(&server).state("77").unwrap_err();
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert_eq!(err.category().code(), 3, "{status}: {text}");
        assert!(
            text.contains("/actions/runs/4242/approvals"),
            "{status}: {text}"
        );
        assert!(!text.contains(TOKEN), "{status}: {text}");
        if matches!(status, 401 | 403 | 404) {
            assert!(text.contains("actions: read"), "{status}: a hint: {text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GitLab
// ---------------------------------------------------------------------------------------------

const GL_ONE: &str = "/projects/acme%2Frocket/deployments/90";

fn gitlab(server: &FakeServer) -> GitLabBackend {
    let (client, _) = test_client();
    let config = paved_forge::GitLabConfig::new(
        &server.url(),
        "acme/rocket",
        Some(paved_forge::GitLabToken::Private(Secret::new(GL_TOKEN))),
    )
    .unwrap();
    GitLabBackend::new(client, config)
}

fn gl_user(username: &str) -> Value {
    json!({ "id": 2, "username": username, "name": username, "state": "active",
            "avatar_url": null, "web_url": format!("https://gitlab.example.com/{username}") })
}

fn gl_deployment(status: &str, pending: Option<u64>, approvals: Value) -> Value {
    let mut d = json!({
        "id": 90, "iid": 3, "ref": "main", "sha": "a".repeat(40), "status": status,
        "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
        "environment": { "id": 9, "name": "prod", "external_url": null },
        "deployable": null,
    });
    d["approvals"] = approvals;
    if let Some(n) = pending {
        d["pending_approval_count"] = json!(n);
    }
    d
}

fn gl_approval(username: &str, status: &str, comment: &str) -> Value {
    json!({ "user": gl_user(username), "status": status,
            "created_at": "2026-01-05T10:20:00Z", "comment": comment })
}

#[test]
fn gitlab_running_is_not_approved_while_approvals_are_outstanding() {
    let server = FakeServer::start();
    let gl = gitlab(&server);
    for (body, expected) in [
        // A protected environment waiting for approval.
        (
            gl_deployment("blocked", Some(2), json!([])),
            Approval::Pending,
        ),
        (
            gl_deployment(
                "blocked",
                Some(1),
                json!([gl_approval("grace", "approved", "lgtm")]),
            ),
            Approval::Pending,
        ),
        // `running` while approvals are still needed is not an approval.
        (
            gl_deployment("running", Some(1), json!([])),
            Approval::Pending,
        ),
        (
            gl_deployment("created", Some(0), json!([])),
            Approval::Pending,
        ),
        // Enough approvals, and GitLab let the deployment run.
        (
            gl_deployment(
                "running",
                Some(0),
                json!([
                    gl_approval("grace", "approved", "lgtm"),
                    gl_approval("ada", "approved", "")
                ]),
            ),
            Approval::Approved,
        ),
        // One rejection rejects the deployment.
        (
            gl_deployment(
                "blocked",
                Some(1),
                json!([
                    gl_approval("grace", "approved", ""),
                    gl_approval("linus", "rejected", "no")
                ]),
            ),
            Approval::Rejected,
        ),
        // No approval rules: nothing is pending (Free tier has no `pending_approval_count`).
        (
            gl_deployment("running", Some(0), json!([])),
            Approval::Approved,
        ),
        (
            gl_deployment("running", None, json!([])),
            Approval::Approved,
        ),
    ] {
        server
            .route("GET", GL_ONE)
            .respond(FakeResponse::json(200, body.clone()));
        assert_eq!(gl.state("90").unwrap().approval, expected, "{body}");
    }
}

#[test]
fn gitlab_reviews_carry_user_time_and_comment() {
    let server = FakeServer::start();
    server.route("GET", GL_ONE).respond(FakeResponse::json(
        200,
        gl_deployment(
            "running",
            Some(0),
            json!([gl_approval("grace", "approved", "lgtm")]),
        ),
    ));
    let gl = gitlab(&server);
    assert!(gl.reviews("90").unwrap().is_empty(), "nothing read yet");
    assert_eq!(gl.state("90").unwrap().approval, Approval::Approved);
    let reviews = gl.reviews("90").unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].user, "grace");
    assert_eq!(reviews[0].state, "approved");
    assert_eq!(reviews[0].at.as_deref(), Some("2026-01-05T10:20:00Z"));
    assert_eq!(reviews[0].comment.as_deref(), Some("lgtm"));
}

#[test]
fn gitlab_wait_ends_on_a_rejection() {
    let server = FakeServer::start();
    server.route("GET", GL_ONE).respond_seq([
        FakeResponse::json(200, gl_deployment("blocked", Some(1), json!([]))),
        FakeResponse::json(
            200,
            gl_deployment(
                "blocked",
                Some(1),
                json!([gl_approval("linus", "rejected", "no")]),
            ),
        ),
        FakeResponse::json(
            200,
            gl_deployment(
                "blocked",
                Some(1),
                json!([gl_approval("linus", "rejected", "no")]),
            ),
        ),
    ]);
    let gl = gitlab(&server);
    let clock = Arc::new(FakeClock::new());
    let d = wait::wait(
        &gl,
        "90",
        Duration::from_secs(3600),
        Duration::from_secs(30),
        clock.as_ref(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(d.approval, Approval::Rejected);
    assert_eq!(d.reviews[0].user, "linus");
    assert_eq!(d.reviews[0].comment.as_deref(), Some("no"));
}

#[test]
fn gitlab_errors_name_the_route_not_the_token() {
    for status in [401u16, 403, 404, 429, 502] {
        let server = FakeServer::start();
        let mut response = FakeResponse::json(status, json!({ "message": "404 Not found" }));
        if status == 429 {
            response = response.header("Retry-After", "1");
        }
        server.route("GET", GL_ONE).respond(response);
        let err = gitlab(&server).state("90").unwrap_err();
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert_eq!(err.category().code(), 3, "{status}: {text}");
        assert!(text.contains("/deployments/90"), "{status}: {text}");
        assert!(!text.contains(GL_TOKEN), "{status}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The command: `open` in a workflow run, then `wait` on the run's review
// ---------------------------------------------------------------------------------------------

fn actions_env<'a>(output: &'a str, api: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_ACTOR", "ada"),
        ("GITHUB_WORKFLOW", "release"),
        ("GITHUB_JOB", "change"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_OUTPUT", output),
        ("GITHUB_API_URL", api),
        ("GITHUB_TOKEN", TOKEN),
    ]
}

/// Serve `open`: no deployment yet, then the created one (echoing the payload it was sent, as
/// GitHub does), without statuses.
fn serve_open(server: &FakeServer, sha: &str) {
    server
        .route("GET", DEPLOYMENTS)
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", DEPLOYMENTS).respond(FakeResponse::json(
        201,
        json!({ "id": 77, "sha": sha, "environment": "prod", "created_at": "2026-01-05T10:00:00Z" }),
    ));
    server
        .route("GET", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(201, json!({ "state": "queued" })));
}

/// After `open`: the deployment as GitHub now has it, with the payload paved sent.
fn serve_deployment(server: &FakeServer, sha: &str) {
    let payload = server.requests_to("POST", DEPLOYMENTS)[0].json()["payload"].clone();
    assert_eq!(
        payload["run_id"], 4242,
        "the run is in the payload: {payload}"
    );
    server.route("GET", &format!("{DEPLOYMENTS}/77")).respond(FakeResponse::json(
        200,
        json!({ "id": 77, "sha": sha, "environment": "prod", "created_at": "2026-01-05T10:00:00Z", "payload": payload }),
    ));
    server
        .route("GET", &format!("{DEPLOYMENTS}/77/statuses"))
        .respond(FakeResponse::json(200, json!([{ "state": "queued" }])));
}

fn repo_with_history() -> (crate::common::TestRepo, String) {
    let repo = crate::common::TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: first");
    repo.tag("v1.0.0");
    let head = repo.commit_file("b.txt", "fix: empty config (#4)");
    (repo, head)
}

#[test]
fn github_wait_command_reports_who_approved_and_their_comment() {
    let (repo, head) = repo_with_history();
    let server = FakeServer::start();
    serve_open(&server, &head);
    let out = repo.path().join("gh-output");
    let url = server.url();
    let env = actions_env(out.to_str().unwrap(), &url);
    let open = repo.paved_env(
        &[
            "--backend",
            "github",
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
        ],
        &env,
    );
    assert_eq!(open.ok(), "77");
    serve_deployment(&server, &head);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review(
                "prod",
                "approved",
                "grace",
                "ship it\nafter the freeze"
            )]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    let wait = repo.paved_env(
        &[
            "--backend",
            "github",
            "--json",
            "wait",
            "77",
            "--interval",
            "1s",
        ],
        &env,
    );
    let result: Value = serde_json::from_str(wait.ok()).unwrap();
    assert_eq!(result["state"], "approved");
    assert_eq!(result["reviews"][0]["user"], "grace");
    assert_eq!(result["reviews"][0]["comment"], "ship it\nafter the freeze");
    assert!(
        wait.stderr
            .contains("approved by grace: ship it after the freeze"),
        "{}",
        wait.stderr
    );
    let outputs = std::fs::read_to_string(&out).unwrap();
    assert!(
        outputs.contains("approved-by<<") && outputs.contains("\ngrace\n"),
        "{outputs}"
    );
}

#[test]
fn github_wait_command_exits_1_on_a_rejection_and_3_on_a_timeout() {
    let (repo, head) = repo_with_history();
    let server = FakeServer::start();
    serve_open(&server, &head);
    let out = repo.path().join("gh-output");
    let url = server.url();
    let env = actions_env(out.to_str().unwrap(), &url);
    repo.paved_env(
        &[
            "--backend",
            "github",
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
        ],
        &env,
    )
    .ok();
    serve_deployment(&server, &head);
    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, pending("prod")));
    let timeout = repo.paved_env(
        &["--backend", "github", "wait", "77", "--timeout", "0s"],
        &env,
    );
    assert_eq!(timeout.code, 3, "{}", timeout.stderr);
    assert!(
        timeout.stderr.contains("waiting for review by grace"),
        "{}",
        timeout.stderr
    );

    server
        .route("GET", &format!("{RUN}/approvals"))
        .respond(FakeResponse::json(
            200,
            json!([review("prod", "rejected", "linus", "not on a Friday")]),
        ));
    server
        .route("GET", &format!("{RUN}/pending_deployments"))
        .respond(FakeResponse::json(200, json!([])));
    let rejected = repo.paved_env(&["--backend", "github", "wait", "77"], &env);
    assert_eq!(rejected.code, 1, "{}", rejected.stderr);
    assert_eq!(rejected.stdout.trim(), "rejected");
    assert!(
        rejected
            .stderr
            .contains("rejected by linus: not on a Friday"),
        "{}",
        rejected.stderr
    );
}

#[test]
fn gitlab_open_reuses_the_deploy_jobs_deployment_that_approvals_gate() {
    let server = FakeServer::start();
    let b = bundle();
    // The pipeline's deploy job already has its deployment (GitLab makes it with the job).
    let job = gl_deployment("created", Some(1), json!([]));
    server
        .route("GET", "/projects/acme%2Frocket/deployments")
        .respond(FakeResponse::json(200, json!([job])));
    let gl = gitlab(&server);
    let opened = gl.open(&b).unwrap();
    assert_eq!((opened.id.as_str(), opened.created), ("90", false));
    assert_eq!(opened.approval, Approval::Pending);
    assert!(
        server
            .requests_to("POST", "/projects/acme%2Frocket/deployments")
            .is_empty(),
        "no deployment of paved's own, which no approval rule would gate"
    );
    server.route("GET", GL_ONE).respond_seq([
        FakeResponse::json(200, gl_deployment("blocked", Some(1), json!([]))),
        FakeResponse::json(
            200,
            gl_deployment(
                "running",
                Some(0),
                json!([gl_approval("grace", "approved", "lgtm")]),
            ),
        ),
    ]);
    let clock = Arc::new(FakeClock::new());
    let mut lines = Vec::new();
    let d = wait::wait(
        &gl,
        &opened.id,
        Duration::from_secs(3600),
        Duration::from_secs(30),
        clock.as_ref(),
        &mut |l| lines.push(l.to_owned()),
    )
    .unwrap();
    assert_eq!(d.approval, Approval::Approved);
    assert_eq!(
        lines[0],
        "change 90: blocked (1 approval needed) [pending] after 0s"
    );
    assert_eq!(wait::approvers(&d.reviews), "grace");
}
