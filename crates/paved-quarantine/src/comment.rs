//! `gate --comment`: one pull request comment (GitHub) or merge request note (GitLab) with the
//! gate's findings, edited in place on every re-run.
//!
//! The comment starts with [`MARKER`], a hidden HTML comment; the gate finds its own comment by
//! it (every page of the comments is read) and edits it, or creates it the first time. The
//! PR/MR comes from the CI: `pull_request.number` in `GITHUB_EVENT_PATH`, else `GITHUB_REF`
//! `refs/pull/<n>/merge`; `CI_MERGE_REQUEST_IID` on GitLab. Outside a PR/MR pipeline there is
//! nothing to comment on, and the gate says so.
//!
//! Test names and messages come from JUnit, which the change under test wrote: they are
//! hostile. Each is put on one line (control characters and newlines become spaces), cut to
//! [`MAX_TEXT`] characters, and shown as inline code, where markdown, HTML and `@mentions` are
//! not interpreted; backticks become `'` and `|` is escaped so it cannot end a table cell. At
//! most [`MAX_ROWS`] failures are listed per section, so the body stays far below the forges'
//! limits (GitHub: 65536 characters).
//!
//! Failing to post is a warning: the comment is a report of the gate's decision, and an API
//! outage or a token without `pull-requests: write` must not turn a passing gate red (nor a
//! failing one green). The exit code is the gate's.

use std::fmt::Write as _;

use paved_core::http::Client;
use paved_forge::comments::{Comments, Upserted};
use paved_forge::{ForgeKind, GitHubConfig, GitLabConfig};

use crate::gate::{Decision, Finding};

/// The hidden marker the comment starts with.
pub const MARKER: &str = "<!-- paved-quarantine gate -->";
/// Longest test name or message shown, in characters.
pub const MAX_TEXT: usize = 200;
/// Most failures listed per section.
pub const MAX_ROWS: usize = 50;
/// The body stops growing rows past this many bytes (GitHub refuses comments over 65536
/// characters; a character is at least a byte).
pub const MAX_BODY: usize = 60_000;

/// `s` as inline code that shows, on one line, what it says and nothing more.
pub fn untrusted(s: &str) -> String {
    let mut line = String::with_capacity(s.len().min(MAX_TEXT));
    let mut chars = 0;
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || chars == 0 {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if chars == MAX_TEXT {
            line.push('…');
            break;
        }
        match c {
            '`' => line.push('\''),
            '|' => line.push_str("\\|"),
            // Bidirectional overrides and zero-width characters would make the text read as
            // something else.
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                line.push('?');
            }
            c => line.push(c),
        }
        chars += 1;
    }
    let line = line.trim_end();
    if line.is_empty() {
        "` `".into()
    } else {
        format!("`{line}`")
    }
}

fn row(out: &mut String, f: &Finding) {
    let mut test = untrusted(&f.id);
    if !f.variant.is_empty() {
        let _ = write!(test, " ({})", untrusted(&f.variant));
    }
    let status = f
        .history
        .as_ref()
        .map(|k| k.text().replace('|', "\\|"))
        .unwrap_or_else(|| "failed".into());
    let message = f.message.as_deref().map(untrusted).unwrap_or_default();
    let _ = writeln!(out, "| {test} | {status} | {message} |");
}

fn section(out: &mut String, title: &str, items: &[Finding]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {title}\n");
    out.push_str("| test | status | message |\n| --- | --- | --- |\n");
    let mut shown = 0;
    for f in items.iter().take(MAX_ROWS) {
        // A row is at most a few KB (names and messages are capped): checked before each.
        if out.len() > MAX_BODY {
            break;
        }
        row(out, f);
        shown += 1;
    }
    if items.len() > shown {
        let _ = writeln!(
            out,
            "\n… and {} more (the job summary lists them all).",
            items.len() - shown
        );
    }
}

/// The comment for `decision`, starting with [`MARKER`].
pub fn body(decision: &Decision, run_url: Option<&str>) -> String {
    let mut out = format!("{MARKER}\n");
    let verdict = if decision.passed { "passed" } else { "failed" };
    let _ = writeln!(out, "## Test gate: {verdict}\n");
    let s = &decision.summary;
    let _ = writeln!(
        out,
        "{} tests: **{} failing**, {} quarantined failures (not counted), {} flaky (passed on retry), {} skipped.",
        s.tests,
        decision.failed.len(),
        decision.quarantined.len(),
        decision.flaky.len(),
        s.skipped
    );
    if !decision.failed.is_empty() && decision.failed.iter().all(|f| f.history.is_none()) {
        out.push_str(
            "\nRun the gate with `--store` to see which failures are new on this branch.\n",
        );
    }
    section(&mut out, "Failing (not quarantined)", &decision.failed);
    section(
        &mut out,
        "Quarantined failures (not counted)",
        &decision.quarantined,
    );
    section(&mut out, "Flaky (passed on retry)", &decision.flaky);
    if let Some(url) = run_url {
        let _ = writeln!(
            out,
            "\n[The run]({}) · updated on every run of the gate.",
            url.replace(['(', ')', ' '], "")
        );
    }
    out
}

