//! `collect` through the real binary against a local server that follows the documented GitHub
//! Actions API (repository, workflow runs with `Link` pagination, run artifacts, the artifact
//! download that answers `302` to a storage host on another origin), serving zip archives made
//! here by Python's `zipfile` from JUnit written by a real pytest run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_collect_secret_0123456789";

const PYTEST_MODULE: &str = r#"
import os

def test_stable():
    assert 1 + 1 == 2

def test_flaky():
    assert os.environ.get("FLAKE") != "fail", "the cache was cold"
"#;

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PAVED_") || k.starts_with("GITHUB_") {
            c.env_remove(k);
        }
    }
    c.env_remove("GITLAB_CI");
    c.env("PAVED_HTTP_MAX_ATTEMPTS", "2");
    c
}

/// The JUnit report of a real pytest run of [`PYTEST_MODULE`]; `fail` makes `test_flaky` fail.
pub(crate) fn pytest_report(dir: &Path, fail: bool) -> Vec<u8> {
    std::fs::write(dir.join("test_cache.py"), PYTEST_MODULE).unwrap();
    let report = dir.join(if fail { "fail.xml" } else { "pass.xml" });
    let out = Command::new(paved_testkit::tool("pytest"))
        .current_dir(dir)
        .args(["-q", "-p", "no:cacheprovider", "test_cache.py"])
        .arg(format!("--junitxml={}", report.display()))
        .env("FLAKE", if fail { "fail" } else { "pass" })
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(fail)),
        "pytest: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::read(report).unwrap()
}

/// A zip archive made by Python's `zipfile` (deflated), holding `members` as given: names are
/// written as they are, `..` included.
pub(crate) fn zip(dir: &Path, members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut spec = Vec::new();
    for (i, (name, data)) in members.iter().enumerate() {
        let path = dir.join(format!("zip-input-{i}"));
        std::fs::write(&path, data).unwrap();
        spec.push(json!([name, path]));
    }
    let out_path = dir.join("made.zip");
    let script = r#"
import json, sys, zipfile
members = json.loads(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w", compression=zipfile.ZIP_DEFLATED) as z:
    for name, path in members:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(Value::from(spec).to_string())
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(out_path).unwrap()
}

/// A zip archive made by Info-ZIP `zip` writing to a pipe, as streaming uploaders do: sizes
/// and CRC follow each member in a data descriptor, and the local headers carry zip64 fields.
fn streamed_zip(dir: &Path, name: &str, data: &[u8]) -> Vec<u8> {
    let root = dir.join("streamed");
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, data).unwrap();
    let out = Command::new("sh")
        .current_dir(&root)
        .arg("-c")
        .arg(format!("zip -q -r - {name} | cat > ../streamed.zip"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = std::fs::read(dir.join("streamed.zip")).unwrap();
    // General-purpose flag bit 3: the data descriptor this case is about.
    assert_eq!(zip[6] & 8, 8, "zip did not stream");
    zip
}

/// Change the central directory entry of `name` in `archive` with `edit` (which gets the 46
/// fixed bytes of the entry).
fn patch_central(archive: &mut [u8], name: &str, edit: impl Fn(&mut [u8])) {
    let sig = [0x50, 0x4b, 0x01, 0x02];
    let at = (0..archive.len() - 46)
        .find(|&i| {
            archive[i..i + 4] == sig && {
                let n = usize::from(u16::from_le_bytes([archive[i + 28], archive[i + 29]]));
                archive.get(i + 46..i + 46 + n) == Some(name.as_bytes())
            }
        })
        .expect("member in the central directory");
    edit(&mut archive[at..at + 46]);
}

fn run(id: u64, attempt: u32, sha: &str) -> Value {
    json!({
        "id": id,
        "name": "CI",
        "run_attempt": attempt,
        "head_sha": sha,
        "head_branch": "main",
        "status": "completed",
        "conclusion": "success",
        "event": "push",
        "head_repository": {"full_name": "o/r"},
        "html_url": format!("https://github.com/o/r/actions/runs/{id}"),
        "created_at": format!("2026-11-2{}T10:00:00Z", id % 10),
        "run_started_at": format!("2026-11-2{}T10:00:05Z", id % 10),
    })
}

fn artifact(id: u64, name: &str, size: usize) -> Value {
    json!({
        "id": id,
        "name": name,
        "size_in_bytes": size,
        "expired": false,
        "archive_download_url": format!("https://api.github.com/repos/o/r/actions/artifacts/{id}/zip"),
    })
}

/// Serve `zip` for artifact `id`: the API answers `302` to the storage host, which serves it.
fn serve_zip(api: &FakeServer, storage: &FakeServer, id: u64, zip: Vec<u8>) {
    api.route("GET", &format!("/repos/o/r/actions/artifacts/{id}/zip"))
        .respond(FakeResponse::new(302).header(
            "Location",
            format!("{}/blobs/{id}?sig=signed-url-token", storage.url()),
        ));
    storage
        .route("GET", &format!("/blobs/{id}"))
        .respond(FakeResponse::new(200).body(zip));
}

fn collect(dir: &Path, api: &FakeServer, extra: &[&str]) -> (Option<i32>, Value, String) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out: Output = bin()
        .current_dir(dir)
        .env("GITHUB_TOKEN", TOKEN)
        .env("TMPDIR", &tmp)
        .args(["collect", "--json", "--repository", "o/r", "--api-url"])
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

pub(crate) fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("q.db")).unwrap()
}

