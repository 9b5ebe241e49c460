//! Issues on GitHub and GitLab against fake servers that answer as the REST APIs document:
//! list (with `Link` pagination, pull requests mixed in on GitHub), create (`201`), read, comment
//! or note (`201`), close (`PATCH state` / `PUT state_event`).

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::http::Secret;
use paved_forge::issues::{
    GitHubIssues, GitLabIssues, IssueSpec, IssueTracker, hidden_marker, issue_number,
};
use paved_forge::{GitHubConfig, GitLabConfig, GitLabToken};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::json;

const REPO: &str = "/repos/octo/widgets";
const PROJECT: &str = "/projects/grp%2Fwidgets";

fn github(server: &FakeServer, token: Option<&str>) -> GitHubIssues {
    let (client, _) = test_client();
    let config = GitHubConfig::new(&server.url(), "octo/widgets", token.map(Secret::new)).unwrap();
    GitHubIssues::new(client, config)
}

fn gitlab(server: &FakeServer) -> GitLabIssues {
    let (client, _) = test_client();
    let config = GitLabConfig::new(
        &server.url(),
        "grp/widgets",
        Some(GitLabToken::Private(Secret::new("glpat-x"))),
    )
    .unwrap();
    GitLabIssues::new(client, config)
}

fn spec(title: &str) -> IssueSpec {
    IssueSpec {
        title: title.into(),
        body: "Failed 4 of 40 runs.".into(),
        labels: vec!["flaky-test".into()],
        marker: None,
    }
}

/// The spec `update --open-issues` makes: the body starts with a hidden marker naming the test.
fn marked(title: &str, test: &str) -> IssueSpec {
    let marker = hidden_marker("paved-quarantine issue", &[("test", test)]);
    IssueSpec {
        title: title.into(),
        body: format!("{marker}\nFailed 4 of 40 runs."),
        labels: vec!["flaky-test".into()],
        marker: Some(marker),
    }
}

fn gh_issue(n: u64, title: &str) -> serde_json::Value {
    json!({"number": n, "title": title, "state": "open",
           "html_url": format!("https://github.com/octo/widgets/issues/{n}")})
}

#[test]
fn github_opens_an_issue_when_none_is_open_and_reuses_an_open_one() {
    let server = FakeServer::start();
    let title = "Flaky test: pytest|t.A|test_x[1]";
    // Page 1 holds a PR with the same title (skipped) and another issue; page 2 is empty.
    let next = format!(
        "<{}{REPO}/issues?state=open&page=2>; rel=\"next\"",
        server.url()
    );
    server
        .route("GET", &format!("{REPO}/issues"))
        .respond_seq([
            FakeResponse::json(
                200,
                json!([
                    {"number": 3, "title": title, "state": "open", "html_url": "https://github.com/octo/widgets/pull/3", "pull_request": {}},
                    gh_issue(4, "something else"),
                ]),
            )
            .header("Link", next),
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([gh_issue(7, title)])),
        ]);
    server
        .route("POST", &format!("{REPO}/issues"))
        .respond(FakeResponse::json(201, gh_issue(7, title)));

    let gh = github(&server, Some("ghs_x"));
    let opened = gh.open_issue(&spec(title)).unwrap();
    assert!(opened.created);
    assert_eq!(opened.number, 7);
    assert_eq!(opened.url, "https://github.com/octo/widgets/issues/7");
    let list = server.requests_to("GET", &format!("{REPO}/issues"));
    assert_eq!(list[0].query_param("labels").as_deref(), Some("flaky-test"));
    assert_eq!(list[0].query_param("state").as_deref(), Some("open"));
    let post = &server.requests_to("POST", &format!("{REPO}/issues"))[0];
    assert_eq!(post.header("authorization"), Some("Bearer ghs_x"));
    assert_eq!(post.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(
        post.json(),
        json!({"title": title, "body": "Failed 4 of 40 runs.", "labels": ["flaky-test"]})
    );

    // A re-run finds the open issue and opens nothing.
    let again = gh.open_issue(&spec(title)).unwrap();
    assert!(!again.created);
    assert_eq!(again.number, 7);
    assert_eq!(
        server.requests_to("POST", &format!("{REPO}/issues")).len(),
        1
    );
}

