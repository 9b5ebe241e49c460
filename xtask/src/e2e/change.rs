//! A rejected change end to end: a consumer opens a change through `change.yml` (GitHub, under
//! act) and through the `change` component (GitLab, under gitlab-ci-local) with the ServiceNow
//! backend, against a fake instance served from this process that follows the Table API. Once
//! `open` has requested approval (New → Assess), the change manager rejects the change, as
//! ServiceNow's normal change model does it: `approval` becomes `rejected`, the change goes back
//! to New, and the approver's decision (who, when, why) is a `sysapproval_approver` record. The
//! wait job must fail naming the change, its approval and the approver, and the deploy job must
//! not run.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use paved_testkit::http::{FakeResponse, FakeServer, RecordedRequest};
use serde_json::{Value, json};

use super::{expect, expect_absent, git, must_fail, write};

const TABLE: &str = "/api/now/table/change_request";
const APPROVALS: &str = "/api/now/table/sysapproval_approver";
/// The change the fake instance creates (ServiceNow's sys_ids are 32 hex digits).
const SYS_ID: &str = "c83c5e5347c12200e0ef563dbb9a7190";
const NUMBER: &str = "CHG0030001";
/// The OAuth token the consumer stores as a CI secret; the fake refuses any other credential.
const TOKEN: &str = "e2e-servicenow-oauth-token";
/// Who rejects the change, and why.
const APPROVER: &str = "Bernard Laboy";
const REASON: &str = "The backout plan was never tested against prod";
/// When, as the Table API stores it (UTC), and as `wait` reports it.
const REJECTED_AT: &str = "2026-01-05 10:20:00";
const REJECTED_AT_RFC3339: &str = "2026-01-05T10:20:00Z";
/// What the deploy job prints, were it ever to run.
const DEPLOYED: &str = "E2E deploying the rejected change";

/// The change request and where its approval stands.
#[derive(Default)]
struct Instance {
    record: Option<Value>,
    /// Set once `open` has read the change back in Assess: the change manager has decided.
    rejected: bool,
}

/// ServiceNow's answer to a request without valid credentials.
fn unauthenticated() -> FakeResponse {
    FakeResponse::json(
        401,
        json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
    )
}

fn authorised(r: &RecordedRequest) -> bool {
    r.header("authorization") == Some(&format!("Bearer {TOKEN}"))
}

/// The change request, and whether it was rejected, as they are now.
fn snapshot(i: &Mutex<Instance>) -> (Option<Value>, bool) {
    i.lock()
        .map(|g| (g.record.clone(), g.rejected))
        .unwrap_or_default()
}

