//! paved-changelog: release notes and CHANGELOG.md from git history.
//!
//! The release ranges and commit classification come from paved-core's [`range`] module (paved-version uses the same one), so a
//! commit is parsed once and both tools always agree on what a release contains:
//! - the unreleased range: since the latest stable release (since the latest release of any kind
//!   when titling a pre-release), titled with the next version;
//! - `--tag vX`: from the previous release to `vX` (previous stable release for a stable `vX`, so
//!   1.3.0's notes include everything its release candidates had);
//! - `--all`: the chain of releases reachable from HEAD, each section from its predecessor.
//!
//! [`range`]: paved_core::release::range

pub mod cli;
pub mod context;
pub mod error;
pub mod file;
pub mod forge;
pub mod render;

use std::fmt::Write as _;

use paved_core::ci::{CiSink, Outputs, Platform};
use paved_core::config::PavedConfig;
use paved_core::git::{Oid, Repo};
use paved_core::release::range::{self, Candidate, Incomplete, Scope};
use paved_core::release::{Dependency, DependencyBump, ReleaseOptions, Settings};

use crate::cli::Args;
use crate::context::{BuildOptions, Context, Release, ReleaseMeta, Repository, SectionRules};
pub use crate::error::{Error, Result};
use crate::render::Renderer;
use paved_forge::connect::repository;
use paved_forge::links::Links;

/// Which releases to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Changes since the last release.
    Unreleased,
    /// One tagged release.
    Tag(String),
    /// Every release in history, plus unreleased changes.
    All,
}

/// A release's commits and metadata, before its section is built (see [`Plan::build`]).
#[derive(Debug)]
pub struct ReleaseInput {
    /// Title, version, tags, date.
    pub meta: ReleaseMeta,
    /// The classified commits.
    pub range: paved_core::release::range::CommitRange,
}

/// Everything needed to turn history into release sections.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Version settings (tag template, initial version, pre-release, type map).
    pub settings: &'a Settings,
    /// The package's scope.
    pub scope: &'a Scope,
    /// Section rules.
    pub sections: &'a SectionRules,
    /// Links.
    pub links: &'a Links,
    /// Split squash bodies.
    pub split_squash: bool,
    /// Which configured package depends on which ([`paved_core::workspace`]): a package is
    /// released when a dependency is, as paved-version plans it.
    pub dependencies: &'a [Dependency],
}

