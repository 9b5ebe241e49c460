//! `paved-version calibrate`: replay the repository's own releases and find the conventions that
//! reproduce them.
//!
//! At each past release tag, paved computes what it would have proposed from the history up to
//! that tag (the previous release is the highest stable release reachable from it; later tags
//! are hidden), and compares that bump with the one the maintainers released. It does so for
//! every candidate config: each tag scheme the tags use, `zero-feat = minor|patch`, and
//! `default-bump = none|patch`.
//!
//! One walk serves every replay: all commits reachable from any release tag are read and decoded
//! once, and each commit gets the set of tag commits it is an ancestor of (a bit set propagated
//! from children to parents). The range of a release is then the commits whose set holds the
//! release and not its base, and each candidate config is arithmetic over that range's
//! classified commits.
//!
//! Bounded: only the newest `--max-releases` releases of each scheme are replayed (with the one
//! before them as their base), and the bit sets are refused above [`MEMORY_BUDGET`].
//!
//! Not scored: a release that leaves 0.x (`0.y.z` to `1.0.0`), because paved never proposes it
//! (leaving 0.x is `--release-as`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use paved_core::config::{PavedConfig, VersionConfig};
use paved_core::git::{CommitInfo, Oid, Repo};
use paved_core::release::range::{self, CommitRange};
use paved_core::semver_rules::{Bump, BumpRules};
use paved_core::tag::{self, TagTemplate};
use semver::Version;
use serde::Serialize;

use crate::cli::CalibrateArgs;
use crate::error::{Error, Result};

/// How many disagreements the text report lists (`--json` has them all).
const SHOWN_DISAGREEMENTS: usize = 10;
/// How many candidates the text report's table shows (`--json` has them all).
const SHOWN_CANDIDATES: usize = 8;
/// How many commits a disagreement names as the ones that decided it.
const DECIDING_COMMITS: usize = 3;
/// `--max-releases` unless told: the newest releases of each tag scheme that are replayed.
pub const DEFAULT_MAX_RELEASES: u32 = 500;
/// The bytes the per-commit release sets may take (commits x ceil(release commits / 64) x 8):
/// 512 MiB, e.g. a million commits against 4096 release commits.
pub const MEMORY_BUDGET: u64 = 512 * 1024 * 1024;

/// How much of the history calibrate may take on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The newest releases of each tag scheme replayed (`--max-releases`).
    pub max_releases: usize,
    /// Bytes for the per-commit release sets.
    pub memory_budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_releases: DEFAULT_MAX_RELEASES as usize,
            memory_budget: MEMORY_BUDGET,
        }
    }
}

/// The conventions searched: `zero-feat` and `default-bump` (the tag scheme is searched per scope).
const CONVENTIONS: [(Bump, Bump); 4] = [
    (Bump::Minor, Bump::None),
    (Bump::Patch, Bump::None),
    (Bump::Minor, Bump::Patch),
    (Bump::Patch, Bump::Patch),
];

/// One candidate config and how well it reproduces the releases.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The tag template whose tags are the releases.
    pub tag_template: String,
    /// What `feat` does on 0.x.
    pub zero_feat: Bump,
    /// What an unlisted type or a non-conventional commit releases.
    pub default_bump: Bump,
    /// Releases scored.
    pub releases: usize,
    /// Releases whose bump paved reproduces.
    pub agreed: usize,
    /// `agreed / releases`, 0 when nothing was scored.
    pub score: f64,
}

/// A commit that decided what paved proposed.
#[derive(Debug, Clone, Serialize)]
pub struct DecidingCommit {
    /// Full id.
    pub sha: String,
    /// First line of the message.
    pub summary: String,
    /// The bump it causes on its own under the candidate's conventions.
    pub bump: Bump,
}

/// A release whose bump paved would not have proposed.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    /// The release tag.
    pub tag: String,
    /// The release it was computed from (`None`: the first release, from `initial-version`).
    pub previous_tag: Option<String>,
    /// The version it was computed from.
    pub previous_version: Version,
    /// The bump the maintainers released.
    pub released: Bump,
    /// The bump paved proposes.
    pub proposed: Bump,
    /// Commits in the range (merges and other packages' commits excluded).
    pub commits: usize,
    /// The commits with the highest bump of the range (what made paved propose `proposed`).
    pub deciding: Vec<DecidingCommit>,
}

