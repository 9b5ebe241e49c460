//! CODEOWNERS: who owns a test file, so a quarantined test gets an owner.
//!
//! Looked up in the places GitHub and GitLab read it: `.github/CODEOWNERS`, `CODEOWNERS`,
//! `docs/CODEOWNERS`, `.gitlab/CODEOWNERS` (the first that exists wins).
//!
//! Each line is a gitignore-style pattern followed by owners; the **last** matching line wins,
//! and a pattern with no owners leaves the path unowned. Patterns:
//! - a `/` at the start or in the middle anchors the pattern at the repository root; otherwise it
//!   matches at any depth (`*.py` matches `a/b/c.py`);
//! - a trailing `/` matches a directory, i.e. every file below it; any pattern that matches a
//!   directory also owns everything below it;
//! - `*` matches within one path segment, `?` one character, `**` any number of segments;
//! - `\#` escapes a leading `#`; text after ` #` is a comment;
//! - GitLab section headers (`[Section]`, `^[Section][2]`) are skipped; their patterns apply as
//!   ordinary lines.

use std::path::{Path, PathBuf};

/// Where CODEOWNERS may live, in lookup order.
pub const LOCATIONS: &[&str] = &[
    ".github/CODEOWNERS",
    "CODEOWNERS",
    "docs/CODEOWNERS",
    ".gitlab/CODEOWNERS",
];

#[derive(Debug, Clone)]
struct Rule {
    anchored: bool,
    dir_only: bool,
    segments: Vec<String>,
    owners: Vec<String>,
}

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    /// Which file it came from (`None` when no file was found).
    pub path: Option<PathBuf>,
    rules: Vec<Rule>,
}

impl CodeOwners {
    /// Find and parse the CODEOWNERS of the repository at `root` (empty when there is none).
    pub fn discover(root: &Path) -> paved_core::Result<CodeOwners> {
        for loc in LOCATIONS {
            let path = root.join(loc);
            if path.is_file() {
                let text = paved_core::fs::read_to_string(&path)?;
                let mut owners = CodeOwners::parse(&text);
                owners.path = Some(path);
                return Ok(owners);
            }
        }
        Ok(CodeOwners::default())
    }

    /// Parse the text of a CODEOWNERS file.
    pub fn parse(text: &str) -> CodeOwners {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with('[')
                || line.starts_with("^[")
            {
                continue;
            }
            let mut words = split_words(line);
            if words.is_empty() {
                continue;
            }
            let pattern = words.remove(0);
            let owners = words
                .into_iter()
                .take_while(|w| !w.starts_with('#'))
                .collect();
            rules.push(compile(&pattern, owners));
        }
        CodeOwners { path: None, rules }
    }

    /// The owners of `file` (a path relative to the repository root), by the last matching rule.
    pub fn owners_of(&self, file: &str) -> Option<&[String]> {
        let file = file.trim_start_matches("./").trim_start_matches('/');
        let segs: Vec<&str> = file.split('/').filter(|s| !s.is_empty()).collect();
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(&segs))
            .map(|r| r.owners.as_slice())
            .filter(|o| !o.is_empty())
    }
}

/// Split on unescaped whitespace, unescaping `\ ` and a leading `\#`.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ (' ' | '#' | '\\')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn compile(pattern: &str, owners: Vec<String>) -> Rule {
    let dir_only = pattern.ends_with('/');
    let trimmed = pattern.trim_end_matches('/');
    let anchored = trimmed.starts_with('/') || trimmed.trim_start_matches('/').contains('/');
    let segments = trimmed
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Rule {
        anchored,
        dir_only,
        segments,
        owners,
    }
}

impl Rule {
    fn matches(&self, path: &[&str]) -> bool {
        if self.segments.is_empty() {
            // `/` or `*`-less root pattern: owns everything.
            return true;
        }
        let starts: Vec<usize> = if self.anchored {
            vec![0]
        } else {
            (0..path.len()).collect()
        };
        // GitHub: `docs/*` owns the files in `docs` but not those in its subdirectories.
        let dirs_too = self.segments.last().is_none_or(|s| s != "*");
        starts.into_iter().any(|start| {
            let rest = &path[start..];
            // Match the pattern against a prefix of the path: the pattern names the file itself,
            // or a directory the file is under (which needs at least one more segment).
            (0..=rest.len()).any(|end| {
                let is_file = end == rest.len();
                if (is_file && self.dir_only) || (!is_file && !dirs_too) {
                    return false;
                }
                match_segments(&self.segments, &rest[..end])
            })
        })
    }
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((seg, tail)) => {
                match_glob(first.as_bytes(), seg.as_bytes()) && match_segments(rest, tail)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment.
fn match_glob(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r"
# Default owners
*                       @acme/everyone
*.py                    @acme/python
/tests/                 @acme/qa
tests/e2e/**/*.spec.ts  @acme/web   # inline comment
docs/*                  @acme/docs
/build/logs/
apps/                   @acme/apps
[Backend][2] @acme/backend-lead
/src/api/**             @acme/api
\#weird.py              @acme/hash
path\ with\ space.py    @acme/space
";

    fn owner(file: &str) -> Option<String> {
        CodeOwners::parse(FILE).owners_of(file).map(|o| o.join(" "))
    }

    #[test]
    fn last_matching_rule_wins_with_gitignore_patterns() {
        assert_eq!(owner("README.md").as_deref(), Some("@acme/everyone"));
        assert_eq!(owner("lib/x.py").as_deref(), Some("@acme/python"));
        assert_eq!(owner("tests/test_x.py").as_deref(), Some("@acme/qa"));
        assert_eq!(
            owner("src/tests/test_x.py").as_deref(),
            Some("@acme/python")
        );
        assert_eq!(
            owner("tests/e2e/a/b/login.spec.ts").as_deref(),
            Some("@acme/web")
        );
        assert_eq!(
            owner("tests/e2e/login.spec.ts").as_deref(),
            Some("@acme/web")
        );
        assert_eq!(owner("docs/guide.md").as_deref(), Some("@acme/docs"));
        // GitHub's documented exception: `docs/*` does not reach into subdirectories.
        assert_eq!(owner("docs/a/b.md").as_deref(), Some("@acme/everyone"));
        assert_eq!(owner("build/logs/x.log"), None, "no owners: unowned");
        assert_eq!(owner("x/apps/y/z.rs").as_deref(), Some("@acme/apps"));
        assert_eq!(owner("./src/api/v1/h.rs").as_deref(), Some("@acme/api"));
        assert_eq!(owner("#weird.py").as_deref(), Some("@acme/hash"));
        assert_eq!(owner("path with space.py").as_deref(), Some("@acme/space"));
    }

    #[test]
    fn globs() {
        assert!(match_glob(b"*.py", b"a.py"));
        assert!(!match_glob(b"*.py", b"a.pyc"));
        assert!(match_glob(b"t?st_*", b"test_a"));
        assert!(match_glob(b"*", b""));
    }
}
