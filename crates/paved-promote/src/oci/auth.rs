//! Registry credentials and challenges.
//!
//! Credentials are looked up, first match wins, in:
//! 1. `PAVED_REGISTRY_<HOST>_USERNAME` / `_PASSWORD`, where `<HOST>` is the registry host and
//!    port upper-cased with every other character turned into `_` (`ghcr.io` -> `GHCR_IO`);
//! 2. `PAVED_REGISTRY_USERNAME` / `PAVED_REGISTRY_PASSWORD`, for every registry;
//! 3. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `auths.<host>.auth` (base64 `user:password`) or `username`/`password`. Credential helpers
//!    (`credsStore`, `credHelpers`) are not run; log in with env credentials instead.
//!
//! With none, requests are anonymous (public images and anonymous tokens still work).

use std::collections::BTreeMap;
use std::path::PathBuf;

use paved_core::http::Secret;

/// A user name and password (or token) for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: Secret,
    /// Where they came from, for messages (`env PAVED_REGISTRY_USERNAME`, a config path).
    pub source: String,
}

/// Find credentials for `registry` (`host[:port]`) in the process environment and docker config.
pub fn lookup(registry: &str) -> Option<Credentials> {
    lookup_with(registry, &|k| std::env::var(k).ok())
}

/// [`lookup`] with an environment lookup function.
pub fn lookup_with(registry: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let host_key: String = registry
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    for prefix in [
        format!("PAVED_REGISTRY_{host_key}"),
        "PAVED_REGISTRY".into(),
    ] {
        let user = format!("{prefix}_USERNAME");
        if let (Some(u), Some(p)) = (non_empty(&user), non_empty(&format!("{prefix}_PASSWORD"))) {
            return Some(Credentials {
                username: u,
                password: Secret::new(p),
                source: format!("env `{user}`"),
            });
        }
    }
    let path = match non_empty("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => PathBuf::from(non_empty("HOME")?)
            .join(".docker")
            .join("config.json"),
    };
    let text = std::fs::read_to_string(&path).ok()?;
    from_docker_config(&text, registry, &path.display().to_string())
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Credentials for `registry` in the text of a docker `config.json`.
pub fn from_docker_config(text: &str, registry: &str, source: &str) -> Option<Credentials> {
    let config: DockerConfig = serde_json::from_str(text).ok()?;
    let wanted = normalise_host(registry);
    let entry = config
        .auths
        .iter()
        .find(|(k, _)| normalise_host(k) == wanted)
        .map(|(_, v)| v)?;
    let (username, password) = match (&entry.auth, &entry.username, &entry.password) {
        (Some(auth), _, _) if !auth.is_empty() => {
            let decoded = base64_decode(auth.trim())?;
            let text = String::from_utf8(decoded).ok()?;
            let (u, p) = text.split_once(':')?;
            (u.to_owned(), p.to_owned())
        }
        (_, Some(u), Some(p)) => (u.clone(), p.clone()),
        _ => return None,
    };
    Some(Credentials {
        username,
        password: Secret::new(password),
        source: source.to_owned(),
    })
}

/// `https://index.docker.io/v1/` and `docker.io` are the same registry; others compare by host.
fn normalise_host(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        _ => host,
    }
}

/// The `auth` value of a docker config: standard base64 as docker writes it, with or without
/// padding; the URL-safe alphabet is accepted too, as some tools write that.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    [
        GeneralPurpose::new(&STANDARD, LENIENT),
        GeneralPurpose::new(&URL_SAFE, LENIENT),
    ]
    .iter()
    .find_map(|engine| engine.decode(text).ok())
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter, if given.
        service: Option<String>,
        /// The scope the server asked for, if given.
        scope: Option<String>,
    },
    /// `Basic realm=…`.
    Basic,
}

/// Parse a `WWW-Authenticate` header value.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut map = BTreeMap::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (val, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        map.insert(key, val.to_owned());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: map.remove("realm")?,
        service: map.remove("service"),
        scope: map.remove("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn reads_credentials() {
        let config = r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
            "127.0.0.1:5000": {"username": "a", "password": "b"}}}"#;
        let c = from_docker_config(config, "docker.io", "cfg").unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("user", "pass"));
        let c = from_docker_config(config, "127.0.0.1:5000", "cfg").unwrap();
        assert_eq!(c.username, "a");
        assert!(from_docker_config(config, "ghcr.io", "cfg").is_none());

        let env = |k: &str| match k {
            "PAVED_REGISTRY_GHCR_IO_USERNAME" => Some("bot".to_owned()),
            "PAVED_REGISTRY_GHCR_IO_PASSWORD" => Some("tok".to_owned()),
            _ => None,
        };
        let c = lookup_with("ghcr.io", &env).unwrap();
        assert_eq!(c.username, "bot");
        assert!(lookup_with("quay.io", &env).is_none());
    }

    #[test]
    fn decodes_docker_auth_values() {
        let text = |s: &str| base64_decode(s).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(text("Y2k6czNjcmV0LXB3").as_deref(), Some("ci:s3cret-pw"));
        assert_eq!(text("YTpi").as_deref(), Some("a:b"));
        assert_eq!(text("YTpiYw==").as_deref(), Some("a:bc"));
        assert_eq!(text("YTpiYw").as_deref(), Some("a:bc"));
        // `u:~>?` is `dTp+Pj8=` in the standard alphabet and `dTp-Pj8=` in the URL-safe one.
        assert_eq!(text("dTp+Pj8=").as_deref(), Some("u:~>?"));
        assert_eq!(text("dTp-Pj8").as_deref(), Some("u:~>?"));
        assert_eq!(base64_decode("not base64!"), None);
    }
}
