//! The flaky-test loop end to end: a consumer calls `quarantine.yml` from a schedule, as the
//! README shows, and act runs it against a fake GitHub (the API on one port, artifact storage
//! on another) that serves the JUnit artifacts of five runs and answers the pull-request and git
//! data routes as GitHub documents them. The first run must open one pull request that
//! quarantines the test that passed and failed at the same commit; the second (the cache
//! restored) must update that same pull request and open no other. On GitLab, gitlab-ci-local runs
//! the update job of the `quarantine-loop` component twice against a fake GitLab, on a store
//! filled by `ingest`: one merge request opened, then updated. (act's `github.run_id` is always
//! 1, so the second GitHub run restores the first run's exact key and its save is refused, as the
//! real cache refuses an existing key.)

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

use super::{adoption, capture, consumer, expect, git, readme_block, write};
use crate::tools::venv_bin;

/// The consumer's own reusable test workflow, which the README's block calls; the scheduled
/// run below starts only the `quarantine` job, so this one never runs here.
const TEST_WORKFLOW: &str = "on: workflow_call\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n";

/// The cache pin in quarantine.yml.
const CACHE_SHA: &str = "5a3ec84eff668545956fd18022155c47e93e2684";

/// Stand-ins for actions/cache/restore and /save (act cannot reach GitHub's cache service): keys
/// are directories under PAVED_E2E_CACHE; restore takes the exact key, else the newest key with
/// the prefix; save never overwrites a key, as the real cache refuses to.
const CACHE_RESTORE: &str = r#"name: stand-in for actions/cache/restore
description: e2e stand-in; restores PAVED_E2E_CACHE/<key>, else the newest key with a restore-keys prefix.
inputs:
  path: { required: true }
  key: { required: true }
  restore-keys: { default: '' }
outputs:
  cache-matched-key:
    value: ${{ steps.restore.outputs.key }}
runs:
  using: composite
  steps:
    - id: restore
      shell: bash
      env:
        TO: ${{ inputs.path }}
        KEY: ${{ inputs.key }}
        PREFIX: ${{ inputs.restore-keys }}
      run: |
        set -eu
        mkdir -p "$PAVED_E2E_CACHE"
        hit=
        if [ -d "$PAVED_E2E_CACHE/$KEY" ]; then hit=$KEY; fi
        if [ -z "$hit" ] && [ -n "$PREFIX" ]; then
          hit=$(ls -t "$PAVED_E2E_CACHE" | grep -F -- "$PREFIX" | head -n 1 || true)
        fi
        if [ -n "$hit" ]; then
          mkdir -p "$TO"
          cp -R "$PAVED_E2E_CACHE/$hit/." "$TO/"
          echo "E2E cache restored from $hit"
        else
          echo "E2E cache miss"
        fi
        echo "key=$hit" >>"$GITHUB_OUTPUT"
"#;

const CACHE_SAVE: &str = r#"name: stand-in for actions/cache/save
description: e2e stand-in; keeps the path under PAVED_E2E_CACHE/<key>, never overwriting a key.
inputs:
  path: { required: true }
  key: { required: true }
runs:
  using: composite
  steps:
    - shell: bash
      env:
        FROM: ${{ inputs.path }}
        KEY: ${{ inputs.key }}
      run: |
        set -eu
        if [ -d "$PAVED_E2E_CACHE/$KEY" ]; then
          echo "E2E cache key $KEY exists; not saved"
          exit 0
        fi
        mkdir -p "$PAVED_E2E_CACHE/$KEY"
        cp -R "$FROM/." "$PAVED_E2E_CACHE/$KEY/"
        echo "E2E cache saved as $KEY"
"#;

