//! GitHub against a fake server that answers as the REST API documents: routes, status codes,
//! JSON shapes, `Link` pagination, rate-limit headers, `404` for a missing release and `422
//! already_exists` for an existing one.

use std::sync::Arc;
use std::time::Duration;

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::http::Secret;
use paved_forge::{Error, Forge, GitHub, GitHubConfig, ReleaseInfo, ReleaseSpec};
use paved_testkit::http::{FakeClock, FakeResponse, FakeServer, RecordedRequest, test_client};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_fakeInstallationToken123";
const REPO: &str = "/repos/octo/widgets";

fn github(server: &FakeServer, token: Option<&str>) -> (GitHub, Arc<FakeClock>) {
    let (client, clock) = test_client();
    let config = GitHubConfig::new(&server.url(), "octo/widgets", token.map(Secret::new)).unwrap();
    (GitHub::new(client, config), clock)
}

fn assert_github_headers(request: &RecordedRequest) {
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert!(request.header("user-agent").unwrap().starts_with("paved/"));
}

fn pull(number: u64, base: &str, default_branch: &str, merged: bool) -> Value {
    json!({
        "number": number,
        "html_url": format!("https://github.com/octo/widgets/pull/{number}"),
        "title": format!("PR {number}"),
        "state": if merged { "closed" } else { "open" },
        "user": {"login": format!("author{number}"), "id": number},
        "merged_at": if merged { json!("2024-05-01T12:00:00Z") } else { Value::Null },
        "base": {"ref": base, "repo": {"full_name": "octo/widgets", "default_branch": default_branch}},
        "head": {"ref": format!("topic-{number}")},
    })
}

fn release(server: &FakeServer, id: u64, tag: &str, draft: bool) -> Value {
    json!({
        "id": id,
        "tag_name": tag,
        "name": tag,
        "draft": draft,
        "prerelease": false,
        "html_url": format!("https://github.com/octo/widgets/releases/tag/{tag}"),
        "upload_url": format!("{}/uploads{REPO}/releases/{id}/assets{{?name,label}}", server.url()),
        "assets": [],
    })
}

fn spec(tag: &str) -> ReleaseSpec {
    ReleaseSpec {
        tag: tag.into(),
        name: tag.into(),
        body: "## Features\n- export\n".into(),
        prerelease: tag.contains('-'),
        draft: false,
        target: None,
    }
}

#[test]
fn finds_the_pr_merged_into_the_default_branch() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/commits/abc123/pulls"))
        .respond(FakeResponse::json(
            200,
            json!([
                pull(3, "feature", "main", false),
                pull(4, "release-1.x", "main", true),
                pull(5, "main", "main", true),
            ]),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let pr = forge.pull_request_for_commit("abc123").unwrap().unwrap();
    assert_eq!(pr.number, 5);
    assert_eq!(pr.url, "https://github.com/octo/widgets/pull/5");
    assert_eq!(pr.title, "PR 5");
    assert_eq!(pr.author_login, "author5");
    assert_eq!(pr.merged_at.as_deref(), Some("2024-05-01T12:00:00Z"));
    assert_eq!(pr.merged_by_login, None);
    assert!(pr.approvers.is_empty());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_github_headers(&requests[0]);
    assert_eq!(requests[0].query_param("per_page").as_deref(), Some("100"));
}

#[test]
fn no_pr_for_unknown_or_direct_commits() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/commits/deadbeef/pulls"))
        .respond(FakeResponse::json(
            422,
            json!({"message": "No commit found for SHA: deadbeef", "documentation_url": "https://docs.github.com/rest"}),
        ));
    server
        .route("GET", &format!("{REPO}/commits/c0ffee/pulls"))
        .respond(FakeResponse::json(200, json!([])));
    let (forge, clock) = github(&server, None);
    assert_eq!(forge.pull_request_for_commit("deadbeef").unwrap(), None);
    assert_eq!(forge.pull_request_for_commit("c0ffee").unwrap(), None);
    // Reads work anonymously.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
    assert!(clock.sleeps().is_empty());
}