/// A release that was not scored, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The release tag.
    pub tag: String,
    /// Why it is not scored.
    pub reason: String,
}

/// The calibration of one scope (the repository, or one `[[version.package]]`).
#[derive(Debug, Clone, Serialize)]
pub struct ScopeReport {
    /// Package name, `None` for the repository.
    pub package: Option<String>,
    /// Every candidate, best first.
    pub candidates: Vec<Candidate>,
    /// The best candidate.
    pub best: Candidate,
    /// The best candidate's disagreements, oldest release first.
    pub disagreements: Vec<Disagreement>,
    /// Releases of the best tag scheme that were not scored.
    pub skipped: Vec<Skipped>,
}

/// The config that agrees best over every scope.
#[derive(Debug, Clone, Serialize)]
pub struct BestConfig {
    /// `zero-feat`.
    pub zero_feat: Bump,
    /// `default-bump`.
    pub default_bump: Bump,
    /// The tag template of each scope.
    pub tag_templates: Vec<ScopeTemplate>,
    /// Releases scored over every scope.
    pub releases: usize,
    /// Releases reproduced.
    pub agreed: usize,
    /// `agreed / releases`.
    pub score: f64,
}

/// The tag scheme chosen for one scope.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeTemplate {
    /// Package name; `None`: the repository's `tag-template`.
    pub package: Option<String>,
    /// The template.
    pub tag_template: String,
}

/// The whole result of `calibrate`.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// One report per scope.
    pub scopes: Vec<ScopeReport>,
    /// The config to adopt.
    pub best: BestConfig,
    /// Commits read (once) for every replay.
    pub commits_read: usize,
    /// The paved.toml `--write` changed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<PathBuf>,
}

/// What to calibrate: a name, a path its commits must touch, the tag schemes to try.
struct Target {
    package: Option<String>,
    path: Option<String>,
    schemes: Vec<TagTemplate>,
}

/// One release of one tag scheme: the tag, its version and commit.
#[derive(Debug, Clone)]
struct Release {
    name: String,
    version: Version,
    commit: Oid,
}

/// Every commit reachable from a release tag, decoded once, with the tag commits each one is
/// an ancestor of (or equal to).
struct History {
    commits: Vec<CommitInfo>,
    /// Per commit, `words` u64 of bits: bit `b` set when the commit is in the history of the
    /// tag commit numbered `b`.
    contained: Vec<u64>,
    words: usize,
    bit_of: HashMap<Oid, usize>,
    /// Position of each commit in `commits`.
    index: HashMap<Oid, usize>,
}

impl History {
    /// One walk from every tag commit; refused when the release sets would take more than
    /// `limits.memory_budget` bytes.
    /// `window` is the most releases one scheme replays (for the suggestion in the refusal).
    fn read(repo: &Repo, tag_commits: &[Oid], limits: Limits, window: usize) -> Result<History> {
        let walk = repo.range_decoded(tag_commits, &[])?;
        if walk.hit_shallow_boundary || repo.is_shallow() {
            return Err(paved_core::Error::Shallow {
                detail: "calibrate replays every release and needs the whole history".into(),
            }
            .into());
        }
        let commits = walk.decoded;
        let index: HashMap<Oid, usize> =
            commits.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let mut bit_of = HashMap::new();
        for c in tag_commits {
            let next = bit_of.len();
            bit_of.entry(*c).or_insert(next);
        }
        let words = bit_of.len().div_ceil(64).max(1);
        let bytes = (commits.len() as u64)
            .saturating_mul(words as u64)
            .saturating_mul(8);
        if bytes > limits.memory_budget {
            return Err(too_large(
                commits.len(),
                bit_of.len(),
                bytes,
                limits,
                window,
            ));
        }
        let mut contained = vec![0u64; commits.len() * words];
        // Children before parents (Kahn's order over the child counts), so each commit's set is
        // complete before it is passed on to its parents.
        let mut children = vec![0usize; commits.len()];
        for c in &commits {
            for p in &c.parents {
                if let Some(&j) = index.get(p) {
                    children[j] += 1;
                }
            }
        }
        let mut ready: Vec<usize> = (0..commits.len()).filter(|&i| children[i] == 0).collect();
        let mut row = vec![0u64; words];
        while let Some(i) = ready.pop() {
            if let Some(&b) = bit_of.get(&commits[i].id) {
                contained[i * words + b / 64] |= 1 << (b % 64);
            }
            row.copy_from_slice(&contained[i * words..(i + 1) * words]);
            for p in &commits[i].parents {
                let Some(&j) = index.get(p) else { continue };
                for (w, bits) in row.iter().enumerate() {
                    contained[j * words + w] |= bits;
                }
                children[j] -= 1;
                if children[j] == 0 {
                    ready.push(j);
                }
            }
        }
        Ok(History {
            commits,
            contained,
            words,
            bit_of,
            index,
        })
    }