/// A fake ServiceNow instance: the routes paved-change's ServiceNow backend calls (see
/// `crates/paved-change/src/backend/servicenow.rs`), answered as the Table API documents them:
/// `{"result": …}` bodies, `201` on create, `404 No Record found`, `401` without the token.
fn fake_servicenow() -> Result<(FakeServer, Arc<Mutex<Instance>>), String> {
    let server = FakeServer::try_start()
        .map_err(|e| format!("the fake ServiceNow could not listen on 127.0.0.1: {e}"))?;
    let instance = Arc::new(Mutex::new(Instance::default()));
    // A search by correlation id (a re-run's record) or by number.
    let i = Arc::clone(&instance);
    server.route("GET", TABLE).respond_with(move |r| {
        if !authorised(r) {
            return unauthenticated();
        }
        let query = r.query_param("sysparm_query").unwrap_or_default();
        let (record, _) = snapshot(&i);
        let hit = record.filter(|v| {
            ["correlation_id", "number"]
                .iter()
                .any(|k| query == format!("{k}={}", v[k].as_str().unwrap_or_default()))
        });
        FakeResponse::json(
            200,
            json!({ "result": hit.into_iter().collect::<Vec<_>>() }),
        )
    });
    let i = Arc::clone(&instance);
    server.route("POST", TABLE).respond_with(move |r| {
        if !authorised(r) {
            return unauthenticated();
        }
        let mut v = r.json();
        if !v.is_object() {
            return FakeResponse::json(
                400,
                json!({"error": {"message": "Exception while reading request", "detail": "The payload is not valid JSON."}, "status": "failure"}),
            );
        }
        v["sys_id"] = json!(SYS_ID);
        v["number"] = json!(NUMBER);
        v["state"] = json!("-5");
        v["approval"] = json!("not requested");
        if let Ok(mut g) = i.lock() {
            g.record = Some(v.clone());
        }
        FakeResponse::json(201, json!({ "result": v }))
    });
    let path = format!("{TABLE}/{SYS_ID}");
    let i = Arc::clone(&instance);
    server.route("GET", &path).respond_with(move |r| {
        if !authorised(r) {
            return unauthenticated();
        }
        let Ok(mut g) = i.lock() else {
            return FakeResponse::new(500);
        };
        let Some(v) = g.record.clone() else {
            return FakeResponse::json(
                404,
                json!({"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"}),
            );
        };
        // `open` reads the change back in Assess, approval requested; the change manager
        // rejects it right after, so every later read (the wait job's) sees the rejection.
        if v["state"] == "-4" && v["approval"] == "requested" && !g.rejected {
            g.rejected = true;
            let mut after = v.clone();
            after["state"] = json!("-5");
            after["approval"] = json!("rejected");
            g.record = Some(after);
        }
        FakeResponse::json(200, json!({ "result": v }))
    });
    let i = Arc::clone(&instance);
    server.route("PATCH", &path).respond_with(move |r| {
        if !authorised(r) {
            return unauthenticated();
        }
        let Ok(mut g) = i.lock() else {
            return FakeResponse::new(500);
        };
        let Some(v) = g.record.as_mut() else {
            return FakeResponse::json(
                404,
                json!({"error": {"message": "No Record found"}, "status": "failure"}),
            );
        };
        if let Some(fields) = r.json().as_object() {
            for (k, val) in fields {
                v[k] = val.clone();
            }
        }
        // Assess requests approval from the change's approvers.
        if v["state"] == "-4" && v["approval"] == "not requested" {
            v["approval"] = json!("requested");
        }
        FakeResponse::json(200, json!({ "result": v.clone() }))
    });
    // The approvers' decisions on the change (`sysparm_display_value=all`: each field as
    // `{"value", "display_value"}`, references with a `link`).
    let i = Arc::clone(&instance);
    server.route("GET", APPROVALS).respond_with(move |r| {
        if !authorised(r) {
            return unauthenticated();
        }
        let query = r.query_param("sysparm_query").unwrap_or_default();
        let (_, rejected) = snapshot(&i);
        let decided = rejected && query.contains(&format!("sysapproval={SYS_ID}"));
        let result: Vec<Value> = decided
            .then_some(REJECTED_AT)
            .into_iter()
            .map(|at| {
                json!({
                    "sys_id": {"value": "0f8f3a1a47c12200e0ef563dbb9a71aa", "display_value": "0f8f3a1a47c12200e0ef563dbb9a71aa"},
                    "approver": {"value": "46d44a23a9fe19810012d100cca80666", "display_value": APPROVER, "link": "https://instance.service-now.com/api/now/table/sys_user/46d44a23a9fe19810012d100cca80666"},
                    "state": {"value": "rejected", "display_value": "Rejected"},
                    "comments": {"value": "", "display_value": format!("{at} - {APPROVER} (Comments)\n{REASON}\n\n")},
                    "sys_updated_on": {"value": at, "display_value": at},
                    "sysapproval": {"value": SYS_ID, "display_value": NUMBER, "link": format!("https://instance.service-now.com/api/now/table/task/{SYS_ID}")},
                })
            })
            .collect();
        FakeResponse::json(200, json!({ "result": result }))
    });
    Ok((server, instance))
}

