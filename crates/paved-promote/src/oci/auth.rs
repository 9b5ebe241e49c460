//! Registry credentials and challenges.
//!
//! Credentials belong to one registry (host and port) and are sent only to it: see
//! [`crate::oci::registry`] for the origin rule. They are looked up, first match wins, in:
//! 1. `PAVED_REGISTRY_<HOST>_USERNAME` / `_PASSWORD`, where `<HOST>` is the registry host and
//!    port upper-cased with every other character turned into `_` (`ghcr.io` -> `GHCR_IO`,
//!    `127.0.0.1:5000` -> `127_0_0_1_5000`);
//! 2. `PAVED_REGISTRY_USERNAME` / `PAVED_REGISTRY_PASSWORD`, for one registry only: the one
//!    named by `PAVED_REGISTRY_HOST`, else the registry the command writes to (the destination
//!    of `copy`, the environment's repository for `promote` and `rollback`). A source on another
//!    registry never sees them;
//! 3. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    a credential helper named for the host in `credHelpers`, else `auths.<host>` (`auth`,
//!    base64 `user:password`, or `username`/`password`), else the `credsStore` helper. A helper
//!    `docker-credential-<name>` is run as docker runs it: `get`, the registry on stdin, JSON
//!    `{"Username", "Secret"}` on stdout. An identity token (`identitytoken`, or a helper's
//!    `<token>` user name) is exchanged at the token realm with an OAuth2 refresh-token request.
//!
//! With none, requests are anonymous (public images and anonymous tokens still work).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use paved_core::http::Secret;

use crate::error::{Error, Result};

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

/// Mask every registry password in the environment on the CI runner, before anything is
/// printed, whichever registry it belongs to (a helper's secret is masked when it is read).
pub fn mask_env_passwords() {
    for (key, value) in std::env::vars() {
        if key.starts_with("PAVED_REGISTRY_") && key.ends_with("_PASSWORD") && !value.is_empty() {
            paved_core::ci::CiSink::mask_from_env(&value);
        }
    }
}

/// The env names `PAVED_REGISTRY_<HOST>_USERNAME` / `_PASSWORD` use for `registry`.
pub fn host_key(registry: &str) -> String {
    registry
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Find credentials for `registry` (`host[:port]`) in the process environment and docker
/// config; `home` is the registry the command writes to (see the module docs).
pub fn lookup(registry: &str, home: Option<&str>) -> Result<Option<Credentials>> {
    lookup_with(registry, home, &|k| std::env::var(k).ok())
}

/// The registry the generic `PAVED_REGISTRY_USERNAME`/`_PASSWORD` pair belongs to:
/// `PAVED_REGISTRY_HOST`, else `home`.
pub fn generic_owner(home: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("PAVED_REGISTRY_HOST")
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_owned())
        .or_else(|| home.map(str::to_owned))
}

/// [`lookup`] with an environment lookup function.
pub fn lookup_with(
    registry: &str,
    home: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let mut prefixes = vec![format!("PAVED_REGISTRY_{}", host_key(registry))];
    if generic_owner(home, env)
        .is_some_and(|owner| normalise_host(&owner) == normalise_host(registry))
    {
        prefixes.push("PAVED_REGISTRY".into());
    }
    for prefix in prefixes {
        let user = format!("{prefix}_USERNAME");
        if let (Some(u), Some(p)) = (non_empty(&user), non_empty(&format!("{prefix}_PASSWORD"))) {
            return Ok(Some(Credentials {
                username: u,
                password: Secret::new(p),
                source: format!("env `{user}`"),
            }));
        }
    }
    let path = match non_empty("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => match non_empty("HOME") {
            Some(home) => PathBuf::from(home).join(".docker").join("config.json"),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let source = path.display().to_string();
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| Error::BadFile {
        path: path.clone(),
        message: format!("not a docker config: {e}"),
        hint: "fix the JSON, or point `DOCKER_CONFIG` at another directory".into(),
    })?;
    let wanted = normalise_host(registry);
    let helper_for_host = config
        .cred_helpers
        .iter()
        .find(|(k, _)| normalise_host(k) == wanted)
        .map(|(_, v)| v.clone());
    if let Some(helper) = helper_for_host {
        return run_helper(&helper, registry, &source);
    }
    if let Some(c) = from_config(&config, registry, &source) {
        return Ok(Some(c));
    }
    match config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        Some(store) => run_helper(store, registry, &source),
        None => Ok(None),
    }
}

