//! `gate --store` (each failure against the default branch's history, through `analyze`'s
//! verdicts) and `gate --comment` (one PR comment / MR note, edited in place) through the real
//! binary, with JUnit from real pytest runs and local servers that follow the documented GitHub
//! issue-comment and GitLab merge-request-note routes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::{Value, json};

const MODULE: &str = r#"
import os
import pytest

def test_ok():
    pass

def test_broken():
    assert os.environ.get("BROKEN") != "1", "the price is off by one"

def test_new():
    assert os.environ.get("NEW") != "1", "the new check fails"

def test_quarantined():
    assert os.environ.get("Q") != "1", "timing"

@pytest.mark.parametrize("who", ["@octocat <img src=x onerror=alert(1)> `x` | **b** <!-- paved-quarantine gate -->"])
def test_hostile(who):
    assert os.environ.get("HOSTILE") != "1", "ping @here\n| row | ```\n<script>alert(1)</script>"
"#;

const LIST: &str = r#"[[test]]
id = "pytest|test_gate|test_quarantined"
reason = "flaky: 3 of 20 runs failed"
owner = "@acme/shop"
added = 2026-11-01
expires = 2099-12-01
"#;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PAVED_")
            || k.starts_with("GITHUB_")
            || k.starts_with("CI_")
            || k.starts_with("GITLAB_")
        {
            c.env_remove(k);
        }
    }
    c.env("PAVED_HTTP_MAX_ATTEMPTS", "1");
    c
}

