//! The shared `main` wrapper: run a tool, print its error the same way everywhere, pick the exit code.
//!
//! Errors print as `error: <what happened, to what>`, then each cause, then `hint: <what to do>`.
//! A closed stdout (`paved-version | head -c0`) is success, as in ripgrep.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::error::Diagnostic;
use crate::exit;

/// Run `f` and turn its outcome into the process exit code.
///
/// `f` returns the exit code for outcomes that are not errors (`0`, or `1` for a decided "no"
/// that the tool already reported, such as a lint failure).
pub fn run<E: Diagnostic + 'static>(f: impl FnOnce() -> Result<u8, E>) -> ExitCode {
    match f() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(exit::OK);
            }
            report(&err);
            ExitCode::from(err.category().code())
        }
    }
}

/// The whole `main` of a paved tool: parse `argv` into `A` (clap), run `run`, and turn the
/// outcome into the exit code. A usage error from clap exits 2; `--help` and `--version` exit 0.
pub fn main<A, E, I, T>(argv: I, run_tool: impl FnOnce(A) -> Result<u8, E>) -> ExitCode
where
    A: clap::Parser,
    E: Diagnostic + 'static,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match A::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    run(|| run_tool(args))
}

/// Print `err` to stderr in the house style.
pub fn report<E: Diagnostic + ?Sized>(err: &E) {
    let color = use_color();
    let (red, yellow, bold, reset) = if color {
        ("\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{red}{bold}error{reset}{bold}:{reset} {err}");
    let mut source = err.source();
    while let Some(s) = source {
        let _ = writeln!(stderr, "  caused by: {s}");
        source = s.source();
    }
    if let Some(hint) = err.hint() {
        let _ = writeln!(stderr, "{yellow}{bold}hint{reset}{bold}:{reset} {hint}");
    }
}

/// Print a warning line to stderr.
pub fn warn(message: &str) {
    let (yellow, bold, reset) = if use_color() {
        ("\x1b[33m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let _ = writeln!(
        io::stderr().lock(),
        "{yellow}{bold}warning{reset}{bold}:{reset} {message}"
    );
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stderr().is_terminal()
}

/// Write `text` to stdout, mapping failure to [`crate::Error::Stdout`].
pub fn print_stdout(text: &str) -> crate::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(crate::Error::Stdout)
}

fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Print an informational line to stderr (progress and summaries a person reads).
pub fn info(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}
