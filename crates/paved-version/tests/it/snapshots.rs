//! Snapshots of what people read: `--help`, the JSON result, the human summary and errors.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test` and `git diff`).

use crate::common::TestRepo;

fn fixture() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit("feat: initial release");
    repo.tag("v1.2.3");
    repo.commit("feat(api)!: remove the v1 endpoints\n\nBREAKING CHANGE: clients must use /v2.");
    repo.commit("fix(cli): handle an empty config (#42)");
    repo.commit("Update README");
    repo.commit("docs: explain tags");
    repo
}

#[test]
fn help() {
    let run = crate::common::run_in(std::env::temp_dir().as_path(), &["--help"], &[]);
    insta::assert_snapshot!("help", run.ok());
    let lint = crate::common::run_in(std::env::temp_dir().as_path(), &["lint", "--help"], &[]);
    insta::assert_snapshot!("lint_help", lint.ok());
    let calibrate = crate::common::run_in(
        std::env::temp_dir().as_path(),
        &["calibrate", "--help"],
        &[],
    );
    insta::assert_snapshot!("calibrate_help", calibrate.ok());
}

/// The human report of `calibrate`: the table, the best config, what was not scored, and each
/// disagreement with the commits that decided it.
#[test]
fn calibrate_report() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v1.0.0");
    repo.commit("fix: a bug");
    repo.tag("v1.0.1");
    repo.commit("feat: released as a patch");
    repo.commit("chore: tidy");
    repo.tag("v1.0.2");
    repo.commit("feat: export");
    repo.tag("v1.1.0");
    let run = repo.paved(&["calibrate"]);
    insta::assert_snapshot!("calibrate_report", run.ok());
}

#[test]
fn json_result() {
    let repo = fixture();
    let run = repo.paved(&["--json"]);
    insta::assert_snapshot!("json", run.stdout);
}

#[test]
fn human_summary() {
    let repo = fixture();
    let run = repo.paved(&["--verbose"]);
    insta::assert_snapshot!(
        "summary",
        format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr)
    );
}

#[test]
fn errors() {
    let repo = fixture();
    repo.write("paved.toml", "[version]\ninitial-version = \"1.0\"\n");
    let run = repo.paved(&[]);
    let stderr = run.stderr.replace(repo.path().to_str().unwrap(), "[REPO]");
    insta::assert_snapshot!("config_error", format!("exit {}\n{stderr}", run.code));
}

/// An I/O failure prints its cause once: in the message, not again as `caused by:`. A missing
/// `--config` file says which flag to check instead of "fix the file".
#[test]
fn config_file_errors_name_the_file_and_print_the_cause_once() {
    let repo = fixture();
    std::fs::create_dir(repo.path().join("conf.d")).unwrap();
    let run = repo.paved(&["--config", "conf.d"]);
    let stderr = run.stderr.replace(repo.path().to_str().unwrap(), "[REPO]");
    assert_eq!(stderr.matches("os error 21").count(), 1, "{stderr}");
    insta::assert_snapshot!("io_error", format!("exit {}\n{stderr}", run.code));
    let run = repo.paved(&["--config", "missing/paved.toml"]);
    let stderr = run.stderr.replace(repo.path().to_str().unwrap(), "[REPO]");
    insta::assert_snapshot!("missing_config", format!("exit {}\n{stderr}", run.code));
}