impl Plan<'_> {
    /// Build the section of one release.
    pub fn build(&self, input: &ReleaseInput) -> Release {
        context::release(input.meta.clone(), &input.range, self.opts())
    }

    fn opts(&self) -> BuildOptions<'_> {
        BuildOptions {
            sections: self.sections,
            rules: self.settings.rules_for(self.scope),
            links: self.links,
            split_squash: self.split_squash,
        }
    }

    fn candidates(&self, repo: &Repo) -> Result<Vec<Candidate>> {
        let template = &self.scope.template;
        let tags = repo.tags_matching(|name| template.parse(name).is_some())?;
        Ok(range::release_tags(&tags, template))
    }

    /// Build the release sections for `mode`, or report missing (shallow) history.
    pub fn releases(&self, repo: &Repo, mode: &Mode) -> Result<Result<Vec<Release>, Incomplete>> {
        let mut out = Vec::new();
        Ok(self
            .each_release(repo, mode, &mut |input| {
                out.push(self.build(&input));
                Ok(())
            })?
            .map(|()| out))
    }

    /// Hand each release section to `sink`, newest first, as soon as it is built, so `--all` on
    /// a long history never holds every commit in memory at once.
    pub fn each_release(
        &self,
        repo: &Repo,
        mode: &Mode,
        sink: &mut dyn FnMut(ReleaseInput) -> Result<()>,
    ) -> Result<Result<(), Incomplete>> {
        let candidates = self.candidates(repo)?;
        let dependencies = self.dependency_candidates(repo)?;
        match mode {
            Mode::Unreleased => match self.unreleased(repo)? {
                Ok((r, _)) => sink(r).map(Ok),
                Err(e) => Ok(Err(e)),
            },
            Mode::Tag(name) => {
                let Some(i) = candidates.iter().position(|c| &c.name == name) else {
                    return Err(self.missing_tag(repo, name));
                };
                let commit = repo.peel_to_commit(candidates[i].target)?.ok_or_else(|| {
                    Error::Usage(format!(
                        "tag `{name}` does not point at a commit, so it is not a release"
                    ))
                })?;
                match self.tagged(repo, &candidates, &dependencies, i, commit)? {
                    Ok((r, _)) => sink(r).map(Ok),
                    Err(e) => Ok(Err(e)),
                }
            }
            Mode::All => {
                let (unreleased, mut next) = match self.unreleased(repo)? {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)),
                };
                // A release made only because a workspace dependency is released has no
                // commits of its own, and still gets its section.
                let by_dependency =
                    unreleased.meta.version.is_some() && !unreleased.meta.dependencies.is_empty();
                if by_dependency
                    || unreleased
                        .range
                        .commits
                        .iter()
                        .any(|c| c.cancelled_by.is_none())
                {
                    sink(unreleased)?;
                }
                // Follow the chain of releases back from the latest reachable one. The index
                // keeps each step O(1) in the number of tags (1M tags: one pass, not 10^12).
                let index: std::collections::HashMap<&str, usize> = candidates
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name.as_str(), i))
                    .collect();
                while let Some((name, commit)) = next {
                    let Some(&i) = index.get(name.as_str()) else {
                        return Err(self.missing_tag(repo, &name));
                    };
                    let (release, base) =
                        match self.tagged(repo, &candidates, &dependencies, i, commit)? {
                            Ok(x) => x,
                            Err(e) => return Ok(Err(e)),
                        };
                    sink(release)?;
                    next = base;
                }
                Ok(Ok(()))
            }
        }
    }

    fn missing_tag(&self, repo: &Repo, name: &str) -> Error {
        match repo.tag_target(name) {
            Ok(Some(_)) => Error::Usage(format!(
                "tag `{name}` does not match the tag template `{}`, so it is not a release tag here",
                self.scope.template.as_str()
            )),
            _ => Error::Usage(format!(
                "tag `{name}` does not exist in this repository; fetch tags (`git fetch --tags`) or check the name"
            )),
        }
    }

    /// The unreleased changes, and the latest release tag they follow (where `--all` continues).
    /// paved-version's analysis supplies both the title and the commits: one walk, not two.
    #[allow(clippy::type_complexity)]
    fn unreleased(
        &self,
        repo: &Repo,
    ) -> Result<Result<(ReleaseInput, Option<(String, Oid)>), Incomplete>> {
        let head = repo.head()?;
        let analysis = match paved_core::release::analyze_with_dependencies(
            repo,
            head,
            self.scope,
            self.settings,
            self.dependencies,
        )? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let plan = &analysis.plan;
        // A stable release's notes cover everything since the last stable release (folding in
        // its release candidates); a pre-release's cover what is new since the latest tag.
        let (base, range) = if plan.released && plan.version.pre.is_empty() {
            (analysis.stable, analysis.since_stable)
        } else {
            (analysis.latest.clone(), analysis.since_latest)
        };
        let version = plan.released.then(|| {
            let mut v = plan.version.clone();
            v.build = semver::BuildMetadata::EMPTY;
            v
        });
        let meta = ReleaseMeta {
            title: version
                .as_ref()
                .map_or_else(|| "Unreleased".to_owned(), ToString::to_string),
            tag: plan.released.then(|| plan.tag.clone()),
            version,
            previous_tag: base.as_ref().map(|t| t.name.clone()),
            time: repo.commit(head)?.commit_time,
            dependencies: plan.dependencies.clone(),
        };
        let latest = analysis.latest.map(|t| (t.name, t.commit));
        Ok(Ok((ReleaseInput { meta, range }, latest)))
    }

    /// The release tags of each workspace dependency of this package, read once for every
    /// release [`Plan::each_release`] builds.
    fn dependency_candidates(&self, repo: &Repo) -> Result<Vec<(String, Vec<Candidate>)>> {
        let Some(name) = self.scope.name.as_deref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for dep in self.dependencies.iter().filter(|d| d.dependent == name) {
            let Some(scope) = self.settings.package_scope(&dep.dependency) else {
                continue;
            };
            let template = &scope.template;
            let tags = repo.tags_matching(|n| template.parse(n).is_some())?;
            let candidates = range::release_tags(&tags, template);
            if !candidates.is_empty() {
                out.push((dep.dependency.clone(), candidates));
            }
        }
        Ok(out)
    }

    /// The workspace dependencies (`dependencies`: each one's release tags) whose latest release
    /// reachable from `commit` (a release of this package) is not the one reachable from `base`
    /// (the release before): what the release was built against that the one before was not.
    /// Nothing for a first release.
    fn released_dependencies(
        repo: &Repo,
        dependencies: &[(String, Vec<Candidate>)],
        commit: Oid,
        base: Option<Oid>,
    ) -> Result<Result<Vec<DependencyBump>, Incomplete>> {
        let mut out = Vec::new();
        let Some(base) = base else {
            return Ok(Ok(out));
        };
        for (name, candidates) in dependencies {
            let now = match range::find_bases(repo, commit, candidates)? {
                Ok(b) => b.latest,
                Err(e) => return Ok(Err(e)),
            };
            let before = match range::find_bases(repo, base, candidates)? {
                Ok(b) => b.latest,
                Err(e) => return Ok(Err(e)),
            };
            if let Some(now) = now
                && before.as_ref().is_none_or(|b| b.version < now.version)
            {
                out.push(DependencyBump {
                    name: name.clone(),
                    from: before.map(|b| b.version),
                    to: now.version,
                });
            }
        }
        Ok(Ok(out))
    }

    /// The release of `candidates[i]` (on `commit`), and the tag its range starts after.
    #[allow(clippy::type_complexity)]
    fn tagged(
        &self,
        repo: &Repo,
        candidates: &[Candidate],
        dependencies: &[(String, Vec<Candidate>)],
        i: usize,
        commit: Oid,
    ) -> Result<Result<(ReleaseInput, Option<(String, Oid)>), Incomplete>> {
        let tag = &candidates[i];
        // Earlier releases only: lower versions, never the tag itself.
        // `candidates` is sorted highest first, so the older ones are a suffix.
        let from = candidates.partition_point(|c| c.version >= tag.version);
        let mut bases = match range::find_bases(repo, commit, &candidates[from..])? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let base = if tag.version.pre.is_empty() {
            bases.stable.take()
        } else {
            bases.latest.take()
        };
        let known = bases.take_range(base.as_ref().map(|t| t.commit));
        let range = match range::collect(
            repo,
            commit,
            base.as_ref().map(|t| t.commit),
            self.scope.path.as_deref(),
            known,
        )? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let dependencies = match Self::released_dependencies(
            repo,
            dependencies,
            commit,
            base.as_ref().map(|t| t.commit),
        )? {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        let meta = ReleaseMeta {
            title: tag.version.to_string(),
            version: Some(tag.version.clone()),
            tag: Some(tag.name.clone()),
            previous_tag: base.as_ref().map(|t| t.name.clone()),
            time: repo.commit(commit)?.commit_time,
            dependencies,
        };
        Ok(Ok((
            ReleaseInput { meta, range },
            base.map(|t| (t.name, t.commit)),
        )))
    }
}

