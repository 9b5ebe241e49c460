//! Reading git history through gix, and the few operations that shell out to `git`.
//!
//! Reading (tags, rev-walks, commits, trees) goes through gix: no libgit2 and no subprocess per
//! commit. Only fetching/deepening, pushing and remote look-ups run the `git` binary, because those
//! need the user's credentials and transport configuration exactly as git would use them.
//!
//! Shallow clones are first-class: walks never step past a shallow boundary, and report that they
//! reached one, so callers can deepen or refuse instead of computing from truncated history.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

// gix's tables hash object ids by their leading bytes: no SipHash over 20 random bytes.
use gix::hashtable::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use gix::ObjectId;
use gix::bstr::{BStr, ByteSlice};
use gix::objs::commit::ref_iter::Token;
use gix::objs::{Find, FindExt};

use crate::{Error, Result};

pub use gix::ObjectId as Oid;

/// A map keyed by object id, hashed cheaply (ids are already uniformly random).
pub type OidMap<V> = HashMap<ObjectId, V>;
/// A set of object ids.
pub type OidSet = HashSet<ObjectId>;

/// Size of the decompressed-object cache.
const OBJECT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// An open repository.
#[derive(Debug)]
pub struct Repo {
    repo: gix::Repository,
    shallow: HashSet<ObjectId>,
}

/// A tag pointing (possibly through an annotated tag object) at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// The short name, without `refs/tags/`.
    pub name: String,
    /// The object the ref names: an annotated tag object or a commit.
    pub target: ObjectId,
}

/// A person and a moment, from an author or committer line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signature {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Offset from UTC in seconds.
    pub offset: i32,
}

/// A decoded commit.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    /// The commit id.
    pub id: ObjectId,
    /// Parent ids, first parent first.
    pub parents: Vec<ObjectId>,
    /// The root tree.
    pub tree: ObjectId,
    /// Who wrote the change.
    pub author: Signature,
    /// When it was committed (committer time, seconds since the epoch): the order of history.
    pub commit_time: i64,
    /// The message, decoded with the commit's `encoding` header (UTF-8 when absent), with
    /// invalid bytes replaced by U+FFFD.
    pub message: String,
    /// True when the message had bytes that could not be decoded and were replaced.
    pub lossy: bool,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        crate::conventional::header(&self.message)
    }

    /// The abbreviated id (7 hex digits), as people read it.
    pub fn short_id(&self) -> String {
        self.id.to_hex_with_len(7).to_string()
    }
}

/// The commits of a range, newest first (commit-date order), and whether the walk was cut short
/// by a shallow boundary.
#[derive(Debug, Clone, Default)]
pub struct RangeWalk {
    /// Commits reachable from the tips and not from the hidden commits, newest first.
    pub commits: Vec<ObjectId>,
    /// With [`Repo::range_decoded`]: the decoded commits, in the order of `commits`.
    pub decoded: Vec<CommitInfo>,
    /// A commit in the range had parents missing from this shallow clone.
    pub hit_shallow_boundary: bool,
}

