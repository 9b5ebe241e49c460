//! paved-change: change records with audit evidence, approval gates and DORA metrics.
//!
//! Work in progress: see the issue for this tool.

use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "paved-change",
    version,
    about = "Change records with audit evidence, approval gates and DORA metrics."
)]
pub struct Args {}

/// Run the tool; returns the exit code.
pub fn run(_args: Args) -> paved_core::Result<u8> {
    Ok(paved_core::exit::OK)
}

/// Parse `argv` and run.
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, run)
}