    fn has_bit(&self, commit: usize, b: usize) -> bool {
        self.contained[commit * self.words + b / 64] & (1 << (b % 64)) != 0
    }

    /// Whether `ancestor` is in the history of `tip` (or is it).
    fn reaches(&self, tip: Oid, ancestor: Oid) -> bool {
        let b = self.bit_of[&tip];
        self.index
            .get(&ancestor)
            .is_some_and(|&i| self.has_bit(i, b))
    }

    /// The commits of `tip` that are not in `base`'s history, in walk order (newest first).
    /// Walks back from `tip` and stops at `base`'s history, so it costs the range, not the
    /// whole history.
    fn range(&self, tip: Oid, base: Option<Oid>) -> Vec<CommitInfo> {
        let base_bit = base.map(|b| self.bit_of[&b]);
        let outside = |i: usize| base_bit.is_none_or(|b| !self.has_bit(i, b));
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<usize> = self.index.get(&tip).copied().into_iter().collect();
        let mut found = Vec::new();
        while let Some(i) = todo.pop() {
            if !seen.insert(i) || !outside(i) {
                continue;
            }
            found.push(i);
            todo.extend(
                self.commits[i]
                    .parents
                    .iter()
                    .filter_map(|p| self.index.get(p).copied()),
            );
        }
        found.sort_unstable();
        found.into_iter().map(|i| self.commits[i].clone()).collect()
    }
}

/// The error for a history whose release sets do not fit in the budget, with the way out.
fn too_large(
    commits: usize,
    release_commits: usize,
    bytes: u64,
    limits: Limits,
    window: usize,
) -> Error {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    // The release commits that fit: whole words of 64 per commit.
    let fitting = (limits.memory_budget / 8 / (commits.max(1) as u64)).saturating_mul(64);
    let way_out = if fitting == 0 {
        "even one release does not fit: the history has too many commits for calibrate".to_owned()
    } else {
        // The release commits shrink with the windows (N releases and the one before them per
        // scheme): scale the largest window down to what fits.
        let n = (fitting as usize * window / release_commits.max(1))
            .saturating_sub(1)
            .clamp(1, window.saturating_sub(1).max(1));
        format!(
            "pass `--max-releases N` (now {}) with a lower N, e.g. `--max-releases {n}`, to replay \
             only the newest N releases of each tag scheme",
            limits.max_releases
        )
    };
    Error::Usage(format!(
        "calibrate would need {bytes} bytes ({:.1} MiB) to track which of {release_commits} release \
         tags each of {commits} commits belongs to, more than the memory budget of {} bytes \
         ({:.1} MiB); {way_out}",
        mib(bytes),
        limits.memory_budget,
        mib(limits.memory_budget)
    ))
}

/// The bump that took `from` to `to` (pre-release identifiers of `to` ignored).
fn released_bump(from: &Version, to: &Version) -> Bump {
    if to.major != from.major {
        Bump::Major
    } else if to.minor != from.minor {
        Bump::Minor
    } else if to.patch != from.patch {
        Bump::Patch
    } else {
        Bump::None
    }
}

