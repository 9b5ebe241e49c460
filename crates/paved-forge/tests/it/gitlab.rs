//! GitLab against a fake server that answers as the REST API v4 documents: URL-encoded project
//! paths, `PRIVATE-TOKEN`/`JOB-TOKEN`, `Link` pagination, `RateLimit-*` and `Retry-After`,
//! `404` for a missing release and `409` for an existing one.

use std::sync::Arc;
use std::time::Duration;

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::http::Secret;
use paved_forge::{
    ChangeRequest, Error, Forge, GitLab, GitLabConfig, GitLabToken, ReleaseInfo, ReleaseSpec,
};
use paved_testkit::http::{FakeClock, FakeResponse, FakeServer, test_client};
use serde_json::{Value, json};

const TOKEN: &str = "glpat-fakeTokenValue0123";
const PROJECT: &str = "/api/v4/projects/group%2Fwidgets";

fn gitlab(server: &FakeServer, token: Option<GitLabToken>) -> (GitLab, Arc<FakeClock>) {
    let (client, clock) = test_client();
    let config =
        GitLabConfig::new(&format!("{}/api/v4", server.url()), "group/widgets", token).unwrap();
    (GitLab::new(client, config), clock)
}

fn private() -> Option<GitLabToken> {
    Some(GitLabToken::Private(Secret::new(TOKEN)))
}

fn mr(iid: u64, state: &str, target: &str) -> Value {
    json!({
        "id": 1000 + iid,
        "iid": iid,
        "project_id": 7,
        "title": format!("MR {iid}"),
        "state": state,
        "target_branch": target,
        "source_branch": format!("topic-{iid}"),
        "author": {"id": iid, "username": format!("author{iid}"), "name": "Author"},
        "merge_user": if state == "merged" { json!({"username": "merger"}) } else { Value::Null },
        "merged_by": if state == "merged" { json!({"username": "merger"}) } else { Value::Null },
        "merged_at": if state == "merged" { json!("2024-02-01T10:00:00.000Z") } else { Value::Null },
        "web_url": format!("https://gitlab.example/group/widgets/-/merge_requests/{iid}"),
    })
}

fn release_json(tag: &str, name: &str) -> Value {
    json!({
        "tag_name": tag,
        "name": name,
        "description": "notes",
        "created_at": "2024-02-01T10:00:00.000Z",
        "released_at": "2024-02-01T10:00:00.000Z",
        "upcoming_release": false,
        "assets": {"count": 0, "sources": [], "links": []},
        "_links": {"self": format!("https://gitlab.example/group/widgets/-/releases/{tag}")},
    })
}

fn spec(tag: &str) -> ReleaseSpec {
    ReleaseSpec {
        tag: tag.into(),
        name: tag.into(),
        body: "## Fixes\n- crash\n".into(),
        prerelease: false,
        draft: false,
        target: None,
    }
}

#[test]
fn finds_the_mr_merged_into_the_default_branch() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/abc123/merge_requests"),
        )
        .respond(FakeResponse::json(
            200,
            json!([
                mr(3, "opened", "main"),
                mr(4, "merged", "stable"),
                mr(5, "merged", "main")
            ]),
        ));
    server.route("GET", PROJECT).respond(FakeResponse::json(
        200,
        json!({"id": 7, "path_with_namespace": "group/widgets", "default_branch": "main"}),
    ));
    let (forge, _) = gitlab(&server, private());
    let change = forge.pull_request_for_commit("abc123").unwrap().unwrap();
    assert_eq!(change.number, 5);
    assert_eq!(change.author_login, "author5");
    assert_eq!(change.merged_by_login.as_deref(), Some("merger"));
    assert_eq!(
        change.url,
        "https://gitlab.example/group/widgets/-/merge_requests/5"
    );
    for request in server.requests() {
        assert_eq!(request.header("private-token"), Some(TOKEN));
        assert!(request.header("authorization").is_none());
    }
    // A second lookup reuses the default branch.
    forge.pull_request_for_commit("abc123").unwrap();
    assert_eq!(server.requests_to("GET", PROJECT).len(), 1);
}

