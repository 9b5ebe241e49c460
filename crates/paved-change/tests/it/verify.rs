//! `verify` checks that each field holds a valid value, not only that it is there: a bundle made
//! by a real `open` and `close`, then edited field by field, is refused naming the field.

use std::path::{Path, PathBuf};

use crate::common::TestRepo;
use serde_json::{Value, json};

const DIGEST1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST2: &str = "sha512:22222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222";

/// A complete, valid bundle: a real history, `open` under GitHub Actions variables with two
/// digests, `close`, and the PR and test evidence a token and `--junit` would have added.
fn valid_bundle() -> (TestRepo, Value) {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: first");
    repo.tag("v1.0.0");
    let c1 = repo.commit_file("b.txt", "feat(api): export endpoint (#3)");
    let c2 = repo.commit_file("c.txt", "fix: empty config (#4)");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_ACTOR", "ada"),
    ];
    let b = repo
        .paved_env(
            &[
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--digest",
                &format!("ghcr.io/acme/rocket@{DIGEST1}"),
                "--digest",
                DIGEST2,
                "--json",
            ],
            &env,
        )
        .json();
    let id = b["id"].as_str().unwrap().to_owned();
    repo.paved_env(&["close", &id, "--result", "success"], &env)
        .ok();
    let path = repo
        .path()
        .join(".paved/changes")
        .join(format!("{id}.json"));
    let mut b: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (n, (sha, pr)) in [(&c2, 4), (&c1, 3)].into_iter().enumerate() {
        assert_eq!(b["commits"]["list"][n]["sha"], *sha);
        b["commits"]["list"][n]["pull_request"] = json!(pr);
    }
    b["changes"] = json!({
        "source": "github",
        "pull_requests": [
            { "number": 3, "url": "https://github.com/acme/rocket/pull/3", "title": "export endpoint",
              "author": "ada", "merged_by": "grace", "merged_at": "2026-01-05T09:12:00Z",
              "approvers": ["grace"], "commits": [c1] },
            { "number": 4, "url": "https://github.com/acme/rocket/pull/4", "title": "empty config",
              "author": "ada", "merged_by": "grace", "merged_at": "2026-01-05T09:13:00.250+01:00",
              "approvers": ["grace"], "commits": [c2] },
        ],
        "without_pull_request": [],
        "error": null,
        "unverified": [],
    });
    b["tests"] = json!({ "files": ["junit.xml"], "tests": 5, "passed": 3, "failed": 1, "skipped": 1, "flaky": 1 });
    b["previous"] = json!({
        "id": "chg-0000000000000001",
        "commit": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d",
        "digests": ["sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"],
        "deployed_at": "2025-12-18T14:02:11Z",
    });
    // The digest `open` would have recorded had it gathered this evidence itself.
    b["record"]["evidence_digest"] = json!(paved_change::signed::evidence_digest_of(&b));
    (repo, b)
}

fn write(repo: &TestRepo, name: &str, b: &Value) -> PathBuf {
    let path = repo.path().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(b).unwrap()).unwrap();
    path
}

fn set(b: &mut Value, pointer: &str, value: Value) {
    if value.is_null() && pointer.ends_with("!") {
        let (parent, key) = pointer.trim_end_matches('!').rsplit_once('/').unwrap();
        b.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key)
            .unwrap_or_else(|| panic!("{pointer}: no such key"));
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = b
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{pointer}: no parent"));
    match parent {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(fields) => {
            fields.insert(key.to_owned(), value);
        }
        other => panic!("{pointer}: parent is {other}"),
    }
}