/// A real pytest run of [`MODULE`] with `env` set; its JUnit report.
fn pytest(dir: &Path, name: &str, env: &[(&str, &str)]) -> PathBuf {
    std::fs::write(dir.join("test_gate.py"), MODULE).unwrap();
    let report = dir.join(format!("{name}.xml"));
    let mut cmd = Command::new(paved_testkit::tool("pytest"));
    cmd.current_dir(dir)
        .args(["-q", "-p", "no:cacheprovider", "test_gate.py"])
        .arg(format!("--junitxml={}", report.display()))
        .args(["-o", "junit_suite_name=pytest"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(report.is_file(), "{}", String::from_utf8_lossy(&out.stdout));
    report
}

fn ingest(dir: &Path, report: &Path, run: u32, commit: &str) {
    let out = bin()
        .current_dir(dir)
        .arg("ingest")
        .arg(report)
        .arg("--store")
        .arg(dir.join("q.db"))
        .args(["--branch", "main", "--attempt", "1", "--commit", commit])
        .args(["--run-id", &run.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A history on `main`: 12 clean runs, then 4 in which `test_broken` fails (a break at `c13`);
/// and this PR's report, where `test_broken`, `test_new`, `test_quarantined` and `test_hostile`
/// fail.
fn setup(dir: &Path) -> PathBuf {
    let clean = pytest(dir, "clean", &[]);
    let broken = pytest(dir, "broken", &[("BROKEN", "1")]);
    for run in 1..=16 {
        let report = if run <= 12 { &clean } else { &broken };
        ingest(dir, report, run, &format!("c{run}"));
    }
    std::fs::write(dir.join("quarantine.toml"), LIST).unwrap();
    pytest(
        dir,
        "pr",
        &[("BROKEN", "1"), ("NEW", "1"), ("Q", "1"), ("HOSTILE", "1")],
    )
}

fn gate(dir: &Path, report: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .arg("gate")
        .arg(report)
        .args(["--list", "quarantine.toml", "--today", "2026-12-04"])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn with_a_store_each_failure_is_new_quarantined_or_broken_on_the_default_branch() {
    let dir = tempfile::tempdir().unwrap();
    let pr = setup(dir.path());
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let out = gate(
        dir.path(),
        &pr,
        &["--store", "q.db", "--json"],
        &[
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |list: &str, name: &str| {
        json[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {list}: {json:#}"))["history"]
            .clone()
    };
    assert_eq!(
        status("failed", "|test_broken"),
        json!({"status": "broken", "branch": "main", "since": "c13", "last_good": "c12", "failing_runs": 4})
    );
    assert_eq!(status("failed", "|test_new"), json!({"status": "new"}));
    assert_eq!(
        status("quarantined", "|test_quarantined"),
        json!({"status": "quarantined"})
    );
    assert!(
        stderr.contains("`pytest|test_gate|test_broken`: broken on `main` since c13"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`pytest|test_gate|test_new`: new (not failing on the default branch)"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("`pytest\\|test_gate\\|test_broken` — broken on `main` since c13"),
        "{md}"
    );

    // An empty store (a mistyped path makes one) compares nothing, and says so.
    let out = gate(dir.path(), &pr, &["--store", "empty.db", "--json"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no runs of the default branch"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["failed"][0].get("history").is_none(), "{json:#}");

    // A store that cannot be read is a warning; the decision (exit 1) is the gate's.
    std::fs::create_dir(dir.path().join("a-directory")).unwrap();
    let out = gate(dir.path(), &pr, &["--store", "a-directory", "--json"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not compare the failures with the history store"),
        "{stderr}"
    );

    // Without a store, nothing is looked up.
    let out = gate(dir.path(), &pr, &["--json"], &[]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["failed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("history").is_none())
    );
}

/// The author of the comments the Actions `GITHUB_TOKEN` writes.
fn actions_bot() -> Value {
    json!({"id": 41898282, "login": "github-actions[bot]", "type": "Bot"})
}

/// A fake GitHub issue-comments API holding comments in memory: two pages when there are more
/// than `per_page` (2 here, to make the gate walk pages). The token is the Actions
/// `GITHUB_TOKEN`: `GET /user` answers `403`, and comments it writes are by
/// `github-actions[bot]`.
fn github_comments(api: &FakeServer) -> Arc<Mutex<Vec<Value>>> {
    api.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration"}),
    ));
    let mallory = json!({"id": 666, "login": "mallory", "type": "User"});
    let comments = Arc::new(Mutex::new(vec![
        json!({"id": 1, "body": "LGTM", "user": mallory, "html_url": "https://github.com/o/r/pull/7#issuecomment-1"}),
        json!({"id": 2, "body": "quoting: <!-- paved-quarantine gate --> is not ours", "user": mallory, "html_url": "https://github.com/o/r/pull/7#issuecomment-2"}),
    ]));
    let url = api.url();
    let list = comments.clone();
    api.route("GET", "/repos/o/r/issues/7/comments")
        .respond_with(move |r| {
            let all = list.lock().unwrap().clone();
            let page: usize = r
                .query_param("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let items: Vec<Value> = all.iter().skip((page - 1) * 2).take(2).cloned().collect();
            let mut response = FakeResponse::json(200, Value::from(items));
            if page * 2 < all.len() {
                response = response.header(
                    "Link",
                    format!(
                        "<{url}/repos/o/r/issues/7/comments?per_page=100&page={}>; rel=\"next\"",
                        page + 1
                    ),
                );
            }
            response
        });
    let create = comments.clone();
    api.route("POST", "/repos/o/r/issues/7/comments")
        .respond_with(move |r| {
            let mut all = create.lock().unwrap();
            let id = 100 + all.len() as u64;
            let c = json!({"id": id, "body": r.json()["body"], "user": actions_bot(), "html_url": format!("https://github.com/o/r/pull/7#issuecomment-{id}")});
            all.push(c.clone());
            FakeResponse::json(201, c)
        });
    comments
}

fn github_env(dir: &Path, api: &FakeServer) -> Vec<(&'static str, String)> {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        json!({"action": "synchronize", "number": 7, "pull_request": {"number": 7}}).to_string(),
    )
    .unwrap();
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "").unwrap();
    vec![
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_REPOSITORY", "o/r".into()),
        ("GITHUB_API_URL", api.url()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_RUN_ID", "99".into()),
        ("GITHUB_TOKEN", "ghs_comment_secret".into()),
    ]
}

#[test]
fn one_pr_comment_is_created_then_edited_in_place_and_hostile_names_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let pr = setup(dir.path());
    let api = FakeServer::start();
    let comments = github_comments(&api);
    let edits = comments.clone();
    api.route("PATCH", "/repos/o/r/issues/comments/103")
        .respond_with(move |r| {
            let mut all = edits.lock().unwrap();
            let c = all.iter_mut().find(|c| c["id"] == 103).unwrap();
            c["body"] = r.json()["body"].clone();
            FakeResponse::json(200, c.clone())
        });
    // Someone else's comment, starting with the gate's marker, makes the list two pages long
    // before the gate's: it is not taken for the gate's.
    comments.lock().unwrap().push(
        json!({"id": 3, "body": "<!-- paved-quarantine gate -->\nall green",
        "user": {"id": 666, "login": "mallory", "type": "User"}, "html_url": "x"}),
    );
    let env = github_env(dir.path(), &api);

    let out = gate(dir.path(), &pr, &["--store", "q.db", "--comment"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the gate's decision: {stderr}");
    assert!(
        stderr.contains("posted the gate's comment on pull request #7"),
        "{stderr}"
    );
    assert_eq!(
        api.requests_to("POST", "/repos/o/r/issues/7/comments")
            .len(),
        1
    );
    let body = comments.lock().unwrap()[3]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.starts_with("<!-- paved-quarantine gate -->\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "| `pytest\\|test_gate\\|test_new` | new (not failing on the default branch) |"
        ),
        "{body}"
    );
    assert!(body.contains("broken on `main` since c13"), "{body}");
    assert!(body.contains("quarantined (flaky)"), "{body}");
    assert!(
        body.contains("(https://github.com/o/r/actions/runs/99)"),
        "{body}"
    );
    // The hostile name and message: one table row each, every `@`, `<` and `|` inside inline
    // code (or escaped), no raw backtick from the report, and the marker only at the start.
    let hostile: Vec<&str> = body
        .lines()
        .filter(|l| l.contains("test_hostile"))
        .collect();
    assert_eq!(hostile.len(), 1, "{body}");
    let line = hostile[0];
    assert!(line.contains("@octocat") && line.contains("<img"), "{line}");
    for needle in ["@octocat", "@here", "<img", "<script>", "<!--"] {
        let Some(at) = line.find(needle) else {
            continue;
        };
        assert_eq!(
            line[..at].matches('`').count() % 2,
            1,
            "{needle} is outside inline code: {line}"
        );
    }
    assert!(!line.contains("```"), "{line}");
    assert!(!line.contains("`x`"), "{line}");
    let cells = line.replace("\\|", "").matches('|').count();
    assert_eq!(
        cells, 4,
        "a pipe in the name or message ended a cell: {line}"
    );
    // The token is masked, and printed nowhere else.
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("ghs_comment_secret"))
            .all(|l| l == "::add-mask::ghs_comment_secret"),
        "{stderr}"
    );

    // A re-run walks every page, finds its comment and edits it: still one comment.
    api.clear_requests();
    let out = gate(dir.path(), &pr, &["--comment"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("updated the gate's comment on pull request #7"),
        "{stderr}"
    );
    assert!(
        api.requests_to("POST", "/repos/o/r/issues/7/comments")
            .is_empty()
    );
    assert_eq!(
        api.requests_to("GET", "/repos/o/r/issues/7/comments").len(),
        2
    );
    assert_eq!(comments.lock().unwrap().len(), 4);
    let edited = comments.lock().unwrap()[3]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(edited.contains("Run the gate with `--store`"), "{edited}");
    for r in api.requests() {
        assert_eq!(r.header("authorization"), Some("Bearer ghs_comment_secret"));
    }
}

#[test]
fn a_comment_that_cannot_be_posted_is_a_warning_and_the_exit_code_is_the_gates() {
    let dir = tempfile::tempdir().unwrap();
    let clean = pytest(dir.path(), "clean", &[]);
    std::fs::write(dir.path().join("quarantine.toml"), LIST).unwrap();
    let api = FakeServer::start();
    api.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration"}),
    ));
    api.route("GET", "/repos/o/r/issues/7/comments")
        .respond(FakeResponse::json(200, json!([])));
    api.route("POST", "/repos/o/r/issues/7/comments")
        .respond(FakeResponse::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        ));
    let env = github_env(dir.path(), &api);
    let out = gate(dir.path(), &clean, &["--comment"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("could not post the gate's comment on pull request #7"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Resource not accessible by integration"),
        "{stderr}"
    );
    assert!(stderr.contains("pull-requests: write"), "{stderr}");

    // Not a pull request run: said, nothing posted.
    let mut push = env.clone();
    push.retain(|(k, _)| *k != "GITHUB_EVENT_PATH");
    push.push(("GITHUB_REF", "refs/heads/main".into()));
    api.clear_requests();
    let out = gate(dir.path(), &clean, &["--comment"], &push);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("this run is not for a pull request"),
        "{stderr}"
    );
    assert!(api.requests().is_empty());
}

#[test]
fn one_merge_request_note_is_created_then_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let pr = setup(dir.path());
    let api = FakeServer::start();
    // The project access token's bot user.
    api.route("GET", "/user").respond(FakeResponse::json(
        200,
        json!({"id": 12, "username": "project_42_bot_1a2b", "bot": true}),
    ));
    let bot = json!({"id": 12, "username": "project_42_bot_1a2b"});
    let notes = Arc::new(Mutex::new(vec![
        json!({"id": 1, "body": "<!-- paved-quarantine gate --> added 1 commit", "system": true, "author": bot}),
        json!({"id": 2, "body": "looks good", "system": false, "author": {"id": 5, "username": "dev"}}),
        json!({"id": 3, "body": "<!-- paved-quarantine gate -->\nall green", "system": false, "author": {"id": 666, "username": "mallory"}}),
    ]));
    let list = notes.clone();
    api.route("GET", "/projects/42/merge_requests/3/notes")
        .query("sort", "asc")
        .respond_with(move |_| FakeResponse::json(200, Value::from(list.lock().unwrap().clone())));
    let create = notes.clone();
    api.route("POST", "/projects/42/merge_requests/3/notes")
        .respond_with(move |r| {
            let mut all = create.lock().unwrap();
            let n = json!({"id": 30, "body": r.json()["body"], "system": false,
                           "author": {"id": 12, "username": "project_42_bot_1a2b"}});
            all.push(n.clone());
            FakeResponse::json(201, n)
        });
    let edit = notes.clone();
    api.route("PUT", "/projects/42/merge_requests/3/notes/30")
        .respond_with(move |r| {
            let mut all = edit.lock().unwrap();
            let n = all.iter_mut().find(|n| n["id"] == 30).unwrap();
            n["body"] = r.json()["body"].clone();
            FakeResponse::json(200, n.clone())
        });
    let env = vec![
        ("GITLAB_CI", "true".to_owned()),
        ("CI_API_V4_URL", api.url()),
        ("CI_PROJECT_ID", "42".into()),
        ("CI_MERGE_REQUEST_IID", "3".into()),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/g/p/-/pipelines/5".into(),
        ),
        ("GITLAB_TOKEN", "glpat-note-secret".into()),
        (
            "PAVED_DOTENV",
            dir.path().join("paved.env").display().to_string(),
        ),
    ];
    for (expected, posts) in [("posted", 1), ("updated", 1)] {
        let out = gate(dir.path(), &pr, &["--store", "q.db", "--comment"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{expected} the gate's comment on merge request !3"
            )),
            "{stderr}"
        );
        assert_eq!(
            api.requests_to("POST", "/projects/42/merge_requests/3/notes")
                .len(),
            posts
        );
    }
    assert_eq!(
        api.requests_to("PUT", "/projects/42/merge_requests/3/notes/30")
            .len(),
        1
    );
    let all = notes.lock().unwrap();
    assert_eq!(
        all.len(),
        4,
        "neither the system note nor someone else's is taken for ours"
    );
    assert_eq!(all[2]["body"], "<!-- paved-quarantine gate -->\nall green");
    assert!(
        all[3]["body"]
            .as_str()
            .unwrap()
            .contains("broken on `main` since c13")
    );
    for r in api.requests() {
        assert_eq!(r.header("private-token"), Some("glpat-note-secret"));
    }
}
