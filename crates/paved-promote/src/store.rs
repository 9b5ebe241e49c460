//! [`Store`]: one repository, in a registry or an image layout, behind the few operations a copy
//! needs; and [`Session`], which shares one HTTP client and one [`Registry`] per host, so that
//! two repositories on one registry are recognised as such (and can mount).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use paved_core::http::Client;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::layout::Layout;
use crate::oci::registry::{PutOutcome, Registry, Repo};
use crate::oci::{Descriptor, Manifest};
use crate::reference::{Location, Reference};

/// Shared clients for one run.
#[derive(Debug)]
pub struct Session {
    http: Client,
    plain_http: Vec<String>,
    /// The registry the command writes to (see [`crate::oci::auth`]).
    home: Mutex<Option<String>>,
    registries: Mutex<HashMap<String, Arc<Registry>>>,
    layouts: Mutex<HashMap<PathBuf, Arc<Layout>>>,
}

impl Session {
    /// A session over `http`; `plain_http` lists non-loopback hosts reached over plain HTTP.
    pub fn new(http: Client, plain_http: Vec<String>) -> Session {
        Session {
            http,
            plain_http,
            home: Mutex::new(None),
            registries: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
        }
    }

    /// Name the registry the command writes to: the generic `PAVED_REGISTRY_USERNAME`/
    /// `_PASSWORD` pair belongs to it (unless `PAVED_REGISTRY_HOST` names another). Call it
    /// before the first [`Session::store`]; a layout is no registry and names none.
    pub fn set_home(&self, location: &Location) {
        if let Location::Registry { registry, .. } = location {
            *self
                .home
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(registry.clone());
        }
    }

    /// The store for `location`; a layout is created when `create` is set.
    pub fn store(&self, location: &Location, create: bool) -> Result<Store> {
        match location {
            Location::Registry {
                registry,
                repository,
            } => {
                let mut map = self
                    .registries
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let home = self
                    .home
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let reg = map.entry(registry.clone()).or_insert_with(|| {
                    Arc::new(Registry::new(
                        self.http.clone(),
                        registry,
                        &self.plain_http,
                        home.as_deref(),
                    ))
                });
                Ok(Store::Registry(reg.repo(repository)))
            }
            Location::Layout(dir) => {
                let mut map = self
                    .layouts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(l) = map.get(dir) {
                    return Ok(Store::Layout(Arc::clone(l)));
                }
                let layout = if create {
                    if !dir.exists()
                        && let Some((head, tail)) = dir.to_str().and_then(|d| d.rsplit_once(':'))
                    {
                        // `oci:x:a/b`: `a/b` is no tag, so the text names a directory `x:a/b`;
                        // creating it would hide the typo.
                        return Err(Error::Input {
                            message: format!(
                                "`oci:{}` names a directory that does not exist, and `{tail}` after the last `:` is not a valid tag",
                                dir.display()
                            ),
                            hint: format!(
                                "write a tag of letters, digits, `_`, `.` and `-` (`oci:{head}:v1`), or create the directory `{}` first if that is really its name",
                                dir.display()
                            ),
                        });
                    }
                    Layout::create(dir)?
                } else {
                    Layout::open(dir)?
                };
                let layout = Arc::new(layout);
                map.insert(dir.clone(), Arc::clone(&layout));
                Ok(Store::Layout(layout))
            }
        }
    }
}

/// Where an index entry goes when a manifest is written to a layout.
#[derive(Debug, Clone, Copy)]
pub enum IndexEntry<'a> {
    /// Not listed (children of an index).
    None,
    /// Listed without a tag (referrers, so they can be found).
    Untagged,
    /// Listed under a tag.
    Tag(&'a str),
}

/// One repository.
#[derive(Debug, Clone)]
pub enum Store {
    /// In a registry.
    Registry(Repo),
    /// In an image layout.
    Layout(Arc<Layout>),
}