/// The bump `rules` propose for `range` on top of `base`: on 0.x, what really moves.
fn proposed_bump(range: &CommitRange, rules: &BumpRules, base: &Version) -> Bump {
    match range::bump_of(range, rules) {
        Bump::None => Bump::None,
        b => rules.apply(base, b).1,
    }
}

/// One scored release: its range, classified, and what every convention proposes.
struct Replay {
    release: Release,
    previous: Option<Release>,
    range: CommitRange,
    base: Version,
    released: Bump,
    proposed: [Bump; CONVENTIONS.len()],
}

/// The releases of `template` replayed, and the ones not scored. The first `scored_from`
/// releases are only bases for the others (the window of `--max-releases` starts after them).
fn replay(
    repo: &Repo,
    history: &History,
    releases: &[Release],
    scored_from: usize,
    path: Option<&str>,
    file: &VersionConfig,
) -> Result<(Vec<Replay>, Vec<Skipped>)> {
    let initial = file
        .initial_version
        .clone()
        .unwrap_or(Version::new(0, 0, 0));
    let rules: Vec<BumpRules> = CONVENTIONS
        .iter()
        .map(|(zero_feat, default)| {
            BumpRules::with_overrides(&file.types).with_conventions(*default, *zero_feat)
        })
        .collect();
    let mut replays = Vec::new();
    let mut skipped = Vec::new();
    for release in &releases[scored_from..] {
        // The highest stable release below this one in its history: what paved would have built on.
        let previous = releases
            .iter()
            .filter(|r| r.version.pre.is_empty() && r.version < release.version)
            .filter(|r| history.reaches(release.commit, r.commit))
            .max_by(|a, b| a.version.cmp(&b.version))
            .cloned();
        let base = previous
            .as_ref()
            .map_or_else(|| initial.clone(), |p| p.version.clone());
        let released = released_bump(&base, &release.version);
        if base.major == 0 && release.version.major > 0 {
            let reason = match &previous {
                Some(_) => format!(
                    "leaves 0.x ({base} -> {}): paved never proposes that, it is `--release-as`",
                    release.version
                ),
                None => format!(
                    "is the first release in its history, at {}: a first version of 1.0 or more \
                     is chosen (`--release-as`), not computed",
                    release.version
                ),
            };
            skipped.push(Skipped {
                tag: release.name.clone(),
                reason,
            });
            continue;
        }
        if released == Bump::None {
            skipped.push(Skipped {
                tag: release.name.clone(),
                reason: format!("has the version of its base ({base})"),
            });
            continue;
        }
        let commits = history.range(release.commit, previous.as_ref().map(|p| p.commit));
        let prev_commit = previous.as_ref().map(|p| p.commit);
        let range = match range::collect(repo, release.commit, prev_commit, path, Some(commits))? {
            Ok(r) => r,
            Err(range::Incomplete(detail)) => {
                return Err(paved_core::Error::Shallow { detail }.into());
            }
        };
        let mut proposed = [Bump::None; CONVENTIONS.len()];
        for (p, r) in proposed.iter_mut().zip(&rules) {
            *p = proposed_bump(&range, r, &base);
        }
        replays.push(Replay {
            release: release.clone(),
            previous,
            range,
            base,
            released,
            proposed,
        });
    }
    Ok((replays, skipped))
}

/// The releases a template names, oldest version first.
fn releases_of(template: &TagTemplate, tags: &[(String, Oid)]) -> Vec<Release> {
    let mut out: Vec<Release> = tags
        .iter()
        .filter_map(|(name, commit)| {
            template.parse(name).map(|version| Release {
                name: name.clone(),
                version,
                commit: *commit,
            })
        })
        .collect();
    out.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.name.cmp(&b.name)));
    out
}

