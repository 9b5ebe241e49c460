//! paved-change end to end: the real binary, real git repositories built in temp dirs, and local
//! servers that follow the GitHub and ServiceNow APIs.

use std::path::Path;

use crate::common::{Run, TestRepo, run_in};
use crate::support::{SYS_ID, TABLE, stateful_snow};
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::{Value, json};

const DIGEST1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn github_env<'a>(run: &'a str, output: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_RUN_ID", run),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_ACTOR", "ada"),
        ("GITHUB_WORKFLOW", "release"),
        ("GITHUB_JOB", "deploy"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_OUTPUT", output),
    ]
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn record_file(repo: &TestRepo, id: &str) -> std::path::PathBuf {
    repo.path()
        .join(".paved/changes")
        .join(format!("{id}.json"))
}

fn history() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: first");
    repo.tag("v1.0.0");
    let c1 = repo.commit_file("b.txt", "feat(api): export endpoint (#3)");
    let c2 = repo.commit_file("c.txt", "fix: empty config (#4)");
    (repo, c1, c2)
}

/// The evidence of a real history, the file backend, a re-run, close, and the next deployment
/// whose range starts at the last one.
#[test]
fn open_rerun_close_and_next_range_from_the_last_deployment() {
    let (repo, c1, c2) = history();
    let out = repo.path().join("gh-output");
    let out_s = out.to_str().unwrap().to_owned();
    let env = github_env("42", &out_s);
    let args = ["open", "--env", "prod", "--version", "1.1.0", "--digest"];
    let run = repo.paved_env(
        &[
            &args[..],
            &[&format!("ghcr.io/acme/rocket@{DIGEST1}"), "--json"],
        ]
        .concat(),
        &env,
    );
    let b = run.json();
    assert_eq!(b["schema_version"], 1);
    assert_eq!(b["environment"], "prod");
    assert_eq!(b["repository"], "acme/rocket");
    assert_eq!(b["correlation_id"], "acme/rocket:42:prod");
    assert_eq!(b["commits"]["head"], c2);
    assert_eq!(b["commits"]["base_source"], "tag");
    assert_eq!(b["commits"]["base_ref"], "v1.0.0");
    let shas: Vec<&str> = b["commits"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .collect();
    assert_eq!(shas, [c2.as_str(), c1.as_str()]);
    assert_eq!(b["commits"]["list"][0]["author"], "Ada Lovelace");
    assert_eq!(
        b["commits"]["list"][0]["committed_at"],
        "2023-11-14T22:24:20Z"
    );
    assert_eq!(b["artifacts"][0]["name"], "ghcr.io/acme/rocket");
    assert_eq!(b["artifacts"][0]["digest"], DIGEST1);
    assert_eq!(
        b["ci"]["run_url"],
        "https://github.com/acme/rocket/actions/runs/42/attempts/1"
    );
    assert_eq!(b["ci"]["actor"], "ada");
    assert_eq!(b["changes"]["source"], "none");
    assert_eq!(b["record"]["backend"], "file");
    assert_eq!(b["record"]["state"], "approved");
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("chg-") && id.len() == 20, "{id}");
    // The record on disk is the bundle.
    assert_eq!(read_json(&record_file(&repo, &id)), b);
    let outputs = std::fs::read_to_string(&out).unwrap();
    assert!(outputs.contains("change-id<<"), "{outputs}");
    assert!(outputs.contains(&format!("\n{id}\n")), "{outputs}");
    assert!(
        outputs.contains("created<<") && outputs.contains("\ntrue\n"),
        "{outputs}"
    );

    // A re-run of the same attempt finds the same record and keeps its opening time.
    std::fs::remove_file(&out).unwrap();
    let again = repo
        .paved_env(&[&args[..], &[DIGEST1, "--json"]].concat(), &env)
        .json();
    assert_eq!(again["id"], b["id"]);
    assert_eq!(
        again["timestamps"]["opened_at"],
        b["timestamps"]["opened_at"]
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("\nfalse\n"));
    let files = std::fs::read_dir(repo.path().join(".paved/changes"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "no second record");

    // Close it.
    let closed = repo.paved_env(
        &["close", &id, "--result", "success", "--notes", "ok"],
        &env,
    );
    assert_eq!(closed.ok(), "success");
    let rec = read_json(&record_file(&repo, &id));
    assert_eq!(rec["record"]["result"], "success");
    assert_eq!(rec["record"]["state"], "closed");
    assert!(rec["timestamps"]["closed_at"].is_string());

    // The next deployment's range starts at the commit the last one deployed.
    let c3 = repo.commit_file("d.txt", "perf: faster (#5)");
    let env2 = github_env("43", &out_s);
    let next = repo
        .paved_env(
            &[
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.1",
                "--digest",
                DIGEST2,
                "--json",
            ],
            &env2,
        )
        .json();
    assert_ne!(next["id"], b["id"]);
    assert_eq!(next["commits"]["base_source"], "deployment");
    assert_eq!(next["commits"]["base"], c2);
    assert_eq!(next["commits"]["list"].as_array().unwrap().len(), 1);
    assert_eq!(next["commits"]["list"][0]["sha"], c3);
    assert_eq!(next["previous"]["digests"][0], DIGEST1);

    // Another environment has no deployment yet: the range comes from the tag.
    let staging = repo
        .paved_env(
            &["open", "--env", "staging", "--version", "1.1.1", "--json"],
            &env2,
        )
        .json();
    assert_eq!(staging["commits"]["base_source"], "tag");
    assert_eq!(staging["commits"]["list"].as_array().unwrap().len(), 3);
}

#[test]
fn a_deployed_tag_is_not_its_own_base_and_first_deploys_cover_all_history() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: first");
    let b = repo
        .paved(&["open", "--env", "prod", "--version", "0.1.0", "--json"])
        .json();
    assert_eq!(b["commits"]["base_source"], "root");
    assert_eq!(b["commits"]["list"].as_array().unwrap().len(), 1);
    assert_eq!(b["ci"]["provider"], "local");
    repo.tag("v0.1.0");
    repo.commit_file("b.txt", "feat: second");
    repo.tag("v0.2.0");
    let b = repo
        .paved(&["open", "--env", "qa", "--version", "0.2.0", "--json"])
        .json();
    assert_eq!(b["commits"]["base_ref"], "v0.1.0");
    assert_eq!(b["commits"]["list"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_input_is_exit_2_naming_it() {
    let (repo, _, _) = history();
    let run = repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1",
        "--digest",
        "sha256:abc",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`--digest sha256:abc` is not a digest"),
        "{}",
        run.stderr
    );
    let run = repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1",
        "--junit",
        "nothing/*.xml",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("matches no file"), "{}", run.stderr);
    let run = repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1",
        "--backend",
        "servicenow",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--servicenow-url"), "{}", run.stderr);
    let run = repo.paved(&["dora", "--since", "ninety days"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    repo.write("paved.toml", "[change]\nbackend = \"jira\"\n");
    let run = repo.paved(&["open", "--env", "prod", "--version", "1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("jira"), "{}", run.stderr);
}

/// Without a token, the PR/MR numbers written in commit subjects are still listed, marked
/// unverified: `(#3)` (GitHub's squash merges) and `!7` (GitLab's), never `#5` outside
/// parentheses (an issue, as often as not) or `feat!:`.
#[test]
fn pull_request_references_without_a_token_are_listed_unverified() {
    let (repo, c1, c2) = history();
    let c3 = repo.commit_file("d.txt", "fix: retry on 503 !7");
    let c4 = repo.commit_file("e.txt", "feat!: drop v1, fixes #5 (see !x)");
    let c5 = repo.commit_file("f.txt", "docs: typo (#3)");
    let b = repo
        .paved(&["open", "--env", "prod", "--version", "1.1.0", "--json"])
        .json();
    assert_eq!(b["changes"]["source"], "none");
    assert_eq!(b["changes"]["pull_requests"], json!([]));
    assert_eq!(
        b["changes"]["unverified"],
        json!([
            { "number": 3, "reference": "#3", "commits": [c5, c1] },
            { "number": 4, "reference": "#4", "commits": [c2] },
            { "number": 7, "reference": "!7", "commits": [c3] },
        ])
    );
    let list = b["commits"]["list"].as_array().unwrap();
    assert!(
        list.iter().all(|c| c["pull_request"].is_null()),
        "not confirmed"
    );
    assert!(list.iter().any(|c| c["sha"] == c4.as_str()));

    let path = record_file(&repo, b["id"].as_str().unwrap());
    let verify = repo.paved(&["verify", path.to_str().unwrap()]);
    assert_eq!(verify.code, 1);
    assert!(
        verify.stderr.contains(
            "MISSING  pull-requests  not looked up (no forge token when the bundle was made); \
             commit subjects name #3, #4, !7 (unverified)"
        ),
        "{}",
        verify.stderr
    );
    assert!(!verify.stderr.contains("INVALID"), "{}", verify.stderr);
}

/// PRs, mergers and approvers through the GitHub API when a token is set; the token appears
/// nowhere in the output or the bundle.
#[test]
fn pull_requests_and_approvers_from_the_forge_and_the_token_never_shows() {
    let (repo, c1, c2) = history();
    let token = "ghp_S3CRETtokenValue0123456789";
    let server = FakeServer::start();
    for (sha, n) in [(&c1, 3), (&c2, 4)] {
        server
            .route("GET", &format!("/repos/acme/rocket/commits/{sha}/pulls"))
            .respond(FakeResponse::json(
                200,
                json!([{ "number": n, "html_url": format!("https://github.com/acme/rocket/pull/{n}"), "title": format!("PR {n}"),
                         "user": {"login": "ada"}, "merged_at": "2023-11-14T22:00:00Z", "merged_by": {"login": "grace"},
                         "base": {"ref": "main", "repo": {"default_branch": "main"}} }]),
            ));
    }
    server
        .route("GET", "/repos/acme/rocket/pulls/3/reviews")
        .respond(FakeResponse::json(
            200,
            json!([{ "user": {"login": "grace"}, "state": "APPROVED" }]),
        ));
    server
        .route("GET", "/repos/acme/rocket/pulls/4/reviews")
        .respond(FakeResponse::json(
            200,
            json!([{ "user": {"login": "linus"}, "state": "CHANGES_REQUESTED" }]),
        ));
    let url = server.url();
    let env = [
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_API_URL", url.as_str()),
        ("GITHUB_TOKEN", token),
        ("PAVED_HTTP_MAX_ATTEMPTS", "1"),
    ];
    let run = repo.paved_env(
        &["open", "--env", "prod", "--version", "1.1.0", "--json"],
        &env,
    );
    let b = run.json();
    assert_eq!(b["changes"]["source"], "github");
    let prs = b["changes"]["pull_requests"].as_array().unwrap();
    assert_eq!(prs.len(), 2);
    assert_eq!(prs[0]["number"], 3);
    assert_eq!(prs[0]["merged_by"], "grace");
    assert_eq!(prs[0]["approvers"], json!(["grace"]));
    assert_eq!(prs[1]["approvers"], json!([]));
    assert_eq!(b["commits"]["list"][0]["pull_request"], 4);
    // Confirmed by the forge: the subjects' `(#3)`, `(#4)` are not listed again as unverified.
    assert_eq!(b["changes"]["unverified"], json!([]));
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {token}")))
    );

    let id = b["id"].as_str().unwrap();
    let verify = repo.paved(&["verify", record_file(&repo, id).to_str().unwrap()]);
    assert_eq!(verify.code, 1);
    assert!(
        verify
            .stderr
            .contains("MISSING  approvals      no approving review on #4"),
        "{}",
        verify.stderr
    );

    // A failing lookup is recorded, not hidden, and still names no token.
    let server2 = FakeServer::start();
    server2
        .route("GET", &format!("/repos/acme/rocket/commits/{c2}/pulls"))
        .respond(FakeResponse::json(
            401,
            json!({ "message": format!("Bad credentials {token}") }),
        ));
    let url2 = server2.url();
    let env2 = [
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_API_URL", url2.as_str()),
        ("GITHUB_TOKEN", token),
    ];
    let failed = repo.paved_env(
        &["open", "--env", "qa", "--version", "1.1.0", "--json"],
        &env2,
    );
    let fb = failed.json();
    assert!(
        fb["changes"]["error"].as_str().unwrap().contains("401"),
        "{fb}"
    );
    for r in [&run, &verify, &failed] {
        assert!(
            !r.stdout.contains(token) && !r.stderr.contains(token),
            "token leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    for entry in std::fs::read_dir(repo.path().join(".paved/changes")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(token), "token in a bundle");
    }
}

/// ServiceNow end to end through the binary: open, a re-run, wait (timeout, then approved),
/// close; the credentials never show.
#[test]
fn servicenow_open_wait_close_end_to_end() {
    let (repo, _, _) = history();
    let server = FakeServer::start();
    let store = stateful_snow(&server);
    let url = server.url();
    let password = "sn-Pa55word-very-secret";
    let out = repo.path().join("gh-output");
    let out_s = out.to_str().unwrap().to_owned();
    let mut env = github_env("7", &out_s);
    env.extend([
        ("SERVICENOW_USERNAME", "paved.bot"),
        ("SERVICENOW_PASSWORD", password),
        ("PAVED_SERVICENOW_URL", url.as_str()),
        ("PAVED_BACKEND", "servicenow"),
    ]);
    // Masking on GitHub prints the secret once in `::add-mask::`, which the runner consumes; it
    // is checked separately and taken out before grepping.
    let strip_mask = |r: &Run| -> String {
        format!("{}{}", r.stdout, r.stderr)
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let open = repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--digest",
            DIGEST1,
        ],
        &env,
    );
    assert_eq!(open.ok(), "CHG0030001");
    assert!(
        open.stderr.contains(&format!("::add-mask::{password}")),
        "{}",
        open.stderr
    );
    let outputs = std::fs::read_to_string(&out).unwrap();
    assert!(
        outputs.contains(&format!("\n{SYS_ID}\n")) && outputs.contains("\nCHG0030001\n"),
        "{outputs}"
    );
    let rerun = repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--digest",
            DIGEST1,
        ],
        &env,
    );
    assert_eq!(rerun.ok(), "CHG0030001");
    assert_eq!(server.requests_to("POST", TABLE).len(), 1);
    let basic = server.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert!(basic.starts_with("Basic "));

    // Still in Assess: a zero timeout gives up at once with exit 3.
    let timeout = repo.paved_env(&["wait", SYS_ID, "--timeout", "0s"], &env);
    assert_eq!(timeout.code, 3, "{}", timeout.stderr);
    assert!(
        timeout.stderr.contains("was not approved within 0s"),
        "{}",
        timeout.stderr
    );

    {
        let mut g = store.lock().unwrap();
        let v = g.as_mut().unwrap();
        v["approval"] = json!("approved");
        v["state"] = json!("-2");
    }
    let wait = repo.paved_env(
        &["wait", "CHG0030001", "--timeout", "10s", "--interval", "1s"],
        &env,
    );
    assert_eq!(wait.ok(), "approved");
    assert_eq!(
        store.lock().unwrap().as_ref().unwrap()["state"],
        "-1",
        "moved to Implement"
    );
    let close = repo.paved_env(
        &[
            "close",
            SYS_ID,
            "--result",
            "failure",
            "--notes",
            "rolled back",
        ],
        &env,
    );
    assert_eq!(close.ok(), "failure");
    let v = store.lock().unwrap().clone().unwrap();
    assert_eq!(
        (v["state"].as_str(), v["close_code"].as_str()),
        (Some("3"), Some("unsuccessful"))
    );
    let local = std::fs::read_dir(repo.path().join(".paved/changes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rec = read_json(&local);
    assert_eq!(rec["record"]["result"], "failure");
    assert!(rec["timestamps"]["approved_at"].is_string());

    for r in [&open, &rerun, &timeout, &wait, &close] {
        let text = strip_mask(r);
        assert!(!text.contains(password), "password leaked:\n{text}");
        assert!(
            !text.contains(basic.trim_start_matches("Basic ")),
            "encoded credentials leaked:\n{text}"
        );
    }
    assert!(!std::fs::read_to_string(&local).unwrap().contains(password));
}

#[test]
fn wait_exits_1_when_rejected_and_logs_no_flood() {
    let (repo, _, _) = history();
    let server = FakeServer::start();
    server.route("GET", &format!("{TABLE}/{SYS_ID}")).respond(FakeResponse::json(
        200,
        json!({ "result": { "sys_id": SYS_ID, "number": "CHG0030009", "state": "-4", "approval": "rejected" } }),
    ));
    server
        .route("GET", "/api/now/table/sysapproval_approver")
        .respond(FakeResponse::json(
            200,
            json!({ "result": [{
                "approver": { "value": "46d44a23a9fe19810012d100cca80666", "display_value": "Bernard Laboy" },
                "state": { "value": "rejected", "display_value": "Rejected" },
                "comments": { "value": "", "display_value": "2026-01-05 10:20:00 - Bernard Laboy (Comments)\nNo backout plan\n\n" },
                "sys_updated_on": { "value": "2026-01-05 10:20:00", "display_value": "2026-01-05 10:20:00" },
            }] }),
        ));
    let url = server.url();
    let env = [
        ("SERVICENOW_TOKEN", "tok-abcdef"),
        ("PAVED_SERVICENOW_URL", url.as_str()),
    ];
    let run = repo.paved_env(&["--backend", "servicenow", "wait", SYS_ID], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "rejected");
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("change "))
            .count(),
        1,
        "{}",
        run.stderr
    );
    // The change, its approval, who rejected it and why, and what to do.
    let refusal = format!(
        "error: change {SYS_ID} (servicenow) was rejected, state Assess (approval rejected): \
         rejected by Bernard Laboy at 2026-01-05T10:20:00Z: \"No backout plan\". Do not deploy \
         it: address the reasons given"
    );
    assert!(run.stderr.contains(&refusal), "{}", run.stderr);
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
}

#[test]
fn verify_says_what_is_missing() {
    let (repo, _, _) = history();
    let b = repo
        .paved(&["open", "--env", "prod", "--version", "1.1.0", "--json"])
        .json();
    let path = record_file(&repo, b["id"].as_str().unwrap());
    let run = repo.paved(&["verify", path.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout.trim(), "incomplete");
    let id = b["id"].as_str().unwrap();
    let stderr = run
        .stderr
        .replace(id, "[ID]")
        .replace(repo.path().to_str().unwrap(), "[REPO]")
        // The evidence digest covers the time `open` ran.
        .replace(
            b["record"]["evidence_digest"].as_str().unwrap(),
            "sha256:[DIGEST]",
        );
    let stderr = stderr
        .lines()
        .map(|l| {
            if l.contains("timestamps") {
                "  ok       timestamps     opened [TIME]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("verify_incomplete", stderr);

    let json = repo.paved(&["--json", "verify", path.to_str().unwrap()]);
    assert_eq!(json.code, 1);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (v["present"].as_u64(), v["total"].as_u64()),
        (Some(3), Some(9))
    );

    // Complete evidence exits 0.
    let mut full: Value = read_json(&path);
    full["changes"] = json!({ "source": "github", "pull_requests": [{ "number": 1, "url": "https://github.com/acme/rocket/pull/1", "title": "t", "author": "a", "merged_by": "b", "merged_at": null, "approvers": ["b"], "commits": [] }], "without_pull_request": [], "error": null });
    full["tests"] = json!({ "files": ["j.xml"], "tests": 3, "passed": 3, "failed": 0, "skipped": 0, "flaky": 0 });
    full["artifacts"] = json!([{ "name": null, "digest": DIGEST1 }]);
    full["ci"]["run_url"] = json!("https://ci/run/1");
    full["ci"]["actor"] = json!("ada");
    // As `open` would have recorded it had it gathered this evidence.
    full["record"]["evidence_digest"] = json!(paved_change::signed::evidence_digest_of(&full));
    let full_path = repo.path().join("full.json");
    std::fs::write(&full_path, full.to_string()).unwrap();
    let ok = repo.paved(&["verify", full_path.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("9 of 9 items present"));

    // Unreadable, not JSON, another version: exit 2.
    repo.write("junk.json", "{ not json");
    repo.write("v2.json", "{\"schema_version\": 2}");
    for (f, needle) in [
        ("missing.json", "No such file"),
        ("junk.json", "not JSON"),
        ("v2.json", "`schema_version` is 2"),
    ] {
        let run = repo.paved(&["verify", f]);
        assert_eq!(run.code, 2, "{f}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{f}: {}", run.stderr);
    }
}

#[test]
fn written_bundles_follow_the_published_json_schema() {
    let (repo, _, _) = history();
    let out = repo.path().join("bundle.json");
    repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1.1.0",
        "--digest",
        DIGEST1,
        "--bundle",
        out.to_str().unwrap(),
    ])
    .ok();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/change-bundle.schema.json");
    let tool = paved_testkit::tool("check-jsonschema");
    let status = std::process::Command::new(tool)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
}

fn dora_bundle(
    id: &str,
    env: &str,
    closed: Option<(&str, &str)>,
    opened: &str,
    commits: &[&str],
) -> Value {
    json!({
        "$schema": "https://paved.dev/schemas/change-bundle/v1.json",
        "schema_version": 1,
        "id": id,
        "correlation_id": format!("acme/rocket:{id}:{env}"),
        "environment": env,
        "version": "1.0.0",
        "repository": "acme/rocket",
        "commits": {
            "head": "a".repeat(40), "base": null, "base_source": "root", "base_ref": null, "merges": 0,
            "list": commits.iter().map(|t| json!({
                "sha": "b".repeat(40), "summary": "s", "author": "a", "author_email": "e",
                "authored_at": t, "committed_at": t, "pull_request": null
            })).collect::<Vec<_>>()
        },
        "changes": { "source": "none", "pull_requests": [], "without_pull_request": [], "error": null },
        "tests": null, "artifacts": [], "previous": null,
        "ci": { "provider": "local", "run_id": null, "attempt": null, "run_url": null, "actor": null, "workflow": null, "job": null, "ref_name": null },
        "timestamps": { "opened_at": opened, "approved_at": null, "closed_at": closed.map(|c| c.0) },
        "record": { "backend": "file", "id": id, "number": id, "url": null,
                    "state": if closed.is_some() { "closed" } else { "approved" },
                    "result": closed.map(|c| c.1), "notes": null }
    })
}

/// DORA figures on a fixture computed by hand (see the comments).
#[test]
fn dora_on_a_hand_computed_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    let bundles = [
        // Lead times 2h and 24h.
        dora_bundle(
            "d1",
            "prod",
            Some(("2026-01-05T12:00:00Z", "success")),
            "2026-01-05T11:00:00Z",
            &["2026-01-05T10:00:00Z", "2026-01-04T12:00:00Z"],
        ),
        // Failed: no lead time; broken from 01-10 12:00.
        dora_bundle(
            "d2",
            "prod",
            Some(("2026-01-10T12:00:00Z", "failure")),
            "2026-01-10T11:30:00Z",
            &["2026-01-10T11:00:00Z"],
        ),
        // Restores after 3h; lead time 4h.
        dora_bundle(
            "d3",
            "prod",
            Some(("2026-01-10T15:00:00Z", "success")),
            "2026-01-10T14:00:00Z",
            &["2026-01-10T11:00:00Z"],
        ),
        // Two failures in a row, restored 2 days after the first.
        dora_bundle(
            "d4",
            "prod",
            Some(("2026-01-20T12:00:00Z", "failure")),
            "2026-01-20T11:00:00Z",
            &[],
        ),
        dora_bundle(
            "d5",
            "prod",
            Some(("2026-01-21T12:00:00Z", "failure")),
            "2026-01-21T11:00:00Z",
            &[],
        ),
        // Lead time 30m.
        dora_bundle(
            "d6",
            "prod",
            Some(("2026-01-22T12:00:00Z", "success")),
            "2026-01-22T11:45:00Z",
            &["2026-01-22T11:30:00Z"],
        ),
        // Outside the window, another environment, and one still open.
        dora_bundle(
            "d7",
            "prod",
            Some(("2025-12-20T12:00:00Z", "success")),
            "2025-12-20T11:00:00Z",
            &["2025-12-01T00:00:00Z"],
        ),
        dora_bundle(
            "d8",
            "staging",
            Some(("2026-01-15T12:00:00Z", "failure")),
            "2026-01-15T11:00:00Z",
            &[],
        ),
        dora_bundle("d9", "prod", None, "2026-01-25T11:00:00Z", &[]),
    ];
    for b in &bundles {
        std::fs::write(
            records.join(format!("{}.json", b["id"].as_str().unwrap())),
            b.to_string(),
        )
        .unwrap();
    }
    let rec = records.to_str().unwrap();
    let args = [
        "--records",
        rec,
        "dora",
        "--env",
        "prod",
        "--since",
        "30d",
        "--until",
        "2026-01-31T00:00:00Z",
    ];
    let json = run_in(dir.path(), &[&["--json"][..], &args[..]].concat(), &[]).json();
    // 6 closed prod deployments in 30 days: 0.2 a day, 1.4 a week.
    assert_eq!(json["deployments"], 6);
    assert_eq!(json["failed"], 3);
    assert_eq!(json["open"], 1);
    assert_eq!(json["deployments_per_day"], 0.2);
    assert_eq!(json["deployments_per_week"], 1.4);
    // Lead times 30m, 2h, 4h, 24h: median (2h + 4h) / 2 = 3h = 10800 s; mean 27450 s.
    assert_eq!(json["lead_time"]["commits"], 4);
    assert_eq!(json["lead_time"]["median_seconds"], 10800);
    assert_eq!(json["lead_time"]["mean_seconds"], 27450);
    // p90: rank ⌈0.9·4⌉ = 4, the largest: 24h = 86400 s.
    assert_eq!(json["lead_time"]["p90_seconds"], 86400);
    // 3 of 6 failed.
    assert_eq!(json["change_failure_rate"], 0.5);
    // Restores 3h and 48h: median 25.5h = 91800 s.
    assert_eq!(json["time_to_restore"]["median_seconds"], 91800);
    assert_eq!(json["time_to_restore"]["restored"], 2);
    assert_eq!(json["time_to_restore"]["unrestored"], 0);

    let md = dir.path().join("dora.md");
    let table = run_in(
        dir.path(),
        &[&args[..], &["--markdown", md.to_str().unwrap()]].concat(),
        &[],
    );
    insta::assert_snapshot!("dora_table", table.ok());
    insta::assert_snapshot!("dora_markdown", std::fs::read_to_string(&md).unwrap());

    // All environments: staging's unrestored failure counts.
    let all = run_in(
        dir.path(),
        &[
            "--json",
            "--records",
            rec,
            "dora",
            "--since",
            "30d",
            "--until",
            "2026-01-31T00:00:00Z",
        ],
        &[],
    )
    .json();
    assert_eq!(all["deployments"], 7);
    assert_eq!(all["time_to_restore"]["unrestored"], 1);
}

#[test]
fn help_is_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["", "open", "wait", "close", "verify", "dora"] {
        let args: Vec<&str> = if sub.is_empty() {
            vec!["--help"]
        } else {
            vec![sub, "--help"]
        };
        let run = run_in(dir.path(), &args, &[]);
        let name = if sub.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{sub}")
        };
        insta::assert_snapshot!(name, run.ok());
    }
}

#[test]
fn open_summary_is_snapshotted() {
    let (repo, _, _) = history();
    let run = repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1.1.0",
        "--digest",
        DIGEST1,
    ]);
    let id = run.ok().to_owned();
    insta::assert_snapshot!("open_summary", run.stderr.replace(&id, "[ID]"));
}

