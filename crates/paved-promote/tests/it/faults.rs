//! Faults injected by a small HTTP proxy between paved-promote and a real registry: 500s, 429s,
//! a connection reset mid-blob, a refused mount, a registry restart. The copy completes or fails
//! cleanly, and no tag ever points at an incomplete image.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::common::*;
use paved_testkit::registry::Registry;

#[derive(Debug, Clone, Copy)]
enum Action {
    /// Answer with this status (and `Retry-After: 0` for 429).
    Status(u16),
    /// Answer `202 Accepted` with a `Location` (a mount the registry declined).
    Accepted,
    /// Forward, then send only half of the response body and drop the connection.
    ResetMidBody,
    /// Restart the registry and drop the connection without an answer.
    Restart,
}

#[derive(Debug)]
struct Rule {
    method: &'static str,
    path_contains: &'static str,
    action: Action,
    times: usize,
}

struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl Proxy {
    fn start(registry: Arc<Mutex<Registry>>, rules: Vec<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = registry.lock().unwrap().port();
        let rules = Arc::new(Mutex::new(rules));
        let rules2 = Arc::clone(&rules);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (rules, seen, registry) = (
                    Arc::clone(&rules2),
                    Arc::clone(&seen2),
                    Arc::clone(&registry),
                );
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream, &rules, &seen, &registry);
                });
            }
        });
        Proxy { port, seen, rules }
    }

    /// Rules that did not fire as often as asked.
    fn unfired(&self) -> Vec<String> {
        self.rules
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.times > 0)
            .map(|r| format!("{r:?}"))
            .collect()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Ok(None);
        }
        head.push(byte[0]);
    }
    Ok(Some(head))
}