/// The scopes to calibrate and the tag schemes each may use.
fn targets(file: &VersionConfig, tag_names: &[&str]) -> Result<Vec<Target>> {
    if file.package.is_empty() {
        let mut schemes: Vec<TagTemplate> = Vec::new();
        if let Some(t) = &file.tag_template {
            schemes.push(TagTemplate::new(t, None)?);
        }
        for s in tag::REPOSITORY_SCHEMES {
            schemes.push(TagTemplate::new(s, None)?);
        }
        // Every other prefix the version-shaped tags use (`cocogitto-1.2.3`, `release-1.2.3`).
        let mut prefixes: Vec<&str> = tag_names
            .iter()
            .filter_map(|n| tag::version_in(n).map(|(p, _)| p))
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        for p in prefixes {
            if let Ok(t) = TagTemplate::new(&format!("{p}{{version}}"), None) {
                schemes.push(t);
            }
        }
        dedup_schemes(&mut schemes);
        return Ok(vec![Target {
            package: None,
            path: None,
            schemes,
        }]);
    }
    file.package
        .iter()
        .map(|p| {
            let mut schemes = Vec::new();
            if let Some(t) = &p.tag {
                schemes.push(TagTemplate::new(t, Some(&p.name))?);
            }
            for s in tag::PACKAGE_SCHEMES {
                schemes.push(TagTemplate::new(s, Some(&p.name))?);
            }
            dedup_schemes(&mut schemes);
            let path = p.path.trim_matches('/');
            Ok(Target {
                package: Some(p.name.clone()),
                path: (!path.is_empty()).then(|| path.to_owned()),
                schemes,
            })
        })
        .collect()
}

fn dedup_schemes(schemes: &mut Vec<TagTemplate>) {
    let mut seen = std::collections::HashSet::new();
    schemes.retain(|t| seen.insert(t.as_str().to_owned()));
}

fn score(agreed: usize, releases: usize) -> f64 {
    if releases == 0 {
        0.0
    } else {
        agreed as f64 / releases as f64
    }
}

/// The commits that decided `proposed`: those whose own bump is the range's highest.
fn deciding(replay: &Replay, rules: &BumpRules) -> Vec<DecidingCommit> {
    let bumps: Vec<(usize, Bump)> = replay
        .range
        .commits
        .iter()
        .enumerate()
        .filter(|(_, c)| c.cancelled_by.is_none())
        .map(|(i, c)| {
            let b = c
                .conventional()
                .map_or_else(|| rules.bump_for_unparsed(), |conv| rules.bump_for(conv));
            (i, b)
        })
        .collect();
    let top = bumps.iter().map(|(_, b)| *b).max().unwrap_or(Bump::None);
    if top == Bump::None {
        return Vec::new();
    }
    bumps
        .iter()
        .filter(|(_, b)| *b == top)
        .take(DECIDING_COMMITS)
        .map(|(i, b)| {
            let c = &replay.range.commits[*i].commit;
            DecidingCommit {
                sha: c.id.to_string(),
                summary: c.summary().to_owned(),
                bump: *b,
            }
        })
        .collect()
}

