//! The context templates see: one [`Release`] per section, built from a classified commit range.
//!
//! This is a public contract (`--context` prints it; custom templates read it), documented in
//! the README. Add fields freely; never rename or remove one without a major release.

use std::collections::BTreeMap;

use paved_core::conventional::{self, Classification, Conventional};
use paved_core::git::CommitInfo;
use paved_core::release::DependencyBump;
use paved_core::release::range::CommitRange;
use paved_core::semver_rules::BumpRules;
use serde::Serialize;

use paved_forge::links::{IssueRef, Links, PrRef};

/// Everything `--context` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// Where links point.
    pub repository: Repository,
    /// Newest first.
    pub releases: Vec<Release>,
}

/// The repository the notes are about.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Repository {
    /// Web URL, e.g. `https://github.com/acme/app`.
    pub url: Option<String>,
    /// `github`, `gitlab`, or `null` when unknown.
    pub forge: Option<String>,
}

/// One release section.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    /// `1.3.0`, or `Unreleased`.
    pub title: String,
    /// The version, `null` for unreleased changes with no release to make.
    pub version: Option<String>,
    /// The release tag, if it exists or will be created.
    pub tag: Option<String>,
    /// The tag the range starts after.
    pub previous_tag: Option<String>,
    /// `YYYY-MM-DD` of the newest commit (the tagged commit for a release).
    pub date: String,
    /// A semver pre-release.
    pub prerelease: bool,
    /// Web link comparing `previous_tag` with `tag` (or HEAD).
    pub compare_url: Option<String>,
    /// Breaking changes, with their `BREAKING CHANGE:` text.
    pub breaking: Vec<Entry>,
    /// Visible sections in order (Features, Bug fixes, Performance, Reverts, then configured ones).
    pub sections: Vec<Section>,
    /// Workspace dependencies (other `[[version.package]]`s) released since `previous_tag`:
    /// why a package with no changes of its own is released. `from` is `null` when the
    /// dependency had no release before.
    pub dependencies: Vec<DependencyBump>,
    /// Commits that are not Conventional Commits under the repository's rules (the ones
    /// `paved-version lint` rejects, for the same reason): in the context, not in the built-in
    /// notes.
    pub unparsed: Vec<Unparsed>,
    /// Everyone who authored a change, in order of first appearance.
    pub contributors: Vec<Contributor>,
    /// Contributors whose first contribution this is (needs a forge token).
    pub first_time_contributors: Vec<Contributor>,
    /// Commits in the range (merges, cancelled reverts and other packages excluded).
    pub commit_count: usize,
}

/// A group of entries under one heading.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Heading, e.g. `Features`.
    pub title: String,
    /// Entries, newest first.
    pub entries: Vec<Entry>,
}

/// One change.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Full commit id.
    pub sha: String,
    /// 7-character id.
    pub short_sha: String,
    /// Web link to the commit.
    pub url: Option<String>,
    /// Conventional type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Conventional scope.
    pub scope: Option<String>,
    /// Description, without a trailing PR reference.
    pub description: String,
    /// Breaking change.
    pub breaking: bool,
    /// The `BREAKING CHANGE:` text (or the description for `!`).
    pub breaking_description: Option<String>,
    /// The body, without footers.
    pub body: Option<String>,
    /// The PR/MR the change came from.
    pub pr: Option<PrRef>,
    /// Issues its `Closes:` / `Fixes:` footers close.
    pub closes: Vec<IssueRef>,
    /// Who wrote it.
    pub author: Author,
}

/// A commit's author.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Author {
    /// Name from the commit.
    pub name: String,
    /// Email from the commit.
    pub email: String,
    /// Forge login (`@login`), when known.
    pub login: Option<String>,
}

/// A commit that is not a Conventional Commit.
#[derive(Debug, Clone, Serialize)]
pub struct Unparsed {
    /// Full id.
    pub sha: String,
    /// 7-character id.
    pub short_sha: String,
    /// First line.
    pub summary: String,
    /// Why it is not conventional (as `paved-version lint` says it).
    pub reason: String,
    /// Web link to the commit.
    pub url: Option<String>,
}