/// GitLab: what `open` prints and outputs is an id `wait` and `close` accept, and both accept
/// the deployment's iid (what people see) as well as its API id.
#[test]
fn gitlab_wait_and_close_accept_the_printed_id_and_the_iid() {
    let (repo, _, c2) = history();
    let server = FakeServer::start();
    let deployments = "/projects/acme%2Frocket/deployments";
    server
        .route("GET", deployments)
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", deployments)
        .respond(FakeResponse::json(
            201,
            json!({ "id": 90, "iid": 3, "sha": c2, "ref": "main", "status": "running",
                "environment": { "name": "prod" } }),
        ));
    // The evidence digest's commit status on the deployed sha.
    server
        .route(
            "GET",
            &format!("/projects/acme%2Frocket/repository/commits/{c2}/statuses"),
        )
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("/projects/acme%2Frocket/statuses/{c2}"))
        .respond(FakeResponse::json(
            201,
            json!({ "id": 1, "status": "success" }),
        ));
    let one = format!("{deployments}/90");
    server.route("GET", &one).respond(FakeResponse::json(
        200,
        json!({ "id": 90, "iid": 3, "sha": c2, "status": "running", "approvals": [] }),
    ));
    server.route("PUT", &one).respond(FakeResponse::json(
        200,
        json!({ "id": 90, "iid": 3, "sha": c2, "status": "success" }),
    ));
    let url = server.url();
    let out = repo.path().join("gl.env");
    let env = [
        ("CI_API_V4_URL", url.as_str()),
        ("CI_PROJECT_PATH", "acme/rocket"),
        ("GITLAB_TOKEN", "glpat-0123456789abcdef"),
        ("PAVED_HTTP_MAX_ATTEMPTS", "1"),
    ];
    let open = repo.paved_env(
        &[
            "--backend",
            "gitlab",
            "--dotenv",
            out.to_str().unwrap(),
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
        ],
        &env,
    );
    let printed = open.ok().to_owned();
    let outputs = std::fs::read_to_string(&out).unwrap();
    assert!(outputs.contains("CHANGE_ID=90\n"), "{outputs}");
    assert!(outputs.contains("CHANGE_NUMBER=3\n"), "{outputs}");
    for id in [printed.as_str(), "90", "3"] {
        let wait = repo.paved_env(
            &[
                "--backend",
                "gitlab",
                "wait",
                id,
                "--timeout",
                "5s",
                "--interval",
                "1s",
            ],
            &env,
        );
        assert_eq!(wait.code, 0, "wait {id}: {}", wait.stderr);
        assert_eq!(wait.stdout.trim(), "approved");
    }
    let close = repo.paved_env(
        &["--backend", "gitlab", "close", "3", "--result", "success"],
        &env,
    );
    assert_eq!(close.code, 0, "{}", close.stderr);
    let puts = server.requests_to("PUT", &one);
    assert_eq!(puts.last().unwrap().json()["status"], "success");
    assert!(
        server
            .unmatched()
            .iter()
            .all(|r| !r.path.contains("/deployments/3")),
        "the iid was sent as an API id: {:?}",
        server.unmatched()
    );
}

