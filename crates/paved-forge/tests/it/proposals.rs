//! The standing PR/MR of `update --propose` against fakes that answer as the REST APIs document:
//! the first run pushes the branch (GitHub: `PATCH` of a missing ref is `422`, then `POST
//! /git/refs`) and opens the PR/MR; a re-run force-updates the branch and edits the same one; a
//! create that races another job (`422` "A pull request already exists", GitLab `409`) edits the
//! open one; withdrawing comments and closes.

use std::sync::{Arc, Mutex};

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::http::Secret;
use paved_forge::proposals::{GitHubProposals, GitLabProposals, ProposalSpec, ProposalTracker};
use paved_forge::{GitHubConfig, GitLabConfig, GitLabToken};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::json;

const REPO: &str = "/repos/octo/widgets";
const PROJECT: &str = "/projects/grp%2Fwidgets";
const BASE: &str = "1111111111111111111111111111111111111111";

fn github(server: &FakeServer, token: Option<&str>) -> GitHubProposals {
    let (client, _) = test_client();
    let config = GitHubConfig::new(&server.url(), "octo/widgets", token.map(Secret::new)).unwrap();
    GitHubProposals::new(client, config)
}

fn gitlab(server: &FakeServer) -> GitLabProposals {
    let (client, _) = test_client();
    let config = GitLabConfig::new(
        &server.url(),
        "grp/widgets",
        Some(GitLabToken::Private(Secret::new("glpat-x"))),
    )
    .unwrap();
    GitLabProposals::new(client, config)
}

fn spec(body: &str) -> ProposalSpec {
    ProposalSpec {
        branch: "paved/quarantine".into(),
        base_commit: BASE.into(),
        path: "ci/quarantine.toml".into(),
        content: "[[test]]\nid = \"a|b|c\"\n".into(),
        file_exists: true,
        message: "chore(quarantine): update quarantine.toml".into(),
        title: "chore(quarantine): quarantine 1 test".into(),
        body: body.into(),
    }
}

fn gh_pull(n: u64) -> serde_json::Value {
    gh_pull_from(n, "octo/widgets")
}

/// A pull request as `GET /repos/{o}/{r}/pulls` lists it, from the branch `paved/quarantine` of
/// the repository `head_repo` (a fork when that is not `octo/widgets`).
fn gh_pull_from(n: u64, head_repo: &str) -> serde_json::Value {
    json!({"number": n, "state": "open", "title": "t",
           "html_url": format!("https://github.com/octo/widgets/pull/{n}"),
           "head": {"ref": "paved/quarantine", "label": format!("{}:paved/quarantine", head_repo.split('/').next().unwrap()),
                    "repo": {"full_name": head_repo}},
           "base": {"ref": "trunk", "repo": {"full_name": "octo/widgets"}}})
}