impl Repo {
    /// Find the repository containing `dir`, honouring `GIT_DIR` and friends.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let repo = gix::ThreadSafeRepository::discover_with_environment_overrides(dir)
            .map_err(|e| Error::NotARepo {
                path: dir.to_owned(),
                message: e.to_string(),
            })?
            .to_thread_local();
        let mut me = Repo {
            repo,
            shallow: HashSet::default(),
        };
        me.configure();
        me.load_shallow()?;
        Ok(me)
    }

    /// Re-open the repository from disk, after `git fetch` changed refs, objects or the shallow file.
    pub fn reopen(&mut self) -> Result<()> {
        let dir = self.repo.git_dir().to_owned();
        let repo = gix::open(dir.clone()).map_err(|e| Error::NotARepo {
            path: dir,
            message: e.to_string(),
        })?;
        self.repo = repo;
        self.configure();
        self.load_shallow()
    }

    /// A release range is walked more than once (find the base, then collect the range), so keep
    /// decompressed objects: each commit is inflated once, as in `git log`. Bounded, so a
    /// full-history walk does not grow without limit.
    fn configure(&mut self) {
        self.repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
    }

    fn load_shallow(&mut self) -> Result<()> {
        self.shallow = match self
            .repo
            .shallow_commits()
            .map_err(|e| Error::git("read the shallow file", e))?
        {
            Some(commits) => commits.iter().copied().collect(),
            None => HashSet::default(),
        };
        Ok(())
    }

    /// The working tree, or the git dir of a bare repository. Commands and `paved.toml` are relative to this.
    pub fn root(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.git_dir())
    }

    /// The `.git` directory.
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// True for a shallow clone.
    pub fn is_shallow(&self) -> bool {
        !self.shallow.is_empty()
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<ObjectId> {
        let id = self.repo.head_id().map_err(|e| {
            Error::git(
                "resolve HEAD (is this an empty repository with no commits yet?)",
                e,
            )
        })?;
        Ok(id.detach())
    }

    /// Resolve a revision (`HEAD`, a tag, a branch, a sha, `v1.0.0^`) to the commit it names.
    pub fn resolve(&self, rev: &str) -> Result<ObjectId> {
        let id = self.repo.rev_parse_single(rev).map_err(|_| {
            // gix's own error names its parser's internals (`delegate.traverse(...)`), which
            // tell a user nothing; say what is missing and what to do instead.
            let ancestry = rev.contains('~') || rev.contains('^');
            Error::Usage(if ancestry {
                format!(
                    "revision `{rev}` goes back further than this history: the commit it \
                         names has fewer ancestors{} than it asks for; use a shorter range, or \
                         fetch the full history (`git fetch --unshallow`, `fetch-depth: 0`)",
                    if self.is_shallow() {
                        " in this shallow clone"
                    } else {
                        ""
                    }
                )
            } else {
                format!(
                    "revision `{rev}` does not exist in this repository; check the name, or \
                         fetch it (`git fetch origin {rev}`)"
                )
            })
        })?;
        let obj = id
            .object()
            .map_err(|e| Error::git(format!("read `{rev}`"), e))?;
        let commit = obj
            .peel_to_kind(gix::object::Kind::Commit)
            .map_err(|e| Error::Usage(format!("revision `{rev}` does not name a commit: {e}")))?;
        Ok(commit.id)
    }

    /// Resolve a full or abbreviated commit id, if it names an object here.
    pub fn resolve_prefix(&self, hex: &str) -> Option<ObjectId> {
        let hex = hex.trim();
        if hex.len() < 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.repo.rev_parse_single(hex).ok().map(gix::Id::detach)
    }

    /// Every tag with the object its ref names (an annotated tag object, or a commit).
    /// Peeling is left to [`Repo::peel_to_commit`], so listing 10,000 tags reads no objects.
    pub fn tags(&self) -> Result<Vec<TagInfo>> {
        self.tags_matching(|_| true)
    }

    /// The tags whose short name passes `keep`.
    pub fn tags_matching(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<TagInfo>> {
        let platform = self
            .repo
            .references()
            .map_err(|e| Error::git("list tags", e))?;
        let iter = platform.tags().map_err(|e| Error::git("list tags", e))?;
        let mut out = Vec::new();
        for reference in iter {
            let reference = reference.map_err(|e| Error::git("read a tag", e))?;
            let name = reference.name().shorten().to_str_lossy().into_owned();
            if !keep(&name) {
                continue;
            }
            // A symbolic tag ref is resolved by gix's iterator; one that dangles has no id.
            let Some(id) = reference.try_id() else {
                continue;
            };
            out.push(TagInfo {
                name,
                target: id.detach(),
            });
        }
        Ok(out)
    }

    /// Follow annotated tag objects from `id` to the commit they name. `None` when the chain ends
    /// at a tree or blob, or the object is missing (a tag fetched without its history).
    pub fn peel_to_commit(&self, id: ObjectId) -> Result<Option<ObjectId>> {
        let mut buf = Vec::new();
        let mut current = id;
        for _ in 0..32 {
            let data = match self.repo.objects.try_find(&current, &mut buf) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(None),
                Err(e) => return Err(Error::git(format!("read {current}"), e)),
            };
            match data.kind {
                gix::object::Kind::Commit => return Ok(Some(current)),
                gix::object::Kind::Tag => {
                    let tag = data
                        .decode()
                        .map_err(|e| Error::git(format!("decode tag {current}"), e))?;
                    let gix::objs::ObjectRef::Tag(tag) = tag else {
                        return Ok(None);
                    };
                    current = tag.target();
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The committer time of `id`, or `None` when `id` is not a commit (a tag on a tree or blob).
    pub fn commit_time(&self, id: &ObjectId) -> Result<Option<i64>> {
        let mut buf = Vec::new();
        match self.repo.objects.find(id, &mut buf) {
            Ok(data) if data.kind == gix::object::Kind::Commit => {}
            Ok(_) => return Ok(None),
            Err(e) => return Err(Error::git(format!("read {id}"), e)),
        }
        Ok(Some(self.parents_and_time(id, &mut buf)?.1))
    }

    /// The commit a tag points at, if the tag exists.
    pub fn tag_target(&self, name: &str) -> Result<Option<ObjectId>> {
        if tag_name_problem(name).is_some() {
            // No ref can have this name, so no tag does.
            return Ok(None);
        }
        let full = format!("refs/tags/{name}");
        let found = self
            .repo
            .try_find_reference(full.as_str())
            .map_err(|e| Error::git(format!("read tag `{name}`"), e))?;
        match found {
            None => Ok(None),
            Some(mut r) => {
                let id = r
                    .peel_to_id()
                    .map_err(|e| Error::git(format!("peel tag `{name}`"), e))?;
                Ok(Some(id.detach()))
            }
        }
    }

    /// Parents and commit time of `id`, parsing only the headers. Shallow boundaries have no parents.
    fn parents_and_time(&self, id: &ObjectId, buf: &mut Vec<u8>) -> Result<(Vec<ObjectId>, i64)> {
        let iter = self
            .repo
            .objects
            .find_commit_iter(id, buf)
            .map_err(|e| Error::git(format!("read commit {id}"), e))?;
        let mut parents = Vec::new();
        let mut time = 0;
        for token in iter {
            match token.map_err(|e| Error::git(format!("decode commit {id}"), e))? {
                Token::Parent { id } => parents.push(id),
                Token::Committer { signature } => {
                    time = signature.seconds();
                    break;
                }
                _ => {}
            }
        }
        if self.shallow.contains(id) {
            parents.clear();
        }
        Ok((parents, time))
    }

    /// True when `id` is a shallow boundary: its parents are not in this clone.
    pub fn is_boundary(&self, id: &ObjectId) -> bool {
        self.shallow.contains(id)
    }

    /// Decode one commit fully.
    pub fn commit(&self, id: ObjectId) -> Result<CommitInfo> {
        self.commit_with(id, &mut Vec::new())
    }

    fn commit_with(&self, id: ObjectId, buf: &mut Vec<u8>) -> Result<CommitInfo> {
        let iter = self
            .repo
            .objects
            .find_commit_iter(&id, buf)
            .map_err(|e| Error::git(format!("read commit {id}"), e))?;
        let mut parents = Vec::new();
        let mut tree = None;
        let mut author = None;
        let mut commit_time = None;
        let mut encoding = None;
        let mut raw_message: &BStr = b"".as_bstr();
        for token in iter {
            match token.map_err(|e| Error::git(format!("decode commit {id}"), e))? {
                Token::Tree { id } => tree = Some(id),
                Token::Parent { id } => parents.push(id),
                Token::Author { signature } => author = Some(to_signature(signature)),
                Token::Committer { signature } => commit_time = Some(signature.seconds()),
                Token::Encoding(e) => encoding = Some(e),
                Token::Message(m) => raw_message = m,
                Token::ExtraHeader(_) => {}
            }
        }
        let (message, lossy) = decode_message(raw_message, encoding);
        let missing = || Error::git(format!("decode commit {id}"), "missing header");
        Ok(CommitInfo {
            id,
            parents,
            tree: tree.ok_or_else(missing)?,
            author: author.ok_or_else(missing)?,
            commit_time: commit_time.ok_or_else(missing)?,
            message,
            lossy,
        })
    }

    /// A commit-date-ordered walk from `tips`, newest first; see [`DateWalk`].
    pub fn date_walk(&self, tips: &[ObjectId]) -> Result<DateWalk<'_>> {
        let mut walk = DateWalk {
            repo: self,
            queue: BinaryHeap::new(),
            seen: HashSet::default(),
            buf: Vec::new(),
            seq: 0,
            hit_shallow_boundary: false,
        };
        for tip in tips {
            walk.push(*tip)?;
        }
        Ok(walk)
    }

    /// Commits reachable from `tips` but not from `hidden` (`git rev-list tips ^hidden`),
    /// newest first. Walks only as far as needed: it stops once every queued commit is reachable
    /// from `hidden`, after a few extra steps to absorb clock skew.
    pub fn range(&self, tips: &[ObjectId], hidden: &[ObjectId]) -> Result<RangeWalk> {
        self.range_impl(tips, hidden, false)
    }

    /// Like [`Repo::range`], and also decodes every commit of the range while walking it
    /// ([`RangeWalk::decoded`]), so each commit is read and parsed once.
    pub fn range_decoded(&self, tips: &[ObjectId], hidden: &[ObjectId]) -> Result<RangeWalk> {
        self.range_impl(tips, hidden, true)
    }

    fn range_impl(
        &self,
        tips: &[ObjectId],
        hidden: &[ObjectId],
        decode: bool,
    ) -> Result<RangeWalk> {
        const UNINTERESTING: u8 = 1;
        const SLOP: usize = 8;
        let mut flags: HashMap<ObjectId, u8> = HashMap::default();
        let mut queue: BinaryHeap<(i64, Reverse<u64>, ObjectId)> = BinaryHeap::new();
        let mut seq = 0u64;
        let mut buf = Vec::new();
        let mut times: HashMap<ObjectId, (Vec<ObjectId>, i64)> = HashMap::default();
        let mut decoded: HashMap<ObjectId, CommitInfo> = HashMap::default();
        let mut load =
            |id: ObjectId, times: &mut HashMap<ObjectId, (Vec<ObjectId>, i64)>| -> Result<i64> {
                if let Some((_, t)) = times.get(&id) {
                    return Ok(*t);
                }
                let (parents, t) = if decode {
                    let info = self.commit_with(id, &mut buf)?;
                    let parents = if self.shallow.contains(&id) {
                        Vec::new()
                    } else {
                        info.parents.clone()
                    };
                    let t = info.commit_time;
                    decoded.insert(id, info);
                    (parents, t)
                } else {
                    self.parents_and_time(&id, &mut buf)?
                };
                times.insert(id, (parents, t));
                Ok(t)
            };
        for h in hidden {
            if flags.insert(*h, UNINTERESTING).is_none() {
                let t = load(*h, &mut times)?;
                seq += 1;
                queue.push((t, Reverse(seq), *h));
            }
        }
        for tip in tips {
            if !flags.contains_key(tip) {
                flags.insert(*tip, 0);
                let t = load(*tip, &mut times)?;
                seq += 1;
                queue.push((t, Reverse(seq), *tip));
            }
        }
        let mut out = Vec::new();
        let mut hit_boundary_at = Vec::new();
        let mut slop = SLOP;
        while let Some((_, _, id)) = queue.pop() {
            let f = flags[&id];
            let uninteresting = f & UNINTERESTING != 0;
            if !uninteresting {
                out.push(id);
                if self.shallow.contains(&id) {
                    hit_boundary_at.push(id);
                }
            }
            let parents = times[&id].0.clone();
            for p in parents {
                let t = load(p, &mut times)?;
                match flags.get_mut(&p) {
                    Some(pf) => {
                        // Already queued or visited: only the uninteresting mark can still spread.
                        if uninteresting && *pf & UNINTERESTING == 0 {
                            *pf |= UNINTERESTING;
                            seq += 1;
                            queue.push((t, Reverse(seq), p));
                        }
                    }
                    None => {
                        flags.insert(p, if uninteresting { UNINTERESTING } else { 0 });
                        seq += 1;
                        queue.push((t, Reverse(seq), p));
                    }
                }
            }
            let all_hidden = queue.iter().all(|(_, _, q)| flags[q] & UNINTERESTING != 0);
            if all_hidden {
                if slop == 0 {
                    break;
                }
                slop -= 1;
            } else {
                slop = SLOP;
            }
        }
        // With clock skew a commit can be emitted before the hidden side reaches it; drop those.
        out.retain(|id| flags[id] & UNINTERESTING == 0);
        let hit = hit_boundary_at
            .iter()
            .any(|id| flags[id] & UNINTERESTING == 0);
        let decoded = if decode {
            out.iter().filter_map(|id| decoded.remove(id)).collect()
        } else {
            Vec::new()
        };
        Ok(RangeWalk {
            commits: out,
            decoded,
            hit_shallow_boundary: hit,
        })
    }

    /// True when `path` (a directory or file relative to the repository root) differs between the
    /// commit's tree and its first parent's tree (or exists at all, for a root commit).
    ///
    /// Compares the entry ids at `path` instead of diffing whole trees: a few object reads per commit.
    pub fn touches(&self, commit: &CommitInfo, path: &str) -> Result<bool> {
        let path = path.trim_matches('/');
        if path.is_empty() || path == "." {
            return Ok(true);
        }
        let here = self.entry_at(commit.tree, path)?;
        let before = match commit.parents.first() {
            Some(p) if !self.shallow.contains(&commit.id) => {
                let parent = self.commit(*p)?;
                self.entry_at(parent.tree, path)?
            }
            // A root commit (or a shallow boundary, whose parent is absent) adds everything it has.
            _ => None,
        };
        Ok(here != before)
    }

    fn entry_at(&self, tree: ObjectId, path: &str) -> Result<Option<ObjectId>> {
        let mut buf = Vec::new();
        let mut current = tree;
        for component in path.split('/').filter(|c| !c.is_empty()) {
            let tree = self
                .repo
                .objects
                .find_tree(&current, &mut buf)
                .map_err(|e| Error::git(format!("read tree {current}"), e))?;
            match tree
                .entries
                .iter()
                .find(|e| e.filename == component.as_bytes())
            {
                Some(entry) => current = entry.oid.to_owned(),
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// The URL of remote `name` from the repository config, if set.
    pub fn remote_url(&self, name: &str) -> Option<String> {
        let key = format!("remote.{name}.url");
        self.repo
            .config_snapshot()
            .string(key.as_str())
            .map(|v| v.to_str_lossy().into_owned())
    }

    /// The configured committer identity, if any (`user.name`/`user.email`, `GIT_COMMITTER_*`).
    pub fn committer(&self) -> Option<(String, String)> {
        let sig = self.repo.committer()?.ok()?;
        Some((
            sig.name.to_str_lossy().into_owned(),
            sig.email.to_str_lossy().into_owned(),
        ))
    }

    /// Create the annotated tag `name` on `target`. If the tag exists on `target` already this is a
    /// no-op returning `false`; if it exists on another commit it is a refusal.
    pub fn create_annotated_tag(
        &self,
        name: &str,
        target: ObjectId,
        message: &str,
        tagger: (&str, &str),
    ) -> Result<bool> {
        check_tag_name(name, "the release tag to create")?;
        if let Some(existing) = self.tag_target(name)? {
            if existing == target {
                return Ok(false);
            }
            return Err(Error::Refused {
                message: format!(
                    "tag `{name}` already exists on commit {existing}, not on {target}"
                ),
                hint: Some(format!(
                    "a release tag never moves: check whether `{name}` was released from another branch, \
                     or release a different version with `--release-as`"
                )),
            });
        }
        let now = gix::date::Time::now_local_or_utc();
        let mut time_buf = gix::date::parse::TimeBuf::default();
        let sig = gix::actor::SignatureRef {
            name: tagger.0.into(),
            email: tagger.1.into(),
            time: now.to_str(&mut time_buf),
        };
        self.repo
            .tag(
                name,
                target,
                gix::object::Kind::Commit,
                Some(sig),
                message,
                gix::refs::transaction::PreviousValue::MustNotExist,
            )
            .map_err(|e| Error::git(format!("create tag `{name}`"), e))?;
        Ok(true)
    }

    /// Run `git` in this repository and return its stdout.
    pub fn run_git(&self, args: &[&str]) -> Result<String> {
        run_git(self.root(), args)
    }
}

/// A date-ordered walk (newest committer time first), the order `git log` uses by default.
/// Each commit is decoded once, when it is queued. The walk stops at shallow boundaries and
/// records that it met one.
#[derive(Debug)]
pub struct DateWalk<'r> {
    repo: &'r Repo,
    queue: BinaryHeap<Queued>,
    seen: HashSet<ObjectId>,
    buf: Vec<u8>,
    seq: u64,
    /// Set once the walk reached a commit whose parents are missing (shallow clone).
    pub hit_shallow_boundary: bool,
}

#[derive(Debug)]
struct Queued {
    time: i64,
    seq: Reverse<u64>,
    commit: CommitInfo,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl DateWalk<'_> {
    fn push(&mut self, id: ObjectId) -> Result<()> {
        if self.seen.insert(id) {
            let commit = self.repo.commit_with(id, &mut self.buf)?;
            self.seq += 1;
            self.queue.push(Queued {
                time: commit.commit_time,
                seq: Reverse(self.seq),
                commit,
            });
        }
        Ok(())
    }

    /// The newest commit time still queued: no unvisited commit reachable from here is newer,
    /// barring clock skew.
    pub fn frontier_time(&self) -> Option<i64> {
        self.queue.peek().map(|q| q.time)
    }

    /// The next commit, decoded. A shallow boundary's parents are not followed.
    pub fn next_commit(&mut self) -> Result<Option<CommitInfo>> {
        let Some(Queued { commit, .. }) = self.queue.pop() else {
            return Ok(None);
        };
        if self.repo.is_boundary(&commit.id) {
            self.hit_shallow_boundary = true;
        } else {
            for p in &commit.parents {
                self.push(*p)?;
            }
        }
        Ok(Some(commit))
    }
}

fn to_signature(s: gix::actor::SignatureRef<'_>) -> Signature {
    let s = s.trim();
    let time = s.time().unwrap_or_default();
    Signature {
        name: s.name.to_str_lossy().into_owned(),
        email: s.email.to_str_lossy().into_owned(),
        time: time.seconds,
        offset: time.offset,
    }
}

/// Decode a commit message with its `encoding` header; unknown encodings and invalid bytes fall
/// back to lossy UTF-8. Returns the text and whether anything was replaced.
pub fn decode_message(raw: &[u8], encoding: Option<&BStr>) -> (String, bool) {
    if let Some(label) = encoding
        && let Some(enc) = encoding_rs::Encoding::for_label(label.trim())
        && enc != encoding_rs::UTF_8
    {
        let (text, _, had_errors) = enc.decode(raw);
        return (text.into_owned(), had_errors);
    }
    match std::str::from_utf8(raw) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (String::from_utf8_lossy(raw).into_owned(), true),
    }
}

/// Check a remote (a name such as `origin`, or a URL) before it reaches a `git` command line.
///
/// Every call site also puts it after `--end-of-options`; this refuses what could still change
/// git's behaviour or a log line: a leading `-` (`--upload-pack=…`), control characters, and the
/// empty string.
pub fn check_remote(remote: &str) -> Result<&str> {
    let problem = if remote.is_empty() {
        Some("is empty")
    } else if remote.starts_with('-') {
        Some("starts with `-`, so git would read it as an option")
    } else if remote.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match problem {
        None => Ok(remote),
        Some(problem) => Err(Error::Usage(format!(
            "the remote {remote:?} (from --remote, PAVED_REMOTE or `remote` in paved.toml) {problem}; \
             a remote is a name such as `origin` or a URL"
        ))),
    }
}

/// Why `name` is not a valid tag name, by the rules of `git check-ref-format` applied to
/// `refs/tags/<name>`; `None` when git would accept it.
///
/// A tag name comes from a template and a package name in paved.toml or from a flag, and ends
/// up on `git` command lines and in ref files, so it is checked before any of that happens.
pub fn tag_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    // Stricter than git: `refs/tags/-x` is a valid ref, but `-x` on a command line is an option.
    if name.starts_with('-') {
        return Some("starts with `-`, which git commands would read as an option");
    }
    if name.chars().any(|c| c.is_ascii_control()) {
        return Some("contains a control character");
    }
    if name.contains(' ') {
        return Some("contains a space");
    }
    if let Some(c) = name.chars().find(|c| "~^:?*[\\".contains(*c)) {
        return Some(match c {
            '~' => "contains `~`",
            '^' => "contains `^`",
            ':' => "contains `:`",
            '?' => "contains `?`",
            '*' => "contains `*`",
            '[' => "contains `[`",
            _ => "contains `\\`",
        });
    }
    if name.contains("..") {
        return Some("contains `..`");
    }
    if name.contains("@{") {
        return Some("contains `@{`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("has an empty path component (a leading, trailing or doubled `/`)");
    }
    if name.ends_with('.') {
        return Some("ends with `.`");
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return Some("has a path component that starts with `.`");
        }
        if part.ends_with(".lock") {
            return Some("has a path component that ends with `.lock`");
        }
    }
    None
}

/// Check a tag name before it reaches git (see [`tag_name_problem`]); `from` says where the
/// name came from, for the message.
pub fn check_tag_name<'a>(name: &'a str, from: &str) -> Result<&'a str> {
    match tag_name_problem(name) {
        None => Ok(name),
        Some(problem) => Err(Error::Usage(format!(
            "the tag name {name:?} ({from}) {problem}, so git would refuse it \
             (see `git check-ref-format`); choose a tag template and package names without it"
        ))),
    }
}

/// Run `git` in `dir` and return its stdout; a failure names the command and git's own message.
pub fn run_git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| Error::GitCommand {
            args: args.join(" "),
            status: String::new(),
            stderr: format!("could not run git: {e}"),
        })?;
    if !output.status.success() {
        return Err(Error::GitCommand {
            args: args.join(" "),
            status: output
                .status
                .code()
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tag-name rule agrees with the real `git check-ref-format` on hostile names (and is
    /// stricter on a leading `-` only).
    #[test]
    fn tag_names_are_checked_as_git_checks_them() {
        let names = [
            "v1.2.3",
            "api@1.2.3-rc.1+build.5",
            "pkg/v1.0.0",
            "release-2024.01",
            "@",
            "",
            "-x",
            "--upload-pack=touch x",
            "v1..2",
            "a/.hidden",
            ".v1",
            "v1.lock",
            "a.lock/b",
            "v1.",
            "a//b",
            "/v1",
            "v1/",
            "a@{1}",
            "v 1",
            "v1\tx",
            "v1\u{7f}",
            "v~1",
            "v^1",
            "v:1",
            "v?1",
            "v*",
            "v[1",
            "v\\1",
            "caf\u{e9}-1.0.0",
            "x/../../escaped",
            "@{-1}",
            "a@b",
        ];
        for name in names {
            let ours = tag_name_problem(name);
            let git = Command::new("git")
                .args(["check-ref-format", &format!("refs/tags/{name}")])
                .status()
                .expect("git runs");
            if name.starts_with('-') {
                assert!(ours.is_some(), "{name:?}: a leading `-` is refused");
                continue;
            }
            assert_eq!(
                ours.is_none(),
                git.success(),
                "{name:?}: paved says {ours:?}, git check-ref-format says {git}"
            );
        }
    }

    #[test]
    fn decodes_latin1_and_survives_garbage() {
        let (text, lossy) = decode_message(b"fix: caf\xe9", Some(b"ISO-8859-1".as_bstr()));
        assert_eq!((text.as_str(), lossy), ("fix: café", false));
        let (text, lossy) = decode_message(b"fix: \xff\xfe", None);
        assert!(lossy);
        assert!(text.starts_with("fix: "));
        let (text, _) = decode_message(b"feat: x", Some(b"no-such-encoding".as_bstr()));
        assert_eq!(text, "feat: x");
    }
}
