//! The release a repository is about to make: which tag it builds on, which commits it holds,
//! and the next version they call for.
//!
//! paved-version, paved-changelog and paved-change all start here, so a changelog is always
//! titled with the version paved-version would tag, and a change record lists the same commits.
//!
//! - [`range`]: base tags and the commit range since them (reverts, merges, shallow clones).
//! - [`Settings`]: flag > env > `[version]` > default, resolved once from [`ReleaseOptions`].
//! - [`analyze_scope`] / [`plan`]: the [`VersionPlan`] of each package.
//! - [`plan_with_dependencies`]: the same, where a package whose workspace dependency is
//!   released is released too (at least a patch), transitively; [`analyze_with_dependencies`]
//!   keeps the commit ranges behind one such plan (paved-changelog).
//! - [`with_history`]: deepen a shallow clone until the answer is known, or fail with exit 3.

pub mod range;

use crate::config::{FetchMode, VersionConfig};
use crate::conventional::Classification;
use crate::git::{Oid, Repo};
use crate::semver_rules::{self, Bump, BumpRules};
use crate::tag::TagTemplate;
use crate::{Error, Result};
use semver::Version;
use serde::Serialize;

use self::range::{Bases, CommitRange, Incomplete, ReleaseTag, Scope};

/// What a caller asks of the release computation; each tool fills it from its own flags.
/// `None` means "not given": the `[version]` section of paved.toml, then the default, applies.
#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    /// Only this `[[version.package]]`.
    pub package: Option<String>,
    /// Tag template, e.g. `v{version}`.
    pub tag_template: Option<String>,
    /// Version assumed before the first tag.
    pub initial_version: Option<Version>,
    /// Pre-release identifier (`rc`).
    pub pre: Option<String>,
    /// Build metadata.
    pub build: Option<String>,
    /// Force this version.
    pub release_as: Option<Version>,
    /// Shallow-clone handling.
    pub fetch: Option<FetchMode>,
    /// Remote for fetch and push.
    pub remote: Option<String>,
}

/// The default tag template of the repository.
pub const DEFAULT_TAG_TEMPLATE: &str = "v{version}";
/// The default tag template of a monorepo package.
pub const DEFAULT_PACKAGE_TAG_TEMPLATE: &str = "{name}-v{version}";

/// Settings after flag > env > file > default resolution.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The packages to compute (one unnamed scope for a single-package repository).
    pub scopes: Vec<(Scope, Vec<String>)>,
    /// Type → bump map.
    pub rules: BumpRules,
    /// Version assumed before the first tag.
    pub initial_version: Version,
    /// Pre-release identifier.
    pub pre: Option<String>,
    /// Build metadata.
    pub build: Option<semver::BuildMetadata>,
    /// Forced version.
    pub release_as: Option<Version>,
    /// Shallow-clone handling.
    pub fetch: FetchMode,
    /// Remote for fetch and push.
    pub remote: String,
    /// Extra files for `--write`, repository-wide.
    pub files: Vec<String>,
    /// Bump rules of packages whose conventions differ from `[version]`'s.
    package_rules: std::collections::BTreeMap<String, BumpRules>,
    /// The tag scheme of every configured package (selected or not) or of the repository, for
    /// [`Settings::adopt_tag_scheme`].
    schemes: Vec<SchemeChoice>,
    /// Every configured package, selected or not: a selected one may depend on the others.
    packages: Vec<Scope>,
    /// Packages with `propagate = false`.
    no_propagate: std::collections::BTreeSet<String>,
}

/// One tag template and whether the user chose it (a default may be replaced by the scheme the
/// repository's tags use).
#[derive(Debug, Clone)]
struct SchemeChoice {
    package: Option<String>,
    template: TagTemplate,
    given: bool,
}

