//! Test doubles for code that talks HTTP: a scripted fake HTTP/1.1 server and a fake clock.
//!
//! Lives in paved-testkit, a dev-dependency only, so the shipped binaries never contain it.
//!
//! [`FakeServer`] listens on `127.0.0.1` on a free port and answers from routes (method + path,
//! optionally query parameters) with scripted responses: one fixed answer, a sequence (first
//! `500`, then `200`), or a closure. It records every request it receives (method, path, query,
//! headers, body) so tests can assert on what the client sent. Requests that match no route get
//! `404 {"message":"Not Found"}`, as GitHub answers, and are listed by [`FakeServer::unmatched`].
//!
//! [`FakeClock`] never sleeps: it records each wait and moves its time forward, so a test of a
//! one-hour rate-limit reset runs in milliseconds and can assert on the wait.
//!
//! ```
//! use paved_testkit::http::{FakeResponse, FakeServer, test_client};
//!
//! let server = FakeServer::start();
//! server.route("GET", "/thing").respond_seq([
//!     FakeResponse::new(502),
//!     FakeResponse::json(200, serde_json::json!({"ok": true})),
//! ]);
//! let (client, clock) = test_client();
//! let response = client.get(format!("{}/thing", server.url())).send().unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(server.requests_to("GET", "/thing").len(), 2);
//! assert_eq!(clock.sleeps().len(), 1);
//! ```

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use paved_core::http::{Client, Clock, HttpConfig, decode_component};

/// Largest request body the fake server reads.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A request as the fake server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path as sent, still percent-encoded (`/projects/group%2Fproject`).
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub query: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (chunked bodies are decoded).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or `Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeResponse {
    /// The status code.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection: close` are added by the server).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Close the connection without answering (a network failure, as the client sees it).
    pub disconnect: bool,
}

impl FakeResponse {
    /// A response with `status` and no body.
    pub fn new(status: u16) -> Self {
        FakeResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            disconnect: false,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: impl Into<serde_json::Value>) -> Self {
        FakeResponse::new(status)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(value.into().to_string())
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        FakeResponse::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Drop the connection instead of answering.
    pub fn disconnect() -> Self {
        FakeResponse {
            disconnect: true,
            ..FakeResponse::new(0)
        }
    }
}

type Handler = Box<dyn FnMut(&RecordedRequest) -> FakeResponse + Send>;

enum Responder {
    /// Answers in order; the last one repeats.
    Sequence(Vec<FakeResponse>, usize),
    Handler(Handler),
}

struct Route {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    responder: Responder,
}

impl Route {
    fn matches(&self, request: &RecordedRequest) -> bool {
        if !self.method.eq_ignore_ascii_case(&request.method) || self.path != request.path {
            return false;
        }
        let pairs = query_pairs(&request.query);
        self.query.iter().all(|q| pairs.contains(q))
    }

    fn respond(&mut self, request: &RecordedRequest) -> FakeResponse {
        match &mut self.responder {
            Responder::Sequence(responses, next) => {
                let i = (*next).min(responses.len().saturating_sub(1));
                *next += 1;
                responses
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| FakeResponse::new(500))
            }
            Responder::Handler(handler) => handler(request),
        }
    }
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<RecordedRequest>,
    unmatched: Vec<RecordedRequest>,
}

/// A scripted HTTP/1.1 server on `127.0.0.1`, stopped when dropped. See the module docs.
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeServer {
    /// Start a server on a free loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound (a test cannot go on without its server).
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(e) => panic!("the fake HTTP server could not listen on 127.0.0.1: {e}"),
        }
    }

    /// Start a server on a free loopback port.
    pub fn try_start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("paved-fake-http".into())
                .spawn(move || serve(&listener, &state, &stop))?
        };
        Ok(FakeServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Add a route for `method` and `path` (matched exactly, percent-encoding included). When
    /// several routes match, the one with the most query constraints wins, then the newest.
    pub fn route(&self, method: &str, path: &str) -> RouteBuilder<'_> {
        RouteBuilder {
            server: self,
            method: method.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
        }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// The requests received for `method` and `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .cloned()
            .collect()
    }

    /// The requests that matched no route (answered `404`).
    pub fn unmatched(&self) -> Vec<RecordedRequest> {
        lock(&self.state).unmatched.clone()
    }

    /// Forget the requests received so far (routes stay).
    pub fn clear_requests(&self) {
        let mut state = lock(&self.state);
        state.requests.clear();
        state.unmatched.clear();
    }

    fn add(&self, route: Route) {
        lock(&self.state).routes.push(route);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A route being added; finish it with one of the `respond` methods.
#[must_use = "a route is added only by one of the `respond` methods"]
pub struct RouteBuilder<'s> {
    server: &'s FakeServer,
    method: String,
    path: String,
    query: Vec<(String, String)>,
}