/// A repository with no forge remote is named by its remote's last part or its directory, and
/// the counts agree in number (`1 commit`, `1 deployment`).
#[test]
fn messages_name_the_repository_and_counts_agree_in_number() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: first (#1)");
    let dir = repo
        .path()
        .canonicalize()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let run = repo.paved(&[
        "open",
        "--env",
        "prod",
        "--version",
        "1.0.0",
        "--digest",
        DIGEST1,
    ]);
    let id = run.ok().to_owned();
    let text = run.stderr.replace(&id, "[ID]").replace(&dir, "[DIR]");
    insta::assert_snapshot!("open_summary_singular", text);
    assert!(run.stderr.contains(&format!("for {dir} 1.0.0 -> prod")));

    // The remote's last part when it names no forge repository.
    repo.git(&["remote", "add", "origin", "/srv/git/rocket.git"]);
    let run = repo.paved(&["open", "--env", "qa", "--version", "1.0.0"]);
    assert!(
        run.stderr.contains("for rocket 1.0.0 -> qa"),
        "{}",
        run.stderr
    );
    let path = record_file(&repo, run.ok());
    let verify = repo.paved(&["verify", path.to_str().unwrap()]);
    assert!(
        verify
            .stderr
            .contains("  ok       commit-range   1 commit since the first commit\n"),
        "{}",
        verify.stderr
    );

    let records = repo.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    let one = dora_bundle(
        "d1",
        "prod",
        Some(("2026-01-05T12:00:00Z", "success")),
        "2026-01-05T11:00:00Z",
        &["2026-01-05T10:00:00Z"],
    );
    std::fs::write(records.join("d1.json"), one.to_string()).unwrap();
    let open = dora_bundle("d2", "prod", None, "2026-01-06T11:00:00Z", &[]);
    std::fs::write(records.join("d2.json"), open.to_string()).unwrap();
    let table = repo.paved(&[
        "--records",
        records.to_str().unwrap(),
        "dora",
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2026-01-31T00:00:00Z",
    ]);
    insta::assert_snapshot!("dora_table_singular", table.ok());
}

