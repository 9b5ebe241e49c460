//! [`RequestBuilder`]: a request being built, and sending it: headers, credentials, bodies,
//! the retry loop, streaming downloads, and turning what came back into a [`Response`] or an
//! [`HttpError`] that names the request but never its credentials.

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::auth::{Auth, is_sensitive_header};
use super::config::HttpConfig;
use super::date::format_utc;
use super::error::{HttpError, status_hint};
use super::method::Method;
use super::response::Response;
use super::retry::{RetryNotice, backoff, retry_signal};
use super::url::{encode_component, resolve_url, same_origin};
use crate::redact::redact_url;

/// Most redirects followed for one request (ureq's default).
const MAX_REDIRECTS: u32 = 10;

#[derive(Debug, Clone)]
enum Payload {
    None,
    Bytes {
        data: Arc<[u8]>,
        content_type: String,
    },
    File {
        path: PathBuf,
        content_type: String,
    },
}

/// A request being built; [`RequestBuilder::send`] sends it (with retries).
///
/// Cloning is cheap (the body is shared), which is how pagination re-sends it for every page.
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'a> {
    agent: &'a ureq::Agent,
    config: &'a HttpConfig,
    pub(super) method: Method,
    pub(super) url: String,
    headers: Vec<(String, String)>,
    auth: Option<Auth>,
    payload: Payload,
    allowed: Vec<u16>,
    auth_hint: Option<String>,
    max_attempts: Option<u32>,
    /// A problem found while building (e.g. a body that does not serialise), reported by `send`.
    invalid: Option<String>,
    /// Where a successful response's body is streamed instead of memory (see `download_to`).
    download: Option<PathBuf>,
    /// Most bytes a streamed download may hold (see `max_download_bytes`).
    download_limit: Option<u64>,
}