/// JUnit of one run of the consumer's tests: `test_racy` fails or passes.
fn junit(racy_fails: bool) -> String {
    let racy = if racy_fails {
        r#"<testcase classname="tests.test_app" name="test_racy" time="0.02"><failure message="connection reset">AssertionError: reset</failure></testcase>"#
    } else {
        r#"<testcase classname="tests.test_app" name="test_racy" time="0.02"/>"#
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"app\" tests=\"3\" failures=\"{}\">\n    <testcase classname=\"tests.test_app\" name=\"test_ok\" time=\"0.01\"/>\n    <testcase classname=\"tests.test_app\" name=\"test_also_ok\" time=\"0.01\"/>\n    {racy}\n  </testsuite>\n</testsuites>\n",
        u8::from(racy_fails)
    )
}

/// A zip archive of one JUnit file, made by Python's `zipfile`, as an artifact upload would be.
fn zip(dir: &Path, xml: &str) -> Result<Vec<u8>, String> {
    let input = dir.join("junit.xml");
    let output = dir.join("artifact.zip");
    std::fs::write(&input, xml).map_err(|e| e.to_string())?;
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', compression=zipfile.ZIP_DEFLATED) as z:\n    z.write(sys.argv[1], 'junit.xml')\n",
        ])
        .arg(&input)
        .arg(&output)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 zipfile: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::read(&output).map_err(|e| e.to_string())
}

/// A fake GitHub for `acme/app`: five completed runs of `main` (the second and third at the same
/// commit, one failing `test_racy` and one passing), their `junit` artifacts behind a `302` to
/// the storage server, and the routes `update --propose` writes to. Returns the open pull
/// requests, as the client left them.
fn fake_github(
    api: &FakeServer,
    storage: &FakeServer,
    work: &Path,
    base: &str,
) -> Result<Arc<Mutex<Vec<u64>>>, String> {
    const REPO: &str = "/repos/acme/app";
    let shas = ["a1", "b2", "b2", "c3", "d4"].map(|s| s.repeat(20));
    let fails = [false, true, false, true, false];
    let runs: Vec<_> = (0..5u64)
        .map(|i| {
            json!({"id": 100 + i, "name": "CI", "run_attempt": 1, "head_sha": shas[i as usize],
                   "head_branch": "main", "status": "completed", "conclusion": "success",
                   "event": "push", "head_repository": {"full_name": "acme/app"},
                   "html_url": format!("https://github.com/acme/app/actions/runs/{}", 100 + i),
                   "created_at": format!("2026-11-2{i}T10:00:00Z"), "run_started_at": format!("2026-11-2{i}T10:00:05Z")})
        })
        .rev()
        .collect();
    api.route("GET", REPO)
        .respond(FakeResponse::json(200, json!({"default_branch": "main"})));
    api.route("GET", &format!("{REPO}/actions/runs"))
        .respond(FakeResponse::json(
            200,
            json!({"total_count": runs.len(), "workflow_runs": runs}),
        ));
    for i in 0..5u64 {
        let id = 100 + i;
        let archive = zip(work, &junit(fails[i as usize]))?;
        api.route("GET", &format!("{REPO}/actions/runs/{id}/artifacts"))
            .respond(FakeResponse::json(
                200,
                json!({"total_count": 1, "artifacts": [{"id": id, "name": "junit", "size_in_bytes": archive.len(),
                       "expired": false, "archive_download_url": format!("{}{REPO}/actions/artifacts/{id}/zip", api.url())}]}),
            ));
        api.route("GET", &format!("{REPO}/actions/artifacts/{id}/zip"))
            .respond(FakeResponse::new(302).header(
                "Location",
                format!("{}/blobs/{id}?sig=signed", storage.url()),
            ));
        storage
            .route("GET", &format!("/blobs/{id}"))
            .respond(FakeResponse::new(200).body(archive));
    }
    // Pull requests and the git data API.
    let open: Arc<Mutex<Vec<u64>>> = Arc::default();
    let pull = |n: u64| {
        json!({"number": n, "state": "open", "html_url": format!("https://github.com/acme/app/pull/{n}"),
               "head": {"ref": "paved/quarantine", "repo": {"full_name": "acme/app"}}})
    };
    api.route("GET", &format!("{REPO}/git/commits/{base}"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": base, "tree": {"sha": "tree0"}}),
        ));
    api.route("POST", &format!("{REPO}/git/trees"))
        .respond(FakeResponse::json(201, json!({"sha": "tree1"})));
    api.route("POST", &format!("{REPO}/git/commits"))
        .respond(FakeResponse::json(201, json!({"sha": "commit1"})));
    api.route("PATCH", &format!("{REPO}/git/refs/heads/paved/quarantine"))
        .respond_seq([
            FakeResponse::json(422, json!({"message": "Reference does not exist"})),
            FakeResponse::json(200, json!({"ref": "refs/heads/paved/quarantine"})),
        ]);
    api.route("POST", &format!("{REPO}/git/refs"))
        .respond(FakeResponse::json(
            201,
            json!({"ref": "refs/heads/paved/quarantine"}),
        ));
    let o = open.clone();
    api.route("GET", &format!("{REPO}/pulls"))
        .query("head", "acme:paved/quarantine")
        .query("state", "open")
        .respond_with(move |_| {
            let list: Vec<_> = o
                .lock()
                .map(|o| o.iter().map(|&n| pull(n)).collect())
                .unwrap_or_default();
            FakeResponse::json(200, json!(list))
        });
    let o = open.clone();
    api.route("POST", &format!("{REPO}/pulls"))
        .respond_with(move |_| {
            if let Ok(mut o) = o.lock() {
                o.push(1);
            }
            FakeResponse::json(201, pull(1))
        });
    api.route("PATCH", &format!("{REPO}/pulls/1"))
        .respond_with(move |_| FakeResponse::json(200, pull(1)));
    Ok(open)
}

