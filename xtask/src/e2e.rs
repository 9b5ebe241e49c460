//! `cargo xtask e2e`: run the golden pipelines the way a consumer repository would.
//!
//! It builds the tools (a debug build: the pipelines are under test here, not the optimiser), makes
//! a consumer git repository in a temporary directory outside this checkout and outside any git
//! repository (HOME too, where act keeps its work trees), and runs
//! - the reusable workflows and actions with act (`-P ubuntu-latest=-self-hosted`: on this host,
//!   no containers). The consumer's `.github/workflows/paved.yml` is README.md's adoption block,
//!   read at run time (see `adoption.rs`); its `paved-dev/paved/...@vX` references resolve to a
//!   snapshot of this tree with `--local-repository`, so nothing is fetched;
//! - the GitLab components with gitlab-ci-local (`--force-shell-executor --shell-isolation`).
//!   The consumer's `.gitlab-ci.yml` is README.md's block too; its `component:` lines resolve to
//!   this tree's templates through gitlab-ci-local's include cache.
//!
//! `cargo xtask e2e github` or `cargo xtask e2e gitlab` runs only one of the two.
//!
//! `cargo xtask e2e setup` (first in a full run) is the download path with no `PAVED_BIN_DIR`:
//! the same debug build packaged by `dist::package` as a release, its sums pinned by `bump` into
//! a copy of the tree in the temp dir, served over HTTP on loopback, installed by
//! actions/setup/install.sh, by the setup action under act and by a component under
//! gitlab-ci-local; and every refusal (tampered archive, no pin, 404, 500, plain http off host).
//!
//! The pipelines use `PAVED_BIN_DIR` pointing at the fresh binaries, a bare repository as the forge's git
//! host (tags are pushed there) and a fake forge API (releases are published there). Each runs
//! the default branch's pipeline (version, tag, release with notes), a tag's, and a pull or merge
//! request's (title lint, quarantine gate on pytest's JUnit report with one quarantined
//! failure), and the failure paths: a bad title, and a failure that is not quarantined.
//! The flaky-test loop (`quarantine.yml`, the `quarantine-loop` component) runs against fake
//! forges served from this process; see [`quarantine`].
//! Promotion (`promote.yml`, the `promote` component) runs against a real registry, refusal
//! first; see [`promote`]. A change that ServiceNow rejects (a fake instance on the Table API)
//! fails `change.yml`'s and the component's wait job and keeps the deploy job from running;
//! see [`change`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use paved_testkit::http::{FakeResponse, FakeServer};

use crate::adoption;
use crate::tools::{npm_bin, venv_bin};
use crate::util::{cargo, describe, root, step};

mod change;
mod promote;
mod quarantine;

/// The tools the pipelines under test run.
const BINS: &[&str] = &[
    "paved-version",
    "paved-changelog",
    "paved-quarantine",
    "paved-change",
    "paved-promote",
];

/// The consumer's tests: two pass, one fails (the flaky one its quarantine list names). pytest
/// writes the JUnit report the gate reads, on the runner (GitHub) or before the pipeline runs
/// (GitLab, where the README's block leaves the test job to the consumer).
const TESTS_PY: &str = r#"def test_ok():
    assert 1 + 1 == 2


def test_also_ok():
    assert "paved".upper() == "PAVED"


def test_flaky():
    raise AssertionError("timed out talking to the fake server")
"#;

/// pytest's identity for `test_flaky` (suite `pytest`, class from the module path).
const QUARANTINE: &str = r#"# Tests CI does not block on while they are flaky. Reviewed like code.
[[test]]
id = "pytest|tests.test_app|test_flaky"
reason = "flaky: 4 of 40 runs failed"
owner = "@acme/qa"
added = 2026-01-01
expires = 2099-01-01
"#;

/// The consumer's own test workflow, which the README's block calls as `./.github/workflows/test.yml`:
/// it runs the tests and uploads the JUnit XML as the artifact `junit`. A failing test fails its
/// step, not the job, so the PR gate (`needs: test`) runs and decides what the failure means.
const GITHUB_TEST: &str = r#"name: test
on: workflow_call
permissions: {}
jobs:
  test:
    runs-on: ubuntu-latest
    permissions: { contents: read }
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with: { persist-credentials: false }
      - run: pytest -p no:cacheprovider --junitxml=junit.xml tests
        continue-on-error: true
      - if: always()
        uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with: { name: junit, path: junit.xml }
"#;

/// release-notes.yml for a tag pushed by hand. `{version}` is the paved release under test.
const GITHUB_NOTES: &str = r#"name: notes
on: push
permissions: {}
jobs:
  notes:
    uses: paved-dev/paved/.github/workflows/release-notes.yml@v{version}
    permissions:
      contents: write
    with:
      tag: v0.2.0
      publish: false
  show:
    needs: notes
    runs-on: ubuntu-latest
    steps:
      - env:
          NOTES: ${{ needs.notes.outputs.notes }}
        run: |
          printf 'E2E tag notes: %s\n' "$NOTES"
"#;

/// A deployment between change.yml's open and close, as the README documents it. Open and close
/// are separate jobs (fresh workspaces): the record reaches close only as the run's artifact, and
/// the test evidence reaches open as the test job's.
const GITHUB_CHANGE: &str = r#"name: deploy
on: push
permissions: {}
jobs:
  test: { uses: ./.github/workflows/test.yml }
  change:
    needs: test
    uses: paved-dev/paved/.github/workflows/change.yml@v{version}
    permissions:
      contents: read
      deployments: write
      actions: read
    with:
      step: open
      environment: prod
      version: 0.2.0
      junit: junit.xml
      junit-artifact: junit
  deploy:
    needs: change
    runs-on: ubuntu-latest
    steps:
      - env:
          ID: ${{ needs.change.outputs.id }}
        run: echo "E2E deploying change $ID"
  close:
    needs: [change, deploy]
    if: always() && needs.change.result == 'success'
    uses: paved-dev/paved/.github/workflows/change.yml@v{version}
    permissions:
      contents: read
      deployments: write
    with:
      step: close
      environment: prod
      id: ${{ needs.change.outputs.id }}
      result: ${{ needs.deploy.result }}
"#;

/// The artifact pins in change.yml and the consumer's test.yml.
const UPLOAD_SHA: &str = "ea165f8d65b6e75b540449e92b4886f43607fa02";

/// Stand-ins for GitHub's artifact store (act cannot fetch the real actions offline): a
/// directory shared by the jobs of a run, keyed by artifact name.
const UPLOAD_STANDIN: &str = r#"name: stand-in for actions/upload-artifact
description: e2e stand-in; keeps the files under PAVED_E2E_ARTIFACTS/<name>.
inputs:
  name: { required: true }
  path: { required: true }
  include-hidden-files: { default: 'false' }
  if-no-files-found: { default: warn }
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        FROM: ${{ inputs.path }}
      run: |
        set -eu
        [ -e "$FROM" ] || { echo "upload-artifact: no files at $FROM" >&2; exit 1; }
        rm -rf "$PAVED_E2E_ARTIFACTS/$NAME"
        mkdir -p "$PAVED_E2E_ARTIFACTS/$NAME"
        if [ -d "$FROM" ]; then cp -R "$FROM/." "$PAVED_E2E_ARTIFACTS/$NAME/"; else cp "$FROM" "$PAVED_E2E_ARTIFACTS/$NAME/"; fi
"#;

const DOWNLOAD_WORKING: &str = r#"name: stand-in for actions/download-artifact
description: e2e stand-in; restores PAVED_E2E_ARTIFACTS/<name>.
inputs:
  name: { required: true }
  path: { default: . }
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        TO: ${{ inputs.path }}
      run: |
        set -eu
        [ -d "$PAVED_E2E_ARTIFACTS/$NAME" ] || { echo "download-artifact: no artifact $NAME" >&2; exit 1; }
        mkdir -p "$TO"
        cp -R "$PAVED_E2E_ARTIFACTS/$NAME/." "$TO/"
"#;

const PR_EVENT: &str = r#"{
  "action": "opened",
  "number": 7,
  "pull_request": {
    "number": 7,
    "title": "feat(api): add the thing",
    "head": { "ref": "feature", "sha": "0000000000000000000000000000000000000000" },
    "base": { "ref": "main" }
  }
}
"#;