/// Run the command line; returns the exit code for non-error outcomes.
pub fn run(args: &Args) -> Result<u8> {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let mut repo = Repo::discover(&args.repo.repo)?;
    let (config, _) = PavedConfig::load(args.config.config.as_deref(), repo.root())?;
    let next = ReleaseOptions {
        package: args.package.clone(),
        tag_template: args.tag_template.clone(),
        pre: args.pre.clone(),
        release_as: args.release_as.clone(),
        fetch: args.fetch,
        remote: args.remote.clone(),
        ..ReleaseOptions::default()
    };
    let mut settings = Settings::resolve(&next, &config.version, in_ci)?;
    settings.check_package_paths(&repo)?;
    let tags = settings.adopt_tag_scheme(&repo)?;
    tags.notes.iter().for_each(|n| paved_core::cli::info(n));
    tags.warnings.iter().for_each(|w| paved_core::cli::warn(w));
    if settings.scopes.len() > 1 {
        let names: Vec<String> = settings
            .scopes
            .iter()
            .filter_map(|(s, _)| s.name.clone())
            .collect();
        return Err(Error::Usage(format!(
            "this repository has several packages ({}); choose one with `--package NAME`",
            names.join(", ")
        )));
    }
    let scope = settings.scopes[0].0.clone();
    let publish = args.publish.map(|p| match p {
        cli::Publish::Github => paved_forge::ForgeKind::GitHub,
        cli::Publish::Gitlab => paved_forge::ForgeKind::GitLab,
    });
    // Publishing without a chosen template uses that forge's release-body template.
    let template = args
        .template
        .as_deref()
        .or(config.changelog.template.as_deref())
        .or(args.publish.map(|p| match p {
            cli::Publish::Github => "github",
            cli::Publish::Gitlab => "gitlab",
        }))
        .unwrap_or("markdown");
    let renderer = Renderer::new(template)?;
    let links = repository(&repo, config.changelog.repository_url.as_deref());
    let sections = SectionRules::new(&config.changelog.sections);
    let dependencies = paved_core::workspace::dependencies(repo.root(), &config.version.package)?;
    let plan = Plan {
        settings: &settings,
        scope: &scope,
        sections: &sections,
        links: &links,
        split_squash: args.split_squash || config.changelog.split_squash.unwrap_or(false),
        dependencies: &dependencies,
    };
    let mode = match (&args.tag, args.all) {
        (Some(t), _) => Mode::Tag(t.clone()),
        (None, true) => Mode::All,
        (None, false) => Mode::Unreleased,
    };
    let repository = Repository {
        url: links.base.clone(),
        forge: links.forge.map(|f| f.to_string()),
    };
    if args.context {
        let releases = paved_core::release::with_history(
            &mut repo,
            settings.fetch,
            &settings.remote,
            |repo| plan.releases(repo, &mode),
        )?;
        let context = Context {
            repository,
            releases,
        };
        let text = serde_json::to_string_pretty(&context).expect("plain data serialises");
        paved_core::cli::print_stdout(&format!("{text}\n"))?;
        return Ok(paved_core::exit::OK);
    }

    let sink = CiSink::from_env(args.result.dotenv.clone());
    // A token only enriches single releases: `--all` would cost an API call per commit.
    let enricher = if mode == Mode::All {
        None
    } else {
        paved_forge::connect::for_enrichment(publish, &links, &sink)
    };
    let (rendered, summaries) = render_all(
        &mut repo,
        &plan,
        &mode,
        &renderer,
        &repository,
        enricher.as_deref(),
    )?;
    let notes = rendered.join("\n");

    // Nothing released and nothing shown since the last release: no empty section is written.
    let nothing_new = mode == Mode::Unreleased
        && summaries
            .first()
            .is_some_and(|s| s.version.is_none() && s.entries == 0);
    if let (Some(path), true) = (&args.output, nothing_new) {
        let since = summaries
            .first()
            .and_then(|s| s.previous_tag.as_deref())
            .map_or_else(|| "in history".to_owned(), |t| format!("since `{t}`"));
        paved_core::cli::info(&format!(
            "nothing new to note {since}: `{}` is left as it is",
            path.display()
        ));
    } else if let Some(path) = &args.output {
        let existing = paved_core::fs::read_for_rewrite(path)?;
        if rendered
            .iter()
            .any(|r| r.lines().next().and_then(file::heading_key).is_none())
        {
            return Err(Error::Usage(format!(
                "the `{}` template does not start with a `## <version>` heading, so its sections cannot be placed in `{}`; use `--template markdown` (or a template whose sections start with `## [version]`)",
                template,
                path.display()
            )));
        }
        let header = config
            .changelog
            .header
            .as_deref()
            .unwrap_or(file::DEFAULT_HEADER);
        let updated = file::upsert(existing.as_deref(), &rendered, header);
        if existing.as_deref() != Some(updated.as_str()) {
            paved_core::fs::write_atomic(path, updated.as_bytes())?;
            paved_core::cli::info(&format!("updated `{}`", path.display()));
        } else {
            paved_core::cli::info(&format!("`{}` is already up to date", path.display()));
        }
    }

    let first = summaries.first();
    let mut release_url = None;
    if let (Some(kind), Some(first)) = (publish, first) {
        let forge = paved_forge::connect::connect(kind, &links)?;
        forge.mask_token(&sink);
        let (url, created) = forge::publish(
            forge.as_ref(),
            first.tag.as_deref(),
            first.prerelease,
            &notes,
            &args.assets,
        )?;
        let verb = if created { "created" } else { "updated" };
        paved_core::cli::info(&format!("{verb} the {kind} release {url}"));
        release_url = Some(url);
    }
    let mut outputs = Outputs::new();
    outputs
        .set(
            "version",
            first.and_then(|r| r.version.clone()).unwrap_or_default(),
        )
        .set("tag", first.and_then(|r| r.tag.clone()).unwrap_or_default())
        .set(
            "previous-tag",
            first
                .and_then(|r| r.previous_tag.clone())
                .unwrap_or_default(),
        )
        .set("prerelease", first.is_some_and(|r| r.prerelease))
        .set("commits", first.map_or(0, |r| r.commits))
        .set("unparsed", first.map_or(0, |r| r.unparsed))
        .set("release-url", release_url.unwrap_or_default());
    if sink.platform() == Platform::GitHub {
        // Multi-line values are fine in $GITHUB_OUTPUT; a dotenv report cannot hold them.
        outputs.set("notes", &notes);
    }
    for w in sink.write_outputs(&outputs)? {
        paved_core::cli::warn(&w);
    }
    let mut text = String::new();
    for (i, r) in summaries.iter().enumerate() {
        if i == 20 {
            let _ = writeln!(text, "… and {} more releases", summaries.len() - 20);
            break;
        }
        let noun = if r.entries == 1 { "entry" } else { "entries" };
        let _ = write!(
            text,
            "{}: {} {noun} from {} commits",
            r.title, r.entries, r.commits
        );
        if r.breaking > 0 {
            let _ = write!(text, ", {} breaking", r.breaking);
        }
        if r.dependencies > 0 {
            let noun = if r.dependencies == 1 {
                "dependency"
            } else {
                "dependencies"
            };
            let _ = write!(text, ", {} {noun} released", r.dependencies);
        }
        if r.unparsed > 0 {
            let _ = write!(text, ", {} not conventional (left out)", r.unparsed);
        }
        text.push('\n');
    }
    paved_core::cli::info(text.trim_end());
    if sink.platform() == Platform::GitHub && !args.result.json {
        sink.write_summary(&notes)?;
    }

    if args.result.json {
        let value = serde_json::json!({
            "version": first.and_then(|r| r.version.clone()),
            "tag": first.and_then(|r| r.tag.clone()),
            "previous_tag": first.and_then(|r| r.previous_tag.clone()),
            "prerelease": first.is_some_and(|r| r.prerelease),
            "notes": notes,
        });
        paved_core::cli::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("plain data")
        ))?;
    } else if args.output.is_none() {
        paved_core::cli::print_stdout(&notes)?;
    }
    Ok(paved_core::exit::OK)
}

