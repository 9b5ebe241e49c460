//! Commit messages that try to talk to the GitHub Actions runner reach the log inert.

use paved_testkit::actions::{HOSTILE_LINES, assert_no_injected_command};

use crate::common::TestRepo;

#[test]
fn commit_messages_cannot_issue_workflow_commands() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    let body = HOSTILE_LINES.join("\n");
    repo.commit(&format!("feat: with a body ##[add-mask]PWNED\n\n{body}\n"));
    repo.commit("::error::PWNED as a summary");
    let output = tempfile::NamedTempFile::new().unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.path().to_str().unwrap()),
    ];
    for args in [&["--verbose"][..], &["--json"], &["lint", "v1.0.0..HEAD"]] {
        let run = repo.paved_env(args, &env);
        assert!(run.code <= 1, "{args:?}: {run:?}");
        assert_no_injected_command(&run.stdout);
        assert_no_injected_command(&run.stderr);
    }
    let json = repo.paved_env(&["--json", "--verbose"], &env);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout stays JSON");
    assert_eq!(value["version"], "1.1.0");
}
