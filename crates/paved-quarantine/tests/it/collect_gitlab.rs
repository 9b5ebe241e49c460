//! `collect --forge gitlab` through the real binary against a local server that follows the
//! documented GitLab REST API v4 (project, pipelines with `Link`/`x-next-page` pagination,
//! pipeline jobs with `include_retried`, the job artifacts download that answers `302` to object
//! storage on another origin), serving zip archives made by Python's `zipfile` from JUnit written
//! by a real pytest run.

use std::path::Path;
use std::process::Command;

use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::{Value, json};

use crate::collect::{bin, db, hours_ago, pytest_report, rows, zip};

const TOKEN: &str = "glpat-collect-secret-0123456789";

fn gitlab_bin() -> Command {
    let mut c = bin();
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CI_") || k.starts_with("GITLAB_") {
            c.env_remove(k);
        }
    }
    c
}

fn pipeline(id: u64, created: &str) -> Value {
    json!({
        "id": id,
        "iid": id - 10,
        "project_id": 42,
        "sha": format!("sha{id}"),
        "ref": "main",
        "status": "success",
        "source": "push",
        "created_at": created,
        "updated_at": created,
        "web_url": format!("https://gitlab.example.com/g/p/-/pipelines/{id}"),
    })
}

/// A job as `GET /projects/:id/pipelines/:pipeline_id/jobs` lists it; `junit`: it declares
/// `artifacts:reports:junit` (and so has a `junit` artifact next to its archive).
fn job(id: u64, name: &str, status: &str, junit: bool, size: usize) -> Value {
    let mut artifacts = vec![
        json!({"file_type": "archive", "size": size, "filename": "artifacts.zip", "file_format": "zip"}),
    ];
    if junit {
        artifacts.push(json!({"file_type": "junit", "size": 300, "filename": "junit.xml.gz", "file_format": "gzip"}));
    }
    artifacts.push(
        json!({"file_type": "trace", "size": 1000, "filename": "job.log", "file_format": null}),
    );
    json!({
        "id": id,
        "name": name,
        "stage": "test",
        "status": status,
        "ref": "main",
        "created_at": "2026-12-01T10:00:00.000Z",
        "started_at": "2026-12-01T10:00:05.000Z",
        "finished_at": "2026-12-01T10:01:05.000Z",
        "web_url": format!("https://gitlab.example.com/g/p/-/jobs/{id}"),
        "artifacts_file": {"filename": "artifacts.zip", "size": size},
        "artifacts": artifacts,
        "artifacts_expire_at": "2027-01-01T10:00:00.000Z",
    })
}

/// Serve `zip` for job `id`: the API answers `302` to object storage, which serves it.
fn serve(api: &FakeServer, storage: &FakeServer, id: u64, zip: Vec<u8>) {
    api.route("GET", &format!("/projects/42/jobs/{id}/artifacts"))
        .respond(FakeResponse::new(302).header(
            "Location",
            format!("{}/artifacts/{id}?X-Amz-Signature=signed", storage.url()),
        ));
    storage
        .route("GET", &format!("/artifacts/{id}"))
        .respond(FakeResponse::new(200).body(zip));
}

fn collect(dir: &Path, api: &FakeServer, extra: &[&str]) -> (Option<i32>, Value, String) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = gitlab_bin()
        .current_dir(dir)
        .env("GITLAB_TOKEN", TOKEN)
        .env("TMPDIR", &tmp)
        .args([
            "collect",
            "--forge",
            "gitlab",
            "--json",
            "--repository",
            "42",
        ])
        .arg("--api-url")
        .arg(api.url())
        .arg("--store")
        .arg(dir.join("q.db"))
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {stderr}"));
    assert!(!stderr.contains(TOKEN), "the token is printed: {stderr}");
    (out.status.code(), json, stderr)
}

