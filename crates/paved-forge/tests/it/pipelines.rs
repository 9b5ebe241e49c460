//! `Pipelines::jobs` against a hostile GitLab that ignores `per_page` and links to a next page
//! forever: what is held stays bounded, and the cut is said, not silent.

use paved_core::http::Secret;
use paved_forge::pipelines::{MAX_JOBS_BYTES, MAX_PIPELINE_JOBS, Pipelines};
use paved_forge::{GitLabConfig, GitLabToken};
use paved_testkit::http::{FakeResponse, FakeServer, test_client};
use serde_json::{Value, json};

const JOBS: &str = "/projects/42/pipelines/9/jobs";

fn pipelines(server: &FakeServer) -> Pipelines {
    let (client, _) = test_client();
    let config = GitLabConfig::new(
        &server.url(),
        "42",
        Some(GitLabToken::Private(Secret::new("glpat-x"))),
    )
    .unwrap();
    Pipelines::new(client, &config)
}

/// Every page has `per_page` jobs with names of `name_len` bytes and a `Link` to the next.
fn endless(server: &FakeServer, per_page: usize, name_len: usize) {
    let url = server.url();
    server.route("GET", JOBS).respond_with(move |r| {
        let page: u64 = r
            .query_param("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let jobs: Vec<Value> = (0..per_page as u64)
            .map(|i| {
                json!({"id": page * 1_000_000 + i, "name": "x".repeat(name_len), "status": "success"})
            })
            .collect();
        FakeResponse::json(200, Value::from(jobs)).header(
            "Link",
            format!("<{url}{JOBS}?include_retried=true&per_page=100&page={}>; rel=\"next\"", page + 1),
        )
    });
}

#[test]
fn a_pipeline_listing_more_jobs_than_the_cap_is_cut_and_says_so() {
    let server = FakeServer::start();
    endless(&server, 3_000, 4);
    let listed = pipelines(&server).jobs(9).unwrap();
    assert_eq!(listed.jobs.len(), MAX_PIPELINE_JOBS);
    assert_eq!(server.requests_to("GET", JOBS).len(), 2);
    let cut = listed.truncated.expect("the cut is said");
    assert!(cut.contains("pipeline 9"), "{cut}");
    assert!(cut.contains(&format!("{MAX_PIPELINE_JOBS} jobs")), "{cut}");
}

#[test]
fn a_pipeline_whose_job_pages_grow_past_the_byte_cap_is_cut_and_says_so() {
    let server = FakeServer::start();
    // 1 MiB a page: the byte cap, not the page cap, ends the walk.
    endless(&server, 1, 1024 * 1024);
    let listed = pipelines(&server).jobs(9).unwrap();
    let read = server.requests_to("GET", JOBS).len() as u64;
    assert!(
        read * 1024 * 1024 <= MAX_JOBS_BYTES + 2 * 1024 * 1024,
        "{read} pages"
    );
    assert!(listed.jobs.len() as u64 <= read);
    let cut = listed.truncated.expect("the cut is said");
    assert!(cut.contains("MiB"), "{cut}");
}

#[test]
fn a_pipeline_within_the_caps_is_read_whole() {
    let server = FakeServer::start();
    server.route("GET", JOBS).respond(FakeResponse::json(
        200,
        json!([{"id": 1, "name": "test"}, {"id": 2, "name": "test"}]),
    ));
    let listed = pipelines(&server).jobs(9).unwrap();
    assert_eq!(listed.jobs.len(), 2);
    assert_eq!(listed.truncated, None);
}
