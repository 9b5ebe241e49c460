//! The audit ledger: one [`PromotionRecord`] per promotion, stored twice.
//!
//! With a signing key, a record is an in-toto Statement v1 (subject: the image digest;
//! predicateType [`PROMOTION_PREDICATE_TYPE`]; predicate: the record's fields) in a DSSE
//! envelope signed with the promoter's key; without one, the record's JSON as it is. Both forms
//! are read back as a [`Found`] record, which [`Found::verify`] checks against trusted keys.
//!
//! - In the registry, as an OCI artifact (`artifactType`
//!   `application/vnd.paved.promotion.v1+json`) whose `subject` is the promoted image, so the
//!   destination repository itself holds the trail (referrers API, or the `sha256-<hex>` tag
//!   schema on registries without it). Without the referrers API, each record is also tagged
//!   `sha256-<hex>.paved-<record>` (its own tag, written by no one else), so a record survives
//!   even when concurrent writers of the shared `sha256-<hex>` index overwrite one another.
//! - Optionally in a JSON-lines file (`--ledger FILE`): each record is one line written with a
//!   single `write` on a file opened for appending, then fsynced, so concurrent writers on a
//!   local file system never interleave or truncate each other's lines.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use paved_core::sign::{Envelope, IN_TOTO_PAYLOAD_TYPE, PrivateKey, PublicKey, Statement, Subject};
use serde::{Deserialize, Serialize};

use crate::copy::{PROMOTION_ARTIFACT_TYPE, add_to_fallback_index};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::{EMPTY_MEDIA_TYPE, Manifest, ManifestView, OCI_MANIFEST};
use crate::store::{IndexEntry, Store};

/// One promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    /// `promote`, `rollback` or `copy`.
    pub action: String,
    /// The image digest.
    pub digest: String,
    /// Where it came from.
    pub source: String,
    /// Where it went (repository and tag).
    pub destination: String,
    /// The environment, for policy promotions.
    #[serde(default)]
    pub environment: Option<String>,
    /// When (UTC, RFC 3339).
    pub time: String,
    /// Who (CI actor or local user).
    #[serde(default)]
    pub actor: Option<String>,
    /// The CI run.
    #[serde(default)]
    pub run_url: Option<String>,
    /// The policy checks that passed.
    #[serde(default)]
    pub checks: Vec<String>,
}

impl PromotionRecord {
    /// A record stamped now, with the actor and run URL from the CI environment.
    pub fn now(
        action: &str,
        digest: &Digest,
        source: String,
        destination: String,
        environment: Option<String>,
        checks: Vec<String>,
    ) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let actor = env("GITHUB_ACTOR")
            .or_else(|| env("GITLAB_USER_LOGIN"))
            .or_else(|| env("USER"));
        let run_url = match (
            env("GITHUB_SERVER_URL"),
            env("GITHUB_REPOSITORY"),
            env("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => env("CI_JOB_URL").or_else(|| env("CI_PIPELINE_URL")),
        };
        PromotionRecord {
            action: action.to_owned(),
            digest: digest.to_string(),
            source,
            destination,
            environment,
            time: timestamp(SystemTime::now()),
            actor,
            run_url,
            checks,
        }
    }

    /// The record's time.
    pub fn at(&self) -> Option<SystemTime> {
        paved_core::http::parse_rfc3339(&self.time)
    }
}

/// RFC 3339 UTC with milliseconds, so records made in one second still sort in order.
fn timestamp(at: SystemTime) -> String {
    let seconds = paved_core::http::format_utc(at);
    let millis = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    match seconds.strip_suffix('Z') {
        Some(base) => format!("{base}.{millis:03}Z"),
        None => seconds,
    }
}

/// The in-toto predicate type of a signed promotion record.
pub const PROMOTION_PREDICATE_TYPE: &str = "https://paved.dev/promotion/v1";

/// The media type of a layer holding a DSSE envelope (as cosign's attestations use).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// Sign `record` with `key`: an in-toto Statement about the image digest, in a DSSE envelope.
pub fn sign_record(record: &PromotionRecord, key: &PrivateKey) -> Result<Envelope> {
    let name = record
        .destination
        .rsplit_once([':', '@'])
        .map_or(record.destination.as_str(), |(repo, _)| repo);
    let statement = Statement::new(
        vec![Subject::sha256(name, &record.digest)],
        PROMOTION_PREDICATE_TYPE,
        serde_json::to_value(record).unwrap_or_default(),
    );
    statement
        .sign(key)
        .map_err(|e| Error::Core(paved_core::Error::from(e)))
}

/// A record as stored: its fields and, when it was signed, the envelope they were read from
/// (not yet verified).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The record's fields (from the envelope's statement when signed).
    pub record: PromotionRecord,
    /// The envelope, for signed records.
    pub envelope: Option<Envelope>,
    /// Where it was read: `sha256:… in REPO` (the record manifest) or `FILE line N`.
    pub origin: String,
}