/// The PR (GitHub) or MR (GitLab) this CI run is for, from `env`.
pub fn change_number(kind: ForgeKind, env: impl Fn(&str) -> Option<String>) -> Option<u64> {
    match kind {
        ForgeKind::GitHub => {
            let from_event = env("GITHUB_EVENT_PATH")
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|e| e.pointer("/pull_request/number")?.as_u64());
            from_event.or_else(|| {
                let r = env("GITHUB_REF")?;
                let n = r.strip_prefix("refs/pull/")?.strip_suffix("/merge")?;
                n.parse().ok()
            })
        }
        ForgeKind::GitLab => env("CI_MERGE_REQUEST_IID")?.trim().parse().ok(),
    }
}

/// The web page of this CI run, from the CI's variables.
fn run_url(kind: ForgeKind, env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    match kind {
        ForgeKind::GitHub => Some(format!(
            "{}/{}/actions/runs/{}",
            env("GITHUB_SERVER_URL")?,
            env("GITHUB_REPOSITORY")?,
            env("GITHUB_RUN_ID")?
        )),
        ForgeKind::GitLab => env("CI_PIPELINE_URL"),
    }
}

/// Post or edit the comment for `decision`; every failure is a warning.
pub fn post(decision: &Decision) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let Some(kind) = ForgeKind::detect() else {
        paved_core::cli::warn(
            "`--comment` works in GitHub Actions or GitLab CI, on a pull or merge request; no comment was posted",
        );
        return;
    };
    let Some(number) = change_number(kind, env) else {
        paved_core::cli::warn(match kind {
            ForgeKind::GitHub => {
                "`--comment`: this run is not for a pull request (no `pull_request.number` in `GITHUB_EVENT_PATH`, no `refs/pull/<n>/merge` in `GITHUB_REF`); no comment was posted"
            }
            ForgeKind::GitLab => {
                "`--comment`: this pipeline is not for a merge request (`CI_MERGE_REQUEST_IID` is not set; use `rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"`); no note was posted"
            }
        });
        return;
    };
    let text = body(decision, run_url(kind, &env).as_deref());
    let result = Client::from_env()
        .map_err(paved_forge::Error::from)
        .and_then(|client| {
            let comments = match kind {
                ForgeKind::GitHub => {
                    let c = GitHubConfig::from_env()?;
                    if let Some(t) = &c.token {
                        paved_core::ci::CiSink::mask_from_env(t.expose());
                    }
                    Comments::github(client, &c)
                }
                ForgeKind::GitLab => {
                    let c = GitLabConfig::from_env()?;
                    if let Some(t) = &c.token {
                        paved_core::ci::CiSink::mask_from_env(t.secret().expose());
                    }
                    Comments::gitlab(client, &c)
                }
            };
            comments.upsert(number, MARKER, &text)
        });
    let what = match kind {
        ForgeKind::GitHub => format!("pull request #{number}"),
        ForgeKind::GitLab => format!("merge request !{number}"),
    };
    match result {
        Ok(Upserted::Created { .. }) => {
            paved_core::cli::info(&format!("posted the gate's comment on {what}"));
        }
        Ok(Upserted::Updated { .. }) => {
            paved_core::cli::info(&format!("updated the gate's comment on {what}"));
        }
        Err(e) => {
            let hint = paved_core::error::Diagnostic::hint(&e)
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            paved_core::cli::warn(&format!(
                "could not post the gate's comment on {what}: {e}{hint}; the gate's result stands"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_one_line_of_inline_code_and_capped() {
        assert_eq!(
            untrusted("ping @here\n| row | ```\r\n<b>x</b>"),
            "`ping @here \\| row \\| ''' <b>x</b>`"
        );
        assert_eq!(untrusted("a\u{202E}b\u{200B}c"), "`a?b?c`");
        assert_eq!(untrusted("\n\t "), "` `");
        let long = untrusted(&"é".repeat(500));
        assert_eq!(long.chars().count(), MAX_TEXT + 3, "{long}");
        assert!(long.ends_with("…`"));
    }

    #[test]
    fn the_body_stays_under_githubs_limit_however_long_the_names() {
        let finding = |i: usize| Finding {
            id: format!("suite|class|{i}{}", "x".repeat(5000)),
            variant: "v".repeat(5000),
            file: None,
            attempts: 1,
            message: Some("m\n".repeat(5000)),
            owner: None,
            issue: None,
            expired: None,
            through: Vec::new(),
            history: None,
        };
        let many: Vec<Finding> = (0..200).map(finding).collect();
        let decision = Decision {
            passed: false,
            summary: paved_junit::Summary::of(&[]),
            failed: many.clone(),
            flaky: many.clone(),
            quarantined: many,
            expired: Vec::new(),
            fail_on_expired: false,
            allow_expired: false,
        };
        let text = body(&decision, None);
        assert!(text.chars().count() < 65_536, "{}", text.len());
        assert!(text.contains("… and 150 more"), "{text}");
        assert!(text.starts_with(MARKER));
    }

    #[test]
    fn the_pull_or_merge_request_comes_from_the_ci() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            change_number(
                ForgeKind::GitHub,
                env(&[("GITHUB_REF", "refs/pull/12/merge")])
            ),
            Some(12)
        );
        assert_eq!(
            change_number(ForgeKind::GitHub, env(&[("GITHUB_REF", "refs/heads/main")])),
            None
        );
        assert_eq!(
            change_number(ForgeKind::GitLab, env(&[("CI_MERGE_REQUEST_IID", "7")])),
            Some(7)
        );
        assert_eq!(change_number(ForgeKind::GitLab, env(&[])), None);
    }
}
