//! Updating CHANGELOG.md in place: a release's section is inserted at the top, under any
//! hand-written header, or replaces the section of the same version. Re-running never duplicates a
//! section, and text that is not a release section (the header, hand-written notes inside other
//! releases, link definitions at the end) is kept as it is.

use semver::Version;

/// The header of a new file.
pub const DEFAULT_HEADER: &str =
    "# Changelog\n\nAll notable changes to this project are documented in this file.\n";

/// What a level-2 heading names: a version, or the unreleased section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `## [Unreleased]`
    Unreleased,
    /// `## [1.2.3] - 2024-01-01`, `## v1.2.3`, `## [api@1.2.3](…)`…
    Version(Version),
}

/// The key of a rendered section's first line, if it is a release heading.
pub fn heading_key(line: &str) -> Option<Key> {
    let rest = line.strip_prefix("## ")?.trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let token: String = rest
        .chars()
        .take_while(|c| !matches!(c, ']' | ' ' | '(' | '\t'))
        .collect();
    if token.eq_ignore_ascii_case("unreleased") {
        return Some(Key::Unreleased);
    }
    // Accept tag-shaped titles too (`v1.2.3`, `api@1.2.3`, `api-v1.2.3`): the version is the part
    // from the first digit that parses.
    for (i, c) in token.char_indices() {
        if c.is_ascii_digit()
            && (i == 0 || !token.as_bytes()[i - 1].is_ascii_digit())
            && let Ok(v) = Version::parse(&token[i..])
        {
            return Some(Key::Version(v));
        }
    }
    None
}

struct Doc {
    header: String,
    sections: Vec<(Key, String)>,
    footer: String,
}

fn parse(text: &str) -> Doc {
    let mut header = String::new();
    let mut sections: Vec<(Key, String)> = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let fenced = fenced_lines(&lines);
    for (line, fenced) in lines.into_iter().zip(fenced) {
        let key = if fenced {
            None
        } else {
            heading_key(line.trim_end())
        };
        match (key, sections.last_mut()) {
            (Some(k), _) => sections.push((k, line.to_owned())),
            (None, Some((_, body))) => body.push_str(line),
            (None, None) => header.push_str(line),
        }
    }
    // Link reference definitions at the very end belong to the document, not the last section.
    let mut footer = String::new();
    if let Some((_, body)) = sections.last_mut() {
        let lines: Vec<&str> = body.split_inclusive('\n').collect();
        let mut cut = lines.len();
        while cut > 1 {
            let l = lines[cut - 1].trim();
            if l.is_empty() || (l.starts_with('[') && l.contains("]: ")) {
                cut -= 1;
            } else {
                break;
            }
        }
        let tail: String = lines[cut..].concat();
        if tail.lines().any(|l| l.trim().starts_with('[')) {
            footer = tail;
            *body = lines[..cut].concat();
        }
    }
    Doc {
        header,
        sections,
        footer,
    }
}

/// A fence: three or more backticks or tildes, after at most three spaces.
fn fence(line: &str) -> Option<(u8, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = *trimmed.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = trimmed.bytes().take_while(|&b| b == ch).count();
    (len >= 3).then(|| (ch, len, &trimmed[len..]))
}