/// Each edit: the JSON pointer edited (a trailing `!` with `null` removes the key), the new
/// value, and the field `verify` must name.
fn tampering() -> Vec<(&'static str, Value, &'static str)> {
    let other_sha = "0123456789abcdef0123456789abcdef01234567";
    vec![
        ("/commits/head", json!("not-a-sha"), "commits.head"),
        ("/commits/head", json!("A".repeat(40)), "commits.head"),
        ("/commits/head", json!("abc1234"), "commits.head"),
        ("/commits/base", json!("f".repeat(39)), "commits.base"),
        ("/commits/base_source", json!("root"), "commits.base"),
        (
            "/commits/base_source",
            json!("branch"),
            "commits.base_source",
        ),
        (
            "/commits/list/0/sha",
            json!("f".repeat(41)),
            "commits.list[0].sha",
        ),
        (
            "/commits/list/1/authored_at",
            json!("yesterday"),
            "commits.list[1].authored_at",
        ),
        (
            "/commits/list/0/committed_at",
            json!("2026-02-30T10:00:00Z"),
            "commits.list[0].committed_at",
        ),
        (
            "/commits/list/0/pull_request",
            json!(0),
            "commits.list[0].pull_request",
        ),
        (
            "/commits/list/0/pull_request",
            json!(9),
            "commits.list[0].pull_request",
        ),
        ("/commits/merges", json!(-2), "commits.merges"),
        ("/changes/source", json!("bitbucket"), "changes.source"),
        (
            "/changes/pull_requests/0/url",
            json!("not a url"),
            "changes.pull_requests[0].url",
        ),
        (
            "/changes/pull_requests/1/url",
            json!("javascript:alert(1)"),
            "changes.pull_requests[1].url",
        ),
        (
            "/changes/pull_requests/0/merged_at",
            json!("2026-01-05"),
            "changes.pull_requests[0].merged_at",
        ),
        (
            "/changes/pull_requests/0/commits/0",
            json!(other_sha),
            "changes.pull_requests[0].commits[0]",
        ),
        (
            "/changes/pull_requests/1/number",
            json!(3),
            "changes.pull_requests[1].number",
        ),
        (
            "/changes/pull_requests/0/approvers",
            json!("mallory"),
            "changes.pull_requests[0].approvers",
        ),
        (
            "/changes/without_pull_request",
            json!(["zzz"]),
            "changes.without_pull_request[0]",
        ),
        (
            "/changes/unverified",
            json!([{ "number": 4, "reference": "!5", "commits": [] }]),
            "changes.unverified[0].reference",
        ),
        (
            "/changes/unverified",
            json!([{ "number": 5, "reference": "#5", "commits": ["c".repeat(40)] }]),
            "changes.unverified[0].commits[0]",
        ),
        ("/tests/failed", json!(0), "tests.tests"),
        ("/tests/passed", json!(-1), "tests.passed"),
        ("/tests/flaky", json!(4), "tests.flaky"),
        ("/tests/tests", json!("five"), "tests.tests"),
        (
            "/artifacts/1/digest",
            json!("md5:abc"),
            "artifacts[1].digest",
        ),
        (
            "/artifacts/0/digest",
            json!(format!("sha256:{}", "a".repeat(63))),
            "artifacts[0].digest",
        ),
        (
            "/artifacts/0/digest",
            json!(format!("sha256:{}", "A".repeat(64))),
            "artifacts[0].digest",
        ),
        ("/previous/commit", json!("HEAD~1"), "previous.commit"),
        (
            "/previous/digests/0",
            json!("sha1:abc"),
            "previous.digests[0]",
        ),
        (
            "/previous/deployed_at",
            json!("last week"),
            "previous.deployed_at",
        ),
        ("/ci/provider", json!("jenkins"), "ci.provider"),
        ("/ci/run_url", json!("ftp://ci.example/run/1"), "ci.run_url"),
        (
            "/timestamps/opened_at",
            json!("2026-01-05 10:00"),
            "timestamps.opened_at",
        ),
        ("/timestamps/closed_at", json!(null), "timestamps.closed_at"),
        (
            "/timestamps/approved_at",
            json!(1_767_600_000),
            "timestamps.approved_at",
        ),
        ("/record/backend", json!("jira"), "record.backend"),
        ("/record/state", json!("done"), "record.state"),
        ("/record/result", json!("ok"), "record.result"),
        ("/record/result", json!(null), "record.result"),
        ("/record/id", json!("chg-ffffffffffffffff"), "record.id"),
        ("/record/url", json!("file:///etc/passwd"), "record.url"),
        ("/id", json!("chg-0123456789abcdef"), "id"),
        ("/id", json!("CHG0030001"), "id"),
        ("/correlation_id", json!("acme/rocket:43:prod"), "id"),
        ("/environment", json!(""), "environment"),
        (
            "/$schema",
            json!("https://example.com/other.json"),
            "$schema",
        ),
        ("/approved_by", json!("mallory"), "approved_by"),
        ("/tests!", Value::Null, "tests"),
    ]
}

fn verify(repo: &TestRepo, path: &Path) -> (i32, String, Value) {
    let text = repo.paved(&["verify", path.to_str().unwrap()]);
    let json = repo.paved(&["--json", "verify", path.to_str().unwrap()]);
    assert_eq!(text.code, json.code, "{}", json.stderr);
    assert_eq!(text.stderr, json.stderr);
    let v: Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("--json printed no JSON ({e}):\n{}", json.stdout));
    let invalid = v["invalid"].clone();
    let _ = text.stdout.trim();
    (
        text.code,
        format!("{}{}", text.stdout, text.stderr),
        invalid,
    )
}