#[test]
fn pipelines_of_the_default_branch_are_collected_once_with_each_retry_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let failing = pytest_report(&work, true);
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/projects/42").respond(FakeResponse::json(
        200,
        json!({"id": 42, "path_with_namespace": "g/p", "default_branch": "main"}),
    ));
    // Newest first, two pages (GitLab's offset pagination: `Link` and `x-next-page`).
    let recent = hours_ago(2);
    let older = hours_ago(30);
    let next = format!(
        "<{}/projects/42/pipelines?ref=main&scope=finished&order_by=id&sort=desc&per_page=100&page=2>; rel=\"next\"",
        api.url()
    );
    let (p11, p12) = (pipeline(11, &older), pipeline(12, &recent));
    api.route("GET", "/projects/42/pipelines")
        .query("ref", "main")
        .query("scope", "finished")
        .respond_with(move |r| match r.query_param("page").as_deref() {
            Some("2") => FakeResponse::json(200, json!([p11.clone()])).header("x-page", "2"),
            _ => FakeResponse::json(200, json!([p12.clone()]))
                .header("x-next-page", "2")
                .header("Link", next.clone()),
        });
    let a111 = zip(
        &work,
        &[
            ("reports/pytest.xml", &failing),
            ("coverage/index.html", b"<html>"),
        ],
    );
    let a121 = zip(&work, &[("reports/pytest.xml", &failing)]);
    let a123 = zip(&work, &[("reports/pytest.xml", &passing)]);
    api.route("GET", "/projects/42/pipelines/11/jobs")
        .query("include_retried", "true")
        .respond(FakeResponse::json(
            200,
            json!([
                job(112, "lint", "success", false, 10),
                job(111, "pytest", "failed", true, a111.len())
            ]),
        ));
    // Job 123 is the retry of job 121: attempt 2 of pipeline 12. `build` declares no JUnit.
    api.route("GET", "/projects/42/pipelines/12/jobs")
        .query("include_retried", "true")
        .respond(FakeResponse::json(
            200,
            json!([
                job(124, "deploy", "manual", true, 10),
                job(123, "pytest", "success", true, a123.len()),
                job(122, "build", "success", false, 10),
                job(121, "pytest", "failed", true, a121.len()),
            ]),
        ));
    serve(&api, &storage, 111, a111);
    serve(&api, &storage, 121, a121);
    serve(&api, &storage, 123, a123);

    let (code, json, stderr) = collect(dir.path(), &api, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["branches"], json!(["main"]));
    assert_eq!(json["repository"], "42");
    assert_eq!(json["summary"]["runs"], 2, "{stderr}");
    assert_eq!(json["summary"]["files"], 3, "{stderr}");
    assert_eq!(json["summary"]["tests"], 6);
    assert!(api.unmatched().is_empty(), "{:?}", api.unmatched());
    for id in [112, 122, 124] {
        assert!(
            api.requests_to("GET", &format!("/projects/42/jobs/{id}/artifacts"))
                .is_empty(),
            "job {id} declares no JUnit report, or never ran"
        );
    }
    // The token goes to every API request as `PRIVATE-TOKEN`, never to object storage.
    for r in api.requests() {
        assert_eq!(r.header("private-token"), Some(TOKEN), "{}", r.path);
    }
    assert_eq!(storage.requests().len(), 3);
    for r in storage.requests() {
        assert_eq!(
            r.header("private-token"),
            None,
            "the token reached object storage"
        );
        assert_eq!(r.header("authorization"), None);
    }
    let conn = db(dir.path());
    assert_eq!(
        rows(
            &conn,
            "SELECT u.run_id || ' ' || u.attempt || ' ' || u.commit_sha || ' ' || u.branch || ' ' || r.failed || ' ' || r.file FROM reports r JOIN runs u ON u.id = r.run ORDER BY u.run_id, u.attempt"
        ),
        [
            "11 1 sha11 main 1 pytest/reports/pytest.xml",
            "12 1 sha12 main 1 pytest/reports/pytest.xml",
            "12 2 sha12 main 0 pytest/reports/pytest.xml",
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT url FROM collected_runs WHERE run_id = '12' ORDER BY attempt"
        ),
        [
            "https://gitlab.example.com/g/p/-/pipelines/12",
            "https://gitlab.example.com/g/p/-/pipelines/12"
        ]
    );
    drop(conn);

    // Again: nothing new, nothing downloaded (pipeline 12 is re-checked: its jobs are known).
    storage.clear_requests();
    let (code, json, stderr) = collect(dir.path(), &api, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 0, "{stderr}");
    assert!(storage.requests().is_empty());

    // A retry of `pytest` in pipeline 12, which is behind the watermark: read as attempt 3,
    // and only it.
    let a125 = zip(&work, &[("reports/pytest.xml", &passing)]);
    api.route("GET", "/projects/42/pipelines/12/jobs")
        .query("include_retried", "true")
        .respond(FakeResponse::json(
            200,
            json!([
                job(125, "pytest", "success", true, a125.len()),
                job(124, "deploy", "manual", true, 10),
                job(123, "pytest", "success", true, 100),
                job(122, "build", "success", false, 10),
                job(121, "pytest", "failed", true, 100),
            ]),
        ));
    serve(&api, &storage, 125, a125);
    let (code, json, stderr) = collect(dir.path(), &api, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["new_attempts"], 1, "{stderr}");
    assert_eq!(json["summary"]["files"], 1, "{stderr}");
    assert!(
        stderr.contains("pipeline 12 is behind the watermark and has 1 jobs not read yet"),
        "{stderr}"
    );
    assert_eq!(
        storage
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>(),
        ["/artifacts/125"]
    );
    assert_eq!(
        rows(
            &db(dir.path()),
            "SELECT run_id || ' ' || attempt FROM runs ORDER BY run_id, attempt"
        ),
        ["11 1", "12 1", "12 2", "12 3"]
    );
}

