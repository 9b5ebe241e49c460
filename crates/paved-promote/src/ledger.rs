//! The audit ledger: one [`PromotionRecord`] per promotion, stored twice.
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

/// Push `record` to `dst` as a referrer of `subject`.
pub fn push_record(dst: &Store, record: &PromotionRecord, subject: &Manifest) -> Result<Digest> {
    let body = serde_json::to_vec(record).unwrap_or_default();
    let empty = dst.put_small_blob(b"{}")?;
    let layer = dst.put_small_blob(&body)?;
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": PROMOTION_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2, "data": "e30="},
        "layers": [{"mediaType": PROMOTION_ARTIFACT_TYPE, "digest": layer, "size": body.len()}],
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
    records_with_tags(store, digest, None)
}

/// [`registry_records`], with the repository's tags when already listed.
fn records_with_tags(
    store: &Store,
    digest: &Digest,
    tags: Option<&[String]>,
) -> Result<Vec<PromotionRecord>> {
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
        for layer in view
            .layers
            .iter()
            .filter(|l| l.media_type == PROMOTION_ARTIFACT_TYPE)
        {
            let bytes = store.get_blob(&layer.digest)?;
            if let Ok(r) = serde_json::from_slice::<PromotionRecord>(&bytes) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Every record in `store`: each tag's digest, then its records (for rollback without a file).
pub fn scan_repository(store: &Store) -> Result<Vec<PromotionRecord>> {
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

/// Append `record` to the JSON-lines file at `path` (one `write`, then fsync).
pub fn append(path: &Path, record: &PromotionRecord) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let mut line = serde_json::to_vec(record).unwrap_or_default();
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
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::BadFile {
                path: path.to_owned(),
                message: format!("line {}: not a promotion record: {e}", i + 1),
                hint: "the ledger holds one JSON record per line and is only ever appended to: \
                           restore the damaged line from a backup or from version control"
                    .into(),
            })
        })
        .collect()
}