/// What [`Settings::adopt_tag_scheme`] found: a scheme it chose (notes) and tags that look like
/// releases but that no template names (warnings).
#[derive(Debug, Clone, Default)]
pub struct TagReport {
    /// Informational: which scheme was chosen, and why.
    pub notes: Vec<String>,
    /// Version-shaped tags no template matches.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Merge command-line/env values over the `[version]` section and the defaults.
    pub fn resolve(args: &ReleaseOptions, file: &VersionConfig, in_ci: bool) -> Result<Settings> {
        let template = args
            .tag_template
            .clone()
            .or_else(|| file.tag_template.clone());
        let mut schemes = Vec::new();
        let scopes = if file.package.is_empty() {
            if let Some(name) = &args.package {
                return Err(Error::UnknownPackage {
                    name: name.clone(),
                    known: String::new(),
                });
            }
            let t = TagTemplate::new(template.as_deref().unwrap_or(DEFAULT_TAG_TEMPLATE), None)?;
            schemes.push(SchemeChoice {
                package: None,
                template: t.clone(),
                given: template.is_some(),
            });
            vec![(
                Scope {
                    name: None,
                    path: None,
                    template: t,
                },
                Vec::new(),
            )]
        } else {
            for p in &file.package {
                schemes.push(SchemeChoice {
                    package: Some(p.name.clone()),
                    template: TagTemplate::new(
                        p.tag.as_deref().unwrap_or(DEFAULT_PACKAGE_TAG_TEMPLATE),
                        Some(&p.name),
                    )?,
                    given: p.tag.is_some(),
                });
            }
            let selected: Vec<_> = match &args.package {
                Some(name) => {
                    let found: Vec<_> = file.package.iter().filter(|p| &p.name == name).collect();
                    if found.is_empty() {
                        let known: Vec<_> = file
                            .package
                            .iter()
                            .map(|p| format!("`{}`", p.name))
                            .collect();
                        return Err(Error::UnknownPackage {
                            name: name.clone(),
                            known: format!(" (configured: {})", known.join(", ")),
                        });
                    }
                    found
                }
                None => file.package.iter().collect(),
            };
            selected
                .into_iter()
                .map(|p| {
                    let t = p.tag.as_deref().unwrap_or(DEFAULT_PACKAGE_TAG_TEMPLATE);
                    Ok((
                        Scope {
                            name: Some(p.name.clone()),
                            path: Some(p.path.trim_matches('/').to_owned()),
                            template: TagTemplate::new(t, Some(&p.name))?,
                        },
                        p.files.clone(),
                    ))
                })
                .collect::<Result<_>>()?
        };
        let pre = args
            .pre
            .as_deref()
            .map(semver_rules::parse_pre_id)
            .transpose()?;
        let build = args
            .build
            .as_deref()
            .map(semver_rules::parse_build)
            .transpose()?;
        let fetch = args.fetch.or(file.fetch).unwrap_or(if in_ci {
            FetchMode::Auto
        } else {
            FetchMode::Never
        });
        Ok(Settings {
            scopes,
            rules: BumpRules::with_overrides(&file.types).with_conventions(
                file.default_bump.map_or(Bump::None, Bump::from),
                file.zero_feat.map_or(Bump::Minor, Bump::from),
            ),
            initial_version: args
                .initial_version
                .clone()
                .or_else(|| file.initial_version.clone())
                .unwrap_or(Version::new(0, 0, 0)),
            pre,
            build,
            release_as: args.release_as.clone(),
            fetch,
            remote: crate::git::check_remote(
                args.remote
                    .as_deref()
                    .or(file.remote.as_deref())
                    .unwrap_or("origin"),
            )?
            .to_owned(),
            files: file.files.clone(),
            packages: file
                .package
                .iter()
                .map(|p| {
                    Ok(Scope {
                        name: Some(p.name.clone()),
                        path: Some(p.path.trim_matches('/').to_owned()),
                        template: TagTemplate::new(
                            p.tag.as_deref().unwrap_or(DEFAULT_PACKAGE_TAG_TEMPLATE),
                            Some(&p.name),
                        )?,
                    })
                })
                .collect::<Result<_>>()?,
            no_propagate: file
                .package
                .iter()
                .filter(|p| p.propagate == Some(false))
                .map(|p| p.name.clone())
                .collect(),
            schemes,
            package_rules: file
                .package
                .iter()
                .filter(|p| p.default_bump.is_some() || p.zero_feat.is_some())
                .map(|p| {
                    let rules = BumpRules::with_overrides(&file.types).with_conventions(
                        p.default_bump
                            .or(file.default_bump)
                            .map_or(Bump::None, Bump::from),
                        p.zero_feat
                            .or(file.zero_feat)
                            .map_or(Bump::Minor, Bump::from),
                    );
                    (p.name.clone(), rules)
                })
                .collect(),
        })
    }

