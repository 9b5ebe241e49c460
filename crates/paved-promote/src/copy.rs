//! The copy engine: plan, transfer blobs in parallel, push manifests children-first, carry the
//! referrers, then (and only then) write the tag.
//!
//! **Ordering is the safety net.** Blobs go first, then child manifests, then the index by
//! digest, then referrers, and the tag last. A copy that fails part-way leaves only unreferenced
//! blobs and untagged manifests behind, never a tag pointing at an incomplete image.
//!
//! **Immutability.** A destination tag that points at another digest is refused before anything
//! moves, and checked again right before the tag `PUT`. The Distribution API has no
//! compare-and-swap for tags, so two promotions can still both pass the check; after the `PUT`
//! the tag is read back, and a promotion that finds another digest there reports a refusal
//! (exit 1). The last writer is the one that reads back its own digest, so the tag always ends
//! on a digest whose promotion succeeded; the narrow window between the re-check and the `PUT`
//! is the one thing the registry API cannot close.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::oci::{Descriptor, Manifest, ManifestView, referrers_index};
use crate::store::{IndexEntry, Store, TempDir};

/// Artifact type of paved's promotion records. They describe one environment, so they are not
/// carried along when an image is copied to the next one.
pub const PROMOTION_ARTIFACT_TYPE: &str = "application/vnd.paved.promotion.v1+json";

/// The tags cosign (and tools following it) give a signed image's artifacts: `sha256-<hex>`
/// plus one of these. They travel with the image.
pub const COSIGN_TAG_SUFFIXES: [&str; 3] = [".sig", ".att", ".sbom"];

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Parallel blob transfers.
    pub jobs: usize,
    /// Plan only.
    pub dry_run: bool,
    /// Carry referrers (signatures, SBOMs, attestations), recursively.
    pub referrers: bool,
    /// Upload in chunks of this many bytes instead of one request per blob.
    pub chunk_size: Option<u64>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            jobs: 4,
            dry_run: false,
            referrers: true,
            chunk_size: None,
        }
    }
}

/// What the tag write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagOutcome {
    /// No destination tag was asked for.
    None,
    /// The tag was created.
    Created,
    /// The tag already pointed at this digest.
    Unchanged,
    /// Dry run: the tag would be created.
    WouldCreate,
}

/// The result of a copy.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// Source, as given.
    pub source: String,
    /// Destination repository (and tag).
    pub destination: String,
    /// The digest copied (the same at both ends).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Manifests in the image and its referrers.
    pub manifests: usize,
    /// Manifests pushed (the rest existed).
    pub manifests_pushed: usize,
    /// Distinct blobs.
    pub blobs: usize,
    /// Blobs uploaded.
    pub blobs_uploaded: usize,
    /// Blobs mounted from the source repository.
    pub blobs_mounted: usize,
    /// Blobs that already existed.
    pub blobs_skipped: usize,
    /// Blob bytes uploaded.
    pub bytes_uploaded: u64,
    /// Referrers carried along.
    pub referrers: Vec<Descriptor>,
    /// cosign tag-scheme artifacts (`sha256-<hex>.sig`, `.att`, `.sbom`) carried along.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cosign_tags: Vec<String>,
    /// The tag write.
    pub tag: TagOutcome,
    /// Plan only.
    pub dry_run: bool,
    /// The plan, one line per step (dry run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
}