#[test]
fn github_closes_with_a_comment_once() {
    let server = FakeServer::start();
    server.route("GET", &format!("{REPO}/issues/7")).respond_seq([
        FakeResponse::json(200, gh_issue(7, "t")),
        FakeResponse::json(200, json!({"number": 7, "title": "t", "state": "closed", "html_url": "https://github.com/octo/widgets/issues/7"})),
    ]);
    server
        .route("POST", &format!("{REPO}/issues/7/comments"))
        .respond(FakeResponse::json(201, json!({"id": 1})));
    server
        .route("PATCH", &format!("{REPO}/issues/7"))
        .respond(FakeResponse::json(
            200,
            json!({"number": 7, "state": "closed", "html_url": "x"}),
        ));
    let gh = github(&server, Some("ghs_x"));
    let url = "https://github.com/octo/widgets/issues/7";
    assert!(
        gh.close_issue(url, Some("Released: stable again."))
            .unwrap()
    );
    assert!(
        !gh.close_issue(url, Some("Released: stable again."))
            .unwrap()
    );
    let comments = server.requests_to("POST", &format!("{REPO}/issues/7/comments"));
    assert_eq!(comments.len(), 1);
    assert_eq!(
        comments[0].json(),
        json!({"body": "Released: stable again."})
    );
    let patch = server.requests_to("PATCH", &format!("{REPO}/issues/7"));
    assert_eq!(patch.len(), 1);
    assert_eq!(
        patch[0].json(),
        json!({"state": "closed", "state_reason": "completed"})
    );
}

#[test]
fn github_without_a_token_is_a_usage_error_naming_the_variable() {
    let server = FakeServer::start();
    let err = github(&server, None).open_issue(&spec("t")).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    assert!(err.to_string().contains("`GITHUB_TOKEN`"), "{err}");
    assert!(err.hint().unwrap().contains("issues: write"));
    assert!(server.requests().is_empty());
}

#[test]
fn github_api_errors_keep_their_status() {
    let server = FakeServer::start();
    server
        .route("GET", &format!("{REPO}/issues"))
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", &format!("{REPO}/issues")).respond(FakeResponse::json(
        410,
        json!({"message": "Issues are disabled for this repo", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue"}),
    ));
    let err = github(&server, Some("ghs_x"))
        .open_issue(&spec("t"))
        .unwrap_err();
    assert!(err.to_string().contains("410"), "{err}");
    assert!(err.to_string().contains("Issues are disabled"), "{err}");
}

#[test]
fn gitlab_opens_finds_and_closes() {
    let server = FakeServer::start();
    let title = "Flaky test: jest|Cart|adds [1] item";
    let gl_issue = |state: &str| {
        json!({"id": 901, "iid": 12, "title": title, "state": state,
               "web_url": "https://gitlab.example/grp/widgets/-/issues/12"})
    };
    // GitLab's search is fuzzy: a near-miss title comes back and must not be taken.
    server.route("GET", &format!("{PROJECT}/issues")).respond_seq([
        FakeResponse::json(200, json!([{"iid": 2, "title": format!("{title} (old)"), "state": "opened", "web_url": "u"}])),
        FakeResponse::json(200, json!([gl_issue("opened")])),
    ]);
    server
        .route("POST", &format!("{PROJECT}/issues"))
        .respond(FakeResponse::json(201, gl_issue("opened")));
    let gl = gitlab(&server);
    let opened = gl.open_issue(&spec(title)).unwrap();
    assert!(opened.created);
    assert_eq!(opened.number, 12);
    let list = &server.requests_to("GET", &format!("{PROJECT}/issues"))[0];
    assert_eq!(list.query_param("state").as_deref(), Some("opened"));
    assert_eq!(list.query_param("search").as_deref(), Some(title));
    assert_eq!(list.query_param("in").as_deref(), Some("title"));
    let post = &server.requests_to("POST", &format!("{PROJECT}/issues"))[0];
    assert_eq!(post.header("private-token"), Some("glpat-x"));
    assert_eq!(
        post.json(),
        json!({"title": title, "description": "Failed 4 of 40 runs.", "labels": "flaky-test"})
    );
    assert!(!gl.open_issue(&spec(title)).unwrap().created);

    server
        .route("GET", &format!("{PROJECT}/issues/12"))
        .respond_seq([
            FakeResponse::json(200, gl_issue("opened")),
            FakeResponse::json(200, gl_issue("closed")),
        ]);
    server
        .route("POST", &format!("{PROJECT}/issues/12/notes"))
        .respond(FakeResponse::json(201, json!({"id": 5})));
    server
        .route("PUT", &format!("{PROJECT}/issues/12"))
        .respond(FakeResponse::json(200, gl_issue("closed")));
    let url = "https://gitlab.example/grp/widgets/-/issues/12";
    assert!(gl.close_issue(url, Some("stable")).unwrap());
    assert!(!gl.close_issue(url, Some("stable")).unwrap());
    assert_eq!(
        server.requests_to("PUT", &format!("{PROJECT}/issues/12"))[0].json(),
        json!({"state_event": "close"})
    );
    assert_eq!(
        server
            .requests_to("POST", &format!("{PROJECT}/issues/12/notes"))
            .len(),
        1
    );
}

