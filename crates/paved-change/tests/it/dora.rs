//! `dora` over an organisation: a GitHub organisation of three repositories (a local server
//! that follows GitHub's documented routes, pagination and statuses), GitLab and ServiceNow
//! likewise, and paved-promote's ledger (a JSON-lines file and a real registry), against
//! figures computed by hand. The HTML report is rendered in headless Chromium.

use paved_core::http::{Client, HttpConfig};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::{Value, json};

use crate::common::run_in;

const SINCE: &str = "2026-01-05T00:00:00Z";
const UNTIL: &str = "2026-02-02T00:00:00Z";

fn status(state: &str, at: &str) -> Value {
    json!({ "id": 1, "state": state, "created_at": at, "description": "" })
}

fn deployment(id: u64, sha: &str, env: &str, created: &str) -> Value {
    json!({ "id": id, "sha": sha, "ref": "main", "environment": env, "created_at": created, "payload": {} })
}

fn commit(date: &str) -> Value {
    json!({ "sha": "x", "commit": { "committer": { "name": "c", "date": date } } })
}

/// The organisation `acme`: `api`, `web`, `worker` (and `old`, archived), listed on two pages.
///
/// | repository | id | env | statuses (newest first) | commit landed | counted as |
/// |---|---|---|---|---|---|
/// | api | 101 | prod | success 01-06 10:00 | 01-06 08:00 | success, lead 2h |
/// | api | 102 | prod | failure 01-13 10:00 | - | failure |
/// | api | 103 | prod | success 01-13 12:00 | 01-13 11:00 | success, lead 1h, restores 102 after 2h |
/// | api | 104 | prod | inactive 01-27, success 01-20 12:00 | 01-13 11:00 (103's commit) | success, lead 7d 1h |
/// | web | 201 | prod | success 01-08 00:00 | 01-07 00:00 | success, lead 24h |
/// | web | 202 | staging | error 01-14 06:00 | - | failure, never restored |
/// | web | 203 | prod | in_progress | - | unfinished, not counted |
/// | worker | 301 | prod | success 01-27 04:00 | 01-27 00:00 | success, lead 4h |
/// | worker | 302 | prod | (created 2025-12-01, before the window: the list stops there) | | |
fn github_org(server: &FakeServer) {
    let url = server.url();
    server
        .route("GET", "/orgs/acme/repos")
        .respond(
            FakeResponse::json(
                200,
                json!([{ "full_name": "acme/api", "archived": false }, { "full_name": "acme/old", "archived": true }]),
            )
            .header(
                "Link",
                format!("<{url}/orgs/acme/repos?type=all&per_page=100&page=2>; rel=\"next\""),
            ),
        );
    server
        .route("GET", "/orgs/acme/repos")
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([{ "full_name": "acme/web", "archived": false }, { "full_name": "acme/worker", "archived": false }]),
        ));
    // api: two pages of deployments, newest first.
    server.route("GET", "/repos/acme/api/deployments").respond(
        FakeResponse::json(
            200,
            json!([
                deployment(104, "a3", "prod", "2026-01-20T11:00:00Z"),
                deployment(103, "a3", "prod", "2026-01-13T11:30:00Z"),
            ]),
        )
        .header(
            "Link",
            format!("<{url}/repos/acme/api/deployments?per_page=100&page=2>; rel=\"next\""),
        ),
    );
    server
        .route("GET", "/repos/acme/api/deployments")
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([
                deployment(102, "a2", "prod", "2026-01-13T09:00:00Z"),
                deployment(101, "a1", "prod", "2026-01-06T09:00:00Z"),
            ]),
        ));
    let statuses = [
        (
            "api",
            101,
            json!([
                status("success", "2026-01-06T10:00:00Z"),
                status("in_progress", "2026-01-06T09:30:00Z")
            ]),
        ),
        (
            "api",
            102,
            json!([status("failure", "2026-01-13T10:00:00Z")]),
        ),
        (
            "api",
            103,
            json!([status("success", "2026-01-13T12:00:00Z")]),
        ),
        (
            "api",
            104,
            json!([
                status("inactive", "2026-01-27T04:00:00Z"),
                status("success", "2026-01-20T12:00:00Z")
            ]),
        ),
        (
            "web",
            201,
            json!([status("success", "2026-01-08T00:00:00Z")]),
        ),
        ("web", 202, json!([status("error", "2026-01-14T06:00:00Z")])),
        (
            "web",
            203,
            json!([status("in_progress", "2026-01-29T00:00:00Z")]),
        ),
        (
            "worker",
            301,
            json!([status("success", "2026-01-27T04:00:00Z")]),
        ),
    ];
    for (repo, id, list) in statuses {
        server
            .route(
                "GET",
                &format!("/repos/acme/{repo}/deployments/{id}/statuses"),
            )
            .respond(FakeResponse::json(200, list));
    }
    server
        .route("GET", "/repos/acme/web/deployments")
        .respond(FakeResponse::json(
            200,
            json!([
                deployment(203, "b3", "prod", "2026-01-28T23:00:00Z"),
                deployment(202, "b2", "staging", "2026-01-14T05:00:00Z"),
                deployment(201, "b1", "prod", "2026-01-07T23:00:00Z"),
            ]),
        ));
    server
        .route("GET", "/repos/acme/worker/deployments")
        .respond(FakeResponse::json(
            200,
            json!([
                deployment(301, "c1", "prod", "2026-01-27T03:00:00Z"),
                deployment(302, "c0", "prod", "2025-12-01T00:00:00Z"),
            ]),
        ));
    for (repo, sha, date) in [
        ("api", "a1", "2026-01-06T08:00:00Z"),
        ("api", "a3", "2026-01-13T11:00:00Z"),
        ("web", "b1", "2026-01-07T00:00:00Z"),
        ("worker", "c1", "2026-01-27T00:00:00Z"),
    ] {
        server
            .route("GET", &format!("/repos/acme/{repo}/commits/{sha}"))
            .respond(FakeResponse::json(200, commit(date)));
    }
}

