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

/// The key of a release heading: `## [1.2.3] - 2024-01-01`, `## v1.2.3`, `## [Unreleased]`, and
/// the level-1 headings conventional-changelog and lerna give minor and major releases
/// (`# [21.2.0](…) (2026-06-30)`). A title without a version (`# Changelog`) is not one.
pub fn heading_key(line: &str) -> Option<Key> {
    let rest = line
        .strip_prefix("## ")
        .or_else(|| line.strip_prefix("# "))?
        .trim_start();
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

/// The file cut into pieces whose concatenation is exactly the original text: the header, one
/// piece per release section (from its heading, or the anchor line above it, to the next one,
/// blank lines included), and the link definitions at the end.
struct Doc {
    header: String,
    sections: Vec<(Key, String)>,
    footer: String,
}

/// `<a name="1.0.0"></a>`: old conventional-changelog files put one above each heading.
fn is_anchor(line: &str) -> bool {
    let l = line.trim();
    l.starts_with("<a name=") && l.ends_with("</a>")
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
        let previous = match sections.last_mut() {
            Some((_, body)) => body,
            None => &mut header,
        };
        match key {
            Some(k) => {
                // The anchor line right above a heading moves with it.
                let mut start = String::new();
                if let Some(last) = previous.trim_end_matches(['\r', '\n']).rsplit('\n').next()
                    && is_anchor(last)
                {
                    let cut = previous.trim_end_matches(['\r', '\n']).len() - last.len();
                    start = previous.split_off(cut);
                }
                start.push_str(line);
                sections.push((k, start));
            }
            None => previous.push_str(line),
        }
    }
    // Link reference definitions at the very end belong to the document, not the last section.
    let mut footer = String::new();
    if let Some((_, body)) = sections.last_mut()
        && let Some(cut) = link_definitions_start(body)
    {
        footer = body.split_off(cut);
    }
    Doc {
        header,
        sections,
        footer,
    }
}

/// Where the link reference definitions at the end of `body` start (with the blank lines
/// before them), if it ends with any; never at its first line.
fn link_definitions_start(body: &str) -> Option<usize> {
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
    let tail = &lines[cut..];
    tail.iter()
        .any(|l| l.trim().starts_with('['))
        .then(|| lines[..cut].iter().map(|l| l.len()).sum())
}

/// The blank lines at the end of `piece` (the separation before whatever follows it).
fn trailing_blank_lines(piece: &str) -> &str {
    let content = piece.trim_end_matches([' ', '\t', '\r', '\n']);
    let rest = &piece[content.len()..];
    // Keep the end of the last content line with the content.
    match rest.find('\n') {
        Some(i) => &rest[i + 1..],
        None => "",
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

/// `text` with its lines joined by `eol`, each release heading after the first `skip` lines
/// (outside code fences) escaped (`\## [1.0.0]` reads as the same text, and is no section),
/// and each fence that is never closed escaped too.
fn escape_release_headings(text: &str, skip: usize, eol: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + 2);
    for (n, (line, fenced)) in lines.iter().zip(fenced_lines(&lines)).enumerate() {
        if n > 0 {
            out.push_str(eol);
        }
        // A fence never closed here would pair with one in the text around it in the file,
        // hiding the headings between: escaped, it is text, as it is read here.
        if !fenced && ((n >= skip && heading_key(line).is_some()) || fence(line).is_some()) {
            out.push_str(&line[..line.len() - line.trim_start_matches(' ').len()]);
            out.push('\\');
            out.push_str(line.trim_start_matches(' '));
            continue;
        }
        out.push_str(line);
    }
    out
}

/// The line ending of the sections written: the one most lines use in the text this call keeps
/// (a tie, or no line at all, is `\n`), else in the whole existing file. Chosen from the kept
/// text, a second run chooses as the first did, so a file with mixed endings (a header pasted
/// from Windows) does not flip between them.
fn line_ending(doc: &Doc, sections: &[String], existing: Option<&str>) -> &'static str {
    let written: Vec<Key> = sections
        .iter()
        .filter_map(|t| t.lines().next().and_then(heading_key))
        .collect();
    // A release written without its `Unreleased` section replaces the file's.
    let unreleased_goes =
        !written.contains(&Key::Unreleased) && written.iter().any(|k| matches!(k, Key::Version(_)));
    let count = |text: &str| {
        let crlf = text.matches("\r\n").count();
        (crlf, text.matches('\n').count() - crlf)
    };
    let mut kept = count(&doc.header);
    for (key, body) in &doc.sections {
        let replaced = written.contains(key) || (unreleased_goes && *key == Key::Unreleased);
        if !replaced {
            let (c, l) = count(body);
            kept = (kept.0 + c, kept.1 + l);
        }
    }
    let (c, l) = count(&doc.footer);
    let (crlf, lf) = match (kept.0 + c, kept.1 + l) {
        (0, 0) => existing.map_or((0, 0), count),
        counts => counts,
    };
    if crlf > lf { "\r\n" } else { "\n" }
}