/// Someone who contributed to a release.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Contributor {
    /// Name from the commits.
    pub name: String,
    /// Forge login, when known.
    pub login: Option<String>,
    /// Their first PR in this release, when known.
    pub pr: Option<PrRef>,
}

/// Which commit types are shown, and under which heading.
#[derive(Debug, Clone)]
pub struct SectionRules {
    order: Vec<(String, String)>,
}

impl SectionRules {
    /// The defaults (feat, fix, perf, revert) with `overrides` applied; an empty title hides.
    pub fn new(overrides: &BTreeMap<String, String>) -> Self {
        let mut order: Vec<(String, String)> = [
            ("feat", "Features"),
            ("fix", "Bug fixes"),
            ("perf", "Performance"),
            ("revert", "Reverts"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (kind, title) in overrides {
            let kind = kind.to_ascii_lowercase();
            match order.iter_mut().find(|(k, _)| *k == kind) {
                Some(slot) => slot.1.clone_from(title),
                None => order.push((kind, title.clone())),
            }
        }
        order.retain(|(_, title)| !title.trim().is_empty());
        SectionRules { order }
    }

    fn title(&self, kind: &str) -> Option<&str> {
        self.order
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| t.as_str())
    }
}

/// How a range becomes a release section.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions<'a> {
    /// Visible types and titles.
    pub sections: &'a SectionRules,
    /// The package's bump rules: which types are known, so which commits are not conventional.
    pub rules: &'a BumpRules,
    /// Link builder.
    pub links: &'a Links,
    /// Split squash bodies into entries.
    pub split_squash: bool,
}

/// Metadata of a section that does not come from its commits.
#[derive(Debug, Clone)]
pub struct ReleaseMeta {
    /// Heading title.
    pub title: String,
    /// Version, if any.
    pub version: Option<semver::Version>,
    /// Tag, if any.
    pub tag: Option<String>,
    /// The tag the range starts after.
    pub previous_tag: Option<String>,
    /// Commit time of the newest commit, seconds.
    pub time: i64,
    /// Workspace dependencies released since `previous_tag`.
    pub dependencies: Vec<DependencyBump>,
}

/// Build one release section from a classified range.
pub fn release(meta: ReleaseMeta, range: &CommitRange, opts: BuildOptions<'_>) -> Release {
    let mut breaking = Vec::new();
    let mut grouped: Vec<(String, Vec<Entry>)> = Vec::new();
    let mut unparsed = Vec::new();
    let mut contributors: Vec<Contributor> = Vec::new();
    let mut counted = 0;
    for rc in &range.commits {
        let c = &rc.commit;
        // Judged as `paved-version lint` and the version analysis judge it, cancelled or not,
        // so the three count the same commits as not conventional.
        if let conventional::Verdict::Rejected(reason) =
            conventional::judge(&c.message, &rc.class, opts.rules)
        {
            unparsed.push(Unparsed {
                sha: c.id.to_string(),
                short_sha: c.short_id(),
                summary: c.summary().to_owned(),
                reason,
                url: opts.links.commit(&c.id.to_string()),
            });
        }
        if rc.cancelled_by.is_some() {
            continue;
        }
        counted += 1;
        let author = Author {
            name: c.author.name.clone(),
            email: c.author.email.clone(),
            login: None,
        };
        if !contributors.iter().any(|x| x.name == author.name) {
            contributors.push(Contributor {
                name: author.name.clone(),
                login: None,
                pr: None,
            });
        }
        let conv = match &rc.class {
            Classification::Conventional(conv) => conv,
            Classification::Unparsed { .. } => continue,
        };
        for entry in entries_of(c, conv, &author, opts) {
            if entry.breaking {
                breaking.push(entry.clone());
            }
            let Some(title) = opts.sections.title(&entry.kind) else {
                continue;
            };
            match grouped.iter_mut().find(|(t, _)| t == title) {
                Some((_, list)) => list.push(entry),
                None => grouped.push((title.to_owned(), vec![entry])),
            }
        }
    }
    // Sections follow the configured order, not the order commits happened to appear in.
    let mut sections: Vec<Section> = Vec::new();
    for (_, title) in &opts.sections.order {
        if sections.iter().any(|s| &s.title == title) {
            continue;
        }
        if let Some(pos) = grouped.iter().position(|(t, _)| t == title) {
            let (title, entries) = grouped.swap_remove(pos);
            sections.push(Section { title, entries });
        }
    }
    let (previous, current) = (meta.previous_tag.clone(), meta.tag.clone());
    Release {
        title: meta.title,
        prerelease: meta.version.as_ref().is_some_and(|v| !v.pre.is_empty()),
        version: meta.version.map(|v| v.to_string()),
        compare_url: previous
            .as_deref()
            .and_then(|p| opts.links.compare(p, current.as_deref().unwrap_or("HEAD"))),
        tag: meta.tag,
        previous_tag: meta.previous_tag,
        date: date(meta.time),
        breaking,
        sections,
        dependencies: meta.dependencies,
        unparsed,
        contributors,
        first_time_contributors: Vec::new(),
        commit_count: counted,
    }
}