/// The JUnit summary comes from paved-junit's parser (retries folded: a test that failed
/// then passed is flaky, not failed).
#[test]
fn junit_summary_is_part_of_the_evidence() {
    let (repo, _, _) = history();
    repo.write(
        "reports/unit.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="4" failures="1" skipped="1">
    <testcase classname="app.Math" name="adds" time="0.01"/>
    <testcase classname="app.Math" name="divides" time="0.01"><failure message="boom">trace</failure></testcase>
    <testcase classname="app.Math" name="skips" time="0"><skipped/></testcase>
    <testcase classname="app.Io" name="reads" time="0.2"/>
  </testsuite>
</testsuites>
"#,
    );
    repo.write(
        "reports/it.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="it" tests="1">
  <testcase classname="it.Api" name="exports" time="1.0"/>
</testsuite>
"#,
    );
    let b = repo
        .paved(&[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--junit",
            "reports/*.xml",
            "--json",
        ])
        .json();
    assert_eq!(
        b["tests"],
        json!({ "files": ["reports/it.xml", "reports/unit.xml"], "tests": 5, "passed": 3, "failed": 1, "skipped": 1, "flaky": 0 })
    );
    // From paved.toml too.
    repo.write("paved.toml", "[change]\njunit = [\"reports/unit.xml\"]\n");
    let b = repo
        .paved(&["open", "--env", "qa", "--version", "1.1.0", "--json"])
        .json();
    assert_eq!(b["tests"]["tests"], 4);
    // A broken report is an input error naming the file.
    repo.write("reports/bad.xml", "<testsuite><testcase name=");
    let run = repo.paved(&[
        "open",
        "--env",
        "dev",
        "--version",
        "1.1.0",
        "--junit",
        "reports/bad.xml",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("bad.xml"), "{}", run.stderr);
}

/// PagerDuty: one change event per correlation id, even when the job step is re-run; outputs
/// reach a GitLab dotenv report; the routing key never shows.
#[test]
fn pagerduty_event_is_sent_once_per_correlation_id_with_dotenv_outputs() {
    let (repo, _, _) = history();
    let server = FakeServer::start();
    server
        .route("POST", "/v2/change/enqueue")
        .respond(FakeResponse::json(
            202,
            json!({ "status": "success", "message": "Change event processed" }),
        ));
    let key = "pdRoutingKey0123456789abcdefABCD";
    let url = server.url();
    let dotenv = repo.path().join("change.env");
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "acme/rocket"),
        ("CI_PIPELINE_ID", "555"),
        ("CI_JOB_ID", "9001"),
        ("CI_JOB_URL", "https://gitlab.com/acme/rocket/-/jobs/9001"),
        ("GITLAB_USER_LOGIN", "ada"),
        ("PAGERDUTY_ROUTING_KEY", key),
        ("PAVED_PAGERDUTY_URL", url.as_str()),
        ("PAVED_DOTENV", dotenv.to_str().unwrap()),
    ];
    let args = [
        "--backend",
        "pagerduty",
        "open",
        "--env",
        "prod",
        "--version",
        "1.1.0",
    ];
    let first = repo.paved_env(&args, &env);
    let id = first.ok().to_owned();
    let second = repo.paved_env(&args, &env);
    assert_eq!(second.ok(), id);
    assert_eq!(server.requests_to("POST", "/v2/change/enqueue").len(), 1);
    let body = server.requests()[0].json();
    assert_eq!(
        body["links"][0]["href"],
        "https://gitlab.com/acme/rocket/-/jobs/9001"
    );
    let report = std::fs::read_to_string(&dotenv).unwrap();
    assert!(report.contains(&format!("CHANGE_ID={id}\n")), "{report}");
    assert!(
        report.contains("CORRELATION_ID=acme/rocket:555:prod\n"),
        "{report}"
    );
    assert!(report.contains("CREATED=false\n"), "{report}");
    let close = repo.paved_env(
        &[
            "--backend",
            "pagerduty",
            "close",
            &id,
            "--result",
            "success",
        ],
        &env,
    );
    assert_eq!(close.ok(), "success");
    assert_eq!(server.requests().len(), 2);
    for r in [&first, &second, &close] {
        assert!(!r.stdout.contains(key) && !r.stderr.contains(key));
    }
}