/// The change component, as docs/pipelines.md documents it: opened before a deployment and
/// closed after it, in a later job. A file of its own next to the README's `.gitlab-ci.yml`
/// (`gitlab-ci-local --file`). `{version}` is the paved release under test.
const GITLAB_CHANGE: &str = r#"include:
  - component: $CI_SERVER_FQDN/paved-dev/paved/change@{version}
    inputs: { job-name: change-open, stage: test, command: open, env: prod, version: 0.2.0, junit: junit.xml }
  - component: $CI_SERVER_FQDN/paved-dev/paved/change@{version}
    inputs: { job-name: change-close, stage: deploy, command: close, id: $CHANGE_ID, result: success }
"#;

/// The download-artifact pin in pr.yml.
const DOWNLOAD_SHA: &str = "d3f86a106a0bac45b974a628896c90dbdf5c8093";

/// A fresh temporary directory outside this checkout (and outside any git repository), as a
/// consumer's runner has: a pipeline step that needs a repository it did not check out must fail
/// here too, not find paved's own.
fn consumer_tempdir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("paved-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let inside = Command::new("git")
        .current_dir(&dir)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if dir.starts_with(root()) || inside.status.success() {
        return Err(format!(
            "the e2e temp dir {} is inside a git repository ({}); set TMPDIR to a directory outside any checkout",
            dir.display(),
            String::from_utf8_lossy(&inside.stdout).trim()
        ));
    }
    Ok(dir)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let (run_github, run_gitlab, run_setup) = match args {
        [] => (true, true, true),
        [a] if a == "github" => (true, false, false),
        [a] if a == "gitlab" => (false, true, false),
        [a] if a == "setup" => (false, false, true),
        _ => {
            return Err(format!(
                "`e2e` takes at most one of `github` (act), `gitlab` (gitlab-ci-local) or `setup` (the download path) (got `{}`)",
                args.join(" ")
            ));
        }
    };
    let start = Instant::now();
    let mut build = cargo();
    // The workspace's test build (features unified as `nextest run --workspace` has them): in
    // `xtask ci` it comes straight from the cache the test suite just filled.
    build.args(["build", "--workspace", "--all-targets"]);
    step("build the tools (debug)", &mut build)?;
    let tmp = consumer_tempdir()?;
    let bin_dir = tmp.join("bin");
    std::fs::create_dir_all(&bin_dir).map_err(|e| e.to_string())?;
    for b in BINS {
        std::fs::copy(root().join("target/debug").join(b), bin_dir.join(b))
            .map_err(|e| format!("could not copy {b}: {e}"))?;
    }
    let paved = tmp.join("paved");
    for dir in ["actions", "templates", ".github/workflows"] {
        copy_dir(&root().join(dir), &paved.join(dir))?;
    }

    let t = Instant::now();
    if run_setup {
        // The download path first: the pipelines below use PAVED_BIN_DIR.
        let (pinned, mirror) = setup(&tmp)?;
        github_setup(&tmp, &pinned, &mirror)?;
        gitlab_setup(&tmp, &pinned, &mirror)?;
    }
    let setup_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    if run_github {
        promote::github(&tmp, &paved, &bin_dir, &crate::dist::workspace_version()?)?;
        github(&tmp, &paved, &bin_dir)?;
        change::github(&tmp, &paved, &bin_dir, &crate::dist::workspace_version()?)?;
        quarantine::github(&tmp, &paved, &bin_dir, &crate::dist::workspace_version()?)?;
    }
    let github_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    if run_gitlab {
        promote::gitlab(&tmp, &paved, &bin_dir)?;
        gitlab(&tmp, &paved, &bin_dir)?;
        change::gitlab(&tmp, &paved, &bin_dir)?;
        quarantine::gitlab(&tmp, &paved, &bin_dir)?;
    }
    let gitlab_secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "\ne2e: setup ({setup_secs:.1}s), act ({github_secs:.1}s) and gitlab-ci-local ({gitlab_secs:.1}s) ran the consumer pipelines green ({:.1}s in all)",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The README's adoption block for `file`, as a consumer copies it into its repository.
fn readme_block(file: &str) -> Result<String, String> {
    let readme = std::fs::read_to_string(root().join("README.md"))
        .map_err(|e| format!("could not read README.md: {e}"))?;
    crate::adoption::block(&readme, file).map_err(|e| format!("README.md: {e}"))
}

/// A bare repository outside the consumer that stands in for its forge's git host. The
/// consumer's `origin` stays the forge's URL (act and gitlab-ci-local read the repository's name
/// from it); the jobs' git reaches the bare repository instead, through `url.<bare>.insteadOf`
/// passed in the environment (`GIT_CONFIG_*`), so fetches, `ls-remote` and pushes work offline.
fn bare_origin(repo: &Path, origin: &Path, url: &str) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(origin).map_err(|e| format!("{}: {e}", origin.display()))?;
    git(origin, &["init", "-q", "--bare"])?;
    let bare = origin.display().to_string();
    git(repo, &["push", "-q", &bare, "main", "v0.1.0"])?;
    Ok(vec![
        "GIT_CONFIG_COUNT=1".to_owned(),
        format!("GIT_CONFIG_KEY_0=url.{bare}.insteadOf"),
        format!("GIT_CONFIG_VALUE_0={url}"),
    ])
}

/// The commit `rev` names in `git_dir`, or why not.
fn rev(git_dir: &Path, rev: &str) -> Result<String, String> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["rev-parse", "--verify", "-q"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("no `{rev}` in {}", git_dir.display()))
    }
}

/// The release pipeline pushed `tag` for the consumer's HEAD to its origin; fetch it back, as
/// the next pipeline (the tag's) sees it.
fn expect_pushed_tag(repo: &Path, origin: &Path, tag: &str, what: &str) -> Result<(), String> {
    let pushed = rev(origin, tag).map_err(|e| format!("{what}: the tag was not pushed ({e})"))?;
    let head = rev(&repo.join(".git"), "HEAD")?;
    if pushed != head {
        return Err(format!(
            "{what}: `{tag}` was pushed for {pushed}, not for HEAD {head}"
        ));
    }
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    git(
        repo,
        &["fetch", "-q", &origin.display().to_string(), &refspec],
    )
}