/// Replay the newest `limits.max_releases` releases of each tag scheme of the repository at
/// `repo` under every candidate config.
pub fn calibrate(repo: &Repo, file: &VersionConfig, limits: Limits) -> Result<Calibration> {
    let all_tags = repo.tags()?;
    let names: Vec<&str> = all_tags.iter().map(|t| t.name.as_str()).collect();
    let targets = targets(file, &names)?;
    // Only tags some scheme names are peeled.
    let mut tags: Vec<(String, Oid)> = Vec::new();
    for t in &all_tags {
        let named = targets
            .iter()
            .any(|s| s.schemes.iter().any(|tpl| tpl.parse(&t.name).is_some()));
        if named && let Some(commit) = repo.peel_to_commit(t.target)? {
            tags.push((t.name.clone(), commit));
        }
    }
    if tags.is_empty() {
        let tried: Vec<String> = targets
            .iter()
            .flat_map(|t| t.schemes.iter().map(|s| format!("`{}`", s.as_str())))
            .collect();
        return Err(Error::Usage(format!(
            "calibrate found no release tag to replay in `{}`: no tag follows {}; tag past \
             releases (or fetch tags: `git fetch --tags`), or set `tag-template` in `[version]` \
             of paved.toml",
            repo.root().display(),
            tried.join(", ")
        )));
    }
    // Per scope and scheme, the window replayed: the newest `max_releases` releases and the one
    // before them, which is only their base.
    let max = limits.max_releases.max(1);
    let mut windows: Vec<Vec<(String, Vec<Release>, usize)>> = Vec::new();
    let mut tag_commits: Vec<Oid> = Vec::new();
    for target in &targets {
        let mut schemes = Vec::new();
        for template in &target.schemes {
            let mut releases = releases_of(template, &tags);
            if releases.is_empty() {
                continue;
            }
            if releases.len() > max {
                paved_core::cli::info(&format!(
                    "calibrate: `{}`: replaying only the newest {max} of {} releases \
                     (`--max-releases`)",
                    template.as_str(),
                    releases.len()
                ));
                releases.drain(..releases.len() - max - 1);
            }
            let scored_from = releases.len().saturating_sub(max);
            tag_commits.extend(releases.iter().map(|r| r.commit));
            schemes.push((template.as_str().to_owned(), releases, scored_from));
        }
        windows.push(schemes);
    }
    tag_commits.sort_unstable();
    tag_commits.dedup();
    let window = windows.iter().flatten().map(|(_, r, _)| r.len()).max();
    let history = History::read(repo, &tag_commits, limits, window.unwrap_or(1))?;

    let rules: Vec<BumpRules> = CONVENTIONS
        .iter()
        .map(|(z, d)| BumpRules::with_overrides(&file.types).with_conventions(*d, *z))
        .collect();
    // Per scope: per scheme, the replays and what was skipped.
    let mut per_scope = Vec::new();
    for (target, window) in targets.iter().zip(&windows) {
        let mut schemes = Vec::new();
        for (template, releases, scored_from) in window {
            let (replays, skipped) = replay(
                repo,
                &history,
                releases,
                *scored_from,
                target.path.as_deref(),
                file,
            )?;
            schemes.push((template.clone(), replays, skipped));
        }
        per_scope.push((target, schemes));
    }

    // The conventions are shared by every scope; each scope keeps the scheme that reproduces
    // the most of its releases under them.
    let mut best_conv = 0;
    let mut best_total = (0usize, 0usize);
    for c in 0..CONVENTIONS.len() {
        let mut total = (0, 0);
        for (_, schemes) in &per_scope {
            // `rev`: on a tie `max_by` keeps the last, and the first scheme tried should win.
            if let Some((agreed, scored)) = schemes
                .iter()
                .rev()
                .map(|(_, replays, _)| {
                    let agreed = replays
                        .iter()
                        .filter(|r| r.proposed[c] == r.released)
                        .count();
                    (agreed, replays.len())
                })
                .max_by(|a, b| {
                    a.0.cmp(&b.0)
                        .then(score(a.0, a.1).total_cmp(&score(b.0, b.1)))
                })
            {
                total.0 += agreed;
                total.1 += scored;
            }
        }
        if c == 0 || total.0 > best_total.0 {
            best_total = total;
            best_conv = c;
        }
    }

    let mut scopes = Vec::new();
    let mut tag_templates = Vec::new();
    for (target, schemes) in &per_scope {
        let mut candidates = Vec::new();
        for (template, replays, _) in schemes {
            for (c, (zero_feat, default_bump)) in CONVENTIONS.iter().enumerate() {
                let agreed = replays
                    .iter()
                    .filter(|r| r.proposed[c] == r.released)
                    .count();
                candidates.push((
                    c,
                    Candidate {
                        tag_template: template.clone(),
                        zero_feat: *zero_feat,
                        default_bump: *default_bump,
                        releases: replays.len(),
                        agreed,
                        score: score(agreed, replays.len()),
                    },
                ));
            }
        }
        // Best first: the chosen conventions, then most releases reproduced, then the ratio;
        // a tie keeps the order schemes and conventions were tried in (defaults first).
        candidates.sort_by(|(ca, a), (cb, b)| {
            (*cb == best_conv)
                .cmp(&(*ca == best_conv))
                .then(b.agreed.cmp(&a.agreed))
                .then(b.score.total_cmp(&a.score))
        });
        let Some((_, best)) = candidates.first().cloned() else {
            continue;
        };
        let (_, replays, skipped) = schemes
            .iter()
            .find(|(t, _, _)| *t == best.tag_template)
            .expect("the best candidate's scheme was replayed");
        let disagreements = replays
            .iter()
            .filter(|r| r.proposed[best_conv] != r.released)
            .map(|r| Disagreement {
                tag: r.release.name.clone(),
                previous_tag: r.previous.as_ref().map(|p| p.name.clone()),
                previous_version: r.base.clone(),
                released: r.released,
                proposed: r.proposed[best_conv],
                commits: r.range.commits.len(),
                deciding: deciding(r, &rules[best_conv]),
            })
            .collect();
        tag_templates.push(ScopeTemplate {
            package: target.package.clone(),
            tag_template: best.tag_template.clone(),
        });
        candidates
            .sort_by(|(_, a), (_, b)| b.agreed.cmp(&a.agreed).then(b.score.total_cmp(&a.score)));
        scopes.push(ScopeReport {
            package: target.package.clone(),
            candidates: candidates.into_iter().map(|(_, c)| c).collect(),
            best,
            disagreements,
            skipped: skipped.clone(),
        });
    }
    if best_total.1 == 0 {
        return Err(Error::Usage(format!(
            "calibrate found release tags in `{}` but none to score: each one leaves 0.x or has \
             its base's version; there is nothing to learn the conventions from yet",
            repo.root().display()
        )));
    }
    let (zero_feat, default_bump) = CONVENTIONS[best_conv];
    Ok(Calibration {
        scopes,
        best: BestConfig {
            zero_feat,
            default_bump,
            tag_templates,
            releases: best_total.1,
            agreed: best_total.0,
            score: score(best_total.0, best_total.1),
        },
        commits_read: history.commits.len(),
        written: None,
    })
}