fn record(action: &str, env: Option<&str>, time: &str) -> Value {
    json!({
        "action": action,
        "digest": format!("sha256:{}", "e".repeat(64)),
        "source": "registry.example/acme/app:candidate",
        "destination": format!("registry.example/acme/app:{}", env.unwrap_or("mirror")),
        "environment": env,
        "time": time,
        "actor": "ci",
        "run_url": null,
        "checks": []
    })
}

/// paved-promote's ledger (the format of `ledger.rs`: one record a line, or its DSSE envelope).
///
/// | action | env | time | counted as |
/// |---|---|---|---|
/// | promote | prod | 01-09 12:00 | success |
/// | promote | prod | 01-21 12:00 | failure (rolled back) |
/// | rollback | prod | 01-21 15:00 | success, restores after 3h |
/// | copy | - | 01-22 | not a deployment |
/// | promote | staging | 01-22 00:00 | success (signed: a DSSE envelope) |
fn ledger_lines() -> Vec<String> {
    ledger_lines_signed_by(&ledger_key())
}

fn ledger_key() -> paved_core::sign::PrivateKey {
    paved_core::sign::PrivateKey::from_pem(
        &paved_core::sign::PrivateKey::generate(paved_core::sign::Algorithm::Ed25519).unwrap(),
        "test key",
    )
    .unwrap()
}

fn ledger_lines_signed_by(key: &paved_core::sign::PrivateKey) -> Vec<String> {
    let staging = record("promote", Some("staging"), "2026-01-22T00:00:00.000Z");
    let statement = paved_core::sign::Statement::new(
        vec![paved_core::sign::Subject::sha256(
            "registry.example/acme/app",
            &"e".repeat(64),
        )],
        "https://paved.dev/promotion/v1",
        staging,
    );
    vec![
        record("promote", Some("prod"), "2026-01-09T12:00:00.000Z").to_string(),
        record("promote", Some("prod"), "2026-01-21T12:00:00.000Z").to_string(),
        record("rollback", Some("prod"), "2026-01-21T15:00:00.000Z").to_string(),
        record("copy", None, "2026-01-22T00:00:00.000Z").to_string(),
        statement.sign(key).unwrap().to_json(),
    ]
}

