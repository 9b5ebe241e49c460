//! [`Response`]: what came back, read whole: status, headers, body, JSON decoding, the next-page
//! link and the server's error message.

use std::fmt;

use serde::de::DeserializeOwned;

use super::error::{HttpError, status_hint};
use super::link::next_link;
use super::method::Method;
use super::text::{excerpt, server_message, server_message_whole};

/// A response, read whole.
#[derive(Clone)]
pub struct Response {
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
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
    /// [`RequestBuilder::allow_status`](super::RequestBuilder::allow_status) and then found it cannot handle after all.
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

    /// [`Self::error_message`] before it is cut short, for scrubbing first.
    pub(super) fn error_message_whole(&self) -> Option<String> {
        server_message_whole(&self.body)
    }
}