/// Everything to copy, in push order.
#[derive(Debug, Default)]
struct Plan {
    /// Manifests, children before parents, subjects before referrers.
    manifests: Vec<(Manifest, IndexEntry<'static>)>,
    /// Distinct blobs.
    blobs: Vec<Descriptor>,
    /// (subject, referrer) pairs.
    referrers: Vec<(Digest, Descriptor)>,
    /// cosign tag-scheme artifacts: (tag, manifest digest).
    tagged: Vec<(String, Digest)>,
    /// How many of `manifests` and `blobs` are the image itself (the rest are referrers').
    image_manifests: usize,
    image_blobs: usize,
}

impl Plan {
    fn build(src: &Store, root: &Manifest, opts: &CopyOptions) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut seen_manifests = HashSet::new();
        let mut seen_blobs = HashSet::new();
        plan.visit(
            src,
            root.clone(),
            IndexEntry::None,
            &mut seen_manifests,
            &mut seen_blobs,
        )?;
        plan.image_manifests = plan.manifests.len();
        plan.image_blobs = plan.blobs.len();
        if opts.referrers {
            let subjects: Vec<Digest> = plan
                .manifests
                .iter()
                .map(|(m, _)| m.digest.clone())
                .collect();
            for subject in subjects {
                for suffix in COSIGN_TAG_SUFFIXES {
                    let tag = format!("{}{suffix}", subject.fallback_tag());
                    let Some(d) = src.resolve(&tag)? else {
                        continue;
                    };
                    let Some(m) = src.get_manifest(&d, None)? else {
                        continue;
                    };
                    plan.tagged.push((tag, d));
                    plan.visit(
                        src,
                        m,
                        IndexEntry::None,
                        &mut seen_manifests,
                        &mut seen_blobs,
                    )?;
                }
            }
        }
        if opts.referrers {
            let mut queue: Vec<Digest> = plan
                .manifests
                .iter()
                .map(|(m, _)| m.digest.clone())
                .collect();
            let mut asked = HashSet::new();
            while let Some(subject) = queue.pop() {
                if !asked.insert(subject.clone()) {
                    continue;
                }
                let (list, _) = src.referrers(&subject)?;
                for d in list {
                    if d.artifact_type.as_deref() == Some(PROMOTION_ARTIFACT_TYPE)
                        || seen_manifests.contains(&d.digest)
                    {
                        continue;
                    }
                    let Some(m) = src.get_manifest(&d.digest, Some(&d.media_type))? else {
                        continue;
                    };
                    plan.referrers.push((subject.clone(), m.descriptor()));
                    queue.push(m.digest.clone());
                    plan.visit(
                        src,
                        m,
                        IndexEntry::Untagged,
                        &mut seen_manifests,
                        &mut seen_blobs,
                    )?;
                }
            }
        }
        Ok(plan)
    }

    fn visit(
        &mut self,
        src: &Store,
        manifest: Manifest,
        entry: IndexEntry<'static>,
        seen_manifests: &mut HashSet<Digest>,
        seen_blobs: &mut HashSet<Digest>,
    ) -> Result<()> {
        if !seen_manifests.insert(manifest.digest.clone()) {
            return Ok(());
        }
        let view = manifest.view().map_err(|e| {
            Error::registry(
                format!("manifest `{}` of {}: {e}", manifest.digest, src.describe()),
                None,
            )
        })?;
        if view.is_index(&manifest.media_type) {
            for child in &view.manifests {
                let Some(m) = src.get_manifest(&child.digest, Some(&child.media_type))? else {
                    return Err(Error::NotFound {
                        message: format!(
                            "index `{}` in {} lists `{}`, which the source does not have",
                            manifest.digest,
                            src.describe(),
                            child.digest
                        ),
                        hint: Some("the source image is incomplete; copy it whole (e.g. `skopeo copy --all`) before promoting".into()),
                    });
                };
                self.visit(src, m, IndexEntry::None, seen_manifests, seen_blobs)?;
            }
        }
        for blob in view.blobs() {
            if seen_blobs.insert(blob.digest.clone()) {
                self.blobs.push(blob);
            }
        }
        self.manifests.push((manifest, entry));
        Ok(())
    }
}

/// Refuse when `tag` in `dst` points at another digest; `true` when it already points at ours.
pub fn check_tag(dst: &Store, tag: &str, digest: &Digest) -> Result<bool> {
    match dst.resolve(tag)? {
        None => Ok(false),
        Some(d) if &d == digest => Ok(true),
        Some(other) => Err(Error::Refused {
            message: format!(
                "`{}:{tag}` already points at `{other}`; refusing to move it to `{digest}` (tags are immutable)",
                dst.describe()
            ),
            hint: Some("promote under a new tag (e.g. the next version), or copy by digest".into()),
        }),
    }
}