#[test]
fn review_details_follow_pagination_and_latest_verdicts() {
    let server = FakeServer::start();
    let base = server.url();
    server
        .route("GET", &format!("{REPO}/pulls/5"))
        .respond(FakeResponse::json(
            200,
            json!({
                "number": 5, "html_url": "https://github.com/octo/widgets/pull/5", "title": "PR 5",
                "user": {"login": "author5"}, "merged_at": "2024-05-01T12:00:00Z",
                "merged_by": {"login": "maintainer"},
                "base": {"ref": "main", "repo": {"default_branch": "main"}}
            }),
        ));
    let review =
        |login: &str, state: &str| json!({"id": 1, "user": {"login": login}, "state": state});
    server
        .route("GET", &format!("{REPO}/pulls/5/reviews"))
        .respond(
            FakeResponse::json(
                200,
                json!([review("alice", "APPROVED"), review("bob", "CHANGES_REQUESTED")]),
            )
            .header(
                "Link",
                format!("<{base}{REPO}/pulls/5/reviews?per_page=100&page=2>; rel=\"next\", <{base}{REPO}/pulls/5/reviews?per_page=100&page=2>; rel=\"last\""),
            ),
        );
    server
        .route("GET", &format!("{REPO}/pulls/5/reviews"))
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([
                review("bob", "APPROVED"),
                review("alice", "COMMENTED"),
                review("dave", "APPROVED"),
                review("dave", "DISMISSED"),
            ]),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let mut pr = paved_forge::ChangeRequest {
        number: 5,
        url: String::new(),
        title: "PR 5".into(),
        author_login: "author5".into(),
        merged_by_login: None,
        merged_at: None,
        approvers: Vec::new(),
    };
    forge.add_review_details(&mut pr).unwrap();
    assert_eq!(pr.merged_by_login.as_deref(), Some("maintainer"));
    assert_eq!(pr.merged_at.as_deref(), Some("2024-05-01T12:00:00Z"));
    assert_eq!(pr.approvers, vec!["alice", "bob"]);
    assert_eq!(
        server
            .requests_to("GET", &format!("{REPO}/pulls/5/reviews"))
            .len(),
        2
    );
}

#[test]
fn commit_author_logins() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/commits/aaa"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": "aaa", "commit": {"author": {"name": "A", "email": "a@example.com"}}, "author": {"login": "alice"}}),
        ));
    server
        .route("GET", &format!("{REPO}/commits/bbb"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": "bbb", "commit": {"author": {"name": "B", "email": "b@unknown"}}, "author": null}),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    assert_eq!(
        forge.commit_author_login("aaa").unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(forge.commit_author_login("bbb").unwrap(), None);
}

#[test]
fn first_contributions_look_at_history_before_the_previous_release() {
    let server = FakeServer::start();
    let commits = format!("{REPO}/commits");
    server
        .route("GET", &commits)
        .query("author", "newcomer")
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &commits)
        .query("author", "regular")
        .respond(FakeResponse::json(200, json!([{"sha": "111"}])));
    let (forge, _) = github(&server, Some(TOKEN));
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
    let sent = server.requests_to("GET", &commits);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].query_param("sha").as_deref(), Some("v1.0.0"));
    assert_eq!(sent[0].query_param("per_page").as_deref(), Some("1"));

    // The first release: everyone is new, and nothing is asked.
    server.clear_requests();
    assert!(forge.is_first_contribution("regular", None).unwrap());
    assert!(server.requests().is_empty());
}

#[test]
fn creates_a_missing_release() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/tags/v1.2.0-rc.1"))
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server
        .route("GET", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(200, json!([])));
    let created = release(&server, 77, "v1.2.0-rc.1", false);
    server
        .route("POST", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(201, created));
    let (forge, _) = github(&server, Some(TOKEN));
    let mut spec = spec("v1.2.0-rc.1");
    spec.target = Some("abc123".into());
    let info = forge.create_or_update_release(&spec).unwrap();
    assert_eq!(
        info,
        ReleaseInfo {
            id: Some(77),
            tag: "v1.2.0-rc.1".into(),
            url: "https://github.com/octo/widgets/releases/tag/v1.2.0-rc.1".into(),
            upload_url: Some(format!("{}/uploads{REPO}/releases/77/assets", server.url())),
            created: true,
        }
    );
    let posts = server.requests_to("POST", &format!("{REPO}/releases"));
    assert_eq!(posts.len(), 1);
    assert_github_headers(&posts[0]);
    assert_eq!(
        posts[0].json(),
        json!({
            "tag_name": "v1.2.0-rc.1",
            "name": "v1.2.0-rc.1",
            "body": "## Features\n- export\n",
            "draft": false,
            "prerelease": true,
            "target_commitish": "abc123",
        })
    );
}

