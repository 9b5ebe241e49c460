//! Classifying commit messages as Conventional Commits.
//!
//! Every message classifies to something: a conventional change, or [`Classification::Unparsed`]
//! with the reason. Nothing is dropped. Reverts are recognised in both spellings: the conventional
//! `revert: <header>` and git's own `Revert "<header>"` with `This reverts commit <sha>.`.
//!
//! [`judge`] is the one definition of "conventional" a repository is held to: `paved-version
//! lint` rejects what it rejects, and the version analysis counts the same commits as not
//! conventional, with the same reason.

use serde::Serialize;

use crate::semver_rules::BumpRules;

/// A message that follows the Conventional Commits spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conventional {
    /// The type, lower-cased: `feat`, `fix`, `revert`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The scope inside the parentheses, if any.
    pub scope: Option<String>,
    /// The description after `: `.
    pub description: String,
    /// `!` after the type/scope, or a `BREAKING CHANGE:`/`BREAKING-CHANGE:` footer.
    pub breaking: bool,
    /// The breaking-change text: the footer's value, or the description for `!`.
    pub breaking_description: Option<String>,
    /// The body, without footers.
    pub body: Option<String>,
    /// Footers as (token, value), in order.
    pub footers: Vec<(String, String)>,
    /// Set when the change reverts an earlier one.
    pub reverts: Option<Revert>,
}

/// What a revert commit points back at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revert {
    /// The reverted commit's id (full or abbreviated) from `This reverts commit <sha>`.
    pub commit: Option<String>,
    /// The reverted commit's header, from `Revert "<header>"` or `revert: <header>`.
    pub header: Option<String>,
}

/// The classification of one commit message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// A conventional commit (including reverts).
    Conventional(Conventional),
    /// Not a conventional commit: kept, counted and reported.
    Unparsed {
        /// Why the header did not parse.
        reason: String,
    },
}

/// Whether a message passes as a Conventional Commit under a repository's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A well-formed header of a known type.
    Accepted,
    /// Not conventional here; the reason says what is wrong and how to write it.
    Rejected(String),
}

impl Verdict {
    /// The reason, when rejected.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Accepted => None,
            Verdict::Rejected(r) => Some(r),
        }
    }
}

/// Judge `message` (already classified as `class`) by `rules`: the header must parse, its type
/// must be one `rules` knows (the Angular types plus `[version.types]`), and its description must
/// not be empty. A rejection names the mistakes real histories hold (`fixup!`, merge messages, a
/// leading emoji, a space before the colon, an empty scope) rather than only the parser's words.
///
/// A commit rejected for an unknown type still bumps by its parse (a breaking `wip!:` is major):
/// the verdict decides what is reported, never that a breaking change is ignored.
pub fn judge(message: &str, class: &Classification, rules: &BumpRules) -> Verdict {
    let head = header(message.trim_start());
    if head.trim().is_empty() {
        return Verdict::Rejected("the message is empty".into());
    }
    match class {
        Classification::Unparsed { reason } => Verdict::Rejected(diagnose(head, reason)),
        Classification::Conventional(c) if !rules.is_known(&c.kind) => {
            let known: Vec<&str> = rules.known_types().collect();
            Verdict::Rejected(format!(
                "type `{}` is not known; use one of {} (or add it under `[version.types]` in paved.toml)",
                c.kind,
                known.join(", ")
            ))
        }
        Classification::Conventional(c) if c.description.trim().is_empty() => {
            Verdict::Rejected(format!("the description after `{}:` is empty", c.kind))
        }
        Classification::Conventional(_) => Verdict::Accepted,
    }
}

