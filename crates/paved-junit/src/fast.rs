//! The fast path: plain passing test cases read straight from the read buffer, a word (eight
//! bytes) at a time, without quick-xml's events. Most of a large report is such test cases, so
//! this is where `ingest` of a million-test file spends its time (`cargo xtask bench
//! quarantine` measures it).
//!
//! # Contract
//!
//! **What it accepts.** [`plain_case`] reads one `<testcase>` at the start of the bytes it is
//! given (after XML whitespace) when all of it is there and it is a plain pass:
//!
//! - `<testcase` and whitespace, then attributes spelt `key="value"` or `key='value'` (spaces
//!   around `=` allowed), each key a plain XML name (ASCII letters, digits, `_ - . :`; a prefix
//!   is dropped as quick-xml's `local_name` drops it) and no value holding a `<`;
//! - then `/>`, or `>` followed by nothing but whitespace, `<system-out>`/`<system-err>`
//!   elements (their bodies skipped by the same rule as `Parser::skip_raw`: up to the first
//!   `</system-out`, whitespace and `>`), and `</testcase>` (whitespace before its `>` allowed);
//! - and a non-empty `name`.
//!
//! `name`, `classname`/`class`, `file`/`filepath` and `time` are read; other attributes are
//! skipped. An id value that is printable ASCII without `&` and with single inner spaces only
//! ([`is_plain_id`]) is handed on as read, borrowed; any other is unescaped and normalised by
//! the same code as the slow path (`escape::id_text`).
//!
//! [`scan_case_attributes`] reads the attributes of a `<testcase>` start tag that quick-xml has
//! already found, by the same rules, when the whole tag is plain.
//!
//! **When it falls back.** Anything else gives `None` (or `false`), and quick-xml reads the
//! test case from the same place: a failure, error, skipped or rerun element, any other child,
//! text or a comment inside the test case, an attribute spelt any other way, and a test case cut
//! off by the end of the read buffer. The fast path only decides "plain" or "not mine"; it never
//! reports an error, so every message about a malformed report comes from the slow path.
//!
//! **Both give the same results.** For every input the fast path accepts, the parser hands the
//! sink the same [`CaseRef`](crate::CaseRef) (suite, classname, name, file, time) through
//! `Sink::passed` and counts the same test cases as with the fast path off; byte offsets in
//! later messages are unchanged, as the bytes are consumed through quick-xml's own stream. The
//! tests below check this for every buffer size (tags cut at every point) and for unusual but
//! valid spellings; a change to either path must keep them passing.

use std::borrow::Cow;

use crate::case::Case;
use crate::escape::{id_text, plain_text};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that equals `byte`. Exact up to the first such byte; bytes
/// after it may be marked too (a borrow), which the callers never look at.
fn bytes_equal(x: u64, byte: u8) -> u64 {
    let v = x ^ (ONES * u64::from(byte));
    v.wrapping_sub(ONES) & !v & HIGH
}