#[test]
fn unknown_commits_have_no_mr_but_unknown_projects_are_errors() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/nope/merge_requests"),
        )
        .respond(FakeResponse::json(
            404,
            json!({"message": "404 Commit Not Found"}),
        ));
    let (forge, _) = gitlab(&server, private());
    assert_eq!(forge.pull_request_for_commit("nope").unwrap(), None);

    let other = FakeServer::start();
    other
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/abc/merge_requests"),
        )
        .respond(FakeResponse::json(
            404,
            json!({"message": "404 Project Not Found"}),
        ));
    let (forge, _) = gitlab(&other, private());
    let err = forge.pull_request_for_commit("abc").unwrap_err();
    assert_eq!(err.category(), Category::External);
    assert!(err.to_string().contains("404 Project Not Found"), "{err}");
    assert!(err.hint().unwrap().contains("`GITLAB_TOKEN`"));
}

#[test]
fn commit_authors_come_from_the_mr() {
    let server = FakeServer::start();
    server
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/abc/merge_requests"),
        )
        .respond(FakeResponse::json(200, json!([mr(9, "merged", "main")])));
    server
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/def/merge_requests"),
        )
        .respond(FakeResponse::json(200, json!([])));
    let (forge, _) = gitlab(&server, None);
    assert_eq!(
        forge.commit_author_login("abc").unwrap().as_deref(),
        Some("author9")
    );
    assert_eq!(forge.commit_author_login("def").unwrap(), None);
}

#[test]
fn review_details_list_approvers() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{PROJECT}/merge_requests/5"))
        .respond(FakeResponse::json(200, mr(5, "merged", "main")));
    server
        .route("GET", &format!("{PROJECT}/merge_requests/5/approvals"))
        .respond(FakeResponse::json(
            200,
            json!({
                "id": 1005, "iid": 5, "approved": true,
                "approved_by": [{"user": {"username": "alice"}}, {"user": {"username": "bob"}}]
            }),
        ));
    let (forge, _) = gitlab(&server, private());
    let mut change = ChangeRequest {
        number: 5,
        url: String::new(),
        title: String::new(),
        author_login: "author5".into(),
        merged_by_login: None,
        merged_at: None,
        approvers: Vec::new(),
    };
    forge.add_review_details(&mut change).unwrap();
    assert_eq!(change.merged_by_login.as_deref(), Some("merger"));
    assert_eq!(change.approvers, vec!["alice", "bob"]);
}

#[test]
fn first_contributions_compare_merge_dates_with_the_previous_release() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{PROJECT}/repository/commits/v1.0.0"))
        .respond(FakeResponse::json(
            200,
            json!({"id": "aaa", "committed_date": "2024-03-01T10:00:00.000+01:00"}),
        ));
    let mrs = format!("{PROJECT}/merge_requests");
    let merged_at = |iid: u64, at: &str| {
        let mut m = mr(iid, "merged", "main");
        m["merged_at"] = json!(at);
        m
    };
    // An old server that ignores `merged_before`: a later merge must not count.
    server
        .route("GET", &mrs)
        .query("author_username", "newcomer")
        .respond(FakeResponse::json(
            200,
            json!([merged_at(1, "2024-03-02T08:00:00Z")]),
        ));
    server
        .route("GET", &mrs)
        .query("author_username", "regular")
        .respond(FakeResponse::json(
            200,
            json!([merged_at(2, "2024-02-28T08:00:00Z")]),
        ));
    let (forge, _) = gitlab(&server, private());
    assert!(
        forge
            .is_first_contribution("newcomer", Some("v1.0.0"))
            .unwrap()
    );
    assert!(
        !forge
            .is_first_contribution("regular", Some("v1.0.0"))
            .unwrap()
    );
    let sent = server.requests_to("GET", &mrs);
    assert_eq!(sent[0].query_param("state").as_deref(), Some("merged"));
    assert_eq!(
        sent[0].query_param("created_before").as_deref(),
        Some("2024-03-01T09:00:00Z")
    );
    assert_eq!(
        sent[0].query_param("merged_before").as_deref(),
        Some("2024-03-01T09:00:00Z")
    );
    assert!(forge.is_first_contribution("anyone", None).unwrap());
}

#[test]
fn creates_a_missing_release() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{PROJECT}/releases/v1.0.0-rc.1"))
        .respond(FakeResponse::json(404, json!({"message": "404 Not Found"})));
    server
        .route("POST", &format!("{PROJECT}/releases"))
        .respond(FakeResponse::json(
            201,
            release_json("v1.0.0-rc.1", "v1.0.0-rc.1 (pre-release)"),
        ));
    let (forge, _) = gitlab(&server, private());
    let mut spec = spec("v1.0.0-rc.1");
    spec.prerelease = true;
    spec.target = Some("main".into());
    let info = forge.create_or_update_release(&spec).unwrap();
    assert_eq!(
        info,
        ReleaseInfo {
            id: None,
            tag: "v1.0.0-rc.1".into(),
            url: "https://gitlab.example/group/widgets/-/releases/v1.0.0-rc.1".into(),
            upload_url: None,
            created: true,
        }
    );
    let posts = server.requests_to("POST", &format!("{PROJECT}/releases"));
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("private-token"), Some(TOKEN));
    assert_eq!(
        posts[0].json(),
        json!({
            "tag_name": "v1.0.0-rc.1",
            "name": "v1.0.0-rc.1 (pre-release)",
            "description": "## Fixes\n- crash\n",
            "ref": "main",
        })
    );
}