/// The consumer's tests, run by the real pytest into `junit.xml` (one failure: `test_flaky`).
fn run_tests(repo: &Path) -> Result<(), String> {
    let out = Command::new(venv_bin().join("pytest"))
        .current_dir(repo)
        .args(["-p", "no:cacheprovider", "--junitxml=junit.xml", "tests"])
        .output()
        .map_err(|e| {
            format!(
                "pytest ({}): {e}; run `cargo xtask tools`",
                venv_bin().display()
            )
        })?;
    if out.status.code() != Some(1) || !repo.join("junit.xml").is_file() {
        return Err(format!(
            "pytest was to fail `test_flaky` and write junit.xml ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(())
}

/// A fake forge API: release lookups find nothing, a created release is answered as the
/// vendor does (`201` and the release). Anything else is `404`, which enrichment tolerates.
fn fake_forge(
    releases: &str,
    created: fn(&serde_json::Value) -> serde_json::Value,
) -> Result<FakeServer, String> {
    let api = FakeServer::try_start()
        .map_err(|e| format!("the fake forge API could not listen on 127.0.0.1: {e}"))?;
    api.route("GET", releases)
        .respond(FakeResponse::json(200, serde_json::json!([])));
    api.route("POST", releases)
        .respond_with(move |r| FakeResponse::json(201, created(&r.json())));
    Ok(api)
}

/// The release the pipeline published: one `POST` to `releases`, for `tag`, with the notes.
fn expect_published(
    api: &FakeServer,
    releases: &str,
    tag: &str,
    notes_key: &str,
    what: &str,
) -> Result<(), String> {
    let posts = api.requests_to("POST", releases);
    let [post] = posts.as_slice() else {
        return Err(format!(
            "{what}: expected one `POST {releases}` to the fake API, got {}",
            posts.len()
        ));
    };
    let body = post.json();
    let notes = body[notes_key].as_str().unwrap_or_default();
    if body["tag_name"] != tag
        || !notes.contains("add the api")
        || !notes.contains("report test results")
    {
        return Err(format!(
            "{what}: the release published is not {tag} with its notes: {body}"
        ));
    }
    Ok(())
}

fn github(tmp: &Path, paved: &Path, bin_dir: &Path) -> Result<(), String> {
    let repo = tmp.join("github-consumer");
    let url = "https://github.com/acme/app.git";
    consumer(&repo, url)?;
    let origin = tmp.join("github-origin.git");
    let reach_origin = bare_origin(&repo, &origin, url)?;
    let version = crate::dist::workspace_version()?;
    let wf = repo.join(".github/workflows");
    // The README's block as it is; its references resolve to this checkout through
    // `--local-repository paved-dev/paved@v<version>` below.
    write(
        &repo.join(adoption::GITHUB),
        &readme_block(adoption::GITHUB)?,
    )?;
    write(&wf.join("test.yml"), GITHUB_TEST)?;
    write(
        &wf.join("notes.yml"),
        &GITHUB_NOTES.replace("{version}", &version),
    )?;
    write(
        &wf.join("deploy.yml"),
        &GITHUB_CHANGE.replace("{version}", &version),
    )?;
    write(&repo.join("event.json"), PR_EVENT)?;
    write(&repo.join(".gitignore"), "junit.xml\nevent.json\n")?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the paved pipelines"],
    )?;

    let api = fake_forge("/repos/acme/app/releases", |body| {
        let tag = body["tag_name"].as_str().unwrap_or_default();
        serde_json::json!({
            "id": 1,
            "tag_name": tag,
            "html_url": format!("https://github.com/acme/app/releases/tag/{tag}"),
            "upload_url": "https://uploads.github.com/repos/acme/app/releases/1/assets{?name,label}",
            "draft": false,
        })
    })?;
    // act fetches every remote action a job names; the artifact actions stand in as local ones.
    let download = tmp.join("download-artifact");
    write(&download.join("action.yml"), DOWNLOAD_WORKING)?;
    let upload = tmp.join("upload-artifact");
    write(&upload.join("action.yml"), UPLOAD_STANDIN)?;
    let artifacts = tmp.join("artifacts");
    // The runner has pytest, as a consumer's would after installing its test tools.
    let path = format!(
        "{}:{}",
        venv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let act = |event: &str, workflow: &str| {
        let mut c = Command::new(venv_bin().join("act"));
        c.current_dir(&repo)
            .args([event, "-W"])
            .arg(format!(".github/workflows/{workflow}"))
            .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
            .arg(format!("paved-dev/paved@v{version}={}", paved.display()))
            .arg("--local-repository")
            .arg(format!(
                "actions/download-artifact@{DOWNLOAD_SHA}={}",
                download.display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "actions/upload-artifact@{UPLOAD_SHA}={}",
                upload.display()
            ))
            .args(["-s", "GITHUB_TOKEN=e2e-token", "--env"])
            .arg(format!("GITHUB_API_URL={}", api.url()))
            .arg("--env")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .arg("--env")
            .arg(format!("PAVED_E2E_ARTIFACTS={}", artifacts.display()))
            .env("PATH", &path)
            .env("HOME", tmp.join("home"));
        for kv in &reach_origin {
            c.arg("--env").arg(kv);
        }
        if event == "pull_request" {
            c.args(["-e", "event.json"]);
        }
        c
    };
    let paved_yml = "paved.yml";
    // A push to the default branch: the tests, then the release (version, tag, push, notes,
    // the GitHub release).
    let out = capture("act: paved.yml on push", &mut act("push", paved_yml))?;
    expect(&out, "::set-output:: version=0.2.0", "act release")?;
    expect(
        &out,
        "Success - Main Run paved-changelog",
        "act release notes",
    )?;
    expect_pushed_tag(&repo, &origin, "v0.2.0", "act release")?;
    expect_published(
        &api,
        "/repos/acme/app/releases",
        "v0.2.0",
        "body",
        "act release",
    )?;
    // A repo that tags by hand: the notes of the tag the release pushed.
    let out = capture(
        "act: release-notes.yml for a tag",
        &mut act("push", "notes.yml"),
    )?;
    expect(&out, "E2E tag notes: ## Features", "act tag notes")?;
    expect(&out, "report test results", "act tag notes")?;
    // change.yml: open (evidence, record, approval), a deploy job, close in a fresh job.
    let out = capture(
        "act: change.yml open, deploy, close",
        &mut act("push", "deploy.yml"),
    )?;
    expect(&out, "E2E deploying change ", "act change open")?;
    expect(&out, "Success - Main Run paved-change", "act change")?;
    let closed = out
        .lines()
        .filter(|l| {
            l.contains("Change close (prod)") && l.contains("Success - Main Run paved-change")
        })
        .count();
    if closed == 0 {
        return Err(
            "act: change.yml's close job did not close the change (see the log above)".into(),
        );
    }
    // A pull request: the tests, then the title lint and the gate on the `junit` artifact.
    let out = capture(
        "act: paved.yml on pull_request",
        &mut act("pull_request", paved_yml),
    )?;
    expect(&out, "Success - Main Lint the title", "act PR title")?;
    expect(&out, "::set-output:: passed=true", "act quarantine gate")?;
    expect(&out, "::set-output:: quarantined=1", "act quarantine gate")?;
    // The title lint bites: a title that is not a Conventional Commit fails the run.
    write(
        &repo.join("event.json"),
        &PR_EVENT.replace("feat(api): add the thing", "Add the thing"),
    )?;
    must_fail(
        "act: paved.yml, a PR with a bad title",
        &mut act("pull_request", paved_yml),
        "Failure - Main Lint the title",
    )?;
    // The gate bites: with test_flaky released from quarantine, its failure fails the run.
    write(&repo.join("event.json"), PR_EVENT)?;
    write(&repo.join("quarantine.toml"), "# No test is quarantined.\n")?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "test: release test_flaky from quarantine",
        ],
    )?;
    let out = must_fail(
        "act: paved.yml, a PR whose tests fail",
        &mut act("pull_request", paved_yml),
        "Failure - Main paved-dev/paved/actions/quarantine",
    )?;
    expect(&out, "test_flaky", "act failing gate")?;
    Ok(())
}

/// Run a pipeline that must fail, and fail unless it did with `needle` in its output.
fn must_fail(title: &str, cmd: &mut Command, needle: &str) -> Result<String, String> {
    eprintln!("\n==> {title} (must fail)\n    $ {}", describe(cmd));
    let out = cmd.output().map_err(|e| format!("{title}: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !text.contains(needle) {
        eprintln!("{text}");
        return Err(format!(
            "{title}: expected a failed run with `{needle}` in its output ({})",
            out.status
        ));
    }
    Ok(text)
}

fn gitlab(tmp: &Path, paved: &Path, bin_dir: &Path) -> Result<(), String> {
    let repo = tmp.join("gitlab-consumer");
    let url = "https://gitlab.com/acme/app.git";
    consumer(&repo, url)?;
    let origin = tmp.join("gitlab-origin.git");
    let reach_origin = bare_origin(&repo, &origin, url)?;
    let version = crate::dist::workspace_version()?;
    // The README's block as it is. Its `component: $CI_SERVER_FQDN/paved-dev/paved/<name>@<ref>`
    // lines resolve to this checkout's templates through gitlab-ci-local's include cache, which
    // it reads instead of fetching (without `--fetch-includes`).
    copy_dir(
        &paved.join("templates"),
        &repo.join(format!(
            ".gitlab-ci-local/includes/gitlab.com/paved-dev/paved/{version}/templates"
        )),
    )?;
    write(
        &repo.join(adoption::GITLAB),
        &readme_block(adoption::GITLAB)?,
    )?;
    write(
        &repo.join(".gitlab-ci-change.yml"),
        &GITLAB_CHANGE.replace("{version}", &version),
    )?;
    // The consumer's test job's JUnit artifact (the README's block leaves that job to it).
    run_tests(&repo)?;
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the paved components"],
    )?;
    let api = fake_forge("/projects/42/releases", |body| {
        let tag = body["tag_name"].as_str().unwrap_or_default();
        serde_json::json!({
            "tag_name": tag,
            "_links": { "self": format!("https://gitlab.com/acme/app/-/releases/{tag}") },
        })
    })?;
    // `args`: what GitLab sets for the pipeline, over gitlab-ci-local's push-pipeline defaults.
    let gcl = |args: &[&str]| {
        let mut c = Command::new(npm_bin().join("gitlab-ci-local"));
        c.current_dir(&repo)
            .args(["--force-shell-executor", "--shell-isolation", "--variable"])
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .args(["--variable", "CI_DEFAULT_BRANCH=main", "--variable"])
            .arg(format!("CI_API_V4_URL={}", api.url()))
            .args([
                "--variable",
                "CI_PROJECT_ID=42",
                "--variable",
                "CI_JOB_TOKEN=e2e-job-token",
            ])
            .env("HOME", tmp.join("home"));
        for kv in &reach_origin {
            c.arg("--variable").arg(kv);
        }
        c.args(args);
        c
    };
    let merge_request = |title: &str| {
        let mut c = gcl(&[
            "--unset-variable",
            "CI_COMMIT_BRANCH",
            "--variable",
            "CI_PIPELINE_SOURCE=merge_request_event",
            "--variable",
            "CI_MERGE_REQUEST_IID=7",
            "--variable",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature",
            "--variable",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
            "--variable",
        ]);
        c.arg(format!("CI_MERGE_REQUEST_TITLE={title}"));
        c
    };
    // The default branch's pipeline: the version, tagged and pushed.
    let out = capture(
        "gitlab-ci-local: the default branch's pipeline",
        &mut gcl(&[]),
    )?;
    expect(
        &out,
        "pushed `v0.2.0` to `origin`",
        "gitlab-ci-local version",
    )?;
    expect_absent(
        &out,
        "paved-changelog starting",
        "gitlab-ci-local branch pipeline",
    )?;
    expect_pushed_tag(&repo, &origin, "v0.2.0", "gitlab-ci-local version")?;
    // The tag's pipeline: the notes, and the GitLab release.
    let out = capture(
        "gitlab-ci-local: the tag's pipeline",
        &mut gcl(&[
            "--unset-variable",
            "CI_COMMIT_BRANCH",
            "--variable",
            "CI_COMMIT_TAG=v0.2.0",
            "--variable",
            "CI_COMMIT_REF_NAME=v0.2.0",
        ]),
    )?;
    expect(&out, "add the api", "gitlab-ci-local release notes")?;
    expect_absent(
        &out,
        "paved-version starting",
        "gitlab-ci-local tag pipeline",
    )?;
    let notes = std::fs::read_to_string(repo.join("release-notes.md")).unwrap_or_default();
    if !notes.contains("add the api") {
        return Err(format!(
            "gitlab-ci-local: the changelog job left no release-notes.md artifact with the notes (got {notes:?})"
        ));
    }
    expect_published(
        &api,
        "/projects/42/releases",
        "v0.2.0",
        "description",
        "gitlab-ci-local release",
    )?;
    // A merge request's pipeline: the title lint, and the gate (one quarantined failure).
    let out = capture(
        "gitlab-ci-local: a merge request's pipeline",
        &mut merge_request("feat(api): add the thing"),
    )?;
    expect(
        &out,
        "checked 1 message: 0 not conventional",
        "gitlab-ci-local MR title lint",
    )?;
    expect(
        &out,
        "gate passed: 3 tests, 0 failing, 0 flaky, 1 quarantined failures",
        "gitlab-ci-local gate",
    )?;
    expect_absent(
        &out,
        "paved-version starting",
        "gitlab-ci-local MR pipeline",
    )?;
    // A title that is a flag (`--help`) is a message like any other, and fails the lint.
    for title in ["--help", "Add the thing"] {
        must_fail(
            &format!("gitlab-ci-local: an MR titled `{title}`"),
            &mut merge_request(title),
            "not conventional",
        )?;
    }
    // The gate bites: with test_flaky released from quarantine, its failure fails the pipeline.
    write(&repo.join("quarantine.toml"), "# No test is quarantined.\n")?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "test: release test_flaky from quarantine",
        ],
    )?;
    let out = must_fail(
        "gitlab-ci-local: an MR whose tests fail",
        &mut merge_request("feat(api): add the thing"),
        "test_flaky",
    )?;
    expect(&out, "paved-quarantine", "gitlab-ci-local failing gate")?;
    // change: open, then close in a job of its own (the record comes as open's artifact).
    let out = capture(
        "gitlab-ci-local: change open, then close",
        &mut gcl(&["--file", ".gitlab-ci-change.yml"]),
    )?;
    expect(&out, "opened change chg-", "gitlab-ci-local change open")?;
    expect(&out, "closed change chg-", "gitlab-ci-local change close")?;
    Ok(())
}

