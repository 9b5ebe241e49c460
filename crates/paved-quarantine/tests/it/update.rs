//! `paved-quarantine update`, run as a binary on a temp repository: adds newly flaky tests with
//! CODEOWNERS owners, releases stable ones, keeps comments, `--dry-run` diffs, and
//! `--open-issues` opens and closes issues on a fake GitHub.

use std::path::Path;
use std::process::{Command, Output};

use paved_quarantine::model::{TestId, TestStats, Verdict};
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

pub(crate) const LIST: &str = r#"# Quarantined tests. Reviewed like code.

# Racy since the session refactor.
[[test]]
id = "pytest|tests.test_session|test_refresh"
reason = "flaky: 5 of 40 runs failed"
owner = "@acme/auth"
issue = "https://github.com/acme/app/issues/41"
added = 2026-10-01
expires = 2026-10-31

# Keep: still flaky.
[[test]]
id = "pytest|tests.test_cart|test_total[EUR]"
reason = "flaky: 3 of 30 runs failed"
owner = "@acme/shop"
added = 2026-11-01
expires = 2026-12-01
"#;

const CODEOWNERS: &str = "* @acme/everyone\n/tests/ui/ @acme/web\n*.spec.ts @acme/web-e2e\n";

pub(crate) fn stats(suite: &str, classname: &str, name: &str, file: Option<&str>) -> TestStats {
    TestStats {
        id: TestId {
            suite: suite.into(),
            classname: classname.into(),
            name: name.into(),
            variant: String::new(),
        },
        file: file.map(str::to_owned),
        runs: 40,
        failures: 0,
        same_commit_flakes: 0,
        retry_passes: 0,
        flip_rate: 0.0,
        wilson_lower: 0.0,
        wilson_upper: 0.088,
        clean_streak: 40,
        verdict: Verdict::Stable,
        broken: None,
    }
}

pub(crate) fn flaky(mut s: TestStats) -> TestStats {
    s.failures = 6;
    s.same_commit_flakes = 2;
    s.retry_passes = 3;
    s.wilson_lower = 0.07;
    s.wilson_upper = 0.29;
    s.clean_streak = 2;
    s.verdict = Verdict::Flaky;
    s
}

pub(crate) fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/CODEOWNERS"), CODEOWNERS).unwrap();
    std::fs::write(dir.path().join("quarantine.toml"), LIST).unwrap();
    let all = vec![
        // Stable for 40 runs: released.
        stats(
            "pytest",
            "tests.test_session",
            "test_refresh",
            Some("tests/test_session.py"),
        ),
        // Still flaky: kept.
        flaky(stats("pytest", "tests.test_cart", "test_total[EUR]", None)),
        // Newly flaky, owned through CODEOWNERS (last match wins).
        flaky(stats(
            "playwright",
            "login.spec.ts",
            "Login › shows [error] for \"bad\" | pwd",
            Some("tests/ui/login.spec.ts"),
        )),
        flaky(stats(
            "pytest",
            "tests.ui.test_menu",
            "test_open",
            Some("tests/ui/test_menu.py"),
        )),
        // Stable and not quarantined: untouched.
        stats("pytest", "tests.test_ok", "test_ok", None),
    ];
    std::fs::write(
        dir.path().join("stats.json"),
        serde_json::to_string(&json!({ "tests": all })).unwrap(),
    )
    .unwrap();
    dir
}