/// Which lines are inside a fenced code block (fences included), as CommonMark reads them,
/// except that a fence never closed is not a fence: the headings after it stay release sections,
/// so writing the same sections again finds them instead of adding them once more.
fn fenced_lines(lines: &[&str]) -> Vec<bool> {
    let mut fenced = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if let Some((ch, len, _)) = fence(lines[i]) {
            let close = (i + 1..lines.len()).find(|&j| {
                fence(lines[j])
                    .is_some_and(|(c, l, rest)| c == ch && l >= len && rest.trim().is_empty())
            });
            if let Some(j) = close {
                fenced[i..=j].fill(true);
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    fenced
}

fn order(k: &Key) -> (u8, Option<&Version>) {
    match k {
        Key::Unreleased => (1, None),
        Key::Version(v) => (0, Some(v)),
    }
}

/// Insert or replace `sections` (each a rendered section starting with its `## ` heading) in
/// `existing` (the current file, if any). Returns the new file text.
pub fn upsert(existing: Option<&str>, sections: &[String], header: &str) -> String {
    let mut doc = match existing {
        Some(text) if !text.trim().is_empty() => parse(text),
        _ => Doc {
            header: format!("{}\n", header.trim_end()),
            sections: Vec::new(),
            footer: String::new(),
        },
    };
    // Oldest first, so each new one lands above the older ones.
    for text in sections.iter().rev() {
        let Some(key) = text.lines().next().and_then(heading_key) else {
            continue;
        };
        let body = format!("{}\n", text.trim_end());
        if let Some(slot) = doc.sections.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = body;
            continue;
        }
        // A released version takes the place of the `Unreleased` section it came from.
        if matches!(key, Key::Version(_))
            && let Some(pos) = doc.sections.iter().position(|(k, _)| *k == Key::Unreleased)
        {
            doc.sections[pos] = (key, body);
            continue;
        }
        let pos = doc
            .sections
            .iter()
            .position(|(k, _)| order(k) < order(&key))
            .unwrap_or(doc.sections.len());
        doc.sections.insert(pos, (key, body));
    }
    let mut out = doc.header;
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    let n = doc.sections.len();
    for (i, (_, body)) in doc.sections.into_iter().enumerate() {
        out.push_str(body.trim_end());
        out.push('\n');
        if i + 1 < n {
            out.push('\n');
        }
    }
    if !doc.footer.trim().is_empty() {
        out.push('\n');
        out.push_str(doc.footer.trim_start_matches('\n'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(heading_key("## [Unreleased]"), Some(Key::Unreleased));
        assert_eq!(
            heading_key("## [1.2.3](https://x/compare/a...b) - 2024-01-01"),
            Some(Key::Version(Version::new(1, 2, 3)))
        );
        assert_eq!(
            heading_key("## v2.0.0-rc.1"),
            Some(Key::Version(Version::parse("2.0.0-rc.1").unwrap()))
        );
        assert_eq!(
            heading_key("## [api@1.0.0]"),
            Some(Key::Version(Version::new(1, 0, 0)))
        );
        assert_eq!(heading_key("## Notes"), None);
        assert_eq!(heading_key("### 1.0.0"), None);
    }

    #[test]
    fn new_file_gets_a_header() {
        let out = upsert(
            None,
            &["## [1.0.0] - 2024-01-01\n\n- x\n".into()],
            DEFAULT_HEADER,
        );
        assert!(out.starts_with("# Changelog\n\nAll notable"));
        assert!(out.ends_with("## [1.0.0] - 2024-01-01\n\n- x\n"));
    }

    #[test]
    fn insert_replace_and_keep_everything_else() {
        let existing = "# Changes\n\nHand-written intro.\n\n## 1.0.0\n\n- old\n\nA note we wrote by hand.\n\n## 0.9.0\n\n- older\n\n[1.0.0]: https://example.com/1\n";
        let one = upsert(
            Some(existing),
            &["## [1.1.0] - 2024-02-02\n\n- new\n".into()],
            DEFAULT_HEADER,
        );
        assert!(
            one.starts_with(
                "# Changes\n\nHand-written intro.\n\n## [1.1.0] - 2024-02-02\n\n- new\n\n## 1.0.0\n"
            ),
            "{one}"
        );
        assert!(one.contains("A note we wrote by hand."));
        assert!(
            one.ends_with("- older\n\n[1.0.0]: https://example.com/1\n"),
            "{one}"
        );
        // Idempotent: the same section again changes nothing.
        let two = upsert(
            Some(&one),
            &["## [1.1.0] - 2024-02-02\n\n- new\n".into()],
            DEFAULT_HEADER,
        );
        assert_eq!(one, two);
        // A re-run with different content replaces only that section.
        let three = upsert(
            Some(&two),
            &["## [1.1.0] - 2024-02-02\n\n- newer\n".into()],
            DEFAULT_HEADER,
        );
        assert_eq!(three.matches("## [1.1.0]").count(), 1);
        assert!(three.contains("- newer") && !three.contains("- new\n"));
    }

    #[test]
    fn released_version_replaces_unreleased_and_old_versions_go_in_order() {
        let existing = "# Changelog\n\n## [Unreleased]\n\n- pending\n\n## [1.0.0]\n\n- one\n";
        let out = upsert(
            Some(existing),
            &["## [1.1.0]\n\n- pending\n".into()],
            DEFAULT_HEADER,
        );
        assert!(!out.contains("Unreleased"));
        let out = upsert(
            Some(&out),
            &["## [0.5.0]\n\n- ancient\n".into()],
            DEFAULT_HEADER,
        );
        let order: Vec<&str> = out.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(order, ["## [1.1.0]", "## [1.0.0]", "## [0.5.0]"]);
    }

    #[test]
    fn headings_in_code_fences_are_not_sections() {
        let existing = "# Changelog\n\n## [1.0.0]\n\n```md\n## [0.1.0]\n```\n";
        let out = upsert(
            Some(existing),
            &["## [1.0.0]\n\n- replaced\n".into()],
            DEFAULT_HEADER,
        );
        assert!(!out.contains("```"), "{out}");
        let kept = upsert(
            Some(existing),
            &["## [2.0.0]\n\n- new\n".into()],
            DEFAULT_HEADER,
        );
        assert!(kept.contains("```md\n## [0.1.0]\n```"), "{kept}");
    }

    /// Files as people leave them: a fence never closed, `~~~` fences, CRLF line endings, a
    /// heading with its link, tabs. Writing the same sections twice gives the same file, and no
    /// release appears twice.
    #[test]
    fn a_second_run_on_a_malformed_file_changes_nothing() {
        let sections = [
            "## [1.1.0] - 2026-12-01\n\n- new\n".to_owned(),
            "## [1.0.0] - 2026-11-01\n\n- first\n".to_owned(),
        ];
        for existing in [
            "# Changelog\n\n```\nan example never closed\n\n## [1.0.0]\n\n- first\n",
            "# Changelog\n\n## [1.0.0]\n\n```sh\ncargo install\n",
            "# Changelog\n\n~~~\n## [0.9.0]\n~~~\n\n## [1.0.0]\n\n- first\n",
            "# Changelog\n\n~~~\n```\n## [0.9.0]\n~~~\n\n## [1.0.0]\n- first\n",
            "# Changelog\r\n\r\n## [1.0.0]\r\n\r\n- first\r\n",
            "## [1.0.0](https://example.com/compare/v0.9.0...v1.0.0)\t(2026-11-01)\n- first\n",
            "````\n```\n## [1.0.0]\n````\n## [1.0.0]\n",
        ] {
            let once = upsert(Some(existing), &sections, DEFAULT_HEADER);
            let twice = upsert(Some(&once), &sections, DEFAULT_HEADER);
            assert_eq!(once, twice, "not idempotent on {existing:?}");
            for version in ["## [1.1.0]", "## [1.0.0] - 2026-11-01"] {
                assert_eq!(once.matches(version).count(), 1, "{version} in:\n{once}");
            }
        }
    }
}
