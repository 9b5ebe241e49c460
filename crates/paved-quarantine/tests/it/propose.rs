//! `update --propose`, run as a binary in a git checkout against fake forges that answer as the
//! REST APIs document: the first run opens one pull request carrying the new list and the
//! evidence per test, a re-run updates that same one, and a run with nothing to change closes
//! it. Test names from JUnit cannot break the body's tables.

use std::path::Path;
use std::sync::{Arc, Mutex};

use paved_quarantine::model::{Break, Verdict};
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

use super::update::{LIST, flaky, repo, stats, update};

const REPO: &str = "/repos/acme/app";
const PROJECT: &str = "/projects/42";

/// A hostile flaky test and a broken one next to update's usual stats, in a git checkout.
fn checkout() -> (tempfile::TempDir, String) {
    let dir = repo();
    let mut all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stats.json")).unwrap())
            .unwrap();
    let tests = all["tests"].as_array_mut().unwrap();
    tests.push(
        serde_json::to_value(flaky(stats(
            "jest",
            "evil",
            "ends ``in` | <img src=x onerror=alert(1)>\n@everyone [x](https://evil.example)",
            None,
        )))
        .unwrap(),
    );
    let mut broken = stats("pytest", "tests.test_db", "test_migrate", None);
    broken.verdict = Verdict::Broken;
    broken.failures = 5;
    broken.broken = Some(Break {
        since: "5e1f00d".into(),
        last_good: Some("a11ce00".into()),
        failing_runs: 5,
    });
    tests.push(serde_json::to_value(broken).unwrap());
    std::fs::write(dir.path().join("stats.json"), all.to_string()).unwrap();
    let git = |args: &[&str]| {
        let out = paved_testkit::repo::git_cmd(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "chore: start"]);
    let head = git(&["rev-parse", "HEAD"]);
    (dir, head)
}

fn github_env(server: &FakeServer) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_API_URL", server.url()),
        ("GITHUB_REPOSITORY", "acme/app".to_owned()),
        ("GITHUB_TOKEN", "ghs_test".to_owned()),
    ]
}