/// The human report: per scope, the candidates, the best, and its disagreements (capped).
pub fn render(c: &Calibration) -> String {
    let mut s = String::new();
    for scope in &c.scopes {
        if let Some(name) = &scope.package {
            let _ = writeln!(s, "package `{name}`:");
        }
        let width = scope
            .candidates
            .iter()
            .take(SHOWN_CANDIDATES)
            .map(|c| c.tag_template.len())
            .max()
            .unwrap_or(0)
            .max("tag scheme".len());
        let _ = writeln!(
            s,
            "{:<width$}  {:<10} {:<13} agreement",
            "tag scheme", "zero-feat", "default-bump"
        );
        for cand in scope.candidates.iter().take(SHOWN_CANDIDATES) {
            let _ = writeln!(
                s,
                "{:<width$}  {:<10} {:<13} {}/{} ({:.1}%)",
                cand.tag_template,
                cand.zero_feat.to_string(),
                cand.default_bump.to_string(),
                cand.agreed,
                cand.releases,
                cand.score * 100.0
            );
        }
        if scope.candidates.len() > SHOWN_CANDIDATES {
            let _ = writeln!(
                s,
                "and {} more candidates (`--json` lists them all)",
                scope.candidates.len() - SHOWN_CANDIDATES
            );
        }
        let b = &scope.best;
        let _ = writeln!(
            s,
            "\nbest: tag-template = \"{}\", zero-feat = \"{}\", default-bump = \"{}\": {} of {} releases agree ({:.1}%)",
            b.tag_template,
            b.zero_feat,
            b.default_bump,
            b.agreed,
            b.releases,
            b.score * 100.0
        );
        if scope.package.is_none() {
            let mut others: Vec<(&str, usize)> = Vec::new();
            for cand in &scope.candidates {
                if cand.tag_template != b.tag_template
                    && !others.iter().any(|(t, _)| *t == cand.tag_template)
                {
                    others.push((&cand.tag_template, cand.releases));
                }
            }
            if !others.is_empty() {
                let list: Vec<String> = others
                    .iter()
                    .map(|(t, n)| format!("`{t}` ({n} releases)"))
                    .collect();
                let _ = writeln!(
                    s,
                    "other tag schemes: {}; if they are packages, list each in `[[version.package]]` \
                     of paved.toml to calibrate it from the commits that touch its path",
                    list.join(", ")
                );
            }
        }
        if !scope.skipped.is_empty() {
            let _ = writeln!(s, "not scored: {} release(s)", scope.skipped.len());
            for k in &scope.skipped {
                let _ = writeln!(s, "  {} {}", k.tag, k.reason);
            }
        }
        if !scope.disagreements.is_empty() {
            let _ = writeln!(s, "disagreements: {}", scope.disagreements.len());
        }
        for d in scope.disagreements.iter().take(SHOWN_DISAGREEMENTS) {
            let from = d
                .previous_tag
                .clone()
                .unwrap_or_else(|| format!("initial version {}", d.previous_version));
            let _ = writeln!(
                s,
                "  {} (from {from}): released {}, paved proposes {} ({} commits)",
                d.tag, d.released, d.proposed, d.commits
            );
            if d.deciding.is_empty() {
                let _ = writeln!(s, "    no commit in the range calls for a release");
            }
            for k in &d.deciding {
                let _ = writeln!(s, "    {} {} [{}]", &k.sha[..7], k.summary, k.bump);
            }
        }
        if scope.disagreements.len() > SHOWN_DISAGREEMENTS {
            let _ = writeln!(
                s,
                "  and {} more (`--json` lists them all)",
                scope.disagreements.len() - SHOWN_DISAGREEMENTS
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "overall: zero-feat = \"{}\", default-bump = \"{}\" reproduce {} of {} releases ({:.1}%)",
        c.best.zero_feat,
        c.best.default_bump,
        c.best.agreed,
        c.best.releases,
        c.best.score * 100.0
    );
    s
}

/// Add the best settings to paved.toml, keeping every other byte of it.
pub fn write_config(path: &Path, best: &BestConfig) -> Result<()> {
    let text = paved_core::fs::read_for_rewrite(path)?.unwrap_or_default();
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| paved_core::Error::Config {
                path: path.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
    let version = doc
        .entry("version")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(version) = version.as_table_like_mut() else {
        return Err(paved_core::Error::Config {
            path: path.to_owned(),
            message: "`version` is not a table; calibrate writes `[version]` settings".into(),
        }
        .into());
    };
    version.insert("zero-feat", toml_edit::value(best.zero_feat.to_string()));
    version.insert(
        "default-bump",
        toml_edit::value(best.default_bump.to_string()),
    );
    let mut packages: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &best.tag_templates {
        match &t.package {
            None => {
                version.insert("tag-template", toml_edit::value(t.tag_template.as_str()));
            }
            Some(name) => {
                packages.insert(name, &t.tag_template);
            }
        }
    }
    if let Some(list) = version
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
    {
        for table in list.iter_mut() {
            let name = table
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_owned);
            if let Some(template) = name.as_deref().and_then(|n| packages.get(n)) {
                table.insert("tag", toml_edit::value(*template));
            }
        }
    }
    paved_core::fs::write_atomic(path, doc.to_string().as_bytes())?;
    Ok(())
}

/// `paved-version calibrate`.
pub fn run(
    repo: &Repo,
    config_path: Option<&Path>,
    args: &CalibrateArgs,
    json: bool,
) -> Result<u8> {
    let (config, found) = PavedConfig::load(config_path, repo.root())?;
    paved_core::cli::info("calibrate: reading the history of every release tag");
    let started = Instant::now();
    let limits = Limits {
        max_releases: args.max_releases as usize,
        memory_budget: args.memory_budget,
    };
    let mut result = calibrate(repo, &config.version, limits)?;
    paved_core::cli::info(&format!(
        "calibrate: replayed {} releases over {} commits in {:.2} s",
        result.best.releases,
        result.commits_read,
        started.elapsed().as_secs_f64()
    ));
    if args.write {
        let path = found.unwrap_or_else(|| repo.root().join(paved_core::config::FILE_NAME));
        write_config(&path, &result.best)?;
        paved_core::cli::info(&format!(
            "wrote the best settings to `{}`",
            crate::display(repo.root(), &path)
        ));
        result.written = Some(path);
    }
    let out = if json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&result).expect("plain data serialises")
        )
    } else {
        render(&result)
    };
    paved_core::cli::print_stdout(&out)?;
    Ok(paved_core::exit::OK)
}
