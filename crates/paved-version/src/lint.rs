//! `paved-version lint`: check that messages follow Conventional Commits, for PR titles and
//! commit ranges. Each bad message gets an annotation; any bad message exits 1.

use std::io::Read;
use std::path::Path;

use paved_core::ci::{Annotation, CiSink, Level};
use paved_core::config::{PavedConfig, VersionConfig};
use paved_core::conventional;
use paved_core::git::Repo;
use paved_core::semver_rules::BumpRules;
use serde::Serialize;

use crate::cli::LintArgs;
use crate::error::{Error, Result};

/// One message that failed the lint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LintFailure {
    /// The commit, when linting a range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// The message's first line.
    pub header: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Check one message; `None` when it is fine. The verdict is [`conventional::judge`]'s, the one the
/// version analysis counts "not conventional" by.
pub fn check(message: &str, rules: &BumpRules) -> Option<String> {
    match conventional::judge(message, &conventional::classify(message), rules) {
        conventional::Verdict::Accepted => None,
        conventional::Verdict::Rejected(reason) => Some(reason),
    }
}

/// Run `lint` from `dir` (`--repo`). A range is read from the repository there; messages (a PR
/// title in a job with no checkout) need none: the config is read from the repository's root
/// when there is one, else from `dir`, and it is optional.
pub fn run_at(dir: &Path, config: Option<&Path>, args: &LintArgs, json: bool) -> Result<u8> {
    let repo = match Repo::discover(dir) {
        Ok(repo) => Some(repo),
        Err(paved_core::Error::NotARepo { .. }) if args.range.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    let root = repo.as_ref().map_or(dir, Repo::root);
    let (config, _) = PavedConfig::load(config, root)?;
    run(repo.as_ref(), &config.version, args, json)
}

/// Run `lint`. Returns exit 0 when every message passes, 1 otherwise. `repo` is needed only for
/// `--range`.
pub fn run(repo: Option<&Repo>, config: &VersionConfig, args: &LintArgs, json: bool) -> Result<u8> {
    let rules = BumpRules::with_overrides(&config.types);
    let mut messages: Vec<(Option<String>, String)> = Vec::new();
    if let Some(range) = &args.range {
        let repo = repo.ok_or_else(|| {
            Error::Usage(format!(
                "`--range {range}` reads commits, so it needs a git repository; run it in a checkout or pass `--repo DIR`"
            ))
        })?;
        let (from, to) = range.split_once("..").ok_or_else(|| {
            Error::Usage(format!(
                "range `{range}` must look like `A..B`, e.g. `origin/main..HEAD`"
            ))
        })?;
        let to = if to.is_empty() { "HEAD" } else { to };
        let hidden: Vec<_> = if from.is_empty() {
            Vec::new()
        } else {
            vec![repo.resolve(from)?]
        };
        let walk = repo.range(&[repo.resolve(to)?], &hidden)?;
        for id in walk.commits {
            let c = repo.commit(id)?;
            if c.parents.len() <= 1 {
                messages.push((Some(c.id.to_string()), c.message));
            }
        }
    } else if args.messages.is_empty() {
        return Err(Error::Usage(
            "give a message to lint, `-` to read one from stdin, or `--range A..B`".into(),
        ));
    } else {
        for m in &args.messages {
            if m == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Error::Usage(format!("could not read stdin: {e}")))?;
                messages.push((None, text));
            } else {
                messages.push((None, m.clone()));
            }
        }
    }

    let sink = CiSink::from_env(None);
    let mut failures = Vec::new();
    for (sha, message) in &messages {
        if let Some(reason) = check(message, &rules) {
            let header = conventional::header(message).to_owned();
            let subject = match sha {
                Some(s) => format!("commit {} `{header}`", &s[..7]),
                None => format!("`{header}`"),
            };
            sink.annotate(&Annotation {
                level: Some(Level::Error),
                title: Some("Conventional Commits".into()),
                message: format!("{subject}: {reason}"),
                ..Annotation::default()
            });
            failures.push(LintFailure {
                sha: sha.clone(),
                header,
                reason,
            });
        }
    }
    paved_core::cli::info(&format!(
        "checked {} message{}: {} not conventional",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" },
        failures.len()
    ));
    if json {
        let value = serde_json::json!({ "checked": messages.len(), "failures": failures });
        paved_core::cli::print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("plain data")
        ))?;
    }
    Ok(if failures.is_empty() {
        paved_core::exit::OK
    } else {
        paved_core::exit::REFUSED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_rules() {
        let rules = BumpRules::default();
        assert_eq!(check("feat(api): add things", &rules), None);
        assert_eq!(check("fix!: break", &rules), None);
        assert!(
            check("Add things", &rules)
                .unwrap()
                .contains("type(scope): description")
        );
        assert!(
            check("feature: add things", &rules)
                .unwrap()
                .contains("not known")
        );
        assert!(check("", &rules).is_some());
    }
}