#[test]
fn updates_an_existing_release() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{PROJECT}/releases/v1.0.0"))
        .respond(FakeResponse::json(200, release_json("v1.0.0", "old")));
    server
        .route("PUT", &format!("{PROJECT}/releases/v1.0.0"))
        .respond(FakeResponse::json(200, release_json("v1.0.0", "v1.0.0")));
    let (forge, _) = gitlab(&server, private());
    let info = forge.create_or_update_release(&spec("v1.0.0")).unwrap();
    assert!(!info.created);
    let puts = server.requests_to("PUT", &format!("{PROJECT}/releases/v1.0.0"));
    assert_eq!(
        puts[0].json(),
        json!({"name": "v1.0.0", "description": "## Fixes\n- crash\n"})
    );
    assert!(
        server
            .requests_to("POST", &format!("{PROJECT}/releases"))
            .is_empty()
    );
}

#[test]
fn a_conflict_on_create_turns_into_an_update() {
    let server = FakeServer::start();
    // A tag with a slash is one encoded path segment.
    let tag_path = format!("{PROJECT}/releases/widgets%2Fv2.0.0");
    server
        .route("GET", &tag_path)
        .respond(FakeResponse::json(404, json!({"message": "404 Not Found"})));
    server
        .route("POST", &format!("{PROJECT}/releases"))
        .respond(FakeResponse::json(
            409,
            json!({"message": "Release already exists"}),
        ));
    server
        .route("PUT", &tag_path)
        .respond(FakeResponse::json(200, release_json("widgets/v2.0.0", "x")));
    let (forge, _) = gitlab(&server, private());
    let info = forge
        .create_or_update_release(&spec("widgets/v2.0.0"))
        .unwrap();
    assert!(!info.created);
    assert_eq!(server.requests_to("PUT", &tag_path).len(), 1);
}

#[test]
fn drafts_are_refused() {
    let server = FakeServer::start();
    let (forge, _) = gitlab(&server, private());
    let mut spec = spec("v1.0.0");
    spec.draft = true;
    let err = forge.create_or_update_release(&spec).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Usage);
    assert!(server.requests().is_empty());
}

#[test]
fn writing_without_a_token_names_both_variables() {
    let server = FakeServer::start();
    let (forge, _) = gitlab(&server, None);
    let err = forge.create_or_update_release(&spec("v1.0.0")).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    let text = err.to_string();
    assert!(
        text.contains("`GITLAB_TOKEN`") && text.contains("`CI_JOB_TOKEN`"),
        "{text}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn the_job_token_is_sent_as_job_token_from_the_environment() {
    let server = FakeServer::start();
    let api = format!("{}/api/v4", server.url());
    let env = |k: &str| match k {
        "CI_API_V4_URL" => Some(api.clone()),
        "CI_PROJECT_ID" => Some("7".to_owned()),
        "CI_PROJECT_PATH" => Some("group/widgets".to_owned()),
        "CI_PROJECT_NAME" => Some("widgets".to_owned()),
        "CI_JOB_TOKEN" => Some("job-token-xyz".to_owned()),
        _ => None,
    };
    let config = GitLabConfig::from_lookup(env).unwrap();
    assert_eq!(config.project, "7");
    assert_eq!(config.package_name, "widgets");
    server
        .route("GET", "/api/v4/projects/7/releases/v1.0.0")
        .respond(FakeResponse::json(200, release_json("v1.0.0", "v1.0.0")));
    server
        .route("PUT", "/api/v4/projects/7/releases/v1.0.0")
        .respond(FakeResponse::json(403, json!({"message": "403 Forbidden"})));
    let (client, _) = test_client();
    let forge = GitLab::new(client, config);
    let err = forge.create_or_update_release(&spec("v1.0.0")).unwrap_err();
    assert_eq!(err.category(), Category::External);
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("`CI_JOB_TOKEN`") && hint.contains("`GITLAB_TOKEN`"),
        "{hint}"
    );
    assert!(!format!("{err}{err:?}{hint}").contains("job-token-xyz"));
    for request in server.requests() {
        assert_eq!(request.header("job-token"), Some("job-token-xyz"));
    }
}