/// A fake GitHub repository whose branch `paved/quarantine` and open pull requests change as
/// the client writes them.
fn fake_github(server: &FakeServer) -> Arc<Mutex<Vec<u64>>> {
    let open: Arc<Mutex<Vec<u64>>> = Arc::default();
    let branch: Arc<Mutex<Option<String>>> = Arc::default();
    server
        .route("GET", REPO)
        .respond(FakeResponse::json(200, json!({"default_branch": "trunk"})));
    server
        .route("GET", &format!("{REPO}/git/commits/{BASE}"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": BASE, "tree": {"sha": "t0"}}),
        ));
    server
        .route("POST", &format!("{REPO}/git/trees"))
        .respond(FakeResponse::json(201, json!({"sha": "t1"})));
    server
        .route("POST", &format!("{REPO}/git/commits"))
        .respond(FakeResponse::json(201, json!({"sha": "c1"})));
    let b = branch.clone();
    server
        .route("PATCH", &format!("{REPO}/git/refs/heads/paved/quarantine"))
        .respond_with(move |req| {
            let mut b = b.lock().unwrap();
            if b.is_none() {
                return FakeResponse::json(422, json!({"message": "Reference does not exist"}));
            }
            *b = req.json()["sha"].as_str().map(str::to_owned);
            FakeResponse::json(200, json!({"ref": "refs/heads/paved/quarantine"}))
        });
    let b = branch.clone();
    server
        .route("POST", &format!("{REPO}/git/refs"))
        .respond_with(move |req| {
            *b.lock().unwrap() = req.json()["sha"].as_str().map(str::to_owned);
            FakeResponse::json(201, json!({"ref": req.json()["ref"]}))
        });
    let o = open.clone();
    server
        .route("GET", &format!("{REPO}/pulls"))
        .query("head", "octo:paved/quarantine")
        .query("state", "open")
        .respond_with(move |_| {
            let list: Vec<_> = o.lock().unwrap().iter().map(|&n| gh_pull(n)).collect();
            FakeResponse::json(200, json!(list))
        });
    let o = open.clone();
    server
        .route("POST", &format!("{REPO}/pulls"))
        .respond_with(move |_| {
            let mut o = o.lock().unwrap();
            if !o.is_empty() {
                return FakeResponse::json(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
                           "message": "A pull request already exists for octo:paved/quarantine."}],
                           "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}),
                );
            }
            o.push(12);
            FakeResponse::json(201, gh_pull(12))
        });
    server
        .route("PATCH", &format!("{REPO}/pulls/12"))
        .respond_with(move |_| FakeResponse::json(200, gh_pull(12)));
    server
        .route("POST", &format!("{REPO}/issues/12/comments"))
        .respond(FakeResponse::json(201, json!({"id": 1})));
    open
}

#[test]
fn github_first_run_opens_the_pull_request_and_a_rerun_updates_the_same_one() {
    let server = FakeServer::start();
    fake_github(&server);
    let gh = github(&server, Some("ghs_x"));

    let first = gh.propose(&spec("first body")).unwrap();
    assert!(first.created);
    assert_eq!(first.number, 12);
    assert_eq!(first.url, "https://github.com/octo/widgets/pull/12");
    // One commit on the base, with the file inline, on the branch created by the first run.
    let tree = &server.requests_to("POST", &format!("{REPO}/git/trees"))[0];
    assert_eq!(tree.header("authorization"), Some("Bearer ghs_x"));
    assert_eq!(
        tree.json(),
        json!({"base_tree": "t0", "tree": [{"path": "ci/quarantine.toml", "mode": "100644",
               "type": "blob", "content": "[[test]]\nid = \"a|b|c\"\n"}]})
    );
    let commit = &server.requests_to("POST", &format!("{REPO}/git/commits"))[0];
    assert_eq!(commit.json()["parents"], json!([BASE]));
    assert_eq!(commit.json()["tree"], "t1");
    let created = &server.requests_to("POST", &format!("{REPO}/git/refs"))[0];
    assert_eq!(
        created.json(),
        json!({"ref": "refs/heads/paved/quarantine", "sha": "c1"})
    );
    let post = &server.requests_to("POST", &format!("{REPO}/pulls"))[0];
    assert_eq!(post.json()["head"], "paved/quarantine");
    assert_eq!(post.json()["base"], "trunk");
    assert_eq!(post.json()["body"], "first body");

    // The re-run force-moves the branch and edits #12: no second pull request.
    let second = gh.propose(&spec("second body")).unwrap();
    assert!(!second.created);
    assert_eq!(second.number, 12);
    assert_eq!(
        server.requests_to("POST", &format!("{REPO}/pulls")).len(),
        1
    );
    assert_eq!(
        server
            .requests_to("POST", &format!("{REPO}/git/refs"))
            .len(),
        1
    );
    let moved = server.requests_to("PATCH", &format!("{REPO}/git/refs/heads/paved/quarantine"));
    assert_eq!(
        moved.last().unwrap().json(),
        json!({"sha": "c1", "force": true})
    );
    let edit = &server.requests_to("PATCH", &format!("{REPO}/pulls/12"))[0];
    assert_eq!(
        edit.json(),
        json!({"title": "chore(quarantine): quarantine 1 test", "body": "second body"})
    );
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn github_a_create_that_raced_another_job_updates_the_open_pull_request() {
    let server = FakeServer::start();
    let open = fake_github(&server);
    // The list is empty when this run looks, and another job opens #12 before it creates.
    server
        .route("GET", &format!("{REPO}/pulls"))
        .query("head", "octo:paved/quarantine")
        .query("state", "open")
        .respond_seq([
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([gh_pull(12)])),
        ]);
    open.lock().unwrap().push(12);
    let gh = github(&server, Some("ghs_x"));
    let p = gh.propose(&spec("body")).unwrap();
    assert!(!p.created);
    assert_eq!(p.number, 12);
    assert_eq!(
        server
            .requests_to("PATCH", &format!("{REPO}/pulls/12"))
            .len(),
        1
    );
}