/// A fake GitHub whose open pull requests from `paved/quarantine` change as the client writes.
fn fake_github(server: &FakeServer, base: &str) -> Arc<Mutex<Vec<u64>>> {
    let open: Arc<Mutex<Vec<u64>>> = Arc::default();
    let pull = |n: u64| {
        json!({"number": n, "state": "open", "html_url": format!("https://github.com/acme/app/pull/{n}"),
               "head": {"ref": "paved/quarantine", "repo": {"full_name": "acme/app"}}})
    };
    server
        .route("GET", REPO)
        .respond(FakeResponse::json(200, json!({"default_branch": "main"})));
    server
        .route("GET", &format!("{REPO}/git/commits/{base}"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": base, "tree": {"sha": "t0"}}),
        ));
    server
        .route("POST", &format!("{REPO}/git/trees"))
        .respond(FakeResponse::json(201, json!({"sha": "t1"})));
    server
        .route("POST", &format!("{REPO}/git/commits"))
        .respond(FakeResponse::json(201, json!({"sha": "c1"})));
    server
        .route("PATCH", &format!("{REPO}/git/refs/heads/paved/quarantine"))
        .respond_seq([
            FakeResponse::json(422, json!({"message": "Reference does not exist"})),
            FakeResponse::json(200, json!({"ref": "refs/heads/paved/quarantine"})),
        ]);
    server
        .route("POST", &format!("{REPO}/git/refs"))
        .respond(FakeResponse::json(
            201,
            json!({"ref": "refs/heads/paved/quarantine"}),
        ));
    let o = open.clone();
    server
        .route("GET", &format!("{REPO}/pulls"))
        .query("head", "acme:paved/quarantine")
        .query("state", "open")
        .respond_with(move |_| {
            let list: Vec<_> = o.lock().unwrap().iter().map(|&n| pull(n)).collect();
            FakeResponse::json(200, json!(list))
        });
    let o = open.clone();
    server
        .route("POST", &format!("{REPO}/pulls"))
        .respond_with(move |_| {
            o.lock().unwrap().push(12);
            FakeResponse::json(201, pull(12))
        });
    let o = open.clone();
    server
        .route("PATCH", &format!("{REPO}/pulls/12"))
        .respond_with(move |req| {
            if req.json()["state"] == "closed" {
                o.lock().unwrap().clear();
            }
            FakeResponse::json(200, pull(12))
        });
    server
        .route("POST", &format!("{REPO}/issues/12/comments"))
        .respond(FakeResponse::json(201, json!({"id": 1})));
    open
}

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn propose_opens_one_pull_request_updates_it_and_closes_it_when_nothing_changes() {
    let (dir, head) = checkout();
    let server = FakeServer::start();
    fake_github(&server, &head);
    let env = github_env(&server);

    let stderr = ok(&update(
        dir.path(),
        &["--propose", "--forge", "github"],
        &env,
    ));
    assert!(
        stderr.contains("opened the pull request https://github.com/acme/app/pull/12"),
        "{stderr}"
    );
    // The checkout is left as it was: the change is in the pull request.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap(),
        LIST
    );
    // The commit carries exactly what `update` writes without `--propose`.
    let plain = repo();
    ok(&update(plain.path(), &[], &[]));
    let hostile_plain = std::fs::read_to_string(plain.path().join("quarantine.toml")).unwrap();
    let tree = &server.requests_to("POST", &format!("{REPO}/git/trees"))[0];
    let content = tree.json()["tree"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tree.json()["tree"][0]["path"], "quarantine.toml");
    for line in hostile_plain.lines().filter(|l| l.starts_with("id = ")) {
        assert!(content.contains(line), "{line} missing from\n{content}");
    }
    assert!(content.contains("ends ``in`"), "{content}");
    let commit = &server.requests_to("POST", &format!("{REPO}/git/commits"))[0];
    assert_eq!(commit.json()["parents"], json!([head]));
    let post = &server.requests_to("POST", &format!("{REPO}/pulls"))[0];
    assert_eq!(post.json()["head"], "paved/quarantine");
    assert_eq!(post.json()["base"], "main");
    assert_eq!(
        post.json()["title"],
        "chore(quarantine): quarantine 3 tests, release 1 test"
    );
    let body = post.json()["body"].as_str().unwrap().to_owned();
    insta::assert_snapshot!("propose_body", body);
    // The hostile name stays inside its code span, on its row.
    assert!(!body.contains("\n@everyone"), "{body}");
    assert!(!body.contains("<img src=x onerror=alert(1)> |"), "{body}");
    assert!(
        body.contains("| ```jest\\|evil\\|ends ``in` \\\\| <img src=x onerror=alert(1)> @everyone [x](https://evil.example)``` | all | 40 | 6 | 2 | 3 |"),
        "{body}"
    );

    // A re-run (the next schedule) updates #12 and opens nothing.
    let stderr = ok(&update(
        dir.path(),
        &["--propose", "--forge", "github", "--json"],
        &env,
    ));
    assert!(stderr.contains("updated the pull request"), "{stderr}");
    assert_eq!(
        server.requests_to("POST", &format!("{REPO}/pulls")).len(),
        1
    );
    let edits = server.requests_to("PATCH", &format!("{REPO}/pulls/12"));
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].json()["body"].as_str().unwrap(), body);

    // Once the change is merged, nothing is left to change: the pull request is closed.
    std::fs::write(dir.path().join("quarantine.toml"), &content).unwrap();
    let out = update(
        dir.path(),
        &["--propose", "--forge", "github", "--json"],
        &env,
    );
    let stderr = ok(&out);
    assert!(
        stderr.contains("nothing to change: closed the pull request"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["proposal"]["action"], "closed");
    assert_eq!(v["proposal"]["number"], 12);
    let comment = &server.requests_to("POST", &format!("{REPO}/issues/12/comments"))[0];
    assert!(
        comment.json()["body"]
            .as_str()
            .unwrap()
            .contains("no longer call for a change")
    );
    let edits = server.requests_to("PATCH", &format!("{REPO}/pulls/12"));
    assert_eq!(edits.last().unwrap().json(), json!({"state": "closed"}));
    // And again: nothing open, nothing written.
    let before = server.requests().len();
    let stderr = ok(&update(
        dir.path(),
        &["--propose", "--forge", "github"],
        &env,
    ));
    assert!(
        stderr.contains("no pull request from `paved/quarantine` is open"),
        "{stderr}"
    );
    assert!(
        server
            .requests()
            .iter()
            .skip(before)
            .all(|r| r.method == "GET")
    );
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn propose_opens_a_merge_request_on_gitlab() {
    let (dir, head) = checkout();
    let server = FakeServer::start();
    server.route("GET", PROJECT).respond(FakeResponse::json(
        200,
        json!({"id": 42, "default_branch": "main"}),
    ));
    server
        .route("POST", &format!("{PROJECT}/repository/commits"))
        .respond(FakeResponse::json(201, json!({"id": "c9"})));
    server
        .route("GET", &format!("{PROJECT}/merge_requests"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{PROJECT}/merge_requests"))
        .respond(FakeResponse::json(
            201,
            json!({"iid": 3, "web_url": "https://gitlab.example/acme/app/-/merge_requests/3"}),
        ));
    let env = vec![
        ("CI_API_V4_URL", server.url()),
        ("CI_PROJECT_ID", "42".to_owned()),
        ("GITLAB_TOKEN", "glpat-test".to_owned()),
    ];
    let stderr = ok(&update(
        dir.path(),
        &[
            "--propose",
            "--forge",
            "gitlab",
            "--propose-branch",
            "bots/flaky",
        ],
        &env,
    ));
    assert!(
        stderr.contains(
            "opened the merge request https://gitlab.example/acme/app/-/merge_requests/3"
        ),
        "{stderr}"
    );
    let commit = &server.requests_to("POST", &format!("{PROJECT}/repository/commits"))[0];
    assert_eq!(commit.json()["branch"], "bots/flaky");
    assert_eq!(commit.json()["start_sha"], head.as_str());
    assert_eq!(commit.json()["actions"][0]["action"], "update");
    assert_eq!(commit.json()["actions"][0]["file_path"], "quarantine.toml");
    let mr = &server.requests_to("POST", &format!("{PROJECT}/merge_requests"))[0];
    assert_eq!(mr.json()["source_branch"], "bots/flaky");
    assert!(
        mr.json()["description"]
            .as_str()
            .unwrap()
            .contains("| failures |")
    );
}

#[test]
fn propose_outside_ci_without_a_forge_or_a_checkout_is_a_usage_error() {
    let (dir, _) = checkout();
    let out = update(dir.path(), &["--propose"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--forge github|gitlab"));
    // Not a git checkout: nothing to base the commit on.
    let plain = repo();
    let out = update(plain.path(), &["--propose", "--forge", "github"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(plain.path().join("quarantine.toml")).unwrap(),
        LIST
    );
    let _ = Path::new(".");
}
