//! Release ranges: which tag a release builds on, and which commits it contains.
//!
//! This is the logic paved-changelog reuses: it finds the base tags for a package, walks the
//! commits since them, and classifies each one exactly once.
//!
//! - The base is the highest semver tag reachable from HEAD that matches the package's tag
//!   template; other tags are ignored. A maintenance branch at 1.4.x gets 1.4.(x+1) even when
//!   2.0.0 exists elsewhere, because 2.0.0 is not reachable from it.
//! - Merge commits' own messages are not counted; the commits they bring in are, once.
//! - Reverts inside the range cancel the commit they revert (and a revert of a revert restores it).
//! - In a shallow clone a walk that reaches the boundary before the answer is known reports
//!   [`Incomplete`] instead of guessing.

use crate::git::{OidMap, OidSet};

use crate::conventional::{self, Classification, Conventional};
use crate::git::{CommitInfo, Oid, Repo, TagInfo};
use crate::semver_rules::{Bump, BumpRules};
use crate::tag::TagTemplate;
use semver::Version;
use serde::Serialize;

use crate::Result;

/// Commits this far (in seconds of committer time) past a candidate tag's commit are walked
/// before deciding the tag is not reachable, to absorb clock skew between machines.
const CLOCK_SKEW_SLOP: i64 = 24 * 60 * 60;

/// A release tag: the tag and the version it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseTag {
    /// Tag name.
    pub name: String,
    /// The version parsed from it.
    pub version: Version,
    /// The commit it points at.
    #[serde(serialize_with = "ser_oid")]
    pub commit: Oid,
}

/// A tag whose name matches the template; not yet peeled to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Tag name.
    pub name: String,
    /// The version parsed from it.
    pub version: Version,
    /// What the ref names (tag object or commit).
    pub target: Oid,
}

/// What one package releases from: its tag template, and the path its commits must touch.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Package name, `None` for the whole repository.
    pub name: Option<String>,
    /// Path relative to the repository root; `None` for the whole repository.
    pub path: Option<String>,
    /// Tag template bound to the package name.
    pub template: TagTemplate,
}

/// The tags a release can build on.
#[derive(Debug, Clone, Default)]
pub struct Bases {
    /// When the walk from HEAD only met single-parent commits: every commit it visited, newest
    /// first. The range down to a base it passed is then a prefix of this, and need not be
    /// walked again.
    pub linear_history: Option<Vec<CommitInfo>>,
    /// The walk reached the root commit (no shallow boundary), so `linear_history` is all of it.
    pub complete: bool,
    /// The highest reachable release tag, pre-releases included: the previous version.
    pub latest: Option<ReleaseTag>,
    /// The highest reachable stable (non-pre-release) tag: what the next version is computed from.
    pub stable: Option<ReleaseTag>,
}

impl Bases {
    /// The commits from HEAD down to `base` (exclusive; `None`: the root), newest first, if the
    /// walk that found the bases already saw exactly those. Takes them out of `self`.
    pub fn take_range(&mut self, base: Option<Oid>) -> Option<Vec<CommitInfo>> {
        let history = self.linear_history.as_ref()?;
        let end = match base {
            Some(c) => history.iter().position(|x| x.id == c)?,
            None if self.complete => history.len(),
            None => return None,
        };
        let mut history = self.linear_history.take()?;
        history.truncate(end);
        Some(history)
    }

    /// Like [`Bases::take_range`] but leaves the history in place (clones the commits).
    pub fn range(&self, base: Option<Oid>) -> Option<Vec<CommitInfo>> {
        let history = self.linear_history.as_ref()?;
        let end = match base {
            Some(c) => history.iter().position(|x| x.id == c)?,
            None if self.complete => history.len(),
            None => return None,
        };
        Some(history[..end].to_vec())
    }
}

/// History was cut off by a shallow clone before the answer was known.
#[derive(Debug, Clone)]
pub struct Incomplete(pub String);

/// Every tag in `tags` that matches `template`, highest version first.
pub fn release_tags(tags: &[TagInfo], template: &TagTemplate) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = tags
        .iter()
        .filter_map(|t| {
            template.parse(&t.name).map(|version| Candidate {
                name: t.name.clone(),
                version,
                target: t.target,
            })
        })
        .collect();
    out.sort_by(|a, b| b.version.cmp(&a.version).then_with(|| a.name.cmp(&b.name)));
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Unknown,
    Reachable,
    Unreachable,
}