#[test]
fn in_gitlab_ci_the_project_api_and_job_token_come_from_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/projects/42/pipelines")
        .query("ref", "release")
        .respond(FakeResponse::json(
            200,
            json!([pipeline(31, &hours_ago(100))]),
        ));
    let a = zip(&work, &[("junit.xml", &passing)]);
    api.route("GET", "/projects/42/pipelines/31/jobs")
        .respond(FakeResponse::json(
            200,
            json!([
                job(311, "unit", "success", false, a.len()),
                job(312, "e2e", "success", true, 10)
            ]),
        ));
    serve(&api, &storage, 311, a);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = gitlab_bin()
        .current_dir(dir.path())
        .env("GITLAB_CI", "true")
        .env("CI_API_V4_URL", api.url())
        .env("CI_PROJECT_ID", "42")
        .env("CI_JOB_TOKEN", TOKEN)
        .env("TMPDIR", &tmp)
        .env("PAVED_FORGE", "gitlab")
        .args([
            "collect",
            "--json",
            "--branch",
            "release",
            "--artifact",
            "unit",
        ])
        .arg("--store")
        .arg(dir.path().join("q.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(TOKEN));
    for r in api.requests() {
        assert_eq!(r.header("job-token"), Some(TOKEN), "{}", r.path);
        assert_eq!(r.header("private-token"), None);
    }
    // `--artifact` picks jobs by name: `unit` is read, `e2e` is not.
    assert!(
        api.requests_to("GET", "/projects/42/jobs/312/artifacts")
            .is_empty()
    );
    assert_eq!(
        rows(&db(dir.path()), "SELECT file FROM reports"),
        ["unit/junit.xml"]
    );
}

#[test]
fn an_expired_job_archive_is_named_and_the_pipeline_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeServer::start();
    api.route("GET", "/projects/42/pipelines")
        .respond(FakeResponse::json(
            200,
            json!([pipeline(41, &hours_ago(1))]),
        ));
    api.route("GET", "/projects/42/pipelines/41/jobs")
        .respond(FakeResponse::json(
            200,
            json!([job(411, "pytest", "failed", true, 100)]),
        ));
    api.route("GET", "/projects/42/jobs/411/artifacts")
        .respond(FakeResponse::json(404, json!({"message": "404 Not found"})));
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "the artifacts of job `pytest` (411) of pipeline 41: it has expired; skipped"
        ),
        "{stderr}"
    );
    let (code, json2, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json2["summary"]["runs"], 0, "{stderr}");
    assert_eq!(
        api.requests_to("GET", "/projects/42/jobs/411/artifacts")
            .len(),
        1
    );
    assert_eq!(json["summary"]["files"], 0);
}
