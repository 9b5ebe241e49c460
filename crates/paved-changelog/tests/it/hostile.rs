//! Commit messages that try to talk to the GitHub Actions runner reach the log inert, and the
//! notes written to a file keep their bytes.

use paved_testkit::actions::{HOSTILE_LINES, assert_no_injected_command};

use crate::common::TestRepo;

#[test]
fn commit_messages_cannot_issue_workflow_commands() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    let body = HOSTILE_LINES.join("\n");
    repo.commit(&format!(
        "feat: with a body ##[add-mask]PWNED\n\n{body}\n\nBREAKING CHANGE: ::add-mask::PWNED\n"
    ));
    repo.commit("fix: ::error::PWNED in a summary");
    let output = tempfile::NamedTempFile::new().unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.path().to_str().unwrap()),
    ];
    for args in [
        &[][..],
        &["--json"],
        &["--all"],
        &["--output", "CHANGELOG.md"],
    ] {
        let run = repo.paved_env(args, &env);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert_no_injected_command(&run.stdout);
        assert_no_injected_command(&run.stderr);
    }
    let json = repo.paved_env(&["--json"], &env);
    serde_json::from_str::<serde_json::Value>(&json.stdout).expect("stdout stays JSON");
    let file = std::fs::read_to_string(repo.path().join("CHANGELOG.md")).unwrap();
    assert!(
        file.contains("::add-mask::PWNED"),
        "the file keeps the text as written:\n{file}"
    );
    assert!(!file.contains("stop-commands"), "{file}");
}

#[test]
fn a_symlinked_changelog_is_refused_and_the_environment_stays_out_of_it() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    let path = repo.path().join("CHANGELOG.md");
    std::os::unix::fs::symlink("/proc/self/environ", &path).unwrap();
    let run = repo.paved_env(
        &["--output", "CHANGELOG.md"],
        &[("GITHUB_TOKEN", "ghp_s3cretfromtheenvironment")],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    assert!(
        path.symlink_metadata().unwrap().file_type().is_symlink(),
        "the link is left alone"
    );
}
