//! The one HTTP client of paved: ureq over rustls, with timeouts, retries, auth and pagination.
//!
//! One concern per file: [`HttpConfig`] (`config.rs`, with the `PAVED_HTTP_*` names in
//! `env.rs`), [`Client`] (`client.rs`), credentials (`auth.rs`), [`RequestBuilder`] and the
//! retry loop (`request.rs`), when and how long to wait (`retry.rs`), [`Response`]
//! (`response.rs`), [`HttpError`] (`error.rs`), `Link` headers (`link.rs`) and pagination
//! (`page.rs`), URLs and origins (`url.rs`), dates (`date.rs`), and how server text is quoted
//! (`text.rs`).
//!
//! Every tool that talks to an API (GitHub, GitLab, OCI registries, ServiceNow, PagerDuty) goes
//! through [`Client`], so that there is one retry policy and one place that keeps tokens out of
//! logs and errors.
//!
//! - **Timeouts** for connecting and for each read or write ([`HttpConfig`]), and
//!   `User-Agent: paved/<version>`.
//! - **Retries** with exponential backoff and full jitter on connection and I/O errors, `408`,
//!   `429` and `5xx` (except `501 Not Implemented`, which never gets better; and a host name
//!   that does not resolve, which is a typo or no network, unless the resolver said "try
//!   again"). A `Retry-After`
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
//!   origin (scheme, host, port) is refused, so credentials never follow a link off the API's
//!   server.
//! - **Redirects** are followed by the client itself (up to ten), and credentials, the
//!   [`Auth`] header and any token header alike, go along only while the target keeps the
//!   first request's origin.
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

mod auth;
mod client;
mod config;
mod date;
mod env;
pub(crate) mod error;
mod link;
mod method;
mod page;
mod request;
mod response;
mod retry;
mod text;
mod url;

pub use auth::{Auth, Secret};
pub use client::Client;
pub use config::{
    DEFAULT_BASE_DELAY, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_WAIT, DEFAULT_READ_TIMEOUT, HttpConfig, USER_AGENT,
};
pub use date::{format_utc, parse_http_date, parse_rfc3339};
pub use env::{ENV_CONNECT_TIMEOUT, ENV_MAX_ATTEMPTS, ENV_MAX_WAIT, ENV_TIMEOUT};
pub use error::HttpError;
pub use link::{Link, next_link, parse_link_header};
pub use method::Method;
pub use page::{Paged, Pages};
pub use request::RequestBuilder;
pub use response::Response;
pub use retry::{Clock, RetryHook, RetryNotice, SystemClock};
pub use url::{decode_component, encode_component};

pub use crate::redact::redact_url;

/// Entry points for the fuzz targets in `fuzz/`: what the client reads out of a response it did
/// not choose (headers and body). Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::time::{Duration, SystemTime};

    use super::method::Method;
    use super::response::Response;

    /// What the client made of one response.
    #[derive(Debug)]
    pub struct Reading {
        /// The retry decision: the reason, the wait the server asked for, whether it was a
        /// rate limit; `None` when the response is not worth another attempt.
        pub retry: Option<(String, Option<Duration>, bool)>,
        /// The next-page link.
        pub next: Option<String>,
        /// The error as printed.
        pub printed: String,
    }

    /// What the client makes of one response: the retry decision, the next-page link, the
    /// server's message and the printed error.
    pub fn read_response(
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        now: SystemTime,
    ) -> Reading {
        let response = Response {
            method: Method::Get,
            url: "https://api.example.test/items?page=2".into(),
            status,
            headers,
            body,
        };
        let retry =
            super::retry::retry_signal(&response, now).map(|s| (s.reason, s.wait, s.rate_limited));
        let next = response.next_link();
        let _ = response.error_message();
        let printed = response.into_error(None).to_string();
        Reading {
            retry,
            next,
            printed,
        }
    }

    /// `Retry-After` as the retry loop reads it.
    pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
        super::date::parse_retry_after(value, now)
    }
}