/// Parse the process arguments and run (the binary's whole `main`).
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, |mut args: Args| {
        args.apply_deprecated_env();
        run(&args)
    })
}

/// What is kept of a release once it is rendered: outputs and the stderr summary.
#[derive(Debug, Clone)]
struct Summary {
    title: String,
    version: Option<String>,
    tag: Option<String>,
    previous_tag: Option<String>,
    prerelease: bool,
    entries: usize,
    breaking: usize,
    dependencies: usize,
    unparsed: usize,
    commits: usize,
}

impl Summary {
    fn of(r: &Release) -> Summary {
        Summary {
            title: r.title.clone(),
            version: r.version.clone(),
            tag: r.tag.clone(),
            previous_tag: r.previous_tag.clone(),
            prerelease: r.prerelease,
            entries: r.sections.iter().map(|s| s.entries.len()).sum(),
            breaking: r.breaking.len(),
            dependencies: r.dependencies.len(),
            unparsed: r.unparsed.len(),
            commits: r.commit_count,
        }
    }
}

enum Message {
    /// History was deepened and the releases are being built again: drop what came before.
    Restart,
    Release(Box<ReleaseInput>),
}

/// Read history on this thread; build, enrich and render each release on another as soon as
/// its commits are known. For `--all` on a long history the two halves overlap, and only
/// rendered text (not every commit) is kept.
fn render_all(
    repo: &mut Repo,
    plan: &Plan<'_>,
    mode: &Mode,
    renderer: &Renderer,
    repository: &Repository,
    enricher: Option<&dyn paved_forge::Forge>,
) -> Result<(Vec<String>, Vec<Summary>)> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Message>(32);
        let worker = scope.spawn(move || -> Result<(Vec<String>, Vec<Summary>)> {
            let mut rendered = Vec::new();
            let mut summaries = Vec::new();
            for message in rx {
                match message {
                    Message::Restart => {
                        rendered.clear();
                        summaries.clear();
                    }
                    Message::Release(input) => {
                        let mut release = plan.build(&input);
                        drop(input);
                        if let Some(forge) = enricher {
                            forge::enrich(&mut release, forge, plan.links);
                        }
                        rendered.push(renderer.render(&release, repository)?);
                        summaries.push(Summary::of(&release));
                    }
                }
            }
            Ok((rendered, summaries))
        });
        let stopped = || Error::RendererStopped;
        let built = paved_core::release::with_history(
            repo,
            plan.settings.fetch,
            &plan.settings.remote,
            |repo| {
                tx.send(Message::Restart).map_err(|_| stopped())?;
                plan.each_release(repo, mode, &mut |input| {
                    tx.send(Message::Release(Box::new(input)))
                        .map_err(|_| stopped())
                })
            },
        );
        drop(tx);
        let rendered = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A rendering error explains a stopped producer better than "the renderer stopped".
        let rendered = rendered?;
        built?;
        Ok(rendered)
    })
}