/// What a credential helper is given on stdin for `registry`: docker's server address.
fn helper_server(registry: &str) -> String {
    if normalise_host(registry) == "docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_owned()
    }
}

/// Run `docker-credential-<name> get` for `registry`. "Not found" answers are no credentials.
fn run_helper(name: &str, registry: &str, config: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let hint = || {
        format!(
            "install `{program}` on PATH, or remove `{name}` from `credHelpers`/`credsStore` in `{config}`"
        )
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::BadFile {
            path: config.into(),
            message: format!("credential helper name `{name}` is not a plain name"),
            hint: "name the helper as docker does (`ecr-login`, `gcloud`, `acr-env`)".into(),
        });
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::BadFile {
                    path: config.into(),
                    message: format!(
                        "names credential helper `{program}` for `{registry}`, and it is not on PATH"
                    ),
                    hint: hint(),
                }
            } else {
                Error::io("run", &program, e)
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status below.
        let _ = stdin.write_all(helper_server(registry).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("run", &program, e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let said = format!(
            "{}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(Error::registry(
            format!(
                "credential helper `{program}` failed for `{registry}` ({}): {}",
                out.status,
                said.chars().take(300).collect::<String>()
            ),
            Some(&hint()),
        ));
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_str(stdout.trim()).map_err(|e| {
        Error::registry(
            format!("credential helper `{program}` answered `{registry}` with something that is not its JSON ({e})"),
            Some(&hint()),
        )
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: answer.username,
        password: Secret::new(answer.secret),
        source: format!("`{program}` (from `{config}`)"),
    }))
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    identitytoken: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Credentials for `registry` in the `auths` of the text of a docker `config.json` (helpers are
/// not run).
pub fn from_docker_config(text: &str, registry: &str, source: &str) -> Option<Credentials> {
    let config: DockerConfig = serde_json::from_str(text).ok()?;
    from_config(&config, registry, source)
}

fn from_config(config: &DockerConfig, registry: &str, source: &str) -> Option<Credentials> {
    let wanted = normalise_host(registry);
    let entry = config
        .auths
        .iter()
        .find(|(k, _)| normalise_host(k) == wanted)
        .map(|(_, v)| v)?;
    if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        // `docker login` with an identity token: exchanged at the token realm, not sent as Basic.
        return Some(Credentials {
            username: "<token>".into(),
            password: Secret::new(token.clone()),
            source: source.to_owned(),
        });
    }
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
        let with_token = r#"{"auths": {"acr.example.io": {"auth": "", "identitytoken": "rt-1"}}}"#;
        let c = from_docker_config(with_token, "acr.example.io", "cfg").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("<token>", "rt-1")
        );

        let env = |k: &str| match k {
            "PAVED_REGISTRY_GHCR_IO_USERNAME" => Some("bot".to_owned()),
            "PAVED_REGISTRY_GHCR_IO_PASSWORD" => Some("tok".to_owned()),
            _ => None,
        };
        let c = lookup_with("ghcr.io", None, &env).unwrap().unwrap();
        assert_eq!(c.username, "bot");
        assert!(lookup_with("quay.io", None, &env).unwrap().is_none());
    }

    /// The generic pair belongs to `PAVED_REGISTRY_HOST`, else to the registry the command
    /// writes to; any other registry (a source elsewhere) gets nothing from it.
    #[test]
    fn the_generic_env_pair_belongs_to_one_registry() {
        let generic = |host: Option<&'static str>| {
            move |k: &str| match k {
                "PAVED_REGISTRY_USERNAME" => Some("ci".to_owned()),
                "PAVED_REGISTRY_PASSWORD" => Some("pw".to_owned()),
                "PAVED_REGISTRY_HOST" => host.map(str::to_owned),
                _ => None,
            }
        };
        let env = generic(None);
        let found = |registry: &str, home: Option<&str>| {
            lookup_with(registry, home, &env)
                .unwrap()
                .map(|c| c.username)
        };
        assert_eq!(found("ghcr.io", Some("ghcr.io")).as_deref(), Some("ci"));
        assert_eq!(
            found("quay.io", Some("ghcr.io")),
            None,
            "a source elsewhere"
        );
        assert_eq!(found("quay.io", None), None);
        let env = generic(Some("quay.io"));
        assert_eq!(
            lookup_with("quay.io", Some("ghcr.io"), &env)
                .unwrap()
                .map(|c| c.username)
                .as_deref(),
            Some("ci")
        );
        assert!(
            lookup_with("ghcr.io", Some("ghcr.io"), &env)
                .unwrap()
                .is_none()
        );
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
