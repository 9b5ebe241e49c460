//! The HTTP client against a scripted local server: retries, rate limits, auth, redirects,
//! pagination and error text.

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use paved_core::http::*;
use paved_testkit::http::{FakeClock, FakeResponse, FakeServer, test_client, test_config};
use serde_json::json;
const TOKEN: &str = "ghp_s3cr3tT0kenValue";

fn error_text(err: &HttpError) -> String {
    format!("{err}\n{err:?}\n{}", err.hint().unwrap_or_default())
}

/// An IMF-fixdate for `secs` since the epoch.
fn format_http_date(secs: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(secs).unwrap())
        .unwrap()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A loopback port with nothing listening on it.
struct TcpListenerGuard;

impl TcpListenerGuard {
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }
}

#[test]
fn retries_a_500_then_succeeds() {
    let server = FakeServer::start();
    server.route("GET", "/repos/o/r").respond_seq([
        FakeResponse::json(500, json!({"message": "Server Error"})),
        FakeResponse::json(200, json!({"name": "r"})),
    ]);
    let (client, clock) = test_client();
    let response = client
        .get(format!("{}/repos/o/r", server.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let value: serde_json::Value = response.json().unwrap();
    assert_eq!(value["name"], "r");
    assert_eq!(server.requests_to("GET", "/repos/o/r").len(), 2);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0] <= Duration::from_millis(1), "{sleeps:?}");
}

#[test]
fn backoff_grows_and_is_capped() {
    let server = FakeServer::start();
    server.route("GET", "/x").respond(FakeResponse::new(503));
    let clock = Arc::new(FakeClock::new());
    let config = HttpConfig {
        max_attempts: 6,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(250),
        ..test_config(Arc::clone(&clock))
    };
    let client = Client::new(config);
    let err = client
        .get(format!("{}/x", server.url()))
        .send()
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 5);
    for (i, s) in sleeps.iter().enumerate() {
        let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_millis(250));
        assert!(*s <= ceiling, "wait {i} was {s:?}, above {ceiling:?}");
    }
}

#[test]
fn honours_retry_after_seconds_on_429() {
    let server = FakeServer::start();
    server.route("POST", "/items").respond_seq([
        FakeResponse::json(429, json!({"message": "Too Many Requests"})).header("Retry-After", "7"),
        FakeResponse::json(201, json!({"id": 1})),
    ]);
    let (client, clock) = test_client();
    let response = client
        .post(format!("{}/items", server.url()))
        .json(&json!({"name": "a"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
    // The body was sent again, whole.
    let sent = server.requests_to("POST", "/items");
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_eq!(r.json(), json!({"name": "a"}));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

#[test]
fn honours_retry_after_as_an_http_date() {
    let server = FakeServer::start();
    let clock = Arc::new(FakeClock::new());
    // 20 seconds after the fake clock's start.
    let at = format_http_date(clock.epoch_secs() + 20);
    server.route("GET", "/x").respond_seq([
        FakeResponse::new(503).header("Retry-After", at),
        FakeResponse::new(204),
    ]);
    let client = Client::new(test_config(Arc::clone(&clock)));
    let response = client.get(format!("{}/x", server.url())).send().unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(20)]);
}

#[test]
fn waits_for_a_github_rate_limit_reset() {
    let server = FakeServer::start();
    let (client, clock) = test_client();
    let reset = clock.epoch_secs() + 30;
    server.route("GET", "/rate").respond_seq([
        FakeResponse::json(
            403,
            json!({"message": "API rate limit exceeded for installation ID 1."}),
        )
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string()),
        FakeResponse::json(200, json!([])),
    ]);
    let response = client.get(format!("{}/rate", server.url())).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(31)]);
}

#[test]
fn waits_a_minute_for_a_secondary_rate_limit() {
    let server = FakeServer::start();
    server.route("POST", "/x").respond_seq([
        FakeResponse::json(
            403,
            json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
        ),
        FakeResponse::new(201),
    ]);
    let (client, clock) = test_client();
    client.post(format!("{}/x", server.url())).send().unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
}

