//! paved-version: the next semantic version from Conventional Commits.
//!
//! [`paved_core::release::plan`] computes a [`VersionPlan`] per package from history (the release
//! range lives in paved-core, because paved-changelog and paved-change compute the same one);
//! [`run`] is the whole command: plan, then optionally write version files, tag, push, and report
//! through the CI sink.

pub mod calibrate;
pub mod cli;
pub mod error;
pub mod files;
pub mod lint;
pub mod workspace;

use std::fmt::Write as _;
use std::path::Path;

use paved_core::ci::{CiSink, Outputs};
use paved_core::config::{PavedConfig, VersionConfig};
use paved_core::git::Repo;
pub use paved_core::release::{Settings, VersionPlan, plan, plan_with_dependencies};

pub use crate::cli::NextArgs;
use crate::cli::{Args, Command};
pub use crate::error::{Error, Result};

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
    for d in &p.dependencies {
        let _ = write!(s, "; {d}");
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

/// The release commit's message when neither `--commit-message` nor paved.toml sets one.
const DEFAULT_COMMIT_MESSAGE: &str = "chore(release): {version}";

/// `template` with `{version}` and `{tag}` replaced; several released packages are listed
/// together, comma-separated.
fn commit_message(template: &str, plans: &[VersionPlan]) -> String {
    let released: Vec<&VersionPlan> = plans.iter().filter(|p| p.released).collect();
    let join = |f: &dyn Fn(&VersionPlan) -> String| {
        released.iter().map(|p| f(p)).collect::<Vec<_>>().join(", ")
    };
    let version = if released.len() == 1 {
        released[0].version.to_string()
    } else {
        join(&|p| p.tag.clone())
    };
    template
        .replace("{version}", &version)
        .replace("{tag}", &join(&|p| p.tag.clone()))
}

/// Refuse to start a release commit on a tree with uncommitted changes to tracked files: they
/// would be released without review, or the tag would not hold what the tree shows.
fn refuse_dirty_tree(repo: &Repo) -> Result<()> {
    let status = repo.run_git(&["status", "--porcelain=v1", "--untracked-files=no"])?;
    let dirty: Vec<&str> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .filter(|f| !f.is_empty())
        .collect();
    if dirty.is_empty() {
        return Ok(());
    }
    let shown = dirty
        .iter()
        .take(5)
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let more = if dirty.len() > 5 {
        format!(" and {} more", dirty.len() - 5)
    } else {
        String::new()
    };
    Err(paved_core::Error::Usage(format!(
        "the working tree has uncommitted changes ({shown}{more}); `--write --tag` commits the \
         version files and tags that commit, so commit or stash those changes first"
    ))
    .into())
}

/// Commit the version files paved wrote; returns the new HEAD.
fn commit_release(repo: &mut Repo, files: &[String], message: &str) -> Result<String> {
    let who = tagger(repo)?;
    let mut add = vec!["add", "--"];
    add.extend(files.iter().map(String::as_str));
    repo.run_git(&add)?;
    let name = format!("user.name={}", who.0);
    let email = format!("user.email={}", who.1);
    repo.run_git(&[
        "-c",
        &name,
        "-c",
        &email,
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        message,
    ])?;
    repo.reopen()?;
    let head = repo.head()?.to_string();
    paved_core::cli::info(&format!("committed `{message}` as {}", &head[..7]));
    Ok(head)
}

/// Push the release commit to the branch it was made on (a detached CI checkout names its
/// branch through `GITHUB_REF_NAME` or `CI_COMMIT_BRANCH`).
fn push_branch(repo: &Repo, remote: &str) -> Result<()> {
    let from_git = repo
        .run_git(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .ok()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty());
    let from_ci = || {
        let github = (std::env::var("GITHUB_REF_TYPE").as_deref() == Ok("branch"))
            .then(|| std::env::var("GITHUB_REF_NAME").ok())
            .flatten();
        github.or_else(|| std::env::var("CI_COMMIT_BRANCH").ok())
    };
    let Some(branch) = from_git.or_else(from_ci).filter(|b| !b.is_empty()) else {
        return Err(paved_core::Error::Usage(
            "the release commit cannot be pushed: HEAD is not on a branch; check out the branch \
             to release from (or set GITHUB_REF_NAME / CI_COMMIT_BRANCH)"
                .into(),
        )
        .into());
    };
    paved_core::git::check_tag_name(&branch, "the branch to push the release commit to")?;
    let refspec = format!("HEAD:refs/heads/{branch}");
    repo.run_git(&["push", "--quiet", "--end-of-options", remote, &refspec])?;
    paved_core::cli::info(&format!(
        "pushed the release commit to `{branch}` on `{remote}`"
    ));
    Ok(())
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
        let remote_state =
            repo.run_git(&["ls-remote", "--tags", "--end-of-options", remote, &refname])?;
        let local_tag_object = repo.run_git(&["rev-parse", &refname])?;
        let remote_obj = remote_state.split_whitespace().next();
        match remote_obj {
            Some(obj) if obj == local_tag_object.trim() => {
                paved_core::cli::info(&format!("`{}` is already on `{remote}`", plan.tag));
            }
            Some(obj) => {
                // The remote may hold a different tag object for the same commit (re-created tag).
                let peeled = repo.run_git(&[
                    "ls-remote",
                    "--end-of-options",
                    remote,
                    &format!("{refname}^{{}}"),
                ])?;
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
                repo.run_git(&["push", "--quiet", "--end-of-options", remote, &refname])?;
                paved_core::cli::info(&format!("pushed `{}` to `{remote}`", plan.tag));
            }
        }
    }
    Ok(())
}