/// GitHub deployments through the binary, configured from the Actions variables.
#[test]
fn github_deployment_backend_end_to_end() {
    let (repo, _, c2) = history();
    let server = FakeServer::start();
    let deployments = "/repos/acme/rocket/deployments";
    server
        .route("GET", deployments)
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", deployments).respond(FakeResponse::json(
        201,
        json!({ "id": 31, "sha": c2, "environment": "prod", "created_at": "2026-01-01T00:00:00Z" }),
    ));
    server
        .route("GET", &format!("{deployments}/31/statuses"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", &format!("{deployments}/31/statuses"))
        .respond(FakeResponse::json(201, json!({ "state": "queued" })));
    let url = server.url();
    let out = repo.path().join("gh-output");
    let out_s = out.to_str().unwrap().to_owned();
    let mut env = github_env("77", &out_s);
    env.extend([
        ("GITHUB_API_URL", url.as_str()),
        ("GITHUB_TOKEN", "ghs_deploytoken123"),
    ]);
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
    assert_eq!(open.ok(), "31");
    let post = server.requests_to("POST", deployments)[0].json();
    assert_eq!(post["production_environment"], true);
    assert_eq!(post["payload"]["correlation_id"], "acme/rocket:77:prod");
    server
        .route("GET", &format!("{deployments}/31/statuses"))
        .respond(FakeResponse::json(200, json!([{ "state": "in_progress" }])));
    let wait = repo.paved_env(
        &["--backend", "github", "wait", "31", "--interval", "1s"],
        &env,
    );
    assert_eq!(wait.ok(), "approved");
    let close = repo.paved_env(
        &["--backend", "github", "close", "31", "--result", "success"],
        &env,
    );
    assert_eq!(close.ok(), "success");
    let statuses = server.requests_to("POST", &format!("{deployments}/31/statuses"));
    assert_eq!(statuses.last().unwrap().json()["state"], "success");
    assert_eq!(
        statuses.last().unwrap().json()["log_url"],
        "https://github.com/acme/rocket/actions/runs/77/attempts/1"
    );
}

#[test]
fn error_messages_are_snapshotted() {
    let (repo, _, _) = history();
    let no_url = repo.paved(&["--backend", "servicenow", "wait", "CHG0030001"]);
    assert_eq!(no_url.code, 2);
    insta::assert_snapshot!("error_servicenow_url", no_url.stderr);
    let no_creds = repo.paved_env(
        &["--backend", "servicenow", "wait", "CHG0030001"],
        &[("PAVED_SERVICENOW_URL", "https://acme.service-now.com")],
    );
    assert_eq!(no_creds.code, 2);
    insta::assert_snapshot!("error_servicenow_credentials", no_creds.stderr);
    let server = FakeServer::start();
    server.route("GET", &format!("{TABLE}/{SYS_ID}")).respond(FakeResponse::json(
        200,
        json!({ "result": { "sys_id": SYS_ID, "number": "CHG0030009", "state": "-4", "approval": "requested" } }),
    ));
    let url = server.url();
    let timeout = repo.paved_env(
        &["--backend", "servicenow", "wait", SYS_ID, "--timeout", "0s"],
        &[
            ("SERVICENOW_TOKEN", "tok-abcdef"),
            ("PAVED_SERVICENOW_URL", url.as_str()),
        ],
    );
    assert_eq!(timeout.code, 3);
    insta::assert_snapshot!("error_wait_timeout", timeout.stderr);
    let unknown = repo.paved(&["wait", "chg-0000000000000000"]);
    assert_eq!(unknown.code, 2);
    insta::assert_snapshot!(
        "error_unknown_file_record",
        unknown
            .stderr
            .replace(repo.path().to_str().unwrap(), "[REPO]")
    );
}

#[test]
fn the_evidence_is_kept_when_the_backend_fails() {
    let (repo, _, _) = history();
    let server = FakeServer::start();
    server.route("GET", TABLE).respond(FakeResponse::json(
        503,
        json!({ "error": { "message": "maintenance" } }),
    ));
    let url = server.url();
    let env = [
        ("SERVICENOW_TOKEN", "tok-abcdef"),
        ("PAVED_SERVICENOW_URL", url.as_str()),
        ("PAVED_HTTP_MAX_ATTEMPTS", "1"),
    ];
    let run = repo.paved_env(
        &[
            "--backend",
            "servicenow",
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
        ],
        &env,
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    let file = std::fs::read_dir(repo.path().join(".paved/changes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let b = read_json(&file);
    assert_eq!(b["record"]["id"], "");
    assert_eq!(b["record"]["state"], "pending");
    assert_eq!(b["commits"]["list"].as_array().unwrap().len(), 2);
    // The re-run, with ServiceNow back, opens the record for the same bundle.
    let server2 = FakeServer::start();
    stateful_snow(&server2);
    let url2 = server2.url();
    let env2 = [
        ("SERVICENOW_TOKEN", "tok-abcdef"),
        ("PAVED_SERVICENOW_URL", url2.as_str()),
    ];
    let again = repo.paved_env(
        &[
            "--backend",
            "servicenow",
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
        ],
        &env2,
    );
    assert_eq!(again.ok(), "CHG0030001");
    assert_eq!(read_json(&file)["record"]["id"], SYS_ID);
}

/// "Re-run jobs" on GitHub and "Retry" on GitLab start a fresh runner with a new attempt number
/// (GitHub) or a new job id (GitLab) but the same workflow run / pipeline: the correlation id
/// stays the same, so ServiceNow is asked for the existing change and no second one is opened.
#[test]
fn a_rerun_attempt_on_a_fresh_runner_finds_the_first_attempts_change() {
    for forge in ["github", "gitlab"] {
        let (repo, _, _) = history();
        let server = FakeServer::start();
        stateful_snow(&server);
        let url = server.url();
        let attempt_env = |attempt: &'static str| -> Vec<(&'static str, String)> {
            let mut env: Vec<(&'static str, String)> = match forge {
                "github" => vec![
                    ("GITHUB_ACTIONS", "true".into()),
                    ("GITHUB_SERVER_URL", "https://github.com".into()),
                    ("GITHUB_REPOSITORY", "acme/rocket".into()),
                    ("GITHUB_RUN_ID", "4242".into()),
                    ("GITHUB_RUN_ATTEMPT", attempt.into()),
                ],
                _ => vec![
                    ("GITLAB_CI", "true".into()),
                    ("CI_PROJECT_PATH", "acme/rocket".into()),
                    ("CI_PIPELINE_ID", "4242".into()),
                    ("CI_JOB_ID", format!("99{attempt}")),
                ],
            };
            env.extend([
                ("SERVICENOW_USERNAME", "paved.bot".into()),
                ("SERVICENOW_PASSWORD", "pw".into()),
                ("PAVED_SERVICENOW_URL", url.clone()),
                ("PAVED_BACKEND", "servicenow".into()),
            ]);
            env
        };
        let open = |attempt: &'static str| {
            let env = attempt_env(attempt);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            repo.paved_env(
                &["open", "--env", "prod", "--version", "1.1.0", "--json"],
                &env,
            )
        };
        let first = open("1").json();
        // The fresh runner of the re-run has no local records.
        std::fs::remove_dir_all(repo.path().join(".paved/changes")).unwrap();
        let second = open("2").json();
        assert_eq!(first["correlation_id"], "acme/rocket:4242:prod", "{forge}");
        assert_eq!(second["correlation_id"], first["correlation_id"], "{forge}");
        assert_eq!(second["id"], first["id"], "{forge}");
        assert_eq!(
            server.requests_to("POST", TABLE).len(),
            1,
            "{forge}: a re-run opened a second change"
        );
    }
}

/// `dora` over a records directory that does not exist is an input error naming it, never
/// "0 deployments".
#[test]
fn dora_over_a_missing_records_directory_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    let run = run_in(
        dir.path(),
        &["--records", missing.to_str().unwrap(), "dora"],
        &[],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nonexistent"), "{}", run.stderr);
    assert!(!run.stdout.contains("deployments"), "{}", run.stdout);
}

/// A repository tagged `6.5.0` (no `v`): the range starts at its last release tag, as
/// paved-version and paved-changelog find it, not at the root.
#[test]
fn the_range_starts_at_a_release_tag_without_the_v_prefix() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: first");
    let base = repo.commit_file("b.txt", "fix: second");
    repo.tag("6.5.0");
    let head = repo.commit_file("c.txt", "feat: third");
    let run = repo.paved(&["open", "--env", "prod", "--version", "6.6.0", "--json"]);
    let b = run.json();
    assert_eq!(b["commits"]["base_source"], "tag", "{run:?}");
    assert_eq!(b["commits"]["base_ref"], "6.5.0");
    assert_eq!(b["commits"]["base"], base);
    assert_eq!(b["commits"]["head"], head);
}
