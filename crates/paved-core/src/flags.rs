//! The flags every tool shares, declared once and flattened into each tool's clap `Args`, so
//! `--repo`, `--config`, `--json` and `--dotenv` mean the same thing, read the same `PAVED_*`
//! variable and parse the same values everywhere (and the generated action inputs agree).
//!
//! Each is `global`, so it may come before or after a subcommand (`paved-change --json open` and
//! `paved-change open --json` are the same).

use std::path::PathBuf;

use clap::ArgAction;
use clap::builder::BoolishValueParser;

/// `-C/--repo DIR`: the repository to read.
#[derive(Debug, Clone, clap::Args)]
pub struct RepoArg {
    /// The repository to read (any directory inside it).
    #[arg(
        short = 'C',
        long = "repo",
        env = "PAVED_REPO",
        value_name = "DIR",
        default_value = ".",
        global = true
    )]
    pub repo: PathBuf,
}

/// `--config FILE`: paved.toml somewhere else.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArg {
    /// Config file [default: paved.toml at the repository root].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// `--json` and `--dotenv FILE`: where the result goes besides the CI sink.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Print the result as JSON on stdout.
    #[arg(
        long,
        env = "PAVED_JSON",
        global = true,
        value_parser = BoolishValueParser::new(),
        action = ArgAction::SetTrue
    )]
    pub json: bool,

    /// Also write outputs as a dotenv file (always on GitLab CI, default paved.env there).
    #[arg(long, env = "PAVED_DOTENV", value_name = "FILE", global = true)]
    pub dotenv: Option<PathBuf>,
}