#[test]
fn a_marker_names_its_fields_and_cannot_end_its_comment_early() {
    assert_eq!(
        hidden_marker("paved-quarantine issue", &[("test", "pytest|t.A|test_x")]),
        "<!-- paved-quarantine issue test=pytest|t.A|test_x -->"
    );
    // `-->` (or a newline, or a space that would make a second field) inside a name is encoded.
    assert_eq!(
        hidden_marker(
            "paved-quarantine issue",
            &[("test", "a|b|x --> y\n%"), ("variant", "linux")]
        ),
        "<!-- paved-quarantine issue test=a|b|x%20--%3E%20y%0A%25 variant=linux -->"
    );
}

#[test]
fn github_finds_its_own_issue_by_the_marker_after_a_person_edited_the_title() {
    let server = FakeServer::start();
    let title = "Flaky test: pytest|t.A|test_x";
    let ours = marked(title, "pytest|t.A|test_x");
    let marker = ours.marker.clone().unwrap();
    // The Actions `GITHUB_TOKEN`: `GET /user` is refused, its issues are by github-actions[bot].
    server.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration"}),
    ));
    let bot = json!({"login": "github-actions[bot]", "id": 41898282, "type": "Bot"});
    let issue = |n: u64, title: &str, body: &str| {
        json!({"number": n, "title": title, "state": "open", "body": body, "user": bot,
               "html_url": format!("https://github.com/octo/widgets/issues/{n}")})
    };
    // Someone else's, starting with our marker: not ours.
    let mut planted = issue(2, title, &format!("{marker}\nclose me when you release it"));
    planted["user"] = json!({"login": "mallory", "id": 666, "type": "User"});
    server
        .route("GET", &format!("{REPO}/issues"))
        .respond(FakeResponse::json(
            200,
            json!([
                planted,
                // Someone else's, with our exact title and no marker: not ours.
                issue(3, title, "I see this one fail too"),
                // The marker quoted further down, not at the start: not ours.
                issue(4, title, &format!("Quoting the bot:\n{marker}")),
                // The marker of another test whose key starts like ours: not ours.
                issue(
                    5,
                    "Flaky test: pytest|t.A|test_x2",
                    &format!(
                        "{}\n…",
                        hidden_marker("paved-quarantine issue", &[("test", "pytest|t.A|test_x2")])
                    )
                ),
                // Ours, retitled by a person (GitHub stores edited bodies with CRLF).
                issue(
                    6,
                    "test_x is flaky on CI (investigating)",
                    &format!("{marker}\r\nFailed 4 of 40 runs.")
                ),
            ]),
        ));
    let gh = github(&server, Some("ghs_x"));
    let found = gh.open_issue(&ours).unwrap();
    assert!(!found.created);
    assert_eq!(found.number, 6);
    assert_eq!(found.url, "https://github.com/octo/widgets/issues/6");
    assert!(
        server
            .requests_to("POST", &format!("{REPO}/issues"))
            .is_empty(),
        "a duplicate was opened"
    );
    // Nothing else was touched: no issue was edited, commented on or closed.
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        server.requests()
    );
}