fn order(k: &Key) -> (u8, Option<&Version>) {
    match k {
        Key::Unreleased => (1, None),
        Key::Version(v) => (0, Some(v)),
    }
}

/// Insert or replace `sections` (each a rendered section starting with its `## ` heading) in
/// `existing` (the current file, if any). Returns the new file text.
///
/// Every byte outside the sections written is kept: a replaced section keeps the blank lines
/// that followed it, a new one is separated from the release below it as that release is from
/// the one below it, and line endings follow the file's.
pub fn upsert(existing: Option<&str>, sections: &[String], header: &str) -> String {
    let mut doc = match existing {
        Some(text) if !text.trim().is_empty() => parse(text),
        // A new file starts as its header, read as a file would be on the next run: a release
        // heading in it (`## [Unreleased]`) is a section from the start, so the two runs agree.
        _ => parse(&format!(
            "{}\n",
            escape_release_headings(header.trim_end(), usize::MAX, "\n")
        )),
    };
    let eol = line_ending(&doc, sections, existing);
    // Whether an `Unreleased` section was written by this call: a release replaces only the
    // file's own (the notes it came from), never one written alongside it.
    let mut unreleased_written = false;
    // Oldest first, so each new one lands above the older ones.
    for text in sections.iter().rev() {
        let Some(key) = text.lines().next().and_then(heading_key) else {
            continue;
        };
        unreleased_written |= key == Key::Unreleased;
        // A release heading inside the section (a pasted PR body, a custom template) would
        // split it in the file, and the next run would write it twice.
        let mut body = escape_release_headings(text.trim_end(), 1, eol);
        body.push_str(eol);
        // Link definitions at the end of a section are the file's footer on the next run (the
        // last section's are read that way): they go there now, each line once.
        if let Some(cut) = link_definitions_start(&body) {
            let links = body.split_off(cut);
            let have: Vec<&str> = doc.footer.lines().map(str::trim_end).collect();
            let new: String = links
                .split_inclusive('\n')
                .filter(|l| !l.trim().is_empty() && !have.contains(&l.trim_end()))
                .collect();
            let blanks = doc.footer.len() - doc.footer.trim_start_matches(['\r', '\n']).len();
            doc.footer.insert_str(blanks, &new);
        }
        // A released version takes the place of the `Unreleased` section it came from, unless
        // this call wrote that `Unreleased` section itself.
        let slot = doc
            .sections
            .iter()
            .position(|(k, _)| *k == key)
            .or_else(|| {
                (matches!(key, Key::Version(_)) && !unreleased_written)
                    .then(|| doc.sections.iter().position(|(k, _)| *k == Key::Unreleased))
                    .flatten()
            });
        if let Some(i) = slot {
            // Later sections of the same release (a duplicate another tool left, or a section
            // whose own text held its heading twice) go: the release appears once. When they
            // directly follow, the blank lines after the last of them are the ones to keep.
            let mut end = i;
            while doc.sections.get(end + 1).is_some_and(|(k, _)| *k == key) {
                end += 1;
            }
            let kept = trailing_blank_lines(&doc.sections[end].1).to_owned();
            body.push_str(&kept);
            doc.sections[i] = (key.clone(), body);
            doc.sections.drain(i + 1..=end);
            let mut j = i + 1;
            while j < doc.sections.len() {
                if doc.sections[j].0 == key {
                    doc.sections.remove(j);
                } else {
                    j += 1;
                }
            }
            continue;
        }
        let pos = doc
            .sections
            .iter()
            .position(|(k, _)| order(k) < order(&key))
            .unwrap_or(doc.sections.len());
        if pos < doc.sections.len() {
            // Above an existing release: separated from it as it is from the next one.
            let below = trailing_blank_lines(&doc.sections[pos].1);
            body.push_str(if below.is_empty() { eol } else { below });
        } else {
            // Last (or first in a file without releases): what comes before must end with a
            // blank line; the footer keeps its own separation.
            let previous = match doc.sections.last_mut() {
                Some((_, b)) => b,
                None => &mut doc.header,
            };
            if !previous.is_empty() {
                if !previous.ends_with('\n') {
                    previous.push_str(eol);
                }
                if trailing_blank_lines(previous).is_empty() {
                    previous.push_str(eol);
                }
            }
            if !doc.footer.is_empty() && trailing_blank_lines(&body).is_empty() {
                let footer_starts_blank = doc.footer.starts_with(['\n', '\r']);
                if !footer_starts_blank {
                    body.push_str(eol);
                }
            }
        }
        doc.sections.insert(pos, (key, body));
    }
    let mut out = doc.header;
    for (_, body) in doc.sections {
        out.push_str(&body);
    }
    // A footer starts on a line of its own, even after a file that did not end with one.
    if !doc.footer.is_empty() && !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(&doc.footer);
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

    /// Found by `fuzz/`'s `changelog_upsert` target: an `Unreleased` section written in the same
    /// call as a release is kept (a release only takes the place of an `Unreleased` section that
    /// was already in the file), so writing the same sections again changes nothing.
    #[test]
    fn unreleased_written_with_a_release_is_kept_and_a_rerun_changes_nothing() {
        let sections = [
            "## v2.0.0\n\n- new\n".to_owned(),
            "## [Unreleased]\n\n- wip\n".to_owned(),
        ];
        let once = upsert(None, &sections, DEFAULT_HEADER);
        assert!(once.contains("- wip") && once.contains("- new"), "{once}");
        assert_eq!(upsert(Some(&once), &sections, DEFAULT_HEADER), once);

        // The file's own `Unreleased` is still replaced by the release.
        let existing = "# Changelog\n\n## [Unreleased]\n\n- pending\n";
        let out = upsert(Some(existing), &sections, DEFAULT_HEADER);
        assert!(!out.contains("- pending"), "{out}");
        let headings: Vec<&str> = out.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(headings, ["## [Unreleased]", "## v2.0.0"]);
        assert_eq!(upsert(Some(&out), &sections, DEFAULT_HEADER), out);
    }

    /// Found by `fuzz/`'s `changelog_upsert` target: a new file whose header holds a release
    /// heading, and no section to write, reads the same when written again.
    #[test]
    fn a_header_with_a_heading_and_no_sections_is_stable() {
        let header = "# Changelog\n\n## [Unreleased]\n";
        let once = upsert(None, &["## not a version\n".to_owned()], header);
        assert_eq!(once, header);
        assert_eq!(upsert(Some(&once), &[], header), once);
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

    /// Real files (`tests/fixtures/README.md` names their sources).
    const COMMITLINT: &str = include_str!("../tests/fixtures/commitlint-CHANGELOG.md");
    const GIT_CLIFF: &str = include_str!("../tests/fixtures/git-cliff-CHANGELOG.md");

    /// `out` is `orig` with one run of whole lines replaced: returns (removed, added).
    fn one_change(orig: &str, out: &str) -> (String, String) {
        let a: Vec<&str> = orig.split_inclusive('\n').collect();
        let b: Vec<&str> = out.split_inclusive('\n').collect();
        let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let max_suffix = a.len().min(b.len()) - prefix;
        let suffix = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take(max_suffix)
            .take_while(|(x, y)| x == y)
            .count();
        (
            a[prefix..a.len() - suffix].concat(),
            b[prefix..b.len() - suffix].concat(),
        )
    }

    fn headings(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| heading_key(l).is_some_and(|k| k != Key::Unreleased))
            .collect()
    }

    /// Issue #16, item 4: a new release on a real file adds that section and changes no other
    /// byte (no blank line removed anywhere else).
    #[test]
    fn inserting_into_real_files_changes_no_other_byte() {
        for (name, orig) in [("commitlint", COMMITLINT), ("git-cliff", GIT_CLIFF)] {
            let section = "## [99.0.0] - 2026-12-03\n\n### Features\n\n- new\n";
            let out = upsert(Some(orig), &[section.to_owned()], DEFAULT_HEADER);
            let (removed, added) = one_change(orig, &out);
            let (removed, added) = (removed.as_str(), added.as_str());
            assert!(
                removed.is_empty(),
                "{name}: bytes outside the new section changed: {removed:.300}"
            );
            assert!(added.contains(section.trim_end()), "{name}: {added:?}");
            assert_eq!(headings(added), ["## [99.0.0] - 2026-12-03"], "{name}");
            // Newest first: it lands above every other release.
            let first = out.lines().find(|l| heading_key(l).is_some()).unwrap();
            assert_eq!(first, "## [99.0.0] - 2026-12-03", "{name}");
            assert_eq!(
                upsert(Some(&out), &[section.to_owned()], DEFAULT_HEADER),
                out
            );
        }
    }

    /// Issue #16, item 3: lerna and conventional-changelog write minor and major releases as
    /// level-1 headings (`# [21.2.0]`); writing 21.2.0 again replaces that section instead of
    /// adding a second one, and changes nothing around it.
    #[test]
    fn level_one_release_headings_are_sections() {
        let section =
            "## [21.2.0](https://example.com) (2026-06-30)\n\n### Features\n\n- rewritten\n";
        let out = upsert(Some(COMMITLINT), &[section.to_owned()], DEFAULT_HEADER);
        assert_eq!(out.matches("[21.2.0](").count(), 1, "duplicated");
        let (removed, added) = one_change(COMMITLINT, &out);
        let (removed, added) = (removed.as_str(), added.as_str());
        assert_eq!(
            headings(removed),
            [
                "# [21.2.0](https://github.com/conventional-changelog/commitlint/compare/v21.1.0...v21.2.0) (2026-06-30)"
            ]
        );
        assert!(
            added.contains("- rewritten") && headings(added).len() == 1,
            "{added:?}"
        );
        // The blank lines that followed the old section still follow the new one.
        assert!(
            out.contains("- rewritten\n\n\n\n\n\n# [21.1.0]"),
            "{out:.2000}"
        );
        // The document title is not a release.
        assert!(out.starts_with("# Change Log\n"));
        assert_eq!(heading_key("# Change Log"), None);
        assert_eq!(
            heading_key("# [21.2.0](https://x) (2026-06-30)"),
            Some(Key::Version(Version::new(21, 2, 0)))
        );
    }

    /// Old conventional-changelog files put an anchor line above each heading; it belongs to the
    /// section below it, so a new release goes above the anchor.
    #[test]
    fn anchors_stay_with_their_heading() {
        let existing =
            "# Change Log\n\n<a name=\"1.0.0\"></a>\n# [1.0.0](https://x) (2017-01-01)\n\n- one\n";
        let out = upsert(
            Some(existing),
            &["## [1.1.0]\n\n- two\n".into()],
            DEFAULT_HEADER,
        );
        assert_eq!(
            out,
            "# Change Log\n\n## [1.1.0]\n\n- two\n\n<a name=\"1.0.0\"></a>\n# [1.0.0](https://x) (2017-01-01)\n\n- one\n"
        );
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

    /// Found by `fuzz/`'s `changelog_upsert` target: a section whose own text holds another
    /// heading of its release (a custom template, a pasted body). A re-run must not split it
    /// and keep the second copy, so the file stays the same.
    #[test]
    fn a_section_holding_its_own_heading_twice_is_stable() {
        let sections = ["## [1.0.0]\n\n- a\n\n## [1.0.0]\n\n- b\n".to_owned()];
        let once = upsert(None, &sections, DEFAULT_HEADER);
        assert_eq!(upsert(Some(&once), &sections, DEFAULT_HEADER), once);
        assert!(once.contains("\n\\## [1.0.0]\n\n- b\n"), "{once}");
        assert_eq!(once.matches("\n## [1.0.0]").count(), 1, "{once}");
        // A file that already holds a release twice (another tool's duplicate) gets it once.
        let existing =
            "# Changelog\n\n## [1.0.0]\n\n- old\n\n## [0.9.0]\n\n- x\n\n## [1.0.0]\n\n- older\n";
        let out = upsert(
            Some(existing),
            &["## [1.0.0]\n\n- new\n".to_owned()],
            DEFAULT_HEADER,
        );
        assert_eq!(out.matches("## [1.0.0]").count(), 1, "{out}");
        assert!(out.contains("## [0.9.0]\n\n- x\n"), "{out}");
    }

    /// Found by the `changelog_upsert` fuzz target: a release's notes holding another release's
    /// heading (a PR description with `## [Unreleased]` in it) were split in the file, so a second
    /// run wrote the part after that heading once more.
    #[test]
    fn a_section_holding_another_release_heading_is_written_once() {
        let sections = [
            "## v2.0.0\n\n- new\n\n## [Unreleased]\n\n- body text\n\n```\n## [1.0.0]\n```\n"
                .to_owned(),
        ];
        let once = upsert(None, &sections, "");
        let twice = upsert(Some(&once), &sections, "");
        assert_eq!(twice, once);
        assert!(once.contains("\n\\## [Unreleased]\n"), "{once}");
        // In a code fence it is not a heading, and stays as written.
        assert!(once.contains("```\n## [1.0.0]\n```"), "{once}");
    }

    /// Found by the `changelog_upsert` fuzz target: one `\r\n` in a header made the next run
    /// rewrite the sections the first had written with `\n`.
    #[test]
    fn mixed_line_endings_are_chosen_the_same_way_on_every_run() {
        let sections = ["# 2.0.0".to_owned()];
        let once = upsert(None, &sections, "\r\n0");
        assert_eq!(upsert(Some(&once), &sections, "\r\n0"), once);
        // A CRLF file stays CRLF, and a file mostly LF with one CRLF line stays LF.
        let crlf = "# Changelog\r\n\r\n## [1.0.0]\r\n\r\n- a\r\n";
        let out = upsert(Some(crlf), &["## [1.1.0]\n\n- b\n".to_owned()], "");
        assert!(
            out.starts_with("# Changelog\r\n\r\n## [1.1.0]\r\n\r\n- b\r\n"),
            "{out:?}"
        );
        let mostly_lf = "# Changelog\r\n\n## [1.0.0]\n\n- a\n";
        let out = upsert(Some(mostly_lf), &["## [1.1.0]\n\n- b\n".to_owned()], "");
        assert!(out.contains("## [1.1.0]\n\n- b\n"), "{out:?}");
        assert_eq!(
            upsert(Some(&out), &["## [1.1.0]\n\n- b\n".to_owned()], ""),
            out
        );
    }

    /// Found by the `changelog_upsert` fuzz target: a configured header holding a release
    /// heading was header text on the first run and a section on the next, which then dropped
    /// it as a duplicate.
    #[test]
    fn a_release_heading_in_a_new_files_header_is_a_section_on_every_run() {
        let sections = ["# 2.0.0".to_owned()];
        let once = upsert(None, &sections, "# 2.0.0");
        assert_eq!(upsert(Some(&once), &sections, "# 2.0.0"), once);
        // An `Unreleased` heading in it is the section the first release replaces.
        let header = "# Changelog\n\n## [Unreleased]\n";
        let once = upsert(None, &["## [1.0.0]\n\n- a\n".to_owned()], header);
        assert_eq!(once, "# Changelog\n\n## [1.0.0]\n\n- a\n");
        assert_eq!(
            upsert(Some(&once), &["## [1.0.0]\n\n- a\n".to_owned()], header),
            once
        );
    }

    /// Found by the `changelog_upsert` fuzz target: link definitions at the end of the notes
    /// were the footer on the next run, which then wrote them a second time.
    #[test]
    fn link_definitions_at_the_end_of_a_section_are_written_once() {
        let sections = ["# 2.0.0\n[]: h".to_owned()];
        let once = upsert(None, &sections, "");
        assert_eq!(upsert(Some(&once), &sections, ""), once);
        let existing = "# Changelog\n\n## [1.0.0]\n\n- a\n\n[1.0.0]: https://x/1.0.0\n";
        let sections = ["## [1.1.0]\n\n- b\n\n[1.1.0]: https://x/1.1.0\n".to_owned()];
        let once = upsert(Some(existing), &sections, "");
        assert_eq!(
            once.matches("[1.1.0]: https://x/1.1.0").count(),
            1,
            "{once}"
        );
        assert!(
            once.ends_with("[1.1.0]: https://x/1.1.0\n[1.0.0]: https://x/1.0.0\n"),
            "{once}"
        );
        assert_eq!(upsert(Some(&once), &sections, ""), once);
        // After a file without a final newline, the footer still starts on its own line.
        let sections = ["# 2.0.0\n[]: h".to_owned()];
        let once = upsert(Some("# 1.0.0"), &sections, "");
        assert!(once.ends_with("# 1.0.0\n[]: h\n"), "{once:?}");
        assert_eq!(upsert(Some(&once), &sections, ""), once);
    }

    /// Found by the `changelog_upsert` fuzz target: a fence opened in the header and one in the
    /// notes paired up on the next run and hid the release heading between them.
    #[test]
    fn unclosed_fences_are_text_so_they_cannot_pair_across_sections() {
        let sections = ["# 2.0.0\n~~~".to_owned()];
        let once = upsert(None, &sections, "~~~");
        assert_eq!(once, "\\~~~\n\n# 2.0.0\n\\~~~\n");
        assert_eq!(upsert(Some(&once), &sections, "~~~"), once);
        // A closed fence is left as it is.
        let sections = ["## 1.0.0\n\n```\n## [0.1.0]\n```\n".to_owned()];
        let once = upsert(None, &sections, "");
        assert!(once.contains("\n```\n## [0.1.0]\n```\n"), "{once:?}");
    }
}
