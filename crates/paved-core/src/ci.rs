//! The CI sink: one place that writes a tool's results for whichever CI is running.
//!
//! - GitHub Actions (`GITHUB_ACTIONS=true`): `$GITHUB_OUTPUT` in heredoc form with a random
//!   delimiter, markdown appended to `$GITHUB_STEP_SUMMARY`, `::error::`/`::warning::`
//!   annotations, `::add-mask::` for secrets (line by line) and `::group::` around long logs.
//! - GitLab CI (`GITLAB_CI=true`): a dotenv report (default `paved.env`) within GitLab's rules:
//!   keys `[A-Z0-9_]`, single-line values, under 5 KB in total.
//! - Anywhere: human text on stderr, the result on stdout; `--json` for machines.
//!
//! Workflow commands go to stderr, which the Actions runner reads as it reads stdout, so that
//! stdout stays a clean result (`--json` output can be piped to `jq`).

use std::fmt::{self, Display, Write as _};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The largest dotenv report GitLab accepts, in bytes.
pub const DOTENV_LIMIT: usize = 5 * 1024;

/// Which CI the tool is running in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// GitHub Actions.
    GitHub,
    /// GitLab CI/CD.
    GitLab,
    /// A terminal or another CI.
    Local,
}

/// Named outputs, in the order the tool produced them. Names are kebab-case (`previous-version`);
/// GitLab keys are derived from them (`PREVIOUS_VERSION`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs(Vec<(String, String)>);

