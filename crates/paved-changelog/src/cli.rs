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
    #[arg(long, env = "PAVED_TAG", value_name = "TAG", conflicts_with = "all")]
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
        env = "PAVED_ASSETS",
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