#[test]
fn a_reset_beyond_the_cap_fails_at_once() {
    let server = FakeServer::start();
    let (client, clock) = test_client();
    let reset = clock.epoch_secs() + 3600;
    server.route("GET", "/rate").respond(
        FakeResponse::json(403, json!({"message": "API rate limit exceeded"}))
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", reset.to_string()),
    );
    let err = client
        .get(format!("{}/rate", server.url()))
        .send()
        .unwrap_err();
    assert!(
        matches!(err, HttpError::RateLimited { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(err.category(), Category::External);
    assert!(clock.sleeps().is_empty());
    assert_eq!(server.requests().len(), 1);
    let text = err.to_string();
    assert!(text.contains("rate limited"), "{text}");
    assert!(text.contains("2023-11-14T23:13:21Z"), "{text}");
    assert!(err.hint().unwrap().contains(ENV_MAX_WAIT));
}

#[test]
fn a_long_retry_after_on_a_server_error_is_capped() {
    let server = FakeServer::start();
    server.route("GET", "/x").respond_seq([
        FakeResponse::new(503).header("Retry-After", "3600"),
        FakeResponse::new(200),
    ]);
    let (client, clock) = test_client();
    client.get(format!("{}/x", server.url())).send().unwrap();
    assert_eq!(clock.sleeps(), vec![DEFAULT_MAX_WAIT]);
}

#[test]
fn retry_notices_name_the_request_but_not_the_query() {
    let server = FakeServer::start();
    server
        .route("GET", "/x")
        .respond_seq([FakeResponse::new(502), FakeResponse::new(200)]);
    let clock = Arc::new(FakeClock::new());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let config = HttpConfig {
        on_retry: Some(Arc::new(move |n: &RetryNotice| {
            sink.lock().unwrap().push(n.to_string());
        })),
        ..test_config(clock)
    };
    let client = Client::new(config);
    client
        .get(format!("{}/x?token={TOKEN}", server.url()))
        .send()
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let url = server.url();
    assert!(
        seen[0].starts_with(&format!("`GET {url}/x`: 502 Bad Gateway; retrying in ")),
        "{}",
        seen[0]
    );
    assert!(seen[0].ends_with("(attempt 2 of 4)"), "{}", seen[0]);
}

#[test]
fn gives_up_after_max_attempts() {
    let server = FakeServer::start();
    server
        .route("GET", "/down")
        .respond(FakeResponse::json(502, json!({"message": "Bad Gateway"})));
    let (client, clock) = test_client();
    let err = client
        .get(format!("{}/down?page=2", server.url()))
        .send()
        .unwrap_err();
    assert_eq!(server.requests().len(), 4);
    assert_eq!(clock.sleeps().len(), 3);
    match &err {
        HttpError::Status {
            status, attempts, ..
        } => {
            assert_eq!((*status, *attempts), (502, 4));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.category().code(), paved_core::exit::EXTERNAL);
    let url = server.url();
    assert_eq!(
        err.to_string(),
        format!("`GET {url}/down` failed with 502 Bad Gateway: Bad Gateway (after 4 attempts)")
    );
    assert!(err.hint().unwrap().contains("re-run"));
}

#[test]
fn does_not_retry_client_errors() {
    let server = FakeServer::start();
    server
        .route("GET", "/missing")
        .respond(FakeResponse::json(404, json!({"message": "Not Found"})));
    server.route("POST", "/invalid").respond(FakeResponse::json(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]}),
    ));
    let (client, clock) = test_client();
    let err = client
        .get(format!("{}/missing", server.url()))
        .auth_hint("check `GITHUB_TOKEN`")
        .send()
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.hint().unwrap().contains("GITHUB_TOKEN"));
    let err = client
        .post(format!("{}/invalid", server.url()))
        .send()
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(
        err.server_message(),
        Some("Validation Failed; tag_name already_exists")
    );
    // Allowed statuses come back as responses for the caller to branch on.
    let response = client
        .post(format!("{}/invalid", server.url()))
        .allow_status(422)
        .send()
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(server.requests().len(), 3);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn a_plain_403_is_an_auth_failure_with_the_callers_hint() {
    let server = FakeServer::start();
    server
        .route("POST", "/releases")
        .respond(FakeResponse::json(
            403,
            json!({"message": "Resource not accessible by integration"}),
        ));
    let (client, _) = test_client();
    let err = client
        .post(format!("{}/releases", server.url()))
        .auth(&Auth::bearer(Secret::new(TOKEN)))
        .auth_hint("give `GITHUB_TOKEN` `contents: write`")
        .send()
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(err.category(), Category::External);
    assert_eq!(
        err.hint().as_deref(),
        Some("give `GITHUB_TOKEN` `contents: write`")
    );
    assert!(
        err.to_string()
            .contains("Resource not accessible by integration")
    );
}

#[test]
fn the_token_never_appears_in_errors() {
    let server = FakeServer::start();
    // A server that echoes the credential back, and a URL that carries it.
    server.route("GET", "/echo").respond(FakeResponse::text(
        401,
        format!("Bad credentials: Bearer {TOKEN}"),
    ));
    let (client, _) = test_client();
    let url = format!("{}/echo?access_token={TOKEN}", server.url());
    for auth in [
        Auth::bearer(Secret::new(TOKEN)),
        Auth::header("PRIVATE-TOKEN", Secret::new(TOKEN)),
        Auth::basic("user", Secret::new(TOKEN)),
    ] {
        let request = client.get(&url).auth(&auth);
        assert!(!format!("{request:?}").contains(TOKEN));
        let err = request.send().unwrap_err();
        let text = error_text(&err);
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("/echo"), "{text}");
        assert!(text.contains("401 Unauthorized"), "{text}");
    }
    let sent = server.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(sent[1].header("private-token"), Some(TOKEN));
    assert!(
        sent[2]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(sent[0].header("user-agent"), Some(USER_AGENT));

    // Also when the server cannot be reached at all.
    let closed = TcpListenerGuard::closed_port();
    let err = client
        .get(format!("http://127.0.0.1:{closed}/x?token={TOKEN}"))
        .auth(&Auth::bearer(Secret::new(TOKEN)))
        .send()
        .unwrap_err();
    let text = error_text(&err);
    assert!(!text.contains(TOKEN), "{text}");
}

#[test]
fn connection_failures_are_retried_then_reported() {
    let server = FakeServer::start();
    server.route("GET", "/flaky").respond_seq([
        FakeResponse::disconnect(),
        FakeResponse::json(200, json!({"ok": true})),
    ]);
    let (client, _) = test_client();
    let response = client
        .get(format!("{}/flaky", server.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);

    let port = TcpListenerGuard::closed_port();
    let err = client
        .get(format!("http://127.0.0.1:{port}/nothing"))
        .send()
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Transport { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(err.category(), Category::External);
    assert!(err.hint().unwrap().contains(ENV_TIMEOUT));
}

#[test]
fn bad_json_is_a_clear_error() {
    let server = FakeServer::start();
    server
        .route("GET", "/html")
        .respond(FakeResponse::text(200, "<html><body>Sign in</body></html>"));
    server
        .route("GET", "/shape")
        .respond(FakeResponse::json(200, json!({"id": "not a number"})));
    let (client, _) = test_client();
    let response = client.get(format!("{}/html", server.url())).send().unwrap();
    let err = response.json::<serde_json::Value>().unwrap_err();
    assert!(err.to_string().contains("(an HTML page)"), "{err}");
    assert_eq!(err.category(), Category::External);

    #[derive(Debug, serde::Deserialize)]
    struct Thing {
        #[allow(dead_code)]
        id: u64,
    }
    let response = client
        .get(format!("{}/shape", server.url()))
        .send()
        .unwrap();
    let err = response.json::<Thing>().unwrap_err();
    assert!(err.to_string().contains("/shape"), "{err}");
}

#[test]
fn follows_link_pagination() {
    let server = FakeServer::start();
    let base = server.url();
    server.route("GET", "/items").respond(
        FakeResponse::json(200, json!([1, 2]))
            .header("Link", format!("<{base}/items?per_page=2&page=2>; rel=\"next\", <{base}/items?per_page=2&page=3>; rel=\"last\"")),
    );
    server.route("GET", "/items").query("page", "2").respond(
        FakeResponse::json(200, json!([3, 4])).header(
            "Link",
            format!("<{base}/items?per_page=2&page=3>; rel=\"next\""),
        ),
    );
    server
        .route("GET", "/items")
        .query("page", "3")
        .respond(FakeResponse::json(200, json!([5])));
    let (client, _) = test_client();
    let auth = Auth::bearer(Secret::new(TOKEN));
    let paged: Paged<u32> = client
        .get(format!("{base}/items"))
        .query("per_page", "2")
        .auth(&auth)
        .paginate(10)
        .unwrap();
    assert_eq!(paged.items, vec![1, 2, 3, 4, 5]);
    assert!(!paged.truncated);
    let sent = server.requests();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|r| r.header("authorization").is_some()));
    assert_eq!(sent[2].query_param("page").as_deref(), Some("3"));

    let capped: Paged<u32> = client.get(format!("{base}/items")).paginate(2).unwrap();
    assert_eq!(capped.items, vec![1, 2, 3, 4]);
    assert!(capped.truncated);
}

#[test]
fn refuses_a_next_link_to_another_host() {
    let server = FakeServer::start();
    server.route("GET", "/items").respond(
        FakeResponse::json(200, json!([1]))
            .header("Link", "<https://evil.example/items?page=2>; rel=\"next\""),
    );
    let (client, _) = test_client();
    let err = client
        .get(format!("{}/items", server.url()))
        .auth(&Auth::bearer(Secret::new(TOKEN)))
        .paginate::<u32>(5)
        .unwrap_err();
    assert!(matches!(err, HttpError::ForeignLink { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn refuses_a_next_link_to_another_port_or_scheme() {
    let server = FakeServer::start();
    let other = FakeServer::start();
    let port = server.addr().port();
    for next in [
        format!("{}/items?page=2", other.url()),
        format!("https://127.0.0.1:{port}/items?page=2"),
        format!("http://localhost:{port}/items?page=2"),
    ] {
        server.clear_requests();
        server.route("GET", "/items").respond(
            FakeResponse::json(200, json!([1])).header("Link", format!("<{next}>; rel=\"next\"")),
        );
        let (client, _) = test_client();
        let err = client
            .get(format!("{}/items", server.url()))
            .auth(&Auth::bearer(Secret::new(TOKEN)))
            .paginate::<u32>(5)
            .unwrap_err();
        assert!(
            matches!(err, HttpError::ForeignLink { .. }),
            "{next}: {err:?}"
        );
        assert_eq!(server.requests().len(), 1);
    }
    assert!(other.requests().is_empty());
}

#[test]
fn a_redirect_on_the_same_origin_keeps_credentials() {
    let server = FakeServer::start();
    let base = server.url();
    server
        .route("GET", "/old")
        .respond(FakeResponse::new(301).header("Location", "/new?page=2"));
    server
        .route("GET", "/new")
        .respond(FakeResponse::json(200, json!({"ok": true})));
    let (client, _) = test_client();
    for auth in [
        Auth::bearer(Secret::new(TOKEN)),
        Auth::header("PRIVATE-TOKEN", Secret::new(TOKEN)),
    ] {
        server.clear_requests();
        let response = client
            .get(format!("{base}/old"))
            .auth(&auth)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let sent = server.requests();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].path, "/new");
        assert_eq!(sent[1].query_param("page").as_deref(), Some("2"));
        let name = match &auth {
            Auth::Header { name, .. } => name.as_str(),
            _ => "authorization",
        };
        assert!(sent.iter().all(|r| r.header(name).is_some()), "{sent:?}");
    }
}

#[test]
fn credentials_never_follow_a_redirect_to_another_origin() {
    let server = FakeServer::start();
    let other = FakeServer::start();
    let port = server.addr().port();
    // Another port, and another host name for the same server.
    for target in [
        format!("{}/landing", other.url()),
        format!("http://localhost:{port}/landing"),
    ] {
        server.clear_requests();
        other.clear_requests();
        server
            .route("GET", "/old")
            .respond(FakeResponse::new(302).header("Location", target.as_str()));
        server
            .route("GET", "/landing")
            .respond(FakeResponse::json(200, json!({})));
        other
            .route("GET", "/landing")
            .respond(FakeResponse::json(200, json!({})));
        let (client, _) = test_client();
        for auth in [
            Auth::bearer(Secret::new(TOKEN)),
            Auth::basic("bot", Secret::new(TOKEN)),
            Auth::header("PRIVATE-TOKEN", Secret::new(TOKEN)),
        ] {
            let response = client
                .get(format!("{}/old", server.url()))
                .auth(&auth)
                .header("JOB-TOKEN", TOKEN)
                .header("Accept", "application/json")
                .send()
                .unwrap();
            assert_eq!(response.status(), 200, "{target}");
        }
        let landed: Vec<_> = server
            .requests_to("GET", "/landing")
            .into_iter()
            .chain(other.requests_to("GET", "/landing"))
            .collect();
        assert_eq!(landed.len(), 3, "{target}");
        for request in &landed {
            assert_eq!(request.header("accept"), Some("application/json"));
            for (name, value) in &request.headers {
                assert!(
                    !value.contains(TOKEN),
                    "{target}: `{name}` sent to another origin"
                );
            }
            assert!(request.header("authorization").is_none(), "{target}");
        }
        assert_eq!(server.requests_to("GET", "/old").len(), 3);
        assert!(
            server
                .requests_to("GET", "/old")
                .iter()
                .all(|r| r.header("job-token") == Some(TOKEN))
        );
    }
}

#[test]
fn a_see_other_after_a_post_is_a_get_without_the_body() {
    let server = FakeServer::start();
    server
        .route("POST", "/things")
        .respond(FakeResponse::new(303).header("Location", "/things/1"));
    server
        .route("GET", "/things/1")
        .respond(FakeResponse::json(200, json!({"id": 1})));
    let (client, _) = test_client();
    let response = client
        .post(format!("{}/things", server.url()))
        .json(&json!({"name": "x"}))
        .send()
        .unwrap();
    assert_eq!(response.json::<serde_json::Value>().unwrap()["id"], 1);
    let get = server.requests_to("GET", "/things/1");
    assert_eq!(get.len(), 1);
    assert!(get[0].body.is_empty());
}

#[test]
fn endless_redirects_are_an_error() {
    let server = FakeServer::start();
    server
        .route("GET", "/loop")
        .respond(FakeResponse::new(302).header("Location", "/loop"));
    let (client, _) = test_client();
    let err = client
        .get(format!("{}/loop", server.url()))
        .send()
        .unwrap_err();
    assert!(
        error_text(&err).contains("redirects could not be followed"),
        "{}",
        error_text(&err)
    );
    assert_eq!(server.requests().len(), 11);
}

#[test]
fn sends_files_with_a_length_and_again_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asset.tar.gz");
    std::fs::write(&path, b"0123456789").unwrap();
    let server = FakeServer::start();
    server
        .route("POST", "/upload")
        .respond_seq([FakeResponse::new(500), FakeResponse::new(201)]);
    let (client, _) = test_client();
    client
        .post(format!("{}/upload", server.url()))
        .query("name", "asset.tar.gz")
        .file(&path, "application/gzip")
        .send()
        .unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_eq!(r.body, b"0123456789");
        assert_eq!(r.header("content-length"), Some("10"));
        assert_eq!(r.query_param("name").as_deref(), Some("asset.tar.gz"));
    }

    let err = client
        .post(format!("{}/upload", server.url()))
        .file(dir.path().join("missing"), "application/octet-stream")
        .send()
        .unwrap_err();
    assert!(matches!(err, HttpError::Body { .. }), "{err:?}");
    assert_eq!(err.category(), Category::Usage);
}

#[test]
fn downloads_a_body_to_a_file_and_retries_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let server = FakeServer::start();
    server.route("GET", "/blob").respond_seq([
        FakeResponse::disconnect(),
        FakeResponse::new(200).body(b"layer bytes".to_vec()),
    ]);
    server
        .route("GET", "/missing")
        .respond(FakeResponse::text(404, "blob unknown"));
    let (client, _) = test_client();
    let response = client
        .get(format!("{}/blob", server.url()))
        .download_to(&path)
        .send()
        .unwrap();
    assert!(response.body().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), b"layer bytes");
    let err = client
        .get(format!("{}/missing", server.url()))
        .download_to(dir.path().join("missing"))
        .send()
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("blob unknown"), "{err}");
}