/// Why a header that did not parse is not conventional, in the words of the usual mistake.
fn diagnose(head: &str, parser: &str) -> String {
    let head = head.trim();
    for marker in ["fixup!", "squash!", "amend!"] {
        if head.starts_with(marker) {
            return format!(
                "`{marker}` commits are meant to be folded into the commit they name before \
                 merging: run `git rebase -i --autosquash`"
            );
        }
    }
    if head.starts_with("Merge ") {
        return "this is git's merge message (`Merge …`), not a `type: description` header; a \
                merge commit (two parents) is skipped, but this one has a single parent: give it \
                its own header, e.g. the pull request's title"
            .into();
    }
    let first = head.split_whitespace().next().unwrap_or(head);
    let gitmoji = first.len() > 2
        && first.starts_with(':')
        && first.ends_with(':')
        && first[1..first.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let symbol = !first.starts_with(|c: char| c.is_alphanumeric());
    if (gitmoji || symbol) && head.len() > first.len() {
        return format!(
            "the header starts with `{first}` before the type; put the type first, e.g. `feat: …`"
        );
    }
    let word_end = head
        .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(head.len());
    let (word, rest) = head.split_at(word_end);
    if !word.is_empty() {
        let scope_end = rest
            .strip_prefix('(')
            .and_then(|r| r.find(')').map(|i| (r[..i].trim().is_empty(), i + 2)));
        if let Some((true, _)) = scope_end {
            return format!(
                "the scope in `{word}()` is empty; name one or drop the parentheses: `{word}: …`"
            );
        }
        let after = &rest[scope_end.map_or(0, |(_, end)| end)..];
        let after = after.strip_prefix('!').unwrap_or(after);
        if after.starts_with(char::is_whitespace) && after.trim_start().starts_with(':') {
            return format!("no space may come before `:`; write `{word}: …`");
        }
        if after.trim_end() == ":" {
            return format!("the description after `{word}:` is empty");
        }
    }
    format!(
        "{parser}; write it as `type(scope): description`, e.g. `fix(api): handle an empty body`"
    )
}

/// The first line of a message.
pub fn header(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim_end()
}

/// Classify a commit message.
pub fn classify(message: &str) -> Classification {
    let normalised;
    let message = if message.contains('\r') {
        normalised = message.replace("\r\n", "\n");
        normalised.as_str()
    } else {
        message
    };
    let message = message.trim();
    let head = header(message);

    // git's own revert message: `Revert "feat: add x"` + `This reverts commit <sha>.`
    // git 2.43+ words a revert of a revert as `Reapply "<header>"`; it is still a revert.
    let git_revert = head
        .strip_prefix("Revert \"")
        .or_else(|| head.strip_prefix("Reapply \""));
    if let Some(inner) = git_revert.and_then(|s| s.strip_suffix('"')) {
        return Classification::Conventional(Conventional {
            kind: "revert".into(),
            scope: None,
            description: inner.to_owned(),
            breaking: false,
            breaking_description: None,
            body: body_of(message),
            footers: Vec::new(),
            reverts: Some(Revert {
                commit: reverted_sha(message),
                header: Some(inner.to_owned()),
            }),
        });
    }

    let parsed = match git_conventional::Commit::parse(message) {
        Ok(c) => Some(from_parsed(&c)),
        // A conventional header with a body the strict parser rejects (free-form trailers, say)
        // is still a conventional commit: classify from the header and scan the body ourselves.
        Err(_) => git_conventional::Commit::parse(head).ok().map(|c| {
            let mut conv = from_parsed(&c);
            conv.body = body_of(message);
            if let Some(text) = breaking_footer(message) {
                conv.breaking = true;
                conv.breaking_description = Some(text);
            }
            conv
        }),
    };
    match parsed {
        Some(mut conv) => {
            // conventional-changelog treats a `BREAKING CHANGE:` line anywhere in the body as a
            // note, not only in the footer paragraph. Missing one would silently under-bump.
            if !conv.breaking
                && let Some(text) = breaking_footer(message)
            {
                conv.breaking = true;
                conv.breaking_description = Some(text);
            }
            if conv.kind == "revert" {
                conv.reverts = Some(Revert {
                    commit: reverted_sha(message),
                    header: Some(conv.description.clone()).filter(|d| !d.is_empty()),
                });
            }
            Classification::Conventional(conv)
        }
        None => {
            let reason = match git_conventional::Commit::parse(head) {
                Err(e) => e.kind().to_string(),
                Ok(_) => "invalid conventional commit".into(),
            };
            Classification::Unparsed { reason }
        }
    }
}

fn from_parsed(c: &git_conventional::Commit<'_>) -> Conventional {
    let breaking_description = if c.breaking() {
        c.breaking_description()
            .map(str::to_owned)
            .or_else(|| Some(c.description().to_owned()))
    } else {
        None
    };
    Conventional {
        kind: c.type_().as_str().to_ascii_lowercase(),
        scope: c.scope().map(|s| s.as_str().to_owned()),
        description: c.description().trim().to_owned(),
        breaking: c.breaking(),
        breaking_description,
        body: c
            .body()
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty()),
        footers: c
            .footers()
            .iter()
            .map(|f| {
                // `Closes #12` is a footer with the ` #` separator: keep the `#` in the value so
                // it reads as the reference it is.
                let value = f.value().trim();
                let value = match f.separator() {
                    git_conventional::FooterSeparator::Ref => format!("#{value}"),
                    _ => value.to_owned(),
                };
                (f.token().as_str().to_owned(), value)
            })
            .collect(),
        reverts: None,
    }
}

