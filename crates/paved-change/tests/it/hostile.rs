//! Text from commits, JUnit reports and a ServiceNow server that tries to talk to the GitHub
//! Actions runner reaches the log inert, and the bundle keeps it as written.

use paved_testkit::actions::{HOSTILE_LINES, assert_no_injected_command};
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

use crate::common::{Run, TestRepo};
use crate::support::{SYS_ID, TABLE};

fn checked(run: Run) -> Run {
    assert_no_injected_command(&run.stdout);
    assert_no_injected_command(&run.stderr);
    run
}

#[test]
fn commit_messages_test_names_and_server_answers_cannot_issue_workflow_commands() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: first");
    repo.tag("v1.0.0");
    let body = HOSTILE_LINES.join("\n");
    repo.commit_file("b.txt", &format!("feat: ::add-mask::PWNED\n\n{body}\n"));
    repo.commit_file("c.txt", "fix: ##[error]PWNED in a summary");
    let names: String = HOSTILE_LINES
        .iter()
        .map(|l| {
            let l = l.replace('&', "&amp;").replace('"', "&quot;").replace('\r', "&#13;");
            format!("<testcase classname=\"::warning::PWNED\" name=\"{l}\"><failure message=\"{l}\"/></testcase>")
        })
        .collect();
    repo.write(
        "junit.xml",
        &format!("<testsuite name=\"::error::PWNED\">{names}</testsuite>"),
    );
    let output = repo.path().join("gh-output");
    let output = output.to_str().unwrap();
    let env = [("GITHUB_ACTIONS", "true"), ("GITHUB_OUTPUT", output)];
    let open = checked(repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--junit",
            "junit.xml",
        ],
        &env,
    ));
    assert_eq!(open.code, 0, "{}", open.stderr);
    let bundle = checked(repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--junit",
            "junit.xml",
            "--json",
        ],
        &env,
    ))
    .json();
    let subjects = bundle["commits"]["list"].to_string();
    assert!(
        subjects.contains("::add-mask::PWNED"),
        "kept as written: {subjects}"
    );
    let id = bundle["id"].as_str().unwrap().to_owned();
    let record = format!(".paved/changes/{id}.json");
    for args in [
        &["verify", record.as_str()][..],
        &["close", &id, "--result", "success"],
        &["dora", "--env", "prod"],
        &["dora", "--env", "prod", "--json"],
    ] {
        let run = checked(repo.paved_env(args, &env));
        assert!(matches!(run.code, 0 | 1), "{args:?}: {}", run.stderr);
    }

    // A ServiceNow that answers with workflow commands in its error body.
    let server = FakeServer::start();
    let hostile = json!({"error": {"message": body, "detail": body}, "status": "failure"});
    server
        .route("GET", TABLE)
        .respond(FakeResponse::json(400, hostile.clone()));
    server
        .route("POST", TABLE)
        .respond(FakeResponse::json(400, hostile.clone()));
    server
        .route("GET", &format!("{TABLE}/{SYS_ID}"))
        .respond(FakeResponse::json(500, hostile));
    let url = server.url();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output),
        ("SERVICENOW_TOKEN", "tok-abcdef"),
        ("PAVED_SERVICENOW_URL", url.as_str()),
        ("PAVED_HTTP_MAX_ATTEMPTS", "1"),
    ];
    for args in [
        &[
            "--backend",
            "servicenow",
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.1",
        ][..],
        &["--backend", "servicenow", "wait", SYS_ID],
    ] {
        let run = checked(repo.paved_env(args, &env));
        assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("PWNED"),
            "the answer is shown: {}",
            run.stderr
        );
    }
}