impl Store {
    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Registry(r) => format!("{}/{}", r.registry().host(), r.name()),
            Store::Layout(l) => format!("oci:{}", l.dir().display()),
        }
    }

    /// The digest `tag` points at.
    pub fn resolve(&self, tag: &str) -> Result<Option<Digest>> {
        match self {
            Store::Registry(r) => r.resolve(tag),
            Store::Layout(l) => l.resolve(tag),
        }
    }

    /// Read a manifest by digest.
    pub fn get_manifest(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
    ) -> Result<Option<Manifest>> {
        match self {
            Store::Registry(r) => r.get_manifest(digest.as_str(), false),
            Store::Layout(l) => l.get_manifest(digest, media_type),
        }
    }

    /// Read the manifest a reference names (digest first, else tag).
    pub fn fetch(&self, reference: &Reference) -> Result<Manifest> {
        let found = match (&reference.digest, &reference.tag, self) {
            (Some(d), _, _) => self.get_manifest(d, None)?,
            (None, Some(tag), Store::Registry(r)) => r.get_manifest(tag, false)?,
            (None, Some(tag), Store::Layout(l)) => match l.resolve(tag)? {
                // The index names the tag, so a missing manifest is a damaged layout, not a
                // missing image.
                Some(d) => Some(l.get_manifest(&d, None)?.ok_or_else(|| {
                    Error::corrupt_layout(
                        l.dir(),
                        l.blob_path(&d),
                        format!("missing, although `index.json` names it for tag `{tag}`"),
                    )
                })?),
                None => None,
            },
            (None, None, _) => {
                return Err(Error::Usage(format!(
                    "`{reference}` names no tag or digest; add `:TAG` or `@sha256:…`"
                )));
            }
        };
        found.ok_or_else(|| Error::NotFound {
            message: format!("`{reference}` does not exist"),
            hint: Some("check the repository, tag and digest".into()),
        })
    }

    /// Whether manifest `digest` exists.
    pub fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        match self {
            Store::Registry(r) => Ok(r.resolve(digest.as_str())?.is_some()),
            Store::Layout(l) => Ok(l.has_blob(digest)),
        }
    }

    /// Write `manifest` (by digest, and in a layout's index as `entry` says).
    pub fn put_manifest(&self, manifest: &Manifest, entry: IndexEntry<'_>) -> Result<PutOutcome> {
        match self {
            Store::Registry(r) => {
                let reference = match entry {
                    IndexEntry::Tag(t) => t.to_owned(),
                    _ => manifest.digest.to_string(),
                };
                r.put_manifest(&reference, manifest)
            }
            Store::Layout(l) => {
                l.put_bytes(&manifest.digest, &manifest.bytes)?;
                match entry {
                    IndexEntry::None => {}
                    IndexEntry::Untagged => l.add_to_index(manifest, None)?,
                    IndexEntry::Tag(t) => l.add_to_index(manifest, Some(t))?,
                }
                Ok(PutOutcome {
                    subject_indexed: true,
                })
            }
        }
    }

    /// Whether blob `digest` exists.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        match self {
            Store::Registry(r) => r.has_blob(digest),
            Store::Layout(l) => Ok(l.has_blob(digest)),
        }
    }

    /// Referrers of `digest`, and whether a referrers API answered.
    pub fn referrers(&self, digest: &Digest) -> Result<(Vec<Descriptor>, bool)> {
        match self {
            Store::Registry(r) => r.referrers(digest),
            Store::Layout(l) => Ok((l.referrers(digest)?, true)),
        }
    }

    /// Read a small blob (a ledger record).
    pub fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        match self {
            Store::Registry(r) => r.get_blob(digest),
            Store::Layout(l) => {
                let path = l.blob_path(digest);
                let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
                if &Digest::of(&bytes) != digest {
                    return Err(Error::corrupt_layout(
                        l.dir(),
                        &path,
                        "does not match its digest",
                    ));
                }
                Ok(bytes)
            }
        }
    }

    /// Write a small blob (a ledger record, the empty config).
    pub fn put_small_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        match self {
            Store::Registry(r) => {
                if !r.has_blob(&digest)? {
                    let tmp = TempDir::new()?;
                    let path = tmp.path().join("blob");
                    std::fs::write(&path, bytes).map_err(|e| Error::io("write", &path, e))?;
                    r.upload(&digest, &path, bytes.len() as u64, None)?;
                }
            }
            Store::Layout(l) => l.put_bytes(&digest, bytes)?,
        }
        Ok(digest)
    }

    /// Tags of the repository.
    pub fn tags(&self) -> Result<Vec<String>> {
        match self {
            Store::Registry(r) => r.tags(),
            Store::Layout(l) => l.tags(),
        }
    }
}

/// A private temp directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Create one under the system temp directory, named after this process
    /// (`paved-promote-<pid>-<random>`), first removing those of processes that are gone (a
    /// run killed while it staged blobs).
    pub fn new() -> Result<TempDir> {
        let base = std::env::temp_dir();
        remove_stale(&base, "paved-promote-");
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let path = base.join(format!("paved-promote-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io("create", &path, e))?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

/// Remove `<prefix><pid>-…` files and dirs under `base` whose process is no longer running
/// (staged blobs of a killed run). Only where `/proc` tells which processes run; elsewhere
/// nothing is removed.
pub(crate) fn remove_stale(base: &std::path::Path, prefix: &str) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