fn entries_of(
    c: &CommitInfo,
    conv: &Conventional,
    author: &Author,
    opts: BuildOptions<'_>,
) -> Vec<Entry> {
    let (description, pr) =
        paved_forge::links::split_pr(&conv.description, conv.body.as_deref(), opts.links);
    let sha = c.id.to_string();
    let make = |conv: &Conventional, description: String, pr: Option<PrRef>| Entry {
        // For `feat!:` the breaking text is the header's description: the one without its
        // trailing `(#123)`, which the templates link as `pr`.
        breaking_description: match &conv.breaking_description {
            Some(text) if *text == conv.description => Some(description.clone()),
            other => other.clone(),
        },
        sha: sha.clone(),
        short_sha: c.short_id(),
        url: opts.links.commit(&sha),
        kind: conv.kind.clone(),
        scope: conv.scope.clone(),
        description,
        breaking: conv.breaking,
        body: conv.body.clone(),
        pr,
        closes: paved_forge::links::closed_issues(&conv.footers, opts.links),
        author: author.clone(),
    };
    if opts.split_squash {
        let parts = squash_parts(conv.body.as_deref().unwrap_or_default());
        if !parts.is_empty() {
            return parts
                .iter()
                .map(|part| {
                    let (d, own_pr) =
                        paved_forge::links::split_pr(&part.description, None, opts.links);
                    make(part, d, own_pr.or_else(|| pr.clone()))
                })
                .collect();
        }
    }
    vec![make(conv, description, pr)]
}

/// Conventional headers listed in a squash-merge body (`* feat: a`, `- fix(x): b`, or bare lines).
fn squash_parts(body: &str) -> Vec<Conventional> {
    body.lines()
        .map(|l| l.trim().trim_start_matches(['*', '-']).trim())
        .filter(|l| !l.is_empty() && !l.starts_with("BREAKING"))
        .filter_map(|l| match conventional::classify(l) {
            Classification::Conventional(c) if !l.contains("Signed-off-by") => Some(c),
            _ => None,
        })
        .collect()
}

/// `YYYY-MM-DD` (UTC) for seconds since the epoch. Times outside jiff's range (years
/// -9999..=9999) show as the first or last day it can hold.
pub fn date(secs: i64) -> String {
    use jiff::Timestamp;
    let at = Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    at.strftime("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_700_000_000), "2023-11-14");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
        assert!(date(i64::MAX).starts_with("9999-12-"));
    }

    #[test]
    fn section_rules() {
        let mut o = BTreeMap::new();
        o.insert("docs".into(), "Documentation".into());
        o.insert("perf".into(), String::new());
        let r = SectionRules::new(&o);
        assert_eq!(r.title("docs"), Some("Documentation"));
        assert_eq!(r.title("perf"), None);
        assert_eq!(r.title("chore"), None);
    }

    #[test]
    fn squash_bodies() {
        let parts =
            squash_parts("* feat(a): one\n\n* fix: two\n\nnot conventional\nSigned-off-by: x");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].kind, "fix");
    }
}