/// A repository with a release, a feature and a fix since, its tests and a quarantine list.
fn consumer(repo: &Path, remote: &str) -> Result<(), String> {
    std::fs::create_dir_all(repo).map_err(|e| e.to_string())?;
    git(repo, &["init", "-q", "-b", "main"])?;
    git(repo, &["config", "user.name", "Consumer CI"])?;
    git(repo, &["config", "user.email", "ci@consumer.example"])?;
    git(repo, &["remote", "add", "origin", remote])?;
    write(&repo.join("README.md"), "# app\n")?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "chore: start"])?;
    git(repo, &["tag", "-a", "v0.1.0", "-m", "v0.1.0"])?;
    write(&repo.join("api.txt"), "api\n")?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "feat: add the api"])?;
    write(&repo.join("tests/test_app.py"), TESTS_PY)?;
    write(&repo.join("quarantine.toml"), QUARANTINE)?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "fix: report test results"])?;
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for e in std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .flatten()
    {
        let p: PathBuf = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()))?;
        } else {
            std::fs::copy(&p, to.join(e.file_name()))
                .map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Run, print the output, fail on a non-zero exit.
fn capture(title: &str, cmd: &mut Command) -> Result<String, String> {
    eprintln!("\n==> {title}\n    $ {}", describe(cmd));
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("{title}: could not start `{}`: {e}", describe(cmd)))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    eprintln!("    ({title}: {:.1}s)", start.elapsed().as_secs_f64());
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{title} failed ({}); see the log above",
            out.status
        ))
    }
}

/// A job the pipeline's rules leave out did not run.
fn expect_absent(out: &str, needle: &str, what: &str) -> Result<(), String> {
    if out.contains(needle) {
        Err(format!(
            "{what}: `{needle}` in the output above; the rules should leave that job out"
        ))
    } else {
        Ok(())
    }
}

fn expect(out: &str, needle: &str, what: &str) -> Result<(), String> {
    if out.contains(needle) {
        Ok(())
    } else {
        Err(format!("{what}: expected `{needle}` in the output above"))
    }
}

// ---- setup: the download path, end to end --------------------------------------------------

/// A release mirror on loopback: python's http.server over `root` (laid out like GitHub's
/// release page, `<root>/v<version>/<asset>`), where every path under `/fail500/` answers 500.
/// Each request path is appended to `log`. Stopped (killed and reaped) on drop.
struct Mirror {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

const MIRROR_PY: &str = r#"import functools, http.server, sys
root, log = sys.argv[1], sys.argv[2]
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        if self.path.startswith("/fail500/"):
            self.send_error(500, "mirror is broken")
        else:
            super().do_GET()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl Mirror {
    fn start(root: &Path, log: PathBuf) -> Result<Self, String> {
        use std::io::BufRead as _;
        let python = venv_bin().join("python3");
        let mut child = Command::new(&python)
            .args(["-c", MIRROR_PY])
            .arg(root)
            .arg(&log)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "could not start the release mirror with `{}`: {e}; run `cargo xtask tools`",
                    python.display()
                )
            })?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| std::io::BufReader::new(out).read_line(&mut line));
        let port = line.trim().parse().ok();
        match (read, port) {
            (Some(Ok(_)), Some(port)) => Ok(Self { child, port, log }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "the release mirror (python http.server) did not say its port (got {line:?})"
                ))
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The request paths so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run of install.sh as a GitHub runner would run it (RUNNER_*, GITHUB_PATH/OUTPUT), with
/// nothing else from this environment but PATH.
struct Installed {
    code: Option<i32>,
    stderr: String,
    path: String,
    output: String,
}