pub(crate) fn rows(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn runs_of_the_default_branch_are_collected_once_and_the_token_stays_on_the_api_host() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let failing = pytest_report(&work, true);
    let passing = pytest_report(&work, false);

    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r")
        .respond(FakeResponse::json(200, json!({"default_branch": "main"})));
    // Newest first, 2 pages: run 102 (its second attempt), then run 101.
    let next = "<{api}/repos/o/r/actions/runs?branch=main&status=completed&per_page=100&page=2>; rel=\"next\"".to_owned();
    let api_url = api.url();
    api.route("GET", "/repos/o/r/actions/runs")
        .query("branch", "main")
        .query("status", "completed")
        .respond_with(move |r| match r.query_param("page").as_deref() {
            Some("2") => FakeResponse::json(
                200,
                json!({"total_count": 2, "workflow_runs": [run(101, 1, "aaa111")]}),
            ),
            _ => FakeResponse::json(
                200,
                json!({"total_count": 2, "workflow_runs": [run(102, 2, "bbb222")]}),
            )
            .header("Link", next.replace("{api}", &api_url)),
        });
    let a101 = zip(
        &work,
        &[
            ("reports/pytest.xml", &failing),
            ("reports/", b""),
            ("README.txt", b"not a report"),
        ],
    );
    let a102 = streamed_zip(&work, "reports/pytest.xml", &passing);
    api.route("GET", "/repos/o/r/actions/runs/101/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 2, "artifacts": [artifact(1, "junit-linux", a101.len()), artifact(2, "coverage", 10)]}),
        ));
    api.route("GET", "/repos/o/r/actions/runs/102/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "artifacts": [artifact(3, "junit-linux", a102.len())]}),
        ));
    serve_zip(&api, &storage, 1, a101);
    serve_zip(&api, &storage, 3, a102);

    let (code, json, stderr) = collect(dir.path(), &api, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["branches"], json!(["main"]));
    assert_eq!(json["summary"]["runs"], 2, "{stderr}");
    assert_eq!(json["summary"]["artifacts"], 2);
    assert_eq!(json["summary"]["files"], 2);
    assert_eq!(json["summary"]["tests"], 4);
    assert!(
        stderr.contains("1 files that are not `.xml` were left alone"),
        "{stderr}"
    );
    assert!(api.unmatched().is_empty(), "{:?}", api.unmatched());
    // The unmatched `coverage` artifact is never downloaded.
    assert!(
        api.requests_to("GET", "/repos/o/r/actions/artifacts/2/zip")
            .is_empty()
    );

    // The token goes to every API request and never to the storage host.
    for r in api.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("Bearer {TOKEN}")),
            "{}",
            r.path
        );
    }
    let blobs = storage.requests();
    assert_eq!(blobs.len(), 2);
    for r in &blobs {
        assert_eq!(
            r.header("authorization"),
            None,
            "the token reached the storage host"
        );
        assert_eq!(r.query_param("sig").as_deref(), Some("signed-url-token"));
    }

    // Commit, branch, run, attempt and URL are the API's.
    let conn = db(dir.path());
    assert_eq!(
        rows(
            &conn,
            "SELECT run_id || ' ' || attempt || ' ' || commit_sha || ' ' || branch FROM runs ORDER BY run_id"
        ),
        ["101 1 aaa111 main", "102 2 bbb222 main"]
    );
    assert_eq!(
        rows(&conn, "SELECT DISTINCT file FROM reports"),
        ["junit-linux/reports/pytest.xml"]
    );
    assert_eq!(
        rows(&conn, "SELECT url FROM collected_runs ORDER BY run_id"),
        [
            "https://github.com/o/r/actions/runs/101",
            "https://github.com/o/r/actions/runs/102"
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT CAST(failed AS TEXT) FROM reports r JOIN runs u ON u.id = r.run ORDER BY u.run_id"
        ),
        ["1", "0"]
    );
    drop(conn);
    assert!(
        files_under(&dir.path().join("tmp")).is_empty(),
        "temporary files are left behind"
    );

    // A second collect lists the runs again, reads nothing older than the watermark, and says so.
    api.clear_requests();
    storage.clear_requests();
    let (code, json, stderr) = collect(dir.path(), &api, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 0);
    assert_eq!(json["summary"]["files"], 0);
    assert!(
        stderr.contains("no new completed runs on `main`"),
        "{stderr}"
    );
    assert_eq!(
        api.requests_to("GET", "/repos/o/r/actions/runs").len(),
        1,
        "the walk stops at the page holding the watermark"
    );
    assert!(storage.requests().is_empty());
    assert_eq!(
        rows(
            &db(dir.path()),
            "SELECT CAST(COUNT(*) AS TEXT) FROM reports"
        ),
        ["2"]
    );
}