/// What the fake saw: approval was requested (the change moved to Assess), and the wait job
/// read the change again after the rejection.
fn expect_rejected(
    server: &FakeServer,
    instance: &Mutex<Instance>,
    what: &str,
) -> Result<(), String> {
    let assessed = server
        .requests_to("PATCH", &format!("{TABLE}/{SYS_ID}"))
        .iter()
        .any(|r| r.json()["state"] == "-4");
    if !assessed {
        return Err(format!(
            "{what}: `open` never moved {NUMBER} to Assess (approval requested)"
        ));
    }
    let decided = instance.lock().map(|g| g.rejected).unwrap_or(false);
    let reads = server
        .requests_to("GET", &format!("{TABLE}/{SYS_ID}"))
        .len();
    if !decided || reads < 2 {
        return Err(format!(
            "{what}: the wait job never read {NUMBER} after it was rejected ({reads} reads)"
        ));
    }
    let bad = server.unmatched();
    if !bad.is_empty() {
        return Err(format!(
            "{what}: requests the ServiceNow Table API has no route for: {:?}",
            bad.iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// The tool's words for the rejection: the change, its approval, who rejected it and why.
fn expect_refusal(out: &str, what: &str) -> Result<(), String> {
    let change =
        format!("change {NUMBER} (servicenow) was rejected, state New (approval rejected)");
    let decided = format!("rejected by {APPROVER} at {REJECTED_AT_RFC3339}: \"{REASON}\"");
    for needle in [change.as_str(), decided.as_str(), "Do not deploy it"] {
        expect(out, needle, what)?;
    }
    expect_absent(out, DEPLOYED, what)
}

/// The consumer's deployment: change.yml opens a ServiceNow change and waits for it; the deploy
/// job needs it.
fn github_workflow(version: &str, url: &str) -> String {
    format!(
        r#"name: deploy
on: push
permissions: {{}}
jobs:
  change:
    uses: paved-dev/paved/.github/workflows/change.yml@v{version}
    permissions:
      contents: read
      deployments: write
      actions: read
    with:
      step: open
      environment: prod
      version: 0.2.0
      backend: servicenow
      servicenow-url: {url}
      timeout: 5m
    secrets:
      token: ${{{{ secrets.SERVICENOW_TOKEN }}}}
  deploy:
    needs: change
    runs-on: ubuntu-latest
    steps:
      - run: echo "{DEPLOYED}"
"#
    )
}

/// change.yml under act: the change is opened, rejected while the wait job waits, and the
/// deploy job never runs.
pub fn github(tmp: &Path, paved: &Path, bin_dir: &Path, version: &str) -> Result<(), String> {
    let (snow, instance) = fake_servicenow()?;
    // The evidence's PR lookup asks the forge, which knows nothing here (404s are tolerated).
    let forge = FakeServer::try_start()
        .map_err(|e| format!("the fake GitHub API could not listen on 127.0.0.1: {e}"))?;
    let repo = tmp.join("github-change-consumer");
    super::consumer(&repo, "https://github.com/acme/app.git")?;
    write(
        &repo.join(".github/workflows/deploy.yml"),
        &github_workflow(version, &snow.url()),
    )?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "ci: deploy through a ServiceNow change",
        ],
    )?;
    // act fetches every remote action a job names; the artifact actions stand in as local ones.
    let download = tmp.join("change-download-artifact");
    write(&download.join("action.yml"), super::DOWNLOAD_WORKING)?;
    let upload = tmp.join("change-upload-artifact");
    write(&upload.join("action.yml"), super::UPLOAD_STANDIN)?;
    let mut act = Command::new(crate::tools::venv_bin().join("act"));
    act.current_dir(&repo)
        .args(["push", "-W", ".github/workflows/deploy.yml"])
        .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
        .arg(format!("paved-dev/paved@v{version}={}", paved.display()))
        .arg("--local-repository")
        .arg(format!(
            "actions/download-artifact@{}={}",
            super::DOWNLOAD_SHA,
            download.display()
        ))
        .arg("--local-repository")
        .arg(format!(
            "actions/upload-artifact@{}={}",
            super::UPLOAD_SHA,
            upload.display()
        ))
        .args(["-s", "GITHUB_TOKEN=e2e-token", "-s"])
        .arg(format!("SERVICENOW_TOKEN={TOKEN}"))
        .arg("--env")
        .arg(format!("GITHUB_API_URL={}", forge.url()))
        .arg("--env")
        .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
        .arg("--env")
        .arg(format!(
            "PAVED_E2E_ARTIFACTS={}",
            tmp.join("change-artifacts").display()
        ))
        .env("HOME", tmp.join("home"));
    let out = must_fail(
        "act: change.yml, a change ServiceNow rejects",
        &mut act,
        "Failure - Main paved-dev/paved/actions/change",
    )?;
    eprintln!("{out}");
    let waited = out.lines().any(|l| {
        l.contains("Wait for approval (prod)")
            && l.contains("Failure - Main paved-dev/paved/actions/change")
    });
    if !waited {
        return Err(
            "act: the wait job of change.yml did not fail on the rejection (see the log above)"
                .into(),
        );
    }
    expect(&out, &format!("opened change {NUMBER}"), "act change open")?;
    expect_refusal(&out, "act rejected change")?;
    expect_rejected(&snow, &instance, "act rejected change")
}

/// The change component under gitlab-ci-local: `open`, then `wait` in a later stage (the record
/// comes as open's artifact, the id as its dotenv), then a deploy job that must not run.
pub fn gitlab(tmp: &Path, paved: &Path, bin_dir: &Path) -> Result<(), String> {
    let version = crate::dist::workspace_version()?;
    let (snow, instance) = fake_servicenow()?;
    let url = snow.url();
    let repo = tmp.join("gitlab-change-consumer");
    super::consumer(&repo, "https://gitlab.com/acme/app.git")?;
    super::copy_dir(
        &paved.join("templates"),
        &repo.join(format!(
            ".gitlab-ci-local/includes/gitlab.com/paved-dev/paved/{version}/templates"
        )),
    )?;
    write(
        &repo.join(".gitlab-ci-change.yml"),
        &format!(
            r#"include:
  - component: $CI_SERVER_FQDN/paved-dev/paved/change@{version}
    inputs: {{ job-name: change-open, stage: build, command: open, backend: servicenow, servicenow-url: '{url}', env: prod, version: 0.2.0 }}
  - component: $CI_SERVER_FQDN/paved-dev/paved/change@{version}
    inputs: {{ job-name: change-wait, stage: test, command: wait, backend: servicenow, servicenow-url: '{url}', id: $CHANGE_ID, timeout: 5m }}
deploy:
  stage: deploy
  script: echo "{DEPLOYED}"
"#
        ),
    )?;
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "ci: deploy through a ServiceNow change",
        ],
    )?;
    let mut gcl = Command::new(crate::tools::npm_bin().join("gitlab-ci-local"));
    gcl.current_dir(&repo)
        .args(["--force-shell-executor", "--shell-isolation", "--variable"])
        .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
        .arg("--variable")
        .arg(format!("SERVICENOW_TOKEN={TOKEN}"))
        .args(["--file", ".gitlab-ci-change.yml"])
        .env("HOME", tmp.join("home"));
    let out = must_fail(
        "gitlab-ci-local: the change component, a change ServiceNow rejects",
        &mut gcl,
        "change-wait",
    )?;
    eprintln!("{out}");
    expect(
        &out,
        &format!("opened change {NUMBER}"),
        "gitlab-ci-local change open",
    )?;
    expect_refusal(&out, "gitlab-ci-local rejected change")?;
    expect_rejected(&snow, &instance, "gitlab-ci-local rejected change")
}