impl Outputs {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace an output.
    pub fn set(&mut self, name: &str, value: impl Display) -> &mut Self {
        let value = value.to_string();
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All outputs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`
    Error,
    /// `::warning`
    Warning,
    /// `::notice`
    Notice,
}

/// A message attached to a file and line in the CI's UI (GitHub) or printed (elsewhere).
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    /// Severity; `None` means error.
    pub level: Option<Level>,
    /// Short title.
    pub title: Option<String>,
    /// File the message is about.
    pub file: Option<String>,
    /// Line in that file.
    pub line: Option<u32>,
    /// The message.
    pub message: String,
}

/// Where results go. Build it once per run with [`CiSink::from_env`].
#[derive(Debug, Clone)]
pub struct CiSink {
    platform: Platform,
    github_output: Option<PathBuf>,
    step_summary: Option<PathBuf>,
    dotenv: Option<PathBuf>,
}

impl CiSink {
    /// Detect the CI from the process environment. `dotenv` (from `--dotenv`) forces a dotenv
    /// report anywhere; on GitLab it defaults to `paved.env`.
    pub fn from_env(dotenv: Option<PathBuf>) -> Self {
        Self::detect(|k| std::env::var(k).ok(), dotenv)
    }

    /// Detect the CI from `env` (a lookup function, so tests need not touch the process environment).
    pub fn detect(env: impl Fn(&str) -> Option<String>, dotenv: Option<PathBuf>) -> Self {
        let is = |k: &str| env(k).is_some_and(|v| v == "true");
        let non_empty = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if is("GITHUB_ACTIONS") {
            CiSink {
                platform: Platform::GitHub,
                github_output: non_empty("GITHUB_OUTPUT"),
                step_summary: non_empty("GITHUB_STEP_SUMMARY"),
                dotenv,
            }
        } else if is("GITLAB_CI") {
            CiSink {
                platform: Platform::GitLab,
                github_output: None,
                step_summary: None,
                dotenv: Some(dotenv.unwrap_or_else(|| PathBuf::from("paved.env"))),
            }
        } else {
            CiSink {
                platform: Platform::Local,
                github_output: None,
                step_summary: None,
                dotenv,
            }
        }
    }

    /// The detected platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// Write `outputs` to `$GITHUB_OUTPUT` and/or the dotenv report. Returns warnings for outputs
    /// that a dotenv report cannot hold (they are named, never dropped silently).
    pub fn write_outputs(&self, outputs: &Outputs) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if let Some(path) = &self.github_output {
            let text = github_output(outputs, &random_delimiter()?);
            append(path, &text)?;
        }
        if let Some(path) = &self.dotenv {
            let (text, w) = dotenv(outputs);
            warnings.extend(w);
            crate::fs::write_atomic(path, text.as_bytes())?;
        }
        Ok(warnings)
    }

    /// Append markdown to the job summary (GitHub). Elsewhere this is a no-op: tools write
    /// markdown reports to files for artifacts.
    pub fn write_summary(&self, markdown: &str) -> Result<()> {
        if let Some(path) = &self.step_summary {
            let mut text = markdown.to_owned();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            append(path, &text)?;
        }
        Ok(())
    }

    /// Emit an annotation: a workflow command on GitHub, a plain line elsewhere.
    pub fn annotate(&self, a: &Annotation) {
        let line = match self.platform {
            Platform::GitHub => github_annotation(a),
            _ => plain_annotation(a),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Ask the CI to mask `secret` in logs (GitHub: one `::add-mask::` per line).
    pub fn mask(&self, secret: &str) {
        if self.platform == Platform::GitHub {
            let mut err = std::io::stderr().lock();
            for line in secret.lines().filter(|l| !l.trim().is_empty()) {
                let _ = writeln!(err, "::add-mask::{}", escape_data(line));
            }
        }
    }

    /// [`mask`](Self::mask) for a credential read deep inside a client, where no sink is at hand:
    /// detects the CI from the process environment.
    pub fn mask_from_env(secret: &str) {
        Self::from_env(None).mask(secret);
    }

    /// Start a collapsible log group (GitHub); elsewhere a plain heading.
    pub fn group_start(&self, title: &str) {
        let mut err = std::io::stderr().lock();
        let _ = match self.platform {
            Platform::GitHub => writeln!(err, "::group::{}", escape_data(title)),
            _ => writeln!(err, "{title}"),
        };
    }

    /// End the current log group.
    pub fn group_end(&self) {
        if self.platform == Platform::GitHub {
            let _ = writeln!(std::io::stderr().lock(), "::endgroup::");
        }
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::Io {
            action: "open",
            path: path.to_owned(),
            source: e,
        })?;
    f.write_all(text.as_bytes()).map_err(|e| Error::Io {
        action: "write",
        path: path.to_owned(),
        source: e,
    })
}

fn random_delimiter() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|source| Error::NoRandomness {
        purpose: "the output delimiter",
        source,
    })?;
    let mut s = String::from("ghadelimiter_");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    Ok(s)
}

/// `$GITHUB_OUTPUT` text: `name<<DELIM`, value, `DELIM` for every output.
///
/// The delimiter is random per write so that a value can never end the heredoc early and inject
/// further outputs.
pub fn github_output(outputs: &Outputs, delimiter: &str) -> String {
    let mut text = String::new();
    for (k, v) in outputs.iter() {
        // 128 random bits make a collision practically impossible; a value that contains the
        // delimiter anyway is replaced rather than allowed to inject outputs.
        let v = if v.contains(delimiter) { "" } else { v };
        let _ = write!(text, "{k}<<{delimiter}\n{v}\n{delimiter}\n");
    }
    text
}

/// A GitLab dotenv key for an output name: upper-case, `[A-Z0-9_]`, not starting with a digit.
pub fn dotenv_key(name: &str) -> String {
    let mut key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        key.insert(0, '_');
    }
    key
}

/// dotenv text for GitLab, and a warning for every output left out (multi-line values, or the
/// 5 KB limit). GitLab would reject the whole report otherwise.
pub fn dotenv(outputs: &Outputs) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut warnings = Vec::new();
    for (k, v) in outputs.iter() {
        let key = dotenv_key(k);
        if v.contains('\n') || v.contains('\r') {
            warnings.push(format!(
                "output `{k}` is multi-line and GitLab dotenv reports cannot hold it; read it from the JSON or file output instead"
            ));
            continue;
        }
        let line = format!("{key}={v}\n");
        if text.len() + line.len() > DOTENV_LIMIT {
            warnings.push(format!(
                "output `{k}` was left out of the dotenv report: GitLab limits the report to {DOTENV_LIMIT} bytes"
            ));
            continue;
        }
        text.push_str(&line);
    }
    (text, warnings)
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The GitHub workflow command for an annotation.
pub fn github_annotation(a: &Annotation) -> String {
    let cmd = match a.level.unwrap_or(Level::Error) {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    let mut props = Vec::new();
    if let Some(f) = &a.file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = a.line {
        props.push(format!("line={l}"));
    }
    if let Some(t) = &a.title {
        props.push(format!("title={}", escape_property(t)));
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!("::{cmd}{props}::{}", escape_data(&a.message))
}

fn plain_annotation(a: &Annotation) -> String {
    let level = match a.level.unwrap_or(Level::Error) {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "note",
    };
    let location = match (&a.file, a.line) {
        (Some(f), Some(l)) => format!("{f}:{l}: "),
        (Some(f), None) => format!("{f}: "),
        _ => String::new(),
    };
    let title = a
        .title
        .as_deref()
        .map(|t| format!("{t}: "))
        .unwrap_or_default();
    format!("{level}: {location}{title}{}", a.message)
}

/// Whether the GitHub Actions runner could read `text` as a workflow command: a line (the runner
/// splits at `\n` and at a lone `\r`) that starts with `::` after leading whitespace, or one that
/// holds the old `##[command]` form anywhere.
pub fn has_workflow_command(text: &str) -> bool {
    text.split(['\n', '\r'])
        .any(|line| line.trim_start().starts_with("::") || line.contains("##["))
}

/// `text` from outside paved (commit messages, test names, server bodies), made safe to print in a
/// GitHub Actions log: when it holds something the runner would act on, it is framed by
/// `::stop-commands::TOKEN` and `::TOKEN::`, so the runner prints it and acts on none of it. The
/// token is random per call; the text cannot guess it to end the frame early. Text without
/// command-like lines is returned unchanged, so ordinary output keeps its bytes.
///
/// Without randomness the offending lines are defused instead: a zero-width space goes before
/// their `::` and inside each `##[`.
pub fn shield(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_workflow_command(text) {
        return text.into();
    }
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return defuse(text).into();
    }
    let mut token = String::from("paved-");
    for b in bytes {
        let _ = write!(token, "{b:02x}");
    }
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("::stop-commands::{token}\n{text}{newline}::{token}::\n").into()
}

fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for piece in text.split_inclusive(['\n', '\r']) {
        let body = piece.trim_start();
        let indent = &piece[..piece.len() - body.len()];
        out.push_str(indent);
        if body.starts_with("::") {
            out.push('\u{200b}');
        }
        out.push_str(&body.replace("##[", "##\u{200b}["));
    }
    out
}