/// Copy `root` (already fetched from `src`) to `dst`, tagging it `tag` if given.
pub fn copy(
    src: &Store,
    source_name: &str,
    root: &Manifest,
    dst: &Store,
    tag: Option<&str>,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let destination = match tag {
        Some(t) => format!("{}:{t}", dst.describe()),
        None => format!("{}@{}", dst.describe(), root.digest),
    };
    let mut report = CopyReport {
        source: source_name.to_owned(),
        destination,
        digest: root.digest.clone(),
        media_type: root.media_type.clone(),
        manifests: 0,
        manifests_pushed: 0,
        blobs: 0,
        blobs_uploaded: 0,
        blobs_mounted: 0,
        blobs_skipped: 0,
        bytes_uploaded: 0,
        referrers: Vec::new(),
        cosign_tags: Vec::new(),
        tag: TagOutcome::None,
        dry_run: opts.dry_run,
        plan: Vec::new(),
    };
    let already_tagged = match tag {
        Some(tag) => check_tag(dst, tag, &root.digest)?,
        None => false,
    };
    if already_tagged {
        // Same digest already there: only referrers that appeared since can be missing.
        report.tag = TagOutcome::Unchanged;
        if !opts.referrers || opts.dry_run {
            return Ok(report);
        }
    }
    let mut plan = Plan::build(src, root, opts)?;
    if already_tagged {
        plan.manifests.drain(..plan.image_manifests);
        plan.blobs.drain(..plan.image_blobs);
    }
    report.manifests = plan.manifests.len();
    report.blobs = plan.blobs.len();
    report.referrers = plan.referrers.iter().map(|(_, d)| d.clone()).collect();
    report.cosign_tags = plan.tagged.iter().map(|(t, _)| t.clone()).collect();

    if opts.dry_run {
        for b in &plan.blobs {
            let action = if dst.has_blob(&b.digest)? {
                report.blobs_skipped += 1;
                "exists, skip"
            } else if same_registry(src, dst) {
                "mount (upload if refused)"
            } else {
                "upload"
            };
            report.plan.push(format!(
                "blob {} ({}): {action}",
                b.digest,
                human_bytes(b.size)
            ));
        }
        for (m, _) in &plan.manifests {
            let action = if dst.has_manifest(&m.digest)? {
                "exists"
            } else {
                "push"
            };
            report.plan.push(format!(
                "manifest {} ({}): {action}",
                m.digest, m.media_type
            ));
        }
        if let Some(tag) = tag {
            report
                .plan
                .push(format!("tag {tag} -> {}: create", root.digest));
            report.tag = TagOutcome::WouldCreate;
        }
        return Ok(report);
    }

    let stats = transfer_blobs(src, dst, &plan.blobs, opts)?;
    report.blobs_uploaded = stats.uploaded;
    report.blobs_mounted = stats.mounted;
    report.blobs_skipped = stats.skipped;
    report.bytes_uploaded = stats.bytes;

    let mut fallback: BTreeMap<Digest, Vec<Descriptor>> = BTreeMap::new();
    let referrer_of: BTreeMap<&Digest, &Digest> =
        plan.referrers.iter().map(|(s, d)| (&d.digest, s)).collect();
    for (m, entry) in &plan.manifests {
        if dst.has_manifest(&m.digest)? {
            continue;
        }
        let outcome = dst.put_manifest(m, *entry)?;
        report.manifests_pushed += 1;
        if let Some(subject) = referrer_of.get(&m.digest)
            && !outcome.subject_indexed
        {
            fallback
                .entry((*subject).clone())
                .or_default()
                .push(m.descriptor());
        }
    }
    for (subject, added) in fallback {
        add_to_fallback_index(dst, &subject, &added)?;
    }
    for (tag, digest) in &plan.tagged {
        let Some((m, _)) = plan.manifests.iter().find(|(m, _)| &m.digest == digest) else {
            continue;
        };
        match dst.resolve(tag)? {
            Some(d) if &d == digest => {}
            // cosign appends to these tags in place; one the destination has of its own (signed
            // there after an earlier promotion) is kept rather than replaced.
            Some(other) => paved_core::cli::warn(&format!(
                "`{}:{tag}` is `{other}` and the source's is `{digest}`; kept the destination's",
                dst.describe()
            )),
            None => {
                dst.put_manifest(m, IndexEntry::Tag(tag))?;
            }
        }
    }

    if let Some(tag) = tag
        && !already_tagged
    {
        report.tag = write_tag(dst, tag, root)?;
    }
    Ok(report)
}