fn handle(
    mut conn: TcpStream,
    upstream: u16,
    rules: &Mutex<Vec<Rule>>,
    seen: &Mutex<Vec<String>>,
    registry: &Mutex<Registry>,
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut conn)? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !k.eq_ignore_ascii_case("connection") {
            headers.push(line.to_owned());
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    seen.lock().unwrap().push(format!("{method} {path}"));

    let action = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == method && path.contains(r.path_contains))
            .map(|r| {
                r.times -= 1;
                r.action
            })
    };
    match action {
        Some(Action::Status(code)) => {
            let extra = if code == 429 {
                "Retry-After: 0\r\n"
            } else {
                ""
            };
            write!(
                conn,
                "HTTP/1.1 {code} Injected\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            return Ok(());
        }
        Some(Action::Accepted) => {
            let repo = path
                .trim_start_matches("/v2/")
                .split("/blobs/")
                .next()
                .unwrap_or_default()
                .to_owned();
            write!(
                conn,
                "HTTP/1.1 202 Accepted\r\nLocation: /v2/{repo}/blobs/uploads/declined-mount\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            return Ok(());
        }
        Some(Action::Restart) => {
            registry.lock().unwrap().restart();
            conn.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        _ => {}
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut out = format!("{request_line}\r\n");
    for h in &headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    up.write_all(out.as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    if let Some(Action::ResetMidBody) = action {
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        let half = split + (response.len() - split) / 2;
        conn.write_all(&response[..half])?;
        conn.shutdown(Shutdown::Both)?;
        return Ok(());
    }
    conn.write_all(&response)?;
    Ok(())
}

fn tag_exists(host: &str, repo: &str, tag: &str) -> bool {
    let http = paved_core::http::Client::default();
    let r = http
        .head(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .header("Accept", paved_promote::oci::MANIFEST_ACCEPT)
        .allow_status(404)
        .send()
        .unwrap();
    r.status() == 200
}

#[test]
fn retries_through_500_429_resets_and_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let src_reg = Arc::new(Mutex::new(Registry::start()));
    let dst_reg = Arc::new(Mutex::new(Registry::start()));
    let fx = make_image(&work.path().join("layout"), "v1", 30, 2, 200_000, true);
    push(&fx, &src_reg.lock().unwrap().host(), "app", None);
    let src = Proxy::start(
        Arc::clone(&src_reg),
        vec![
            Rule {
                method: "GET",
                path_contains: "/blobs/sha256:",
                action: Action::ResetMidBody,
                times: 2,
            },
            Rule {
                method: "GET",
                path_contains: "/blobs/sha256:",
                action: Action::Status(500),
                times: 1,
            },
        ],
    );
    let dst = Proxy::start(
        Arc::clone(&dst_reg),
        vec![
            Rule {
                method: "HEAD",
                path_contains: "/blobs/sha256:",
                action: Action::Status(429),
                times: 1,
            },
            Rule {
                method: "PUT",
                path_contains: "/blobs/uploads/",
                action: Action::Status(500),
                times: 1,
            },
            Rule {
                method: "PUT",
                path_contains: "/blobs/uploads/",
                action: Action::Restart,
                times: 1,
            },
        ],
    );
    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", src.host()),
            &format!("{}/app:v1", dst.host()),
            "--json",
        ],
        work.path(),
        &[],
    );
    assert!(
        out.status.success(),
        "{}\nsrc saw {:?}\ndst saw {:?}",
        stderr(&out),
        src.seen(),
        dst.seen()
    );
    assert_eq!(json(&out)["digest"], fx.digest.as_str());
    assert!(
        src.unfired().is_empty() && dst.unfired().is_empty(),
        "{:?} {:?}",
        src.unfired(),
        dst.unfired()
    );
    let dst_host = dst_reg.lock().unwrap().host();
    assert_eq!(
        inspect_raw(&format!("docker://{dst_host}/app:v1"), None),
        fx.bytes
    );
}

#[test]
fn a_refused_mount_falls_back_to_upload_and_cancels_the_session() {
    let work = tempfile::tempdir().unwrap();
    let reg = Arc::new(Mutex::new(Registry::start()));
    let fx = make_image(&work.path().join("layout"), "v1", 31, 1, 5000, false);
    push(&fx, &reg.lock().unwrap().host(), "src", None);
    let proxy = Proxy::start(
        Arc::clone(&reg),
        vec![
            Rule {
                method: "POST",
                path_contains: "mount=",
                action: Action::Accepted,
                times: 1,
            },
            Rule {
                method: "POST",
                path_contains: "mount=",
                action: Action::Status(500),
                times: 100,
            },
        ],
    );
    let out = promote(
        &[
            "copy",
            &format!("{}/src:v1", proxy.host()),
            &format!("{}/dst:v1", proxy.host()),
            "--json",
            "--jobs",
            "1",
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["blobs_mounted"], 0, "{report}");
    assert_eq!(report["blobs_uploaded"], 4, "{report}");
    assert!(
        proxy
            .seen()
            .iter()
            .any(|r| r.starts_with("DELETE") && r.contains("declined-mount")),
        "the declined mount's session was not cancelled: {:?}",
        proxy.seen()
    );
    assert_eq!(
        inspect_raw(
            &format!("docker://{}/dst:v1", reg.lock().unwrap().host()),
            None
        ),
        fx.bytes
    );
}

#[test]
fn a_registry_that_keeps_failing_leaves_no_tag() {
    let work = tempfile::tempdir().unwrap();
    let reg = Arc::new(Mutex::new(Registry::start()));
    let fx = make_image(&work.path().join("layout"), "v1", 32, 1, 5000, false);
    let host = reg.lock().unwrap().host();
    push(&fx, &host, "src", None);
    // Child manifests cannot be pushed: the index (and so the tag) must never be written.
    let proxy = Proxy::start(
        Arc::clone(&reg),
        vec![Rule {
            method: "PUT",
            path_contains: "/manifests/sha256:",
            action: Action::Status(503),
            times: 1000,
        }],
    );
    let out = promote(
        &[
            "copy",
            &format!("{}/src:v1", proxy.host()),
            &format!("{}/dst:v1", proxy.host()),
        ],
        work.path(),
        &[("PAVED_HTTP_MAX_ATTEMPTS", "2")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("503"), "{}", stderr(&out));
    assert!(!tag_exists(&host, "dst", "v1"));
    assert!(
        !proxy
            .seen()
            .iter()
            .any(|r| r.starts_with("PUT") && r.ends_with("/manifests/v1"))
    );
}
