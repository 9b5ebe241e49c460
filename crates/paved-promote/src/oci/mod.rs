//! The OCI pieces paved-promote needs: media types, descriptors, a read-only view of manifests,
//! the Distribution client ([`registry`]) and the image layout ([`layout`]).
//!
//! Manifests are kept as the exact bytes the source served; [`ManifestView`] only reads fields
//! out of them. Nothing is ever re-serialised, so digests cannot drift.

pub mod auth;
pub mod layout;
pub mod registry;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI empty descriptor's media type (`{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The `Accept` header for manifest reads: every manifest type we copy.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The artifact type (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries); kept as JSON, only printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

/// The fields of a manifest or index that copying needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestView {
    /// `mediaType`, if the document names it.
    pub media_type: Option<String>,
    /// `artifactType`.
    pub artifact_type: Option<String>,
    /// Image config.
    pub config: Option<Descriptor>,
    /// Image layers (or artifact blobs).
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Index children.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The subject of a referrer.
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl ManifestView {
    /// Read `bytes` as a manifest.
    pub fn parse(bytes: &[u8]) -> Result<ManifestView, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not valid JSON: {e}"))
    }

    /// Whether this is an index (children are manifests, not blobs).
    pub fn is_index(&self, media_type: &str) -> bool {
        media_type == OCI_INDEX || media_type == DOCKER_LIST || !self.manifests.is_empty()
    }

    /// Every blob this manifest references (config first, then layers).
    pub fn blobs(&self) -> Vec<Descriptor> {
        self.config.iter().chain(&self.layers).cloned().collect()
    }

    /// The artifact type as the referrers API defines it: `artifactType`, else the config's
    /// media type.
    pub fn effective_artifact_type(&self) -> Option<String> {
        self.artifact_type
            .clone()
            .or_else(|| self.config.as_ref().map(|c| c.media_type.clone()))
    }
}

/// The media type of manifest `bytes`: the `mediaType` field, else what the server said, else
/// OCI image manifest.
pub fn media_type_of(bytes: &[u8], served: Option<&str>) -> String {
    let declared = ManifestView::parse(bytes).ok().and_then(|v| v.media_type);
    declared
        .or_else(|| {
            served
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
                .filter(|s| !s.is_empty() && s != "application/json")
        })
        .unwrap_or_else(|| OCI_MANIFEST.to_owned())
}

/// A manifest as fetched: exact bytes, verified digest, media type.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its digest (sha256 of `bytes`).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The exact bytes.
    pub bytes: Vec<u8>,
}

impl Manifest {
    /// Wrap `bytes`, computing the digest.
    pub fn new(bytes: Vec<u8>, served_type: Option<&str>) -> Manifest {
        Manifest {
            digest: Digest::of(&bytes),
            media_type: media_type_of(&bytes, served_type),
            bytes,
        }
    }

    /// The descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        let view = self.view().unwrap_or_default();
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            artifact_type: view.effective_artifact_type(),
            annotations: (!view.annotations.is_empty()).then_some(view.annotations),
            platform: None,
        }
    }

    /// The parsed view.
    pub fn view(&self) -> Result<ManifestView, String> {
        ManifestView::parse(&self.bytes)
    }
}

/// A referrers index (the referrers API response and the tag-schema fallback share the shape).
pub fn referrers_index(manifests: &[Descriptor]) -> Vec<u8> {
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}
