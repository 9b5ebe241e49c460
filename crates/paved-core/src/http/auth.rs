//! Credentials: [`Secret`] values that never print, the [`Auth`] schemes a request can carry, and
//! which headers hold credentials.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

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

    pub(super) fn header_pair(&self) -> (String, String) {
        match self {
            Auth::Bearer(s) => ("Authorization".into(), format!("Bearer {}", s.expose())),
            Auth::Basic { username, password } => (
                "Authorization".into(),
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{}", password.expose()))
                ),
            ),
            Auth::Header { name, value } => (name.clone(), value.expose().to_owned()),
        }
    }

    /// Every string that must never be shown: the secret, and for Basic the encoded header value.
    pub(super) fn secret_forms(&self) -> Vec<String> {
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
pub(super) fn is_sensitive_header(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encoding() {
        let basic =
            |user: &str, password: &str| Auth::basic(user, Secret::new(password)).header_pair().1;
        assert_eq!(basic("user", "pass"), "Basic dXNlcjpwYXNz");
        assert_eq!(basic("a", ""), "Basic YTo=");
        assert_eq!(basic("ab", "c"), "Basic YWI6Yw==");
        assert_eq!(basic("", ""), "Basic Og==");
        assert_eq!(
            Auth::basic("user", Secret::new("pass")).secret_forms(),
            ["pass", "dXNlcjpwYXNz"]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let auth = Auth::bearer(Secret::new("ghp_example"));
        assert!(!format!("{auth:?}").contains("ghp_example"));
        assert_eq!(auth.header_pair().1, "Bearer ghp_example");
        assert!(is_sensitive_header("PRIVATE-TOKEN"));
        assert!(!is_sensitive_header("Accept"));
    }
}
