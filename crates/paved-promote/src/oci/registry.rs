//! A synchronous OCI Distribution client over `paved_core::http` (one retry policy for all).
//!
//! - **Transport**: HTTPS, except plain HTTP for loopback registries (`localhost`, `127.*`,
//!   `[::1]`) and hosts named with `--plain-http`, as `skopeo --tls-verify=false` and
//!   `crane --insecure` do for local registries. The choice is per host and explicit.
//! - **Auth**: the `/v2/` probe learns the scheme. Bearer: a token per scope set from the
//!   challenge's realm (with Basic credentials if we have them), refreshed before it expires
//!   and again on a `401`. Basic: the credentials on every request.
//! - **Credentials stay home.** Credentials and tokens go only to the registry's origin
//!   (scheme, host, port): an upload `Location`, a `Link` or a redirect to another origin (another
//!   host, or another port of the same host) is sent without them. The one exception is the
//!   token realm, which gets the Basic credentials when it is the registry's own origin or when
//!   the registry was reached over https (so the challenge naming the realm is the registry's
//!   own); over plain http a realm elsewhere gets none.
//! - **Manifests** are read with every OCI and Docker `Accept` type and kept as raw bytes; the
//!   sha256 of the bytes must match the digest asked for (and `Docker-Content-Digest`).
//! - **Blobs**: `HEAD` to skip, cross-repository mount (a `202` or an error falls back to an
//!   upload and the stray session is cancelled), monolithic or chunked upload, relative or
//!   absolute `Location`. A failed upload session is abandoned and a fresh one started.
//! - **Referrers**: the referrers API with `Link` pagination, else the `sha256-<hex>` tag schema.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paved_core::ci::CiSink;
use paved_core::http::{Auth, Client, HttpError, Method, RequestBuilder, Response};

use super::auth::{self, Challenge, Credentials};
use super::{Descriptor, MANIFEST_ACCEPT, Manifest, ManifestView, OCI_INDEX};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// How many fresh upload sessions one blob gets before the copy fails.
const UPLOAD_SESSIONS: u32 = 3;
/// The user name docker (and credential helpers) give an identity token, which is exchanged at
/// the token realm with an OAuth2 `refresh_token` request instead of sent as Basic.
const IDENTITY_TOKEN_USER: &str = "<token>";
/// Tokens are refreshed this long before they expire.
const TOKEN_SLACK: Duration = Duration::from_secs(10);

/// One registry (host), shared by every repository on it.
#[derive(Debug)]
pub struct Registry {
    http: Client,
    host: String,
    base: String,
    /// Whether the generic `PAVED_REGISTRY_USERNAME`/`_PASSWORD` pair may be used here.
    home: Option<String>,
    /// Looked up on first need (a credential helper is a process to run).
    creds: std::sync::OnceLock<Option<Credentials>>,
    state: Mutex<AuthState>,
}

#[derive(Debug, Default)]
struct AuthState {
    probed: bool,
    challenge: Option<Challenge>,
    tokens: HashMap<String, (Auth, Instant)>,
}

/// Whether `host` is served over plain HTTP: loopback always, others only when listed.
pub fn is_plain_http(host: &str, plain_http: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    name == "localhost"
        || name.starts_with("127.")
        || name == "::1"
        || plain_http.iter().any(|h| h.eq_ignore_ascii_case(host))
}

