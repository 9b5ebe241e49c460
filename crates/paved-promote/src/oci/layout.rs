//! OCI image layout directories (`oci:DIR:TAG`): read and write.
//!
//! `oci-layout`, `index.json` (tags are `org.opencontainers.image.ref.name` annotations) and
//! `blobs/sha256/<hex>`. Blobs are written to a temp file and renamed into place, and
//! `index.json` is rewritten atomically, so a crash never leaves a half-written blob or index.
//! Referrers are the manifests listed in `index.json` whose `subject` is the image, as the
//! image-layout spec suggests.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Descriptor, Manifest, ManifestView, OCI_INDEX};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// The tag annotation in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image layout directory.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    /// Serialises read-modify-write of `index.json` within this process.
    index_lock: Mutex<()>,
}

impl Layout {
    /// Open `dir` for reading; it must be a layout.
    pub fn open(dir: &Path) -> Result<Layout> {
        if !dir.join("index.json").is_file() {
            return Err(Error::Input {
                message: format!(
                    "`{}` is not an OCI image layout (no `index.json`)",
                    dir.display()
                ),
                hint: "check the path after `oci:`".into(),
            });
        }
        Ok(Layout {
            dir: dir.to_owned(),
            index_lock: Mutex::new(()),
        })
    }

    /// Open `dir` for writing, creating an empty layout if needed.
    pub fn create(dir: &Path) -> Result<Layout> {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io("create", &blobs, e))?;
        crate::store::remove_stale(&blobs, ".tmp-");
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            paved_core::fs::write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = dir.join("index.json");
        if !index.exists() {
            let empty =
                serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
            paved_core::fs::write_atomic(&index, empty.to_string().as_bytes())?;
        }
        Ok(Layout {
            dir: dir.to_owned(),
            index_lock: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where blob `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    fn index(&self) -> Result<serde_json::Value> {
        let path = self.dir.join("index.json");
        let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::corrupt_layout(&self.dir, &path, format!("not valid JSON: {e}")))
    }

    fn entries(&self) -> Result<Vec<Descriptor>> {
        let index = self.index()?;
        let manifests = index.get("manifests").cloned().unwrap_or_default();
        serde_json::from_value(manifests).map_err(|e| {
            Error::corrupt_layout(
                &self.dir,
                self.dir.join("index.json"),
                format!("invalid `manifests` list: {e}"),
            )
        })
    }

    /// Every tag in `index.json`.
    pub fn tags(&self) -> Result<Vec<String>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter_map(|d| d.annotations.and_then(|mut a| a.remove(REF_NAME)))
            .collect())
    }

    /// The digest tag `tag` points at.
    pub fn resolve(&self, tag: &str) -> Result<Option<Digest>> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|d| {
                d.annotations
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .is_some_and(|t| t == tag)
            })
            .map(|d| d.digest))
    }

    /// Whether the blob (or manifest) exists.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Read manifest `digest`, verifying it.
    pub fn get_manifest(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
    ) -> Result<Option<Manifest>> {
        let path = self.blob_path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let manifest = Manifest::new(bytes, media_type);
        if &manifest.digest != digest {
            return Err(Error::corrupt_layout(
                &self.dir,
                &path,
                format!(
                    "does not match its digest (it hashes to `{}`)",
                    manifest.digest
                ),
            ));
        }
        Ok(Some(manifest))
    }

    /// Write bytes as a blob (atomic, idempotent).
    pub fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        paved_core::fs::write_atomic(&path, bytes)?;
        Ok(())
    }

    /// Move a verified temp file (from [`Layout::temp_path`], so on the same filesystem) into
    /// place as blob `digest`. Only a rename: a blob is either whole at its path or absent, since
    /// a blob already present is trusted and skipped.
    pub fn put_file(&self, digest: &Digest, file: &Path) -> Result<()> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        std::fs::rename(file, &path).map_err(|e| Error::io("write", &path, e))
    }

    /// A temp file inside the layout (same filesystem, so a rename is atomic).
    pub fn temp_path(&self, digest: &Digest) -> PathBuf {
        let mut r = [0u8; 6];
        let _ = getrandom::fill(&mut r);
        let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("blobs").join("sha256").join(format!(
            ".tmp-{}-{}-{suffix}",
            std::process::id(),
            digest.short()
        ))
    }

    /// Record manifest `manifest` in `index.json`, under `tag` if given (moving the tag), or
    /// untagged (a referrer).
    pub fn add_to_index(&self, manifest: &Manifest, tag: Option<&str>) -> Result<()> {
        let _guard = self
            .index_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut index = self.index()?;
        let mut entries = self.entries()?;
        let tag_of = |d: &Descriptor| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .cloned()
        };
        match tag {
            Some(tag) => entries.retain(|d| tag_of(d).as_deref() != Some(tag)),
            None => {
                if entries
                    .iter()
                    .any(|d| d.digest == manifest.digest && tag_of(d).is_none())
                {
                    return Ok(());
                }
            }
        }
        let mut descriptor = manifest.descriptor();
        descriptor.annotations = tag.map(|t| [(REF_NAME.to_owned(), t.to_owned())].into());
        entries.push(descriptor);
        index["manifests"] = serde_json::to_value(&entries).unwrap_or_default();
        let path = self.dir.join("index.json");
        let text = serde_json::to_vec_pretty(&index).unwrap_or_default();
        paved_core::fs::write_atomic(&path, &text)?;
        Ok(())
    }

    /// Manifests in `index.json` whose `subject` is `digest`.
    pub fn referrers(&self, digest: &Digest) -> Result<Vec<Descriptor>> {
        let mut out = Vec::new();
        for entry in self.entries()? {
            let Some(m) = self.get_manifest(&entry.digest, Some(&entry.media_type))? else {
                continue;
            };
            let Ok(view) = ManifestView::parse(&m.bytes) else {
                continue;
            };
            if view.subject.as_ref().is_some_and(|s| &s.digest == digest) {
                let mut d = m.descriptor();
                d.annotations = (!view.annotations.is_empty()).then_some(view.annotations);
                out.push(d);
            }
        }
        Ok(out)
    }
}