/// Find the latest and the latest stable release tags reachable from `head`.
///
/// Candidates are considered highest version first and peeled only when they are the one that
/// decides the answer. History is walked newest first, and only until the deciding candidate's
/// commit is reached, or the walk has gone past its commit time (so it cannot be reached). A
/// repository with 50,000 commits, 100 tags and the latest tag 300 commits back reads one tag
/// object and about 300 commits.
pub fn find_bases(
    repo: &Repo,
    head: Oid,
    candidates: &[Candidate],
) -> Result<Result<Bases, Incomplete>> {
    let mut bases = Bases {
        linear_history: Some(Vec::new()),
        ..Bases::default()
    };
    // Per-candidate state grows only as far as the search looks: `--all` calls this once per
    // release with every older candidate, and must not pay for all of them each time.
    let mut state: Vec<State> = Vec::new();
    // Peeled commit and its committer time; `None` when the tag is not on a commit.
    let mut peeled: Vec<Option<Option<(Oid, i64)>>> = Vec::new();
    // Where the search for the deciding candidate of "latest" (0) and "latest stable" (1)
    // resumes: candidates before it are settled as not deciding (unreachable, or a pre-release
    // for "stable"), and a settled state never changes, so each is passed over once.
    let mut cursor = [0usize; 2];
    let mut visited = OidSet::default();
    let mut walk = repo.date_walk(&[head])?;
    let mut exhausted = false;
    // The deciding candidate for "latest" (any) and "latest stable": the first one, in version
    // order, not yet known to be unreachable.
    let blocking = |state: &mut Vec<State>,
                    peeled: &mut Vec<Option<Option<(Oid, i64)>>>,
                    cursor: &mut [usize; 2],
                    stable_only: bool| {
        let at = &mut cursor[usize::from(stable_only)];
        while *at < candidates.len() {
            let i = *at;
            if state.len() <= i {
                state.resize(i + 1, State::Unknown);
                peeled.resize(i + 1, None);
            }
            if state[i] != State::Unreachable
                && (!stable_only || candidates[i].version.pre.is_empty())
            {
                return Some(i);
            }
            *at += 1;
        }
        None
    };

    loop {
        // Settle: look at the deciding candidates until none changes, then walk one commit.
        loop {
            let mut changed = false;
            for stable_only in [false, true] {
                let Some(i) = blocking(&mut state, &mut peeled, &mut cursor, stable_only) else {
                    continue;
                };
                if state[i] != State::Unknown {
                    continue;
                }
                let info = match peeled[i] {
                    Some(p) => p,
                    None => {
                        let p = match repo.peel_to_commit(candidates[i].target)? {
                            Some(c) => repo.commit_time(&c)?.map(|t| (c, t)),
                            None => None,
                        };
                        peeled[i] = Some(p);
                        p
                    }
                };
                state[i] = match info {
                    // A tag on something that is not a commit is not a release.
                    // In a shallow clone the object may simply be missing: deepen rather than guess.
                    None if repo.is_shallow() => {
                        return Ok(Err(Incomplete(format!(
                            "tag `{}` points at an object this clone lacks",
                            candidates[i].name
                        ))));
                    }
                    None => State::Unreachable,
                    Some((c, _)) if visited.contains(&c) => State::Reachable,
                    Some(_) if exhausted && !walk.hit_shallow_boundary => State::Unreachable,
                    Some((_, t)) => match walk.frontier_time() {
                        Some(frontier) if t > frontier + CLOCK_SKEW_SLOP => State::Unreachable,
                        _ => State::Unknown,
                    },
                };
                changed |= state[i] != State::Unknown;
            }
            if !changed {
                break;
            }
        }

        let mut decide =
            |stable_only| match blocking(&mut state, &mut peeled, &mut cursor, stable_only) {
                None => Some(None),
                Some(i) if state[i] == State::Reachable => Some(Some(i)),
                Some(_) => None,
            };
        let latest = decide(false);
        let stable = decide(true);
        if let (Some(latest), Some(stable)) = (latest, stable) {
            // "No tag" is only certain once the whole history has been walked: in a shallow
            // clone the tag may lie past the boundary, or tags may not have been fetched.
            let missing = latest.is_none() || stable.is_none();
            if !missing || !repo.is_shallow() || exhausted {
                if missing && walk.hit_shallow_boundary {
                    return Ok(Err(Incomplete(
                        "no release tag is reachable within the fetched history".into(),
                    )));
                }
                let tag = |i: usize| {
                    let c = &candidates[i];
                    let commit = peeled[i].flatten().expect("reachable tags are peeled").0;
                    ReleaseTag {
                        name: c.name.clone(),
                        version: c.version.clone(),
                        commit,
                    }
                };
                bases.latest = latest.map(tag);
                bases.stable = stable.map(tag);
                return Ok(Ok(bases));
            }
        }
        if exhausted {
            // Only reachable when a shallow boundary stopped the walk with the answer unknown.
            return Ok(Err(Incomplete(
                "the walk from HEAD reached the shallow boundary before finding the release tag"
                    .into(),
            )));
        }
        match walk.next_commit()? {
            Some(commit) => {
                visited.insert(commit.id);
                let linear = commit.parents.len() <= 1 && !repo.is_boundary(&commit.id);
                match (&mut bases.linear_history, linear) {
                    (Some(history), true) => history.push(commit),
                    (Some(_), false) => bases.linear_history = None,
                    (None, _) => {}
                }
            }
            None => {
                exhausted = true;
                bases.complete = !walk.hit_shallow_boundary;
            }
        }
    }
}