fn run_install(script: &Path, dir: &Path, cache: &Path, mirror: &str, arch: &str) -> Installed {
    let github_path = dir.join("github_path");
    let github_output = dir.join("github_output");
    let _ = std::fs::write(&github_path, "");
    let _ = std::fs::write(&github_output, "");
    let out = Command::new("sh")
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", arch)
        .env("RUNNER_TOOL_CACHE", cache)
        .env("RUNNER_TEMP", dir.join("runner-temp"))
        .env("GITHUB_PATH", &github_path)
        .env("GITHUB_OUTPUT", &github_output)
        .env("PAVED_SETUP_MIRROR", mirror)
        .output();
    match out {
        Ok(out) => Installed {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            path: std::fs::read_to_string(&github_path).unwrap_or_default(),
            output: std::fs::read_to_string(&github_output).unwrap_or_default(),
        },
        Err(e) => Installed {
            code: None,
            stderr: format!("could not run sh: {e}"),
            path: String::new(),
            output: String::new(),
        },
    }
}

/// `paved-version --version` as the job's later steps find it, on the PATH the run wrote.
fn installed_runs(run: &Installed, version: &str) -> Result<(), String> {
    let path = format!(
        "{}:{}",
        run.path.trim(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ran = Command::new("sh")
        .args(["-c", "paved-version --version"])
        .env("PATH", path)
        .output()
        .map_err(|e| format!("setup: could not run sh: {e}"))?;
    let said = String::from_utf8_lossy(&ran.stdout);
    eprintln!("    installed paved-version --version: {}", said.trim());
    if !ran.status.success() || !said.contains(version) {
        return Err(format!(
            "setup: the installed `paved-version --version` printed {said:?}, expected {version}"
        ));
    }
    Ok(())
}

/// A fresh tool cache holding what an attacker plants: an unpacked tree whose paved-version
/// writes a proof file when run, and a marker with the pinned sha256. Returns (cache, proof).
fn fresh_cache_with_planted_tree(
    runs: &Path,
    version: &str,
    target: &str,
    sha: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let cache = runs.join("cache-planted");
    let proof = runs.join("planted-binary-ran");
    let tree = cache.join("paved").join(version).join(target);
    std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
    let bin = tree.join("paved-version");
    write(
        &bin,
        &format!(
            "#!/bin/sh\necho planted >\"{}\"\necho paved-version {version}\n",
            proof.display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    write(&tree.with_extension("complete"), &format!("{sha}\n"))?;
    Ok((cache, proof))
}

/// A run that must be refused: exit `code`, `needle` in the message, nothing on PATH.
fn refused(what: &str, run: &Installed, code: i32, needles: &[&str]) -> Result<(), String> {
    eprintln!(
        "\n==> setup: {what} (must be refused with exit {code})\n{}",
        run.stderr.trim_end()
    );
    let missing: Vec<&&str> = needles
        .iter()
        .filter(|n| !run.stderr.contains(**n))
        .collect();
    if run.code != Some(code) || !missing.is_empty() || !run.path.is_empty() {
        return Err(format!(
            "setup: {what}: expected exit {code} with {missing:?} in the message and nothing on PATH; got exit {:?}, PATH lines {:?}",
            run.code, run.path
        ));
    }
    Ok(())
}

/// The download path as a consumer meets it: the e2e build packaged by dist's one packaging
/// function, pins written by bump into a copy of this tree outside it, the release served over
/// real HTTP on loopback, and actions/setup/install.sh (as the action and every component run
/// it) downloading, verifying, caching; then every refusal. Returns the pinned copy of the tree
/// and the mirror, for the act and gitlab-ci-local runs.
fn setup(tmp: &Path) -> Result<(PathBuf, Mirror), String> {
    let version = crate::dist::workspace_version()?;
    let target = crate::dist::TARGET;
    let archive = format!("paved-{version}-{target}.tar.gz");
    let release = tmp.join("release");
    let assets = release.join(format!("v{version}"));
    let sums = crate::dist::package(
        &root().join("target/debug"),
        &assets,
        crate::dist::Linkage::Host,
    )?;
    let sha = sums
        .lines()
        .find(|l| l.ends_with(&archive))
        .and_then(|l| l.split_whitespace().next())
        .ok_or_else(|| format!("dist's SHA256SUMS names no `{archive}`:\n{sums}"))?
        .to_owned();

    // bump writes the pins into a copy of the tree (the parts that hold pins), never this one.
    let pinned = tmp.join("paved-pinned");
    std::fs::create_dir_all(&pinned).map_err(|e| e.to_string())?;
    for rel in crate::bump::PINNED {
        let from = root().join(rel);
        if from.is_dir() {
            copy_dir(&from, &pinned.join(rel))?;
        } else {
            std::fs::copy(&from, pinned.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        }
    }
    let script = pinned.join("actions/setup/install.sh");
    let before = std::fs::read_to_string(&script).map_err(|e| e.to_string())?;
    // A SHA256SUMS without the archive's line pins nothing: bump refuses it and writes nothing.
    let no_archive: String = sums
        .lines()
        .filter(|l| !l.ends_with(".tar.gz"))
        .map(|l| format!("{l}\n"))
        .collect();
    match crate::bump::bump_pins(&pinned, &version, &version, &no_archive) {
        Err(e)
            if e.contains(&format!(
                "SHA256SUMS lists no `paved-{version}-<target>.tar.gz`"
            )) =>
        {
            eprintln!("\n==> setup: bump with a SHA256SUMS that lists no archive is refused\n{e}");
        }
        other => {
            return Err(format!(
                "bump: a SHA256SUMS without the archive must be refused, got {other:?}"
            ));
        }
    }
    if std::fs::read_to_string(&script).map_err(|e| e.to_string())? != before {
        return Err("bump changed install.sh although it refused the SHA256SUMS".into());
    }
    let changed = crate::bump::bump_pins(&pinned, &version, &version, &sums)?;
    eprintln!("\n==> setup: bump pinned {sha} in {}", changed.join(", "));
    let pin = format!("{target}) echo {sha} ;;");
    let text = std::fs::read_to_string(&script).map_err(|e| e.to_string())?;
    if !text.contains(&pin) {
        return Err(format!("bump did not pin `{pin}` in install.sh"));
    }
    for tool in crate::codegen::TOOLS {
        let rel = format!("templates/{}/template.yml", tool.dir);
        let text = std::fs::read_to_string(pinned.join(&rel)).map_err(|e| e.to_string())?;
        if !text.contains(&pin) {
            return Err(format!("bump did not pin `{pin}` in the component {rel}"));
        }
    }

    // A tampered copy of the release: one byte of the archive flipped.
    let tampered = release.join("tampered").join(format!("v{version}"));
    std::fs::create_dir_all(&tampered).map_err(|e| e.to_string())?;
    let mut bytes = std::fs::read(assets.join(&archive)).map_err(|e| e.to_string())?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(tampered.join(&archive), bytes).map_err(|e| e.to_string())?;

    let mirror = Mirror::start(&release, tmp.join("mirror.log"))?;
    let runs = tmp.join("setup-runs");
    std::fs::create_dir_all(runs.join("home")).map_err(|e| e.to_string())?;
    let cache = runs.join("toolcache");
    let cached = cache.join("paved").join(&version).join(&archive);
    // Each run unpacks into a fresh directory of its own under RUNNER_TEMP.
    let run_temp = runs.join("runner-temp").display().to_string();

    // Download, verify, cache the archive, PATH, and the installed binary runs.
    let first = run_install(&script, &runs, &cache, &mirror.url(""), "X64");
    eprintln!(
        "\n==> setup: install.sh from {}\n{}",
        mirror.url(""),
        first.stderr.trim_end()
    );
    if first.code != Some(0) {
        return Err(format!(
            "setup: install.sh from the mirror failed (exit {:?})",
            first.code
        ));
    }
    let archive_path = format!("/v{version}/{archive}");
    if mirror.requests() != [archive_path.clone()] {
        return Err(format!(
            "setup: expected one request for {archive_path}, the mirror saw {:?}",
            mirror.requests()
        ));
    }
    if !first.path.trim().starts_with(&run_temp)
        || first.path.trim().lines().count() != 1
        || first.output.trim() != format!("version={version}")
    {
        return Err(format!(
            "setup: expected one directory under {run_temp} on GITHUB_PATH and version={version} in GITHUB_OUTPUT, got {:?} and {:?}",
            first.path, first.output
        ));
    }
    if std::fs::read(&cached).ok() != std::fs::read(assets.join(&archive)).ok() {
        return Err(format!(
            "setup: the cache must hold the verified archive (sha256 {sha}) at {}",
            cached.display()
        ));
    }
    installed_runs(&first, &version)?;
    // Second run: the cache, no download.
    let second = run_install(&script, &runs, &cache, &mirror.url(""), "X64");
    eprintln!(
        "\n==> setup: install.sh again\n{}",
        second.stderr.trim_end()
    );
    if second.code != Some(0)
        || second.stderr.contains("downloading")
        || !second.stderr.contains("from the cache")
        || mirror.requests().len() != 1
        || !second.path.trim().starts_with(&run_temp)
        || second.path == first.path
    {
        return Err(format!(
            "setup: the second run must use the cache, download nothing and unpack afresh (exit {:?}, mirror saw {:?}, PATH {:?} then {:?})",
            second.code,
            mirror.requests(),
            first.path,
            second.path
        ));
    }
    installed_runs(&second, &version)?;

    // Finding H3: an unpacked tree and a marker holding the (public) pin, planted in the cache
    // by whoever can write it, are never run: the release is downloaded and verified instead.
    let planted = fresh_cache_with_planted_tree(&runs, &version, target, &sha)?;
    let run = run_install(&script, &runs, &planted.0, &mirror.url(""), "X64");
    eprintln!(
        "\n==> setup: a cache with a planted tree and marker\n{}",
        run.stderr.trim_end()
    );
    if run.code != Some(0) || !run.stderr.contains("downloading") {
        return Err(format!(
            "setup: with a planted cache the release must be downloaded (exit {:?})",
            run.code
        ));
    }
    installed_runs(&run, &version)?;
    if planted.1.exists() {
        return Err("setup: the binary planted in the cache ran".into());
    }

    // Refusals, each with a fresh cache.
    let fresh = |name: &str| runs.join(name);
    let run = run_install(
        &script,
        &runs,
        &fresh("cache-tampered"),
        &mirror.url("/tampered"),
        "X64",
    );
    refused(
        "an archive with one byte flipped",
        &run,
        1,
        &["checksum mismatch", &sha, "refusing to install it"],
    )?;
    if fresh("cache-tampered")
        .join("paved")
        .join(&version)
        .join(&archive)
        .exists()
    {
        return Err("setup: the tampered archive was cached".into());
    }
    let run = run_install(
        &script,
        &runs,
        &fresh("cache-arm"),
        &mirror.url(""),
        "ARM64",
    );
    refused(
        "a target with no pin",
        &run,
        2,
        &[
            "pins no sha256",
            "aarch64-unknown-linux-musl",
            "PAVED_BIN_DIR",
        ],
    )?;
    let run = run_install(
        &script,
        &runs,
        &fresh("cache-404"),
        &mirror.url("/nowhere"),
        "X64",
    );
    refused(
        "a mirror without the release (404)",
        &run,
        3,
        &["could not download", "404"],
    )?;
    let seen = mirror.requests().len();
    let run = run_install(
        &script,
        &runs,
        &fresh("cache-500"),
        &mirror.url("/fail500"),
        "X64",
    );
    refused(
        "a mirror that answers 500",
        &run,
        3,
        &["could not download", "500"],
    )?;
    if mirror.requests().len() - seen < 2 {
        return Err("setup: a 500 from the mirror must be retried".into());
    }
    for url in [
        "http://paved-mirror.invalid",
        "http://127.0.0.1:1@paved-mirror.invalid",
    ] {
        let run = run_install(&script, &runs, &fresh("cache-http"), url, "X64");
        refused(
            &format!("plain http off this machine ({url})"),
            &run,
            2,
            &["plain http on a host that is not this machine"],
        )?;
    }
    Ok((pinned, mirror))
}

/// A consumer job that installs paved with actions/setup (no binary-dir) and runs it.
const GITHUB_SETUP: &str = r#"name: setup
on: push
permissions: {}
jobs:
  setup:
    runs-on: ubuntu-latest
    steps:
      - id: paved
        uses: paved-dev/paved/actions/setup@v{version}
      - env:
          VERSION: ${{ steps.paved.outputs.version }}
        run: |
          echo "E2E setup output version=$VERSION"
          echo "E2E setup runs $(paved-version --version)"
"#;

/// actions/setup under act, downloading from the mirror: a tampered archive fails the job, the
/// release installs and runs, and a second run takes it from the cache.
fn github_setup(tmp: &Path, pinned: &Path, mirror: &Mirror) -> Result<(), String> {
    let version = crate::dist::workspace_version()?;
    let repo = tmp.join("github-setup-consumer");
    consumer(&repo, "https://github.com/acme/app.git")?;
    write(
        &repo.join(".github/workflows/setup.yml"),
        &GITHUB_SETUP.replace("{version}", &version),
    )?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "ci: install paved"])?;
    let home = tmp.join("home-github-setup");
    let act = |mirror_url: &str| {
        let mut c = Command::new(venv_bin().join("act"));
        c.current_dir(&repo)
            .args(["push", "-W", ".github/workflows/setup.yml"])
            .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
            .arg(format!("paved-dev/paved@v{version}={}", pinned.display()))
            .arg("--env")
            .arg(format!("PAVED_SETUP_MIRROR={mirror_url}"))
            .env("HOME", &home);
        c
    };
    let mut bad = act(&mirror.url("/tampered"));
    eprintln!(
        "\n==> act: actions/setup from a tampered mirror (must fail)\n    $ {}",
        describe(&bad)
    );
    let out = bad.output().map_err(|e| format!("act: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success()
        || !text.contains("checksum mismatch")
        || text.contains("E2E setup runs")
    {
        eprintln!("{text}");
        return Err("act: actions/setup installed a tampered archive".into());
    }
    let out = capture(
        "act: actions/setup from the mirror",
        &mut act(&mirror.url("")),
    )?;
    expect(&out, "paved setup: downloading", "act setup")?;
    expect(
        &out,
        &format!("E2E setup output version={version}"),
        "act setup output",
    )?;
    expect(
        &out,
        &format!("E2E setup runs paved-version {version}"),
        "act setup",
    )?;
    let seen = mirror.requests().len();
    let out = capture(
        "act: actions/setup again (cached)",
        &mut act(&mirror.url("")),
    )?;
    expect(&out, "from the cache", "act setup cache")?;
    expect(
        &out,
        &format!("E2E setup output version={version}"),
        "act setup output from the cache",
    )?;
    expect(
        &out,
        &format!("E2E setup runs paved-version {version}"),
        "act setup cache",
    )?;
    if out.contains("paved setup: downloading") || mirror.requests().len() != seen {
        return Err("act: the second actions/setup run downloaded again".into());
    }
    Ok(())
}

/// `{version}`: the release under test; the component resolves through the include cache.
const GITLAB_SETUP: &str = r#"stages: [build]
include:
  - component: $CI_SERVER_FQDN/paved-dev/paved/version@{version}
    inputs:
      stage: build
"#;

/// A component (they all embed the same install script) under gitlab-ci-local, downloading from
/// the mirror: a tampered archive fails the job, the release installs and runs, then the cache.
fn gitlab_setup(tmp: &Path, pinned: &Path, mirror: &Mirror) -> Result<(), String> {
    let version = crate::dist::workspace_version()?;
    let repo = tmp.join("gitlab-setup-consumer");
    consumer(&repo, "https://gitlab.com/acme/app.git")?;
    copy_dir(
        &pinned.join("templates"),
        &repo.join(format!(
            ".gitlab-ci-local/includes/gitlab.com/paved-dev/paved/{version}/templates"
        )),
    )?;
    write(
        &repo.join(".gitlab-ci.yml"),
        &GITLAB_SETUP.replace("{version}", &version),
    )?;
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "ci: adopt the paved components"],
    )?;
    let gcl = |mirror_url: &str, cache: &str| {
        let mut c = Command::new(npm_bin().join("gitlab-ci-local"));
        c.current_dir(&repo)
            .args(["--force-shell-executor", "--shell-isolation", "--variable"])
            .arg(format!("PAVED_SETUP_MIRROR={mirror_url}"))
            .arg("--variable")
            .arg(format!("PAVED_CACHE_DIR={}", tmp.join(cache).display()))
            // Where each run unpacks its own copy (not the host's /tmp).
            .arg("--variable")
            .arg(format!("TMPDIR={}", tmp.join("gitlab-tmp").display()))
            .arg("paved-version")
            .env("HOME", tmp.join("home-gitlab-setup"));
        c
    };
    let mut bad = gcl(&mirror.url("/tampered"), "gitlab-cache-tampered");
    eprintln!(
        "\n==> gitlab-ci-local: the version component from a tampered mirror (must fail)\n    $ {}",
        describe(&bad)
    );
    let out = bad.output().map_err(|e| format!("gitlab-ci-local: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !text.contains("checksum mismatch") {
        eprintln!("{text}");
        return Err("gitlab-ci-local: the component installed a tampered archive".into());
    }
    let out = capture(
        "gitlab-ci-local: the version component from the mirror",
        &mut gcl(&mirror.url(""), "gitlab-cache"),
    )?;
    expect(&out, "paved setup: downloading", "gitlab-ci-local setup")?;
    expect(
        &out,
        &format!("paved setup: using {}", tmp.join("gitlab-tmp").display()),
        "gitlab-ci-local setup unpacks outside the cache",
    )?;
    expect(
        &out,
        &format!("installed paved {version}"),
        "gitlab-ci-local setup",
    )?;
    expect(
        &out,
        "0.2.0",
        "gitlab-ci-local version from the downloaded binary",
    )?;
    let seen = mirror.requests().len();
    let out = capture(
        "gitlab-ci-local: the version component again (cached)",
        &mut gcl(&mirror.url(""), "gitlab-cache"),
    )?;
    expect(&out, "from the cache", "gitlab-ci-local setup cache")?;
    if out.contains("paved setup: downloading") || mirror.requests().len() != seen {
        return Err("gitlab-ci-local: the second run downloaded again".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! actions/setup/install.sh on its own: checksum verification, the tool cache, and failing
    //! loudly when verification is impossible. A `file://` mirror stands in for the release page.

    use super::*;

    struct Setup {
        dir: tempfile::TempDir,
        script: PathBuf,
    }

    /// A release archive with a fake paved-version, and install.sh pinned to `sha` for it.
    /// `pin`: "real" (the archive's sha256), "wrong", or "none" (no checksum for the target).
    fn setup(pin: &str) -> (Setup, String) {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        std::fs::create_dir_all(&stage).unwrap();
        write(&stage.join("paved-version"), "#!/bin/sh\necho 9.9.9\n").unwrap();
        let mirror = dir.path().join("mirror/v0.1.0");
        std::fs::create_dir_all(&mirror).unwrap();
        let archive = mirror.join("paved-0.1.0-x86_64-unknown-linux-musl.tar.gz");
        let ok = Command::new("sh")
            .current_dir(&stage)
            .args([
                "-c",
                "chmod +x paved-version && tar -czf \"$0\" paved-version",
            ])
            .arg(&archive)
            .status()
            .unwrap();
        assert!(ok.success());
        let real = Command::new("sha256sum").arg(&archive).output().unwrap();
        let real = String::from_utf8_lossy(&real.stdout)[..64].to_owned();
        let script = std::fs::read_to_string(root().join("actions/setup/install.sh")).unwrap();
        let script = script.replace(
            &format!(
                "paved_version={}",
                crate::dist::workspace_version().unwrap()
            ),
            "paved_version=0.1.0",
        );
        let sha = match pin {
            "real" => real.clone(),
            "wrong" => "0".repeat(64),
            _ => String::new(),
        };
        let sums = if sha.is_empty() {
            String::new()
        } else {
            format!("{sha}  paved-0.1.0-x86_64-unknown-linux-musl.tar.gz\n")
        };
        let script = if sums.is_empty() {
            script
        } else {
            crate::bump::set_checksums(&script, "0.1.0", &sums).unwrap()
        };
        let path = dir.path().join("install.sh");
        write(&path, &script).unwrap();
        (Setup { dir, script: path }, real)
    }

    fn run(s: &Setup) -> (bool, String, String) {
        let mirror = format!("file://{}", s.dir.path().join("mirror").display());
        let (code, stderr, path) = run_from(s, &mirror);
        (code == Some(0), stderr, path)
    }

    fn run_from(s: &Setup, mirror: &str) -> (Option<i32>, String, String) {
        let github_path = s.dir.path().join("github_path");
        write(&github_path, "").unwrap();
        let out = Command::new("sh")
            .arg(&s.script)
            .env_remove("PAVED_BIN_DIR")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", s.dir.path().join("toolcache"))
            .env("RUNNER_TEMP", s.dir.path().join("runner-temp"))
            .env("GITHUB_PATH", &github_path)
            .env("PAVED_SETUP_MIRROR", mirror)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read_to_string(github_path).unwrap(),
        )
    }

    /// Where the release archive is cached (the verified archive, never an unpacked tree).
    const CACHED: &str = "toolcache/paved/0.1.0/paved-0.1.0-x86_64-unknown-linux-musl.tar.gz";

    /// `paved-version` as the job's later steps find it: on the PATH the run wrote to
    /// GITHUB_PATH. Returns its stdout.
    fn run_installed(github_path: &str) -> String {
        let dir = github_path.trim();
        assert!(!dir.is_empty() && !dir.contains('\n'), "{github_path:?}");
        let path = format!("{dir}:{}", std::env::var("PATH").unwrap_or_default());
        let out = Command::new("sh")
            .args(["-c", "paved-version"])
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A `paved-version` that, if it ever runs, leaves `proof` behind (the attacker's binary).
    fn planted(proof: &Path) -> String {
        format!(
            "#!/bin/sh\necho planted >\"{}\"\necho 6.6.6\n",
            proof.display()
        )
    }

    fn sha256(path: &Path) -> String {
        assert!(path.is_file(), "{} is not a file", path.display());
        let out = Command::new("sha256sum").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout)[..64].to_owned()
    }

    #[test]
    fn setup_installs_a_verified_release_into_the_tool_cache() {
        let (s, real) = setup("real");
        let (ok, stderr, path) = run(&s);
        assert!(ok, "{stderr}");
        // The cache holds the verified archive; the binaries are unpacked for this run only,
        // outside the cache.
        assert_eq!(sha256(&s.dir.path().join(CACHED)), real);
        let first = path.trim().to_owned();
        assert!(
            !first.starts_with(&s.dir.path().join("toolcache").display().to_string()),
            "the binaries on PATH must not live in the cache: {first}"
        );
        assert_eq!(run_installed(&path).trim(), "9.9.9");
        // Cached: the second run downloads nothing, even with the mirror gone, and unpacks
        // into a directory of its own.
        std::fs::remove_dir_all(s.dir.path().join("mirror")).unwrap();
        let (ok, stderr, path) = run(&s);
        assert!(ok, "{stderr}");
        assert!(!stderr.contains("downloading"), "{stderr}");
        assert!(stderr.contains("from the cache"), "{stderr}");
        assert_ne!(path.trim(), first, "each run unpacks afresh");
        assert_eq!(run_installed(&path).trim(), "9.9.9");
    }

    #[test]
    fn setup_never_runs_a_binary_planted_in_the_cache() {
        // Finding H3: whoever can write the cache (a self-hosted runner's tool cache shared with
        // pull-request jobs, a persistent ~/.cache) plants an unpacked tree and a marker holding
        // the pinned sha256, which is public. Neither is trusted: only a cached archive that
        // hashes to the pin, every run.
        let (s, real) = setup("real");
        let proof = s.dir.path().join("planted-binary-ran");
        let tree = s
            .dir
            .path()
            .join("toolcache/paved/0.1.0/x86_64-unknown-linux-musl");
        std::fs::create_dir_all(&tree).unwrap();
        write(&tree.join("paved-version"), &planted(&proof)).unwrap();
        assert!(
            Command::new("chmod")
                .arg("+x")
                .arg(tree.join("paved-version"))
                .status()
                .unwrap()
                .success()
        );
        write(&tree.with_extension("complete"), &format!("{real}\n")).unwrap();
        let (ok, stderr, path) = run(&s);
        assert!(ok, "{stderr}");
        assert_eq!(run_installed(&path).trim(), "9.9.9", "{stderr}");
        assert!(!proof.exists(), "the planted binary ran: {stderr}");
    }

    #[test]
    fn setup_replaces_a_cached_archive_that_does_not_match_the_pin() {
        let (s, real) = setup("real");
        // A planted archive (its own paved-version) where the cached archive belongs.
        let proof = s.dir.path().join("planted-binary-ran");
        let evil = s.dir.path().join("evil");
        std::fs::create_dir_all(&evil).unwrap();
        write(&evil.join("paved-version"), &planted(&proof)).unwrap();
        let cached = s.dir.path().join(CACHED);
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        let ok = Command::new("sh")
            .current_dir(&evil)
            .args([
                "-c",
                "chmod +x paved-version && tar -czf \"$0\" paved-version",
            ])
            .arg(&cached)
            .status()
            .unwrap();
        assert!(ok.success());
        let planted_sha = sha256(&cached);
        let (ok, stderr, path) = run(&s);
        assert!(ok, "{stderr}");
        assert!(
            stderr.contains(&planted_sha) && stderr.contains("downloading"),
            "the mismatch is said, and the release downloaded again: {stderr}"
        );
        assert_eq!(run_installed(&path).trim(), "9.9.9", "{stderr}");
        assert!(!proof.exists(), "the planted binary ran: {stderr}");
        assert_eq!(
            sha256(&cached),
            real,
            "the cache now holds the pinned archive"
        );
    }

    #[test]
    fn setup_installs_even_when_the_cache_cannot_be_written() {
        let (s, _) = setup("real");
        // A file where the cache directory should be: nothing can be cached under it.
        write(&s.dir.path().join("toolcache"), "not a directory\n").unwrap();
        let (ok, stderr, path) = run(&s);
        assert!(ok, "{stderr}");
        assert!(stderr.contains("could not cache the archive"), "{stderr}");
        assert_eq!(run_installed(&path).trim(), "9.9.9", "{stderr}");
    }

    #[test]
    fn setup_refuses_an_archive_whose_checksum_differs() {
        let (s, real) = setup("wrong");
        let (ok, stderr, path) = run(&s);
        assert!(!ok);
        assert!(stderr.contains("checksum mismatch"), "{stderr}");
        assert!(stderr.contains(&real), "{stderr}");
        assert!(path.is_empty(), "nothing goes on PATH: {path}");
        assert!(
            !s.dir
                .path()
                .join("toolcache/paved/0.1.0/x86_64-unknown-linux-musl/paved-version")
                .exists()
        );
        assert!(
            !s.dir.path().join(CACHED).exists(),
            "a refused archive is not cached"
        );
    }

    #[test]
    fn setup_never_uses_a_cache_made_from_another_archive() {
        let (s, _) = setup("real");
        let (ok, stderr, _) = run(&s);
        assert!(ok, "{stderr}");
        // The action now pins another sha256 for the same version: the cached binaries came
        // from an archive it does not pin, so it downloads again and refuses the mismatch.
        let script = std::fs::read_to_string(&s.script).unwrap();
        let sums = format!(
            "{}  paved-0.1.0-x86_64-unknown-linux-musl.tar.gz\n",
            "0".repeat(64)
        );
        write(
            &s.script,
            &crate::bump::set_checksums(&script, "0.1.0", &sums).unwrap(),
        )
        .unwrap();
        let (ok, stderr, path) = run(&s);
        assert!(!ok, "the cache of another archive was used: {stderr}");
        assert!(
            stderr.contains("deleting it and downloading again"),
            "{stderr}"
        );
        assert!(stderr.contains("checksum mismatch"), "{stderr}");
        assert!(path.is_empty(), "{path}");
    }

    #[test]
    fn setup_refuses_plain_http_off_this_machine() {
        let (s, _) = setup("real");
        for mirror in [
            "http://paved-mirror.invalid",
            "http://localhost:8080@paved-mirror.invalid",
            "ftp://paved-mirror.invalid",
        ] {
            let (code, stderr, path) = run_from(&s, mirror);
            assert_eq!(code, Some(2), "{mirror}: {stderr}");
            assert!(stderr.contains("the mirror URL"), "{stderr}");
            assert!(
                !stderr.contains("downloading"),
                "nothing is fetched: {stderr}"
            );
            assert!(path.is_empty(), "{path}");
        }
    }

    #[test]
    fn setup_fails_loudly_without_a_pinned_checksum() {
        let (s, _) = setup("none");
        let (ok, stderr, _) = run(&s);
        assert!(!ok);
        assert!(stderr.contains("pins no sha256"), "{stderr}");
        assert!(stderr.contains("PAVED_BIN_DIR"), "{stderr}");
    }

    /// The argument vector actions/setup/run.sh hands to the tool for these step inputs: a
    /// recorder stands in for the binary and writes each argument on a line of its own.
    fn run_sh_argv(env: &[(&str, &str)]) -> (std::process::Output, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let recorder = dir.path().join("record");
        let log = dir.path().join("argv");
        write(
            &recorder,
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >\"$PAVED_TEST_ARGV\"\n",
        )
        .unwrap();
        let ok = Command::new("chmod")
            .arg("+x")
            .arg(&recorder)
            .status()
            .unwrap();
        assert!(ok.success());
        let mut cmd = Command::new("sh");
        cmd.arg(root().join("actions/setup/run.sh"))
            .env("PAVED_ACTION_BIN", &recorder)
            .env("PAVED_TEST_ARGV", &log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let argv = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        (out, argv)
    }

    #[test]
    fn a_value_that_looks_like_a_flag_stays_a_value() {
        // A merge request titled `--help`: the title is the message to lint, not a flag.
        let (out, argv) = run_sh_argv(&[
            ("PAVED_ACTION_COMMAND", "lint"),
            ("PAVED_ACTION_ARGS_1", "--help"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(argv, ["lint", "--", "--help"]);
        // And clap reads it so: the message `--help`, not a request for help.
        use clap::Parser as _;
        let mut full = vec!["paved-version".to_owned()];
        full.extend(argv);
        let args = paved_version::cli::Args::try_parse_from(&full).unwrap();
        match args.command {
            Some(paved_version::cli::Command::Lint(lint)) => {
                assert_eq!(lint.messages, ["--help"]);
            }
            other => panic!("expected lint, got {other:?}"),
        }
    }

    #[test]
    fn positional_values_of_several_inputs_follow_one_separator() {
        let (out, argv) = run_sh_argv(&[
            ("PAVED_ACTION_COMMAND", "gate"),
            ("PAVED_ACTION_ARGS_1", "-a.xml\nb.xml"),
            ("PAVED_ACTION_ARGS_2", "--c.xml"),
        ]);
        assert!(out.status.success());
        assert_eq!(argv, ["gate", "--", "-a.xml", "b.xml", "--c.xml"]);
        let (_, argv) = run_sh_argv(&[("PAVED_ACTION_COMMAND", "lint")]);
        assert_eq!(argv, ["lint"], "no separator without positional values");
    }

    #[test]
    fn a_command_input_that_is_a_flag_is_refused() {
        let (out, argv) = run_sh_argv(&[("PAVED_ACTION_COMMAND", "--help")]);
        assert_eq!(out.status.code(), Some(2));
        assert!(argv.is_empty(), "the tool must not run: {argv:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a subcommand"), "{stderr}");
    }

    #[test]
    fn a_push_token_is_git_auth_for_the_one_run_only() {
        // The tool stands in as a script that asks the real git what it would send, and dumps
        // its environment.
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        let out_file = dir.path().join("out");
        write(
            &tool,
            "#!/bin/sh\n{ git config --get-all http.https://github.example/.extraheader; git config --get user.keep; env; } >\"$PAVED_TEST_OUT\"\n",
        )
        .unwrap();
        assert!(
            Command::new("chmod")
                .arg("+x")
                .arg(&tool)
                .status()
                .unwrap()
                .success()
        );
        let out = Command::new("sh")
            .arg(root().join("actions/setup/run.sh"))
            .env("PAVED_ACTION_BIN", &tool)
            .env("PAVED_TEST_OUT", &out_file)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_ACTIONS", "true")
            .env("PAVED_ACTION_GIT_TOKEN", "ghs_s3cret")
            // A config the runner already passes through the environment is kept.
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "user.keep")
            .env("GIT_CONFIG_VALUE_0", "yes")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen = std::fs::read_to_string(&out_file).unwrap();
        // base64("x-access-token:ghs_s3cret")
        let auth = "eC1hY2Nlc3MtdG9rZW46Z2hzX3MzY3JldA==";
        let mut lines = seen.lines();
        assert_eq!(
            lines.next(),
            Some(format!("AUTHORIZATION: basic {auth}").as_str())
        );
        assert_eq!(lines.next(), Some("yes"));
        assert!(
            !seen.contains("ghs_s3cret"),
            "the raw token reached the tool: {seen}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("::add-mask::{auth}")), "{stdout}");
    }
}