fn api(json: &Value, list: &str, name: &str) -> Value {
    json[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name || g["week"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}: {json:#}"))
        .clone()
}

/// The "done" check of issue #18: three repositories' deployments plus a promote ledger, every
/// figure computed by hand below.
#[test]
fn dora_over_three_repositories_and_a_ledger_matches_the_hand_computed_figures() {
    let server = FakeServer::start();
    github_org(&server);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, ledger_lines().join("\n") + "\n").unwrap();
    let html = dir.path().join("dora.html");
    let md = dir.path().join("dora.md");
    let run = run_in(
        dir.path(),
        &[
            "--json",
            "dora",
            "--github-org",
            "acme",
            "--ledger",
            ledger.to_str().unwrap(),
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--html",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
        &[
            ("GITHUB_API_URL", &server.url()),
            ("GITHUB_TOKEN", "gh-token-5e3cr3t"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
    assert!(!run.stderr.contains("gh-token-5e3cr3t"));
    let j = run.json();

    // Deployments: GitHub 7 (api 4, web 2 of 3 — 203 has no final status —, worker 1; 302 is
    // older than the window), ledger 4 (the copy is no deployment) = 11 in 28 days:
    // 11 / 28 = 0.3929 a day → 0.393; 11 / 4 weeks = 2.75 a week.
    assert_eq!(j["days"], 28.0);
    assert_eq!(j["deployments"], 11);
    assert_eq!(j["failed"], 3, "api 102, web 202, ledger prod 01-21");
    assert_eq!(j["successful"], 8);
    assert_eq!(j["deployments_per_day"], 0.393);
    assert_eq!(j["deployments_per_week"], 2.75);
    // Lead times of the successful GitHub deployments (the ledger has no commits):
    // 101 2h = 7200, 103 1h = 3600, 104 7d 1h = 7·86400 + 3600 = 608400, 201 24h = 86400,
    // 301 4h = 14400. Sorted 3600, 7200, 14400, 86400, 608400: median 14400;
    // p90 = rank ⌈0.9·5⌉ = 5 → 608400; mean 720000 / 5 = 144000.
    assert_eq!(j["lead_time"]["commits"], 5);
    assert_eq!(j["lead_time"]["median_seconds"], 14400);
    assert_eq!(j["lead_time"]["p90_seconds"], 608_400);
    assert_eq!(j["lead_time"]["mean_seconds"], 144_000);
    // 3 of 11 failed: 0.2727.
    assert_eq!(j["change_failure_rate"], 0.2727);
    // Restores: api prod 01-13 10:00 → 12:00 = 7200; ledger prod 01-21 12:00 → 15:00 = 10800;
    // web staging never. Median (7200 + 10800) / 2 = 9000.
    assert_eq!(j["time_to_restore"]["restored"], 2);
    assert_eq!(j["time_to_restore"]["unrestored"], 1);
    assert_eq!(j["time_to_restore"]["median_seconds"], 9000);

    // Per repository.
    let a = api(&j, "repositories", "acme/api");
    // 4 deployments, 1 failed; leads 3600, 7200, 608400 → median 7200, p90 (rank 3) 608400;
    // restore 7200.
    assert_eq!(a["deployments"], 4);
    assert_eq!(a["change_failure_rate"], 0.25);
    assert_eq!(a["lead_time"]["median_seconds"], 7200);
    assert_eq!(a["lead_time"]["p90_seconds"], 608_400);
    assert_eq!(a["time_to_restore"]["median_seconds"], 7200);
    let w = api(&j, "repositories", "acme/web");
    assert_eq!(w["deployments"], 2);
    assert_eq!(w["change_failure_rate"], 0.5);
    assert_eq!(w["lead_time"]["median_seconds"], 86400);
    assert_eq!(w["time_to_restore"]["unrestored"], 1);
    let k = api(&j, "repositories", "acme/worker");
    assert_eq!(k["deployments"], 1);
    assert_eq!(k["lead_time"]["median_seconds"], 14400);
    let l = api(&j, "repositories", "registry.example/acme/app");
    assert_eq!(l["deployments"], 4);
    assert_eq!(l["failed"], 1);
    assert_eq!(l["time_to_restore"]["median_seconds"], 10800);
    assert_eq!(
        j["repositories"].as_array().unwrap().len(),
        4,
        "not acme/old"
    );

    // Per environment: prod = api 4 + web 1 + worker 1 + ledger 3 = 9, failed 2 → 0.2222;
    // staging = web 202 (error) + ledger staging = 2, failed 1 → 0.5.
    let prod = api(&j, "environments", "prod");
    assert_eq!(prod["deployments"], 9);
    assert_eq!(prod["change_failure_rate"], 0.2222);
    let staging = api(&j, "environments", "staging");
    assert_eq!(staging["deployments"], 2);
    assert_eq!(staging["change_failure_rate"], 0.5);

    // Per ISO week (Mondays 01-05, 01-12, 01-19, 01-26):
    // W02: 101, 201, ledger 01-09 = 3; W03: 102 ✗, 103, 202 ✗ = 3 (the 2 failures start there:
    // one restored after 7200, one not); W04: 104, ledger ✗, rollback, staging = 4;
    // W05: 301 = 1.
    let weeks: Vec<(String, u64)> = j["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["week"].as_str().unwrap().to_owned(),
                w["deployments"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            ("2026-W02".to_owned(), 3),
            ("2026-W03".to_owned(), 3),
            ("2026-W04".to_owned(), 4),
            ("2026-W05".to_owned(), 1)
        ]
    );
    let w03 = api(&j, "weeks", "2026-W03");
    assert_eq!(w03["failed"], 2);
    assert_eq!(w03["starts"], "2026-01-12");
    assert_eq!(w03["time_to_restore"]["restored"], 1);
    assert_eq!(w03["time_to_restore"]["unrestored"], 1);
    assert_eq!(w03["deployments_per_week"], 3.0);

    // Bounded calls: org 2 pages; api 2 pages + 4 statuses + 2 commits (a3 once); web 1 + 3
    // statuses + 1 commit (failures are not asked for); worker 1 + 1 + 1 (302's statuses are
    // never read) = 18.
    assert_eq!(server.requests().len(), 18, "{:#?}", server.requests());
    assert!(run.stderr.contains("18 requests"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("1 github deployments have no final status yet"),
        "{}",
        run.stderr
    );

    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.contains("| acme/api | 4 | 1.00 | 2h | 7d 1h | 25.0% | 2h |"),
        "{markdown}"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}

/// The HTML report is self-contained and renders: a screenshot, and a DOM check that the rows
/// and the chart elements are there and that hostile names are escaped.
#[test]
fn the_html_report_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    let mut lines = ledger_lines();
    let mut hostile = record("promote", Some("<b>prod</b>"), "2026-01-23T00:00:00.000Z");
    hostile["destination"] = json!("registry.example/<script>alert(1)</script>:x");
    lines.push(hostile.to_string());
    std::fs::write(&ledger, lines.join("\n") + "\n").unwrap();
    let html = dir.path().join("dora.html");
    let run = run_in(
        dir.path(),
        &[
            "dora",
            "--ledger",
            ledger.to_str().unwrap(),
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("<script") && !text.contains("<link") && !text.contains("src="),
        "self-contained, and the name is escaped: {text}"
    );

    let browser = paved_testkit::browser::Browser::new();
    let dom = browser.dom(&html);
    // 2 repositories (the app and the hostile one), 3 environments, 4 weeks; 4 metrics.
    assert_eq!(dom.matches("<tr class=\"repository\">").count(), 2, "{dom}");
    assert_eq!(
        dom.matches("<tr class=\"environment\">").count(),
        3,
        "{dom}"
    );
    assert_eq!(dom.matches("<tr class=\"week\">").count(), 4, "{dom}");
    assert_eq!(dom.matches("<tr class=\"metric\">").count(), 4, "{dom}");
    for id in [
        "chart-frequency",
        "chart-lead-time",
        "chart-failure-rate",
        "chart-restore",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id}: {dom}");
    }
    // Deployments per week: one bar per week (3 of the 4 weeks have ledger deployments: W02
    // 1, W04 3 + the hostile one, and none in W03 and W05, drawn as zero-height bars).
    let frequency = &dom[dom.find("id=\"chart-frequency\"").unwrap()..];
    let frequency = &frequency[..frequency.find("</figure>").unwrap()];
    assert_eq!(
        frequency.matches("<rect class=\"bar\"").count(),
        4,
        "{frequency}"
    );
    // The ledger has no commits: the lead-time chart says so instead of drawing nothing.
    let lead = &dom[dom.find("id=\"chart-lead-time\"").unwrap()..];
    let lead = &lead[..lead.find("</figure>").unwrap()];
    assert!(lead.contains("no data in the window"), "{lead}");
    assert!(dom.contains("&lt;b&gt;prod&lt;/b&gt;"), "{dom}");
    assert!(!dom.contains("<b>prod</b>"), "{dom}");
    assert!(!dom.contains("<script>alert"), "{dom}");

    // A real, non-empty PNG. To look at it:
    // PAVED_KEEP_SCREENSHOT=/tmp/dora.png cargo nextest run -p paved-change html_report
    browser.screenshot(&html, 1000, 900);
}

/// GitHub's refusals: `401`, `403` and `404` name the request and status (exit 3, as every
/// server refusal), `401` and `403` with what the token needs; `429` is waited out and retried.
#[test]
fn github_refusals_are_clear_and_rate_limits_are_waited_out() {
    use paved_change::dora::sources;
    use paved_forge::fleet::GitHubFleet;

    for (code, category) in [(401, 3u8), (403, 3), (404, 3)] {
        let server = FakeServer::start();
        server
            .route("GET", "/orgs/acme/repos")
            .respond(FakeResponse::json(
                code,
                json!({ "message": "Bad credentials" }),
            ));
        let (client, _clock) = test_client();
        let forge = GitHubFleet::new(client, &server.url(), None);
        let err = sources::github(&forge, Some("acme"), &[], None, SINCE).unwrap_err();
        let text = paved_core::error::Diagnostic::hint(&err).unwrap_or_default();
        let exit = paved_core::error::Diagnostic::category(&err).code();
        assert_eq!(exit, category, "{code}: {err}");
        assert!(err.to_string().contains(&code.to_string()), "{err}");
        if code != 404 {
            assert!(text.contains("GITHUB_TOKEN"), "{code}: {text}");
        }
    }

    let server = FakeServer::start();
    server.route("GET", "/orgs/acme/repos").respond_seq([
        FakeResponse::json(429, json!({ "message": "rate limited" })).header("Retry-After", "7"),
        FakeResponse::json(200, json!([{ "full_name": "acme/api", "archived": false }])),
    ]);
    server
        .route("GET", "/repos/acme/api/deployments")
        .respond(FakeResponse::json(200, json!([])));
    let (client, clock) = test_client();
    let forge = GitHubFleet::new(client, &server.url(), None);
    let got = sources::github(&forge, Some("acme"), &[], None, SINCE).unwrap();
    assert!(got.deployments.is_empty());
    assert_eq!(clock.sleeps(), [std::time::Duration::from_secs(7)]);
}

/// A GitLab group: projects of subgroups too, paginated deployments, `success` and `failed`
/// counted, `running` left out; `401` names the token.
#[test]
fn gitlab_group_deployments_are_read_across_projects() {
    use paved_change::dora::{self, sources};
    use paved_forge::GitLabToken;
    use paved_forge::fleet::GitLabFleet;

    let server = FakeServer::start();
    let url = server.url();
    server
        .route("GET", "/groups/acme/projects")
        .query("include_subgroups", "true")
        .respond(FakeResponse::json(
            200,
            json!([{ "id": 7, "path_with_namespace": "acme/api" }, { "id": 8, "path_with_namespace": "acme/tools/cli" }]),
        ));
    let gl = |id: u64, status: &str, finished: &str, committed: &str| {
        json!({
            "id": id, "iid": id, "ref": "main", "sha": "abc", "status": status,
            "created_at": finished, "updated_at": finished, "finished_at": finished,
            "environment": { "id": 1, "name": "production" },
            "deployable": { "commit": { "id": "abc", "created_at": committed, "committed_date": committed } }
        })
    };
    server
        .route("GET", "/projects/7/deployments")
        .query("updated_after", SINCE)
        .respond(
            FakeResponse::json(
                200,
                json!([gl(
                    3,
                    "success",
                    "2026-01-10T12:00:00Z",
                    "2026-01-10T09:00:00Z"
                )]),
            )
            .header(
                "Link",
                format!(
                    "<{url}/projects/7/deployments?updated_after={SINCE}&page=2>; rel=\"next\""
                ),
            ),
        );
    server
        .route("GET", "/projects/7/deployments")
        .query("page", "2")
        .respond(FakeResponse::json(
            200,
            json!([gl(
                2,
                "failed",
                "2026-01-10T10:00:00Z",
                "2026-01-10T08:00:00Z"
            )]),
        ));
    server
        .route("GET", "/projects/8/deployments")
        .respond(FakeResponse::json(
            200,
            json!([gl(
                9,
                "running",
                "2026-01-11T10:00:00Z",
                "2026-01-11T08:00:00Z"
            )]),
        ));
    let (client, _clock) = test_client();
    let token = GitLabToken::Private(paved_core::http::Secret::new("glpat-5e3cr3t"));
    let forge = GitLabFleet::new(client, &server.url(), Some(token));
    let got = sources::gitlab(&forge, "acme", None, SINCE).unwrap();
    assert!(server.unmatched().is_empty(), "{:?}", server.unmatched());
    assert_eq!(
        server.requests()[0].header("PRIVATE-TOKEN"),
        Some("glpat-5e3cr3t")
    );
    // The failure at 10:00 is restored by the success at 12:00 (2h); the success's commit
    // landed at 09:00 (lead 3h); the running one is not counted.
    let figures = dora::compute(
        &got.deployments,
        None,
        SINCE.parse().unwrap(),
        UNTIL.parse().unwrap(),
    );
    assert_eq!(figures.total.deployments, 2);
    assert_eq!(figures.total.failed, 1);
    assert_eq!(figures.total.lead_time.median_seconds, Some(3 * 3600));
    assert_eq!(figures.total.time_to_restore.median_seconds, Some(2 * 3600));
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);

    let server = FakeServer::start();
    server
        .route("GET", "/groups/acme/projects")
        .respond(FakeResponse::json(
            401,
            json!({ "message": "401 Unauthorized" }),
        ));
    let (client, _clock) = test_client();
    let forge = GitLabFleet::new(client, &server.url(), None);
    let err = sources::gitlab(&forge, "acme", None, SINCE).unwrap_err();
    let hint = paved_core::error::Diagnostic::hint(&err).unwrap_or_default();
    assert!(hint.contains("GITLAB_TOKEN"), "{hint}");
}

/// ServiceNow: change requests paged by `sysparm_offset`, following `Link`; the outcome from
/// `close_code`, repository and environment from paved's `correlation_id`.
#[test]
fn servicenow_change_requests_are_read_page_by_page() {
    use paved_change::dora::{Outcome, sources};

    let server = FakeServer::start();
    let url = server.url();
    let table = "/api/now/table/change_request";
    let chg = |i: usize, code: &str, closed: &str, corr: &str| {
        json!({ "sys_id": format!("s{i}"), "number": format!("CHG{i}"), "correlation_id": corr,
                "close_code": code, "closed_at": closed, "opened_at": "2026-01-06 08:00:00", "state": "3" })
    };
    // The first page is full (100 records), so there is a second.
    let first: Vec<Value> = (0..100)
        .map(|i| chg(i, "successful", "2026-01-06 10:00:00", "acme/api:42:prod"))
        .collect();
    server
        .route("GET", table)
        .query("sysparm_offset", "0")
        .respond(FakeResponse::json(200, json!({ "result": first })).header(
            "Link",
            format!("<{url}{table}?sysparm_offset=100&sysparm_limit=100>;rel=\"next\""),
        ));
    server
        .route("GET", table)
        .query("sysparm_offset", "100")
        .respond(FakeResponse::json(
            200,
            json!({ "result": [
                chg(100, "unsuccessful", "2026-01-07 10:00:00", "acme/api:43:prod"),
                chg(101, "", "", "acme/web:44:staging"),
                chg(102, "successful", "2026-01-07 11:00:00", ""),
            ]}),
        ));
    let (client, _clock) = test_client();
    let auth = paved_core::http::Auth::bearer(paved_core::http::Secret::new("snow-5e3cr3t"));
    let got = sources::servicenow(&client, &url, &auth, "correlation_idSTARTSWITHacme/").unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].query_param("sysparm_query").as_deref(),
        Some("correlation_idSTARTSWITHacme/")
    );
    assert_eq!(
        got.deployments.len(),
        102,
        "the one without a correlation id is left out"
    );
    let failed = got.deployments.iter().find(|d| d.id == "s100").unwrap();
    assert_eq!(failed.outcome, Outcome::Failure);
    assert_eq!(failed.at, "2026-01-07T10:00:00Z");
    assert_eq!(failed.repository, "acme/api");
    let open = got.deployments.iter().find(|d| d.id == "s101").unwrap();
    assert_eq!(
        (open.outcome, open.environment.as_str()),
        (Outcome::Open, "staging")
    );
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
}

fn sha256(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Push a blob to `repo` of the registry at `base` (POST, then PUT with the digest).
fn push_blob(client: &Client, base: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256(bytes));
    let started = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .unwrap();
    let location = started.header("Location").unwrap().to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    client
        .put(format!("{location}{sep}digest={digest}"))
        .bytes(bytes.to_vec(), "application/octet-stream")
        .send()
        .unwrap();
    digest
}

fn push_manifest(client: &Client, base: &str, repo: &str, reference: &str, doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap();
    client
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .bytes(bytes.clone(), "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap();
    format!("sha256:{}", sha256(&bytes))
}

/// The ledger in a real registry (Debian's docker-registry, which has no referrers API): each
/// record an OCI artifact about the image, under its own `sha256-<hex>.paved-<id>` tag, as
/// paved-promote writes it (`ledger::push_record`).
#[test]
fn the_ledger_is_read_from_a_registry() {
    let registry = registry_with_ledger(&ledger_lines());
    let repo = "acme/app";
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &[
            "--json",
            "dora",
            "--ledger",
            &format!("{}/{repo}", registry.host()),
            "--since",
            SINCE,
            "--until",
            UNTIL,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("not verified"),
        "without trusted keys the records are read unverified, and it says so: {}",
        run.stderr
    );
    let j = run.json();
    // As in the file: 4 deployments, the rolled-back promotion failed, restored after 3h.
    assert_eq!(j["deployments"], 4, "{j:#}");
    assert_eq!(j["failed"], 1);
    assert_eq!(j["time_to_restore"]["median_seconds"], 10800);
    assert_eq!(
        j["repositories"][0]["name"], "registry.example/acme/app",
        "the records name their destination"
    );
}

/// With `trusted-keys` in `[change]`, a registry ledger record counts only when it is a DSSE
/// envelope one of those keys signed; the others are left out, with a warning counting them.
#[test]
fn with_trusted_keys_only_signed_registry_ledger_records_count() {
    let key = ledger_key();
    let registry = registry_with_ledger(&ledger_lines_signed_by(&key));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trusted.pub"), key.public_key().to_pem()).unwrap();
    std::fs::write(
        dir.path().join("paved.toml"),
        "[change]\ntrusted-keys = [\"trusted.pub\"]\n",
    )
    .unwrap();
    let run = run_in(
        dir.path(),
        &[
            "--json",
            "dora",
            "--ledger",
            &format!("{}/acme/app", registry.host()),
            "--since",
            SINCE,
            "--until",
            UNTIL,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("left out 4 promotion records not signed by a trusted key"),
        "{}",
        run.stderr
    );
    let j = run.json();
    // Only the signed staging promotion is left.
    assert_eq!(j["deployments"], 1, "{j:#}");
    assert_eq!(j["failed"], 0);
}

/// Reading a registry ledger is bounded: past the record cap the rest is left out, with a
/// warning saying so.
#[test]
fn a_registry_ledger_is_read_up_to_its_caps() {
    let registry = registry_with_ledger(&ledger_lines());
    let client = Client::new(HttpConfig::default());
    let limits = paved_change::dora::sources::LedgerLimits {
        records: 2,
        ..Default::default()
    };
    let got = paved_change::dora::sources::ledger_registry(
        &client,
        &format!("{}/acme/app", registry.host()),
        &limits,
        &[],
    )
    .unwrap();
    assert!(
        got.warnings
            .iter()
            .any(|w| w.contains("read only the first 2 promotion records")),
        "{:?}",
        got.warnings
    );
    assert!(got.deployments.len() <= 2, "{:?}", got.deployments);
}

/// A registry holding `lines` as promotion records of `acme/app:prod`, as paved-promote pushes them.
fn registry_with_ledger(lines: &[String]) -> paved_testkit::registry::Registry {
    let registry = paved_testkit::registry::Registry::start();
    let base = format!("http://{}", registry.host());
    let client = Client::new(HttpConfig::default());
    let repo = "acme/app";
    let config = push_blob(&client, &base, repo, b"{}");
    let layer = push_blob(&client, &base, repo, b"image layer");
    let image = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 11 }]
    });
    let image_bytes = serde_json::to_vec(&image).unwrap();
    let image_digest = push_manifest(&client, &base, repo, "prod", &image);
    for line in lines {
        let dsse = line.contains("payloadType");
        let blob = push_blob(&client, &base, repo, line.as_bytes());
        let doc = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.paved.promotion.v1+json",
            "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2 },
            "layers": [{
                "mediaType": if dsse { "application/vnd.dsse.envelope.v1+json" } else { "application/vnd.paved.promotion.v1+json" },
                "digest": blob, "size": line.len()
            }],
            "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image_digest, "size": image_bytes.len() }
        });
        let digest = sha256(&serde_json::to_vec(&doc).unwrap());
        let tag = format!(
            "sha256-{}.paved-{}",
            image_digest.trim_start_matches("sha256:"),
            &digest[..16]
        );
        push_manifest(&client, &base, repo, &tag, &doc);
    }
    registry
}