#[test]
fn github_a_pull_request_from_a_fork_with_the_same_branch_name_is_never_touched() {
    let server = FakeServer::start();
    let open = fake_github(&server);
    // A fork under the same owner (`octo/widgets-fork`) matches `head=octo:paved/quarantine`;
    // GitHub lists its pull request first.
    let o = open.clone();
    server
        .route("GET", &format!("{REPO}/pulls"))
        .query("head", "octo:paved/quarantine")
        .query("state", "open")
        .respond_with(move |_| {
            let mut list = vec![gh_pull_from(66, "octo/widgets-fork"), {
                let mut deleted = gh_pull_from(67, "x/y");
                // A pull request whose fork was deleted has `head.repo: null`.
                deleted["head"]["repo"] = serde_json::Value::Null;
                deleted
            }];
            list.extend(o.lock().unwrap().iter().map(|&n| gh_pull(n)));
            FakeResponse::json(200, json!(list))
        });
    let gh = github(&server, Some("ghs_x"));

    let first = gh.propose(&spec("first")).unwrap();
    assert!(first.created, "{first:?}");
    assert_eq!(first.number, 12);
    let second = gh.propose(&spec("second")).unwrap();
    assert_eq!((second.number, second.created), (12, false));
    assert_eq!(
        gh.withdraw("paved/quarantine", "done")
            .unwrap()
            .map(|p| p.number),
        Some(12)
    );
    for n in [66, 67] {
        assert!(
            server
                .requests_to("PATCH", &format!("{REPO}/pulls/{n}"))
                .is_empty()
        );
        assert!(
            server
                .requests_to("POST", &format!("{REPO}/issues/{n}/comments"))
                .is_empty()
        );
    }
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn a_proposal_branch_that_is_the_default_branch_is_refused_before_anything_is_written() {
    let server = FakeServer::start();
    fake_github(&server);
    let mut on_trunk = spec("b");
    on_trunk.branch = "trunk".into();
    let err = github(&server, Some("ghs_x"))
        .propose(&on_trunk)
        .unwrap_err();
    assert_eq!(err.category(), Category::Usage, "{err}");
    assert!(err.to_string().contains("`trunk`"), "{err}");
    assert!(err.hint().unwrap().contains("--propose-branch"), "{err:?}");
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        server.requests()
    );

    let server = FakeServer::start();
    fake_gitlab(&server);
    let mut on_main = spec("b");
    on_main.branch = "main".into();
    let err = gitlab(&server).propose(&on_main).unwrap_err();
    assert_eq!(err.category(), Category::Usage, "{err}");
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn github_another_422_is_an_error_naming_the_request() {
    let server = FakeServer::start();
    fake_github(&server);
    server.route("POST", &format!("{REPO}/pulls")).respond(FakeResponse::json(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}]}),
    ));
    let err = github(&server, Some("ghs_x"))
        .propose(&spec("body"))
        .unwrap_err();
    assert!(err.to_string().contains("422"), "{err}");
    assert!(err.hint().unwrap().contains("paved/quarantine"));
}