#[test]
fn hostile_and_broken_artifacts_are_named_and_skipped_and_the_good_files_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let good = pytest_report(&work, false);

    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [run(201, 1, "ccc333")]}),
        ));
    let slip = zip(
        &work,
        &[
            ("../../evil.xml", &good),
            ("/etc/abs.xml", &good),
            ("ok.xml", &good),
        ],
    );
    let mut bomb = zip(&work, &[("bomb.xml", &good)]);
    // Declares 4 GiB uncompressed.
    patch_central(&mut bomb, "bomb.xml", |e| {
        e[24..28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    });
    let mut liar = zip(&work, &[("liar.xml", &good)]);
    // Declares 100 bytes: the data inflates past that.
    patch_central(&mut liar, "liar.xml", |e| {
        e[24..28].copy_from_slice(&100u32.to_le_bytes());
    });
    let mut locked = zip(&work, &[("locked.xml", &good)]);
    patch_central(&mut locked, "locked.xml", |e| e[8] |= 1);
    let whole = zip(&work, &[("cut.xml", &good)]);
    let truncated = whole[..whole.len() / 2].to_vec();
    let bad_xml = zip(
        &work,
        &[
            ("broken.xml", b"<testsuite><testcase name=\"x\"" as &[u8]),
            ("fine.xml", &good),
        ],
    );
    let artifacts = [
        (11, "junit-slip", slip),
        (12, "junit-bomb", bomb),
        (13, "junit-liar", liar),
        (14, "junit-locked", locked),
        (15, "junit-truncated", truncated),
        (
            16,
            "junit-not-a-zip",
            b"<html>an error page</html>".to_vec(),
        ),
        (17, "junit-badxml", bad_xml),
    ];
    let mut listed: Vec<Value> = artifacts
        .iter()
        .map(|(id, name, data)| artifact(*id, name, data.len()))
        .collect();
    listed.push(json!({"id": 18, "name": "junit-old", "size_in_bytes": 10, "expired": true}));
    listed.push(artifact(19, "junit-gone", 10));
    listed.push(artifact(20, "junit-deleted", 10));
    api.route("GET", "/repos/o/r/actions/runs/201/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": listed.len(), "artifacts": listed}),
        ));
    for (id, _, data) in artifacts {
        serve_zip(&api, &storage, id, data);
    }
    api.route("GET", "/repos/o/r/actions/artifacts/19/zip")
        .respond(FakeResponse::json(
            410,
            json!({"message": "Artifact has expired"}),
        ));
    api.route("GET", "/repos/o/r/actions/artifacts/20/zip")
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));

    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(
        code,
        Some(2),
        "bad input is reported in the exit code: {stderr}"
    );
    for expected in [
        "`../../evil.xml` in artifact `junit-slip` of run 201: its name leaves the archive",
        "`/etc/abs.xml` in artifact `junit-slip` of run 201: its name leaves the archive",
        "`bomb.xml` in artifact `junit-bomb` of run 201: it declares 4294967280 bytes uncompressed, more than the",
        "`liar.xml` in artifact `junit-liar` of run 201: it is corrupt: it inflates past the 100 bytes it declares",
        "`locked.xml` in artifact `junit-locked` of run 201: it is encrypted",
        "artifact `junit-truncated` of run 201: it is not a zip archive",
        "artifact `junit-not-a-zip` of run 201: it is not a zip archive",
        "`broken.xml` in artifact `junit-badxml` of run 201:",
        "artifact `junit-old` of run 201: it has expired; skipped",
        "artifact `junit-gone` of run 201: it has expired; skipped",
        "artifact `junit-deleted` of run 201: it has expired; skipped",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        api.requests_to("GET", "/repos/o/r/actions/artifacts/18/zip")
            .is_empty()
    );
    // The good members are stored.
    assert_eq!(json["summary"]["files"], 2, "{stderr}");
    assert_eq!(
        rows(&db(dir.path()), "SELECT file FROM reports ORDER BY file"),
        ["junit-badxml/fine.xml", "junit-slip/ok.xml"]
    );
    // Nothing was written by a member's name, here or next to the temporary directory.
    let written: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|p| !p.starts_with(&work))
        .collect();
    assert!(
        written.iter().all(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("q.db"))),
        "{written:?}"
    );
    assert!(!dir.path().join("evil.xml").exists());

    // The hostile artifacts will not improve: the run is behind the watermark now.
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 0);
}

