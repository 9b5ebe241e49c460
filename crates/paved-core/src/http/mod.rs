//! The one HTTP client of paved: ureq over rustls, with timeouts, retries, auth and pagination.
//!
//! Every tool that talks to an API (GitHub, GitLab, OCI registries, ServiceNow, PagerDuty) goes
//! through [`Client`], so that there is one retry policy and one place that keeps tokens out of
//! logs and errors.
//!
//! - **Timeouts** for connecting and for each read or write ([`HttpConfig`]), and
//!   `User-Agent: paved/<version>`.
//! - **Retries** with exponential backoff and full jitter on connection and I/O errors, `408`,
//!   `429` and `5xx` (except `501 Not Implemented`, which never gets better). A `Retry-After`
//!   header (seconds or an HTTP date) is honoured, and so are rate limits: a `403` or `429` with
//!   `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset` (GitHub; GitLab's `RateLimit-*`
//!   headers too), and GitHub's secondary-limit `403` waits a minute, as GitHub documents. A
//!   server that asks for a longer wait than [`HttpConfig::max_wait`] gets a clear error saying
//!   when the limit resets, rather than a silent hour-long sleep.
//! - **Bodies** are bytes (JSON or raw) or a file; both are sent again, whole, on every attempt.
//!   Every retried request is sent again as it was, POSTs included: callers that create things
//!   treat "already exists" as success (see paved-forge).
//! - **Secrets**: credentials live in [`Secret`] and [`Auth`], whose `Debug` output is redacted.
//!   Errors name the method and the URL without its query string (which may carry a token), the
//!   status and a short excerpt of the server's message, with any credential value scrubbed.
//!   The client logs nothing but one warning line per retry (see [`HttpConfig::on_retry`]).
//! - **Pagination** by `Link: <…>; rel="next"` headers, with a page cap
//!   ([`RequestBuilder::paginate`], [`RequestBuilder::for_each_page`]). A next link to another
//!   host is refused, so credentials never follow a link off the API's server.
//!
//! ```no_run
//! use paved_core::http::{Auth, Client, HttpConfig, Secret};
//!
//! # fn main() -> Result<(), paved_core::http::HttpError> {
//! let client = Client::new(HttpConfig::default());
//! let token = Auth::bearer(Secret::new("ghp_example"));
//! let releases: Vec<serde_json::Value> = client
//!     .get("https://api.github.com/repos/o/r/releases")
//!     .query("per_page", "100")
//!     .auth(&token)
//!     .auth_hint("check that `GITHUB_TOKEN` is set and can read the repository")
//!     .paginate(10)?
//!     .items;
//! # Ok(()) }
//! ```

use std::fmt::{self, Display, Write as _};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

mod date;
mod error;
mod url;

pub use crate::redact::redact_url;
use date::parse_retry_after;
pub use date::{format_utc, parse_http_date, parse_rfc3339};
pub use error::HttpError;
pub use url::{Link, decode_component, encode_component, next_link, parse_link_header};
use url::{origin, resolve_url};

/// The `User-Agent` every paved request sends.
pub const USER_AGENT: &str = concat!("paved/", env!("CARGO_PKG_VERSION"));

/// Default for [`HttpConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default for [`HttpConfig::read_timeout`].
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`HttpConfig::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default for [`HttpConfig::base_delay`].
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Default for [`HttpConfig::max_delay`].
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
/// Default for [`HttpConfig::max_wait`].
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);
/// Default for [`HttpConfig::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// How long GitHub asks clients to wait after a secondary rate limit that names no time.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Slack added to a rate-limit reset time, for clock skew between us and the server.
const RESET_SLACK: Duration = Duration::from_secs(1);
/// Longest excerpt of a server's error body quoted in an error.
const SNIPPET_CHARS: usize = 300;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Time as the retry loop sees it. Tests swap in `paved_testkit::http::FakeClock` so that a
/// one-hour rate-limit reset takes no time at all.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time (compared with `x-ratelimit-reset` and HTTP dates).
    fn now(&self) -> SystemTime;
    /// Block for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// What the client tells the user before it waits and tries again.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// The request's method.
    pub method: Method,
    /// The request's URL, without its query string.
    pub url: String,
    /// What went wrong, e.g. `502 Bad Gateway` or `connection refused`.
    pub reason: String,
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// The most attempts that will be made.
    pub max_attempts: u32,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
}