/// The eight bytes of `raw` at `i`, if there are eight.
fn word_at(raw: &[u8], i: usize) -> Option<u64> {
    let w: [u8; 8] = raw.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// The length of the value at the start of `raw`, ended by `quote`, when it is a plain id
/// (see [`is_plain_id`]): the end and the check in one pass, eight bytes at a time. `None` when
/// the value is not plain or does not end within `raw` (the caller then looks again slowly).
fn plain_value_len(raw: &[u8], quote: u8) -> Option<usize> {
    // A space before the first byte: a leading space fails like a double one.
    let mut space = true;
    let mut i = 0;
    loop {
        if let Some(x) = word_at(raw, i) {
            let look = (x & HIGH)
                | (x.wrapping_sub(ONES * 0x21) & !x & HIGH)
                | bytes_equal(x, b'&')
                | bytes_equal(x, b'<')
                | bytes_equal(x, quote);
            if look == 0 {
                space = false;
                i += 8;
                continue;
            }
            // The first byte to look at is exact: when it is the quote, the value ends there.
            let first = (look.trailing_zeros() / 8) as usize;
            if raw[i + first] == quote {
                let space_before = first == 0 && space;
                return (i + first == 0 || !space_before).then_some(i + first);
            }
        }
        // A space (or something that is not plain), or fewer than eight bytes left.
        for (j, &c) in raw.iter().enumerate().take(i + 8).skip(i) {
            match c {
                c if c == quote => return (j == 0 || !space).then_some(j),
                b' ' if space => return None,
                b' ' => space = true,
                c if c > b' ' && c < 0x80 && c != b'&' && c != b'<' => space = false,
                _ => return None,
            }
        }
        i += 8;
        if i >= raw.len() {
            return None;
        }
    }
}

/// The length of the value at the start of `raw`, ended by `quote`; `None` when a `<` comes
/// first or the value does not end within `raw`. (Values are short: a word at a time beats a
/// vectorised search here.)
fn value_len(raw: &[u8], quote: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(x) = word_at(raw, i) {
        let look = bytes_equal(x, quote) | bytes_equal(x, b'<');
        if look != 0 {
            let at = i + (look.trailing_zeros() / 8) as usize;
            return (raw[at] == quote).then_some(at);
        }
        i += 8;
    }
    let at = i + raw
        .get(i..)?
        .iter()
        .position(|&c| c == quote || c == b'<')?;
    (raw[at] == quote).then_some(at)
}

/// The usual spellings of a test case's attributes (`name="…"`), recognised without a look at
/// each byte of the key: (the key, where its quote is).
fn known_key(rest: &[u8]) -> Option<(&'static [u8], usize)> {
    if rest.starts_with(b"name=") {
        Some((b"name", 5))
    } else if rest.starts_with(b"classname=") {
        Some((b"classname", 10))
    } else if rest.starts_with(b"time=") {
        Some((b"time", 5))
    } else {
        None
    }
}

/// `raw` is printable ASCII without `&`, and single spaces only between words: unescaping and
/// normalising would not change it. Eight bytes at a time while no byte needs a look.
pub(crate) fn is_plain_id(raw: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A space before the first byte: a leading space fails like a double one.
    let mut space = true;
    let step = |c: u8, space: &mut bool| -> bool {
        if c == b' ' {
            let ok = !*space;
            *space = true;
            ok
        } else {
            *space = false;
            c > b' ' && c < 0x80 && c != b'&'
        }
    };
    let mut words = raw.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        let amp = x ^ (ONES * u64::from(b'&'));
        let needs_look = (x & HIGH)
            | (x.wrapping_sub(ONES * 0x21) & !x & HIGH)
            | (amp.wrapping_sub(ONES) & !amp & HIGH);
        if needs_look == 0 {
            space = false;
        } else if !w.iter().all(|&c| step(c, &mut space)) {
            return false;
        }
    }
    if !words.remainder().iter().all(|&c| step(c, &mut space)) {
        return false;
    }
    raw.is_empty() || !space
}

/// XML whitespace.
pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The `name`, `classname` and `time` of a `<testcase>` read straight from its bytes, for
/// the well-formed common case; `false` when anything is unusual, and then quick-xml's own
/// attribute reader decides (and words any error).
pub(crate) fn scan_case_attributes<'e>(raw: &'e [u8], case: &mut Case<'e>) -> bool {
    scan_attributes(raw, case) == Some(raw.len())
}

/// Read `key="value"` pairs from the start of `raw` into `case`, up to the first byte that
/// cannot start one (`/`, `>` or the end of `raw`), and return its index. `None` when anything
/// is unusual: a key that is not a plain XML name, a `<` in a value, a missing `=`, quote or
/// space, or an attribute cut off by the end of `raw`.
fn scan_attributes<'e>(raw: &'e [u8], case: &mut Case<'e>) -> Option<usize> {
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':');
    let mut i = 0;
    loop {
        while i < raw.len() && is_ws(raw[i]) {
            i += 1;
        }
        if i == raw.len() || matches!(raw[i], b'/' | b'>') {
            return Some(i);
        }
        let local: &[u8] = if let Some((key, len)) = known_key(&raw[i..]) {
            i += len;
            key
        } else {
            let key_start = i;
            while i < raw.len() && name_byte(raw[i]) {
                i += 1;
            }
            let key = &raw[key_start..i];
            while i < raw.len() && is_ws(raw[i]) {
                i += 1;
            }
            if key.is_empty() || raw.get(i) != Some(&b'=') {
                return None;
            }
            i += 1;
            while i < raw.len() && is_ws(raw[i]) {
                i += 1;
            }
            key.rsplit(|&c| c == b':').next().unwrap_or(key)
        };
        let quote = *raw.get(i).filter(|&&q| q == b'"' || q == b'\'')?;
        let is_id = matches!(local, b"name" | b"classname" | b"class");
        // An id value is most often plain: found and checked in one pass.
        let plain = if is_id {
            plain_value_len(&raw[i + 1..], quote)
        } else {
            None
        };
        let len = match plain {
            Some(len) => len,
            None => value_len(&raw[i + 1..], quote)?,
        };
        let value = &raw[i + 1..i + 1 + len];
        i += len + 2;
        if i < raw.len() && !is_ws(raw[i]) && !matches!(raw[i], b'/' | b'>') {
            return None;
        }
        let id = |value| match plain {
            Some(_) => Cow::Borrowed(value),
            None => id_text(&Cow::Borrowed(value)),
        };
        match local {
            b"name" => case.name = id(value),
            b"classname" | b"class" => case.classname = id(value),
            b"file" | b"filepath" => case.file = Some(plain_text(&Cow::Borrowed(value))),
            b"time" => case.time = Some(Cow::Borrowed(value)),
            _ => {}
        }
    }
}