#[test]
fn an_archive_larger_than_the_cap_is_not_downloaded_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let good = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [run(301, 1, "ddd444")]}),
        ));
    let big = zip(&work, &[("big.xml", &good)]);
    let honest = zip(&work, &[("honest.xml", &good)]);
    // One says it is small and is not; one says it is too big.
    api.route("GET", "/repos/o/r/actions/runs/301/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 2, "artifacts": [artifact(31, "junit-lies", 10), artifact(32, "junit-big", honest.len())]}),
        ));
    serve_zip(&api, &storage, 31, big);
    serve_zip(&api, &storage, 32, honest);
    let (code, json, stderr) = collect(
        dir.path(),
        &api,
        &["--branch", "main", "--max-artifact-bytes", "100"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("artifact `junit-lies` of run 301: its download grew past `--max-artifact-bytes` 100; skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("artifact `junit-big` of run 301: it is "),
        "{stderr}"
    );
    assert!(
        storage.requests_to("GET", "/blobs/32").is_empty(),
        "a declared size over the cap is not fetched"
    );
    assert_eq!(json["summary"]["files"], 0);
}

#[test]
fn a_run_whose_artifacts_cannot_be_listed_is_read_again_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let good = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [run(401, 1, "eee555")]}),
        ));
    api.route("GET", "/repos/o/r/actions/runs/401/artifacts")
        .respond_seq([
            FakeResponse::text(502, "bad gateway"),
            FakeResponse::text(502, "bad gateway"),
            FakeResponse::json(
                200,
                json!({"total_count": 1, "artifacts": [artifact(41, "junit", 100)]}),
            ),
        ]);
    serve_zip(&api, &storage, 41, zip(&work, &[("r.xml", &good)]));
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = bin()
        .current_dir(dir.path())
        .env("GITHUB_TOKEN", TOKEN)
        .env("TMPDIR", &tmp)
        .args([
            "collect",
            "--repository",
            "o/r",
            "--branch",
            "main",
            "--api-url",
        ])
        .arg(api.url())
        .arg("--store")
        .arg(dir.path().join("q.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("502"), "{stderr}");
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["files"], 1, "{stderr}");
}