/// Run the command line. Returns the exit code for non-error outcomes.
pub fn run(args: Args) -> Result<u8> {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    // A message to lint needs no repository (a PR title check has no checkout).
    let command = args.command;
    if let Some(Command::Lint(lint_args)) = &command {
        return lint::run_at(
            &args.repo.repo,
            args.config.config.as_deref(),
            lint_args,
            args.next.result.json,
        );
    }
    let mut repo = Repo::discover(&args.repo.repo)?;
    if let Some(Command::Calibrate(calibrate_args)) = &command {
        return calibrate::run(
            &repo,
            args.config.config.as_deref(),
            calibrate_args,
            args.next.result.json,
        );
    }
    let (config, _) = PavedConfig::load(args.config.config.as_deref(), repo.root())?;
    run_next(&mut repo, &config.version, &args.next, in_ci)
}

fn run_next(repo: &mut Repo, file: &VersionConfig, args: &NextArgs, in_ci: bool) -> Result<u8> {
    let mut settings = Settings::resolve(&args.release_options(), file, in_ci)?;
    settings.check_package_paths(repo)?;
    let tags = settings.adopt_tag_scheme(repo)?;
    tags.notes.iter().for_each(|n| paved_core::cli::info(n));
    tags.warnings.iter().for_each(|w| paved_core::cli::warn(w));
    let sink = CiSink::from_env(args.result.dotenv.clone());
    let dependencies = paved_core::workspace::dependencies(repo.root(), &file.package)?;
    let plans = plan_with_dependencies(repo, &settings, &dependencies)?;
    let all_packages = settings.scopes.len() > 1
        || (args.package.is_none() && settings.scopes[0].0.name.is_some());

    let mut plans = plans;
    // With --tag or --push the version files are committed first, so the tag holds the bump.
    let commit = args.write && (args.tag || args.push) && plans.iter().any(|p| p.released);
    if commit {
        refuse_dirty_tree(repo)?;
    }
    let mut written_files = Vec::new();
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
                    written_files.push(f);
                }
            }
        }
    }
    if args.write {
        for f in workspace::write_requirements(repo.root(), &file.package, &plans)? {
            paved_core::cli::info(&format!(
                "set the requirements on released packages in `{f}`"
            ));
            if !written_files.contains(&f) {
                written_files.push(f);
            }
        }
    }
    if commit && !written_files.is_empty() {
        let template = args
            .commit_message
            .as_deref()
            .or(file.commit_message.as_deref())
            .unwrap_or(DEFAULT_COMMIT_MESSAGE);
        let message = commit_message(template, &plans);
        let head = commit_release(repo, &written_files, &message)?;
        for plan in plans.iter_mut().filter(|p| p.released) {
            plan.head = head.clone();
        }
        if args.push {
            push_branch(repo, &settings.remote)?;
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

    let stdout = if args.result.json {
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
    paved_core::cli::main(argv, |mut args: Args| {
        args.apply_deprecated_env();
        run(args)
    })
}

/// The path of a version file relative to `root`, as shown to people.
pub(crate) fn display(root: &Path, path: &Path) -> String {
    paved_core::workspace::display(root, path)
}