#[test]
fn every_edited_field_is_refused_by_name() {
    let (repo, good) = valid_bundle();
    let path = write(&repo, "good.json", &good);
    let run = repo.paved(&["verify", path.to_str().unwrap()]);
    assert_eq!(
        run.code, 0,
        "the untouched bundle is valid:\n{}",
        run.stderr
    );
    assert_eq!(run.stdout.trim(), "complete");
    assert!(
        run.stderr.contains("9 of 9 items present\n") && !run.stderr.contains("INVALID"),
        "{}",
        run.stderr
    );

    let mut failures = Vec::new();
    for (n, (pointer, value, field)) in tampering().into_iter().enumerate() {
        let mut b = good.clone();
        set(&mut b, pointer, value.clone());
        let path = write(&repo, &format!("tampered-{n}.json"), &b);
        let (code, out, invalid) = verify(&repo, &path);
        let named: Vec<&str> = invalid
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        let ok = code == 1
            && out.starts_with("invalid\n")
            && out.contains(&format!("  INVALID  {field}: "))
            && named.contains(&field);
        if !ok {
            failures.push(format!(
                "{pointer} = {value}: expected exit 1 naming `{field}`, got exit {code}, named {named:?}\n{out}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_listed_not_only_the_first() {
    let (repo, mut b) = valid_bundle();
    set(&mut b, "/commits/head", json!("not-a-sha"));
    set(&mut b, "/artifacts/1/digest", json!("md5:abc"));
    set(&mut b, "/tests/passed", json!(-1));
    set(&mut b, "/record/state", json!("done"));
    set(&mut b, "/timestamps/opened_at", json!("noon"));
    let path = write(&repo, "many.json", &b);
    let run = repo.paved(&["--json", "verify", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let fields: Vec<&str> = v["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "tests.passed",
            "record.state",
            "commits.head",
            "artifacts[1].digest",
            "timestamps.opened_at"
        ],
        "{v:#}"
    );
    let mut stderr = run.stderr.replace(repo.path().to_str().unwrap(), "[REPO]");
    // The recorded digest covers the real `open`'s time.
    let recorded = b["record"]["evidence_digest"].as_str().unwrap();
    stderr = stderr.replace(recorded, "sha256:[RECORDED]");
    insta::assert_snapshot!("verify_invalid", stderr);
}

/// The published schema agrees: a real JSON Schema validator refuses what `verify` refuses,
/// for every edit a schema can express (the counts and cross-field checks it cannot).
#[test]
fn the_published_schema_refuses_the_same_edits() {
    let (repo, good) = valid_bundle();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/change-bundle.schema.json");
    let tool = paved_testkit::tool("check-jsonschema");
    let validate = |path: &Path| {
        std::process::Command::new(&tool)
            .arg("--schemafile")
            .arg(&schema)
            .arg(path)
            .output()
            .unwrap()
    };
    let out = validate(&write(&repo, "good.json", &good));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Checks across fields, or of a format the schema does not name.
    let beyond_schema = [
        "commits.base",
        "commits.list[0].pull_request",
        "commits.list[0].committed_at",
        "changes.pull_requests[0].url",
        "changes.pull_requests[1].url",
        "changes.pull_requests[0].commits[0]",
        "changes.pull_requests[1].number",
        "changes.unverified[0].reference",
        "changes.unverified[0].commits[0]",
        "tests.tests",
        "tests.flaky",
        "timestamps.closed_at",
        "record.result",
        "record.id",
        "record.url",
        "ci.run_url",
        "id",
    ];
    let mut files = Vec::new();
    for (n, (pointer, value, field)) in tampering().into_iter().enumerate() {
        let mut b = good.clone();
        set(&mut b, pointer, value.clone());
        if beyond_schema.contains(&field) && !(field == "id" && value == json!("CHG0030001")) {
            continue;
        }
        let path = write(&repo, &format!("schema-{n}.json"), &b);
        files.push((path, pointer, value, field));
    }
    // One run over every file: check-jsonschema names each error's file and path.
    let out = std::process::Command::new(&tool)
        .args(["--output-format", "json", "--schemafile"])
        .arg(&schema)
        .args(files.iter().map(|f| &f.0))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut failures = Vec::new();
    for (path, pointer, value, field) in &files {
        let name = path.to_str().unwrap();
        let paths: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["filename"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(name) || name.ends_with(f))
            })
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        // The schema names the field itself, or (a missing or unknown key) the object holding it.
        let parent = field
            .rsplit_once('.')
            .map_or("$".to_owned(), |(p, _)| format!("$.{p}"));
        let named = paths.iter().any(|p| {
            *p == format!("$.{field}") || *p == format!("$['{field}']") || *p == parent || *p == "$"
        });
        if !named {
            failures.push(format!(
                "{pointer} = {value}: the schema does not refuse `{field}` (errors at {paths:?})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