impl fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if is_sensitive_header(k) { "***" } else { v };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &headers)
            .field("auth", &self.auth)
            .field("payload", &self.payload)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestBuilder<'a> {
    pub(super) fn new(
        agent: &'a ureq::Agent,
        config: &'a HttpConfig,
        method: Method,
        url: String,
    ) -> Self {
        RequestBuilder {
            agent,
            config,
            method,
            url,
            headers: Vec::new(),
            auth: None,
            payload: Payload::None,
            allowed: Vec::new(),
            auth_hint: None,
            max_attempts: None,
            invalid: None,
            download: None,
            download_limit: None,
        }
    }

    /// Add a header. Headers that carry credentials (`Authorization`, `PRIVATE-TOKEN`, …) are
    /// never shown in `Debug` output; prefer [`RequestBuilder::auth`] for them.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Append a query parameter; both parts are percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let _ = write!(
            self.url,
            "{sep}{}={}",
            encode_component(name),
            encode_component(value)
        );
        self
    }

    /// Authenticate with `auth`.
    pub fn auth(mut self, auth: &Auth) -> Self {
        self.auth = Some(auth.clone());
        self
    }

    /// Authenticate with `auth` if there is one (anonymous otherwise).
    pub fn auth_opt(mut self, auth: Option<&Auth>) -> Self {
        self.auth = auth.cloned();
        self
    }

    /// Authenticate with `auth` only if this request's URL has the origin (scheme, host, port)
    /// of `origin`, the URL the credentials were configured for; a request to any other origin
    /// goes without them. For URLs a server hands out (an upload `Location`, a token realm), so
    /// that a server cannot point credentials at another host, or another port of the same host.
    pub fn auth_for_origin(mut self, auth: Option<&Auth>, origin: &str) -> Self {
        self.auth = auth.filter(|_| same_origin(&self.url, origin)).cloned();
        self
    }

    /// Whether this request goes to the origin (scheme, host, port) of `url`.
    pub fn is_same_origin(&self, url: &str) -> bool {
        same_origin(&self.url, url)
    }

    /// The hint shown when the server answers `401` or `403` (not a rate limit), e.g. "check that
    /// `GITHUB_TOKEN` is set and has `contents: write`". Also added to the hint for a `404`, which
    /// is how GitHub answers a token that cannot see a private repository.
    pub fn auth_hint(mut self, hint: impl Into<String>) -> Self {
        self.auth_hint = Some(hint.into());
        self
    }

    /// Send `value` as a JSON body (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(data) => {
                self.payload = Payload::Bytes {
                    data: data.into(),
                    content_type: "application/json".into(),
                };
            }
            Err(e) => self.invalid = Some(format!("the JSON body could not be built: {e}")),
        }
        self
    }

    /// Send raw bytes with the given `Content-Type`.
    pub fn bytes(mut self, data: impl Into<Arc<[u8]>>, content_type: impl Into<String>) -> Self {
        self.payload = Payload::Bytes {
            data: data.into(),
            content_type: content_type.into(),
        };
        self
    }

    /// Send the contents of a file (streamed, re-read on every attempt), with `Content-Length`.
    pub fn file(mut self, path: impl Into<PathBuf>, content_type: impl Into<String>) -> Self {
        self.payload = Payload::File {
            path: path.into(),
            content_type: content_type.into(),
        };
        self
    }

    /// Return a response with this status as `Ok` instead of an error, so the caller can branch
    /// on it (e.g. `404` for "no release yet", `422` for "already exists").
    pub fn allow_status(mut self, status: u16) -> Self {
        self.allowed.push(status);
        self
    }

    /// Override [`HttpConfig::max_attempts`] for this request (`1` means no retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// Stream a `2xx` response's body into the file at `path` (created or truncated on every
    /// attempt) instead of memory, for bodies too large to hold, such as registry blobs. The
    /// returned [`Response`] then has an empty body. A connection that breaks mid-body is retried
    /// like any transport error, from the start. Error responses are still read into memory.
    pub fn download_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.download = Some(path.into());
        self
    }

    /// Refuse a body streamed by [`Self::download_to`] once it grows past `bytes`: the request
    /// fails (without retries) with [`HttpError::TooLarge`], and the file holds at most
    /// `bytes` bytes. For downloads whose size the server states but cannot be trusted to keep.
    pub fn max_download_bytes(mut self, bytes: u64) -> Self {
        self.download_limit = Some(bytes);
        self
    }

    /// The URL as it will be sent (query included). Not for messages: see [`redact_url`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Send the request, retrying as the [`HttpConfig`] says.
    ///
    /// A `2xx` or `3xx` answer, or one whose status was allowed with
    /// [`RequestBuilder::allow_status`], is `Ok`; anything else is an [`HttpError`].
    pub fn send(&self) -> Result<Response, HttpError> {
        if let Some(message) = &self.invalid {
            return Err(HttpError::Invalid {
                method: self.method,
                url: redact_url(&self.url),
                message: message.clone(),
            });
        }
        let config = self.config;
        let max_attempts = self.max_attempts.unwrap_or(config.max_attempts).max(1);
        let mut attempt = 1;
        loop {
            let (reason, server_wait, last) = match self.send_once() {
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Transport(message)) => {
                    (message.clone(), None, Last::Transport(message))
                }
                Ok(response) => match retry_signal(&response, config.clock.now()) {
                    None => return self.finish(response, attempt),
                    Some(signal) => (
                        signal.reason,
                        signal.wait,
                        Last::Response(response, signal.rate_limited),
                    ),
                },
            };
            // Sleeping through a long rate limit only to be limited again helps no one: say when
            // it resets instead. Other long `Retry-After`s are capped.
            if let (Some(wait), Last::Response(response, true)) = (server_wait, &last)
                && wait > config.max_wait
                && !self.allowed.contains(&response.status)
            {
                return Err(self.rate_limited(response, Some(wait), attempt));
            }
            let server_wait = server_wait.map(|w| w.min(config.max_wait));
            if attempt >= max_attempts {
                return match last {
                    Last::Transport(message) => Err(HttpError::Transport {
                        method: self.method,
                        url: redact_url(&self.url),
                        attempts: attempt,
                        message,
                    }),
                    Last::Response(response, true) if !self.allowed.contains(&response.status) => {
                        Err(self.rate_limited(&response, None, attempt))
                    }
                    Last::Response(response, _) => self.finish(response, attempt),
                };
            }
            let wait = server_wait
                .unwrap_or_else(|| backoff(config.base_delay, config.max_delay, attempt));
            if let Some(hook) = &config.on_retry {
                hook(&RetryNotice {
                    method: self.method,
                    url: redact_url(&self.url),
                    reason,
                    attempt,
                    max_attempts,
                    wait,
                });
            }
            config.clock.sleep(wait);
            attempt += 1;
        }
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets = self
            .auth
            .as_ref()
            .map(Auth::secret_forms)
            .unwrap_or_default();
        for (name, value) in &self.headers {
            if is_sensitive_header(name) && value.len() >= 4 {
                secrets.push(value.clone());
                if let Some((_, token)) = value.split_once(' ') {
                    secrets.push(token.to_owned());
                }
            }
        }
        secrets
    }

    /// The server's error message as it may be shown: scrubbed whole, then cut short.
    fn shown_message(&self, response: &Response) -> Option<String> {
        let whole = response.error_message_whole()?;
        Some(super::text::shorten(&self.scrub(&whole), &self.secrets()))
    }

    /// Remove credentials and query strings from text that will be shown.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if self.url.contains('?') {
            text = text.replace(&self.url, &redact_url(&self.url));
        }
        for secret in self.secrets() {
            text = text.replace(&secret, "***");
        }
        text
    }

    fn send_once(&self) -> Result<Response, Failure> {
        let mut hop = Hop {
            method: self.method,
            url: self.url.clone(),
            body: true,
            credentials: true,
            redirects: 0,
        };
        let mut response = loop {
            let response = self.dispatch(&hop)?;
            match self.redirect(&hop, &response)? {
                Some(next) => hop = next,
                None => break response,
            }
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if self.method == Method::Head {
            Vec::new()
        } else if let (Some(path), true) = (&self.download, (200..300).contains(&status)) {
            self.stream_body(response.body_mut(), path)?;
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(self.config.max_response_bytes)
                .read_to_vec()
                .map_err(|e| self.transport_failure(&e))?
        };
        Ok(Response {
            method: self.method,
            url: redact_url(&self.url),
            status,
            headers,
            body,
        })
    }

    /// Send one request of `hop` (no retries, no redirects followed).
    fn dispatch(&self, hop: &Hop) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        use ureq::http::{HeaderValue, Request};

        let invalid = |message: String| {
            Failure::Fatal(HttpError::Invalid {
                method: self.method,
                url: redact_url(&self.url),
                message,
            })
        };
        let mut builder = Request::builder()
            .method(hop.method.as_str())
            .uri(hop.url.as_str());
        for (name, value) in &self.headers {
            let sensitive = is_sensitive_header(name);
            // As ureq does on a redirect: no cookie, and no length of a body that may be gone.
            let stale = hop.redirects > 0
                && (name.eq_ignore_ascii_case("cookie")
                    || name.eq_ignore_ascii_case("content-length"));
            if stale || (sensitive && !hop.credentials) {
                continue;
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(sensitive);
            builder = builder.header(name.as_str(), value);
        }
        if let (Some(auth), true) = (&self.auth, hop.credentials) {
            let (name, value) = auth.header_pair();
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                invalid(format!(
                    "the credential for header `{name}` contains characters a header cannot hold"
                ))
            })?;
            value.set_sensitive(true);
            builder = builder.header(name.as_str(), value);
        }
        fn built<B>(
            r: Result<Request<B>, ureq::http::Error>,
            invalid: impl Fn(String) -> Failure,
        ) -> Result<Request<B>, Failure> {
            r.map_err(|e| invalid(format!("the request could not be built: {e}")))
        }
        let agent = self.agent;
        let payload = if hop.body {
            &self.payload
        } else {
            &Payload::None
        };
        let result = match payload {
            Payload::None if hop.method.takes_body() => {
                agent.run(built(builder.body(&[][..]), invalid)?)
            }
            Payload::None => agent.run(built(builder.body(()), invalid)?),
            Payload::Bytes { data, content_type } => agent.run(built(
                builder
                    .header("Content-Type", content_type.as_str())
                    .body(&data[..]),
                invalid,
            )?),
            Payload::File { path, content_type } => {
                let file = std::fs::File::open(path).map_err(|source| {
                    Failure::Fatal(HttpError::Body {
                        method: self.method,
                        url: redact_url(&self.url),
                        path: path.clone(),
                        source,
                    })
                })?;
                agent.run(built(
                    builder
                        .header("Content-Type", content_type.as_str())
                        .body(file),
                    invalid,
                )?)
            }
        };
        result.map_err(|e| self.transport_failure(&e))
    }

    /// The next hop if `response` redirects `hop`, with the rules ureq follows: `307`/`308` keep
    /// the method and body (and are not followed for a request with a body, or a `DELETE`);
    /// `301`/`302`/`303` turn into a `GET` (a `HEAD` stays one) without the body. Credentials
    /// go along only while the target has the origin of the first request (scheme, host,
    /// port), so a redirect never carries a token to another server.
    fn redirect(
        &self,
        hop: &Hop,
        response: &ureq::http::Response<ureq::Body>,
    ) -> Result<Option<Hop>, Failure> {
        let status = response.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok(None);
        }
        let Some(location) = response.headers().get("location") else {
            return Ok(None);
        };
        if hop.redirects >= MAX_REDIRECTS {
            return Err(self.transport_failure(&ureq::Error::TooManyRedirects));
        }
        let keeps_method = matches!(status, 307 | 308);
        if keeps_method && (hop.method.takes_body() || hop.method == Method::Delete) {
            return Err(self.transport_failure(&ureq::Error::RedirectFailed));
        }
        let location = String::from_utf8_lossy(location.as_bytes());
        let url = resolve_url(&hop.url, location.trim());
        let method = match hop.method {
            _ if keeps_method => hop.method,
            Method::Head => Method::Head,
            _ => Method::Get,
        };
        Ok(Some(Hop {
            credentials: same_origin(&self.url, &url),
            body: hop.body && keeps_method,
            method,
            url,
            redirects: hop.redirects + 1,
        }))
    }

    /// Copy a response body into `path`: a failed write is fatal, a failed read is retried.
    fn stream_body(&self, body: &mut ureq::Body, path: &std::path::Path) -> Result<(), Failure> {
        use std::io::{Read as _, Write as _};
        let write_failed = |source: std::io::Error| {
            Failure::Fatal(HttpError::Body {
                method: self.method,
                url: redact_url(&self.url),
                path: path.to_owned(),
                source,
            })
        };
        let file = std::fs::File::create(path).map_err(write_failed)?;
        let mut file = std::io::BufWriter::with_capacity(256 * 1024, file);
        let mut reader = body.as_reader();
        let mut buf = vec![0u8; 256 * 1024];
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Transport(self.scrub(&e.to_string()))),
            };
            written += n as u64;
            if let Some(limit) = self.download_limit
                && written > limit
            {
                return Err(Failure::Fatal(HttpError::TooLarge {
                    method: self.method,
                    url: redact_url(&self.url),
                    limit,
                }));
            }
            file.write_all(&buf[..n]).map_err(write_failed)?;
        }
        file.flush().map_err(write_failed)
    }

    fn transport_failure(&self, err: &ureq::Error) -> Failure {
        use ureq::Error as E;
        let fatal = |message: String| {
            Failure::Fatal(HttpError::Transport {
                method: self.method,
                url: redact_url(&self.url),
                attempts: 1,
                message,
            })
        };
        match err {
            // A name that does not resolve is a typo or no network, not a blip: no retries. The
            // resolver's "try again" answer (EAI_AGAIN) is transient and is retried.
            E::Io(e)
                if e.to_string()
                    .contains("failed to lookup address information")
                    && !e.to_string().contains("Temporary failure") =>
            {
                fatal(format!(
                    "the host name could not be resolved ({})",
                    self.scrub(&e.to_string())
                ))
            }
            E::HostNotFound => fatal("the host name could not be resolved".into()),
            E::Io(e) => Failure::Transport(self.scrub(&e.to_string())),
            E::Timeout(t) => Failure::Transport(format!("timed out ({t})")),
            E::ConnectionFailed => Failure::Transport("the connection failed".into()),
            E::Protocol(e) => Failure::Transport(self.scrub(&format!("protocol error: {e}"))),
            E::Decompress(what, e) => {
                Failure::Transport(format!("the {what} response could not be decoded: {e}"))
            }
            E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => {
                Failure::Fatal(HttpError::Invalid {
                    method: self.method,
                    url: redact_url(&self.url),
                    message: "the URL is not a valid http(s) URL".into(),
                })
            }
            E::BodyExceedsLimit(limit) => fatal(format!(
                "the response is larger than the {limit}-byte limit"
            )),
            E::LargeResponseHeader(..) => fatal("the response headers are too large".into()),
            E::TooManyRedirects | E::RedirectFailed => {
                fatal(self.scrub(&format!("redirects could not be followed: {err}")))
            }
            other => fatal(self.scrub(&other.to_string())),
        }
    }

    /// Turn a final response into the caller's result.
    fn finish(&self, response: Response, attempts: u32) -> Result<Response, HttpError> {
        if response.status < 400 || self.allowed.contains(&response.status) {
            return Ok(response);
        }
        let message = self.shown_message(&response);
        let hint = status_hint(response.status, self.auth_hint.as_deref(), attempts);
        Err(HttpError::Status {
            method: self.method,
            url: response.url,
            status: response.status,
            message,
            attempts,
            hint,
        })
    }

    fn rate_limited(
        &self,
        response: &Response,
        wait: Option<Duration>,
        attempts: u32,
    ) -> HttpError {
        let now = self.config.clock.now();
        HttpError::RateLimited {
            method: self.method,
            url: response.url.clone(),
            status: response.status,
            message: self.shown_message(response),
            resets_at: wait.map(|w| format_utc(now + w)),
            wait,
            max_wait: self.config.max_wait,
            attempts,
        }
    }
}

/// One request on the way to an answer: the first, or one after a redirect.
struct Hop {
    method: Method,
    url: String,
    /// Whether the body is still sent (a `303` drops it).
    body: bool,
    /// Whether credentials are still sent (not once a redirect leaves the first origin).
    credentials: bool,
    /// Redirects followed so far.
    redirects: u32,
}

enum Failure {
    /// Worth another attempt.
    Transport(String),
    /// Not worth another attempt.
    Fatal(HttpError),
}

enum Last {
    Transport(String),
    /// The response, and whether it was a rate limit.
    Response(Response, bool),
}