impl Registry {
    /// A client for `host` (as written in references), with credentials looked up by
    /// [`auth::lookup`] when first needed; `home` is the registry the command writes to.
    pub fn new(http: Client, host: &str, plain_http: &[String], home: Option<&str>) -> Registry {
        let api_host = if host == "docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        let scheme = if is_plain_http(host, plain_http) {
            "http"
        } else {
            "https"
        };
        Registry {
            http,
            host: host.to_owned(),
            base: format!("{scheme}://{api_host}"),
            home: home.map(str::to_owned),
            creds: std::sync::OnceLock::new(),
            state: Mutex::new(AuthState::default()),
        }
    }

    /// The credentials for this registry, looked up once.
    fn creds(&self) -> Result<Option<&Credentials>> {
        if let Some(c) = self.creds.get() {
            return Ok(c.as_ref());
        }
        let found = auth::lookup(&self.host, self.home.as_deref())?;
        if let Some(c) = &found {
            CiSink::mask_from_env(c.password.expose());
        }
        Ok(self.creds.get_or_init(|| found).as_ref())
    }

    /// The host as written in references.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `/v2/` probe: checks the registry speaks the Distribution API and learns its auth.
    pub fn probe(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let response = self.http.get(&url).allow_status(401).send().map_err(|e| {
            if matches!(e, HttpError::Transport { .. }) {
                Error::registry(
                    format!("registry `{}` could not be reached: {e}", self.host),
                    Some("check the registry host and port, and that it is up; loopback registries use plain http, others https (`--plain-http HOST` for an http registry)"),
                )
            } else {
                e.into()
            }
        })?;
        let challenge = if response.status() == 401 {
            let c = response
                .header("www-authenticate")
                .and_then(auth::parse_challenge);
            if c.is_none() {
                return Err(Error::registry(
                    format!(
                        "registry `{}` answered `/v2/` with 401 and no usable `WWW-Authenticate` challenge",
                        self.host
                    ),
                    None,
                ));
            }
            c
        } else {
            None
        };
        let mut state = self.lock();
        state.probed = true;
        state.challenge = challenge;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The credential to send for `scopes`, fetching a token if the registry wants one.
    fn auth_for(&self, scopes: &[String], force_new: bool) -> Result<Option<Auth>> {
        if !self.lock().probed {
            self.probe()?;
        }
        let challenge = self.lock().challenge.clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => match self.creds()? {
                Some(c) => Ok(Some(Auth::basic(c.username.clone(), c.password.clone()))),
                None => Err(self.no_credentials()),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scopes.join(" ");
                if !force_new
                    && let Some((token, expires)) = self.lock().tokens.get(&key)
                    && Instant::now() + TOKEN_SLACK < *expires
                {
                    return Ok(Some(token.clone()));
                }
                let (token, expires) = self.fetch_token(&realm, service.as_deref(), scopes)?;
                self.lock().tokens.insert(key, (token.clone(), expires));
                Ok(Some(token))
            }
        }
    }

    fn no_credentials(&self) -> Error {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let key = auth::host_key(&self.host);
        let owner = auth::generic_owner(self.home.as_deref(), &env);
        let elsewhere = match owner {
            Some(owner) if env("PAVED_REGISTRY_USERNAME").is_some() => format!(
                "; `PAVED_REGISTRY_USERNAME`/`_PASSWORD` are set but belong to `{owner}` only (the registry written to, or `PAVED_REGISTRY_HOST`)"
            ),
            _ => String::new(),
        };
        Error::registry(
            format!(
                "registry `{}` asks for credentials and none were found{elsewhere}",
                self.host
            ),
            Some(&format!(
                "set `PAVED_REGISTRY_{key}_USERNAME` and `PAVED_REGISTRY_{key}_PASSWORD` (or `PAVED_REGISTRY_USERNAME`/`_PASSWORD` with `PAVED_REGISTRY_HOST={}`), or log in with `docker login {}`",
                self.host, self.host
            )),
        )
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<(Auth, Instant)> {
        let creds = self.creds()?;
        let probe = self.http.get(realm);
        // The realm came from this registry's challenge: it is trusted with the credentials when
        // it is the registry's own origin, or when that challenge arrived over https.
        let realm_trusted = probe.is_same_origin(&self.base)
            || self.base.starts_with("https://") && realm.starts_with("https://");
        let creds = creds.filter(|_| realm_trusted);
        let mut request = match creds {
            // An identity token (docker's `<token>` user name, a helper's refresh token): the
            // OAuth2 form of the token request, as docker sends it.
            Some(c) if c.username == IDENTITY_TOKEN_USER => {
                let mut form = format!(
                    "grant_type=refresh_token&client_id=paved&refresh_token={}",
                    paved_core::http::encode_component(c.password.expose())
                );
                if let Some(service) = service {
                    form.push_str(&format!(
                        "&service={}",
                        paved_core::http::encode_component(service)
                    ));
                }
                form.push_str(&format!(
                    "&scope={}",
                    paved_core::http::encode_component(&scopes.join(" "))
                ));
                let form: Arc<[u8]> = form.into_bytes().into();
                self.http
                    .post(realm)
                    .bytes(form, "application/x-www-form-urlencoded")
            }
            _ => {
                let mut request = probe;
                if let Some(service) = service {
                    request = request.query("service", service);
                }
                for scope in scopes {
                    request = request.query("scope", scope);
                }
                request
            }
        };
        let basic = creds
            .filter(|c| c.username != IDENTITY_TOKEN_USER)
            .map(|c| Auth::basic(c.username.clone(), c.password.clone()));
        request = request.auth_opt(basic.as_ref());
        let response = request
            .auth_hint(format!(
                "check the credentials for `{}` (PAVED_REGISTRY_USERNAME/PASSWORD or docker config.json) and that they may {}",
                self.host,
                scopes.join(", ")
            ))
            .send()?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let parsed: TokenResponse = response.json()?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Error::registry(
                format!("the token service of `{}` returned no token", self.host),
                None,
            ));
        };
        // The distribution spec: a missing expires_in means 60 seconds.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(1));
        CiSink::mask_from_env(&token);
        Ok((
            Auth::bearer(paved_core::http::Secret::new(token)),
            Instant::now() + lifetime,
        ))
    }

    /// Send a request built by `build`, authenticated for `scopes`; a `401` refreshes the
    /// credential once.
    pub(crate) fn send(
        &self,
        scopes: &[String],
        build: &dyn Fn(&Client) -> RequestBuilder<'_>,
    ) -> Result<Response> {
        let mut auth = self.auth_for(scopes, false)?;
        let mut refreshed = false;
        loop {
            let response = build(&self.http)
                .auth_for_origin(auth.as_ref(), &self.base)
                .allow_status(401)
                .send()?;
            if response.status() != 401 {
                return Ok(response);
            }
            if refreshed {
                return Err(Error::registry(
                    format!(
                        "registry `{}` refused our credentials for `{}`",
                        self.host,
                        response.url()
                    ),
                    Some(
                        "check the registry credentials and that they may read the source and push to the destination",
                    ),
                ));
            }
            // The token expired early, or the registry changed its mind: probe again.
            if let Some(c) = response
                .header("www-authenticate")
                .and_then(auth::parse_challenge)
            {
                self.lock().challenge = Some(c);
            }
            if auth.is_none() && self.lock().challenge.is_none() {
                return Err(self.no_credentials());
            }
            auth = self.auth_for(scopes, true)?;
            refreshed = true;
        }
    }

    /// A repository on this registry.
    pub fn repo(self: &Arc<Self>, name: &str) -> Repo {
        Repo {
            registry: Arc::clone(self),
            name: name.to_owned(),
        }
    }
}