/// Write `tag` -> `root` with the immutability re-check and read-back described in the module docs.
pub fn write_tag(dst: &Store, tag: &str, root: &Manifest) -> Result<TagOutcome> {
    if check_tag(dst, tag, &root.digest)? {
        return Ok(TagOutcome::Unchanged);
    }
    dst.put_manifest(root, IndexEntry::Tag(tag))?;
    match dst.resolve(tag)? {
        Some(d) if d == root.digest => Ok(TagOutcome::Created),
        Some(other) => Err(Error::Refused {
            message: format!(
                "another promotion moved `{}:{tag}` to `{other}` while this one wrote `{}`; this promotion is refused",
                dst.describe(),
                root.digest
            ),
            hint: Some(
                "two promotions raced for one tag; the other one won. Promote under another tag"
                    .into(),
            ),
        }),
        None => Err(Error::registry(
            format!(
                "`{}:{tag}` was written but cannot be read back",
                dst.describe()
            ),
            Some("check the registry; re-run the promotion (it is idempotent)"),
        )),
    }
}

/// How many times the `sha256-<hex>` index is re-read and re-written before giving up.
const FALLBACK_ATTEMPTS: u32 = 12;

/// A random pause of `base` to `2 * base` milliseconds, so that writers racing for one index
/// drift apart.
fn jittered_pause(base_ms: u64) {
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let extra = u64::from(u16::from_le_bytes(r)) % base_ms.max(1);
    std::thread::sleep(std::time::Duration::from_millis(base_ms + extra));
}

fn read_fallback_index(dst: &Store, tag: &str) -> Result<Vec<Descriptor>> {
    Ok(match dst.resolve(tag)? {
        Some(d) => dst
            .get_manifest(&d, None)?
            .and_then(|m| ManifestView::parse(&m.bytes).ok())
            .map(|v| v.manifests)
            .unwrap_or_default(),
        None => Vec::new(),
    })
}

/// Add referrers to the `sha256-<hex>` tag-schema index in `dst`.
///
/// The tag is one shared document and the Distribution API has no compare-and-swap, so two
/// writers can each read the old list and the second `PUT` drops the first one's entry. So the
/// index is read, merged and written, then read back until it holds every entry added here;
/// after a write that reads back right, it is read once more after a pause (a writer that read
/// before our `PUT` may still be about to overwrite it), and merged again if an entry is gone.
pub fn add_to_fallback_index(dst: &Store, subject: &Digest, added: &[Descriptor]) -> Result<()> {
    let Store::Registry(_) = dst else {
        return Ok(());
    };
    let tag = subject.fallback_tag();
    let mut wrote = false;
    let mut settled = false;
    for _ in 0..FALLBACK_ATTEMPTS {
        let mut list = read_fallback_index(dst, &tag)?;
        let missing: Vec<&Descriptor> = added
            .iter()
            .filter(|d| !list.iter().any(|x| x.digest == d.digest))
            .collect();
        if missing.is_empty() {
            if !wrote || settled {
                return Ok(());
            }
            settled = true;
            jittered_pause(100);
            continue;
        }
        if wrote {
            // Another writer overwrote our entries: drift apart before writing again.
            jittered_pause(20);
            list = read_fallback_index(dst, &tag)?;
        }
        settled = false;
        for d in added {
            if !list.iter().any(|x| x.digest == d.digest) {
                list.push(d.clone());
            }
        }
        let index = Manifest::new(referrers_index(&list), Some(crate::oci::OCI_INDEX));
        dst.put_manifest(&index, IndexEntry::Tag(&tag))?;
        wrote = true;
    }
    Err(Error::registry(
        format!(
            "the referrers index `{}:{tag}` kept losing entries to other writers ({FALLBACK_ATTEMPTS} attempts)",
            dst.describe()
        ),
        Some(
            "many promotions of this image are running at once; re-run this one (it is idempotent)",
        ),
    ))
}

fn same_registry(src: &Store, dst: &Store) -> bool {
    match (src, dst) {
        (Store::Registry(a), Store::Registry(b)) => {
            Arc::ptr_eq(a.registry(), b.registry()) && a.name() != b.name()
        }
        _ => false,
    }
}

