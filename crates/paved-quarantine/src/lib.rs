//! paved-quarantine: flaky-test detection from JUnit XML across CI runs, a reviewed quarantine
//! list, skip filters for each test runner, and a gate that ignores quarantined failures.
//!
//! - [`model`]: history and per-test figures (test identity and outcomes come from paved-junit,
//!   the JUnit parser shared with paved-change).
//! - [`store`]: the history store (SQLite by default, PostgreSQL with `--store postgres://…`).
//! - [`ingest`], [`analyze`], [`gate`]: JUnit into the store, figures per test, the merge gate.
//! - [`collect`]: JUnit from the artifacts of recent CI runs on the forge, into the store.
//! - [`gate_history`], [`comment`]: `gate --store` (each failure against the default branch's
//!   history) and `gate --comment` (one PR comment / MR note, edited in place).
//! - `list`, `update`, `filter`, `report`: `quarantine.toml`, runner skip arguments, reports.

pub mod analyze;
pub mod codeowners;
pub mod collect;
pub mod comment;
pub mod error;
pub mod filter;
pub mod gate;
pub mod gate_history;
pub mod ingest;
pub mod list;
pub mod model;
pub mod propose;
pub mod report;
pub mod source;
pub mod store;
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
    /// Store JUnit XML results of one CI run in the history store.
    Ingest(ingest::IngestArgs),
    /// Read the JUnit artifacts of recent CI runs from the forge into the history store.
    Collect(collect::CollectArgs),
    /// Per-test figures over recent runs: flaky, broken or stable, with the evidence.
    Analyze(analyze::AnalyzeArgs),
    /// Fail only on failures of tests that are not quarantined; report flaky and quarantined ones.
    Gate(gate::GateArgs),
    /// Print skip arguments for the quarantined tests, escaped for one test runner.
    Filter(filter::FilterArgs),
    /// Add newly flaky tests to quarantine.toml and release tests that are stable again.
    Update(update::UpdateArgs),
    /// Write a markdown summary and a self-contained HTML report.
    Report(report::ReportArgs),
}

/// Run the tool; returns the exit code.
pub fn run(args: Args) -> error::Result<u8> {
    match args.command {
        Command::Ingest(a) => ingest::run(&a),
        Command::Collect(a) => collect::run(&a),
        Command::Analyze(a) => analyze::run(&a),
        Command::Gate(a) => gate::run(&a),
        Command::Filter(a) => Ok(filter::run(&a)?),
        Command::Update(a) => Ok(update::run(&a)?),
        Command::Report(a) => Ok(report::run(&a)?),
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