/// A plain passing test case at the start of `bytes` (after whitespace), read without
/// quick-xml: `<testcase …/>`, or `<testcase …>` and `</testcase>` with only whitespace and
/// captured output (`<system-out>`, `<system-err>`, skipped as the full parser skips them)
/// between. Returns the case and the bytes it took; `None` for anything else (a failure, an
/// unusual attribute, a tag cut off by the end of `bytes`), which is then left to the full
/// parser.
pub(crate) fn plain_case(bytes: &[u8]) -> Option<(Case<'_>, usize)> {
    const OPEN: &[u8] = b"<testcase";
    const CLOSE: &[u8] = b"</testcase";
    let skip_ws = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&c| !is_ws(c))
            .map_or(bytes.len(), |n| from + n)
    };
    let start = skip_ws(0);
    let attrs_at = start + OPEN.len();
    if !bytes[start..].starts_with(OPEN) || !bytes.get(attrs_at).is_some_and(|&c| is_ws(c)) {
        return None;
    }
    let mut case = Case::default();
    let tag_end = attrs_at + scan_attributes(&bytes[attrs_at..], &mut case)?;
    let end = match bytes.get(tag_end..tag_end + 2)? {
        b"/>" => tag_end + 2,
        [b'>', _] => {
            let mut at = tag_end + 1;
            loop {
                let next = skip_ws(at);
                let rest = &bytes[next..];
                if rest.starts_with(CLOSE) {
                    let gt = skip_ws(next + CLOSE.len());
                    if bytes.get(gt) != Some(&b'>') {
                        return None;
                    }
                    break gt + 1;
                }
                let output = OUTPUT_ELEMENTS
                    .iter()
                    .find(|(open, _)| rest.starts_with(open))?;
                let after = next + output.0.len();
                at = match bytes.get(after..after + 2)? {
                    [b'>', _] => after + 1 + skip_output(&bytes[after + 1..], &output.1)?,
                    b"/>" => after + 2,
                    _ => return None,
                };
            }
        }
        _ => return None,
    };
    (!case.name.is_empty()).then_some((case, end))
}