fn watermark_and_run_urls(spec: &str) {
    use paved_quarantine::store::Store;
    let mut store = Store::open(Some(spec)).unwrap();
    let source = "github:o/r:main";
    assert_eq!(store.watermark(source).unwrap(), None);
    store.raise_watermark(source, 500).unwrap();
    store.raise_watermark(source, 300).unwrap();
    assert_eq!(
        store.watermark(source).unwrap(),
        Some(500),
        "it never moves down"
    );
    store.raise_watermark(source, 501).unwrap();
    assert_eq!(store.watermark(source).unwrap(), Some(501));
    assert_eq!(store.watermark("github:o/r:release").unwrap(), None);
    store
        .record_run_url("501", 1, "https://x/runs/501")
        .unwrap();
    store
        .record_run_url("501", 2, "https://x/runs/501/attempts/2")
        .unwrap();
    store
        .record_run_url("501", 1, "https://x/runs/501")
        .unwrap();
    assert_eq!(
        store.run_url("501", 2).unwrap().as_deref(),
        Some("https://x/runs/501/attempts/2")
    );
    assert_eq!(store.run_url("502", 1).unwrap(), None);
    assert!(!store.has_part("github-artifact:7").unwrap());
    store
        .record_part("github-artifact:7", "https://x/runs/501")
        .unwrap();
    store
        .record_part("github-artifact:7", "https://x/runs/501")
        .unwrap();
    assert!(store.has_part("github-artifact:7").unwrap());
    assert!(!store.has_part("gitlab-job:7").unwrap());
    drop(store);
    // Kept across opens (the migration runs once).
    let mut again = Store::open(Some(spec)).unwrap();
    assert_eq!(again.watermark(source).unwrap(), Some(501));
    assert!(again.has_part("github-artifact:7").unwrap());
}

#[test]
fn the_watermark_only_rises_and_survives_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    watermark_and_run_urls(&dir.path().join("q.db").display().to_string());
}

#[test]
fn the_watermark_only_rises_and_survives_in_postgres() {
    let pg = paved_testkit::postgres::Postgres::start();
    watermark_and_run_urls(&pg.url());
}

#[test]
fn overlapping_members_are_refused_as_a_zip_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let good = pytest_report(&work, false);
    let mut bomb = zip(&work, &[("a.xml", &good), ("b.xml", &good)]);
    // b.xml's directory entry points at a.xml's data: both names, one copy of the bytes.
    patch_central(&mut bomb, "b.xml", |e| {
        e[42..46].copy_from_slice(&0u32.to_le_bytes());
    });
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [run(501, 1, "fff666")]}),
        ));
    api.route("GET", "/repos/o/r/actions/runs/501/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "artifacts": [artifact(51, "junit", bomb.len())]}),
        ));
    serve_zip(&api, &storage, 51, bomb);
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("artifact `junit` of run 501: the zip archive is corrupt: members overlap each other (a zip bomb, or a broken archive); skipped"),
        "{stderr}"
    );
    assert_eq!(json["summary"]["files"], 0);
}

