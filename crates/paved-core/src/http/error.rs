//! [`HttpError`]: why a request failed, with the method, the redacted URL, the status, the
//! server's message and what to do next.

use std::fmt::{self, Display};
use std::path::PathBuf;
use std::time::Duration;

use super::env::{ENV_MAX_WAIT, ENV_TIMEOUT};
use super::method::Method;
use super::text::{human_duration, status_text};
use crate::diagnostic::Diagnostic;
use crate::exit::Category;

/// Why a request failed. Every variant names the method and the URL (without its query string)
/// and never a credential.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// The server answered with an error status (after retries, for retryable ones).
    Status {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// The status code.
        status: u16,
        /// The server's message, if it sent one.
        message: Option<String>,
        /// Attempts made.
        attempts: u32,
        /// What to do next.
        hint: Option<String>,
    },
    /// The server's rate limit was hit, and waiting it out would take longer than allowed or the
    /// attempts ran out.
    RateLimited {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// `403` or `429`.
        status: u16,
        /// The server's message, if it sent one.
        message: Option<String>,
        /// How long the server asked us to wait, if it said.
        wait: Option<Duration>,
        /// When the limit resets (UTC, RFC 3339), if the server said.
        resets_at: Option<String>,
        /// The longest wait allowed ([`HttpConfig::max_wait`](super::HttpConfig::max_wait)).
        max_wait: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The server could not be reached, or the connection broke, on every attempt.
    Transport {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong on the last attempt.
        message: String,
    },
    /// The request itself is invalid (a malformed URL, often from configuration).
    Invalid {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The response body is not the JSON the caller expected.
    Decode {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// The response status.
        status: u16,
        /// The parser's complaint.
        message: String,
        /// The start of the body.
        excerpt: String,
    },
    /// A file to send could not be read.
    Body {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A body streamed to a file grew past the limit the caller set
    /// ([`RequestBuilder::max_download_bytes`](super::RequestBuilder::max_download_bytes)); the
    /// download was stopped, not retried.
    TooLarge {
        /// The request's method.
        method: Method,
        /// The request's URL, without its query string.
        url: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A pagination link pointed at another server; credentials are not sent there.
    ForeignLink {
        /// The first request's method.
        method: Method,
        /// The first request's URL, without its query string.
        url: String,
        /// The next-page URL the server sent, without its query string.
        next: String,
    },
}

impl HttpError {
    /// The response status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. }
            | HttpError::RateLimited { status, .. }
            | HttpError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's message, for errors that have one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            HttpError::Status { message, .. } | HttpError::RateLimited { message, .. } => {
                message.as_deref()
            }
            _ => None,
        }
    }
}

impl Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Status {
                method,
                url,
                status,
                message,
                attempts,
                ..
            } => {
                write!(f, "`{method} {url}` failed with {}", status_text(*status))?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                if *attempts > 1 {
                    write!(f, " (after {attempts} attempts)")?;
                }
                Ok(())
            }
            HttpError::RateLimited {
                method,
                url,
                status,
                message,
                wait,
                resets_at,
                max_wait,
                attempts,
            } => {
                write!(
                    f,
                    "`{method} {url}` was rate limited ({}",
                    status_text(*status)
                )?;
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                f.write_str(")")?;
                match (wait, resets_at) {
                    (Some(wait), Some(at)) => write!(
                        f,
                        "; the server asks to wait {} (until {at}), longer than the {} paved waits",
                        human_duration(*wait),
                        human_duration(*max_wait)
                    ),
                    _ => write!(f, "; still limited after {attempts} attempts"),
                }
            }
            HttpError::Transport {
                method,
                url,
                attempts,
                message,
            } => {
                write!(f, "`{method} {url}` failed: {message}")?;
                if *attempts > 1 {
                    write!(f, " (after {attempts} attempts)")?;
                }
                Ok(())
            }
            HttpError::Invalid {
                method,
                url,
                message,
            } => write!(f, "cannot send `{method} {url}`: {message}"),
            HttpError::Decode {
                method,
                url,
                status,
                message,
                excerpt,
            } => write!(
                f,
                "`{method} {url}` answered {} with a body paved cannot read ({message}); it starts: {excerpt}",
                status_text(*status)
            ),
            HttpError::Body {
                method,
                url,
                path,
                source,
            } if method.takes_body() => write!(
                f,
                "cannot read `{}` to send with `{method} {url}`: {source}",
                path.display()
            ),
            HttpError::Body {
                method,
                url,
                path,
                source,
            } => write!(
                f,
                "cannot write the body of `{method} {url}` to `{}`: {source}",
                path.display()
            ),
            HttpError::TooLarge { method, url, limit } => write!(
                f,
                "`{method} {url}`: the response is larger than the {limit}-byte limit; the download was stopped"
            ),
            HttpError::ForeignLink { method, url, next } => write!(
                f,
                "`{method} {url}`: the next-page link points to another server (`{next}`); paved does not send credentials there"
            ),
        }
    }
}

/// The hint for an error status: the caller's auth hint for `401`/`403` (and `404`, which is how
/// GitHub hides a private repository), "re-run later" for a failing service.
pub(super) fn status_hint(status: u16, auth_hint: Option<&str>, attempts: u32) -> Option<String> {
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

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Body { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Diagnostic for HttpError {
    fn category(&self) -> Category {
        match self {
            HttpError::Invalid { .. } | HttpError::Body { .. } => Category::Usage,
            _ => Category::External,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            HttpError::Status { hint, .. } => hint.clone(),
            HttpError::RateLimited { .. } => Some(format!(
                "re-run the job after the limit resets, use a token with a higher limit, or let paved wait longer with `{ENV_MAX_WAIT}` (seconds)"
            )),
            HttpError::Transport { .. } => Some(format!(
                "check the network and the API URL; if the server is slow, raise `{ENV_TIMEOUT}` (seconds)"
            )),
            HttpError::Invalid { .. } => {
                Some("check the API URL setting; it must start with `https://` or `http://`".into())
            }
            HttpError::Decode { .. } => Some(
                "check that the API URL points at the API itself (not a web page or a proxy's login page)".into(),
            ),
            HttpError::Body { .. } => Some("check the file path and its permissions".into()),
            HttpError::TooLarge { .. } => Some(
                "check what the server sends; raise the size limit only if the file is expected to be that large".into(),
            ),
            HttpError::ForeignLink { .. } => Some(
                "this is a misbehaving server or proxy; check the API URL setting".into(),
            ),
        }
    }
}