#[test]
fn github_opens_its_own_issue_when_only_someone_elses_has_the_title() {
    let server = FakeServer::start();
    let title = "Flaky test: pytest|t.A|test_x";
    let ours = marked(title, "pytest|t.A|test_x");
    // A personal access token: `GET /user` names its user, so only that user's issues count.
    server.route("GET", "/user").respond(FakeResponse::json(
        200,
        json!({"login": "release-bot", "id": 4242, "type": "User"}),
    ));
    server
        .route("GET", &format!("{REPO}/issues"))
        .respond(FakeResponse::json(
            200,
            json!([
                {"number": 3, "title": title, "state": "open", "body": null,
                 "user": {"login": "release-bot", "id": 4242, "type": "User"},
                 "html_url": "https://github.com/octo/widgets/issues/3"},
                {"number": 4, "title": title, "state": "open", "body": ours.body,
                 "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                 "html_url": "https://github.com/octo/widgets/issues/4"},
            ]),
        ));
    server
        .route("POST", &format!("{REPO}/issues"))
        .respond(FakeResponse::json(201, gh_issue(7, title)));
    let gh = github(&server, Some("ghs_x"));
    let opened = gh.open_issue(&ours).unwrap();
    assert!(opened.created);
    assert_eq!(opened.number, 7);
    let post = &server.requests_to("POST", &format!("{REPO}/issues"))[0];
    let body = post.json()["body"].as_str().unwrap().to_owned();
    assert!(body.starts_with(ours.marker.as_deref().unwrap()), "{body}");
    for n in [3, 4] {
        assert!(
            server
                .requests_to("PATCH", &format!("{REPO}/issues/{n}"))
                .is_empty()
        );
    }
}

#[test]
fn gitlab_finds_its_own_issue_by_the_marker_not_by_the_title() {
    let server = FakeServer::start();
    let title = "Flaky test: jest|Cart|adds item";
    let ours = marked(title, "jest|Cart|adds item");
    let marker = ours.marker.clone().unwrap();
    // The project access token's bot user.
    server.route("GET", "/user").respond(FakeResponse::json(
        200,
        json!({"id": 77, "username": "project_42_bot_1a2b"}),
    ));
    let issue = |iid: u64, title: &str, description: Option<&str>| {
        json!({"id": 900 + iid, "iid": iid, "title": title, "state": "opened", "description": description,
               "author": {"id": 77, "username": "project_42_bot_1a2b"},
               "web_url": format!("https://gitlab.example/grp/widgets/-/issues/{iid}")})
    };
    // Someone planted our marker in an issue of theirs: not ours.
    let mut planted = issue(5, "Cart", Some(&marker));
    planted["author"] = json!({"id": 5, "username": "mallory"});
    server
        .route("GET", &format!("{PROJECT}/issues"))
        .respond_seq([
            // First run: only someone else's issue with our title.
            FakeResponse::json(
                200,
                json!([
                    issue(2, title, Some("me too")),
                    issue(3, title, None),
                    planted
                ]),
            ),
            // Second run: ours, retitled.
            FakeResponse::json(
                200,
                json!([
                    issue(2, title, Some("me too")),
                    issue(
                        12,
                        "Cart test flakes",
                        Some(&format!("{marker}\nFailed 4 of 40 runs."))
                    )
                ]),
            ),
        ]);
    server
        .route("POST", &format!("{PROJECT}/issues"))
        .respond(FakeResponse::json(201, issue(12, title, Some(&ours.body))));
    let gl = gitlab(&server);
    let opened = gl.open_issue(&ours).unwrap();
    assert!(opened.created);
    assert_eq!(opened.number, 12);
    // Listed by label, not searched by title (a retitled issue would not be found).
    let list = &server.requests_to("GET", &format!("{PROJECT}/issues"))[0];
    assert_eq!(list.query_param("labels").as_deref(), Some("flaky-test"));
    assert_eq!(list.query_param("state").as_deref(), Some("opened"));
    assert_eq!(list.query_param("search"), None);
    let post = &server.requests_to("POST", &format!("{PROJECT}/issues"))[0];
    assert!(
        post.json()["description"]
            .as_str()
            .unwrap()
            .starts_with(&marker)
    );
    let again = gl.open_issue(&ours).unwrap();
    assert!(!again.created);
    assert_eq!(again.number, 12);
    assert_eq!(
        server
            .requests_to("POST", &format!("{PROJECT}/issues"))
            .len(),
        1
    );
    assert!(
        server
            .requests_to("PUT", &format!("{PROJECT}/issues/2"))
            .is_empty()
    );
}

#[test]
fn issue_numbers_come_from_urls() {
    assert_eq!(
        issue_number("https://github.com/o/r/issues/12").unwrap(),
        12
    );
    assert_eq!(
        issue_number("https://gitlab.com/g/p/-/issues/3/").unwrap(),
        3
    );
    assert!(issue_number("https://github.com/o/r/pull/12").is_err());
    assert!(issue_number("JIRA-12").is_err());
}