#[test]
fn a_rate_limit_that_resets_later_than_paved_waits_is_an_external_error_saying_when() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeServer::start();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    api.route("GET", "/repos/o/r/actions/runs").respond(
        FakeResponse::json(
            403,
            json!({"message": "API rate limit exceeded for installation"}),
        )
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string()),
    );
    let out = bin()
        .current_dir(dir.path())
        .env("GITHUB_TOKEN", TOKEN)
        .args([
            "collect",
            "--repository",
            "o/r",
            "--branch",
            "main",
            "--api-url",
        ])
        .arg(api.url())
        .arg("--store")
        .arg(dir.path().join("q.db"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("rate limited"), "{stderr}");
    assert!(stderr.contains("API rate limit exceeded"), "{stderr}");
    assert_eq!(api.requests().len(), 1, "no hour-long sleep, no hammering");
    assert!(!stderr.contains(TOKEN));
}

#[test]
fn each_matrix_artifact_can_be_its_own_variant() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let failing = pytest_report(&work, true);
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [run(601, 1, "abc777")]}),
        ));
    let linux = zip(&work, &[("pytest.xml", &passing)]);
    let windows = zip(&work, &[("pytest.xml", &failing)]);
    api.route("GET", "/repos/o/r/actions/runs/601/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 2, "artifacts": [artifact(61, "junit-linux", linux.len()), artifact(62, "junit-windows", windows.len())]}),
        ));
    serve_zip(&api, &storage, 61, linux);
    serve_zip(&api, &storage, 62, windows);
    let (code, _, stderr) = collect(
        dir.path(),
        &api,
        &["--branch", "main", "--variant", "{artifact}"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // A failure on one OS and a pass on the other are two identities, not a same-commit flake.
    assert_eq!(
        rows(
            &db(dir.path()),
            "SELECT u.variant || ' ' || r.failed FROM reports r JOIN runs u ON u.id = r.run ORDER BY u.variant"
        ),
        ["junit-linux 0", "junit-windows 1"]
    );
}

#[test]
fn a_branch_pattern_is_matched_here_and_max_runs_stops_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let on = |id: u64, branch: &str| {
        let mut r = run(id, 1, &format!("sha{id}"));
        r["head_branch"] = json!(branch);
        r
    };
    let page1 = json!({"total_count": 4, "workflow_runs": [
        on(704, "feature/x"),
        on(703, "gh-readonly-queue/main/pr-2-def"),
        on(702, "gh-readonly-queue/main/pr-1-abc"),
    ]});
    let next = format!(
        "<{}/repos/o/r/actions/runs?status=completed&per_page=100&page=2>; rel=\"next\"",
        api.url()
    );
    api.route("GET", "/repos/o/r/actions/runs").respond_with(move |r| {
        assert_eq!(r.query_param("branch"), None, "a pattern is not sent as a branch");
        match r.query_param("page").as_deref() {
            Some("2") => FakeResponse::json(
                200,
                json!({"total_count": 4, "workflow_runs": [on(701, "gh-readonly-queue/main/pr-0")]}),
            ),
            _ => FakeResponse::json(200, page1.clone()).header("Link", next.clone()),
        }
    });
    for id in [701, 702, 703] {
        let a = zip(&work, &[("pytest.xml", &passing)]);
        api.route("GET", &format!("/repos/o/r/actions/runs/{id}/artifacts"))
            .respond(FakeResponse::json(
                200,
                json!({"total_count": 1, "artifacts": [artifact(id * 10, "junit", a.len())]}),
            ));
        serve_zip(&api, &storage, id * 10, a);
    }
    let (code, _, stderr) = collect(
        dir.path(),
        &api,
        &["--branch", "gh-readonly-queue/main/*", "--max-runs", "2"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        rows(
            &db(dir.path()),
            "SELECT run_id || ' ' || branch FROM runs ORDER BY run_id"
        ),
        [
            "702 gh-readonly-queue/main/pr-1-abc",
            "703 gh-readonly-queue/main/pr-2-def"
        ]
    );
    assert_eq!(
        api.requests_to("GET", "/repos/o/r/actions/runs").len(),
        1,
        "two runs found on the first page: the second is not read"
    );
    assert!(
        stderr.contains("reading the newest 2 new completed runs (`--max-runs` 2)"),
        "{stderr}"
    );
}

/// RFC 3339 for `hours` ago: runs the re-check window still covers.
pub(crate) fn hours_ago(hours: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours)).to_string()
}