impl fmt::Debug for RouteBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteBuilder")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl RouteBuilder<'_> {
    /// Match only requests whose query has `name=value` (decoded; other parameters may be there).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Always answer `response`.
    pub fn respond(self, response: FakeResponse) {
        self.respond_seq([response]);
    }

    /// Answer with `responses` in order; the last one repeats.
    pub fn respond_seq(self, responses: impl IntoIterator<Item = FakeResponse>) {
        let responses: Vec<FakeResponse> = responses.into_iter().collect();
        self.finish(Responder::Sequence(responses, 0));
    }

    /// Answer with whatever `handler` makes of the request.
    pub fn respond_with(
        self,
        handler: impl FnMut(&RecordedRequest) -> FakeResponse + Send + 'static,
    ) {
        self.finish(Responder::Handler(Box::new(handler)));
    }

    fn finish(self, responder: Responder) {
        self.server.add(Route {
            method: self.method,
            path: self.path,
            query: self.query,
            responder,
        });
    }
}

fn serve(listener: &TcpListener, state: &Mutex<State>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Ok(stream) = stream {
            // One request per connection (`Connection: close`): simple, and every retry of the
            // client is a fresh connection, as after a real server error.
            let _ = handle(&stream, state);
        }
    }
}

fn handle(stream: &TcpStream, state: &Mutex<State>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let Some(request) = read_request(&mut reader, &mut writer)? else {
        return Ok(());
    };
    let response = {
        let mut state = lock(state);
        state.requests.push(request.clone());
        let best = state
            .routes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&request))
            .max_by_key(|(i, r)| (r.query.len(), *i))
            .map(|(i, _)| i);
        match best {
            Some(i) => state.routes[i].respond(&request),
            None => {
                state.unmatched.push(request.clone());
                FakeResponse::json(404, serde_json::json!({ "message": "Not Found" }))
            }
        }
    };
    if response.disconnect {
        return stream.shutdown(std::net::Shutdown::Both);
    }
    write_response(&mut writer, &request.method, &response)
}

fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
) -> io::Result<Option<RecordedRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = RecordedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            request
                .headers
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(len) = request
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; len.min(MAX_BODY)];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn write_response(
    writer: &mut impl Write,
    method: &str,
    response: &FakeResponse,
) -> io::Result<()> {
    let reason = ureq::http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let no_body = matches!(response.status, 204 | 304) || (100..200).contains(&response.status);
    if !no_body {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    writer.write_all(head.as_bytes())?;
    if !no_body && !method.eq_ignore_ascii_case("HEAD") {
        writer.write_all(&response.body)?;
    }
    writer.flush()
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k, true), decode_component(v, true))
        })
        .collect()
}

/// A clock that never sleeps: it records each wait and moves its time forward by it.
#[derive(Debug)]
pub struct FakeClock {
    start: SystemTime,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeClock {
    /// Where a fake clock starts, in seconds since the Unix epoch (2023-11-14T22:13:20Z).
    pub const START_EPOCH: u64 = 1_700_000_000;

    /// A clock at [`FakeClock::START_EPOCH`].
    pub fn new() -> Self {
        FakeClock {
            start: UNIX_EPOCH + Duration::from_secs(Self::START_EPOCH),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Every wait asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current fake time in whole seconds since the Unix epoch.
    pub fn epoch_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        self.start + self.sleeps().iter().sum::<Duration>()
    }

    fn sleep(&self, duration: Duration) {
        self.sleeps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
    }
}

/// An [`HttpConfig`] for tests: `clock` instead of real time, short timeouts, 4 attempts, a
/// 1 ms backoff base, the default 120 s cap on server-requested waits, no proxy (the fake server
/// is on loopback) and no retry warnings.
pub fn test_config(clock: Arc<FakeClock>) -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        proxy_from_env: false,
        clock,
        on_retry: None,
        ..HttpConfig::default()
    }
}

/// A [`Client`] built from [`test_config`], and its clock.
pub fn test_client() -> (Client, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::new());
    (Client::new(test_config(Arc::clone(&clock))), clock)
}
