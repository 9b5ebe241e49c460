//! The flaky-test loop end to end, from the README's adoption blocks, with JUnit that a real
//! pytest wrote for each CI run of the consumer's tests (`test_racy` loses a race in some runs).
//!
//! GitHub: a consumer calls `quarantine.yml` from a schedule and act runs it five times against a
//! fake GitHub (the API on one port, artifact storage on another) that keeps state as GitHub
//! does: workflow runs and their `junit` artifacts, the git data the proposal writes (trees,
//! commits, the `paved/quarantine` branch) and numbered pull requests.
//! 1. Five runs, `test_racy` passing and failing at the same commit: one pull request (#1) that
//!    quarantines exactly that test, with its evidence.
//! 2. The next schedule restores the store from the cache, collects nothing new, and updates #1.
//! 3. #1 is merged (the list on `main` now holds the entry, the branch is deleted) and the test
//!    fixed; 20 clean runs are fewer than the release rule's 35: nothing is proposed.
//! 4. 35 clean runs in a row: the release is proposed through the same branch (#2, the entry
//!    gone from quarantine.toml on the branch, the clean streak in the body).
//! 5. The next schedule updates #2: same number, no other pull request.
//!
//! Each act run gets its own `GITHUB_RUN_ID`, so the cache stand-in sees a new key per run, as
//! the real cache does.
//!
//! GitLab: gitlab-ci-local runs both jobs of the `quarantine-loop` component, four times, against
//! a fake GitLab that serves finished pipelines, their jobs and each job's artifacts archive (a
//! `302` to object storage), the commits API and merge requests: the collect job reads the JUnit
//! of five pipelines into the store and the update job opens one merge request (!3); the next
//! pipeline restores the store from the cache, collects nothing new and updates !3. Once !3 is
//! merged and the test fixed, 35 clean pipelines release the entry through !4, which the next
//! pipeline updates.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// The consumer's tests for the loop. `test_racy` races a server: whether a run loses the race
/// is the runner's `E2E_RACE` (the e2e picks the outcomes; pytest runs the tests and writes the
/// JUnit).
const RACY_PY: &str = r#"import os


def test_ok():
    assert 1 + 1 == 2


def test_also_ok():
    assert "paved".upper() == "PAVED"


def test_racy():
    # Stands in for a race with a server: some runs lose it.
    assert os.environ.get("E2E_RACE") != "lost", "connection reset by the server"
"#;

/// The fix: `test_racy` waits for the server instead of racing it, so it passes whichever way
/// the race goes.
const FIXED_PY: &str = r#"import os


def test_ok():
    assert 1 + 1 == 2


def test_also_ok():
    assert "paved".upper() == "PAVED"


def test_racy():
    # Waits for the server: the race is gone.
    assert os.environ.get("E2E_RACE") in ("lost", "won")
"#;

/// The consumer's quarantine settings: the default release rule (35 clean runs in a row, a
/// Wilson upper bound under 10%) over the newest 35 runs, so the runs of the flaky days leave the
/// window once 35 runs after the fix passed.
const PAVED_TOML: &str = "# paved settings.\n[quarantine]\nwindow = 35\n";

/// pytest's quarantine id of the racy test (suite `pytest`, class from the module path).
const RACY_ID: &str = "pytest|tests.test_app|test_racy";

/// The JUnit XML pytest writes for one CI run of the consumer's tests as they are in `repo`,
/// the race `lost` or won. The run must fail exactly when the test can lose.
fn pytest_junit(repo: &Path, work: &Path, lost: bool, fails: bool) -> Result<String, String> {
    let report = work.join("junit.xml");
    let _ = std::fs::remove_file(&report);
    let out = Command::new(venv_bin().join("pytest"))
        .current_dir(repo)
        .args(["-q", "-p", "no:cacheprovider", "tests"])
        .arg(format!("--junitxml={}", report.display()))
        .env("E2E_RACE", if lost { "lost" } else { "won" })
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| {
            format!(
                "pytest ({}): {e}; run `cargo xtask tools`",
                venv_bin().display()
            )
        })?;
    if out.status.code() != Some(i32::from(fails)) {
        return Err(format!(
            "pytest was to {} (race {}), but exited {}: {}",
            if fails { "fail test_racy" } else { "pass" },
            if lost { "lost" } else { "won" },
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))
}

