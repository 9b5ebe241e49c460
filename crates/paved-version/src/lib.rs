//! paved-version: the next semantic version from Conventional Commits.
//!
//! [`plan`] computes a [`VersionPlan`] per package from history; [`run`] is the whole command:
//! plan, then optionally write version files, tag, push, and report through the CI sink.
//! [`range`] holds the release-range logic that paved-changelog reuses.

pub mod cli;
pub mod error;
pub mod files;
pub mod lint;
pub mod range;

use std::fmt::Write as _;
use std::path::Path;

use paved_core::ci::{CiSink, Outputs};
use paved_core::config::{FetchMode, PavedConfig, VersionConfig};
use paved_core::conventional::Classification;
use paved_core::git::{Oid, Repo};
use paved_core::semver_rules::{self, Bump, BumpRules};
use paved_core::tag::TagTemplate;
use semver::Version;
use serde::Serialize;

pub use crate::cli::NextArgs;
use crate::cli::{Args, Command, Fetch};
pub use crate::error::{Error, Result};
use crate::range::{Bases, CommitRange, Incomplete, Scope};

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
}

impl Settings {
    /// Merge command-line/env values over the `[version]` section and the defaults.
    pub fn resolve(args: &NextArgs, file: &VersionConfig, in_ci: bool) -> Result<Settings> {
        let template = args
            .tag_template
            .clone()
            .or_else(|| file.tag_template.clone());
        let scopes = if file.package.is_empty() {
            if let Some(name) = &args.package {
                return Err(Error::UnknownPackage {
                    name: name.clone(),
                    known: String::new(),
                });
            }
            let t = template.as_deref().unwrap_or(DEFAULT_TAG_TEMPLATE);
            vec![(
                Scope {
                    name: None,
                    path: None,
                    template: TagTemplate::new(t, None)?,
                },
                Vec::new(),
            )]
        } else {
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
        let fetch = match args.fetch {
            Some(Fetch::Auto) => FetchMode::Auto,
            Some(Fetch::Never) => FetchMode::Never,
            None => file.fetch.unwrap_or(if in_ci {
                FetchMode::Auto
            } else {
                FetchMode::Never
            }),
        };
        Ok(Settings {
            scopes,
            rules: BumpRules::with_overrides(&file.types),
            initial_version: args
                .initial_version
                .clone()
                .or_else(|| file.initial_version.clone())
                .unwrap_or(Version::new(0, 0, 0)),
            pre,
            build,
            release_as: args.release_as.clone(),
            fetch,
            remote: args
                .remote
                .clone()
                .or_else(|| file.remote.clone())
                .unwrap_or_else(|| "origin".into()),
            files: file.files.clone(),
        })
    }
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
    /// Why the message did not parse.
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
    /// How many of them are not conventional commits.
    pub unparsed: usize,
    /// HEAD.
    pub head: String,
    /// Every commit considered, newest first.
    pub changes: Vec<CommitReport>,
}

fn report(range: &CommitRange, rules: &BumpRules) -> Vec<CommitReport> {
    range
        .commits
        .iter()
        .map(|c| {
            let (kind, scope, breaking, unparsed) = match &c.class {
                Classification::Conventional(conv) => (
                    Some(conv.kind.clone()),
                    conv.scope.clone(),
                    conv.breaking,
                    None,
                ),
                Classification::Unparsed { reason } => (None, None, false, Some(reason.clone())),
            };
            let bump = match (&c.cancelled_by, c.conventional()) {
                (None, Some(conv)) => rules.bump_for(conv),
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
    pub latest: Option<range::ReleaseTag>,
    /// The latest stable release tag reachable from HEAD.
    pub stable: Option<range::ReleaseTag>,
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
    let bump = range::bump_of(&since_stable, &settings.rules);
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
        let core = semver_rules::apply(&stable_base, bump);
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
    let changes = report(&since_latest, &settings.rules);
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

/// Run `compute` until it has the history it needs: in a shallow clone, deepen with
/// `git fetch --deepen` (then `--unshallow`) and retry when `fetch` is `auto`; otherwise fail
/// with exit 3 and a hint naming `fetch-depth: 0`. Never returns a result computed from
/// truncated history.
pub fn with_history<T, E: From<paved_core::Error>>(
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
            return Err(paved_core::Error::Shallow {
                detail: format!("{detail}; fetching is off (`--fetch never`)"),
            }
            .into());
        }
        attempt += 1;
        let result = if attempt <= 6 {
            paved_core::cli::warn(&format!(
                "shallow clone: {detail}; deepening by {deepen_by} commits from `{remote}` (`--fetch auto`)"
            ));
            repo.run_git(&[
                "fetch",
                "--quiet",
                "--tags",
                &format!("--deepen={deepen_by}"),
                remote,
            ])
        } else if attempt == 7 {
            paved_core::cli::warn(&format!(
                "shallow clone: still incomplete; fetching the full history from `{remote}`"
            ));
            repo.run_git(&["fetch", "--quiet", "--tags", "--unshallow", remote])
        } else {
            return Err(paved_core::Error::Shallow {
                detail: format!("{detail}, even after fetching the full history"),
            }
            .into());
        };
        if let Err(e) = result {
            return Err(paved_core::Error::Shallow {
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

/// Outputs for the CI sink.
pub fn outputs(plans: &[VersionPlan], all_packages: bool) -> Outputs {
    let mut o = Outputs::new();
    if let (false, [p]) = (all_packages, plans) {
        o.set("version", &p.version)
            .set(
                "previous-version",
                p.previous_version
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            )
            .set("tag", &p.tag)
            .set("bump", p.bump)
            .set("released", p.released)
            .set("commits", p.commits)
            .set("unparsed", p.unparsed);
    } else {
        let released: Vec<&str> = plans
            .iter()
            .filter(|p| p.released)
            .filter_map(|p| p.package.as_deref())
            .collect();
        o.set("released", !released.is_empty())
            .set("released-packages", released.join(" "));
        for p in plans {
            let name = p.package.as_deref().unwrap_or("root");
            o.set(&format!("{name}-version"), &p.version)
                .set(&format!("{name}-tag"), &p.tag)
                .set(&format!("{name}-bump"), p.bump)
                .set(&format!("{name}-released"), p.released);
        }
    }
    o
}

/// A short human summary of one plan (stderr and the job summary).
pub fn summary(p: &VersionPlan, verbose: bool) -> String {
    let mut s = String::new();
    let who = p
        .package
        .as_deref()
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
    let prev = p.previous_tag.as_deref().unwrap_or("no previous release");
    if p.released {
        let _ = write!(
            s,
            "{who}{} -> {} ({} bump; {} commits since {prev}",
            p.previous_version
                .as_ref()
                .map_or("none".into(), ToString::to_string),
            p.version,
            p.bump,
            p.commits
        );
    } else {
        let _ = write!(
            s,
            "{who}nothing to release: {} stays ({} commits since {prev}",
            p.version, p.commits
        );
    }
    if p.unparsed > 0 {
        let _ = write!(s, ", {} not conventional", p.unparsed);
    }
    s.push(')');
    if verbose {
        for c in &p.changes {
            let short = &c.sha[..7.min(c.sha.len())];
            let note = if let Some(r) = &c.unparsed {
                format!("unparsed: {r}")
            } else if let Some(by) = &c.cancelled_by {
                format!("cancelled by {}", &by[..7.min(by.len())])
            } else {
                c.bump.to_string()
            };
            let _ = write!(s, "\n  {short} {} [{note}]", c.summary);
        }
    }
    s
}

fn tagger(repo: &Repo) -> Result<(String, String)> {
    if let Some(id) = repo.committer() {
        return Ok(id);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        return Ok((
            "github-actions[bot]".into(),
            "41898282+github-actions[bot]@users.noreply.github.com".into(),
        ));
    }
    if let (Some(name), Some(email)) = (env("GITLAB_USER_NAME"), env("GITLAB_USER_EMAIL")) {
        return Ok((name, email));
    }
    Err(Error::Usage(
        "--tag needs a tagger identity: set `git config user.name` and `git config user.email` \
         (or GIT_COMMITTER_NAME / GIT_COMMITTER_EMAIL)"
            .into(),
    ))
}

/// Create (and push) the tag of a released plan. Idempotent; a tag on another commit is refused.
fn tag_and_push(repo: &Repo, plan: &VersionPlan, push: bool, remote: &str) -> Result<()> {
    let head = repo.head()?;
    let who = tagger(repo)?;
    let message = format!("Release {}", plan.tag);
    let created = repo.create_annotated_tag(&plan.tag, head, &message, (&who.0, &who.1))?;
    if created {
        paved_core::cli::info(&format!(
            "created tag `{}` on {}",
            plan.tag,
            &plan.head[..7]
        ));
    } else {
        paved_core::cli::info(&format!(
            "tag `{}` is already on {}; nothing to do",
            plan.tag,
            &plan.head[..7]
        ));
    }
    if push {
        let refname = format!("refs/tags/{}", plan.tag);
        let remote_state = repo.run_git(&["ls-remote", "--tags", remote, &refname])?;
        let local_tag_object = repo.run_git(&["rev-parse", &refname])?;
        let remote_obj = remote_state.split_whitespace().next();
        match remote_obj {
            Some(obj) if obj == local_tag_object.trim() => {
                paved_core::cli::info(&format!("`{}` is already on `{remote}`", plan.tag));
            }
            Some(obj) => {
                // The remote may hold a different tag object for the same commit (re-created tag).
                let peeled = repo.run_git(&["ls-remote", remote, &format!("{refname}^{{}}")])?;
                let remote_commit = peeled.split_whitespace().next().unwrap_or(obj);
                if remote_commit == plan.head {
                    paved_core::cli::info(&format!(
                        "`{}` is already on `{remote}` at the same commit",
                        plan.tag
                    ));
                } else {
                    return Err(paved_core::Error::Refused {
                        message: format!("tag `{}` already exists on `{remote}` at commit {remote_commit}, not {}", plan.tag, plan.head),
                        hint: Some("a release tag never moves; find out who released it, or release another version".into()),
                    }
                    .into());
                }
            }
            None => {
                repo.run_git(&["push", "--quiet", remote, &refname])?;
                paved_core::cli::info(&format!("pushed `{}` to `{remote}`", plan.tag));
            }
        }
    }
    Ok(())
}

/// Run the command line. Returns the exit code for non-error outcomes.
pub fn run(args: Args) -> Result<u8> {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let mut repo = Repo::discover(&args.repo)?;
    let (config, _) = PavedConfig::load(args.config.as_deref(), repo.root())?;
    match args.command {
        Some(Command::Lint(lint_args)) => lint::run(&repo, &config.version, &lint_args),
        None => run_next(&mut repo, &config.version, &args.next, in_ci),
    }
}

fn run_next(repo: &mut Repo, file: &VersionConfig, args: &NextArgs, in_ci: bool) -> Result<u8> {
    let settings = Settings::resolve(args, file, in_ci)?;
    let sink = CiSink::from_env(args.dotenv.clone());
    let plans = plan(repo, &settings)?;
    let all_packages = settings.scopes.len() > 1
        || (args.package.is_none() && settings.scopes[0].0.name.is_some());

    if args.write {
        for (plan, (scope, extra)) in plans.iter().zip(&settings.scopes) {
            if plan.released {
                let mut list: Vec<String> = extra.clone();
                if scope.name.is_none() {
                    list.extend(settings.files.iter().cloned());
                }
                let written = files::write_versions(
                    repo.root(),
                    scope.path.as_deref(),
                    &list,
                    &plan.version,
                )?;
                for f in written {
                    paved_core::cli::info(&format!("set version {} in `{f}`", plan.version));
                }
            }
        }
    }
    if args.tag || args.push {
        for plan in plans.iter().filter(|p| p.released) {
            tag_and_push(repo, plan, args.push, &settings.remote)?;
        }
    }

    for w in sink.write_outputs(&outputs(&plans, all_packages))? {
        paved_core::cli::warn(&w);
    }
    let mut md = String::from("### paved-version\n\n");
    for p in &plans {
        let _ = writeln!(md, "- {}", summary(p, false));
        paved_core::cli::info(&summary(p, args.verbose));
    }
    sink.write_summary(&md)?;

    let stdout = if args.json {
        let value = if all_packages {
            serde_json::json!({ "packages": plans })
        } else {
            serde_json::to_value(&plans[0]).expect("plain data serialises")
        };
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("plain data serialises")
        )
    } else if all_packages {
        plans
            .iter()
            .map(|p| format!("{} {}\n", p.package.as_deref().unwrap_or("root"), p.version))
            .collect()
    } else {
        format!("{}\n", plans[0].version)
    };
    paved_core::cli::print_stdout(&stdout)?;
    Ok(paved_core::exit::OK)
}

/// Parse the process arguments and run (the binary's whole `main`).
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, run)
}

/// The path of a version file relative to `root`, as shown to people.
pub(crate) fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