#[test]
fn github_withdraw_comments_and_closes_the_open_pull_request_only() {
    let server = FakeServer::start();
    let open = fake_github(&server);
    let gh = github(&server, Some("ghs_x"));
    // Nothing open: nothing is written.
    assert_eq!(
        gh.withdraw("paved/quarantine", "nothing to change")
            .unwrap(),
        None
    );
    assert!(
        server
            .requests_to("PATCH", &format!("{REPO}/pulls/12"))
            .is_empty()
    );

    open.lock().unwrap().push(12);
    let closed = gh
        .withdraw("paved/quarantine", "Nothing to change any more.")
        .unwrap()
        .unwrap();
    assert_eq!(closed.number, 12);
    let comment = &server.requests_to("POST", &format!("{REPO}/issues/12/comments"))[0];
    assert_eq!(
        comment.json(),
        json!({"body": "Nothing to change any more."})
    );
    let patch = &server.requests_to("PATCH", &format!("{REPO}/pulls/12"))[0];
    assert_eq!(patch.json(), json!({"state": "closed"}));
}

#[test]
fn github_without_a_token_is_a_usage_error_naming_the_variable() {
    let server = FakeServer::start();
    let err = github(&server, None).propose(&spec("b")).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    assert!(server.requests().is_empty());
}

fn gl_merge(iid: u64) -> serde_json::Value {
    gl_merge_from(iid, 4)
}

/// A merge request as `GET /projects/:id/merge_requests` lists it, into project 4 from the
/// branch `paved/quarantine` of project `source_project_id` (a fork when that is not 4).
fn gl_merge_from(iid: u64, source_project_id: u64) -> serde_json::Value {
    json!({"iid": iid, "state": "opened", "source_branch": "paved/quarantine",
           "source_project_id": source_project_id, "target_project_id": 4,
           "author": {"id": 900 + source_project_id, "username": "someone"},
           "web_url": format!("https://gitlab.com/grp/widgets/-/merge_requests/{iid}")})
}

fn fake_gitlab(server: &FakeServer) -> Arc<Mutex<Vec<u64>>> {
    let open: Arc<Mutex<Vec<u64>>> = Arc::default();
    server.route("GET", PROJECT).respond(FakeResponse::json(
        200,
        json!({"id": 4, "default_branch": "main"}),
    ));
    server
        .route("POST", &format!("{PROJECT}/repository/commits"))
        .respond(FakeResponse::json(
            201,
            json!({"id": "c9", "short_id": "c9"}),
        ));
    let o = open.clone();
    server
        .route("GET", &format!("{PROJECT}/merge_requests"))
        .query("source_branch", "paved/quarantine")
        .query("state", "opened")
        .respond_with(move |_| {
            let list: Vec<_> = o.lock().unwrap().iter().map(|&n| gl_merge(n)).collect();
            FakeResponse::json(200, json!(list))
        });
    let o = open.clone();
    server
        .route("POST", &format!("{PROJECT}/merge_requests"))
        .respond_with(move |_| {
            let mut o = o.lock().unwrap();
            if !o.is_empty() {
                return FakeResponse::json(
                    409,
                    json!({"message": ["Another open merge request already exists for this source branch: !5"]}),
                );
            }
            o.push(5);
            FakeResponse::json(201, gl_merge(5))
        });
    server
        .route("PUT", &format!("{PROJECT}/merge_requests/5"))
        .respond_with(|_| FakeResponse::json(200, gl_merge(5)));
    server
        .route("POST", &format!("{PROJECT}/merge_requests/5/notes"))
        .respond(FakeResponse::json(201, json!({"id": 1})));
    open
}

