//! The GitHub Actions runner's reading of a log, for tests that check what a tool's output makes
//! the runner do.
//!
//! Follows the runner's rules: lines split at `\n` and at a lone `\r`, leading whitespace
//! ignored, `::name ...::value` anywhere a line starts, the old `##[name]value` form anywhere in
//! a line, and nothing acted on between `::stop-commands::TOKEN` and `::TOKEN::`.

/// Every workflow command the runner would act on in `log`, in order.
pub fn runner_commands(log: &str) -> Vec<String> {
    let mut stopped: Option<String> = None;
    let mut commands = Vec::new();
    for line in log.split(['\n', '\r']) {
        let line = line.trim_start();
        if let Some(token) = &stopped {
            if line.strip_prefix("::").and_then(|l| l.strip_suffix("::")) == Some(token) {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(token.to_owned());
        } else if line.starts_with("::") || line.contains("##[") {
            commands.push(line.to_owned());
        }
    }
    commands
}

/// Commit bodies, test names and server answers that try to talk to the runner. Each carries
/// `PWNED`, so a test asserts that no command the runner reads contains it.
pub const HOSTILE_LINES: &[&str] = &[
    "::add-mask::PWNED",
    "  ::error title=PWNED::injected",
    "::warning::PWNED",
    "before\r::notice::PWNED",
    "text ##[add-mask]PWNED",
    "::stop-commands::guess",
    "::guess::",
    "::error::PWNED after a guessed resume",
];

/// Assert that nothing the runner reads in `log` came from [`HOSTILE_LINES`].
///
/// A command paved means may carry hostile text as its *data* (an annotation whose message is a
/// test's failure text: `::error title=test failed::…PWNED`); the runner reads that as one
/// annotation. A command is injected when hostile text is in its name or properties (the part
/// before the data), or anywhere in a line the runner reads as an old-style `##[…]` command.
#[track_caller]
pub fn assert_no_injected_command(log: &str) {
    let injected: Vec<String> = runner_commands(log)
        .into_iter()
        .filter(|c| {
            // The runner tries the `::` form first; only a line that is not one is read for `##[`.
            match c.strip_prefix("::").and_then(|rest| rest.split_once("::")) {
                Some((head, _)) => head.contains("PWNED"),
                None => c.contains("PWNED"),
            }
        })
        .collect();
    assert!(
        injected.is_empty(),
        "the runner would act on {injected:?} in:\n{log}"
    );
}