/// One repository on a registry.
#[derive(Debug, Clone)]
pub struct Repo {
    registry: Arc<Registry>,
    name: String,
}

/// What a manifest `PUT` told us.
#[derive(Debug, Clone, Copy)]
pub struct PutOutcome {
    /// The registry said it indexed the manifest's `subject` (`OCI-Subject`), so the referrers
    /// API will list it without the tag-schema fallback.
    pub subject_indexed: bool,
}

impl Repo {
    /// The registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.registry.base, self.name)
    }

    fn scopes(&self) -> Vec<String> {
        vec![format!("repository:{}:pull,push", self.name)]
    }

    fn read_scopes(&self) -> Vec<String> {
        vec![format!("repository:{}:pull", self.name)]
    }

    fn describe(&self, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("{}/{}{sep}{reference}", self.registry.host, self.name)
    }

    /// Read a manifest by tag or digest; `None` if it does not exist. The bytes are verified
    /// against the digest asked for, and against `Docker-Content-Digest` when sent.
    pub fn get_manifest(&self, reference: &str, write_scope: bool) -> Result<Option<Manifest>> {
        let url = self.url(&format!("manifests/{reference}"));
        let scopes = if write_scope {
            self.scopes()
        } else {
            self.read_scopes()
        };
        let response = self.registry.send(&scopes, &|c| {
            c.get(&url)
                .header("Accept", MANIFEST_ACCEPT)
                .allow_status(404)
        })?;
        if response.status() == 404 {
            return Ok(None);
        }
        let served = response.header("content-type").map(str::to_owned);
        let header_digest = response.header("docker-content-digest").map(str::to_owned);
        let manifest = Manifest::new(response.into_body(), served.as_deref());
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_owned())
        } else {
            header_digest
        };
        if let Some(expected) = expected
            && expected != manifest.digest.as_str()
        {
            return Err(Error::registry(
                format!(
                    "the manifest of `{}` hashes to `{}`, not `{expected}`: the registry served other bytes than it claims",
                    self.describe(reference),
                    manifest.digest
                ),
                Some(
                    "nothing was copied; check for a proxy rewriting responses, or report it to the registry operator",
                ),
            ));
        }
        Ok(Some(manifest))
    }

    /// The digest a tag (or digest) resolves to, `None` if absent.
    pub fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.registry.send(&self.scopes(), &|c| {
            c.head(&url)
                .header("Accept", MANIFEST_ACCEPT)
                .allow_status(404)
        })?;
        if response.status() == 404 {
            return Ok(None);
        }
        if let Some(d) = response
            .header("docker-content-digest")
            .and_then(|d| Digest::parse(d).ok())
        {
            return Ok(Some(d));
        }
        Ok(self.get_manifest(reference, true)?.map(|m| m.digest))
    }

    /// Push `manifest` under `reference` (its digest, or a tag) with its exact bytes and media
    /// type, and check the digest the registry computed.
    pub fn put_manifest(&self, reference: &str, manifest: &Manifest) -> Result<PutOutcome> {
        let url = self.url(&format!("manifests/{reference}"));
        let bytes: Arc<[u8]> = manifest.bytes.clone().into();
        let put = || {
            self.registry.send(&self.scopes(), &|c| {
                c.put(&url)
                    .bytes(Arc::clone(&bytes), manifest.media_type.as_str())
            })
        };
        // docker-registry stores a manifest as a blob; two writers of the same manifest at once
        // can make one of them verify the other's half-written file (`DIGEST_INVALID`, or
        // `MANIFEST_BLOB_UNKNOWN` for a child still being written). That is a race, not bad
        // input: try again a few times.
        let mut tries: u32 = 0;
        let response = loop {
            match put() {
                Err(Error::Http(e))
                    if tries < 3
                        && e.status() == Some(400)
                        && e.server_message().is_some_and(|m| {
                            m.contains("DIGEST_INVALID") || m.contains("BLOB_UNKNOWN")
                        }) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100 * u64::from(tries)));
                }
                other => break other?,
            }
        };
        if let Some(d) = response.header("docker-content-digest")
            && d != manifest.digest.as_str()
        {
            return Err(Error::registry(
                format!(
                    "`{}` stored the manifest as `{d}`, not `{}`: the registry rewrote it",
                    self.describe(reference),
                    manifest.digest
                ),
                Some("use a registry that stores manifests byte-for-byte"),
            ));
        }
        Ok(PutOutcome {
            subject_indexed: response.header("oci-subject").is_some(),
        })
    }

    /// Whether the blob exists in this repository.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self
            .registry
            .send(&self.scopes(), &|c| c.head(&url).allow_status(404))?;
        Ok(response.status() != 404)
    }

    /// Try to mount `digest` from repository `from` on the same registry. `true` if mounted
    /// (`201`); `false` if the registry declined (`202`, whose session is cancelled) or failed.
    pub fn mount(&self, digest: &Digest, from: &str) -> Result<bool> {
        let url = self.url("blobs/uploads/");
        let scopes = vec![
            format!("repository:{}:pull,push", self.name),
            format!("repository:{from}:pull"),
        ];
        let response = self.registry.send(&scopes, &|c| {
            c.post(&url)
                .query("mount", digest.as_str())
                .query("from", from)
                .max_attempts(2)
        });
        match response {
            Ok(r) if r.status() == 201 => Ok(true),
            Ok(r) => {
                if r.status() == 202
                    && let Some(location) = r.header("location")
                {
                    self.cancel_session(location);
                }
                Ok(false)
            }
            // A mount is an optimisation; any failure falls back to an upload.
            Err(_) => Ok(false),
        }
    }

    fn cancel_session(&self, location: &str) {
        let url = self.resolve_location(location);
        let _ = self.registry.send(&self.scopes(), &|c| {
            c.delete(&url)
                .max_attempts(1)
                .allow_status(404)
                .allow_status(405)
        });
    }

    fn resolve_location(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.registry.base)
        } else {
            format!(
                "{}/v2/{}/blobs/uploads/{location}",
                self.registry.base, self.name
            )
        }
    }

    fn start_upload(&self) -> Result<String> {
        let url = self.url("blobs/uploads/");
        let response = self.registry.send(&self.scopes(), &|c| c.post(&url))?;
        let Some(location) = response.header("location") else {
            return Err(Error::registry(
                format!(
                    "`{}` started an upload without a `Location` header",
                    self.describe("")
                ),
                None,
            ));
        };
        Ok(self.resolve_location(location))
    }

    /// Upload the blob in `path` (`size` bytes). Monolithic unless `chunk` is set; each failed
    /// session is cancelled and a fresh one started, a few times.
    pub fn upload(
        &self,
        digest: &Digest,
        path: &Path,
        size: u64,
        chunk: Option<u64>,
    ) -> Result<()> {
        let mut last = None;
        for _ in 0..UPLOAD_SESSIONS {
            let location = self.start_upload()?;
            let result = match chunk {
                Some(chunk) if size > chunk => {
                    self.upload_chunked(&location, digest, path, size, chunk)
                }
                _ => self.upload_monolithic(&location, digest, path),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.cancel_session(&location);
                    // Only protocol-level failures are worth a fresh session; bad input is not.
                    if matches!(e, Error::Io { .. } | Error::Usage(_)) {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::registry("upload failed", None)))
    }

    fn upload_monolithic(&self, location: &str, digest: &Digest, path: &Path) -> Result<()> {
        let response = self.registry.send(&self.scopes(), &|c| {
            c.put(location)
                .query("digest", digest.as_str())
                .file(path, "application/octet-stream")
        })?;
        self.check_committed(&response, digest)
    }

    fn upload_chunked(
        &self,
        location: &str,
        digest: &Digest,
        path: &Path,
        size: u64,
        chunk: u64,
    ) -> Result<()> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        let mut location = location.to_owned();
        let mut offset = 0u64;
        let mut buf = vec![0u8; usize::try_from(chunk).unwrap_or(usize::MAX)];
        while offset < size {
            let want = usize::try_from(chunk.min(size - offset)).unwrap_or(usize::MAX);
            file.read_exact(&mut buf[..want])
                .map_err(|e| Error::io("read", path, e))?;
            let data: Arc<[u8]> = buf[..want].to_vec().into();
            let range = format!("{offset}-{}", offset + want as u64 - 1);
            let url = location.clone();
            let response = self.registry.send(&self.scopes(), &|c| {
                c.request(Method::Patch, &url)
                    .header("Content-Range", range.as_str())
                    .bytes(Arc::clone(&data), "application/octet-stream")
            })?;
            let Some(next) = response.header("location") else {
                return Err(Error::registry(
                    format!(
                        "`{}` accepted a chunk without a `Location` header",
                        self.describe("")
                    ),
                    None,
                ));
            };
            location = self.resolve_location(next);
            offset += want as u64;
        }
        let response = self.registry.send(&self.scopes(), &|c| {
            c.put(&location).query("digest", digest.as_str())
        })?;
        self.check_committed(&response, digest)
    }

    fn check_committed(&self, response: &Response, digest: &Digest) -> Result<()> {
        match response.header("docker-content-digest") {
            Some(d) if d != digest.as_str() => Err(Error::registry(
                format!("`{}` stored blob `{digest}` as `{d}`", self.describe("")),
                None,
            )),
            _ => Ok(()),
        }
    }

    /// Download blob `digest` into `path` and verify it.
    pub fn download(&self, digest: &Digest, path: &Path) -> Result<()> {
        let url = self.url(&format!("blobs/{digest}"));
        self.registry
            .send(&self.read_scopes(), &|c| c.get(&url).download_to(path))?;
        let got = Digest::of_file(path).map_err(|e| Error::io("read", path, e))?;
        if &got != digest {
            return Err(Error::registry(
                format!(
                    "blob `{digest}` of `{}` hashes to `{got}`: the registry served other bytes",
                    self.describe("")
                ),
                Some(
                    "nothing was pushed for this image; retry, or report it to the registry operator",
                ),
            ));
        }
        Ok(())
    }

    /// Read a small blob into memory and verify it.
    pub fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let url = self.url(&format!("blobs/{digest}"));
        let body = self
            .registry
            .send(&self.read_scopes(), &|c| c.get(&url))?
            .into_body();
        if &Digest::of(&body) != digest {
            return Err(Error::registry(
                format!(
                    "blob `{digest}` of `{}` does not match its digest",
                    self.describe("")
                ),
                None,
            ));
        }
        Ok(body)
    }

    /// The referrers of `digest`: the referrers API (every page), else the `sha256-<hex>` tag.
    /// The second value says whether the API answered.
    pub fn referrers(&self, digest: &Digest) -> Result<(Vec<Descriptor>, bool)> {
        let url = self.url(&format!("referrers/{digest}"));
        let scopes = self.read_scopes();
        let first = self.registry.send(&scopes, &|c| {
            c.get(&url)
                .header("Accept", OCI_INDEX)
                .allow_status(404)
                .allow_status(400)
                .allow_status(405)
        })?;
        let is_index = first
            .header("content-type")
            .is_some_and(|t| t.starts_with(OCI_INDEX));
        if first.status() == 200 && is_index {
            let mut out = Vec::new();
            let mut response = first;
            for _ in 0..100 {
                let view = ManifestView::parse(response.body())
                    .map_err(|e| Error::registry(format!("referrers of `{digest}`: {e}"), None))?;
                out.extend(view.manifests);
                let Some(next) = response.next_link() else {
                    break;
                };
                let next = self.resolve_location(&next);
                if !next.starts_with(&self.registry.base) {
                    return Err(Error::registry(
                        format!("the referrers of `{digest}` link to another host (`{next}`)"),
                        None,
                    ));
                }
                response = self
                    .registry
                    .send(&scopes, &|c| c.get(&next).header("Accept", OCI_INDEX))?;
            }
            return Ok((out, true));
        }
        let fallback = self.get_manifest(&digest.fallback_tag(), false)?;
        let list = match fallback {
            Some(m) => m.view().map(|v| v.manifests).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok((list, false))
    }

    /// Tags of the repository (every page).
    pub fn tags(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let mut url = self.url("tags/list");
        let mut out = Vec::new();
        for _ in 0..100 {
            let response = self
                .registry
                .send(&self.read_scopes(), &|c| c.get(&url).allow_status(404))?;
            if response.status() == 404 {
                break;
            }
            out.extend(response.json::<TagList>()?.tags.unwrap_or_default());
            match response.next_link() {
                Some(next) => url = self.resolve_location(&next),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paved_testkit::http::{FakeResponse, FakeServer, test_client};

    /// The Bearer flow against a fake registry and token service: the probe learns the realm, a
    /// token is fetched for the push scope with Basic credentials, sent, and refreshed on a 401.
    #[test]
    fn bearer_token_flow_with_scopes_and_refresh() {
        let server = FakeServer::start();
        let realm = format!("{}/token", server.url());
        server
            .route("GET", "/v2/")
            .respond(FakeResponse::text(401, "unauthorized").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="fake-registry""#),
            ));
        server.route("GET", "/token").respond_seq([
            FakeResponse::json(
                200,
                serde_json::json!({"token": "tok-1", "expires_in": 300}),
            ),
            FakeResponse::json(200, serde_json::json!({"access_token": "tok-2"})),
        ]);
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
        server.route("HEAD", "/v2/team/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a").respond_seq([
            FakeResponse::new(401),
            FakeResponse::new(200),
        ]);
        server.route("GET", "/v2/team/app/manifests/v1").respond(
            FakeResponse::new(200)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .body(manifest.to_vec()),
        );
        let (http, _) = test_client();
        let host = server.url().trim_start_matches("http://").to_owned();
        let registry = Registry::new(http, &host, &[], None);
        registry
            .creds
            .set(Some(Credentials {
                username: "robot".into(),
                password: paved_core::http::Secret::new("pw"),
                source: "test".into(),
            }))
            .unwrap();
        let repo = Arc::new(registry).repo("team/app");
        let m = repo.get_manifest("v1", true).unwrap().unwrap();
        assert_eq!(m.bytes, manifest);
        assert!(repo.has_blob(&Digest::of(b"{}")).unwrap());

        let tokens = server.requests_to("GET", "/token");
        assert_eq!(tokens.len(), 2, "one token, then a refresh after the 401");
        assert_eq!(
            tokens[0].query_param("scope").as_deref(),
            Some("repository:team/app:pull,push")
        );
        assert_eq!(
            tokens[0].query_param("service").as_deref(),
            Some("fake-registry")
        );
        assert!(
            tokens[0]
                .header("authorization")
                .unwrap()
                .starts_with("Basic ")
        );
        let manifests = server.requests_to("GET", "/v2/team/app/manifests/v1");
        assert_eq!(manifests[0].header("authorization"), Some("Bearer tok-1"));
        assert!(
            manifests[0]
                .header("accept")
                .unwrap()
                .contains("image.index.v1+json")
        );
        let heads = server.requests_to("HEAD", "/v2/team/app/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assert_eq!(heads[1].header("authorization"), Some("Bearer tok-2"));
    }

    /// A registry asking for Basic credentials, with the credentials set.
    fn basic_repo(server: &FakeServer) -> Repo {
        server.route("GET", "/v2/").respond(
            FakeResponse::text(401, "unauthorized")
                .header("WWW-Authenticate", r#"Basic realm="Registry Realm""#),
        );
        let (http, _) = test_client();
        let host = server.url().trim_start_matches("http://").to_owned();
        let registry = Registry::new(http, &host, &[], None);
        registry
            .creds
            .set(Some(Credentials {
                username: "robot".into(),
                password: paved_core::http::Secret::new("s3cret-pw"),
                source: "test".into(),
            }))
            .unwrap();
        Arc::new(registry).repo("team/app")
    }

    /// An upload `Location` on another host, or on another port of the same host, is where the
    /// registry wants the bytes, but it is not the registry's origin: no credentials go there.
    #[test]
    fn an_upload_location_elsewhere_gets_no_credentials() {
        let home = FakeServer::start();
        let other = FakeServer::start();
        let port = home.addr().port();
        let repo = basic_repo(&home);
        let blob = b"layer bytes".to_vec();
        let digest = Digest::of(&blob);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, &blob).unwrap();
        for (i, location) in [
            format!("{}/upload/1", other.url()),
            format!("http://localhost:{port}/upload/2"),
            format!("{}/upload/3", home.url()),
        ]
        .iter()
        .enumerate()
        {
            home.route("POST", "/v2/team/app/blobs/uploads/")
                .respond(FakeResponse::new(202).header("Location", location.as_str()));
            for server in [&home, &other] {
                server
                    .route("PUT", &format!("/upload/{}", i + 1))
                    .respond(FakeResponse::new(201));
            }
            repo.upload(&digest, &path, blob.len() as u64, None)
                .unwrap();
        }
        let put = |server: &FakeServer, n: u32| server.requests_to("PUT", &format!("/upload/{n}"));
        assert_eq!(put(&other, 1).len(), 1);
        assert_eq!(
            put(&other, 1)[0].header("authorization"),
            None,
            "another port"
        );
        assert_eq!(put(&home, 2).len(), 1);
        assert_eq!(
            put(&home, 2)[0].header("authorization"),
            None,
            "another host name"
        );
        assert!(
            put(&home, 3)[0]
                .header("authorization")
                .is_some_and(|a| a.starts_with("Basic ")),
            "the registry's own origin keeps them"
        );
        for request in home.requests().iter().chain(other.requests().iter()) {
            if request.path.starts_with("/upload/1") || request.path.starts_with("/upload/2") {
                assert!(
                    request
                        .headers
                        .iter()
                        .all(|(_, v)| !v.contains("cm9ib3Q6czNjcmV0LXB3"))
                );
            }
        }
    }

    /// Over plain http, a token realm on another origin (which anyone on the path could have
    /// named) is asked for a token without the registry's credentials.
    #[test]
    fn a_plain_http_realm_elsewhere_gets_no_credentials() {
        let home = FakeServer::start();
        let tokens = FakeServer::start();
        let realm = format!("{}/token", tokens.url());
        home.route("GET", "/v2/").respond(
            FakeResponse::text(401, "unauthorized")
                .header("WWW-Authenticate", format!(r#"Bearer realm="{realm}""#)),
        );
        tokens
            .route("GET", "/token")
            .respond(FakeResponse::json(200, serde_json::json!({"token": "t"})));
        home.route("HEAD", &format!("/v2/team/app/blobs/{}", Digest::of(b"{}")))
            .respond(FakeResponse::new(200));
        let (http, _) = test_client();
        let host = home.url().trim_start_matches("http://").to_owned();
        let registry = Registry::new(http, &host, &[], None);
        registry
            .creds
            .set(Some(Credentials {
                username: "robot".into(),
                password: paved_core::http::Secret::new("s3cret-pw"),
                source: "test".into(),
            }))
            .unwrap();
        let repo = Arc::new(registry).repo("team/app");
        assert!(repo.has_blob(&Digest::of(b"{}")).unwrap());
        let asked = tokens.requests_to("GET", "/token");
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].header("authorization"), None);
    }

    /// A credential helper's identity token (user `<token>`) is exchanged at the realm with the
    /// OAuth2 refresh-token form, never sent as Basic.
    #[test]
    fn an_identity_token_is_exchanged_with_the_oauth2_form() {
        let home = FakeServer::start();
        let realm = format!("{}/token", home.url());
        home.route("GET", "/v2/")
            .respond(FakeResponse::text(401, "unauthorized").header(
                "WWW-Authenticate",
                format!(r#"Bearer realm="{realm}",service="reg""#),
            ));
        home.route("POST", "/token").respond(FakeResponse::json(
            200,
            serde_json::json!({"access_token": "acc-1", "expires_in": 300}),
        ));
        let blob = format!("/v2/team/app/blobs/{}", Digest::of(b"{}"));
        home.route("HEAD", &blob).respond(FakeResponse::new(200));
        let (http, _) = test_client();
        let host = home.url().trim_start_matches("http://").to_owned();
        let registry = Registry::new(http, &host, &[], None);
        registry
            .creds
            .set(Some(Credentials {
                username: IDENTITY_TOKEN_USER.into(),
                password: paved_core::http::Secret::new("refresh/tok+1"),
                source: "test".into(),
            }))
            .unwrap();
        let repo = Arc::new(registry).repo("team/app");
        assert!(repo.has_blob(&Digest::of(b"{}")).unwrap());
        let posted = home.requests_to("POST", "/token");
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0].header("authorization"), None);
        let form = String::from_utf8(posted[0].body.clone()).unwrap();
        assert!(form.contains("grant_type=refresh_token"), "{form}");
        assert!(form.contains("refresh_token=refresh%2Ftok%2B1"), "{form}");
        assert!(form.contains("service=reg"), "{form}");
        assert!(
            form.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"),
            "{form}"
        );
        assert!(home.requests_to("GET", "/token").is_empty());
        assert_eq!(
            home.requests_to("HEAD", &blob)[0].header("authorization"),
            Some("Bearer acc-1")
        );
    }

    /// A blob read redirected to another port of the same host (storage behind the registry)
    /// follows the redirect without the credentials.
    #[test]
    fn a_redirect_to_another_port_gets_no_credentials() {
        let home = FakeServer::start();
        let other = FakeServer::start();
        let repo = basic_repo(&home);
        let blob = b"{}".to_vec();
        let digest = Digest::of(&blob);
        home.route("GET", &format!("/v2/team/app/blobs/{digest}"))
            .respond(
                FakeResponse::new(307).header("Location", format!("{}/storage/x", other.url())),
            );
        other
            .route("GET", "/storage/x")
            .respond(FakeResponse::new(200).body(blob.clone()));
        assert_eq!(repo.get_blob(&digest).unwrap(), blob);
        let first = home.requests_to("GET", &format!("/v2/team/app/blobs/{digest}"));
        assert!(first[0].header("authorization").is_some());
        let landed = other.requests_to("GET", "/storage/x");
        assert_eq!(landed.len(), 1);
        assert_eq!(landed[0].header("authorization"), None);
    }

    /// An OCI image index listing `digests` as referrers of type `artifact_type`.
    fn referrers_page(digests: &[Digest], artifact_type: &str) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = digests
            .iter()
            .map(|d| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": d.to_string(),
                    "size": 321,
                    "artifactType": artifact_type,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        }))
        .unwrap()
    }

    fn anonymous_repo(server: &FakeServer) -> Repo {
        server.route("GET", "/v2/").respond(FakeResponse::new(200));
        let (http, _) = test_client();
        let host = server.url().trim_start_matches("http://").to_owned();
        let registry = Registry::new(http, &host, &[], None);
        registry.creds.set(None).unwrap();
        Arc::new(registry).repo("team/app")
    }

    /// The referrers API answers in pages joined by `Link: <…>; rel="next"` (relative, as the
    /// distribution spec shows); every page is read, in order, with the OCI index Accept type.
    #[test]
    fn referrers_api_follows_link_pagination() {
        let server = FakeServer::start();
        let subject = Digest::of(b"subject");
        let (a, b, c) = (Digest::of(b"sig"), Digest::of(b"sbom"), Digest::of(b"att"));
        let path = format!("/v2/team/app/referrers/{subject}");
        server.route("GET", &path).respond(
            FakeResponse::new(200)
                .header("Content-Type", OCI_INDEX)
                .header("Link", format!(r#"<{path}?n=2&last=p1>; rel="next""#))
                .body(referrers_page(
                    &[a.clone(), b.clone()],
                    "application/vnd.example.sig",
                )),
        );
        server.route("GET", &path).query("last", "p1").respond(
            FakeResponse::new(200)
                .header("Content-Type", format!("{OCI_INDEX}; charset=utf-8"))
                .body(referrers_page(
                    std::slice::from_ref(&c),
                    "application/spdx+json",
                )),
        );
        let repo = anonymous_repo(&server);
        let (found, from_api) = repo.referrers(&subject).unwrap();
        assert!(from_api, "the referrers API answered");
        let digests: Vec<Digest> = found.iter().map(|d| d.digest.clone()).collect();
        assert_eq!(digests, vec![a, b, c]);
        assert_eq!(
            found[2].artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        let requests = server.requests_to("GET", &path);
        assert_eq!(requests.len(), 2, "two pages, no more");
        assert!(
            requests
                .iter()
                .all(|r| r.header("accept") == Some(OCI_INDEX))
        );
        assert_eq!(requests[1].query_param("last").as_deref(), Some("p1"));
        assert!(
            server
                .requests_to(
                    "GET",
                    &format!("/v2/team/app/manifests/{}", subject.fallback_tag())
                )
                .is_empty(),
            "no tag-schema fallback when the API answers"
        );
    }

    /// A `Link` to another host is refused instead of followed (it would leak credentials).
    #[test]
    fn referrers_link_to_another_host_is_refused() {
        let server = FakeServer::start();
        let subject = Digest::of(b"subject");
        let path = format!("/v2/team/app/referrers/{subject}");
        server.route("GET", &path).respond(
            FakeResponse::new(200)
                .header("Content-Type", OCI_INDEX)
                .header(
                    "Link",
                    r#"<https://elsewhere.example/v2/x?last=1>; rel="next""#,
                )
                .body(referrers_page(
                    &[Digest::of(b"sig")],
                    "application/vnd.example.sig",
                )),
        );
        let repo = anonymous_repo(&server);
        let err = repo.referrers(&subject).unwrap_err().to_string();
        assert!(err.contains("another host"), "{err}");
    }

    /// A registry without the referrers API (404) falls back to the `sha256-<hex>` tag schema; an
    /// image with neither has no referrers.
    #[test]
    fn referrers_fall_back_to_the_tag_schema() {
        let server = FakeServer::start();
        let subject = Digest::of(b"subject");
        let lonely = Digest::of(b"lonely");
        let sig = Digest::of(b"sig");
        let index = referrers_page(std::slice::from_ref(&sig), "application/vnd.example.sig");
        server
            .route("GET", &format!("/v2/team/app/referrers/{subject}"))
            .respond(FakeResponse::text(404, "404 page not found"));
        server
            .route("GET", &format!("/v2/team/app/referrers/{lonely}"))
            .respond(FakeResponse::text(404, "404 page not found"));
        server
            .route(
                "GET",
                &format!("/v2/team/app/manifests/{}", subject.fallback_tag()),
            )
            .respond(
                FakeResponse::new(200)
                    .header("Content-Type", OCI_INDEX)
                    .header("Docker-Content-Digest", Digest::of(&index).to_string())
                    .body(index),
            );
        server
            .route("GET", &format!("/v2/team/app/manifests/{}", lonely.fallback_tag()))
            .respond(FakeResponse::json(
                404,
                serde_json::json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}),
            ));
        let repo = anonymous_repo(&server);
        let (found, from_api) = repo.referrers(&subject).unwrap();
        assert!(!from_api);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].digest, sig);
        let (none, _) = repo.referrers(&lonely).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn plain_http_only_for_loopback_or_named_hosts() {
        assert!(is_plain_http("127.0.0.1:5000", &[]));
        assert!(is_plain_http("localhost:5000", &[]));
        assert!(is_plain_http("[::1]:5000", &[]));
        assert!(!is_plain_http("ghcr.io", &[]));
        assert!(is_plain_http(
            "registry.lan:5000",
            &["registry.lan:5000".into()]
        ));
    }
}
