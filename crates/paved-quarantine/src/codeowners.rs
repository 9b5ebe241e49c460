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

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Where CODEOWNERS may live, in lookup order.
pub const LOCATIONS: &[&str] = &[
    ".github/CODEOWNERS",
    "CODEOWNERS",
    "docs/CODEOWNERS",
    ".gitlab/CODEOWNERS",
];

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    /// Which file it came from (`None` when no file was found).
    pub path: Option<PathBuf>,
    /// The owners of each rule, in file order.
    owners: Vec<Vec<String>>,
    /// Every rule's globs; `rule_of[i]` is the rule glob `i` belongs to.
    globs: GlobSet,
    rule_of: Vec<usize>,
    /// Patterns that could not be compiled (they own nothing), with the reason.
    pub skipped: Vec<(String, String)>,
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
        let mut builder = GlobSetBuilder::new();
        let mut owners_of_rules: Vec<Vec<String>> = Vec::new();
        let mut rule_of = Vec::new();
        let mut skipped = Vec::new();
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
            let rule = owners_of_rules.len();
            match add_globs(&mut builder, &pattern) {
                Ok(n) => rule_of.extend(std::iter::repeat_n(rule, n)),
                Err(e) => skipped.push((pattern, e.to_string())),
            }
            owners_of_rules.push(owners);
        }
        let globs = builder.build().unwrap_or_else(|e| {
            skipped.push(("(all)".to_owned(), e.to_string()));
            rule_of.clear();
            GlobSet::empty()
        });
        CodeOwners {
            path: None,
            owners: owners_of_rules,
            globs,
            rule_of,
            skipped,
        }
    }

    /// The owners of `file` (a path relative to the repository root), by the last matching rule.
    pub fn owners_of(&self, file: &str) -> Option<&[String]> {
        let file = file.trim_start_matches("./").trim_start_matches('/');
        let file = file
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        self.globs
            .matches(&file)
            .into_iter()
            .map(|glob| self.rule_of[glob])
            .max()
            .map(|rule| self.owners[rule].as_slice())
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

/// Add the globs that express one CODEOWNERS pattern; returns how many were added.
///
/// A pattern matches the path itself (unless it ends in `/`) and, unless its last segment is a
/// bare `*`, everything below a directory it matches. An unanchored pattern matches at any depth.
fn add_globs(builder: &mut GlobSetBuilder, pattern: &str) -> Result<usize, globset::Error> {
    let dir_only = pattern.ends_with('/');
    let trimmed = pattern.trim_end_matches('/');
    let anchored = trimmed.starts_with('/') || trimmed.trim_start_matches('/').contains('/');
    let segments: Vec<String> = trimmed
        .split('/')
        .filter(|s| !s.is_empty())
        .map(glob_segment)
        .collect();
    if segments.is_empty() {
        // `/`: owns everything.
        builder.add(glob("**")?);
        return Ok(1);
    }
    let body = format!(
        "{}{}",
        if anchored { "" } else { "**/" },
        segments.join("/")
    );
    let last = segments.last().map(String::as_str);
    let mut added = 0;
    if !dir_only {
        builder.add(glob(&body)?);
        added += 1;
    }
    // GitHub: `docs/*` owns the files in `docs` but not those in its subdirectories; `docs/*/`
    // names directories, and owns what is below them.
    if last != Some("**") && (last != Some("*") || dir_only) {
        builder.add(glob(&format!("{body}/**"))?);
        added += 1;
    } else if dir_only {
        // `docs/**/`: everything below `docs`.
        builder.add(glob(&format!("{body}/*"))?);
        added += 1;
    }
    Ok(added)
}

fn glob(text: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(text)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// One pattern segment as a glob segment: `*`, `?` and a whole-segment `**` keep their meaning;
/// other runs of `*` are one `*` (as in git); character classes and braces are literal, since
/// CODEOWNERS has neither.
fn glob_segment(segment: &str) -> String {
    if segment == "**" {
        return segment.to_owned();
    }
    let mut out = String::with_capacity(segment.len());
    for c in segment.chars() {
        match c {
            '*' if out.ends_with('*') => {}
            '[' | ']' | '{' | '}' | '\\' | ',' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
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
    fn globs_stay_within_a_segment_and_metacharacters_are_literal() {
        let o = CodeOwners::parse(
            "t?st_* @q\nx/[abc].py @brackets\n{a,b}.rs @braces\nsrc/a***b @stars\n/ci/*/ @ci\n",
        );
        let owner = |f: &str| o.owners_of(f).map(|o| o.join(" "));
        assert!(o.skipped.is_empty(), "{:?}", o.skipped);
        assert_eq!(owner("x/test_a").as_deref(), Some("@q"));
        assert_eq!(owner("x/test_a/b.txt").as_deref(), Some("@q"));
        assert_eq!(owner("x/tst_a"), None);
        assert_eq!(owner("x/[abc].py").as_deref(), Some("@brackets"));
        assert_eq!(owner("x/a.py"), None, "no character classes in CODEOWNERS");
        assert_eq!(owner("{a,b}.rs").as_deref(), Some("@braces"));
        assert_eq!(owner("a.rs"), None, "no brace alternation in CODEOWNERS");
        assert_eq!(owner("src/a_x_b").as_deref(), Some("@stars"));
        assert_eq!(owner("src/a/b"), None, "`***` is `*`, within one segment");
        assert_eq!(owner("ci/linux/run.sh").as_deref(), Some("@ci"));
        assert_eq!(owner("ci/run.sh"), None);
    }
}
