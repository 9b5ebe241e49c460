//! GitHub and GitLab deployments against local servers that follow the documented APIs.

use std::time::Duration;

use paved_core::error::Diagnostic;
use paved_core::http::Secret;
use paved_forge::deployments::{DeploymentSpec, GitHubDeployments, GitLabDeployments};
use paved_forge::{GitHubConfig, GitLabConfig, GitLabToken};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::json;

const GH: &str = "/repos/acme/rocket/deployments";
const GL: &str = "/projects/acme%2Frocket/deployments";
const SHA: &str = "0123456789012345678901234567890123456789";

fn spec() -> DeploymentSpec {
    DeploymentSpec {
        environment: "prod".into(),
        sha: SHA.into(),
        ref_name: "v1.2.0".into(),
        is_tag: true,
        description: "x".repeat(300),
        correlation_id: "acme/rocket:1:1:prod".into(),
        payload: json!({ "version": "1.2.0" }),
        production: true,
    }
}

fn github(
    server: &FakeServer,
    token: Option<&str>,
) -> (
    GitHubDeployments,
    std::sync::Arc<paved_testkit::http::FakeClock>,
) {
    let (client, clock) = test_client();
    let config = GitHubConfig::new(&server.url(), "acme/rocket", token.map(Secret::new)).unwrap();
    (GitHubDeployments::new(client, config), clock)
}

fn gitlab(server: &FakeServer) -> GitLabDeployments {
    let (client, _) = test_client();
    let config = GitLabConfig::new(
        &server.url(),
        "acme/rocket",
        Some(GitLabToken::Private(Secret::new("glpat-x"))),
    )
    .unwrap();
    GitLabDeployments::new(client, config)
}

#[test]
fn github_create_sends_the_documented_body_and_retries_429_after_retry_after() {
    let server = FakeServer::start();
    server
        .route("GET", GH)
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", GH).respond_seq([
        FakeResponse::json(429, json!({ "message": "secondary rate limit" })).header("Retry-After", "3"),
        FakeResponse::json(201, json!({ "id": 5, "sha": SHA, "environment": "prod", "created_at": "2026-01-01T00:00:00Z" })),
    ]);
    server
        .route("GET", &format!("{GH}/5/statuses"))
        .respond(FakeResponse::json(200, json!([])));
    let (gh, clock) = github(&server, Some("ghs_x"));
    let d = gh.create(&spec()).unwrap();
    assert_eq!((d.id, d.status.as_str(), d.created), (5, "none", true));
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(3)]);
    let body = server.requests_to("POST", GH)[0].json();
    assert_eq!(body["ref"], "v1.2.0");
    assert_eq!(body["description"].as_str().unwrap().len(), 140);
    assert_eq!(
        body["payload"],
        json!({ "version": "1.2.0", "correlation_id": "acme/rocket:1:1:prod" })
    );
    assert_eq!(body["auto_merge"], false);
    assert_eq!(
        server.requests_to("POST", GH)[0].header("x-github-api-version"),
        Some("2022-11-28")
    );
}

#[test]
fn github_without_a_token_is_a_usage_error_before_any_request() {
    let server = FakeServer::start();
    let (gh, _) = github(&server, None);
    let err = gh.create(&spec()).unwrap_err();
    assert_eq!(err.category().code(), 2);
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    assert!(server.requests().is_empty());
}

#[test]
fn github_401_and_403_name_the_permission() {
    for status in [401, 403] {
        let server = FakeServer::start();
        server.route("GET", GH).respond(FakeResponse::json(
            status,
            json!({ "message": "Resource not accessible by integration" }),
        ));
        let (gh, _) = github(&server, Some("ghs_x"));
        let err = gh.find("prod", "c").unwrap_err();
        assert_eq!(err.category().code(), 3);
        assert!(
            err.hint().unwrap().contains("deployments: write"),
            "{:?}",
            err.hint()
        );
    }
}

#[test]
fn github_5xx_is_retried_then_reported() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{GH}/9/statuses"))
        .respond_seq([
            FakeResponse::json(502, json!({ "message": "bad gateway" })),
            FakeResponse::json(200, json!([{ "state": "success" }])),
        ]);
    let (gh, _) = github(&server, Some("ghs_x"));
    assert_eq!(gh.latest_status(9).unwrap(), "success");
    server
        .route("GET", &format!("{GH}/9/statuses"))
        .respond(FakeResponse::json(500, json!({})));
    assert_eq!(gh.latest_status(9).unwrap_err().category().code(), 3);
}

#[test]
fn gitlab_find_open_follows_pages_and_create_sends_the_documented_body() {
    let server = FakeServer::start();
    let next = format!("{}{GL}?environment=prod&page=2", server.url());
    server.route("GET", GL).respond(
        FakeResponse::json(
            200,
            json!([
                { "id": 1, "iid": 1, "sha": SHA, "status": "success" },
                { "id": 2, "iid": 2, "sha": "f".repeat(40), "status": "running" },
            ]),
        )
        .header("Link", format!("<{next}>; rel=\"next\"")),
    );
    server.route("GET", GL).query("page", "2").respond(FakeResponse::json(
        200,
        json!([{ "id": 3, "iid": 3, "sha": SHA, "status": "blocked", "deployable": {"web_url": "https://gitlab/job/3"} }]),
    ));
    let gl = gitlab(&server);
    let found = gl.find_open("prod", SHA).unwrap().unwrap();
    assert_eq!((found.id, found.status.as_str()), (3, "blocked"));
    assert_eq!(found.url.as_deref(), Some("https://gitlab/job/3"));
    assert!(!found.created);
    assert_eq!(gl.create(&spec()).unwrap().id, 3, "a re-run reuses it");
    assert!(server.requests_to("POST", GL).is_empty());

    server
        .route("GET", GL)
        .query("page", "2")
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", GL).respond(FakeResponse::json(
        201,
        json!({ "id": 4, "iid": 4, "sha": SHA, "status": "running", "environment": {"name": "prod"} }),
    ));
    let d = gl.create(&spec()).unwrap();
    assert!(d.created);
    let body = server.requests_to("POST", GL)[0].json();
    assert_eq!(
        body,
        json!({ "environment": "prod", "sha": SHA, "ref": "v1.2.0", "tag": true, "status": "running" })
    );
}

#[test]
fn gitlab_last_successful_asks_for_the_newest_finished_success() {
    let server = FakeServer::start();
    server
        .route("GET", GL)
        .query("status", "success")
        .respond(FakeResponse::json(
            200,
            json!([{ "id": 8, "iid": 6, "sha": SHA, "status": "success" }]),
        ));
    let d = gitlab(&server).last_successful("prod").unwrap().unwrap();
    assert_eq!(d.sha, SHA);
    let q = &server.requests()[0];
    assert_eq!(q.query_param("order_by").as_deref(), Some("finished_at"));
    assert_eq!(q.query_param("sort").as_deref(), Some("desc"));
    assert_eq!(q.header("private-token"), Some("glpat-x"));
}