#[test]
fn a_download_past_its_limit_fails_once_without_filling_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("artifact.zip");
    let server = FakeServer::start();
    server
        .route("GET", "/big")
        .respond(FakeResponse::new(200).body(vec![7u8; 300_000]));
    let (client, _) = test_client();
    let err = client
        .get(format!("{}/big", server.url()))
        .download_to(&path)
        .max_download_bytes(1000)
        .send()
        .unwrap_err();
    assert!(
        matches!(err, HttpError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("larger than the 1000-byte limit"),
        "{err}"
    );
    assert_eq!(server.requests_to("GET", "/big").len(), 1, "not retried");
    assert!(std::fs::metadata(&path).unwrap().len() <= 1000);
    // Within the limit, the body is written whole.
    client
        .get(format!("{}/big", server.url()))
        .download_to(&path)
        .max_download_bytes(300_000)
        .send()
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 300_000);
}

#[test]
fn an_invalid_url_is_a_usage_error() {
    let (client, _) = test_client();
    let err = client.get("not a url").send().unwrap_err();
    assert_eq!(err.category(), Category::Usage, "{err:?}");
}

#[test]
fn dates() {
    let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
    assert_eq!(format_utc(t), "1994-11-06T08:49:37Z");
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
    assert_eq!(parse_http_date("yesterday"), None);
    assert_eq!(parse_http_date("Sun, 99 Nov 1994 08:49:37 GMT"), None);
    assert_eq!(
        format_utc(UNIX_EPOCH + Duration::from_secs(FakeClock::START_EPOCH)),
        "2023-11-14T22:13:20Z"
    );
}