impl Found {
    fn from_envelope(envelope: Envelope, origin: String) -> std::result::Result<Found, String> {
        let statement =
            Statement::from_json(&envelope.payload, &origin).map_err(|e| e.to_string())?;
        let record = serde_json::from_value(statement.predicate)
            .map_err(|e| format!("`{origin}`: the predicate is not a promotion record: {e}"))?;
        Ok(Found {
            record,
            envelope: Some(envelope),
            origin,
        })
    }

    /// Check that this record is a promotion of `digest` into `environment` signed by one of
    /// `trusted`: the envelope verifies, the statement is a promotion record about `digest`, and
    /// the record names `digest` and `environment`. Returns the key that verified, or the
    /// reason it is not to be trusted.
    pub fn verify<'k>(
        &self,
        trusted: &'k [PublicKey],
        digest: &Digest,
        environment: &str,
    ) -> std::result::Result<&'k PublicKey, String> {
        let Some(envelope) = &self.envelope else {
            return Err("it is unsigned".into());
        };
        let (statement, verified) =
            Statement::verify(envelope, trusted, &self.origin).map_err(|e| e.to_string())?;
        if statement.predicate_type != PROMOTION_PREDICATE_TYPE {
            return Err(format!(
                "its predicate type is `{}`, not `{PROMOTION_PREDICATE_TYPE}`",
                statement.predicate_type
            ));
        }
        if !statement
            .subject
            .iter()
            .any(|s| s.sha256_hex() == Some(digest.hex()))
        {
            let about: Vec<String> = statement
                .subject
                .iter()
                .filter_map(|s| s.sha256_hex().map(|h| format!("sha256:{h}")))
                .collect();
            return Err(format!(
                "its statement is about {}, not {digest}",
                about.join(", ")
            ));
        }
        let record: PromotionRecord = serde_json::from_value(statement.predicate)
            .map_err(|e| format!("the predicate is not a promotion record: {e}"))?;
        if record.digest != digest.as_str() {
            return Err(format!(
                "the signed record names {}, not {digest}",
                record.digest
            ));
        }
        if record.environment.as_deref() != Some(environment) {
            return Err(format!(
                "the signed record is for environment `{}`, not `{environment}`",
                record.environment.as_deref().unwrap_or("-")
            ));
        }
        Ok(verified.key())
    }
}

/// Push `record` to `dst` as a referrer of `subject`: the envelope when signed, else the
/// record's JSON.
pub fn push_record(
    dst: &Store,
    record: &PromotionRecord,
    envelope: Option<&Envelope>,
    subject: &Manifest,
) -> Result<Digest> {
    let (body, layer_type) = match envelope {
        Some(e) => (e.to_json().into_bytes(), DSSE_MEDIA_TYPE),
        None => (
            serde_json::to_vec(record).unwrap_or_default(),
            PROMOTION_ARTIFACT_TYPE,
        ),
    };
    let empty = dst.put_small_blob(b"{}")?;
    let layer = dst.put_small_blob(&body)?;
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": PROMOTION_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2, "data": "e30="},
        "layers": [{"mediaType": layer_type, "digest": layer, "size": body.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.bytes.len()},
        "annotations": {
            "org.opencontainers.image.created": record.time,
            "dev.paved.promotion.environment": record.environment.clone().unwrap_or_default(),
        },
    });
    let manifest = Manifest::new(
        serde_json::to_vec(&doc).unwrap_or_default(),
        Some(OCI_MANIFEST),
    );
    let outcome = dst.put_manifest(&manifest, IndexEntry::Untagged)?;
    if !outcome.subject_indexed {
        let own = format!(
            "{}{RECORD_TAG_INFIX}{}",
            subject.digest.fallback_tag(),
            &manifest.digest.hex()[..16]
        );
        dst.put_manifest(&manifest, IndexEntry::Tag(&own))?;
        add_to_fallback_index(dst, &subject.digest, &[manifest.descriptor()])?;
    }
    Ok(manifest.digest)
}

/// Between `sha256-<hex>` and the record's digest in a record's own tag.
const RECORD_TAG_INFIX: &str = ".paved-";

