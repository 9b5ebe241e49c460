//! Command-line definition (in the library so action inputs can be generated from it).

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, ValueEnum};

/// Release notes and CHANGELOG.md from git history.
///
/// By default: the notes for the unreleased changes (titled with the next version). --tag vX gives
/// the notes of a release (previous release..vX); --all every release in history. --output updates
/// CHANGELOG.md in place; --publish creates or updates the GitHub/GitLab release for --tag.
///
/// Works offline with no token; GITHUB_TOKEN / GITLAB_TOKEN only add logins and first-time
/// contributors.
///
/// Exit codes: 0 ok, 2 usage/config/template error, 3 git or API failure.
#[derive(Debug, Parser)]
#[command(name = "paved-changelog", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub repo: paved_core::flags::RepoArg,

    #[command(flatten)]
    pub config: paved_core::flags::ConfigArg,

    /// Notes for this release tag: from the previous release to it.
    #[arg(
        long,
        env = "PAVED_CHANGELOG_TAG",
        value_name = "TAG",
        conflicts_with = "all"
    )]
    pub tag: Option<String>,

    /// Every release in history, newest first (plus unreleased changes).
    #[arg(long, env = "PAVED_ALL", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub all: bool,

    /// Monorepo package (see `[[version.package]]`).
    #[arg(long, env = "PAVED_PACKAGE", value_name = "NAME")]
    pub package: Option<String>,

    /// Template: github, gitlab, markdown or plain, or a handlebars file [default: markdown].
    #[arg(long, env = "PAVED_TEMPLATE", value_name = "NAME|FILE")]
    pub template: Option<String>,

    /// Print the JSON the templates see, instead of notes.
    #[arg(long, env = "PAVED_CONTEXT", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub context: bool,

    /// Insert the notes into this file (e.g. CHANGELOG.md), replacing the same version's section.
    #[arg(short, long, env = "PAVED_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Create or update the release for --tag on this forge.
    #[arg(long, env = "PAVED_PUBLISH", value_name = "FORGE", requires = "tag")]
    pub publish: Option<Publish>,

    /// Attach this file to the published release (repeatable; replaces an asset of the same name).
    #[arg(
        long = "asset",
        env = "PAVED_ASSET",
        value_name = "FILE",
        requires = "publish",
        value_delimiter = ','
    )]
    pub assets: Vec<PathBuf>,

    /// Split squash-merge bodies that list several conventional commits into separate entries.
    #[arg(long, env = "PAVED_SPLIT_SQUASH", value_parser = BoolishValueParser::new(), action = ArgAction::SetTrue)]
    pub split_squash: bool,

    /// Title the unreleased notes as a pre-release with this identifier (as paved-version --pre).
    #[arg(long, env = "PAVED_PRE", value_name = "ID")]
    pub pre: Option<String>,

    /// Title the unreleased notes with this version.
    #[arg(long, env = "PAVED_RELEASE_AS", value_name = "VERSION")]
    pub release_as: Option<semver::Version>,

    /// Tag template [default: v{version}].
    #[arg(long, env = "PAVED_TAG_TEMPLATE", value_name = "TEMPLATE")]
    pub tag_template: Option<String>,

    /// Deepen a shallow clone when history is missing [default: auto in CI, else never].
    #[arg(long, env = "PAVED_FETCH", value_name = "MODE")]
    pub fetch: Option<paved_core::config::FetchMode>,

    /// Remote to deepen from [default: origin].
    #[arg(long, env = "PAVED_REMOTE", value_name = "NAME")]
    pub remote: Option<String>,

    #[command(flatten)]
    pub result: paved_core::flags::OutputArgs,
}

impl Args {
    /// Environment names from before each flag had one meaning: `PAVED_TAG` (also
    /// paved-version's `--tag` switch) and `PAVED_ASSETS`. A tag name in `PAVED_TAG` still
    /// selects the release, and `PAVED_ASSETS` still lists assets, each with a warning; a switch
    /// value in `PAVED_TAG` was meant for paved-version and is left alone.
    pub fn apply_deprecated_env(&mut self) {
        let old = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if self.tag.is_none()
            && !self.all
            && std::env::var_os("PAVED_CHANGELOG_TAG").is_none()
            && let Some(tag) = old("PAVED_TAG")
            && !matches!(
                tag.to_ascii_lowercase().as_str(),
                "y" | "yes" | "t" | "true" | "on" | "1" | "n" | "no" | "f" | "false" | "off" | "0"
            )
        {
            paved_core::cli::warn(
                "`PAVED_TAG` is deprecated for paved-changelog (paved-version reads a switch \
                 from it); set `PAVED_CHANGELOG_TAG` instead",
            );
            self.tag = Some(tag);
        }
        if self.assets.is_empty()
            && std::env::var_os("PAVED_ASSET").is_none()
            && let Some(list) = old("PAVED_ASSETS")
        {
            paved_core::cli::warn("`PAVED_ASSETS` is deprecated; set `PAVED_ASSET` instead");
            self.assets = list.split(',').map(PathBuf::from).collect();
        }
    }
}

/// `--publish` targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Publish {
    /// GitHub releases (GITHUB_TOKEN).
    Github,
    /// GitLab releases (GITLAB_TOKEN or CI_JOB_TOKEN).
    Gitlab,
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