fn body_of(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('\n')?;
    let rest = rest.trim();
    (!rest.is_empty()).then(|| rest.to_owned())
}

fn breaking_footer(message: &str) -> Option<String> {
    message.lines().skip(1).find_map(|line| {
        line.strip_prefix("BREAKING CHANGE:")
            .or_else(|| line.strip_prefix("BREAKING-CHANGE:"))
            .map(|v| v.trim().to_owned())
    })
}

/// The id in `This reverts commit <sha>` (git's wording), or a `Refs: <sha>` footer.
fn reverted_sha(message: &str) -> Option<String> {
    for line in message.lines() {
        let line = line.trim();
        let rest = line
            .strip_prefix("This reverts commit ")
            .or_else(|| line.strip_prefix("Refs: "))
            .or_else(|| line.strip_prefix("Reverts: "));
        if let Some(rest) = rest {
            let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if sha.len() >= 7 {
                return Some(sha.to_ascii_lowercase());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(msg: &str) -> Conventional {
        match classify(msg) {
            Classification::Conventional(c) => c,
            other => panic!("{msg:?} did not parse: {other:?}"),
        }
    }

    #[test]
    fn types_scopes_and_breaking() {
        let c = conv("feat(api)!: drop v1 endpoints");
        assert_eq!(
            (c.kind.as_str(), c.scope.as_deref(), c.breaking),
            ("feat", Some("api"), true)
        );
        let c = conv("fix: x\n\nsome body\n\nBREAKING CHANGE: config moved");
        assert!(c.breaking);
        assert_eq!(c.breaking_description.as_deref(), Some("config moved"));
        let c = conv("fix: x\n\nBREAKING-CHANGE: y");
        assert!(c.breaking);
        assert_eq!(conv("FEAT: shout").kind, "feat");
    }

    #[test]
    fn unparsed_is_kept_with_a_reason() {
        match classify("Update README") {
            Classification::Unparsed { reason } => assert!(reason.contains("type"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reverts_in_both_spellings() {
        let git = conv(
            "Revert \"feat: add x\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.",
        );
        assert_eq!(git.kind, "revert");
        let r = git.reverts.unwrap();
        assert_eq!(r.header.as_deref(), Some("feat: add x"));
        assert_eq!(
            r.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        let again = conv("Reapply \"feat: add x\"\n\nThis reverts commit 1234567.");
        assert_eq!(again.reverts.unwrap().commit.as_deref(), Some("1234567"));
        let cc = conv("revert: feat: add x");
        assert_eq!(cc.reverts.unwrap().header.as_deref(), Some("feat: add x"));
    }

    #[test]
    fn judge_names_the_mistake() {
        let rules = BumpRules::default();
        let reason = |m: &str| match judge(m, &classify(m), &rules) {
            Verdict::Rejected(r) => r,
            Verdict::Accepted => panic!("{m:?} was accepted"),
        };
        assert!(reason("[WIP] feat: x").contains("starts with `[WIP]`"));
        assert!(reason("feat(api)! : x").contains("before `:`"));
        assert!(reason("  \n\n").contains("empty"));
        assert!(reason("Merge remote-tracking branch 'origin/main'").contains("merge"));
        assert!(reason("chores: tidy").contains("type `chores` is not known"));
        for ok in [
            "feat: x",
            "Revert \"Update README\"\n\nThis reverts commit 1234567.",
            "FIX(Api)!: y",
        ] {
            assert_eq!(judge(ok, &classify(ok), &rules), Verdict::Accepted, "{ok}");
        }
    }

    #[test]
    fn lenient_body_still_classifies_header() {
        let c = conv("feat: x\r\n\r\nfree text\nnot-a-footer : weird\nBREAKING CHANGE: yes");
        assert_eq!(c.kind, "feat");
        assert!(c.breaking);
    }
}