impl Display for RetryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{} {}`: {}; retrying in {} (attempt {} of {})",
            self.method,
            self.url,
            self.reason,
            human_duration(self.wait),
            self.attempt + 1,
            self.max_attempts
        )
    }
}

/// A hook called before every retry.
pub type RetryHook = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// Timeouts, retry policy and limits of a [`Client`].
#[derive(Clone)]
pub struct HttpConfig {
    /// Longest time to resolve the host and establish a connection (TLS included).
    pub connect_timeout: Duration,
    /// Longest wait for the response to start, and for any single read or write after that.
    pub read_timeout: Duration,
    /// How many times a request is sent before giving up (at least 1).
    pub max_attempts: u32,
    /// The first backoff step; attempt `n` waits a random time in `[0, base_delay * 2^(n-1)]`.
    pub base_delay: Duration,
    /// Cap on one backoff step.
    pub max_delay: Duration,
    /// Cap on one wait the server asks for (`Retry-After`, a rate-limit reset). A longer request
    /// is not slept through: the request fails with [`HttpError::RateLimited`] at once.
    pub max_wait: Duration,
    /// Largest response body read into memory.
    pub max_response_bytes: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Use the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (honouring `NO_PROXY`), as
    /// CI runners behind a corporate proxy need.
    pub proxy_from_env: bool,
    /// The clock used for waiting and for reading reset times.
    pub clock: Arc<dyn Clock>,
    /// Called before each retry; by default a warning line on stderr. `None` is silent.
    pub on_retry: Option<RetryHook>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_wait: DEFAULT_MAX_WAIT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: USER_AGENT.to_owned(),
            proxy_from_env: true,
            clock: Arc::new(SystemClock),
            on_retry: Some(Arc::new(|notice: &RetryNotice| {
                crate::cli::warn(&notice.to_string());
            })),
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("max_wait", &self.max_wait)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .field("proxy_from_env", &self.proxy_from_env)
            .field("clock", &self.clock)
            .field("on_retry", &self.on_retry.as_ref().map(|_| "hook"))
            .finish()
    }
}

/// Environment variables read by [`HttpConfig::from_env`], all whole seconds except the attempts.
pub const ENV_CONNECT_TIMEOUT: &str = "PAVED_HTTP_CONNECT_TIMEOUT";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_TIMEOUT: &str = "PAVED_HTTP_TIMEOUT";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_MAX_ATTEMPTS: &str = "PAVED_HTTP_MAX_ATTEMPTS";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_MAX_WAIT: &str = "PAVED_HTTP_MAX_WAIT";

impl HttpConfig {
    /// The defaults, overridden by `PAVED_HTTP_CONNECT_TIMEOUT`, `PAVED_HTTP_TIMEOUT` (the read
    /// timeout), `PAVED_HTTP_MAX_WAIT` (seconds) and `PAVED_HTTP_MAX_ATTEMPTS`.
    pub fn from_env() -> crate::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`HttpConfig::from_env`] with a lookup function instead of the process environment.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> crate::Result<Self> {
        let mut config = HttpConfig::default();
        let number = |name: &str| -> crate::Result<Option<u64>> {
            match env(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    crate::Error::Usage(format!(
                        "`{name}` is `{v}`, which is not a whole number; set it to a number such as `30`, or unset it"
                    ))
                }),
            }
        };
        if let Some(s) = number(ENV_CONNECT_TIMEOUT)? {
            config.connect_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = number(ENV_TIMEOUT)? {
            config.read_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = number(ENV_MAX_WAIT)? {
            config.max_wait = Duration::from_secs(s);
        }
        if let Some(n) = number(ENV_MAX_ATTEMPTS)? {
            config.max_attempts = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        }
        Ok(config)
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

/// A credential value. It has no `Display`, and its `Debug` output is `Secret(***)`, so that it
/// cannot end up in a log line by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for a header or for `CiSink::mask`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is empty (an empty token variable counts as unset).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (GitHub tokens, OAuth tokens).
    Bearer(Secret),
    /// `Authorization: Basic base64(user:password)` (registries).
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or token.
        password: Secret,
    },
    /// A token in a header of its own, e.g. GitLab's `PRIVATE-TOKEN` or `JOB-TOKEN`.
    Header {
        /// The header name.
        name: String,
        /// The token.
        value: Secret,
    },
}

impl Auth {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: Secret) -> Self {
        Auth::Bearer(token)
    }

    /// `Authorization: Basic …`.
    pub fn basic(username: impl Into<String>, password: Secret) -> Self {
        Auth::Basic {
            username: username.into(),
            password,
        }
    }

    /// A custom header carrying the token, e.g. `Auth::header("PRIVATE-TOKEN", token)`.
    pub fn header(name: impl Into<String>, value: Secret) -> Self {
        Auth::Header {
            name: name.into(),
            value,
        }
    }

    /// The secret part, e.g. to pass to `CiSink::mask`.
    pub fn secret(&self) -> &Secret {
        match self {
            Auth::Bearer(s) => s,
            Auth::Basic { password, .. } => password,
            Auth::Header { value, .. } => value,
        }
    }

    fn header_pair(&self) -> (String, String) {
        match self {
            Auth::Bearer(s) => ("Authorization".into(), format!("Bearer {}", s.expose())),
            Auth::Basic { username, password } => (
                "Authorization".into(),
                format!(
                    "Basic {}",
                    base64(format!("{username}:{}", password.expose()).as_bytes())
                ),
            ),
            Auth::Header { name, value } => (name.clone(), value.expose().to_owned()),
        }
    }

    /// Every string that must never be shown: the secret, and for Basic the encoded header value.
    fn secret_forms(&self) -> Vec<String> {
        let mut forms = vec![self.secret().expose().to_owned()];
        if let Auth::Basic { .. } = self {
            let (_, value) = self.header_pair();
            forms.push(value.trim_start_matches("Basic ").to_owned());
        }
        forms.retain(|s| s.len() >= 4);
        forms
    }
}

/// Header names whose values are never shown.
fn is_sensitive_header(name: &str) -> bool {
    const NAMES: [&str; 7] = [
        "authorization",
        "proxy-authorization",
        "private-token",
        "job-token",
        "cookie",
        "x-api-key",
        "x-auth-token",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Client and requests
// ---------------------------------------------------------------------------------------------

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub(crate) fn takes_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

impl Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    config: Arc<HttpConfig>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new(HttpConfig::default())
    }
}

impl Client {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Self {
        let mut builder = ureq::Agent::config_builder();
        if !config.proxy_from_env {
            builder = builder.proxy(None);
        }
        let agent = builder
            .http_status_as_error(false)
            .user_agent(config.user_agent.as_str())
            .timeout_resolve(Some(config.connect_timeout))
            .timeout_connect(Some(config.connect_timeout))
            .timeout_recv_response(Some(config.read_timeout))
            .timeout_per_read(Some(config.read_timeout))
            .timeout_per_write(Some(config.read_timeout))
            // Credentials follow a redirect only on the same host (a renamed GitHub repository).
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .build()
            .new_agent();
        Client {
            agent,
            config: Arc::new(config),
        }
    }

    /// A client configured from the `PAVED_HTTP_*` variables (see [`HttpConfig::from_env`]).
    pub fn from_env() -> crate::Result<Self> {
        Ok(Client::new(HttpConfig::from_env()?))
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Start a request.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            url: url.into(),
            headers: Vec::new(),
            auth: None,
            payload: Payload::None,
            allowed: Vec::new(),
            auth_hint: None,
            max_attempts: None,
            invalid: None,
            download: None,
        }
    }

    /// Start a `GET`.
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Get, url)
    }

    /// Start a `HEAD`.
    pub fn head(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Head, url)
    }

    /// Start a `POST`.
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Post, url)
    }

    /// Start a `PUT`.
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Put, url)
    }

    /// Start a `PATCH`.
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Patch, url)
    }

    /// Start a `DELETE`.
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Delete, url)
    }
}

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
    client: &'a Client,
    method: Method,
    url: String,
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
        let config = &self.client.config;
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
            let wait = server_wait.unwrap_or_else(|| self.backoff(attempt));
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

    /// Follow `Link: rel="next"` pages, at most `max_pages` of them, calling `page` with each
    /// response until it returns `ControlFlow::Break` or there is no next page.
    pub fn for_each_page<E: From<HttpError>>(
        &self,
        max_pages: usize,
        mut page: impl FnMut(Response) -> Result<ControlFlow<()>, E>,
    ) -> Result<Pages, E> {
        let origin = origin(&self.url).map(str::to_owned);
        let mut request = self.clone();
        let mut pages = 0;
        loop {
            let response = request.send()?;
            pages += 1;
            let next = response.next_link();
            if page(response)?.is_break() {
                return Ok(Pages {
                    pages,
                    truncated: false,
                });
            }
            let Some(next) = next else {
                return Ok(Pages {
                    pages,
                    truncated: false,
                });
            };
            if pages >= max_pages {
                return Ok(Pages {
                    pages,
                    truncated: true,
                });
            }
            let next = resolve_url(&request.url, &next);
            let same_origin = match (origin.as_deref(), self::origin(&next)) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            };
            if !same_origin {
                return Err(HttpError::ForeignLink {
                    method: self.method,
                    url: redact_url(&self.url),
                    next: redact_url(&next),
                }
                .into());
            }
            request.url = next;
        }
    }

    /// Collect every item of a paginated JSON-array endpoint, following at most `max_pages`
    /// pages. [`Paged::truncated`] says whether more pages were left unread.
    pub fn paginate<T: DeserializeOwned>(&self, max_pages: usize) -> Result<Paged<T>, HttpError> {
        let mut items = Vec::new();
        let pages = self.for_each_page(max_pages, |response| {
            items.extend(response.json::<Vec<T>>()?);
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        Ok(Paged {
            items,
            truncated: pages.truncated,
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let config = &self.client.config;
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let ceiling = config
            .base_delay
            .checked_mul(factor)
            .unwrap_or(config.max_delay)
            .min(config.max_delay);
        // Full jitter: a uniformly random wait in [0, ceiling], so that many jobs retrying the
        // same outage do not all come back at the same instant.
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if ceiling_nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % (ceiling_nanos + 1))
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
        use ureq::http::{HeaderValue, Request};

        let invalid = |message: String| {
            Failure::Fatal(HttpError::Invalid {
                method: self.method,
                url: redact_url(&self.url),
                message,
            })
        };
        let mut builder = Request::builder()
            .method(self.method.as_str())
            .uri(self.url.as_str());
        for (name, value) in &self.headers {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(is_sensitive_header(name));
            builder = builder.header(name.as_str(), value);
        }
        if let Some(auth) = &self.auth {
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
        let agent = &self.client.agent;
        let result = match &self.payload {
            Payload::None if self.method.takes_body() => {
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
        let mut response = result.map_err(|e| self.transport_failure(&e))?;
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
                .limit(self.client.config.max_response_bytes)
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
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Transport(self.scrub(&e.to_string()))),
            };
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
            E::Io(e) => Failure::Transport(self.scrub(&e.to_string())),
            E::Timeout(t) => Failure::Transport(format!("timed out ({t})")),
            E::HostNotFound => Failure::Transport("the host name could not be resolved".into()),
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
        let message = response.error_message().map(|m| self.scrub(&m));
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
        let now = self.client.config.clock.now();
        HttpError::RateLimited {
            method: self.method,
            url: response.url.clone(),
            status: response.status,
            message: response.error_message().map(|m| self.scrub(&m)),
            resets_at: wait.map(|w| format_utc(now + w)),
            wait,
            max_wait: self.client.config.max_wait,
            attempts,
        }
    }
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

struct RetrySignal {
    reason: String,
    /// The wait the server asked for, if it named one.
    wait: Option<Duration>,
    rate_limited: bool,
}

/// Whether a response is worth retrying, and after how long.
fn retry_signal(response: &Response, now: SystemTime) -> Option<RetrySignal> {
    let status = response.status;
    let retry_after = response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, now));
    let reason = status_text(status);
    match status {
        403 | 429 => {
            let remaining = response
                .header("x-ratelimit-remaining")
                .or_else(|| response.header("ratelimit-remaining"))
                .map(str::trim);
            let reset = response
                .header("x-ratelimit-reset")
                .or_else(|| response.header("ratelimit-reset"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            let wait = if retry_after.is_some() {
                retry_after
            } else if remaining == Some("0") {
                let reset = reset.map(|r| UNIX_EPOCH + Duration::from_secs(r));
                Some(
                    reset
                        .and_then(|r| r.duration_since(now).ok())
                        .unwrap_or_default()
                        + RESET_SLACK,
                )
            } else if status == 403 && mentions_rate_limit(response) {
                Some(SECONDARY_LIMIT_WAIT)
            } else if status == 429 {
                None
            } else {
                // A plain 403: the token lacks permission. Retrying will not help.
                return None;
            };
            Some(RetrySignal {
                reason: format!("{reason} (rate limited)"),
                wait,
                rate_limited: true,
            })
        }
        408 | 500 | 502..=599 => Some(RetrySignal {
            reason,
            wait: retry_after,
            rate_limited: false,
        }),
        _ => None,
    }
}

fn mentions_rate_limit(response: &Response) -> bool {
    let text = String::from_utf8_lossy(&response.body).to_ascii_lowercase();
    text.contains("rate limit")
}

fn status_hint(status: u16, auth_hint: Option<&str>, attempts: u32) -> Option<String> {
    match status {
        401 | 403 => Some(auth_hint.map_or_else(
            || "check that the token is set, valid, and allowed to do this".to_owned(),
            str::to_owned,
        )),
        404 => Some(match auth_hint {
            Some(h) => format!(
                "check the repository or project name; a private one also answers 404 when the token cannot see it, so {h}"
            ),
            None => "check the repository or project name and the API URL".to_owned(),
        }),
        500..=599 => Some(format!(
            "the service is failing (gave up after {attempts} attempt{}); re-run the job later",
            if attempts == 1 { "" } else { "s" }
        )),
        _ => None,
    }
}

/// What [`RequestBuilder::for_each_page`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pages {
    /// Pages fetched.
    pub pages: usize,
    /// Whether the page cap stopped the walk while a next page existed.
    pub truncated: bool,
}

/// Items collected by [`RequestBuilder::paginate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// Every item of every page read.
    pub items: Vec<T>,
    /// Whether the page cap left pages unread.
    pub truncated: bool,
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A response, read whole.
#[derive(Clone)]
pub struct Response {
    method: Method,
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is `2xx`.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers, names lower-case, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as text; invalid UTF-8 is replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The method of the request this answers.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL of the request this answers, without its query string.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body as JSON. A body that is not the expected JSON is an [`HttpError::Decode`] naming
    /// the request and quoting the start of the body; it never panics.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode {
            method: self.method,
            url: self.url.clone(),
            status: self.status,
            message: e.to_string(),
            excerpt: excerpt(&self.body),
        })
    }

    /// The `rel="next"` target of the `Link` header(s), as written by the server.
    pub fn next_link(&self) -> Option<String> {
        self.header_all("link").find_map(next_link)
    }

    /// This response as an [`HttpError::Status`], for a status the caller allowed with
    /// [`RequestBuilder::allow_status`] and then found it cannot handle after all.
    pub fn into_error(self, hint: Option<String>) -> HttpError {
        HttpError::Status {
            method: self.method,
            message: self.error_message(),
            url: self.url,
            status: self.status,
            attempts: 1,
            hint: hint.or_else(|| status_hint(self.status, None, 1)),
        }
    }

    /// A short, single-line excerpt of the server's error message: GitHub's and GitLab's
    /// `message`/`error` and `errors`, or the start of a plain-text body.
    pub fn error_message(&self) -> Option<String> {
        server_message(&self.body)
    }
}