    /// The scope of the configured package `name`, selected or not (its tag template as
    /// [`Settings::adopt_tag_scheme`] chose it).
    pub fn package_scope(&self, name: &str) -> Option<&Scope> {
        self.packages
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
    }

    /// The bump rules of `scope`: its package's conventions, else `[version]`'s.
    pub fn rules_for(&self, scope: &Scope) -> &BumpRules {
        scope
            .name
            .as_ref()
            .and_then(|n| self.package_rules.get(n))
            .unwrap_or(&self.rules)
    }

    /// Every selected package's `path` must exist: a typo would otherwise read as "nothing to
    /// release", forever.
    pub fn check_package_paths(&self, repo: &Repo) -> Result<()> {
        for (scope, _) in &self.scopes {
            let (Some(name), Some(path)) = (&scope.name, &scope.path) else {
                continue;
            };
            if !path.is_empty() && !repo.root().join(path).exists() {
                return Err(Error::Usage(format!(
                    "package `{name}` has path `{path}`, which does not exist in the repository; \
                     fix `path` in its `[[version.package]]` entry of paved.toml"
                )));
            }
        }
        Ok(())
    }

    /// Where no tag template is configured, use the scheme the repository's own tags follow
    /// (`v1.2.3`, `1.2.3`, `name@1.2.3`, `name-v1.2.3`, `name/v1.2.3`…), so a repository with
    /// releases never gets a first release proposed. Then name the tags that look like
    /// versions but that no template matches.
    pub fn adopt_tag_scheme(&mut self, repo: &Repo) -> Result<TagReport> {
        let tags = repo.tags()?;
        let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        let mut report = TagReport::default();
        for choice in self.schemes.iter_mut().filter(|c| !c.given) {
            let package = choice.package.as_deref();
            let found = match package {
                None => crate::tag::best_scheme(&names, &crate::tag::REPOSITORY_SCHEMES, None)?
                    .or_else(|| only_prefix_scheme(&names)),
                Some(name) => {
                    crate::tag::best_scheme(&names, &crate::tag::PACKAGE_SCHEMES, Some(name))?
                }
            };
            let Some((template, count)) = found else {
                continue;
            };
            if template != choice.template {
                let (who, key) = match package {
                    None => (String::new(), "`tag-template` in `[version]`"),
                    Some(name) => (
                        format!("package `{name}`: "),
                        "`tag` in its `[[version.package]]`",
                    ),
                };
                report.notes.push(format!(
                    "{who}no tag template is configured and {count} release tag(s) follow `{}`, so that is the scheme used; set {key} of paved.toml to choose another",
                    template.as_str()
                ));
                choice.template = template;
            }
        }
        let scopes = self
            .scopes
            .iter_mut()
            .map(|(s, _)| s)
            .chain(self.packages.iter_mut());
        for scope in scopes {
            if let Some(c) = self.schemes.iter().find(|c| c.package == scope.name) {
                scope.template = c.template.clone();
            }
        }

        let unmatched: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| crate::tag::version_in(name).is_some())
            .filter(|name| {
                !self
                    .schemes
                    .iter()
                    .any(|c| c.template.parse(name).is_some())
            })
            .collect();
        if unmatched.is_empty() {
            return Ok(report);
        }
        let mut examples: Vec<String> =
            unmatched.iter().take(5).map(|n| format!("`{n}`")).collect();
        if unmatched.len() > examples.len() {
            examples.push(format!("and {} more", unmatched.len() - examples.len()));
        }
        let templates: Vec<String> = self
            .schemes
            .iter()
            .map(|c| format!("`{}`", c.template.as_str()))
            .collect();
        let none_matched = !names
            .iter()
            .any(|n| self.schemes.iter().any(|c| c.template.parse(n).is_some()));
        let prefixes: std::collections::BTreeSet<&str> = unmatched
            .iter()
            .filter_map(|n| crate::tag::version_in(n).map(|(p, _)| p))
            .collect();
        let fix = match (self.schemes.as_slice(), prefixes.len()) {
            ([c], 1) if c.package.is_none() && none_matched => format!(
                "if they are this repository's releases, set `tag-template = \"{}{{version}}\"` \
                 in `[version]` of paved.toml (or pass `--tag-template`)",
                prefixes.first().expect("one prefix")
            ),
            _ => "if they are releases, set `tag-template` in `[version]` of paved.toml, or list \
                  each package in `[[version.package]]` with its `tag` (e.g. \
                  `tag = \"{name}@{version}\"`)"
                .to_owned(),
        };
        let consequence = if none_matched {
            "no release tag was found, so the version is computed as a first release"
        } else {
            "they are not treated as releases"
        };
        report.warnings.push(format!(
            "{} tag(s) look like versions but match no tag template ({}): {}; {consequence}; {fix}",
            unmatched.len(),
            templates.join(", "),
            examples.join(", ")
        ));
        Ok(report)
    }
}