/// One commit of a range, decoded and classified.
#[derive(Debug, Clone)]
pub struct RangeCommit {
    /// The commit.
    pub commit: CommitInfo,
    /// Its classification.
    pub class: Classification,
    /// Set when a later revert in the same range cancels it (or it is such a revert).
    pub cancelled_by: Option<Oid>,
}

impl RangeCommit {
    /// The conventional form, if the message parsed.
    pub fn conventional(&self) -> Option<&Conventional> {
        match &self.class {
            Classification::Conventional(c) => Some(c),
            Classification::Unparsed { .. } => None,
        }
    }
}

/// The commits of one release range, newest first, merges left out, classified once.
#[derive(Debug, Clone, Default)]
pub struct CommitRange {
    /// Non-merge commits that touch the scope's path, newest first.
    pub commits: Vec<RangeCommit>,
    /// Merge commits skipped (their own messages never count).
    pub merges: usize,
}

/// Read and classify the commits reachable from `head` and not from `base`, limited to `path`.
///
/// `known` is the range already decoded (from [`Bases::take_range`]); without it the range is
/// walked.
pub fn collect(
    repo: &Repo,
    head: Oid,
    base: Option<Oid>,
    path: Option<&str>,
    known: Option<Vec<CommitInfo>>,
) -> Result<Result<CommitRange, Incomplete>> {
    let commits = match known {
        Some(commits) => commits,
        None => {
            let hidden: Vec<Oid> = base.into_iter().collect();
            let walk = repo.range_decoded(&[head], &hidden)?;
            if walk.hit_shallow_boundary {
                return Ok(Err(Incomplete(
                    "the commits since the release tag are not all in this shallow clone".into(),
                )));
            }
            walk.decoded
        }
    };
    let mut range = CommitRange::default();
    for commit in commits {
        if commit.parents.len() > 1 {
            range.merges += 1;
            continue;
        }
        if let Some(path) = path
            && !repo.touches(&commit, path)?
        {
            continue;
        }
        let class = conventional::classify(&commit.message);
        range.commits.push(RangeCommit {
            commit,
            class,
            cancelled_by: None,
        });
    }
    cancel_reverts(repo, &mut range.commits);
    Ok(Ok(range))
}

/// Mark reverts that cancel a commit in the same range, and the commits they cancel.
///
/// Commits are processed newest first: a revert that is itself cancelled (by a revert of the
/// revert) has no effect, so `A`, `Revert A`, `Revert "Revert A"` leaves `A` counted.
fn cancel_reverts(repo: &Repo, commits: &mut [RangeCommit]) {
    let index: OidMap<usize> = commits
        .iter()
        .enumerate()
        .map(|(i, c)| (c.commit.id, i))
        .collect();
    for i in 0..commits.len() {
        if commits[i].cancelled_by.is_some() {
            continue;
        }
        let Some(revert) = commits[i].conventional().and_then(|c| c.reverts.clone()) else {
            continue;
        };
        let by_sha = revert.commit.as_deref().and_then(|sha| {
            let full = repo.resolve_prefix(sha)?;
            index.get(&full).copied()
        });
        // Without a sha (`revert: feat: x`), match the most recent older commit with that header.
        let by_header = || {
            let header = revert.header.as_deref()?;
            (i + 1..commits.len()).find(|&j| {
                commits[j].cancelled_by.is_none() && commits[j].commit.summary() == header
            })
        };
        let target = by_sha.or_else(|| {
            if revert.commit.is_none() {
                by_header()
            } else {
                None
            }
        });
        if let Some(j) = target.filter(|&j| j > i && commits[j].cancelled_by.is_none()) {
            let revert_id = commits[i].commit.id;
            commits[j].cancelled_by = Some(revert_id);
            commits[i].cancelled_by = Some(commits[j].commit.id);
        }
    }
}

/// The bump a set of commits causes, and which commits counted.
pub fn bump_of(range: &CommitRange, rules: &BumpRules) -> Bump {
    range
        .commits
        .iter()
        .filter(|c| c.cancelled_by.is_none())
        .map(|c| match c.conventional() {
            Some(conv) => rules.bump_for(conv),
            None => rules.bump_for_unparsed(),
        })
        .max()
        .unwrap_or(Bump::None)
}

fn ser_oid<S: serde::Serializer>(id: &Oid, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}
