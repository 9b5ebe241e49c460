//! `require`: verify an image's cosign signatures and in-toto attestations against trusted keys.
//!
//! Evidence is gathered where cosign and others put it: the `sha256-<hex>.sig` and
//! `sha256-<hex>.att` tags, and the image's OCI 1.1 referrers (or the `sha256-<hex>` referrers
//! index on registries without the API). A layer carrying the
//! `dev.cosignproject.cosign/signature` annotation is a simple signing: the signature must verify
//! over the layer's bytes, and the payload's `critical.image.docker-manifest-digest` must be this
//! digest. A DSSE envelope layer (and a sigstore bundle's `dsseEnvelope`) is an attestation: it
//! must verify, and its in-toto statement must name this digest as a subject. Then:
//!
//! - `signature`: a verified simple signing (or a cosign `https://sigstore.dev/cosign/sign/v1`
//!   statement);
//! - `provenance`: a verified SLSA provenance (`https://slsa.dev/provenance/…`) whose builder id
//!   and source repository/ref match `[promote.env.<env>.provenance]`;
//! - `sbom`: a verified CycloneDX (`https://cyclonedx.org/bom…`) or SPDX
//!   (`https://spdx.dev/Document…`) predicate.
//!
//! Anything that does not verify is named with its reason in the refusal.

use paved_core::config::ProvenanceConfig;
use paved_core::sign::{Envelope, PublicKey, Statement, verify_blob};

use crate::copy::PROMOTION_ARTIFACT_TYPE;
use crate::digest::Digest;
use crate::error::Result;
use crate::ledger::DSSE_MEDIA_TYPE;
use crate::oci::ManifestView;
use crate::store::Store;

/// The annotation holding a cosign simple signing's signature.
pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// The media type prefix of sigstore bundles.
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle";
/// The predicate type of cosign's own signing statements (in sigstore bundles).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// One piece of evidence about an image, not yet verified.
#[derive(Debug)]
pub enum Evidence {
    /// A simple-signing payload and its base64 signature.
    Simple {
        origin: String,
        payload: Vec<u8>,
        signature: String,
    },
    /// A DSSE envelope (an attestation).
    Envelope { origin: String, envelope: Envelope },
    /// Something that claims to be evidence but cannot be read as any.
    Unreadable { origin: String, reason: String },
}

/// Gather the evidence about `digest` in `store`.
pub fn gather(store: &Store, digest: &Digest) -> Result<Vec<Evidence>> {
    let mut manifests: Vec<(Digest, Option<String>, String)> = Vec::new();
    for suffix in [".sig", ".att"] {
        let tag = format!("{}{suffix}", digest.fallback_tag());
        if let Some(d) = store.resolve(&tag)? {
            manifests.push((d, None, format!("`{tag}`")));
        }
    }
    let (referrers, _) = store.referrers(digest)?;
    for r in referrers {
        if r.artifact_type.as_deref() == Some(PROMOTION_ARTIFACT_TYPE)
            || manifests.iter().any(|(d, _, _)| d == &r.digest)
        {
            continue;
        }
        manifests.push((
            r.digest.clone(),
            Some(r.media_type),
            format!("referrer {}", r.digest),
        ));
    }
    let mut out = Vec::new();
    for (d, media_type, origin) in manifests {
        let Some(m) = store.get_manifest(&d, media_type.as_deref())? else {
            continue;
        };
        let view = match ManifestView::parse(&m.bytes) {
            Ok(v) => v,
            Err(reason) => {
                out.push(Evidence::Unreadable { origin, reason });
                continue;
            }
        };
        let bundle_type = view
            .artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with(SIGSTORE_BUNDLE));
        for (i, layer) in view.layers.iter().enumerate() {
            let origin = format!("{origin} layer {}", i + 1);
            let signature = layer
                .annotations
                .as_ref()
                .and_then(|a| a.get(COSIGN_SIGNATURE))
                .cloned();
            if let Some(signature) = signature {
                out.push(Evidence::Simple {
                    payload: store.get_blob(&layer.digest)?,
                    origin,
                    signature,
                });
            } else if layer.media_type == DSSE_MEDIA_TYPE {
                let bytes = store.get_blob(&layer.digest)?;
                out.push(match Envelope::from_json(&bytes, &origin) {
                    Ok(envelope) => Evidence::Envelope { origin, envelope },
                    Err(e) => Evidence::Unreadable {
                        origin,
                        reason: e.to_string(),
                    },
                });
            } else if bundle_type || layer.media_type.starts_with(SIGSTORE_BUNDLE) {
                let bytes = store.get_blob(&layer.digest)?;
                out.push(from_bundle(&bytes, origin));
            }
        }
    }
    Ok(out)
}