/// A zip archive of one JUnit file named `member`, made by Python's `zipfile`, as an artifact
/// upload would be.
fn zip(dir: &Path, member: &str, xml: &str) -> Result<Vec<u8>, String> {
    let input = dir.join("zip-input.xml");
    let output = dir.join("artifact.zip");
    std::fs::write(&input, xml).map_err(|e| e.to_string())?;
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', compression=zipfile.ZIP_DEFLATED) as z:\n    z.write(sys.argv[1], sys.argv[3])\n",
        ])
        .arg(&input)
        .arg(&output)
        .arg(member)
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The HEAD commit of `repo`.
fn head(repo: &Path) -> Result<String, String> {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .map_err(|e| format!("git: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A pull request on the fake GitHub.
#[derive(Debug, Clone)]
struct Pull {
    number: u64,
    open: bool,
    merged: bool,
    title: String,
    body: String,
}

/// What the fake GitHub holds: the workflow runs (oldest first), the git data the proposal
/// wrote (trees with the list's content, commits, the proposal branch) and the pull requests.
#[derive(Debug, Default)]
struct Hub {
    runs: Vec<serde_json::Value>,
    /// Tree sha → the content of the one file written in it.
    trees: Vec<(String, String)>,
    /// Commit sha → its tree sha.
    commits: Vec<(String, String)>,
    /// The commit `refs/heads/paved/quarantine` points at.
    branch: Option<String>,
    pulls: Vec<Pull>,
}

impl Hub {
    /// The list as the proposal branch has it.
    fn branch_content(&self) -> Option<String> {
        let commit = self.branch.as_ref()?;
        let tree = &self.commits.iter().find(|(c, _)| c == commit)?.1;
        self.trees
            .iter()
            .find(|(t, _)| t == tree)
            .map(|(_, content)| content.clone())
    }

    fn open(&self) -> Vec<&Pull> {
        self.pulls.iter().filter(|p| p.open).collect()
    }
}

const REPO: &str = "/repos/acme/app";
const BRANCH: &str = "paved/quarantine";

fn pull_json(p: &Pull) -> serde_json::Value {
    json!({"number": p.number, "state": if p.open { "open" } else { "closed" },
           "merged": p.merged, "title": p.title, "body": p.body,
           "html_url": format!("https://github.com/acme/app/pull/{}", p.number),
           "head": {"ref": BRANCH, "repo": {"full_name": "acme/app"}}, "base": {"ref": "main"}})
}

/// A fake GitHub for `acme/app` that keeps state as GitHub does: the completed runs of `main`
/// with their `junit` artifacts (a `302` to the storage server), the git data API (trees,
/// commits, refs: `422` for a branch that does not exist), and pull requests (numbered in
/// order, `422` for a second open one from the same branch, edited and closed by `PATCH`).
fn fake_github(api: &FakeServer) -> Arc<Mutex<Hub>> {
    let hub: Arc<Mutex<Hub>> = Arc::default();
    api.route("GET", REPO)
        .respond(FakeResponse::json(200, json!({"default_branch": "main"})));
    let h = hub.clone();
    api.route("GET", &format!("{REPO}/actions/runs"))
        .respond_with(move |_| {
            let runs: Vec<_> = lock(&h).runs.iter().rev().cloned().collect();
            FakeResponse::json(
                200,
                json!({"total_count": runs.len(), "workflow_runs": runs}),
            )
        });
    let h = hub.clone();
    api.route("POST", &format!("{REPO}/git/trees"))
        .respond_with(move |r| {
            let mut hub = lock(&h);
            let sha = format!("{:040x}", 0x7ee_0000 + hub.trees.len());
            let content = r.json()["tree"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            hub.trees.push((sha.clone(), content));
            FakeResponse::json(201, json!({"sha": sha}))
        });
    let h = hub.clone();
    api.route("POST", &format!("{REPO}/git/commits"))
        .respond_with(move |r| {
            let mut hub = lock(&h);
            let sha = format!("{:040x}", 0xc0ff_ee00_0000_u64 + hub.commits.len() as u64);
            let tree = r.json()["tree"].as_str().unwrap_or_default().to_owned();
            hub.commits.push((sha.clone(), tree));
            FakeResponse::json(201, json!({"sha": sha}))
        });
    let h = hub.clone();
    api.route("PATCH", &format!("{REPO}/git/refs/heads/{BRANCH}"))
        .respond_with(move |r| {
            let mut hub = lock(&h);
            if hub.branch.is_none() {
                return FakeResponse::json(422, json!({"message": "Reference does not exist"}));
            }
            hub.branch = r.json()["sha"].as_str().map(str::to_owned);
            FakeResponse::json(200, json!({"ref": format!("refs/heads/{BRANCH}")}))
        });
    let h = hub.clone();
    api.route("POST", &format!("{REPO}/git/refs"))
        .respond_with(move |r| {
            let mut hub = lock(&h);
            if hub.branch.is_some() {
                return FakeResponse::json(422, json!({"message": "Reference already exists"}));
            }
            hub.branch = r.json()["sha"].as_str().map(str::to_owned);
            FakeResponse::json(201, json!({"ref": format!("refs/heads/{BRANCH}")}))
        });
    let h = hub.clone();
    api.route("GET", &format!("{REPO}/pulls"))
        .query("head", &format!("acme:{BRANCH}"))
        .query("state", "open")
        .respond_with(move |_| {
            let hub = lock(&h);
            FakeResponse::json(
                200,
                json!(hub.open().into_iter().map(pull_json).collect::<Vec<_>>()),
            )
        });
    let h = hub.clone();
    api.route("POST", &format!("{REPO}/pulls"))
        .respond_with(move |r| {
            let mut hub = lock(&h);
            if !hub.open().is_empty() {
                return FakeResponse::json(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for acme:{BRANCH}.")}]}),
                );
            }
            let body = r.json();
            let pull = Pull {
                number: hub.pulls.len() as u64 + 1,
                open: true,
                merged: false,
                title: body["title"].as_str().unwrap_or_default().to_owned(),
                body: body["body"].as_str().unwrap_or_default().to_owned(),
            };
            hub.pulls.push(pull.clone());
            FakeResponse::json(201, pull_json(&pull))
        });
    for n in 1..=4u64 {
        let h = hub.clone();
        api.route("PATCH", &format!("{REPO}/pulls/{n}"))
            .respond_with(move |r| {
                let mut hub = lock(&h);
                let Some(pull) = hub.pulls.iter_mut().find(|p| p.number == n) else {
                    return FakeResponse::json(404, json!({"message": "Not Found"}));
                };
                let body = r.json();
                if let Some(t) = body["title"].as_str() {
                    pull.title = t.to_owned();
                }
                if let Some(b) = body["body"].as_str() {
                    pull.body = b.to_owned();
                }
                if body["state"] == "closed" {
                    pull.open = false;
                }
                FakeResponse::json(200, pull_json(pull))
            });
        api.route("POST", &format!("{REPO}/issues/{n}/comments"))
            .respond(FakeResponse::json(201, json!({"id": 900 + n})));
    }
    hub
}

/// A completed run `id` of `main` at `sha` whose `junit` artifact holds `xml`.
fn add_run(
    api: &FakeServer,
    storage: &FakeServer,
    hub: &Mutex<Hub>,
    work: &Path,
    (id, sha, started): (u64, &str, &str),
    xml: &str,
) -> Result<(), String> {
    let archive = zip(work, "junit.xml", xml)?;
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
    lock(hub).runs.push(
        json!({"id": id, "name": "CI", "run_attempt": 1, "head_sha": sha,
        "head_branch": "main", "status": "completed", "conclusion": "success",
        "event": "push", "head_repository": {"full_name": "acme/app"},
        "html_url": format!("https://github.com/acme/app/actions/runs/{id}"),
        "created_at": started, "run_started_at": started}),
    );
    Ok(())
}

/// `GET /git/commits/{sha}` for the commit the next proposal is computed from (the consumer's
/// HEAD, which act checks out).
fn serve_base(api: &FakeServer, base: &str) {
    api.route("GET", &format!("{REPO}/git/commits/{base}"))
        .respond(FakeResponse::json(
            200,
            json!({"sha": base, "tree": {"sha": format!("{:040x}", 0xba5e)}}),
        ));
}

/// The loop on GitHub, five scheduled runs of quarantine.yml under act against the fake GitHub:
/// the flaky test is proposed, the proposal updated; once merged and the test fixed, too few
/// clean runs change nothing, then enough release it through a new proposal, which the next run
/// updates.
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
    write(&repo.join("tests/test_app.py"), RACY_PY)?;
    write(&repo.join("paved.toml"), PAVED_TOML)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the flaky-test loop"],
    )?;

    let cache = tmp.join("cache-action");
    write(&cache.join("restore/action.yml"), CACHE_RESTORE)?;
    write(&cache.join("save/action.yml"), CACHE_SAVE)?;
    let work = tmp.join("quarantine-fake");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let hub = fake_github(&api);
    // Five runs of `main` (the second and third at the same commit), `test_racy` losing its race
    // in the second and the fourth.
    let shas = ["a1", "b2", "b2", "c3", "d4"].map(|s| s.repeat(20));
    for (i, lost) in [false, true, false, true, false].into_iter().enumerate() {
        let xml = pytest_junit(&repo, &work, lost, lost)?;
        let started = format!("2026-11-2{i}T10:00:05Z");
        add_run(
            &api,
            &storage,
            &hub,
            &work,
            (100 + i as u64, &shas[i], &started),
            &xml,
        )?;
    }
    let act = |run_id: u32| {
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
            // Each scheduled run is a run of its own, so its cache key is new.
            .arg("--env")
            .arg(format!("GITHUB_RUN_ID={run_id}"))
            .arg("--env")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .arg("--env")
            .arg(format!("PAVED_E2E_CACHE={}", tmp.join("cache").display()))
            .env("HOME", tmp.join("home"));
        c
    };
    serve_base(&api, &head(&repo)?);
    let out = capture("act: quarantine.yml on schedule (first run)", &mut act(1))?;
    expect(&out, "E2E cache miss", "act quarantine cache")?;
    expect(
        &out,
        "opened the pull request https://github.com/acme/app/pull/1",
        "act quarantine proposal",
    )?;
    {
        let hub = lock(&hub);
        let body = hub
            .pulls
            .first()
            .map(|p| p.body.clone())
            .unwrap_or_default();
        if !body.contains("test_racy") || !body.contains("| 5 | 2 |") {
            return Err(format!(
                "act quarantine: the pull request's body lacks the evidence for test_racy:\n{body}"
            ));
        }
        let content = hub.branch_content().unwrap_or_default();
        if !content.contains(&format!("id = \"{RACY_ID}\"")) {
            return Err(format!(
                "act quarantine: quarantine.toml on `{BRANCH}` does not quarantine test_racy:\n{content}"
            ));
        }
        if content.matches("[[test]]").count() != 2 {
            return Err(format!(
                "act quarantine: quarantine.toml on `{BRANCH}` should hold the old entry and test_racy only:\n{content}"
            ));
        }
    }

    // The next schedule: the store comes back from the cache, nothing new is collected, and the
    // same pull request is updated.
    let out = capture("act: quarantine.yml on schedule (second run)", &mut act(2))?;
    expect(
        &out,
        "E2E cache restored from paved-quarantine-1-1",
        "act quarantine cache",
    )?;
    expect(
        &out,
        "E2E cache saved as paved-quarantine-2-1",
        "act quarantine cache",
    )?;
    expect(&out, "no new completed runs", "act quarantine collect")?;
    expect(
        &out,
        "updated the pull request https://github.com/acme/app/pull/1",
        "act quarantine second proposal",
    )?;
    let opened = api.requests_to("POST", "/repos/acme/app/pulls").len();
    if opened != 1 || lock(&hub).open().len() != 1 {
        return Err(format!(
            "act quarantine: two scheduled runs must open one pull request and update it (opened {opened})"
        ));
    }

    // A maintainer merges the proposal (squashed; GitHub deletes the branch), then fixes the test.
    let merged = {
        let mut hub = lock(&hub);
        let content = hub
            .branch_content()
            .ok_or("act quarantine: no proposal branch")?;
        hub.branch = None;
        if let Some(p) = hub.pulls.first_mut() {
            p.open = false;
            p.merged = true;
        }
        content
    };
    write(&repo.join("quarantine.toml"), &merged)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "chore(quarantine): quarantine 1 test (#1)",
        ],
    )?;
    write(&repo.join("tests/test_app.py"), FIXED_PY)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "fix(tests): test_racy waits for the server",
        ],
    )?;
    let fixed = head(&repo)?;
    serve_base(&api, &fixed);
    // The runs after the fix pass whichever way the race goes: 20 of them first, fewer than
    // the release rule's 35.
    let clean_run = |n: u64| -> Result<(), String> {
        let xml = pytest_junit(&repo, &work, n.is_multiple_of(2), false)?;
        let started = format!("2026-11-{}T{:02}:00:05Z", 25 + n / 24, n % 24);
        add_run(
            &api,
            &storage,
            &hub,
            &work,
            (200 + n, &fixed, &started),
            &xml,
        )
    };
    for n in 0..20 {
        clean_run(n)?;
    }
    let out = capture(
        "act: quarantine.yml on schedule (20 clean runs after the fix)",
        &mut act(3),
    )?;
    expect(
        &out,
        &format!("nothing to change, and no pull request from `{BRANCH}` is open"),
        "act quarantine: 20 clean runs release nothing",
    )?;
    if lock(&hub).pulls.len() != 1 {
        return Err("act quarantine: 20 clean runs must not open a pull request".into());
    }

    // 35 clean runs in a row: the release rule is met, and the release is proposed through the
    // same branch.
    for n in 20..35 {
        clean_run(n)?;
    }
    let out = capture(
        "act: quarantine.yml on schedule (35 clean runs after the fix)",
        &mut act(4),
    )?;
    expect(
        &out,
        &format!("released `{RACY_ID}`"),
        "act quarantine release",
    )?;
    expect(
        &out,
        "opened the pull request https://github.com/acme/app/pull/2",
        "act quarantine release proposal",
    )?;
    let check_release = |what: &str| -> Result<(), String> {
        let hub = lock(&hub);
        let open = hub.open();
        let [pull] = open.as_slice() else {
            return Err(format!(
                "act quarantine {what}: expected exactly one open pull request, found {}",
                open.len()
            ));
        };
        if pull.number != 2 || pull.title != "chore(quarantine): release 1 test" {
            return Err(format!(
                "act quarantine {what}: expected pull request #2 `chore(quarantine): release 1 test`, found #{} `{}`",
                pull.number, pull.title
            ));
        }
        for needle in [
            "### Release: stable again",
            "`pytest\\|tests.test_app\\|test_racy` | 35 | 0 | 35 |",
            "stable: the last 35 runs passed",
        ] {
            if !pull.body.contains(needle) {
                return Err(format!(
                    "act quarantine {what}: the pull request's body lacks `{needle}`:\n{}",
                    pull.body
                ));
            }
        }
        let content = hub.branch_content().unwrap_or_default();
        if content.contains("test_racy") || !content.contains("test_flaky") {
            return Err(format!(
                "act quarantine {what}: quarantine.toml on `{BRANCH}` should release test_racy and keep the rest:\n{content}"
            ));
        }
        Ok(())
    };
    check_release("release")?;

    // The next schedule edits that same pull request.
    let out = capture(
        "act: quarantine.yml on schedule (after the release was proposed)",
        &mut act(5),
    )?;
    expect(
        &out,
        "updated the pull request https://github.com/acme/app/pull/2",
        "act quarantine release re-run",
    )?;
    check_release("release re-run")?;
    let opened = api.requests_to("POST", "/repos/acme/app/pulls").len();
    if opened != 2 {
        return Err(format!(
            "act quarantine: the loop must open two pull requests in all (quarantine, release), opened {opened}"
        ));
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

const PROJECT: &str = "/projects/42";

/// A merge request on the fake GitLab.
#[derive(Debug, Clone)]
struct Merge {
    iid: u64,
    open: bool,
    title: String,
    description: String,
}

/// What the fake GitLab holds: the finished pipelines of `main` (oldest first), the content the
/// proposal branch was last committed with, and the merge requests.
#[derive(Debug, Default)]
struct Lab {
    pipelines: Vec<serde_json::Value>,
    branch: Option<String>,
    merges: Vec<Merge>,
}

fn merge_json(m: &Merge) -> serde_json::Value {
    json!({"iid": m.iid, "id": 9000 + m.iid, "state": if m.open { "opened" } else { "closed" },
           "title": m.title, "description": m.description,
           "source_branch": BRANCH, "target_branch": "main",
           "source_project_id": 42, "target_project_id": 42,
           "web_url": format!("https://gitlab.com/acme/app/-/merge_requests/{}", m.iid)})
}

/// A fake GitLab project `42` (`acme/app`) that keeps state as GitLab does: finished pipelines
/// of `main`, their jobs (`include_retried`), each job's artifacts archive behind a `302` to
/// object storage; the commits API; merge requests (`409` for a second open one from a branch).
fn fake_gitlab(api: &FakeServer) -> Arc<Mutex<Lab>> {
    let lab: Arc<Mutex<Lab>> = Arc::default();
    api.route("GET", PROJECT).respond(FakeResponse::json(
        200,
        json!({"id": 42, "path_with_namespace": "acme/app", "default_branch": "main"}),
    ));
    let l = lab.clone();
    api.route("GET", &format!("{PROJECT}/pipelines"))
        .query("ref", "main")
        .query("scope", "finished")
        .respond_with(move |_| {
            let list: Vec<_> = lock(&l).pipelines.iter().rev().cloned().collect();
            FakeResponse::json(200, json!(list))
        });
    let l = lab.clone();
    api.route("POST", &format!("{PROJECT}/repository/commits"))
        .respond_with(move |r| {
            let body = r.json();
            if body["branch"] != BRANCH {
                return FakeResponse::json(400, json!({"message": "unexpected branch"}));
            }
            lock(&l).branch = body["actions"][0]["content"].as_str().map(str::to_owned);
            FakeResponse::json(201, json!({"id": format!("{:040x}", 0xc0ffee)}))
        });
    let l = lab.clone();
    api.route("GET", &format!("{PROJECT}/merge_requests"))
        .query("source_branch", BRANCH)
        .query("state", "opened")
        .respond_with(move |_| {
            let lab = lock(&l);
            let open: Vec<_> = lab
                .merges
                .iter()
                .filter(|m| m.open)
                .map(merge_json)
                .collect();
            FakeResponse::json(200, json!(open))
        });
    let l = lab.clone();
    api.route("POST", &format!("{PROJECT}/merge_requests"))
        .respond_with(move |r| {
            let mut lab = lock(&l);
            if let Some(open) = lab.merges.iter().find(|m| m.open) {
                return FakeResponse::json(
                    409,
                    json!({"message": [format!("Another open merge request already exists for this source branch: !{}", open.iid)]}),
                );
            }
            let body = r.json();
            let merge = Merge {
                iid: 3 + lab.merges.len() as u64,
                open: true,
                title: body["title"].as_str().unwrap_or_default().to_owned(),
                description: body["description"].as_str().unwrap_or_default().to_owned(),
            };
            lab.merges.push(merge.clone());
            FakeResponse::json(201, merge_json(&merge))
        });
    for iid in 3..=5u64 {
        let l = lab.clone();
        api.route("PUT", &format!("{PROJECT}/merge_requests/{iid}"))
            .respond_with(move |r| {
                let mut lab = lock(&l);
                let Some(m) = lab.merges.iter_mut().find(|m| m.iid == iid) else {
                    return FakeResponse::json(404, json!({"message": "404 Not found"}));
                };
                let body = r.json();
                if let Some(t) = body["title"].as_str() {
                    m.title = t.to_owned();
                }
                if let Some(d) = body["description"].as_str() {
                    m.description = d.to_owned();
                }
                if body["state_event"] == "close" {
                    m.open = false;
                }
                FakeResponse::json(200, merge_json(m))
            });
        api.route("POST", &format!("{PROJECT}/merge_requests/{iid}/notes"))
            .respond(FakeResponse::json(201, json!({"id": 700 + iid})));
    }
    lab
}

/// A finished pipeline `id` of `main` at `sha` whose `test` job (`job`) declared its JUnit
/// as a report and kept it in its artifacts archive, as the README's GitLab block says.
fn add_pipeline(
    api: &FakeServer,
    storage: &FakeServer,
    lab: &Mutex<Lab>,
    work: &Path,
    (id, job, sha, at): (u64, u64, &str, &str),
    xml: &str,
) -> Result<(), String> {
    let archive = zip(work, "junit.xml", xml)?;
    api.route("GET", &format!("{PROJECT}/pipelines/{id}/jobs"))
        .query("include_retried", "true")
        .respond(FakeResponse::json(
            200,
            json!([{
                "id": job, "name": "test", "stage": "test", "status": "success", "ref": "main",
                "created_at": at, "started_at": at, "finished_at": at,
                "web_url": format!("https://gitlab.com/acme/app/-/jobs/{job}"),
                "artifacts_file": {"filename": "artifacts.zip", "size": archive.len()},
                "artifacts": [
                    {"file_type": "archive", "size": archive.len(), "filename": "artifacts.zip", "file_format": "zip"},
                    {"file_type": "junit", "size": 300, "filename": "junit.xml.gz", "file_format": "gzip"},
                    {"file_type": "trace", "size": 1000, "filename": "job.log", "file_format": null},
                ],
            }]),
        ));
    api.route("GET", &format!("{PROJECT}/jobs/{job}/artifacts"))
        .respond(FakeResponse::new(302).header(
            "Location",
            format!("{}/artifacts/{job}?X-Amz-Signature=signed", storage.url()),
        ));
    storage
        .route("GET", &format!("/artifacts/{job}"))
        .respond(FakeResponse::new(200).body(archive));
    lock(lab).pipelines.push(json!({
        "id": id, "iid": id - 400, "project_id": 42, "sha": sha, "ref": "main",
        "status": "success", "source": "push", "created_at": at, "updated_at": at,
        "web_url": format!("https://gitlab.com/acme/app/-/pipelines/{id}"),
    }));
    Ok(())
}

/// The loop component under gitlab-ci-local, both jobs each time: `collect` reads the JUnit of
/// five pipelines from the fake GitLab into the store (cached between the scheduled pipelines,
/// handed to the update job as an artifact) and `update` opens one merge request; the next
/// pipeline restores the store, collects nothing new, and updates that merge request; after the
/// merge and the fix, 35 clean pipelines release the test through a new one, updated next time.
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
    write(
        &repo.join(adoption::GITLAB),
        &readme_block(adoption::GITLAB)?,
    )?;
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    write(&repo.join("tests/test_app.py"), RACY_PY)?;
    write(&repo.join("paved.toml"), PAVED_TOML)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the flaky-test loop"],
    )?;

    let work = tmp.join("gitlab-quarantine-fake");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let api = FakeServer::start();
    let storage = FakeServer::start();
    let lab = fake_gitlab(&api);
    // Five pipelines of `main` (the second and third at the same commit), the test job's
    // pytest run losing the race in the second and the fourth.
    let shas = ["a1", "b2", "b2", "c3", "d4"].map(|s| s.repeat(20));
    for (i, lost) in [false, true, false, true, false].into_iter().enumerate() {
        let xml = pytest_junit(&repo, &work, lost, lost)?;
        let at = format!("2026-11-2{i}T10:00:05.000Z");
        let id = 500 + i as u64;
        add_pipeline(
            &api,
            &storage,
            &lab,
            &work,
            (id, 5000 + i as u64, &shas[i], &at),
            &xml,
        )?;
    }
    let gcl = || {
        let mut c = Command::new(crate::tools::npm_bin().join("gitlab-ci-local"));
        c.current_dir(&repo)
            .args(["--force-shell-executor", "--shell-isolation"])
            .arg("--variable")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .args(["--variable", "CI_PIPELINE_SOURCE=schedule"])
            .arg("--variable")
            .arg(format!("CI_API_V4_URL={}", api.url()))
            .args(["--variable", "CI_PROJECT_ID=42"])
            .args(["--variable", "GITLAB_TOKEN=glpat-e2e-token"])
            .args(["paved-quarantine-collect", "paved-quarantine-update"])
            .env("HOME", tmp.join("home"));
        c
    };
    let out = capture(
        "gitlab-ci-local: quarantine-loop collect and update (first pipeline)",
        &mut gcl(),
    )?;
    for i in 0..5 {
        if api
            .requests_to("GET", &format!("{PROJECT}/jobs/{}/artifacts", 5000 + i))
            .len()
            != 1
        {
            return Err(format!(
                "gitlab-ci-local quarantine: the collect job did not read the artifacts of job {} once",
                5000 + i
            ));
        }
    }
    expect(
        &out,
        "opened the merge request https://gitlab.com/acme/app/-/merge_requests/3",
        "gitlab-ci-local quarantine proposal",
    )?;
    {
        let lab = lock(&lab);
        let content = lab.branch.clone().unwrap_or_default();
        if !content.contains(&format!("id = \"{RACY_ID}\"")) {
            return Err(format!(
                "gitlab-ci-local quarantine: the proposed quarantine.toml does not quarantine test_racy:\n{content}"
            ));
        }
        let description = lab
            .merges
            .first()
            .map(|m| m.description.clone())
            .unwrap_or_default();
        if !description.contains("| 5 | 2 |") {
            return Err(format!(
                "gitlab-ci-local quarantine: the merge request lacks the evidence for test_racy:\n{description}"
            ));
        }
    }
    let out = capture(
        "gitlab-ci-local: quarantine-loop collect and update (second pipeline)",
        &mut gcl(),
    )?;
    expect(
        &out,
        "no new completed runs",
        "gitlab-ci-local quarantine cache",
    )?;
    expect(
        &out,
        "updated the merge request https://gitlab.com/acme/app/-/merge_requests/3",
        "gitlab-ci-local quarantine update",
    )?;
    let opened = api.requests_to("POST", "/projects/42/merge_requests").len();
    let open = lock(&lab).merges.iter().filter(|m| m.open).count();
    if opened != 1 || open != 1 {
        return Err(format!(
            "gitlab-ci-local quarantine: two pipelines must open one merge request (opened {opened}, {open} open)"
        ));
    }

    // The merge request is merged (GitLab removes the source branch, as the proposal asks), the
    // test fixed, and 35 clean pipelines later the release is proposed through the same branch.
    let merged = {
        let mut lab = lock(&lab);
        let content = lab
            .branch
            .take()
            .ok_or("gitlab-ci-local quarantine: no proposal branch")?;
        if let Some(m) = lab.merges.first_mut() {
            m.open = false;
        }
        content
    };
    write(&repo.join("quarantine.toml"), &merged)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "chore(quarantine): quarantine 1 test (!3)",
        ],
    )?;
    write(&repo.join("tests/test_app.py"), FIXED_PY)?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "fix(tests): test_racy waits for the server",
        ],
    )?;
    let fixed = head(&repo)?;
    for n in 0..35u64 {
        let xml = pytest_junit(&repo, &work, n.is_multiple_of(2), false)?;
        let at = format!("2026-11-{}T{:02}:00:05.000Z", 25 + n / 24, n % 24);
        add_pipeline(
            &api,
            &storage,
            &lab,
            &work,
            (600 + n, 6000 + n, &fixed, &at),
            &xml,
        )?;
    }
    let check_release = |what: &str| -> Result<(), String> {
        let lab = lock(&lab);
        let open: Vec<&Merge> = lab.merges.iter().filter(|m| m.open).collect();
        let [merge] = open.as_slice() else {
            return Err(format!(
                "gitlab-ci-local quarantine {what}: expected exactly one open merge request, found {}",
                open.len()
            ));
        };
        if merge.iid != 4 || merge.title != "chore(quarantine): release 1 test" {
            return Err(format!(
                "gitlab-ci-local quarantine {what}: expected !4 `chore(quarantine): release 1 test`, found !{} `{}`",
                merge.iid, merge.title
            ));
        }
        for needle in [
            "### Release: stable again",
            "`pytest\\|tests.test_app\\|test_racy` | 35 | 0 | 35 |",
            "stable: the last 35 runs passed",
        ] {
            if !merge.description.contains(needle) {
                return Err(format!(
                    "gitlab-ci-local quarantine {what}: the merge request lacks `{needle}`:\n{}",
                    merge.description
                ));
            }
        }
        let content = lab.branch.clone().unwrap_or_default();
        if content.contains("test_racy") || !content.contains("test_flaky") {
            return Err(format!(
                "gitlab-ci-local quarantine {what}: quarantine.toml on `{BRANCH}` should release test_racy and keep the rest:\n{content}"
            ));
        }
        Ok(())
    };
    let out = capture(
        "gitlab-ci-local: quarantine-loop collect and update (35 clean pipelines after the fix)",
        &mut gcl(),
    )?;
    expect(
        &out,
        &format!("released `{RACY_ID}`"),
        "gitlab-ci-local quarantine release",
    )?;
    expect(
        &out,
        "opened the merge request https://gitlab.com/acme/app/-/merge_requests/4",
        "gitlab-ci-local quarantine release proposal",
    )?;
    check_release("release")?;
    let out = capture(
        "gitlab-ci-local: quarantine-loop collect and update (after the release was proposed)",
        &mut gcl(),
    )?;
    expect(
        &out,
        "updated the merge request https://gitlab.com/acme/app/-/merge_requests/4",
        "gitlab-ci-local quarantine release re-run",
    )?;
    check_release("release re-run")?;

    let leaked = api
        .requests()
        .iter()
        .chain(storage.requests().iter())
        .any(|r| r.body_text().contains("glpat-e2e-token"));
    let storage_auth = storage
        .requests()
        .iter()
        .any(|r| r.header("private-token").is_some() || r.header("job-token").is_some());
    if leaked || storage_auth {
        return Err(
            "gitlab-ci-local quarantine: the token reached a body or the storage host".into(),
        );
    }
    Ok(())
}
