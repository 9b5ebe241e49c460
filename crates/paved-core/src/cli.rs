//! The shared `main` wrapper: run a tool, print its error the same way everywhere, pick the exit code.
//!
//! Errors print as `error: <what happened, to what>`, then each cause, then `hint: <what to do>`.
//! A closed stdout (`paved-version | head -c0`) is success, as in ripgrep.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::diagnostic::Diagnostic;
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
    let text = report_text(err, use_color());
    let _ = io::stderr()
        .lock()
        .write_all(for_log(&text, Stream::Stderr).as_bytes());
}

/// `error: …`, one `caused by:` line per cause the message does not already quote, then the hint.
fn report_text<E: Diagnostic + ?Sized>(err: &E, color: bool) -> String {
    let (red, yellow, bold, reset) = if color {
        ("\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    use std::fmt::Write as _;
    let mut text = format!("{red}{bold}error{reset}{bold}:{reset} {err}\n");
    // Each cause is shown once: a message that already quotes its source (`could not read
    // `x`: No such file`) gets no `caused by:` line repeating it.
    let mut source = err.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !cause.is_empty() && !text.contains(&cause) {
            let _ = writeln!(text, "  caused by: {cause}");
        }
        source = s.source();
    }
    if let Some(hint) = err.hint() {
        let _ = writeln!(text, "{yellow}{bold}hint{reset}{bold}:{reset} {hint}");
    }
    text
}

/// Print a warning line to stderr.
pub fn warn(message: &str) {
    let (yellow, bold, reset) = if use_color() {
        ("\x1b[33m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let text = format!("{yellow}{bold}warning{reset}{bold}:{reset} {message}\n");
    let _ = io::stderr()
        .lock()
        .write_all(for_log(&text, Stream::Stderr).as_bytes());
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stderr().is_terminal()
}

/// Write `text` to stdout, mapping failure to [`crate::Error::Stdout`].
///
/// In a GitHub Actions log, text the runner could read as a workflow command is made inert
/// first (see [`crate::ci::shield`]); JSON keeps its value (`##[` becomes `##\u005b` inside its strings).
pub fn print_stdout(text: &str) -> crate::Result<()> {
    let shown = for_log(text, Stream::Stdout);
    let mut out = io::stdout().lock();
    out.write_all(shown.as_bytes())
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
    let text = format!("{message}\n");
    let _ = io::stderr()
        .lock()
        .write_all(for_log(&text, Stream::Stderr).as_bytes());
}

/// The standard stream a piece of text is written to.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Whether the Actions runner reads what is written to `stream`: on GitHub Actions, unless the
/// stream is redirected to a regular file (`paved-changelog > NOTES.md` keeps its bytes).
fn runner_reads(stream: Stream) -> bool {
    use std::os::fd::AsFd;
    static STDOUT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    static STDERR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let check = |fd: std::os::fd::BorrowedFd<'_>| {
        std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
            && !fd
                .try_clone_to_owned()
                .map(std::fs::File::from)
                .and_then(|f| f.metadata())
                .is_ok_and(|m| m.is_file())
    };
    match stream {
        Stream::Stdout => *STDOUT.get_or_init(|| check(io::stdout().as_fd())),
        Stream::Stderr => *STDERR.get_or_init(|| check(io::stderr().as_fd())),
    }
}

/// Text as it may reach the Actions log: every line paved prints that holds outside text (commit
/// messages, test names, server bodies) goes through here, so nothing in it becomes a workflow
/// command (`::add-mask::`, `::error::`, `##[…]`). Paved's own commands go through
/// [`crate::ci::CiSink`] instead.
fn for_log(text: &str, stream: Stream) -> std::borrow::Cow<'_, str> {
    if !crate::ci::has_workflow_command(text) || !runner_reads(stream) {
        return text.into();
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        // In JSON, `#` only occurs inside strings, and no line can start with `::`.
        return text.replace("##[", "##\\u005b").into();
    }
    crate::ci::shield(text)
}

#[cfg(test)]
mod tests {
    use super::report_text;
    use crate::Error;

    #[test]
    fn a_cause_the_message_quotes_is_not_repeated() {
        let err = Error::Io {
            action: "create",
            path: "out/CHANGELOG.md".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let text = report_text(&err, false);
        insta::assert_snapshot!(text, @"error: could not create `out/CHANGELOG.md`: entity not found");
    }

    #[test]
    fn a_cause_the_message_leaves_out_is_shown_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("the store could not be opened")]
        struct Outer(#[source] std::io::Error);
        impl crate::error::Diagnostic for Outer {
            fn category(&self) -> crate::exit::Category {
                crate::exit::Category::External
            }
            fn hint(&self) -> Option<String> {
                Some("check the path".into())
            }
        }
        let text = report_text(&Outer(std::io::Error::other("disk on fire")), false);
        insta::assert_snapshot!(text, @r"
        error: the store could not be opened
          caused by: disk on fire
        hint: check the path
        ");
    }
}