/// The captured output elements [`plain_case`] skips: their start tag without its `>`, and a
/// searcher for their end tag without its `>`.
static OUTPUT_ELEMENTS: std::sync::LazyLock<[(&[u8], memchr::memmem::Finder<'static>); 2]> =
    std::sync::LazyLock::new(|| {
        [
            (b"<system-out", memchr::memmem::Finder::new(b"</system-out")),
            (b"<system-err", memchr::memmem::Finder::new(b"</system-err")),
        ]
    });

/// The length of an output element's body and end tag at the start of `body`, by the rule of
/// [`Parser::skip_raw`](crate::parse::Parser::skip_raw): the first `</name`, then ASCII
/// whitespace, then `>` (a `</name` followed by anything else is part of the body). `None` when
/// `body` ends first.
fn skip_output(body: &[u8], end_tag: &memchr::memmem::Finder<'_>) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + end_tag.find(&body[from..])? + end_tag.needle().len();
        let next = at + body[at..].iter().position(|c| !c.is_ascii_whitespace())?;
        if body[next] == b'>' {
            return Some(next + 1);
        }
        from = next + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::tests::parse_with_buffer;

    /// The one-pass value scan agrees with finding the quote, then the slow check.
    #[test]
    fn plain_values_are_found_like_the_slow_way() {
        let parts = [
            "",
            " ",
            "  ",
            "a",
            "ab c",
            "a  b",
            " a",
            "a ",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "Quoted \"x\"",
            "it's",
            "a&amp;b",
            "a<b",
            "x\ty",
            "x\ny",
            "é",
            "[1-2]",
            ">",
            "/",
            "0123456789abcdef ",
            "0123456 89abcdef",
            "0123456  9abcdef",
        ];
        let mut values = Vec::new();
        for a in parts {
            for b in parts {
                values.push(format!("{a}{b}"));
            }
        }
        for value in &values {
            for quote in [b'"', b'\''] {
                for rest in ["", " time=\"1\"/>", "\"'"] {
                    let mut raw = value.as_bytes().to_vec();
                    raw.push(quote);
                    raw.extend_from_slice(rest.as_bytes());
                    let end = raw.iter().position(|&c| c == quote);
                    let expected = end.filter(|&e| {
                        let v = &raw[..e];
                        !v.contains(&b'<') && is_plain_id(v)
                    });
                    assert_eq!(
                        plain_value_len(&raw, quote),
                        expected,
                        "{:?}",
                        String::from_utf8_lossy(&raw)
                    );
                    // Cut off before the quote: never a value.
                    if let Some(e) = end {
                        assert_eq!(plain_value_len(&raw[..e], quote), None);
                    }
                }
            }
        }
    }

    /// Reading plain test cases straight from the buffer gives what quick-xml gives, for any
    /// buffer size (tags cut at every point) and unusual but valid spellings.
    #[test]
    fn plain_reads_change_nothing() {
        let cases = [
            r#"<testcase classname="a.B" name="one" time="0.1"/>"#,
            r#"<testcase name="two" classname="a.B"></testcase>"#,
            "<testcase\n  classname = 'a.B'\tname='three'  time='1,234.5' />",
            r#"<testcase classname="a.B" name="four"   >  </testcase  >"#,
            r#"<testcase classname="a.B" name="fi&amp;ve &lt;x&gt;"/>"#,
            r#"<testcase classname="a.B" name="  six   spaced  "/>"#,
            r#"<testcase classname="a.B" name="sévén" file="t/x.py"/>"#,
            r#"<testcase classname="a.B" name="eight" x:name="nine"/>"#,
            r#"<testcase classname="a.B" name="ten"><skipped/></testcase>"#,
            r#"<testcase classname="a.B" name="eleven"><failure message="m">b</failure></testcase>"#,
            r#"<testcase classname="a.B" name="twelve"><system-out>x</system-out></testcase>"#,
            r#"<testcase classname="a.B" name="one" time="0.2"/>"#,
            r#"<testcase classname="a.B" name='q"uote'/>"#,
            r#"<testcase classname="a.B" name="gt>in value"/>"#,
            "<!-- <testcase name=\"comment\"/> -->",
            r#"<testcase classname="a.B" name="thirteen"/><testcase classname="a.B" name="fourteen"/>"#,
            "<testcase classname=\"a.B\" name=\"out\">\n <system-out><![CDATA[<testcase name=\"ghost\"/>\n</system-outer> </system-out\tx]]></system-out  >\n <system-err/> <system-err>e</system-err></testcase>",
            r#"<testcase classname="a.B" name="out-attr"><system-out x="1">o</system-out></testcase>"#,
            r#"<testcase classname="a.B" name="out-then-skip"><system-out>o</system-out><skipped/></testcase>"#,
            r#"<testcase classname="a.B" name="out-text">text<system-out>o</system-out></testcase>"#,
        ];
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites>\n");
        for s in 0..3 {
            xml.push_str(&format!("<testsuite name=\"s{s}\" file=\"suite{s}.rs\">\n"));
            for c in cases {
                xml.push_str("  ");
                xml.push_str(c);
                xml.push('\n');
            }
            xml.push_str("</testsuite>\n");
        }
        xml.push_str("</testsuites>\n");
        let parse = |cap: usize, plain_reads: bool| {
            let (out, cases, _) = parse_with_buffer(&xml, cap, plain_reads).unwrap();
            (cases, format!("{out:?}"))
        };
        // Read in one buffer, every case but the five with a child other than output, or
        // text, is read without quick-xml (the one after a comment too).
        assert_eq!(parse_with_buffer(&xml, 1 << 16, true).unwrap().2, 3 * 15);
        let slow = parse(1 << 16, false);
        assert_eq!(slow.0, 3 * 20);
        assert!(slow.1.contains("fi&ve <x>") && slow.1.contains("six spaced"));
        assert!(!slow.1.contains("ghost"));
        for cap in (1..80).chain([127, 128, 129, 200, 256, 4096, 1 << 16]) {
            assert_eq!(parse(cap, true), slow, "buffer of {cap} bytes");
        }
    }
}