#[test]
fn updates_an_existing_release() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/tags/v1.2.0"))
        .respond(FakeResponse::json(
            200,
            release(&server, 42, "v1.2.0", false),
        ));
    server
        .route("PATCH", &format!("{REPO}/releases/42"))
        .respond(FakeResponse::json(
            200,
            release(&server, 42, "v1.2.0", false),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let info = forge.create_or_update_release(&spec("v1.2.0")).unwrap();
    assert_eq!(info.id, Some(42));
    assert!(!info.created);
    let patches = server.requests_to("PATCH", &format!("{REPO}/releases/42"));
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].json()["body"], "## Features\n- export\n");
    assert_eq!(patches[0].json()["prerelease"], false);
    assert!(
        server
            .requests_to("POST", &format!("{REPO}/releases"))
            .is_empty()
    );
}

#[test]
fn finds_a_draft_release_among_the_list() {
    let server = FakeServer::start();
    let base = server.url();
    server
        .route("GET", &format!("{REPO}/releases/tags/v2.0.0"))
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server.route("GET", &format!("{REPO}/releases")).respond(
        FakeResponse::json(200, json!([release(&server, 1, "v1.9.0", false)])).header(
            "Link",
            format!("<{base}{REPO}/releases?per_page=100&page=2>; rel=\"next\""),
        ),
    );
    server
        .route("GET", &format!("{REPO}/releases"))
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([release(&server, 9, "v2.0.0", true)]),
        ));
    server
        .route("PATCH", &format!("{REPO}/releases/9"))
        .respond(FakeResponse::json(
            200,
            release(&server, 9, "v2.0.0", false),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let info = forge.create_or_update_release(&spec("v2.0.0")).unwrap();
    assert_eq!((info.id, info.created), (Some(9), false));
    assert_eq!(
        server
            .requests_to("PATCH", &format!("{REPO}/releases/9"))
            .len(),
        1
    );
}

#[test]
fn a_create_race_turns_into_an_update() {
    let server = FakeServer::start();
    // Not there at first; there once the other job's POST has landed.
    server
        .route("GET", &format!("{REPO}/releases/tags/v1.3.0"))
        .respond_seq([
            FakeResponse::json(404, json!({"message": "Not Found"})),
            FakeResponse::json(200, release(&server, 50, "v1.3.0", false)),
        ]);
    server
        .route("GET", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release"
            }),
        ));
    server
        .route("PATCH", &format!("{REPO}/releases/50"))
        .respond(FakeResponse::json(
            200,
            release(&server, 50, "v1.3.0", false),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let info = forge.create_or_update_release(&spec("v1.3.0")).unwrap();
    assert_eq!((info.id, info.created), (Some(50), false));
    assert_eq!(
        server
            .requests_to("POST", &format!("{REPO}/releases"))
            .len(),
        1
    );
}

#[test]
fn other_validation_errors_are_reported() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/tags/bad"))
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server
        .route("GET", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "invalid", "field": "target_commitish"}]}),
        ));
    let (forge, _) = github(&server, Some(TOKEN));
    let err = forge.create_or_update_release(&spec("bad")).unwrap_err();
    assert_eq!(err.category(), Category::External);
    let text = err.to_string();
    assert!(text.contains("422 Unprocessable Entity"), "{text}");
    assert!(text.contains("target_commitish invalid"), "{text}");
}

