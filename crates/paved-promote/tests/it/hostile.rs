//! A registry that answers with workflow commands, and credentials that must be masked, on the
//! GitHub Actions runner.

use paved_testkit::actions::{HOSTILE_LINES, assert_no_injected_command, runner_commands};
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

use crate::common::{promote, stderr};

#[test]
fn registry_answers_cannot_issue_workflow_commands_and_credentials_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start();
    let body = HOSTILE_LINES.join("\n");
    server.route("GET", "/v2/").respond(FakeResponse::new(200));
    let errors = json!({"errors": [{"code": "DENIED", "message": body, "detail": body}]});
    server
        .route("GET", "/v2/app/manifests/v1")
        .respond(FakeResponse::json(403, errors.clone()));
    server
        .route("HEAD", "/v2/app/manifests/v1")
        .respond(FakeResponse::json(403, errors));
    let host = server.addr().to_string();
    let password = "registry-pa55word-7f3e";
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("PAVED_REGISTRY_USERNAME", "robot"),
        ("PAVED_REGISTRY_PASSWORD", password),
    ];
    for args in [
        &["copy", &format!("{host}/app:v1"), "oci:out:v1"][..],
        &["copy", &format!("{host}/app:v1"), "oci:out:v1", "--json"],
    ] {
        let out = promote(args, dir.path(), &env);
        let (so, se) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(!out.status.success(), "{se}");
        assert!(se.contains("PWNED"), "the registry's answer is shown: {se}");
        assert_no_injected_command(&so);
        assert_no_injected_command(&se);
        assert!(
            runner_commands(&se).contains(&format!("::add-mask::{password}")),
            "the registry password is masked before anything else is printed: {se}"
        );
    }
}