#[derive(Debug, Default)]
struct BlobStats {
    uploaded: usize,
    mounted: usize,
    skipped: usize,
    bytes: u64,
}

enum Moved {
    Skipped,
    Mounted,
    Uploaded(u64),
}

fn transfer_blobs(
    src: &Store,
    dst: &Store,
    blobs: &[Descriptor],
    opts: &CopyOptions,
) -> Result<BlobStats> {
    let temp = TempDir::new()?;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done_bytes = AtomicU64::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Moved>>> = Mutex::new(Vec::new());
    let progress = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    let jobs = opts.jobs.clamp(1, 32).min(blobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(blob) = blobs.get(i) else { break };
                    let r = move_blob(src, dst, blob, temp.path(), opts);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let bytes = done_bytes.fetch_add(blob.size, Ordering::Relaxed) + blob.size;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if progress {
                        eprint!(
                            "\r  blobs {n}/{} ({} of {})   ",
                            blobs.len(),
                            human_bytes(bytes),
                            human_bytes(total)
                        );
                    }
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(r);
                }
            });
        }
    });
    if progress && !blobs.is_empty() {
        eprintln!();
    }
    let mut stats = BlobStats::default();
    for r in results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        match r? {
            Moved::Skipped => stats.skipped += 1,
            Moved::Mounted => stats.mounted += 1,
            Moved::Uploaded(n) => {
                stats.uploaded += 1;
                stats.bytes += n;
            }
        }
    }
    Ok(stats)
}

fn move_blob(
    src: &Store,
    dst: &Store,
    blob: &Descriptor,
    temp: &std::path::Path,
    opts: &CopyOptions,
) -> Result<Moved> {
    let digest = &blob.digest;
    if dst.has_blob(digest)? {
        return Ok(Moved::Skipped);
    }
    if same_registry(src, dst)
        && let (Store::Registry(s), Store::Registry(d)) = (src, dst)
        && d.mount(digest, s.name())?
    {
        return Ok(Moved::Mounted);
    }
    // Local bytes: the layout's own file, or a verified download into a temp file.
    let (path, _guard) = match src {
        Store::Layout(l) => {
            let p = l.blob_path(digest);
            if !p.is_file() {
                return Err(Error::NotFound {
                    message: format!("blob `{digest}` is missing from {}", src.describe()),
                    hint: Some("the layout is incomplete; re-create it".into()),
                });
            }
            (p, None)
        }
        Store::Registry(r) => {
            let p = match dst {
                Store::Layout(l) => l.temp_path(digest),
                Store::Registry(_) => temp.join(digest.hex()),
            };
            let guard = RemoveOnDrop(p.clone());
            r.download(digest, &p)?;
            (p, Some(guard))
        }
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| Error::io("read", &path, e))?
        .len();
    match dst {
        Store::Registry(d) => {
            if let Err(e) = d.upload(digest, &path, size, opts.chunk_size) {
                // The registry checks the digest of what it received; when it refuses a blob
                // from a local layout, hash the file to tell a damaged file (named, exit 2)
                // from a registry problem.
                if let Store::Layout(l) = src
                    && Digest::of_file(&path).is_ok_and(|got| &got != digest)
                {
                    return Err(Error::corrupt_layout(
                        l.dir(),
                        &path,
                        "does not match its digest",
                    ));
                }
                return Err(e);
            }
        }
        Store::Layout(l) => {
            if let Store::Layout(_) = src {
                let got = Digest::of_file(&path).map_err(|e| Error::io("read", &path, e))?;
                if &got != digest {
                    let layout = match src {
                        Store::Layout(s) => s.dir(),
                        Store::Registry(_) => l.dir(),
                    };
                    return Err(Error::corrupt_layout(
                        layout,
                        &path,
                        "does not match its digest",
                    ));
                }
                let tmp = l.temp_path(digest);
                let _g = RemoveOnDrop(tmp.clone());
                std::fs::copy(&path, &tmp).map_err(|e| Error::io("copy", &tmp, e))?;
                l.put_file(digest, &tmp)?;
            } else {
                l.put_file(digest, &path)?;
            }
        }
    }
    Ok(Moved::Uploaded(size))
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `12.3 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
