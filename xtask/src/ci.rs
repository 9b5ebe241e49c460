//! `cargo xtask ci`: everything CI runs, in the order that fails fastest.

use crate::util::{cargo, have, step};

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`ci` takes no arguments (got `{a}`)"));
    }
    ensure_tools()?;
    crate::tools::ensure()?;
    step("format", cargo().args(["fmt", "--all", "--", "--check"]))?;
    // CI does not build `fuzz/` (a second instrumented build of every dependency), but its lock
    // file must stay in step with the workspace, or `cargo xtask fuzz` fails on `--locked`.
    step(
        "fuzz lock file in step with the workspace",
        cargo()
            .args([
                "metadata",
                "--locked",
                "--format-version",
                "1",
                "--manifest-path",
                "fuzz/Cargo.toml",
            ])
            .stdout(std::process::Stdio::null()),
    )?;
    // The golden pipelines: generated inputs in step with the CLIs, then lints (seconds each).
    timed("codegen drift", || {
        crate::codegen::check(&crate::util::root())
    })?;
    timed("lint-ci", || crate::lint_ci::run(&[]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "rustdoc",
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    if ensure_nextest() {
        step(
            "tests",
            cargo()
                .args([
                    "nextest",
                    "run",
                    "--workspace",
                    "--locked",
                    "--profile",
                    "ci",
                ])
                .env("INSTA_UPDATE", "no"),
        )?;
        timed("servers left behind", crate::leftovers::check)?;
        // nextest does not run doctests.
        step(
            "doctests",
            cargo().args(["test", "--workspace", "--doc", "--locked"]),
        )?;
    } else {
        eprintln!(
            "\nwarning: cargo-nextest could not be installed (see above); running the suite with `cargo test` instead, \
             which has no `ci` profile (no retries, no slow-test timeouts) and no leak check per test: \
             fix the install (`cargo install cargo-nextest --locked`) so CI runs what it should"
        );
        step(
            "tests",
            cargo()
                .args(["test", "--workspace", "--locked", "--no-fail-fast"])
                .env("INSTA_UPDATE", "no"),
        )?;
        timed("servers left behind", crate::leftovers::check)?;
    }
    // The consumer pipelines under act and gitlab-ci-local, against the debug build the tests
    // just made. CI builds no static release binaries: `dist` is a second full build of every
    // dependency (measured on 2 cores: 4.5 min for the fat-LTO release profile, and over 12 min
    // even for the dev profile while other builds ran), for a check that does not change between
    // commits. `dist` checks each binary it builds with file/ldd, and unit tests keep that check
    // honest on a static and a dynamic binary.
    timed("e2e", || crate::e2e::run(&[]))?;
    eprintln!("\nxtask ci: every check passed");
    Ok(())
}

/// Install what the checks need and say so. Each later part of paved adds its tools here.
fn ensure_tools() -> Result<(), String> {
    if !have("git", "--version") {
        return Err("git is required by the tests (they build real repositories); install it: `apt-get install git`".into());
    }
    for component in ["rustfmt", "clippy"] {
        let probe = if component == "rustfmt" {
            ["fmt", "--version"]
        } else {
            ["clippy", "--version"]
        };
        if !cargo()
            .args(probe)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            step(
                &format!("install {component}"),
                std::process::Command::new("rustup").args(["component", "add", component]),
            )?;
        }
    }
    Ok(())
}

/// cargo-nextest runs the suite (the `ci` profile in `.config/nextest.toml`). When it is missing,
/// install it and say so; false only when that install failed too.
fn ensure_nextest() -> bool {
    let present = || {
        cargo()
            .args(["nextest", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if present() {
        return true;
    }
    eprintln!(
        "\ncargo-nextest is not installed; installing it (`cargo install cargo-nextest --locked`)"
    );
    let installed = step(
        "install cargo-nextest",
        cargo().args(["install", "cargo-nextest", "--locked"]),
    );
    match installed {
        Ok(()) if present() => true,
        Ok(()) => {
            eprintln!(
                "warning: `cargo install cargo-nextest` finished but `cargo nextest` still does not run; is `~/.cargo/bin` on PATH?"
            );
            false
        }
        Err(e) => {
            eprintln!("warning: {e}");
            false
        }
    }
}

/// Run an in-process step with a heading and its time.
fn timed(title: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    eprintln!("\n==> {title}");
    let start = std::time::Instant::now();
    let r = f();
    eprintln!("    ({title}: {:.1}s)", start.elapsed().as_secs_f64());
    r.map_err(|e| format!("{title}: {e}"))
}