#[test]
fn writing_without_a_token_is_a_usage_error() {
    let server = FakeServer::start();
    let (forge, _) = github(&server, None);
    let err = forge.create_or_update_release(&spec("v1.0.0")).unwrap_err();
    assert!(matches!(err, Error::MissingToken { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Usage);
    assert_eq!(err.category().code(), paved_core::exit::USAGE);
    assert!(err.to_string().contains("`GITHUB_TOKEN`"), "{err}");
    assert!(err.hint().unwrap().contains("contents: write"));
    assert!(server.requests().is_empty());
}

#[test]
fn a_forbidden_write_names_the_token_and_never_shows_it() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/tags/v1.0.0"))
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server
        .route("GET", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{REPO}/releases"))
        .respond(FakeResponse::json(
            403,
            json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release"}),
        ));
    let (forge, clock) = github(&server, Some(TOKEN));
    let err = forge.create_or_update_release(&spec("v1.0.0")).unwrap_err();
    assert_eq!(err.category(), Category::External);
    let url = server.url();
    assert_eq!(
        err.to_string(),
        format!(
            "`POST {url}{REPO}/releases` failed with 403 Forbidden: Resource not accessible by integration"
        )
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("`GITHUB_TOKEN`") && hint.contains("contents: write"),
        "{hint}"
    );
    assert!(!format!("{err}{err:?}{hint}").contains(TOKEN));
    // A permission problem is not retried.
    assert_eq!(
        server
            .requests_to("POST", &format!("{REPO}/releases"))
            .len(),
        1
    );
    assert!(clock.sleeps().is_empty());
}

#[test]
fn waits_out_a_rate_limit_and_retries_server_errors() {
    let server = FakeServer::start();
    let (forge, clock) = github(&server, Some(TOKEN));
    let reset = clock.epoch_secs() + 5;
    server
        .route("GET", &format!("{REPO}/commits/abc/pulls"))
        .respond_seq([
            FakeResponse::json(
                403,
                json!({"message": "API rate limit exceeded for installation ID 123.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            )
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-used", "5000")
            .header("x-ratelimit-reset", reset.to_string())
            .header("x-ratelimit-resource", "core"),
            FakeResponse::json(502, json!({"message": "Server Error"})),
            FakeResponse::json(200, json!([pull(8, "main", "main", true)])),
        ]);
    let pr = forge.pull_request_for_commit("abc").unwrap().unwrap();
    assert_eq!(pr.number, 8);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert_eq!(sleeps[0], Duration::from_secs(6));
    assert_eq!(
        server
            .requests_to("GET", &format!("{REPO}/commits/abc/pulls"))
            .len(),
        3
    );
}

#[test]
fn a_long_rate_limit_fails_with_the_reset_time() {
    let server = FakeServer::start();
    let (forge, clock) = github(&server, Some(TOKEN));
    let reset = clock.epoch_secs() + 1800;
    server.route("GET", &format!("{REPO}/commits/abc")).respond(
        FakeResponse::json(429, json!({"message": "API rate limit exceeded"}))
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", reset.to_string()),
    );
    let err = forge.commit_author_login("abc").unwrap_err();
    assert_eq!(err.category(), Category::External);
    assert!(err.to_string().contains("2023-11-14T22:43:21Z"), "{err}");
    assert!(clock.sleeps().is_empty());
}

#[test]
fn uploads_an_asset_replacing_one_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("widgets-x86_64.tar.gz");
    std::fs::write(&path, b"tarball bytes").unwrap();
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/42/assets"))
        .respond(FakeResponse::json(
            200,
            json!([
                {"id": 9, "name": "widgets-x86_64.tar.gz", "state": "uploaded"},
                {"id": 10, "name": "SHA256SUMS", "state": "uploaded"}
            ]),
        ));
    server
        .route("DELETE", &format!("{REPO}/releases/assets/9"))
        .respond(FakeResponse::new(204));
    let upload_path = format!("/uploads{REPO}/releases/42/assets");
    server.route("POST", &upload_path).respond(FakeResponse::json(
        201,
        json!({
            "id": 11, "name": "widgets-x86_64.tar.gz", "state": "uploaded", "size": 13,
            "browser_download_url": "https://github.com/octo/widgets/releases/download/v1.2.0/widgets-x86_64.tar.gz"
        }),
    ));
    let (forge, _) = github(&server, Some(TOKEN));
    let release = ReleaseInfo {
        id: Some(42),
        tag: "v1.2.0".into(),
        url: String::new(),
        upload_url: Some(format!("{}{upload_path}", server.url())),
        created: false,
    };
    let asset = forge.upload_asset(&release, &path).unwrap();
    assert_eq!(asset.name, "widgets-x86_64.tar.gz");
    assert!(asset.replaced);
    assert!(
        asset
            .url
            .ends_with("/download/v1.2.0/widgets-x86_64.tar.gz")
    );

    let requests = server.requests();
    let order: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("GET", format!("{REPO}/releases/42/assets").as_str()),
            ("DELETE", format!("{REPO}/releases/assets/9").as_str()),
            ("POST", upload_path.as_str()),
        ]
    );
    let upload = &requests[2];
    assert_github_headers(upload);
    assert_eq!(upload.body, b"tarball bytes");
    assert_eq!(upload.header("content-type"), Some("application/gzip"));
    assert_eq!(upload.header("content-length"), Some("13"));
    assert_eq!(
        upload.query_param("name").as_deref(),
        Some("widgets-x86_64.tar.gz")
    );
}

#[test]
fn an_upload_that_already_landed_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"notes").unwrap();
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/releases/42/assets"))
        .respond_seq([
            FakeResponse::json(200, json!([])),
            FakeResponse::json(
                200,
                json!([{"id": 5, "name": "notes.txt", "state": "starter"}]),
            ),
        ]);
    server
        .route("DELETE", &format!("{REPO}/releases/assets/5"))
        .respond(FakeResponse::new(204));
    let upload_path = format!("/uploads{REPO}/releases/42/assets");
    server.route("POST", &upload_path).respond_seq([
        FakeResponse::json(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]}),
        ),
        FakeResponse::json(201, json!({"id": 6, "name": "notes.txt", "browser_download_url": "https://x/notes.txt"})),
    ]);
    let (forge, _) = github(&server, Some(TOKEN));
    let release = ReleaseInfo {
        id: Some(42),
        tag: "v1.2.0".into(),
        url: String::new(),
        upload_url: Some(format!("{}{upload_path}{{?name,label}}", server.url())),
        created: true,
    };
    let asset = forge.upload_asset(&release, &path).unwrap();
    assert_eq!(asset.url, "https://x/notes.txt");
    assert_eq!(server.requests_to("POST", &upload_path).len(), 2);
    assert_eq!(
        server
            .requests_to("DELETE", &format!("{REPO}/releases/assets/5"))
            .len(),
        1
    );
}

