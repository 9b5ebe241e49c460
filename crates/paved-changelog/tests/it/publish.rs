//! Publishing releases and enriching notes, against local servers that follow the GitHub and
//! GitLab REST APIs (the real ones cannot be reached from CI).

use crate::common::TestRepo;
use paved_testkit::http::{FakeResponse, FakeServer};
use serde_json::json;

fn repo() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.commit("feat: first");
    repo.tag("v1.0.0");
    let sha = repo.commit("feat(api): pagination");
    repo.commit("fix: a bug (#9)");
    repo.tag("v1.1.0");
    (repo, sha)
}

fn github_env<'a>(server: &'a str, token: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("GITHUB_API_URL", server),
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("PAVED_HTTP_MAX_ATTEMPTS", "2"),
    ];
    if let Some(t) = token {
        env.push(("GITHUB_TOKEN", t));
    }
    env
}

fn github_release(id: u64, tag: &str) -> serde_json::Value {
    json!({
        "id": id,
        "tag_name": tag,
        "html_url": format!("https://github.com/acme/rocket/releases/tag/{tag}"),
        "upload_url": format!("https://uploads.github.com/repos/acme/rocket/releases/{id}/assets{{?name,label}}"),
        "draft": false,
        "prerelease": false
    })
}

#[test]
fn github_release_is_created_then_updated() {
    let (repo, _) = repo();
    let server = FakeServer::start();
    let url = server.url();
    // Enrichment: no PRs or logins known for these commits.
    server
        .route("GET", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/releases/tags/v1.1.0")
        .respond_seq([
            FakeResponse::json(404, json!({"message": "Not Found"})),
            FakeResponse::json(200, github_release(7, "v1.1.0")),
        ]);
    server
        .route("POST", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(201, github_release(7, "v1.1.0")));
    server
        .route("PATCH", "/repos/acme/rocket/releases/7")
        .respond(FakeResponse::json(200, github_release(7, "v1.1.0")));
    let out = repo.path().join("out");
    let mut env = github_env(&url, Some("ghp_secret_token"));
    let out_s = out.to_str().unwrap().to_owned();
    env.push(("GITHUB_ACTIONS", "true"));
    env.push(("GITHUB_OUTPUT", &out_s));

    let first = repo.paved_env(&["--tag", "v1.1.0", "--publish", "github"], &env);
    first.ok();
    assert!(
        first.stderr.contains("created the github release"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("::add-mask::ghp_secret_token"),
        "the token is masked"
    );
    let posts = server.requests_to("POST", "/repos/acme/rocket/releases");
    assert_eq!(posts.len(), 1);
    let body = posts[0].json();
    assert_eq!(body["tag_name"], "v1.1.0");
    assert_eq!(body["prerelease"], false);
    // Publishing without --template uses the GitHub release-body template.
    let notes = body["body"].as_str().unwrap();
    assert!(
        notes.starts_with("## Features\n\n- **api:** pagination"),
        "{notes}"
    );
    assert!(notes.contains("- a bug in #9"), "{notes}");
    assert_eq!(
        posts[0].header("authorization"),
        Some("Bearer ghp_secret_token")
    );
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("https://github.com/acme/rocket/releases/tag/v1.1.0")
    );

    // Re-running finds the release and updates it: no second release.
    let second = repo.paved_env(&["--tag", "v1.1.0", "--publish", "github"], &env);
    second.ok();
    assert!(
        second.stderr.contains("updated the github release"),
        "{}",
        second.stderr
    );
    assert_eq!(
        server
            .requests_to("POST", "/repos/acme/rocket/releases")
            .len(),
        1
    );
    assert_eq!(
        server
            .requests_to("PATCH", "/repos/acme/rocket/releases/7")
            .len(),
        1
    );
}

#[test]
fn pre_releases_are_marked() {
    let repo = TestRepo::new();
    repo.commit("feat: first");
    repo.tag("v2.0.0-rc.1");
    let server = FakeServer::start();
    let url = server.url();
    server
        .route("GET", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("POST", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(201, github_release(9, "v2.0.0-rc.1")));
    repo.paved_env(
        &["--tag", "v2.0.0-rc.1", "--publish", "github"],
        &github_env(&url, Some("t")),
    )
    .ok();
    let body = server.requests_to("POST", "/repos/acme/rocket/releases")[0].json();
    assert_eq!(body["prerelease"], true);
}

#[test]
fn publish_without_a_token_names_the_variable() {
    let (repo, _) = repo();
    let server = FakeServer::start();
    let url = server.url();
    server
        .route("GET", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(200, json!([])));
    let run = repo.paved_env(
        &["--tag", "v1.1.0", "--publish", "github"],
        &github_env(&url, None),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{}", run.stderr);
    assert!(
        server
            .requests_to("POST", "/repos/acme/rocket/releases")
            .is_empty()
    );
}

#[test]
fn publish_server_errors_exit_3_without_leaking_the_token() {
    let (repo, _) = repo();
    let server = FakeServer::start();
    let url = server.url();
    server
        .route("GET", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/releases/tags/v1.1.0")
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server
        .route("POST", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(502, json!({"message": "bad gateway"})));
    let run = repo.paved_env(
        &["--tag", "v1.1.0", "--publish", "github"],
        &github_env(&url, Some("s3cr3t-token")),
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        !run.stderr.contains("s3cr3t-token") || run.stderr.contains("::add-mask::"),
        "{}",
        run.stderr
    );
    assert_eq!(
        server
            .requests_to("POST", "/repos/acme/rocket/releases")
            .len(),
        2,
        "retried once"
    );
}

#[test]
fn token_adds_logins_and_first_time_contributors() {
    let (repo, sha) = repo();
    let server = FakeServer::start();
    let url = server.url();
    server
        .route("GET", &format!("/repos/acme/rocket/commits/{sha}/pulls"))
        .respond(FakeResponse::json(200, json!([{
            "number": 21, "html_url": "https://github.com/acme/rocket/pull/21", "title": "pagination",
            "user": {"login": "octocat"}, "merged_at": "2024-01-01T00:00:00Z",
            "base": {"ref": "main", "repo": {"default_branch": "main"}}
        }])));
    // The other commit has no PR, and its author no GitHub account.
    let fix = repo.git(&["rev-parse", "v1.1.0^{commit}"]);
    server
        .route("GET", &format!("/repos/acme/rocket/commits/{fix}/pulls"))
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", &format!("/repos/acme/rocket/commits/{fix}"))
        .respond(FakeResponse::json(200, json!({"author": null})));
    server
        .route("GET", "/repos/acme/rocket/commits")
        .query("author", "octocat")
        .respond(FakeResponse::json(200, json!([])));
    let run = repo.paved_env(
        &["--tag", "v1.1.0", "--template", "github"],
        &github_env(&url, Some("t")),
    );
    let notes = run.ok();
    assert!(
        notes.contains("- **api:** pagination by @octocat in #21"),
        "{notes}"
    );
    assert!(
        notes.contains("## New contributors\n\n- @octocat made their first contribution in #21"),
        "{notes}"
    );
    let asked = server.requests_to("GET", "/repos/acme/rocket/commits");
    assert_eq!(
        asked[0].query_param("sha").as_deref(),
        Some("v1.0.0"),
        "first contribution is judged against the previous release"
    );
}

#[test]
fn api_failures_while_enriching_are_warnings() {
    let (repo, _) = repo();
    let server = FakeServer::start();
    let url = server.url();
    // Unrouted requests answer 404; make the PR lookup fail hard instead.
    let run = repo.paved_env(
        &["--tag", "v1.1.0", "--template", "plain"],
        &[
            ("GITHUB_API_URL", url.as_str()),
            ("GITHUB_REPOSITORY", "acme/rocket"),
            ("GITHUB_TOKEN", "bad"),
            ("PAVED_HTTP_MAX_ATTEMPTS", "1"),
        ],
    );
    let notes = run.ok();
    assert!(notes.contains("api: pagination"), "{notes}");
    assert!(
        run.stderr.contains("the notes are complete without them"),
        "{}",
        run.stderr
    );
}

#[test]
fn gitlab_release_is_created_then_updated() {
    let (repo, _) = repo();
    let server = FakeServer::start();
    let url = format!("{}/api/v4", server.url());
    let release = json!({"tag_name": "v1.1.0", "name": "v1.1.0", "_links": {"self": "https://gitlab.example.com/acme/rocket/-/releases/v1.1.0"}});
    server
        .route("GET", "/api/v4/projects/acme%2Frocket/releases/v1.1.0")
        .respond_seq([
            FakeResponse::json(404, json!({"message": "404 Not Found"})),
            FakeResponse::json(200, release.clone()),
        ]);
    server
        .route("POST", "/api/v4/projects/acme%2Frocket/releases")
        .respond(FakeResponse::json(201, release.clone()));
    server
        .route("PUT", "/api/v4/projects/acme%2Frocket/releases/v1.1.0")
        .respond(FakeResponse::json(200, release));
    let env = [
        ("CI_API_V4_URL", url.as_str()),
        ("CI_PROJECT_PATH", "acme/rocket"),
        ("CI_JOB_TOKEN", "job-token"),
        ("PAVED_HTTP_MAX_ATTEMPTS", "2"),
    ];
    repo.paved_env(&["--tag", "v1.1.0", "--publish", "gitlab"], &env)
        .ok();
    let post = &server.requests_to("POST", "/api/v4/projects/acme%2Frocket/releases")[0];
    assert_eq!(post.header("job-token"), Some("job-token"));
    assert!(
        post.json()["description"]
            .as_str()
            .unwrap()
            .contains("## Features")
    );
    repo.paved_env(&["--tag", "v1.1.0", "--publish", "gitlab"], &env)
        .ok();
    assert_eq!(
        server
            .requests_to("POST", "/api/v4/projects/acme%2Frocket/releases")
            .len(),
        1
    );
    assert_eq!(
        server
            .requests_to("PUT", "/api/v4/projects/acme%2Frocket/releases/v1.1.0")
            .len(),
        1
    );
}

#[test]
fn assets_are_attached_to_the_release() {
    let (repo, _) = repo();
    repo.write("dist/rocket.tar.gz", "binary bytes");
    let server = FakeServer::start();
    let url = server.url();
    let mut release = github_release(7, "v1.1.0");
    release["upload_url"] = json!(format!(
        "{url}/upload/repos/acme/rocket/releases/7/assets{{?name,label}}"
    ));
    server
        .route("GET", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(200, json!([])));
    server
        .route("GET", "/repos/acme/rocket/releases/tags/v1.1.0")
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server
        .route("POST", "/repos/acme/rocket/releases")
        .respond(FakeResponse::json(201, release));
    server
        .route("GET", "/repos/acme/rocket/releases/7/assets")
        .respond(FakeResponse::json(200, json!([])));
    server.route("POST", "/upload/repos/acme/rocket/releases/7/assets").respond(FakeResponse::json(
        201,
        json!({"id": 1, "name": "rocket.tar.gz", "browser_download_url": "https://github.com/acme/rocket/releases/download/v1.1.0/rocket.tar.gz"}),
    ));
    let run = repo.paved_env(
        &[
            "--tag",
            "v1.1.0",
            "--publish",
            "github",
            "--asset",
            "dist/rocket.tar.gz",
        ],
        &github_env(&url, Some("t")),
    );
    run.ok();
    let uploads = server.requests_to("POST", "/upload/repos/acme/rocket/releases/7/assets");
    assert_eq!(uploads.len(), 1, "{}", run.stderr);
    assert_eq!(
        uploads[0].query_param("name").as_deref(),
        Some("rocket.tar.gz")
    );
    assert_eq!(uploads[0].body, b"binary bytes");

    let missing = repo.paved_env(
        &[
            "--tag",
            "v1.1.0",
            "--publish",
            "github",
            "--asset",
            "nope.zip",
        ],
        &github_env(&url, Some("t")),
    );
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.zip"), "{}", missing.stderr);
}