/// Credentials bound to an origin go only there: a URL a server handed out that names another
/// port of the same host, or another name for it, gets none.
#[test]
fn credentials_bound_to_an_origin_stay_there() {
    let home = FakeServer::start();
    let other = FakeServer::start();
    let port = home.addr().port();
    home.route("GET", "/x").respond(FakeResponse::new(200));
    other.route("GET", "/x").respond(FakeResponse::new(200));
    let (client, _) = test_client();
    let auth = Auth::basic("bot", Secret::new(TOKEN));
    let origin = format!("{}/v2/", home.url());
    for url in [
        format!("{}/x", home.url()),
        format!("{}/x", other.url()),
        format!("http://localhost:{port}/x"),
    ] {
        client
            .get(&url)
            .auth_for_origin(Some(&auth), &origin)
            .send()
            .unwrap();
    }
    let at_home = home.requests_to("GET", "/x");
    assert_eq!(at_home.len(), 2);
    assert!(at_home[0].header("authorization").is_some());
    assert!(
        at_home[1].header("authorization").is_none(),
        "`localhost` is another origin"
    );
    let away = other.requests_to("GET", "/x");
    assert_eq!(away.len(), 1);
    assert!(
        away[0].header("authorization").is_none(),
        "another port is another origin"
    );
}

/// A host name that does not resolve is a typo or a missing network, not a blip: one attempt,
/// no backoff, and the error says so.
#[test]
fn a_host_that_does_not_resolve_is_not_retried() {
    let (client, clock) = test_client();
    let err = client
        .get("http://paved-no-such-host.invalid/v2/")
        .send()
        .unwrap_err();
    match &err {
        HttpError::Transport {
            attempts, message, ..
        } => {
            assert_eq!(*attempts, 1, "{err}");
            assert!(message.contains("could not be resolved"), "{err}");
        }
        other => panic!("not a transport error: {other:?}"),
    }
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
}
