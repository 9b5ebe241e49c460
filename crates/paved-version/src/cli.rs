//! Command-line definition. It lives in the library so that the GitHub Action inputs and the
//! GitLab component `spec:inputs` can be generated from it.

use clap::builder::BoolishValueParser;
use clap::{Args as ClapArgs, Parser, Subcommand};

/// The next semantic version from Conventional Commits.
///
/// Reads the history since the latest release tag reachable from HEAD, classifies each commit,
/// and prints the next version. With --tag and --push it releases it; with --write it sets it in
/// Cargo.toml, package.json and pyproject.toml.
///
/// Exit codes: 0 ok (also "nothing to release"), 1 refused (tag exists elsewhere, lint failed),
/// 2 usage or config error, 3 git or environment failure (e.g. shallow history).
#[derive(Debug, Parser)]
#[command(name = "paved-version", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub repo: paved_core::flags::RepoArg,

    #[command(flatten)]
    pub config: paved_core::flags::ConfigArg,

    #[command(flatten)]
    pub next: NextArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that messages follow Conventional Commits (PR titles, commit ranges).
    Lint(LintArgs),
    /// Replay past releases and find the config that reproduces them best.
    ///
    /// At each release tag, paved computes the bump it would have proposed from the history up to
    /// that tag and compares it with the bump that was released. Every tag scheme the tags use,
    /// `zero-feat` (minor|patch) and `default-bump` (none|patch) is tried; the best is printed
    /// with its score and its disagreements, and --write adds it to paved.toml.
    Calibrate(CalibrateArgs),
}

/// Options for computing (and releasing) the next version.
#[derive(Debug, Clone, ClapArgs, Default)]
pub struct NextArgs {
    /// Compute only this monorepo package (see `[[version.package]]`).
    #[arg(long, env = "PAVED_PACKAGE", value_name = "NAME")]
    pub package: Option<String>,

    /// Tag template for the repository [default: v{version}].
    #[arg(long, env = "PAVED_TAG_TEMPLATE", value_name = "TEMPLATE")]
    pub tag_template: Option<String>,

    /// Version assumed before the first release tag [default: 0.0.0].
    #[arg(long, env = "PAVED_INITIAL_VERSION", value_name = "VERSION")]
    pub initial_version: Option<semver::Version>,

    /// Make a pre-release with this identifier: 1.2.3 + feat -> 1.3.0-rc.1, then -rc.2.
    #[arg(long, env = "PAVED_PRE", value_name = "ID")]
    pub pre: Option<String>,

    /// Build metadata to append: 1.3.0+<META>. Not part of the tag.
    #[arg(long, env = "PAVED_BUILD", value_name = "META")]
    pub build: Option<String>,

    /// Release exactly this version instead of the computed one (e.g. 1.0.0 to leave 0.x).
    #[arg(long, env = "PAVED_RELEASE_AS", value_name = "VERSION")]
    pub release_as: Option<semver::Version>,

    /// Deepen a shallow clone with git fetch when history is missing [default: auto in CI, else never].
    #[arg(long, env = "PAVED_FETCH", value_name = "MODE")]
    pub fetch: Option<Fetch>,

    /// Remote to fetch from and push tags to [default: origin].
    #[arg(long, env = "PAVED_REMOTE", value_name = "NAME")]
    pub remote: Option<String>,

    /// Create an annotated tag for the new version on HEAD (no-op if it is already there).
    #[arg(long, env = "PAVED_VERSION_TAG", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub tag: bool,

    /// Push the tag to the remote (implies --tag).
    #[arg(long, env = "PAVED_PUSH", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub push: bool,

    /// Set the new version in Cargo.toml, package.json, pyproject.toml and configured files. With --tag or --push, commit them first and tag that commit.
    #[arg(long, env = "PAVED_WRITE", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub write: bool,

    /// Message of the release commit that --write --tag makes; `{version}` and `{tag}` are replaced [default: chore(release): {version}].
    #[arg(long, env = "PAVED_COMMIT_MESSAGE", value_name = "TEMPLATE")]
    pub commit_message: Option<String>,

    #[command(flatten)]
    pub result: paved_core::flags::OutputArgs,

    /// List every commit considered, and the unparsed ones.
    #[arg(short, long, env = "PAVED_VERBOSE", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub verbose: bool,
}

impl NextArgs {
    /// The flags that choose the release, for [`paved_core::release::Settings::resolve`].
    pub fn release_options(&self) -> paved_core::release::ReleaseOptions {
        paved_core::release::ReleaseOptions {
            package: self.package.clone(),
            tag_template: self.tag_template.clone(),
            initial_version: self.initial_version.clone(),
            pre: self.pre.clone(),
            build: self.build.clone(),
            release_as: self.release_as.clone(),
            fetch: self.fetch,
            remote: self.remote.clone(),
        }
    }
}

impl Args {
    /// `PAVED_TAG` was `--tag`'s twin until paved-changelog's `--tag` (a tag name) was found to
    /// read it too. A switch value in it still turns `--tag` on, with a warning; a tag name,
    /// meant for paved-changelog, is left alone.
    pub fn apply_deprecated_env(&mut self) {
        if self.next.tag || std::env::var_os("PAVED_VERSION_TAG").is_some() {
            return;
        }
        let Some(value) = std::env::var("PAVED_TAG").ok().filter(|v| !v.is_empty()) else {
            return;
        };
        let on = match value.to_ascii_lowercase().as_str() {
            "y" | "yes" | "t" | "true" | "on" | "1" => true,
            "n" | "no" | "f" | "false" | "off" | "0" => false,
            _ => return,
        };
        paved_core::cli::warn(
            "`PAVED_TAG` is deprecated for paved-version (paved-changelog reads a tag name from \
             it); set `PAVED_VERSION_TAG` instead",
        );
        self.next.tag = on;
    }
}

/// `--fetch` modes: how a shallow clone is deepened, the same values as `fetch` in paved.toml.
pub use paved_core::config::FetchMode as Fetch;

/// Options for `lint`.
#[derive(Debug, Clone, ClapArgs)]
pub struct LintArgs {
    /// Messages to check (`-` reads one message from stdin).
    #[arg(value_name = "MESSAGE", conflicts_with = "range")]
    pub messages: Vec<String>,

    /// Check every non-merge commit in a range, e.g. origin/main..HEAD.
    #[arg(long, env = "PAVED_RANGE", value_name = "A..B")]
    pub range: Option<String>,
}

/// Options for `calibrate`.
#[derive(Debug, Clone, ClapArgs)]
pub struct CalibrateArgs {
    /// Add the best settings to `[version]` of paved.toml (created if missing), keeping the rest of the file.
    // The same twin as the release's `--write`: both write what the command found into the
    // repository's files, and the action passes both through its one `write` input.
    #[arg(long, env = "PAVED_WRITE", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub write: bool,

    /// Replay only the newest N releases of each tag scheme; lower it when calibrate reports a
    /// history too large for its memory budget.
    #[arg(long, env = "PAVED_MAX_RELEASES", value_name = "N", default_value_t = crate::calibrate::DEFAULT_MAX_RELEASES, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_releases: u32,

    /// Bytes calibrate may use for its per-commit release sets (tests use a tiny one).
    #[arg(long, value_name = "BYTES", hide = true, default_value_t = crate::calibrate::MEMORY_BUDGET)]
    pub memory_budget: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (duplicate flags, a global flag shadowed by a subcommand's,
    /// bad defaults), which otherwise only fire when a user hits the broken path.
    #[test]
    fn the_command_line_is_consistent() {
        super::Args::command().debug_assert();
    }
}
