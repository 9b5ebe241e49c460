//! `cargo xtask`: the maintainers' commands.
//!
//! - `ci`: every check CI runs (format, clippy, docs, the whole test suite), installing what is
//!   missing and saying what it installs.
//! - `bench`: the benchmarks, with figures printed as a table.
//!
//! Kept free of dependencies so it builds in seconds on a fresh clone.

// Printing results is this program's job.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

mod bench;
mod ci;
mod tools;
mod util;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       run every check CI runs: fmt, clippy, rustdoc, tests (installs missing tools)
  bench    run the benchmarks and print the figures
  tools    install the real parts tests start (Debian, PyPI and npm packages), saying what
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("tools") => tools::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            eprint!("{USAGE}");
            return ExitCode::from(if args.is_empty() { 2 } else { 0 });
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