fn server_message(body: &[u8]) -> Option<String> {
    use serde_json::Value;
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Some(excerpt(body));
    };
    let mut parts: Vec<String> = Vec::new();
    let mut push = |v: &Value| match v {
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) => parts.push(s.clone()),
        other => parts.push(other.to_string()),
    };
    if let Value::Object(map) = &value {
        for key in ["message", "error", "error_description"] {
            if let Some(v) = map.get(key) {
                push(v);
            }
        }
        if let Some(Value::Array(errors)) = map.get("errors") {
            for e in errors.iter().take(3) {
                match e {
                    Value::Object(err) => {
                        let field = |k: &str| err.get(k).and_then(Value::as_str);
                        let text = [field("field"), field("code"), field("message")]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ");
                        if !text.is_empty() {
                            push(&Value::String(text));
                        }
                    }
                    other => push(other),
                }
            }
        }
    } else {
        push(&value);
    }
    let text = if parts.is_empty() {
        value.to_string()
    } else {
        parts.join("; ")
    };
    Some(truncate_chars(&collapse_whitespace(&text), SNIPPET_CHARS))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return "(an HTML page)".to_owned();
    }
    if trimmed.is_empty() {
        return "(an empty body)".to_owned();
    }
    truncate_chars(&collapse_whitespace(trimmed), SNIPPET_CHARS)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