/// The records about `digest` that `tags` (of the repository) hold under their own tags.
fn tagged_records(store: &Store, digest: &Digest, tags: &[String]) -> Result<Vec<Digest>> {
    let prefix = format!("{}{RECORD_TAG_INFIX}", digest.fallback_tag());
    let mut out = Vec::new();
    for tag in tags.iter().filter(|t| t.starts_with(&prefix)) {
        if let Some(d) = store.resolve(tag)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// The records stored in `store` about `digest`.
pub fn registry_records(store: &Store, digest: &Digest) -> Result<Vec<PromotionRecord>> {
    Ok(registry_found(store, digest)?
        .into_iter()
        .map(|f| f.record)
        .collect())
}

/// The records stored in `store` about `digest`, with their envelopes.
pub fn registry_found(store: &Store, digest: &Digest) -> Result<Vec<Found>> {
    records_with_tags(store, digest, None)
}

/// [`registry_records`], with the repository's tags when already listed.
fn records_with_tags(
    store: &Store,
    digest: &Digest,
    tags: Option<&[String]>,
) -> Result<Vec<Found>> {
    let (list, from_api) = store.referrers(digest)?;
    let mut manifests: Vec<(Digest, Option<String>)> = list
        .into_iter()
        .filter(|d| d.artifact_type.as_deref() == Some(PROMOTION_ARTIFACT_TYPE))
        .map(|d| (d.digest, Some(d.media_type)))
        .collect();
    if !from_api {
        let listed;
        let tags = match tags {
            Some(t) => t,
            None => {
                listed = store.tags()?;
                &listed
            }
        };
        for d in tagged_records(store, digest, tags)? {
            if !manifests.iter().any(|(x, _)| x == &d) {
                manifests.push((d, None));
            }
        }
    }
    let mut out = Vec::new();
    for (d, media_type) in manifests {
        let Some(m) = store.get_manifest(&d, media_type.as_deref())? else {
            continue;
        };
        let Ok(view) = ManifestView::parse(&m.bytes) else {
            continue;
        };
        if view.artifact_type.as_deref() != Some(PROMOTION_ARTIFACT_TYPE) {
            continue;
        }
        let origin = format!("{d} in {}", store.describe());
        for layer in &view.layers {
            if layer.media_type == PROMOTION_ARTIFACT_TYPE {
                let bytes = store.get_blob(&layer.digest)?;
                if let Ok(record) = serde_json::from_slice::<PromotionRecord>(&bytes) {
                    out.push(Found {
                        record,
                        envelope: None,
                        origin: origin.clone(),
                    });
                }
            } else if layer.media_type == DSSE_MEDIA_TYPE {
                let bytes = store.get_blob(&layer.digest)?;
                match Envelope::from_json(&bytes, &origin)
                    .map_err(|e| e.to_string())
                    .and_then(|e| Found::from_envelope(e, origin.clone()))
                {
                    Ok(found) => out.push(found),
                    Err(reason) => paved_core::cli::warn(&format!(
                        "ignored promotion record {d} in {}: {reason}",
                        store.describe()
                    )),
                }
            }
        }
    }
    Ok(out)
}

/// Every record in `store`: each tag's digest, then its records (for rollback without a file).
pub fn scan_repository(store: &Store) -> Result<Vec<Found>> {
    let tags = store.tags()?;
    let mut digests = Vec::new();
    for tag in &tags {
        if tag.starts_with("sha256-") {
            continue;
        }
        if let Some(d) = store.resolve(tag)?
            && !digests.contains(&d)
        {
            digests.push(d);
        }
    }
    let mut out = Vec::new();
    for d in digests {
        out.extend(records_with_tags(store, &d, Some(&tags))?);
    }
    Ok(out)
}

/// Append `record` to the JSON-lines file at `path` (one `write`, then fsync): its envelope
/// when signed, else its JSON.
pub fn append(path: &Path, record: &PromotionRecord, envelope: Option<&Envelope>) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let mut line = match envelope {
        Some(e) => e.to_json().into_bytes(),
        None => serde_json::to_vec(record).unwrap_or_default(),
    };
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    file.write_all(&line)
        .map_err(|e| Error::io("append to", path, e))?;
    file.sync_all().map_err(|e| Error::io("sync", path, e))
}

/// Read the JSON-lines ledger (missing file: no records). A bad line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<PromotionRecord>> {
    Ok(read_found(path)?.into_iter().map(|f| f.record).collect())
}

/// [`read`], with each signed line's envelope (lines are records or DSSE envelopes).
pub fn read_found(path: &Path) -> Result<Vec<Found>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let bad = |line: usize, message: String| Error::BadFile {
        path: path.to_owned(),
        message: format!("line {line}: {message}"),
        hint: "the ledger holds one JSON record (or DSSE envelope of one) per line and is only \
               ever appended to: restore the damaged line from a backup or from version control"
            .into(),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let origin = format!("{} line {}", path.display(), i + 1);
            let value: serde_json::Value = serde_json::from_str(l)
                .map_err(|e| bad(i + 1, format!("not a promotion record: {e}")))?;
            if value.get("payloadType").is_some() {
                let envelope = Envelope::from_json(l.as_bytes(), &origin)
                    .map_err(|e| bad(i + 1, e.to_string()))?;
                if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
                    return Err(bad(
                        i + 1,
                        format!(
                            "an envelope of payloadType `{}`, not `{IN_TOTO_PAYLOAD_TYPE}`",
                            envelope.payload_type
                        ),
                    ));
                }
                Found::from_envelope(envelope, origin).map_err(|e| bad(i + 1, e))
            } else {
                let record = serde_json::from_value(value)
                    .map_err(|e| bad(i + 1, format!("not a promotion record: {e}")))?;
                Ok(Found {
                    record,
                    envelope: None,
                    origin,
                })
            }
        })
        .collect()
}