impl Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::GitHub => "github",
            Platform::GitLab => "gitlab",
            Platform::Local => "local",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn outputs() -> Outputs {
        let mut o = Outputs::new();
        o.set("version", "1.3.0")
            .set("previous-version", "1.2.3")
            .set("notes", "line one\nline two");
        o
    }

    #[test]
    fn github_output_uses_heredocs() {
        let text = github_output(&outputs(), "ghadelimiter_x");
        assert_eq!(
            text,
            "version<<ghadelimiter_x\n1.3.0\nghadelimiter_x\nprevious-version<<ghadelimiter_x\n1.2.3\nghadelimiter_x\n\
             notes<<ghadelimiter_x\nline one\nline two\nghadelimiter_x\n"
        );
    }

    #[test]
    fn delimiters_are_random() {
        assert_ne!(random_delimiter().unwrap(), random_delimiter().unwrap());
    }

    #[test]
    fn dotenv_follows_gitlab_rules() {
        let (text, warnings) = dotenv(&outputs());
        assert_eq!(text, "VERSION=1.3.0\nPREVIOUS_VERSION=1.2.3\n");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("notes"));
        let mut big = Outputs::new();
        big.set("a", "x".repeat(4000))
            .set("b", "y".repeat(2000))
            .set("c", "z");
        let (text, warnings) = dotenv(&big);
        assert!(text.len() <= DOTENV_LIMIT);
        assert!(text.contains("C=z"));
        assert!(warnings[0].contains("`b`"));
        assert_eq!(dotenv_key("1st.thing-x"), "_1ST_THING_X");
    }

    #[test]
    fn untrusted_text_cannot_issue_workflow_commands() {
        use paved_testkit::actions::runner_commands;
        let hostile = [
            "fix: x\n\n::add-mask::v2.0.0\n",
            "  ::error::pwned",
            "ok\r::set-output name=x::y",
            "text ##[add-mask]v2.0.0 more",
            "::stop-commands::abc\n::add-mask::x\n::abc::\n::error::after",
        ];
        for text in hostile {
            let shown = shield(text);
            assert!(runner_commands(&shown).is_empty(), "{text:?} -> {shown:?}");
            assert!(shown.contains(text), "the text itself is kept: {shown:?}");
            let defused = defuse(text);
            assert!(
                runner_commands(&defused).is_empty(),
                "{text:?} -> {defused:?}"
            );
        }
        assert_eq!(shield("feat: plain\n  - item\n"), "feat: plain\n  - item\n");
        assert!(matches!(shield("a :: b"), std::borrow::Cow::Borrowed(_)));
        let a = shield("::x").into_owned();
        assert_ne!(a, shield("::x").into_owned(), "tokens are random");
    }

    #[test]
    fn annotations_escape() {
        let a = Annotation {
            level: Some(Level::Error),
            title: Some("bad: title, here".into()),
            file: Some("a,b.rs".into()),
            line: Some(3),
            message: "50% done\nnext".into(),
        };
        assert_eq!(
            github_annotation(&a),
            "::error file=a%2Cb.rs,line=3,title=bad%3A title%2C here::50%25 done%0Anext"
        );
    }

    #[test]
    fn detection_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let summary = dir.path().join("summary");
        let env: HashMap<&str, String> = [
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_OUTPUT", out.display().to_string()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ]
        .into_iter()
        .collect();
        let sink = CiSink::detect(|k| env.get(k).cloned(), None);
        assert_eq!(sink.platform(), Platform::GitHub);
        sink.write_outputs(&outputs()).unwrap();
        sink.write_summary("## hi").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("version<<ghadelimiter_"), "{text}");
        assert_eq!(std::fs::read_to_string(&summary).unwrap(), "## hi\n");

        let dotenv_path = dir.path().join("paved.env");
        let gl = CiSink::detect(
            |k| (k == "GITLAB_CI").then(|| "true".to_owned()),
            Some(dotenv_path.clone()),
        );
        assert_eq!(gl.platform(), Platform::GitLab);
        gl.write_outputs(&outputs()).unwrap();
        assert!(
            std::fs::read_to_string(&dotenv_path)
                .unwrap()
                .starts_with("VERSION=1.3.0\n")
        );

        let local = CiSink::detect(|_| None, None);
        assert_eq!(local.platform(), Platform::Local);
        assert!(local.write_outputs(&outputs()).unwrap().is_empty());
    }
}