#[test]
fn rate_limits_and_server_errors_are_waited_out() {
    let server = FakeServer::start();
    let (forge, clock) = gitlab(&server, private());
    server
        .route(
            "GET",
            &format!("{PROJECT}/repository/commits/abc/merge_requests"),
        )
        .respond_seq([
            FakeResponse::json(429, json!({"message": "Retry later"}))
                .header("RateLimit-Limit", "600")
                .header("RateLimit-Remaining", "0")
                .header("RateLimit-Reset", (clock.epoch_secs() + 60).to_string())
                .header("Retry-After", "9"),
            FakeResponse::json(503, json!({"message": "503 Service Unavailable"})),
            FakeResponse::json(200, json!([mr(2, "merged", "main")])),
        ]);
    let change = forge.pull_request_for_commit("abc").unwrap().unwrap();
    assert_eq!(change.number, 2);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps[0], Duration::from_secs(9));
    assert_eq!(sleeps.len(), 2);
}

#[test]
fn uploads_to_the_package_registry_and_links_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("widgets.zip");
    std::fs::write(&path, b"zip bytes").unwrap();
    let server = FakeServer::start();
    let base = server.url();
    let package_path = format!("{PROJECT}/packages/generic/widgets/v1.0.0/widgets.zip");
    let links_path = format!("{PROJECT}/releases/v1.0.0/assets/links");
    server
        .route("PUT", &package_path)
        .respond(FakeResponse::json(201, json!({"message": "201 Created"})));
    // The first run: no links yet (two pages of other links).
    server.route("GET", &links_path).respond_seq([
        FakeResponse::json(200, json!([{"id": 1, "name": "a.txt", "url": "https://x/a", "link_type": "other"}]))
            .header("Link", format!("<{base}{links_path}?page=2&per_page=100>; rel=\"next\"")),
        FakeResponse::json(200, json!([{"id": 3, "name": "widgets.zip", "url": "https://x/old", "direct_asset_url": "https://gitlab.example/group/widgets/-/releases/v1.0.0/downloads/widgets.zip", "link_type": "package"}])),
    ]);
    server
        .route("GET", &links_path)
        .query("page", "2")
        .respond_seq([
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([])),
        ]);
    server.route("POST", &links_path).respond(FakeResponse::json(
        201,
        json!({
            "id": 2, "name": "widgets.zip",
            "url": format!("{base}{package_path}"),
            "direct_asset_url": "https://gitlab.example/group/widgets/-/releases/v1.0.0/downloads/widgets.zip",
            "link_type": "package"
        }),
    ));
    let (forge, _) = gitlab(&server, private());
    let release = ReleaseInfo {
        id: None,
        tag: "v1.0.0".into(),
        url: String::new(),
        upload_url: None,
        created: true,
    };
    let asset = forge.upload_asset(&release, &path).unwrap();
    assert_eq!(
        asset.url,
        "https://gitlab.example/group/widgets/-/releases/v1.0.0/downloads/widgets.zip"
    );
    assert!(!asset.replaced);
    let put = &server.requests_to("PUT", &package_path)[0];
    assert_eq!(put.body, b"zip bytes");
    assert_eq!(put.header("private-token"), Some(TOKEN));
    let post = &server.requests_to("POST", &links_path)[0];
    assert_eq!(
        post.json(),
        json!({
            "name": "widgets.zip",
            "url": format!("{base}{package_path}"),
            "direct_asset_path": "/widgets.zip",
            "link_type": "package",
        })
    );

    // The second run uploads the file again but keeps the existing link.
    server.clear_requests();
    let asset = forge.upload_asset(&release, &path).unwrap();
    assert!(asset.replaced);
    assert_eq!(server.requests_to("PUT", &package_path).len(), 1);
    assert!(server.requests_to("POST", &links_path).is_empty());
}

#[test]
fn configuration_errors_are_usage_errors() {
    let err = GitLabConfig::new("gitlab.com", "group/x", None).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    assert!(err.to_string().contains("gitlab.com"), "{err}");
    let config =
        GitLabConfig::from_lookup(|k| (k == "CI_PROJECT_PATH").then(|| "group/x".to_owned()))
            .unwrap();
    assert_eq!(config.api_url, "https://gitlab.com/api/v4");
    assert_eq!(config.token, None);
}