/// When every version-shaped tag shares one prefix (`paved@1.0.0`, `paved@1.1.0`), that prefix
/// is the repository's scheme. Several prefixes are several packages: nothing is guessed.
fn only_prefix_scheme(names: &[&str]) -> Option<(TagTemplate, usize)> {
    let mut prefix: Option<&str> = None;
    let mut count = 0;
    for name in names {
        let Some((p, _)) = crate::tag::version_in(name) else {
            continue;
        };
        match prefix {
            Some(q) if q != p => return None,
            _ => prefix = Some(p),
        }
        count += 1;
    }
    let p = prefix?;
    if p.contains(['{', '}']) {
        return None;
    }
    TagTemplate::new(&format!("{p}{{version}}"), None)
        .ok()
        .map(|t| (t, count))
}

/// One commit as reported in `--json` and `--verbose`.
#[derive(Debug, Clone, Serialize)]
pub struct CommitReport {
    /// Full id.
    pub sha: String,
    /// First line of the message.
    pub summary: String,
    /// Conventional type, if parsed.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Conventional scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Breaking change.
    pub breaking: bool,
    /// The bump this commit causes on its own (`none` when cancelled or unparsed).
    pub bump: Bump,
    /// Why the message is not conventional ([`crate::conventional::judge`], as `lint` says it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unparsed: Option<String>,
    /// The revert (or reverted commit) that cancels this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
}

/// The computed release of one package.
#[derive(Debug, Clone, Serialize)]
pub struct VersionPlan {
    /// Package name (`null` for the repository).
    pub package: Option<String>,
    /// The next version (or the current one when nothing is released).
    pub version: Version,
    /// The latest release reachable from HEAD.
    pub previous_version: Option<Version>,
    /// Its tag.
    pub previous_tag: Option<String>,
    /// The tag for `version`.
    pub tag: String,
    /// The bump applied.
    pub bump: Bump,
    /// Whether there is something to release.
    pub released: bool,
    /// Commits since the previous release (merges and other packages' commits excluded).
    pub commits: usize,
    /// How many of them are not conventional commits (the ones `paved-version lint` rejects).
    pub unparsed: usize,
    /// HEAD.
    pub head: String,
    /// Every commit considered, newest first.
    pub changes: Vec<CommitReport>,
    /// Workspace dependencies released in the same run: why a package with no commits of its
    /// own is released, and which requirements `--write` rewrites.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyBump>,
}

/// A package's dependency on another configured package (names as in `[[version.package]]`),
/// read from the workspace's manifests by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package that depends.
    pub dependent: String,
    /// The package it depends on.
    pub dependency: String,
}

/// A dependency released in the same run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyBump {
    /// The dependency's package name.
    pub name: String,
    /// Its version before (`null`: its first release).
    pub from: Option<Version>,
    /// The version it is released as.
    pub to: Version,
}

impl std::fmt::Display for DependencyBump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = self
            .from
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string);
        write!(f, "dependency {} {from} -> {}", self.name, self.to)
    }
}