#[test]
fn a_missing_asset_file_is_a_usage_error() {
    let server = FakeServer::start();
    let (forge, _) = github(&server, Some(TOKEN));
    let release = ReleaseInfo {
        id: Some(1),
        tag: "v1".into(),
        url: String::new(),
        upload_url: None,
        created: false,
    };
    let err = forge
        .upload_asset(&release, std::path::Path::new("/nonexistent/file.zip"))
        .unwrap_err();
    assert_eq!(err.category(), Category::Usage, "{err:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn garbage_from_the_server_is_a_clear_error() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/commits/abc/pulls"))
        .respond(FakeResponse::text(200, "<html>Please sign in</html>"));
    server
        .route("GET", &format!("{REPO}/commits/def/pulls"))
        .respond(FakeResponse::json(200, json!({"unexpected": "object"})));
    let (forge, _) = github(&server, Some(TOKEN));
    for sha in ["abc", "def"] {
        let err = forge.pull_request_for_commit(sha).unwrap_err();
        assert_eq!(err.category(), Category::External);
        assert!(
            err.to_string().contains(&format!("/commits/{sha}/pulls")),
            "{err}"
        );
    }
}

#[test]
fn configuration_from_the_environment() {
    let env = |k: &str| match k {
        "GITHUB_REPOSITORY" => Some("octo/widgets".to_owned()),
        "GITHUB_TOKEN" => Some(TOKEN.to_owned()),
        "GITHUB_API_URL" => Some("https://ghes.example/api/v3/".to_owned()),
        _ => None,
    };
    let config = GitHubConfig::from_lookup(env).unwrap();
    assert_eq!(config.api_url, "https://ghes.example/api/v3");
    assert_eq!(
        (config.owner.as_str(), config.repo.as_str()),
        ("octo", "widgets")
    );
    assert_eq!(config.token.as_ref().map(Secret::expose), Some(TOKEN));
    assert!(!format!("{config:?}").contains(TOKEN));

    let defaults =
        GitHubConfig::from_lookup(|k| (k == "GITHUB_REPOSITORY").then(|| "a/b".to_owned()))
            .unwrap();
    assert_eq!(defaults.api_url, "https://api.github.com");
    assert_eq!(defaults.token, None);

    let err = GitHubConfig::from_lookup(|_| None).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    assert!(err.to_string().contains("`GITHUB_REPOSITORY`"), "{err}");
    let err =
        GitHubConfig::from_lookup(|k| (k == "GITHUB_REPOSITORY").then(|| "just-a-name".to_owned()))
            .unwrap_err();
    assert!(err.to_string().contains("owner/repo"), "{err}");
}

#[test]
fn the_token_can_be_masked() {
    let server = FakeServer::start();
    let (forge, _) = github(&server, Some(TOKEN));
    assert_eq!(forge.token().map(Secret::expose), Some(TOKEN));
    // Local runs have nothing to mask; this must not fail.
    forge.mask_token(&paved_core::ci::CiSink::detect(|_| None, None));
    assert!(!format!("{forge:?}").contains(TOKEN));
}