#[test]
fn a_rerun_of_a_run_behind_the_watermark_is_read_as_its_new_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let failing = pytest_report(&work, true);
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let recent = |id: u64, attempt: u32| {
        let mut r = run(id, attempt, "abc801");
        r["created_at"] = json!(hours_ago(5));
        r["run_started_at"] = json!(hours_ago(5 - i64::from(attempt)));
        r
    };
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [recent(801, 1)]}),
        ));
    let first = zip(&work, &[("pytest.xml", &failing)]);
    api.route("GET", "/repos/o/r/actions/runs/801/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "artifacts": [artifact(81, "junit", first.len())]}),
        ));
    serve_zip(&api, &storage, 81, first);
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["files"], 1, "{stderr}");

    // "Re-run failed jobs": the same run id, attempt 2, now behind the watermark.
    let second = zip(&work, &[("pytest.xml", &passing)]);
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [recent(801, 2)]}),
        ));
    // The run's list still holds attempt 1's artifact next to attempt 2's.
    api.route("GET", "/repos/o/r/actions/runs/801/artifacts")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 2, "artifacts": [artifact(81, "junit", 100), artifact(82, "junit", second.len())]}),
        ));
    storage.clear_requests();
    serve_zip(&api, &storage, 82, second);
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["new_attempts"], 1, "{stderr}");
    assert_eq!(json["summary"]["files"], 1, "{stderr}");
    assert!(
        stderr.contains("run 801 attempt 2 is behind the watermark"),
        "{stderr}"
    );
    assert_eq!(
        storage
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>(),
        ["/blobs/82"],
        "attempt 1's artifact is not read again as attempt 2's"
    );
    let conn = db(dir.path());
    assert_eq!(
        rows(
            &conn,
            "SELECT u.run_id || ' ' || u.attempt || ' ' || r.failed FROM reports r JOIN runs u ON u.id = r.run ORDER BY u.attempt"
        ),
        ["801 1 1", "801 2 0"]
    );
    drop(conn);

    // Read once: a third collect finds nothing new and downloads nothing.
    storage.clear_requests();
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 0, "{stderr}");
    assert!(storage.requests().is_empty());

    // `--recheck-days 0` looks only past the watermark: a third attempt is not read.
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [recent(801, 3)]}),
        ));
    let (code, json, stderr) = collect(
        dir.path(),
        &api,
        &["--branch", "main", "--recheck-days", "0"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 0, "{stderr}");
}