fn report(range: &CommitRange, rules: &BumpRules) -> Vec<CommitReport> {
    range
        .commits
        .iter()
        .map(|c| {
            let (kind, scope, breaking) = match &c.class {
                Classification::Conventional(conv) => {
                    (Some(conv.kind.clone()), conv.scope.clone(), conv.breaking)
                }
                Classification::Unparsed { .. } => (None, None, false),
            };
            // The verdict `paved-version lint` gives this message, with its reason.
            let unparsed = crate::conventional::judge(&c.commit.message, &c.class, rules)
                .reason()
                .map(str::to_owned);
            let bump = match (&c.cancelled_by, c.conventional()) {
                (None, Some(conv)) => rules.bump_for(conv),
                (None, None) => rules.bump_for_unparsed(),
                _ => Bump::None,
            };
            CommitReport {
                sha: c.commit.id.to_string(),
                summary: c.commit.summary().to_owned(),
                kind,
                scope,
                breaking,
                bump,
                unparsed,
                cancelled_by: c.cancelled_by.map(|id| id.to_string()),
            }
        })
        .collect()
}

/// A scope's plan together with the tags and ranges it was computed from, for tools that
/// need the commits too (paved-changelog) without walking history a second time.
#[derive(Debug, Clone)]
pub struct ScopeAnalysis {
    /// The computed release.
    pub plan: VersionPlan,
    /// The latest release tag reachable from HEAD (pre-releases included).
    pub latest: Option<ReleaseTag>,
    /// The latest stable release tag reachable from HEAD.
    pub stable: Option<ReleaseTag>,
    /// Commits since `latest`.
    pub since_latest: CommitRange,
    /// Commits since `stable`.
    pub since_stable: CommitRange,
}

/// Compute the plan for one scope, or report that history is incomplete.
pub fn plan_scope(
    repo: &Repo,
    head: Oid,
    scope: &Scope,
    settings: &Settings,
) -> Result<Result<VersionPlan, Incomplete>> {
    Ok(analyze_scope(repo, head, scope, settings)?.map(|a| a.plan))
}

/// [`plan_scope`], keeping the tags and commit ranges behind the plan.
pub fn analyze_scope(
    repo: &Repo,
    head: Oid,
    scope: &Scope,
    settings: &Settings,
) -> Result<Result<ScopeAnalysis, Incomplete>> {
    analyze_scope_at_least(repo, head, scope, settings, Bump::None)
}

/// [`analyze_scope`] for a package released at least by `floor` whatever its commits say (a
/// workspace dependency of it is released).
fn analyze_scope_at_least(
    repo: &Repo,
    head: Oid,
    scope: &Scope,
    settings: &Settings,
    floor: Bump,
) -> Result<Result<ScopeAnalysis, Incomplete>> {
    let tags = repo.tags_matching(|name| scope.template.parse(name).is_some())?;
    let candidates = range::release_tags(&tags, &scope.template);
    let mut bases: Bases = match range::find_bases(repo, head, &candidates)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let path = scope.path.as_deref();
    let latest_commit = bases.latest.as_ref().map(|t| t.commit);
    let stable_commit = bases.stable.as_ref().map(|t| t.commit);
    let known_stable = bases.range(stable_commit);
    let known_latest = bases.take_range(latest_commit);
    let since_latest = match range::collect(repo, head, latest_commit, path, known_latest)? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let since_stable = if stable_commit == latest_commit {
        since_latest.clone()
    } else {
        match range::collect(repo, head, stable_commit, path, known_stable)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        }
    };

    let stable_base = bases
        .stable
        .as_ref()
        .map_or_else(|| settings.initial_version.clone(), |t| t.version.clone());
    let current = bases
        .latest
        .as_ref()
        .map_or_else(|| settings.initial_version.clone(), |t| t.version.clone());
    let rules = settings.rules_for(scope);
    let bump = range::bump_of(&since_stable, rules).max(floor);
    let all_versions: Vec<Version> = candidates.iter().map(|t| t.version.clone()).collect();

    let (mut version, released, bump) = if let Some(forced) = &settings.release_as {
        let already = bases
            .latest
            .as_ref()
            .is_some_and(|t| &t.version == forced && t.commit == head);
        (
            forced.clone(),
            !already,
            if already {
                Bump::None
            } else {
                bump.max(Bump::Patch)
            },
        )
    } else if bump == Bump::None {
        (current.clone(), false, Bump::None)
    } else {
        let (core, bump) = rules.apply(&stable_base, bump);
        match &settings.pre {
            // Nothing new since the latest pre-release: that one stands.
            Some(_)
                if since_latest
                    .commits
                    .iter()
                    .all(|c| c.cancelled_by.is_some())
                    && bases.latest.is_some() =>
            {
                (current.clone(), false, Bump::None)
            }
            Some(id) => (semver_rules::next_pre(&core, id, &all_versions), true, bump),
            None => (core, true, bump),
        }
    };
    let tag = scope.template.render(&version);
    if let Some(b) = &settings.build {
        version.build = b.clone();
    }
    let changes = report(&since_latest, rules);
    let unparsed = changes.iter().filter(|c| c.unparsed.is_some()).count();
    let plan = VersionPlan {
        package: scope.name.clone(),
        version,
        previous_version: bases.latest.as_ref().map(|t| t.version.clone()),
        previous_tag: bases.latest.as_ref().map(|t| t.name.clone()),
        tag,
        bump,
        released,
        commits: since_latest.commits.len(),
        unparsed,
        head: head.to_string(),
        changes,
        dependencies: Vec::new(),
    };
    Ok(Ok(ScopeAnalysis {
        plan,
        latest: bases.latest,
        stable: bases.stable,
        since_latest,
        since_stable,
    }))
}

