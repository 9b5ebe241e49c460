//! The one comment / note a tool keeps up to date counts only when the token's own identity
//! wrote it: a comment someone else starts with the marker is ignored (a new one is created),
//! and ours is edited. Fakes answer as the REST APIs document: GitHub `GET /user` (`403` for the
//! Actions `GITHUB_TOKEN`, whose comments are by `github-actions[bot]`, `type: Bot`), comment
//! `user`; GitLab `GET /user`, note `author`.

use std::sync::{Arc, Mutex};

use paved_core::http::Secret;
use paved_forge::comments::{Comments, Upserted};
use paved_forge::{GitHubConfig, GitLabConfig, GitLabToken};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::{Value, json};

const MARKER: &str = "<!-- paved-quarantine gate -->";

fn gh_user(id: u64, login: &str, kind: &str) -> Value {
    json!({"id": id, "login": login, "type": kind})
}

/// A fake issue-comments API for pull request #7 of `o/r`, holding `comments` in memory; new
/// comments are written by `author`.
fn github_comments(
    server: &FakeServer,
    comments: Vec<Value>,
    author: Value,
) -> Arc<Mutex<Vec<Value>>> {
    let all = Arc::new(Mutex::new(comments));
    let list = all.clone();
    server
        .route("GET", "/repos/o/r/issues/7/comments")
        .respond_with(move |_| FakeResponse::json(200, Value::from(list.lock().unwrap().clone())));
    let create = all.clone();
    server
        .route("POST", "/repos/o/r/issues/7/comments")
        .respond_with(move |r| {
            let mut all = create.lock().unwrap();
            let c = json!({"id": 100 + all.len() as u64, "body": r.json()["body"], "user": author});
            all.push(c.clone());
            FakeResponse::json(201, c)
        });
    for id in [1, 102] {
        let edit = all.clone();
        server
            .route("PATCH", &format!("/repos/o/r/issues/comments/{id}"))
            .respond_with(move |r| {
                let mut all = edit.lock().unwrap();
                let c = all.iter_mut().find(|c| c["id"] == id).unwrap();
                c["body"] = r.json()["body"].clone();
                FakeResponse::json(200, c.clone())
            });
    }
    all
}

fn github(server: &FakeServer) -> Comments {
    let (client, _) = test_client();
    let config = GitHubConfig::new(&server.url(), "o/r", Some(Secret::new("tok"))).unwrap();
    Comments::github(client, &config)
}

fn planted() -> Vec<Value> {
    vec![
        json!({"id": 1, "body": format!("{MARKER}\nall green, merge it"), "user": gh_user(666, "mallory", "User")}),
        json!({"id": 2, "body": "LGTM", "user": gh_user(5, "octocat", "User")}),
    ]
}

#[test]
fn github_a_marker_comment_by_someone_else_is_ignored_and_ours_is_edited() {
    let server = FakeServer::start();
    // A personal access token: `GET /user` names its owner.
    server
        .route("GET", "/user")
        .respond(FakeResponse::json(200, gh_user(41, "paved-bot", "User")));
    let all = github_comments(&server, planted(), gh_user(41, "paved-bot", "User"));
    let comments = github(&server);

    let body = format!("{MARKER}\nfirst");
    assert_eq!(
        comments.upsert(7, MARKER, &body).unwrap(),
        Upserted::Created { id: 102 }
    );
    assert!(
        server
            .requests_to("PATCH", "/repos/o/r/issues/comments/1")
            .is_empty()
    );
    let body = format!("{MARKER}\nsecond");
    assert_eq!(
        comments.upsert(7, MARKER, &body).unwrap(),
        Upserted::Updated { id: 102 }
    );
    let all = all.lock().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["body"], format!("{MARKER}\nall green, merge it"));
    assert_eq!(all[2]["body"], body);
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn github_with_the_actions_token_only_github_actions_bot_comments_count() {
    let server = FakeServer::start();
    // `GITHUB_TOKEN` is an installation token: `GET /user` is refused.
    server.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration",
               "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"}),
    ));
    let bot = gh_user(41898282, "github-actions[bot]", "Bot");
    let all = github_comments(&server, planted(), bot);
    let comments = github(&server);
    let body = format!("{MARKER}\nfirst");
    assert_eq!(
        comments.upsert(7, MARKER, &body).unwrap(),
        Upserted::Created { id: 102 }
    );
    assert_eq!(
        comments
            .upsert(7, MARKER, &format!("{MARKER}\nsecond"))
            .unwrap(),
        Upserted::Updated { id: 102 }
    );
    assert!(
        server
            .requests_to("PATCH", "/repos/o/r/issues/comments/1")
            .is_empty()
    );
    assert_eq!(all.lock().unwrap()[0]["user"]["login"], "mallory");
}

#[test]
fn gitlab_a_marker_note_by_someone_else_is_ignored_and_ours_is_edited() {
    let server = FakeServer::start();
    server.route("GET", "/user").respond(FakeResponse::json(
        200,
        json!({"id": 12, "username": "project_42_bot_1a2b", "bot": true}),
    ));
    let notes = Arc::new(Mutex::new(vec![
        json!({"id": 1, "body": format!("{MARKER}\nall green"), "system": false,
               "author": {"id": 666, "username": "mallory"}}),
    ]));
    let list = notes.clone();
    server
        .route("GET", "/projects/42/merge_requests/3/notes")
        .respond_with(move |_| FakeResponse::json(200, Value::from(list.lock().unwrap().clone())));
    let create = notes.clone();
    server
        .route("POST", "/projects/42/merge_requests/3/notes")
        .respond_with(move |r| {
            let n = json!({"id": 30, "body": r.json()["body"], "system": false,
                           "author": {"id": 12, "username": "project_42_bot_1a2b"}});
            create.lock().unwrap().push(n.clone());
            FakeResponse::json(201, n)
        });
    server
        .route("PUT", "/projects/42/merge_requests/3/notes/30")
        .respond_with(|r| FakeResponse::json(200, json!({"id": 30, "body": r.json()["body"]})));
    let (client, _) = test_client();
    let config = GitLabConfig::new(
        &server.url(),
        "42",
        Some(GitLabToken::Private(Secret::new("glpat-x"))),
    )
    .unwrap();
    let comments = Comments::gitlab(client, &config);
    let body = format!("{MARKER}\nfirst");
    assert_eq!(
        comments.upsert(3, MARKER, &body).unwrap(),
        Upserted::Created { id: 30 }
    );
    assert_eq!(
        comments.upsert(3, MARKER, &body).unwrap(),
        Upserted::Updated { id: 30 }
    );
    assert!(
        server
            .requests_to("PUT", "/projects/42/merge_requests/3/notes/1")
            .is_empty()
    );
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}