/// Run quarantine.yml twice from a schedule against the fake GitHub.
pub fn github(tmp: &Path, paved: &Path, bin_dir: &Path, version: &str) -> Result<(), String> {
    let repo = tmp.join("github-quarantine-consumer");
    consumer(&repo, "https://github.com/acme/app.git")?;
    // The README's block as it is: its `quarantine` job calls
    // `paved-dev/paved/.github/workflows/quarantine.yml@vX`, which act resolves to this checkout.
    write(
        &repo.join(adoption::GITHUB),
        &readme_block(adoption::GITHUB)?,
    )?;
    write(&repo.join(".github/workflows/test.yml"), TEST_WORKFLOW)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the flaky-test loop"],
    )?;
    let head = Command::new("git")
        .current_dir(&repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .map_err(|e| format!("git: {e}"))?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();

    let cache = tmp.join("cache-action");
    write(&cache.join("restore/action.yml"), CACHE_RESTORE)?;
    write(&cache.join("save/action.yml"), CACHE_SAVE)?;
    let work = tmp.join("quarantine-fake");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let open = fake_github(&api, &storage, &work, &head)?;
    let act = || {
        let mut c = Command::new(venv_bin().join("act"));
        c.current_dir(&repo)
            .args(["schedule", "-W", adoption::GITHUB, "-j", "quarantine"])
            .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
            .arg(format!("paved-dev/paved@v{version}={}", paved.display()))
            .arg("--local-repository")
            .arg(format!("actions/cache@{CACHE_SHA}={}", cache.display()))
            .args(["-s", "GITHUB_TOKEN=ghs_e2e_token"])
            .arg("--env")
            .arg(format!("GITHUB_API_URL={}", api.url()))
            .arg("--env")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .arg("--env")
            .arg(format!("PAVED_E2E_CACHE={}", tmp.join("cache").display()))
            .env("HOME", tmp.join("home"));
        c
    };
    let out = capture("act: quarantine.yml on schedule (first run)", &mut act())?;
    expect(&out, "E2E cache miss", "act quarantine cache")?;
    expect(
        &out,
        "https://github.com/acme/app/pull/1",
        "act quarantine proposal",
    )?;
    let posts = api.requests_to("POST", "/repos/acme/app/pulls");
    let body = posts
        .first()
        .map(|p| p.json()["body"].as_str().unwrap_or_default().to_owned())
        .ok_or("act quarantine: no pull request was opened")?;
    if !body.contains("test_racy") || !body.contains("| 5 | 2 |") {
        return Err(format!(
            "act quarantine: the pull request's body lacks the evidence for test_racy:\n{body}"
        ));
    }
    let tree = api.requests_to("POST", "/repos/acme/app/git/trees");
    let content = tree
        .first()
        .map(|t| {
            t.json()["tree"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default();
    if !content.contains("id = \"app|tests.test_app|test_racy\"") {
        return Err(format!(
            "act quarantine: the proposed quarantine.toml does not quarantine test_racy:\n{content}"
        ));
    }

    // The next schedule: the store comes back from the cache, and the same pull request is
    // updated.
    let out = capture("act: quarantine.yml on schedule (second run)", &mut act())?;
    expect(
        &out,
        "E2E cache restored from paved-quarantine-",
        "act quarantine cache",
    )?;
    expect(
        &out,
        "https://github.com/acme/app/pull/1",
        "act quarantine second proposal",
    )?;
    let opened = api.requests_to("POST", "/repos/acme/app/pulls").len();
    let edited = api.requests_to("PATCH", "/repos/acme/app/pulls/1").len();
    if opened != 1 || edited != 1 {
        return Err(format!(
            "act quarantine: two scheduled runs must open one pull request and update it once (opened {opened}, updated {edited})"
        ));
    }
    if open.lock().map(|o| o.len()).unwrap_or(0) != 1 {
        return Err("act quarantine: expected exactly one open pull request".into());
    }
    let leaked = api
        .requests()
        .iter()
        .chain(storage.requests().iter())
        .any(|r| r.body_text().contains("ghs_e2e_token"));
    let storage_auth = storage
        .requests()
        .iter()
        .any(|r| r.header("authorization").is_some());
    if leaked || storage_auth {
        return Err("act quarantine: the token reached a body or the storage host".into());
    }
    Ok(())
}

/// A fake GitLab project `42` that takes the commit and opens, lists and updates merge requests.
fn fake_gitlab(api: &FakeServer) -> Arc<Mutex<Vec<u64>>> {
    const PROJECT: &str = "/projects/42";
    let open: Arc<Mutex<Vec<u64>>> = Arc::default();
    let merge = |iid: u64| {
        json!({"iid": iid, "state": "opened", "source_project_id": 42, "target_project_id": 42,
               "web_url": format!("https://gitlab.com/acme/app/-/merge_requests/{iid}")})
    };
    api.route("GET", PROJECT).respond(FakeResponse::json(
        200,
        json!({"id": 42, "default_branch": "main"}),
    ));
    api.route("POST", &format!("{PROJECT}/repository/commits"))
        .respond(FakeResponse::json(201, json!({"id": "c0ffee"})));
    let o = open.clone();
    api.route("GET", &format!("{PROJECT}/merge_requests"))
        .query("source_branch", "paved/quarantine")
        .query("state", "opened")
        .respond_with(move |_| {
            let list: Vec<_> = o
                .lock()
                .map(|o| o.iter().map(|&n| merge(n)).collect())
                .unwrap_or_default();
            FakeResponse::json(200, json!(list))
        });
    let o = open.clone();
    api.route("POST", &format!("{PROJECT}/merge_requests"))
        .respond_with(move |_| {
            if let Ok(mut o) = o.lock() {
                o.push(3);
            }
            FakeResponse::json(201, merge(3))
        });
    api.route("PUT", &format!("{PROJECT}/merge_requests/3"))
        .respond_with(move |_| FakeResponse::json(200, merge(3)));
    open
}

/// The update job of the loop component under gitlab-ci-local, twice: one merge request opened,
/// then updated. The store is filled by `ingest` (what the collect job leaves behind).
pub fn gitlab(tmp: &Path, paved: &Path, bin_dir: &Path) -> Result<(), String> {
    let repo = tmp.join("gitlab-quarantine-consumer");
    consumer(&repo, "https://gitlab.com/acme/app.git")?;
    // The README's block as it is; its `component:` lines resolve to this checkout's templates
    // through gitlab-ci-local's include cache (as in the e2e's other GitLab consumer).
    let version = crate::dist::workspace_version()?;
    super::copy_dir(
        &paved.join("templates"),
        &repo.join(format!(
            ".gitlab-ci-local/includes/gitlab.com/paved-dev/paved/{version}/templates"
        )),
    )?;
    let store = tmp.join("gitlab-quarantine-store/quarantine.db");
    let reports = tmp.join("gitlab-quarantine-reports");
    std::fs::create_dir_all(&reports).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(tmp.join("gitlab-quarantine-store")).map_err(|e| e.to_string())?;
    for (i, (sha, fails)) in [
        ("a1", false),
        ("b2", true),
        ("b2", false),
        ("c3", true),
        ("d4", false),
    ]
    .into_iter()
    .enumerate()
    {
        let file = reports.join(format!("junit-{i}.xml"));
        write(&file, &junit(fails))?;
        let mut ingest = Command::new(bin_dir.join("paved-quarantine"));
        ingest
            .args(["ingest", "--branch", "main", "--commit"])
            .arg(sha.repeat(20))
            .arg("--run-id")
            .arg(format!("{}", 500 + i))
            .arg("--store")
            .arg(&store)
            .arg(&file)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI");
        capture(
            &format!("paved-quarantine ingest (pipeline {})", 500 + i),
            &mut ingest,
        )?;
    }
    write(
        &repo.join(adoption::GITLAB),
        &readme_block(adoption::GITLAB)?,
    )?;
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the flaky-test loop"],
    )?;

    let api = FakeServer::start();
    let open = fake_gitlab(&api);
    let gcl = || {
        let mut c = Command::new(crate::tools::npm_bin().join("gitlab-ci-local"));
        c.current_dir(&repo)
            .args(["--force-shell-executor", "--shell-isolation"])
            .arg("--variable")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .args(["--variable", "CI_PIPELINE_SOURCE=schedule"])
            // What the collect job leaves behind; a variable of the pipeline, as a project's
            // CI/CD variable would be (the README's block keeps the default, the cached file).
            .arg("--variable")
            .arg(format!("PAVED_STORE={}", store.display()))
            .arg("--variable")
            .arg(format!("CI_API_V4_URL={}", api.url()))
            .args(["--variable", "CI_PROJECT_ID=42"])
            .args(["--variable", "GITLAB_TOKEN=glpat-e2e-token"])
            .arg("paved-quarantine-update")
            .env("HOME", tmp.join("home"));
        c
    };
    let out = capture(
        "gitlab-ci-local: quarantine-loop update (first run)",
        &mut gcl(),
    )?;
    expect(
        &out,
        "opened the merge request https://gitlab.com/acme/app/-/merge_requests/3",
        "gitlab-ci-local quarantine proposal",
    )?;
    let commit = api.requests_to("POST", "/projects/42/repository/commits");
    let content = commit
        .first()
        .map(|c| {
            c.json()["actions"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default();
    if !content.contains("id = \"app|tests.test_app|test_racy\"") {
        return Err(format!(
            "gitlab-ci-local quarantine: the proposed quarantine.toml does not quarantine test_racy:\n{content}"
        ));
    }
    let out = capture(
        "gitlab-ci-local: quarantine-loop update (second run)",
        &mut gcl(),
    )?;
    expect(
        &out,
        "updated the merge request",
        "gitlab-ci-local quarantine update",
    )?;
    let opened = api.requests_to("POST", "/projects/42/merge_requests").len();
    if opened != 1 || open.lock().map(|o| o.len()).unwrap_or(0) != 1 {
        return Err(format!(
            "gitlab-ci-local quarantine: two runs must open one merge request (opened {opened})"
        ));
    }
    Ok(())
}