pub(crate) fn update(dir: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    cmd.current_dir(dir)
        .args(["update", "--stats", "stats.json", "--today", "2026-11-22"])
        .args(extra)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("GITHUB_OUTPUT")
        .env("NO_COLOR", "1")
        // The window here is 40 runs: the default 1% threshold could never release anything.
        .env("PAVED_RELEASE_THRESHOLD", "0.1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let dir = repo();
    let out = update(dir.path(), &["--dry-run"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap(),
        LIST
    );
    insta::assert_snapshot!("dry_run_diff", String::from_utf8_lossy(&out.stdout));
    insta::assert_snapshot!("dry_run_stderr", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn update_writes_the_list_keeping_comments_and_is_idempotent() {
    let dir = repo();
    let out = update(dir.path(), &[], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap();
    insta::assert_snapshot!("updated_list", text);
    // The result reads back, and running again changes nothing.
    let list =
        paved_quarantine::list::QuarantineList::load(&dir.path().join("quarantine.toml")).unwrap();
    assert_eq!(list.len(), 3);
    let again = update(dir.path(), &["--json"], &[]);
    assert!(again.status.success());
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["added"], json!([]));
    assert_eq!(v["released"], json!([]));
    assert_eq!(v["diff"], "");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap(),
        text
    );
}

#[test]
fn thresholds_come_from_flags_and_config() {
    let dir = repo();
    // Stricter than the evidence: nothing is released; expiry from paved.toml.
    std::fs::write(
        dir.path().join("paved.toml"),
        "[quarantine]\nmin-clean-runs = 50\nexpiry-days = 7\ndefault-owner = \"@acme/triage\"\n",
    )
    .unwrap();
    let out = update(dir.path(), &["--json", "--dry-run"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["released"], json!([]));
    assert_eq!(v["added"][0]["expires"], "2026-11-29");
    // The flag overrides the file.
    let out = update(
        dir.path(),
        &["--json", "--dry-run", "--min-clean-runs", "40"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["released"].as_array().unwrap().len(), 1);
    // And a threshold below the evidence keeps it.
    let out = update(
        dir.path(),
        &[
            "--json",
            "--dry-run",
            "--min-clean-runs",
            "40",
            "--release-threshold",
            "0.05",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["released"], json!([]));
    // Unknown keys are rejected, naming the key.
    std::fs::write(dir.path().join("paved.toml"), "[quarantine]\nexpiry = 7\n").unwrap();
    let out = update(dir.path(), &["--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expiry"));
}

#[test]
fn bad_stats_and_bad_lists_are_usage_errors() {
    let dir = repo();
    std::fs::write(dir.path().join("stats.json"), "{\"runs\": 3}").unwrap();
    let out = update(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("analyze --json"));
    let dir = repo();
    std::fs::write(dir.path().join("quarantine.toml"), "[[test]]\nid = \"a|b|c\"\nreason = \"r\"\nowner = 1\nadded = 2026-01-01\nexpires = 2026-02-01\n").unwrap();
    let out = update(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("quarantine.toml") && err.contains("line 4: `owner` must be a string"),
        "{err}"
    );
}

#[test]
fn open_issues_opens_for_new_entries_and_closes_released_ones() {
    let dir = repo();
    let server = FakeServer::start();
    let repo_path = "/repos/acme/app";
    // The Actions `GITHUB_TOKEN`, which GitHub does not tell who it is.
    server.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration"}),
    ));
    server
        .route("GET", &format!("{repo_path}/issues"))
        .respond(FakeResponse::json(200, json!([])));
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(100));
    server
        .route("POST", &format!("{repo_path}/issues"))
        .respond_with(move |req| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let title = req.json()["title"].clone();
            FakeResponse::json(
                201,
                json!({"number": n, "title": title, "state": "open",
                   "html_url": format!("https://github.com/acme/app/issues/{n}")}),
            )
        });
    server.route("GET", &format!("{repo_path}/issues/41")).respond(FakeResponse::json(
        200,
        json!({"number": 41, "title": "t", "state": "open", "html_url": "https://github.com/acme/app/issues/41"}),
    ));
    server
        .route("POST", &format!("{repo_path}/issues/41/comments"))
        .respond(FakeResponse::json(201, json!({"id": 1})));
    server
        .route("PATCH", &format!("{repo_path}/issues/41"))
        .respond(FakeResponse::json(
            200,
            json!({"number": 41, "state": "closed", "html_url": "x"}),
        ));

    let env = [
        ("GITHUB_API_URL", server.url()),
        ("GITHUB_REPOSITORY", "acme/app".to_owned()),
        ("GITHUB_TOKEN", "ghs_test".to_owned()),
    ];
    let out = update(dir.path(), &["--open-issues", "--forge", "github"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts = server.requests_to("POST", &format!("{repo_path}/issues"));
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].json()["title"],
        "Flaky test: playwright|login.spec.ts|Login › shows [error] for \"bad\" \\| pwd"
    );
    assert_eq!(posts[0].json()["labels"], json!(["flaky-test"]));
    assert!(
        posts[0].json()["body"]
            .as_str()
            .unwrap()
            .contains("@acme/web-e2e")
    );
    let comment = &server.requests_to("POST", &format!("{repo_path}/issues/41/comments"))[0];
    assert!(
        comment.json()["body"]
            .as_str()
            .unwrap()
            .starts_with("Released from quarantine")
    );
    assert_eq!(
        server
            .requests_to("PATCH", &format!("{repo_path}/issues/41"))
            .len(),
        1
    );
    let text = std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap();
    assert!(
        text.contains("issue = \"https://github.com/acme/app/issues/100\""),
        "{text}"
    );
    assert!(
        text.contains("issue = \"https://github.com/acme/app/issues/101\""),
        "{text}"
    );
    assert!(!text.contains("issues/41"));

    // Without a token: a usage error naming the variable, and the list is not touched.
    let dir = repo();
    let out = update(
        dir.path(),
        &["--open-issues", "--forge", "github"],
        &[
            ("GITHUB_API_URL", server.url()),
            ("GITHUB_REPOSITORY", "acme/app".to_owned()),
            ("GITHUB_TOKEN", String::new()),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap(),
        LIST
    );
}

/// `--open-issues` knows its own issue by the marker its body starts with: a person retitled
/// the one an earlier run opened for `test_open`, so it is reused, not filed again; an issue
/// someone else wrote with the exact title paved would use (no marker) is left alone, and paved
/// opens its own next to it.
#[test]
fn open_issues_recognises_its_own_issue_by_the_marker_not_the_title() {
    let dir = repo();
    let server = FakeServer::start();
    let repo_path = "/repos/acme/app";
    let playwright =
        "Flaky test: playwright|login.spec.ts|Login › shows [error] for \"bad\" \\| pwd";
    let menu_marker = "<!-- paved-quarantine issue test=pytest|tests.ui.test_menu|test_open -->";
    // The Actions `GITHUB_TOKEN`: `GET /user` is refused; its issues are by github-actions[bot].
    server.route("GET", "/user").respond(FakeResponse::json(
        403,
        json!({"message": "Resource not accessible by integration"}),
    ));
    let bot = json!({"login": "github-actions[bot]", "id": 41898282, "type": "Bot"});
    let person = json!({"login": "octocat", "id": 583231, "type": "User"});
    server
        .route("GET", &format!("{repo_path}/issues"))
        .query("labels", "flaky-test")
        .respond(FakeResponse::json(
            200,
            json!([
                {"number": 7, "title": playwright, "state": "open", "body": "Seen locally too.",
                 "user": person, "html_url": "https://github.com/acme/app/issues/7"},
                // Someone else's, with the marker planted: not paved's either.
                {"number": 6, "title": "Menu test", "state": "open", "user": person,
                 "body": format!("{menu_marker}\nplanted, for paved to close on release"),
                 "html_url": "https://github.com/acme/app/issues/6"},
                {"number": 8, "title": "Menu test flakes on CI (@acme/web looking)", "state": "open",
                 "body": format!("{menu_marker}\r\n`paved-quarantine update` quarantined this test"),
                 "user": bot, "html_url": "https://github.com/acme/app/issues/8"},
            ]),
        ));
    server
        .route("POST", &format!("{repo_path}/issues"))
        .respond_with(|req| {
            FakeResponse::json(
                201,
                json!({"number": 9, "title": req.json()["title"], "state": "open",
                       "html_url": "https://github.com/acme/app/issues/9"}),
            )
        });
    for (method, path) in [
        ("GET", "/issues/41"),
        ("POST", "/issues/41/comments"),
        ("PATCH", "/issues/41"),
    ] {
        server
            .route(method, &format!("{repo_path}{path}"))
            .respond(FakeResponse::json(
                200,
                json!({"number": 41, "title": "t", "state": "open", "html_url": "https://github.com/acme/app/issues/41"}),
            ));
    }
    let env = [
        ("GITHUB_API_URL", server.url()),
        ("GITHUB_REPOSITORY", "acme/app".to_owned()),
        ("GITHUB_TOKEN", "ghs_test".to_owned()),
    ];
    let out = update(dir.path(), &["--open-issues", "--forge", "github"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One issue opened: the playwright test's own (someone else's #7 has its title only).
    let posts = server.requests_to("POST", &format!("{repo_path}/issues"));
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].json()["title"], playwright);
    let body = posts[0].json()["body"].as_str().unwrap().to_owned();
    assert!(
        body.starts_with("<!-- paved-quarantine issue test=playwright|login.spec.ts|Login%20›%20shows%20[error]%20for%20\"bad\"%20\\|%20pwd -->\n"),
        "{body}"
    );
    // Nobody's issue was edited, commented on or closed but the released entry's own #41.
    for n in [6, 7, 8] {
        for method in ["PATCH", "POST"] {
            assert!(
                server
                    .requests_to(method, &format!("{repo_path}/issues/{n}"))
                    .is_empty()
            );
        }
        assert!(
            server
                .requests_to("POST", &format!("{repo_path}/issues/{n}/comments"))
                .is_empty()
        );
    }
    let text = std::fs::read_to_string(dir.path().join("quarantine.toml")).unwrap();
    assert!(
        text.contains("issue = \"https://github.com/acme/app/issues/9\""),
        "{text}"
    );
    assert!(
        text.contains("issue = \"https://github.com/acme/app/issues/8\""),
        "{text}"
    );
    assert!(!text.contains("issues/7\""), "{text}");
    assert!(!text.contains("issues/6\""), "{text}");
}

#[test]
fn on_github_it_writes_outputs_and_a_job_summary() {
    let dir = repo();
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs.txt");
    let out = update(
        dir.path(),
        &["--dry-run"],
        &[
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
            ("GITHUB_OUTPUT", outputs.display().to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("github_summary", std::fs::read_to_string(&summary).unwrap());
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    for want in ["added<<", "released<<", "quarantined<<", "changed<<"] {
        assert!(outputs.contains(want), "{outputs}");
    }
}

/// A flaky Go subtest fails its parent in the same runs (gotestsum writes `TestTotal` failed next
/// to `TestTotal/with_discount`): the subtest is quarantined, not the parent it dragged down. A
/// parent that fails more often than its subtests together fails on its own, and is added.
#[test]
fn a_flaky_subtest_is_quarantined_without_the_parent_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let go = |name: &str, failures: u32| {
        let mut s = flaky(stats(
            "example.com/shop/cart",
            "example.com/shop/cart",
            name,
            None,
        ));
        s.failures = failures;
        s
    };
    let all = vec![
        go("TestTotal", 6),
        go("TestTotal/with_discount", 4),
        go("TestTotal/with_discount/eur", 4),
        go("TestTotal/rounding", 2),
        // Fails 9 times, its only failing subtest 3: its own failures too.
        go("TestCheckout", 9),
        go("TestCheckout/card", 3),
    ];
    std::fs::write(
        dir.path().join("stats.json"),
        serde_json::to_string(&json!({ "tests": all })).unwrap(),
    )
    .unwrap();
    let out = update(dir.path(), &["--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let added: Vec<&str> = v["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        added,
        [
            "example.com/shop/cart|example.com/shop/cart|TestTotal/with_discount/eur",
            "example.com/shop/cart|example.com/shop/cart|TestTotal/rounding",
            "example.com/shop/cart|example.com/shop/cart|TestCheckout",
            "example.com/shop/cart|example.com/shop/cart|TestCheckout/card",
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`example.com/shop/cart|example.com/shop/cart|TestTotal` is not quarantined: its failures are those of its subtests"),
        "{stderr}"
    );
}

#[test]
fn update_reports_quarantined_tests_that_were_not_observed() {
    let dir = repo();
    // Only the cart test ran in the window: the session test was not observed.
    let all = vec![flaky(stats(
        "pytest",
        "tests.test_cart",
        "test_total[EUR]",
        None,
    ))];
    std::fs::write(
        dir.path().join("stats.json"),
        serde_json::to_string(&json!({ "tests": all })).unwrap(),
    )
    .unwrap();
    let out = update(dir.path(), &["--json"], &[]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["not_observed"][0]["id"],
        "pytest|tests.test_session|test_refresh"
    );
    assert_eq!(v["released"], json!([]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not observed: `pytest|tests.test_session|test_refresh` (owner @acme/auth, expires 2026-10-31): quarantined, but no run of the window ran it"),
        "{stderr}"
    );
}

/// pytest's default xunit2, gotestsum, nextest and jest-junit write no `file` attribute: the
/// owner comes from the file the repository maps the id to (see `source`), not "unassigned".
#[test]
fn update_finds_owners_for_tests_without_a_file_attribute() {
    let dir = repo();
    std::fs::create_dir_all(dir.path().join("tests/ui")).unwrap();
    std::fs::write(
        dir.path().join("tests/ui/test_menu.py"),
        "def test_open(): pass\n",
    )
    .unwrap();
    let all = vec![flaky(stats(
        "pytest",
        "tests.ui.test_menu",
        "test_open",
        None,
    ))];
    std::fs::write(
        dir.path().join("stats.json"),
        serde_json::to_string(&json!({ "tests": all })).unwrap(),
    )
    .unwrap();
    let out = update(dir.path(), &["--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["added"][0]["id"], "pytest|tests.ui.test_menu|test_open");
    assert_eq!(v["added"][0]["owner"], "@acme/web");
}

/// A list written before subtests were understood holds the parent and its subtest: the parent
/// is released (its failures are the quarantined subtest's, which the gate ignores with it).
#[test]
fn a_parent_quarantined_next_to_its_failing_subtest_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |name: &str| {
        format!(
            "[[test]]\nid = \"example.com/shop/cart|example.com/shop/cart|{name}\"\nreason = \"flaky\"\nowner = \"@acme/shop\"\nadded = 2026-11-01\nexpires = 2026-12-30\n\n"
        )
    };
    std::fs::write(
        dir.path().join("quarantine.toml"),
        entry("TestTotal") + &entry("TestTotal/with_discount"),
    )
    .unwrap();
    let go = |name: &str| {
        flaky(stats(
            "example.com/shop/cart",
            "example.com/shop/cart",
            name,
            None,
        ))
    };
    let all = vec![go("TestTotal"), go("TestTotal/with_discount")];
    std::fs::write(
        dir.path().join("stats.json"),
        serde_json::to_string(&json!({ "tests": all })).unwrap(),
    )
    .unwrap();
    let out = update(dir.path(), &["--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["added"], json!([]));
    assert_eq!(v["released"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v["released"][0]["entry"]["id"],
        "example.com/shop/cart|example.com/shop/cart|TestTotal"
    );
    assert_eq!(
        v["released"][0]["why"],
        "its failures are those of its quarantined subtests, which stay quarantined (the gate ignores a parent failed only by them)"
    );
}
