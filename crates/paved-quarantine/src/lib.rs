//! paved-quarantine: flaky-test detection from JUnit XML across CI runs, a reviewed quarantine
//! list, skip filters for each test runner, and a gate that ignores quarantined failures.
//!
//! - [`junit`]: the streaming JUnit parser (every runner dialect), shared with paved-change.
//! - [`model`]: test identity, outcomes, history and per-test figures.
//! - `store`: the history store (SQLite by default, PostgreSQL with `--store postgres://…`).
//! - `analyze`, `gate`: figures per test, and the merge gate.
//! - `list`, `update`, `filter`, `report`: `quarantine.toml`, runner skip arguments, reports.

pub mod filter;
pub mod junit;
pub mod list;
pub mod model;
pub mod report;
pub mod update;

use clap::{Parser, Subcommand};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "paved-quarantine",
    version,
    about = "Flaky-test detection from JUnit XML, a reviewed quarantine list, runner skip filters and a gate."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print skip arguments for the quarantined tests, escaped for one test runner.
    Filter(filter::FilterArgs),
    /// Add newly flaky tests to quarantine.toml and release tests that are stable again.
    Update(update::UpdateArgs),
    /// Write a markdown summary and a self-contained HTML report.
    Report(report::ReportArgs),
}

/// Run the tool; returns the exit code.
pub fn run(args: Args) -> paved_core::Result<u8> {
    match args.command {
        Command::Filter(a) => filter::run(&a),
        Command::Update(a) => update::run(&a),
        Command::Report(a) => report::run(&a),
    }
}

/// Parse `argv` and run.
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, run)
}