/// A sigstore bundle: its `dsseEnvelope`, when it has one.
fn from_bundle(bytes: &[u8], origin: String) -> Evidence {
    let unreadable = |reason: String| Evidence::Unreadable {
        origin: origin.clone(),
        reason: format!("a sigstore bundle {reason}"),
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return unreadable("that is not JSON".into());
    };
    let Some(dsse) = value.get("dsseEnvelope") else {
        return unreadable(
            "with no DSSE envelope (message-signature bundles are not verified by paved)".into(),
        );
    };
    match Envelope::from_json(dsse.to_string().as_bytes(), &origin) {
        Ok(envelope) => Evidence::Envelope { origin, envelope },
        Err(e) => unreadable(format!("with a bad DSSE envelope: {e}")),
    }
}

/// What `require` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Signature,
    Provenance,
    Sbom,
}

impl Requirement {
    /// `signature`, `provenance` or `sbom` (the config validated the names).
    pub fn parse(name: &str) -> Option<Requirement> {
        match name {
            "signature" => Some(Requirement::Signature),
            "provenance" => Some(Requirement::Provenance),
            "sbom" => Some(Requirement::Sbom),
            _ => None,
        }
    }

    fn wants(self, predicate_type: &str) -> bool {
        match self {
            Requirement::Signature => predicate_type == COSIGN_SIGN_PREDICATE,
            Requirement::Provenance => predicate_type.starts_with("https://slsa.dev/provenance/"),
            Requirement::Sbom => {
                predicate_type.starts_with("https://cyclonedx.org/bom")
                    || predicate_type.starts_with("https://spdx.dev/Document")
            }
        }
    }

    /// What was looked for, for a refusal with no candidates.
    pub fn missing(self) -> &'static str {
        match self {
            Requirement::Signature => {
                "no cosign signature (neither a `.sig` tag nor a signature referrer)"
            }
            Requirement::Provenance => {
                "no SLSA provenance attestation (`https://slsa.dev/provenance/…`)"
            }
            Requirement::Sbom => {
                "no CycloneDX or SPDX attestation (`https://cyclonedx.org/bom`, `https://spdx.dev/Document`); \
                 an SBOM merely attached (a `.sbom` tag) is signed by no one: attest it with \
                 `cosign attest --key KEY --type cyclonedx` (or `spdxjson`)"
            }
        }
    }
}

fn short(key: &PublicKey) -> &str {
    &key.key_id().as_str()[..16]
}

/// Check `requirement` against `evidence` for `digest`: `Ok(what passed)`, or every reason a
/// candidate failed (empty when there was no candidate at all).
pub fn check(
    requirement: Requirement,
    evidence: &[Evidence],
    digest: &Digest,
    keys: &[PublicKey],
    provenance: Option<&ProvenanceConfig>,
) -> std::result::Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    for e in evidence {
        match e {
            Evidence::Simple {
                origin,
                payload,
                signature,
            } if requirement == Requirement::Signature => {
                match verify_simple(payload, signature, digest, keys, origin) {
                    Ok(key) => {
                        return Ok(format!(
                            "cosign signature signed by {} ({origin})",
                            short(key)
                        ));
                    }
                    Err(reason) => reasons.push(reason),
                }
            }
            Evidence::Envelope { origin, envelope } => {
                // The unverified type decides only whether this envelope is a candidate.
                let claimed = Statement::from_json(&envelope.payload, origin)
                    .map(|s| s.predicate_type)
                    .unwrap_or_default();
                if !claimed.is_empty() && !requirement.wants(&claimed) {
                    continue;
                }
                match verify_statement(envelope, digest, keys, origin) {
                    Ok((statement, key)) if requirement.wants(&statement.predicate_type) => {
                        let verdict = match requirement {
                            Requirement::Provenance => {
                                check_provenance(&statement.predicate, provenance)
                            }
                            _ => Ok(()),
                        };
                        match verdict {
                            Ok(()) => {
                                return Ok(format!(
                                    "{} signed by {} ({origin})",
                                    statement.predicate_type,
                                    short(key)
                                ));
                            }
                            Err(reason) => reasons.push(format!("{origin}: {reason}")),
                        }
                    }
                    Ok(_) => {}
                    Err(reason) => reasons.push(reason),
                }
            }
            Evidence::Unreadable { origin, reason } => {
                reasons.push(format!("{origin}: {reason}"));
            }
            Evidence::Simple { .. } => {}
        }
    }
    Err(reasons)
}