/// Compute plans for every selected scope, deepening a shallow clone when allowed.
pub fn plan(repo: &mut Repo, settings: &Settings) -> Result<Vec<VersionPlan>> {
    with_history(repo, settings.fetch, &settings.remote, |repo| {
        let head = repo.head()?;
        let mut plans = Vec::new();
        for (scope, _) in &settings.scopes {
            match plan_scope(repo, head, scope, settings)? {
                Ok(p) => plans.push(p),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(plans))
    })
}

/// [`plan`], where a package that depends on a package released in this run is released too
/// (at least a patch, as release-plz and knope do), unless it has `propagate = false`; the
/// chain is followed (a -> b -> c) and cycles end, each package being raised at most once.
/// Every plan lists the dependencies released with it ([`VersionPlan::dependencies`]). With
/// `--package`, the packages it depends on are planned too, so the answer is the same.
pub fn plan_with_dependencies(
    repo: &mut Repo,
    settings: &Settings,
    dependencies: &[Dependency],
) -> Result<Vec<VersionPlan>> {
    if dependencies.is_empty() || settings.packages.is_empty() {
        return plan(repo, settings);
    }
    with_history(repo, settings.fetch, &settings.remote, |repo| {
        let head = repo.head()?;
        let analyses = match propagate(repo, head, settings, dependencies)? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let selected = settings
            .scopes
            .iter()
            .filter_map(|(s, _)| {
                analyses
                    .iter()
                    .find(|a| a.plan.package == s.name)
                    .map(|a| a.plan.clone())
            })
            .collect();
        Ok(Ok(selected))
    })
}

/// [`analyze_scope`] with the propagation of [`plan_with_dependencies`]: the analysis of
/// `scope` is the one paved-version plans it by, its plan listing the dependencies released
/// with it. Without dependencies (or for the repository's own scope) it is [`analyze_scope`].
pub fn analyze_with_dependencies(
    repo: &Repo,
    head: Oid,
    scope: &Scope,
    settings: &Settings,
    dependencies: &[Dependency],
) -> Result<Result<ScopeAnalysis, Incomplete>> {
    if dependencies.is_empty() || settings.packages.is_empty() || scope.name.is_none() {
        return analyze_scope(repo, head, scope, settings);
    }
    let analyses = match propagate(repo, head, settings, dependencies)? {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    match analyses.into_iter().find(|a| a.plan.package == scope.name) {
        Some(a) => Ok(Ok(a)),
        None => analyze_scope(repo, head, scope, settings),
    }
}

/// The analysis of every configured package (`settings.packages`, in order), raised along
/// `dependencies`.
fn propagate(
    repo: &Repo,
    head: Oid,
    settings: &Settings,
    dependencies: &[Dependency],
) -> Result<Result<Vec<ScopeAnalysis>, Incomplete>> {
    let mut analyses: Vec<ScopeAnalysis> = Vec::new();
    for scope in &settings.packages {
        match analyze_scope(repo, head, scope, settings)? {
            Ok(a) => analyses.push(a),
            Err(e) => return Ok(Err(e)),
        }
    }
    // `analyses[i]` is the analysis of `settings.packages[i]`.
    let index = |name: &str| {
        settings
            .packages
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
    };
    let mut raised = vec![false; analyses.len()];
    loop {
        let mut changed = false;
        for dep in dependencies {
            let (Some(d), Some(p)) = (index(&dep.dependency), index(&dep.dependent)) else {
                continue;
            };
            if !analyses[d].plan.released
                || analyses[p].plan.released
                || raised[p]
                || settings.no_propagate.contains(&dep.dependent)
            {
                continue;
            }
            raised[p] = true;
            let scope = &settings.packages[p];
            match analyze_scope_at_least(repo, head, scope, settings, Bump::Patch)? {
                Ok(a) => analyses[p] = a,
                Err(e) => return Ok(Err(e)),
            }
            changed = true;
        }
        if !changed {
            break;
        }
    }
    for dep in dependencies {
        let (Some(d), Some(p)) = (index(&dep.dependency), index(&dep.dependent)) else {
            continue;
        };
        if analyses[d].plan.released
            && d != p
            && !analyses[p]
                .plan
                .dependencies
                .iter()
                .any(|b| b.name == dep.dependency)
        {
            let bump = DependencyBump {
                name: dep.dependency.clone(),
                from: analyses[d].plan.previous_version.clone(),
                to: analyses[d].plan.version.clone(),
            };
            analyses[p].plan.dependencies.push(bump);
        }
    }
    Ok(Ok(analyses))
}

/// Run `compute` until it has the history it needs: in a shallow clone, deepen with
/// `git fetch --deepen` (then `--unshallow`) and retry when `fetch` is `auto`; otherwise fail
/// with exit 3 and a hint naming `fetch-depth: 0`. Never returns a result computed from
/// truncated history.
pub fn with_history<T, E: From<crate::Error>>(
    repo: &mut Repo,
    fetch: FetchMode,
    remote: &str,
    mut compute: impl FnMut(&Repo) -> Result<Result<T, Incomplete>, E>,
) -> Result<T, E> {
    let mut deepen_by = 64u32;
    let mut attempt = 0;
    loop {
        let Incomplete(detail) = match compute(repo)? {
            Ok(value) => return Ok(value),
            Err(missing) => missing,
        };
        if fetch == FetchMode::Never {
            return Err(crate::Error::Shallow {
                detail: format!("{detail}; fetching is off (`--fetch never`)"),
            }
            .into());
        }
        attempt += 1;
        let result = if attempt <= 6 {
            crate::cli::warn(&format!(
                "shallow clone: {detail}; deepening by {deepen_by} commits from `{remote}` (`--fetch auto`)"
            ));
            repo.run_git(&[
                "fetch",
                "--quiet",
                "--tags",
                &format!("--deepen={deepen_by}"),
                "--end-of-options",
                remote,
            ])
        } else if attempt == 7 {
            crate::cli::warn(&format!(
                "shallow clone: still incomplete; fetching the full history from `{remote}`"
            ));
            repo.run_git(&[
                "fetch",
                "--quiet",
                "--tags",
                "--unshallow",
                "--end-of-options",
                remote,
            ])
        } else {
            return Err(crate::Error::Shallow {
                detail: format!("{detail}, even after fetching the full history"),
            }
            .into());
        };
        if let Err(e) = result {
            return Err(crate::Error::Shallow {
                detail: format!("{detail}; deepening failed: {e}"),
            }
            .into());
        }
        repo.reopen()?;
        if !repo.is_shallow() && attempt < 7 {
            attempt = 7;
        }
        deepen_by = deepen_by.saturating_mul(4);
    }
}