#[test]
fn gitlab_first_run_opens_the_merge_request_and_a_rerun_updates_the_same_one() {
    let server = FakeServer::start();
    fake_gitlab(&server);
    let gl = gitlab(&server);
    let mut first_spec = spec("first");
    first_spec.file_exists = false;
    let first = gl.propose(&first_spec).unwrap();
    assert!(first.created);
    assert_eq!(first.number, 5);
    let commit = &server.requests_to("POST", &format!("{PROJECT}/repository/commits"))[0];
    assert_eq!(commit.header("private-token"), Some("glpat-x"));
    assert_eq!(
        commit.json(),
        json!({"branch": "paved/quarantine", "start_sha": BASE, "force": true,
               "commit_message": "chore(quarantine): update quarantine.toml",
               "actions": [{"action": "create", "file_path": "ci/quarantine.toml",
                            "content": "[[test]]\nid = \"a|b|c\"\n"}]})
    );
    let post = &server.requests_to("POST", &format!("{PROJECT}/merge_requests"))[0];
    assert_eq!(post.json()["target_branch"], "main");
    assert_eq!(post.json()["source_branch"], "paved/quarantine");
    assert_eq!(post.json()["description"], "first");

    let second = gl.propose(&spec("second")).unwrap();
    assert!(!second.created);
    assert_eq!(second.number, 5);
    assert_eq!(
        server
            .requests_to("POST", &format!("{PROJECT}/merge_requests"))
            .len(),
        1
    );
    let commits = server.requests_to("POST", &format!("{PROJECT}/repository/commits"));
    assert_eq!(commits[1].json()["actions"][0]["action"], "update");
    let put = &server.requests_to("PUT", &format!("{PROJECT}/merge_requests/5"))[0];
    assert_eq!(
        put.json(),
        json!({"title": "chore(quarantine): quarantine 1 test", "description": "second"})
    );
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn gitlab_a_409_on_create_updates_the_open_merge_request() {
    let server = FakeServer::start();
    let open = fake_gitlab(&server);
    server
        .route("GET", &format!("{PROJECT}/merge_requests"))
        .query("source_branch", "paved/quarantine")
        .query("state", "opened")
        .respond_seq([
            FakeResponse::json(200, json!([])),
            FakeResponse::json(200, json!([gl_merge(5)])),
        ]);
    open.lock().unwrap().push(5);
    let p = gitlab(&server).propose(&spec("b")).unwrap();
    assert!(!p.created);
    assert_eq!(p.number, 5);
    assert_eq!(
        server
            .requests_to("PUT", &format!("{PROJECT}/merge_requests/5"))
            .len(),
        1
    );
}

#[test]
fn gitlab_a_merge_request_from_a_fork_with_the_same_branch_name_is_never_touched() {
    let server = FakeServer::start();
    let open = fake_gitlab(&server);
    // `source_branch=` matches merge requests from forks too; GitLab lists the fork's first.
    let o = open.clone();
    server
        .route("GET", &format!("{PROJECT}/merge_requests"))
        .query("source_branch", "paved/quarantine")
        .query("state", "opened")
        .respond_with(move |_| {
            let mut list = vec![gl_merge_from(42, 666)];
            list.extend(o.lock().unwrap().iter().map(|&n| gl_merge(n)));
            FakeResponse::json(200, json!(list))
        });
    let gl = gitlab(&server);

    let first = gl.propose(&spec("first")).unwrap();
    assert!(first.created, "{first:?}");
    assert_eq!(first.number, 5);
    let second = gl.propose(&spec("second")).unwrap();
    assert_eq!((second.number, second.created), (5, false));
    assert_eq!(
        gl.withdraw("paved/quarantine", "done")
            .unwrap()
            .map(|p| p.number),
        Some(5)
    );
    assert!(
        server
            .requests_to("PUT", &format!("{PROJECT}/merge_requests/42"))
            .is_empty()
    );
    assert!(
        server
            .requests_to("POST", &format!("{PROJECT}/merge_requests/42/notes"))
            .is_empty()
    );
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn gitlab_withdraw_adds_a_note_and_closes() {
    let server = FakeServer::start();
    let open = fake_gitlab(&server);
    open.lock().unwrap().push(5);
    let closed = gitlab(&server)
        .withdraw("paved/quarantine", "Nothing to change.")
        .unwrap()
        .unwrap();
    assert_eq!(closed.number, 5);
    let note = &server.requests_to("POST", &format!("{PROJECT}/merge_requests/5/notes"))[0];
    assert_eq!(note.json(), json!({"body": "Nothing to change."}));
    let put = &server.requests_to("PUT", &format!("{PROJECT}/merge_requests/5"))[0];
    assert_eq!(put.json(), json!({"state_event": "close"}));
}