#[test]
fn a_run_that_completes_after_a_newer_one_is_not_lost_behind_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let passing = pytest_report(&work, false);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let recent = |id: u64| {
        let mut r = run(id, 1, &format!("sha{id}"));
        r["created_at"] = json!(hours_ago(i64::try_from(905 - id).unwrap()));
        r
    };
    for id in [901, 902, 903] {
        let a = zip(&work, &[("pytest.xml", &passing)]);
        api.route("GET", &format!("/repos/o/r/actions/runs/{id}/artifacts"))
            .respond(FakeResponse::json(
                200,
                json!({"total_count": 1, "artifacts": [artifact(id * 10, "junit", a.len())]}),
            ));
        serve_zip(&api, &storage, id * 10, a);
    }
    // 901 is still running when 902 has completed.
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 1, "workflow_runs": [recent(902)]}),
        ));
    let (code, _, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 3, "workflow_runs": [recent(903), recent(902), recent(901)]}),
        ));
    // `--max-runs` caps what is read behind the watermark too: 901 waits for the next collect.
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main", "--max-runs", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 1, "{stderr}");
    assert!(
        stderr.contains("`main`: `--max-runs` 1 reached; older runs behind the watermark are looked at again next time"),
        "{stderr}"
    );
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["summary"]["runs"], 1, "{stderr}");
    assert_eq!(json["summary"]["new_attempts"], 1, "{stderr}");
    assert_eq!(
        rows(&db(dir.path()), "SELECT run_id FROM runs ORDER BY run_id"),
        ["901", "902", "903"]
    );
    assert_eq!(
        storage.requests_to("GET", "/blobs/9020").len(),
        1,
        "902 is read once"
    );
}

/// A fork can name its branch `main` and open a pull request: its `pull_request` run carries
/// `head_branch: "main"`, runs the fork's own workflow file and uploads whatever `junit*` artifact
/// it likes. `GET /actions/runs?branch=main` lists it. Only the repository's own runs of
/// non-pull-request events are the default branch's history; the rest are named and never read.
#[test]
fn runs_from_forks_and_pull_requests_never_become_the_default_branch_history() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("pytest");
    std::fs::create_dir(&work).unwrap();
    let good = pytest_report(&work, false);
    let forged = pytest_report(&work, true);
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let mut fork = run(902, 1, "f0f0f0");
    fork["event"] = json!("pull_request");
    fork["head_repository"] = json!({"full_name": "mallory/r"});
    let mut same_repo_pr = run(903, 1, "a0a0a0");
    same_repo_pr["event"] = json!("pull_request");
    let mut no_repository = run(904, 1, "b0b0b0");
    no_repository
        .as_object_mut()
        .unwrap()
        .remove("head_repository");
    let mut fork_push = run(905, 1, "c0c0c0");
    fork_push["head_repository"] = json!({"full_name": "mallory/r"});
    api.route("GET", "/repos/o/r/actions/runs")
        .respond(FakeResponse::json(
            200,
            json!({"total_count": 5, "workflow_runs": [fork_push, no_repository, same_repo_pr, fork, run(901, 1, "ddd999")]}),
        ));
    for (id, art) in [(901, 91), (902, 92), (903, 93), (904, 94), (905, 95)] {
        api.route("GET", &format!("/repos/o/r/actions/runs/{id}/artifacts"))
            .respond(FakeResponse::json(
                200,
                json!({"total_count": 1, "artifacts": [artifact(art, "junit", 100)]}),
            ));
        let report = if id == 901 { &good } else { &forged };
        serve_zip(&api, &storage, art, zip(&work, &[("r.xml", report)]));
    }
    let (code, json, stderr) = collect(dir.path(), &api, &["--branch", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        json["summary"]["files"], 1,
        "only run 901 is read: {stderr}"
    );
    for id in ["902", "903", "904", "905"] {
        assert!(
            !api.requests()
                .iter()
                .any(|r| r.path.contains(&format!("/runs/{id}/"))),
            "run {id}'s artifacts were listed"
        );
    }
    assert!(stderr.contains("4 runs"), "{stderr}");
    assert!(
        stderr.contains("pull request") && stderr.contains("fork"),
        "{stderr}"
    );
    let conn = db(dir.path());
    assert_eq!(
        rows(&conn, "SELECT DISTINCT commit_sha FROM runs"),
        vec!["ddd999".to_owned()]
    );
}