/// A checked-in file named like a registry repository (`ghcr.io/acme/app`) must not silently
/// stand in for the registry's ledger, nor the registry for the file: the value is refused until
/// a `file:` or `oci://` prefix says which, and `file:` reads the file.
#[test]
fn a_ledger_value_that_is_both_a_file_and_a_registry_needs_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ghcr.io/acme")).unwrap();
    std::fs::write(
        dir.path().join("ghcr.io/acme/app"),
        ledger_lines().join("\n") + "\n",
    )
    .unwrap();
    let dora = |ledger: &str| {
        run_in(
            dir.path(),
            &[
                "--json", "dora", "--ledger", ledger, "--since", SINCE, "--until", UNTIL,
            ],
            &[],
        )
    };
    let run = dora("ghcr.io/acme/app");
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for part in [
        "`--ledger ghcr.io/acme/app`",
        "`file:ghcr.io/acme/app`",
        "`oci://ghcr.io/acme/app`",
    ] {
        assert!(run.stderr.contains(part), "`{part}` in {}", run.stderr);
    }
    let run = dora("file:ghcr.io/acme/app");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["deployments"], 4);
}

/// A ledger file that is not there is an input error naming it (exit 2), not "no deployments".
#[test]
fn a_missing_ledger_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let run = run_in(
        dir.path(),
        &["dora", "--ledger", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nope.jsonl"), "{}", run.stderr);
}

/// `--store postgres://…`: what a run reads is upserted (a second run of the same ledger adds
/// nothing), the figures come from everything stored, and a run with only `--store` computes
/// from the store alone.
#[test]
fn deployments_are_kept_in_postgres_once_each() {
    let pg = paved_testkit::postgres::Postgres::start();
    let url = pg.url();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.jsonl");
    std::fs::write(&ledger, ledger_lines().join("\n") + "\n").unwrap();
    let dora = |extra: &[&str]| {
        let mut args = vec![
            "--json", "dora", "--store", &url, "--since", SINCE, "--until", UNTIL,
        ];
        args.extend_from_slice(extra);
        let run = run_in(dir.path(), &args, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run
    };
    let ledger_arg = ["--ledger", ledger.to_str().unwrap()];
    let first = dora(&ledger_arg);
    assert!(
        first.stderr.contains("stored 4 new deployments"),
        "{}",
        first.stderr
    );
    assert_eq!(first.json()["deployments"], 4);
    let again = dora(&ledger_arg);
    assert!(
        again.stderr.contains("stored 0 new deployments"),
        "{}",
        again.stderr
    );
    assert_eq!(again.json()["deployments"], 4, "nothing counted twice");

    // Local records are added to the same store; the figures then cover both sources.
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    let bundle = json!({
        "$schema": "https://paved.dev/schemas/change-bundle/v1.json", "schema_version": 1,
        "id": "chg-1", "correlation_id": "acme/api:1:prod", "environment": "prod", "version": "1.0.0",
        "repository": "acme/api",
        "commits": { "head": "a".repeat(40), "base": null, "base_source": "root", "base_ref": null, "merges": 0,
            "list": [{ "sha": "b".repeat(40), "summary": "s", "author": "a", "author_email": "e",
                       "authored_at": "2026-01-06T09:00:00Z", "committed_at": "2026-01-06T09:00:00Z", "pull_request": null }] },
        "changes": { "source": "none", "pull_requests": [], "without_pull_request": [], "error": null },
        "tests": null, "artifacts": [], "previous": null,
        "ci": { "provider": "local", "run_id": null, "attempt": null, "run_url": null, "actor": null, "workflow": null, "job": null, "ref_name": null },
        "timestamps": { "opened_at": "2026-01-06T09:30:00Z", "approved_at": null, "closed_at": "2026-01-06T10:00:00Z" },
        "record": { "backend": "file", "id": "chg-1", "number": "chg-1", "url": null, "state": "closed", "result": "success", "notes": null }
    });
    std::fs::write(records.join("chg-1.json"), bundle.to_string()).unwrap();
    let mut with_records = vec!["--records", records.to_str().unwrap()];
    with_records.extend([
        "--json", "dora", "--store", &url, "--since", SINCE, "--until", UNTIL,
    ]);
    let run = run_in(dir.path(), &with_records, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 4 from the ledger + 1 record; its lead time 10:00 − 09:00 = 1h.
    assert_eq!(run.json()["deployments"], 5);
    assert_eq!(run.json()["lead_time"]["median_seconds"], 3600);

    let only_store = dora(&[]);
    let j = only_store.json();
    assert_eq!(j["deployments"], 5, "from the store alone");
    assert_eq!(j["failed"], 1);
    assert_eq!(j["time_to_restore"]["median_seconds"], 10800);
}

/// A `--store` that is not a PostgreSQL URL is a usage error (exit 2) naming it, without its
/// password.
#[test]
fn a_store_that_is_not_postgres_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &["dora", "--store", "mysql://u:hunter2@db/x"],
        &[],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--store"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}