pub(super) fn status_text(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

pub(super) fn human_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs();
        if secs >= 3600 {
            format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
        } else if secs >= 60 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        // No OS randomness: the clock's low bits are jitter enough.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
    })
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;
    use crate::exit::Category;

    #[test]
    fn parses_link_headers() {
        let links = parse_link_header(
            r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#,
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].url, "https://api.github.com/x?page=2");
        assert_eq!(links[0].rel, vec!["next"]);
        assert_eq!(
            next_link(r#"<https://a/x?page=1>; rel="prev first", <https://a/x?page=3>; rel=next"#),
            Some("https://a/x?page=3".into())
        );
        assert_eq!(
            next_link(r#"<https://a/b,c>; title="a, b; c"; rel="NEXT""#),
            Some("https://a/b,c".into())
        );
        assert_eq!(next_link(r#"<https://a/x>; rel="last""#), None);
        assert_eq!(next_link("garbage, <<>>; ;;; rel"), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
    }

    #[test]
    fn resolves_relative_links() {
        assert_eq!(
            resolve_url("https://h/a/b?x=1", "/c?p=2"),
            "https://h/c?p=2"
        );
        assert_eq!(resolve_url("https://h/a/b", "c"), "https://h/a/c");
        assert_eq!(
            resolve_url("https://h/a/b", "?page=2"),
            "https://h/a/b?page=2"
        );
        assert_eq!(resolve_url("https://h/a", "//g/x"), "https://g/x");
        assert_eq!(resolve_url("https://h", "x"), "https://h/x");
    }

    #[test]
    fn redacts_urls() {
        assert_eq!(
            redact_url("https://user:pw@gitlab.example/api/v4/x?private_token=abc#f"),
            "https://gitlab.example/api/v4/x"
        );
        assert_eq!(redact_url("http://h:8080/a@b"), "http://h:8080/a@b");
    }

    #[test]
    fn encodes_components() {
        assert_eq!(
            encode_component("group/sub project"),
            "group%2Fsub%20project"
        );
        assert_eq!(encode_component("v1.2.3-rc.1_x~"), "v1.2.3-rc.1_x~");
        assert_eq!(encode_component("a@1.0"), "a%401.0");
        assert_eq!(
            decode_component("group%2Fsub+x%zz%", true),
            "group/sub x%zz%"
        );
        assert_eq!(decode_component("%E2%9C%93", false), "✓");
    }

    #[test]
    fn rfc3339() {
        let at =
            |s: &str| parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at("1994-11-06T08:49:37Z"), Some(784_111_777));
        assert_eq!(at("1994-11-06T09:49:37.123+01:00"), Some(784_111_777));
        assert_eq!(at("1994-11-06T03:49:37-05:00"), Some(784_111_777));
        assert_eq!(at("1994-11-06 08:49:37z"), Some(784_111_777));
        assert_eq!(at("1994-11-06"), None);
        assert_eq!(at("1994-13-06T08:49:37Z"), None);
        assert_eq!(at("1994-11-06T08:49:37"), None);
        assert_eq!(at("é994-11-06T08:49:37Z"), None);
    }

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn config_from_env() {
        let env = |k: &str| match k {
            ENV_TIMEOUT => Some("5".to_owned()),
            ENV_MAX_ATTEMPTS => Some("2".to_owned()),
            _ => None,
        };
        let config = HttpConfig::from_lookup(env).unwrap();
        assert_eq!(config.read_timeout, Duration::from_secs(5));
        assert_eq!(config.max_attempts, 2);
        assert_eq!(config.max_wait, DEFAULT_MAX_WAIT);
        let err = HttpConfig::from_lookup(|k| (k == ENV_MAX_WAIT).then(|| "soon".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains(ENV_MAX_WAIT), "{err}");
        assert_eq!(err.category(), Category::Usage);
    }

    #[test]
    fn server_messages() {
        assert_eq!(
            server_message(br#"{"message": {"tag_name": ["is missing"]}}"#).as_deref(),
            Some(r#"{"tag_name":["is missing"]}"#)
        );
        assert_eq!(
            server_message(br#"{"error": "insufficient_scope"}"#).as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(server_message(b"  "), None);
        let long = "x".repeat(1000);
        assert_eq!(
            server_message(long.as_bytes()).unwrap().chars().count(),
            SNIPPET_CHARS + 1
        );
    }
}
