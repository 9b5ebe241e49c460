//! One definition of "conventional": `lint` and the version analysis judge the same commits of a
//! real history the same way, and give the same reason for each rejection.

use std::collections::BTreeMap;

use crate::common::TestRepo;

/// A history with the messages real repositories hold: GitHub's and GitLab's merge commits,
/// `git revert`, squash merges with `(#123)`, `fixup!`, emoji, unknown and upper-case types,
/// scopes with spaces, trailing whitespace, CRLF, a body with no blank line.
fn real_history() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.commit_file("README", "chore: init");
    repo.tag("v1.0.0");
    let base = repo.head();

    // GitHub: "Create a merge commit".
    repo.git(&["checkout", "-q", "-b", "a/b"]);
    repo.commit_file("api.rs", "feat(api): add the export endpoint");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "--no-ff",
        "-q",
        "a/b",
        "-m",
        "Merge pull request #12 from a/b\n\nfeat(api): add the export endpoint",
    ]);
    // GitLab's default merge commit message.
    repo.git(&["checkout", "-q", "-b", "x"]);
    repo.commit_file("x.rs", "fix: handle an empty body");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "--no-ff",
        "-q",
        "x",
        "-m",
        "Merge branch 'x' into 'main'\n\nfix: handle an empty body\n\nSee merge request group/project!3",
    ]);
    // GitHub "Squash and merge".
    repo.commit_file("s.rs", "feat: squashed feature (#123)");
    // `git revert` of a commit in the range.
    repo.commit_file("r.rs", "feat: short-lived");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    for message in [
        "fixup! feat(api): add the export endpoint",
        "squash! fix: handle an empty body",
        "wip: half done",
        "✨ feat: sparkles",
        ":sparkles: feat: gitmoji",
        "FEAT: shouting",
        "Fix(Parser): mixed case",
        "feat(my scope): a scope with a space",
        "fix: trailing whitespace   ",
        "fix: no blank line\nthe body starts right here",
        "Update README",
        "feat(): empty scope",
        "feat : space before the colon",
        "feat:",
        "Merge branch 'y' of github.com:o/r",
        "docs: explain the rules",
    ] {
        repo.commit(message);
    }
    repo.commit_raw(b"fix: crlf line ends\r\n\r\nwritten on Windows\r\n", None);
    (repo, base)
}

/// sha -> rejection reason (`None`: accepted), from `paved-version --json`.
fn analysis(repo: &TestRepo) -> (usize, BTreeMap<String, Option<String>>) {
    let json = repo.paved(&["--json"]).json();
    let verdicts = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["sha"].as_str().unwrap().to_owned(),
                c["unparsed"].as_str().map(str::to_owned),
            )
        })
        .collect();
    (json["unparsed"].as_u64().unwrap() as usize, verdicts)
}

#[test]
fn lint_and_the_analysis_judge_every_commit_alike() {
    let (repo, base) = real_history();
    let (unparsed, analysed) = analysis(&repo);

    let run = repo.paved(&["lint", "--json", "--range", &format!("{base}..HEAD")]);
    assert_eq!(run.code, 1, "{run:?}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rejected: BTreeMap<String, String> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["sha"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(json["checked"].as_u64().unwrap() as usize, analysed.len());
    assert_eq!(rejected.len(), unparsed, "lint: {rejected:#?}");
    let linted: BTreeMap<String, Option<String>> = analysed
        .keys()
        .map(|sha| (sha.clone(), rejected.get(sha).cloned()))
        .collect();
    assert_eq!(
        linted, analysed,
        "lint (left) and the analysis (right) disagree"
    );

    // The merge commits are counted by neither; the commits they bring in are.
    let subjects: Vec<String> = repo
        .git(&[
            "log",
            "--format=%s",
            &format!("{base}..HEAD"),
            "--no-merges",
        ])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(analysed.len(), subjects.len());
}

#[test]
fn each_rejection_says_what_is_wrong() {
    let (repo, base) = real_history();
    let run = repo.paved(&["lint", "--json", "--range", &format!("{base}..HEAD")]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let reasons: BTreeMap<String, String> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["header"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |header: &str, words: &[&str]| {
        let reason = reasons
            .get(header)
            .unwrap_or_else(|| panic!("`{header}` was accepted: {reasons:#?}"));
        for w in words {
            assert!(reason.contains(w), "`{header}`: {reason}");
        }
    };
    expect(
        "fixup! feat(api): add the export endpoint",
        &["`fixup!`", "--autosquash"],
    );
    expect(
        "squash! fix: handle an empty body",
        &["`squash!`", "--autosquash"],
    );
    expect("wip: half done", &["type `wip`", "[version.types]"]);
    expect("✨ feat: sparkles", &["`✨`", "type first"]);
    expect(":sparkles: feat: gitmoji", &["`:sparkles:`", "type first"]);
    expect("Update README", &["type(scope): description"]);
    expect("feat(): empty scope", &["scope", "empty"]);
    expect("feat : space before the colon", &["space", "`:`"]);
    expect("feat:", &["description", "empty"]);
    expect("Merge branch 'y' of github.com:o/r", &["merge"]);
    for ok in [
        "feat: squashed feature (#123)",
        "Revert \"feat: short-lived\"",
        "FEAT: shouting",
        "Fix(Parser): mixed case",
        "feat(my scope): a scope with a space",
        "fix: trailing whitespace",
        "fix: no blank line",
        "fix: crlf line ends",
        "docs: explain the rules",
    ] {
        assert!(!reasons.contains_key(ok), "`{ok}` rejected: {reasons:#?}");
    }

    // A message given on its own (a PR title) gets the verdict its commit got.
    let mut args = vec!["lint", "--json"];
    let headers: Vec<String> = reasons.keys().cloned().collect();
    args.extend(headers.iter().map(String::as_str));
    let alone = repo.paved(&args);
    let json: serde_json::Value = serde_json::from_str(&alone.stdout).unwrap();
    let again: BTreeMap<String, String> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["header"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(again, reasons);
}