fn verify_simple<'k>(
    payload: &[u8],
    signature: &str,
    digest: &Digest,
    keys: &'k [PublicKey],
    origin: &str,
) -> std::result::Result<&'k PublicKey, String> {
    let key = verify_blob(payload, signature, keys, origin).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("{origin}: the signed payload is not JSON: {e}"))?;
    let named = value
        .pointer("/critical/image/docker-manifest-digest")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            format!("{origin}: the signed payload has no `critical.image.docker-manifest-digest`")
        })?;
    if named != digest.as_str() {
        return Err(format!(
            "{origin}: the signed payload names {named}, not {digest}"
        ));
    }
    Ok(key)
}

fn verify_statement<'k>(
    envelope: &Envelope,
    digest: &Digest,
    keys: &'k [PublicKey],
    origin: &str,
) -> std::result::Result<(Statement, &'k PublicKey), String> {
    let (statement, verified) =
        Statement::verify(envelope, keys, origin).map_err(|e| e.to_string())?;
    if !statement
        .subject
        .iter()
        .any(|s| s.sha256_hex() == Some(digest.hex()))
    {
        return Err(format!(
            "{origin}: the statement's subjects do not include {digest}"
        ));
    }
    Ok((statement, verified.key()))
}

/// `git+https://github.com/o/r.git` → `https://github.com/o/r`.
fn normalize_repo(uri: &str) -> &str {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let uri = uri.strip_suffix('/').unwrap_or(uri);
    uri.strip_suffix(".git").unwrap_or(uri)
}

/// The (repository, ref) pairs a SLSA provenance (v1 or v0.2) names as its source.
fn sources(predicate: &serde_json::Value) -> Vec<(String, String)> {
    let text = |p: &str| predicate.pointer(p).and_then(|v| v.as_str());
    let mut out = Vec::new();
    if let (Some(repo), Some(r)) = (
        text("/buildDefinition/externalParameters/workflow/repository"),
        text("/buildDefinition/externalParameters/workflow/ref"),
    ) {
        out.push((repo.to_owned(), r.to_owned()));
    }
    let mut uris: Vec<&str> = Vec::new();
    if let Some(deps) = predicate
        .pointer("/buildDefinition/resolvedDependencies")
        .and_then(|v| v.as_array())
    {
        uris.extend(deps.iter().filter_map(|d| d.get("uri")?.as_str()));
    }
    uris.extend(text("/invocation/configSource/uri"));
    if let Some(materials) = predicate.get("materials").and_then(|v| v.as_array()) {
        uris.extend(materials.iter().filter_map(|m| m.get("uri")?.as_str()));
    }
    for uri in uris {
        if let Some((repo, r)) = uri.rsplit_once('@') {
            out.push((repo.to_owned(), r.to_owned()));
        }
    }
    out
}

fn check_provenance(
    predicate: &serde_json::Value,
    config: Option<&ProvenanceConfig>,
) -> std::result::Result<(), String> {
    let Some(config) = config else {
        return Ok(());
    };
    if let Some(want) = &config.builder_id {
        let found = predicate
            .pointer("/runDetails/builder/id")
            .or_else(|| predicate.pointer("/builder/id"))
            .and_then(|v| v.as_str());
        if found != Some(want.as_str()) {
            return Err(format!(
                "its builder.id is `{}`, not `{want}`",
                found.unwrap_or("(none)")
            ));
        }
    }
    if config.source_repository.is_none() && config.source_ref.is_none() {
        return Ok(());
    }
    let found = sources(predicate);
    let matches = |(repo, r): &(String, String)| {
        config
            .source_repository
            .as_deref()
            .is_none_or(|want| normalize_repo(repo) == normalize_repo(want))
            && config.source_ref.as_deref().is_none_or(|want| r == want)
    };
    if found.iter().any(matches) {
        return Ok(());
    }
    let named: Vec<String> = found
        .iter()
        .map(|(repo, r)| format!("{repo}@{r}"))
        .collect();
    Err(format!(
        "its source is {}, not {}@{}",
        if named.is_empty() {
            "not named".to_owned()
        } else {
            named.join(", ")
        },
        config.source_repository.as_deref().unwrap_or("*"),
        config.source_ref.as_deref().unwrap_or("*")
    ))
}
