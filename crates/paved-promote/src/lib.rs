//! paved-promote: digest-preserving OCI artifact promotion with policy, immutability and an audit ledger.
//!
//! Work in progress: see the issue for this tool.

use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "paved-promote",
    version,
    about = "Digest-preserving OCI artifact promotion with policy, immutability and an audit ledger."
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
