//! The streaming JUnit XML parser: one module for every runner's dialect, shared with paved-change.
//!
//! - [`parse_file`] → [`Report`]: the tests in one file, attempts folded per test;
//! - [`stream_file`]: the same tests handed to a callback as each `<testsuite>` closes, so that a
//!   report with a million test cases is ingested without holding it all in memory;
//! - [`Summary::of`] → totals for evidence and summaries.
//!
//! Inside, one `Parser` hands each test case to a `Sink`: a plain pass (most of any report)
//! arrives as borrowed strings, without allocating, and only other cases as a [`TestResult`].
//! `ingest` parses a large file on several threads (`junit::parallel`), each from a cut between two
//! suites, checked after the fact.
//!
//! # Dialects
//!
//! JUnit XML has no single specification; each runner writes its own flavour. What this parser
//! understands, and how it maps to [`Attempt`]s:
//!
//! - **Maven Surefire** and **cargo-nextest**: `<flakyFailure>`/`<flakyError>` inside a passing
//!   test case are failed attempts before the final pass; `<rerunFailure>`/`<rerunError>` after a
//!   `<failure>`/`<error>` are further failed attempts. Times written like `1,234.5` are read.
//! - **gotestsum `--rerun-fails`** (and Gradle's test-retry plugin): the same test case repeated
//!   in one suite is one test with several attempts, in document order.
//! - **pytest**: a call failure followed by a duplicate test case whose `<error>` says
//!   `failed on teardown with …` is one failed attempt, not two.
//! - **jest-junit, go-junit-report, Playwright, Gradle, rspec_junit_formatter, .NET
//!   JunitXml.TestLogger**: the common shape (`<failure>`, `<error>`, `<skipped>`); `file` on the
//!   test case or its suite is kept.
//!
//! # Safety
//!
//! Entities are never expanded: only the five XML escapes and character references are decoded,
//! and a `DOCTYPE` that declares entities is refused (billion-laughs protection; JUnit reports
//! never use them). The bodies of `<system-out>`, `<system-err>` and failure elements are
//! skipped by scanning the raw bytes for their end tag, so a gigabyte of captured output costs a
//! fixed-size buffer; only the first line of a failure message is kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::model::{Attempt, Outcome, TestId, TestResult};

pub(crate) mod parallel;

/// The tests of one JUnit file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<TestResult>,
}

/// Totals over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Passed after failing at least once.
    pub flaky: u64,
}

impl Summary {
    /// Count the final outcomes of `results`.
    pub fn of(results: &[TestResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.tests += 1;
            match r.final_outcome() {
                Outcome::Passed if r.passed_on_retry() => {
                    s.passed += 1;
                    s.flaky += 1;
                }
                Outcome::Passed => s.passed += 1,
                Outcome::Skipped => s.skipped += 1,
                _ => s.failed += 1,
            }
        }
        s
    }
}

/// Parse one JUnit XML file. `variant` is part of each test's identity. A test reported more
/// than once in the file (reruns) is one [`TestResult`] with every attempt, in document order.
pub fn parse_file(path: &Path, variant: &str) -> paved_core::Result<Report> {
    let mut merger = Merger::default();
    stream_file(path, variant, |r| {
        merger.add(r);
        Ok::<(), paved_core::Error>(())
    })?;
    Ok(merger.finish())
}

/// Merge the results of several files (a rerun job writes its own report): a test seen in more
/// than one gets the attempts of all, in the order given.
pub fn merge_reports(reports: impl IntoIterator<Item = Report>) -> Report {
    let mut merger = Merger::default();
    for report in reports {
        for r in report.results {
            merger.add(r);
        }
    }
    merger.finish()
}

/// Why [`find_reports`] found nothing to read. Callers word the message for their own flag.
#[derive(Debug)]
pub enum FindError {
    /// The pattern is not a valid glob.
    BadPattern { pattern: String, message: String },
    /// The pattern is a valid glob but matched no file.
    NoMatch { pattern: String },
    /// A directory the glob walked could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The JUnit report files `patterns` name, sorted and without duplicates: the one place that
/// turns `--junit`/`ingest`/`gate` arguments into files. A pattern with glob characters (that is
/// not itself an existing path) is expanded, relative ones against `base`, and must match at least
/// one file. A plain path is kept as given, so a missing file fails when it is read, with the I/O
/// error naming it.
pub fn find_reports(patterns: &[String], base: &Path) -> Result<Vec<PathBuf>, FindError> {
    let mut files = Vec::new();
    for p in patterns {
        let full = base.join(p);
        if p.contains(['*', '?', '[']) && !full.exists() {
            let paths = glob::glob(&full.to_string_lossy()).map_err(|e| FindError::BadPattern {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
            let before = files.len();
            for entry in paths {
                let path = entry.map_err(|e| FindError::Io {
                    path: e.path().to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                if path.is_file() {
                    files.push(path);
                }
            }
            if files.len() == before {
                return Err(FindError::NoMatch { pattern: p.clone() });
            }
        } else {
            files.push(full);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Stream the tests of one file to `sink`, a suite at a time (duplicates within a suite already
/// merged). Returns the number of `<testcase>` elements read.
///
/// An error from `sink` stops the parse and is returned as is.
pub fn stream_file<E: From<paved_core::Error>>(
    path: &Path,
    variant: &str,
    sink: impl FnMut(TestResult) -> Result<(), E>,
) -> Result<u64, E> {
    let file = File::open(path).map_err(|source| paved_core::Error::Io {
        action: "read the JUnit report",
        path: path.to_owned(),
        source,
    })?;
    let meta_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if meta_len == 0 {
        return Err(bad(
            path,
            "the file is empty; expected a JUnit XML report (`<testsuites>` or `<testsuite>`). \
             Did the test run crash before writing it?",
        )
        .into());
    }
    let reader = BufReader::with_capacity(256 * 1024, file);
    let mut collect = Collect {
        variant,
        pending: Vec::new(),
        index: HashMap::new(),
        sink,
    };
    Ok(Parser::new(reader, path).run(&mut collect)?.cases)
}

/// Parse JUnit XML from memory (tests, and reports that arrive over a pipe).
pub fn parse_bytes(name: &str, variant: &str, bytes: &[u8]) -> paved_core::Result<Report> {
    let path = PathBuf::from(name);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(&path, "the report is empty"));
    }
    let mut merger = Merger::default();
    let mut collect = Collect {
        variant,
        pending: Vec::new(),
        index: HashMap::new(),
        sink: |r| {
            merger.add(r);
            Ok::<(), paved_core::Error>(())
        },
    };
    Parser::new(bytes, &path).run(&mut collect)?;
    Ok(merger.finish())
}

/// Collects results, folding repeated tests together. Keyed by the id's 64-bit hash (hashing
/// four strings once instead of SipHash on every probe); a hit is confirmed by comparing ids.
#[derive(Default)]
struct Merger {
    results: Vec<TestResult>,
    index: HashMap<i64, usize>,
}

impl Merger {
    fn add(&mut self, r: TestResult) {
        let key = crate::store::test_key(&r.id);
        match self.index.get(&key) {
            Some(&i) if self.results[i].id == r.id => merge_into(&mut self.results[i], r),
            Some(_) => self.results.push(r),
            None => {
                self.index.insert(key, self.results.len());
                self.results.push(r);
            }
        }
    }

    fn finish(self) -> Report {
        Report {
            results: self.results,
        }
    }
}

/// Fold a later report of the same test into an earlier one.
pub fn merge_into(into: &mut TestResult, later: TestResult) {
    // pytest reports a teardown error after a call failure as a second test case; it is the
    // same attempt, not a rerun.
    let teardown = later.attempts.len() == 1
        && later.attempts[0].outcome == Outcome::Error
        && later.attempts[0]
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("failed on teardown with"));
    if teardown && let Some(last) = into.attempts.last_mut() {
        if !last.outcome.is_failure() {
            *last = later.attempts.into_iter().next().expect("one attempt");
        }
        return;
    }
    if into.file.is_none() {
        into.file = later.file;
    }
    into.attempts.extend(later.attempts);
}

/// Trim and collapse internal whitespace runs to one space.
pub fn normalize(part: &str) -> String {
    if is_normal(part) {
        return part.to_owned();
    }
    part.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `normalize` would return `part` unchanged (checked without allocating; ASCII only, as
/// other whitespace is left to `split_whitespace`).
fn is_normal(part: &str) -> bool {
    // One pass: any byte at or below a space other than a lone inner space, or any non-ASCII
    // byte, sends the text to `normalize` (which is then exact about what to change).
    let b = part.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut space = false;
    for &c in b {
        if c <= b' ' {
            if c != b' ' || space {
                return false;
            }
            space = true;
        } else if c >= 0x80 {
            return false;
        } else {
            space = false;
        }
    }
    true
}

/// An attribute that is part of a test id: unescaped and normalised, as UTF-8 bytes (see
/// [`CaseRef`]); borrowed when neither changes anything (the common case).
fn id_text<'a>(raw: &Cow<'a, [u8]>) -> Cow<'a, [u8]> {
    match *raw {
        // Plain ASCII is UTF-8 as it is: no need to validate it again.
        Cow::Borrowed(b) if is_plain_id(b) => Cow::Borrowed(b),
        _ => Cow::Owned(normalize(&unescape(&String::from_utf8_lossy(raw))).into_bytes()),
    }
}

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
fn is_plain_id(raw: &[u8]) -> bool {
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
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The `name`, `classname` and `time` of a `<testcase>` read straight from its bytes, for
/// the well-formed common case; `false` when anything is unusual, and then quick-xml's own
/// attribute reader decides (and words any error).
fn scan_case_attributes<'e>(raw: &'e [u8], case: &mut Case<'e>) -> bool {
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
fn plain_case(bytes: &[u8]) -> Option<(Case<'_>, usize)> {
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
/// [`Parser::skip_raw`]: the first `</name`, then ASCII whitespace, then `>` (a `</name`
/// followed by anything else is part of the body). `None` when `body` ends first.
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

/// Any other attribute: unescaped, borrowed when there is nothing to unescape.
fn plain_text<'a>(raw: &Cow<'a, [u8]>) -> Cow<'a, str> {
    if let Cow::Borrowed(b) = *raw
        && memchr::memchr(b'&', b).is_none()
        && let Ok(s) = std::str::from_utf8(b)
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(unescape(&String::from_utf8_lossy(raw)))
}

fn truncated(path: &Path, inside: &str, at: u64) -> paved_core::Error {
    bad(
        path,
        format!(
            "the XML ends inside `<{inside}>` at byte {at} (truncated file? the test run may have been killed while writing it)"
        ),
    )
}

fn bad(path: &Path, message: impl Into<String>) -> paved_core::Error {
    paved_core::Error::BadFile {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The longest failure message kept, in characters.
const MESSAGE_LIMIT: usize = 300;
/// How much of a failure body is looked at for a message when there is no `message` attribute.
const CAPTURE_LIMIT: usize = 4096;

#[derive(Default)]
struct Case<'a> {
    /// Unescaped and normalised UTF-8; borrowed from the event when no work was needed.
    name: Cow<'a, [u8]>,
    classname: Cow<'a, [u8]>,
    file: Option<Cow<'a, str>>,
    /// The `time` attribute as written, read only when needed (most sinks never need it).
    time: Option<Cow<'a, [u8]>>,
    /// The `<failure>`/`<error>` (or `<skipped>`) of the last attempt.
    primary: Option<Attempt>,
    /// `<flakyFailure>`/`<flakyError>`: failed attempts before a final pass.
    flaky: Vec<Attempt>,
    /// `<rerunFailure>`/`<rerunError>`: failed attempts after the first failure.
    reruns: Vec<Attempt>,
}

impl Case<'_> {
    /// One attempt, passed: the common case, handed on without building a [`TestResult`].
    fn is_plain_pass(&self) -> bool {
        self.primary.is_none() && self.flaky.is_empty()
    }

    fn take_attempts(&mut self) -> Vec<Attempt> {
        let time = self.time.as_deref().and_then(parse_time_bytes);
        match self.primary.take() {
            Some(mut first) => {
                if first.time.is_none() && self.reruns.is_empty() {
                    first.time = time;
                }
                let mut v = Vec::with_capacity(1 + self.reruns.len());
                v.push(first);
                v.append(&mut self.reruns);
                v
            }
            None => {
                let mut v = std::mem::take(&mut self.flaky);
                v.push(Attempt {
                    outcome: Outcome::Passed,
                    message: None,
                    time,
                });
                v
            }
        }
    }
}

/// An open `<testsuite>`: its normalised name (part of every test id inside it) and file.
pub(crate) struct Suite {
    pub name: String,
    pub file: Option<String>,
}

/// One `<testcase>` as the parser hands it on: strings borrowed from the parser's buffers.
///
/// The id parts are bytes, always valid UTF-8 (unescaped and normalised): a plain ASCII name is
/// handed on as read, without validating it again, and a sink that only hashes it (ingest)
/// never needs a `str`. See [`text`] for one.
pub(crate) struct CaseRef<'a> {
    /// The innermost open suite (the empty name for a test case outside any suite).
    pub suite: &'a [u8],
    pub classname: &'a [u8],
    pub name: &'a [u8],
    /// The test case's `file`, else its suite's.
    pub file: Option<&'a str>,
    /// The `time` attribute as written: see [`CaseRef::seconds`].
    pub time: Option<&'a [u8]>,
}

/// An id part of a [`CaseRef`] as a string (it is UTF-8 already; nothing is replaced).
pub(crate) fn text(part: &[u8]) -> String {
    String::from_utf8_lossy(part).into_owned()
}

impl CaseRef<'_> {
    /// The test case's duration in seconds, when it has a valid `time`.
    pub fn seconds(&self) -> Option<f64> {
        self.time.and_then(parse_time_bytes)
    }
}

/// Where the parser hands test cases. A plain pass (one attempt, no failure element) arrives
/// through [`Sink::passed`] with nothing allocated, so that a sink that needs only a key and an
/// outcome (ingest) pays nothing for the millions of passing test cases of a large report.
pub(crate) trait Sink {
    type Error: From<paved_core::Error>;
    fn passed(&mut self, case: &CaseRef<'_>) -> Result<(), Self::Error>;
    /// Any other test case, with every attempt in order.
    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> Result<(), Self::Error>;
    /// Every suite is closed: results held back for merging are final.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

/// The [`Sink`] behind [`stream_file`]: builds [`TestResult`]s, merges a test repeated within a
/// suite (reruns), and hands them on when the suite closes.
struct Collect<'v, F> {
    variant: &'v str,
    pending: Vec<TestResult>,
    /// Keyed by the id's hash; a hit is confirmed by comparing ids.
    index: HashMap<i64, usize>,
    sink: F,
}

impl<F, E> Collect<'_, F>
where
    F: FnMut(TestResult) -> Result<(), E>,
{
    fn push(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) {
        let result = TestResult {
            id: TestId {
                suite: text(case.suite),
                classname: text(case.classname),
                name: text(case.name),
                variant: self.variant.to_owned(),
            },
            file: case.file.map(str::to_owned),
            attempts,
        };
        let key = crate::store::test_key(&result.id);
        match self.index.get(&key) {
            Some(&i) if self.pending[i].id == result.id => merge_into(&mut self.pending[i], result),
            Some(_) => self.pending.push(result),
            None => {
                self.index.insert(key, self.pending.len());
                self.pending.push(result);
            }
        }
    }
}

impl<F, E> Sink for Collect<'_, F>
where
    F: FnMut(TestResult) -> Result<(), E>,
    E: From<paved_core::Error>,
{
    type Error = E;

    fn passed(&mut self, case: &CaseRef<'_>) -> Result<(), E> {
        let attempts = vec![Attempt {
            outcome: Outcome::Passed,
            message: None,
            time: case.seconds(),
        }];
        self.push(case, attempts);
        Ok(())
    }

    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> Result<(), E> {
        self.push(case, attempts);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), E> {
        self.index.clear();
        for r in self.pending.drain(..) {
            (self.sink)(r)?;
        }
        Ok(())
    }
}

/// Where a parse starts and stops, for parsing one file in pieces (see `junit::parallel`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    /// The byte offset of the reader's first byte in the file (for messages).
    pub base: u64,
    /// The parse starts between two top-level suites, not at the document's start: the root
    /// element was seen by an earlier piece and `</testsuites>` may close a wrapper opened there.
    pub mid_document: bool,
    /// Stop at the first `</testsuite>` that closes the last open suite at or after this offset.
    pub stop_after: Option<u64>,
}

/// How a parse of a [`Span`] ended.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpanEnd {
    /// The offset just past the `</testsuite>` where the parse stopped; `None` at end of file.
    pub stopped_at: Option<u64>,
    /// `<testsuites>` opened minus closed in this span.
    pub wrappers: i64,
    /// `<testcase>` elements read.
    pub cases: u64,
}

pub(crate) struct Parser<'p, R> {
    reader: Reader<R>,
    path: &'p Path,
    span: Span,
    suites: Vec<Suite>,
    /// `<testsuites>` elements open (relative to the span's start).
    wrappers: i64,
    /// Scratch buffers reused across test cases.
    case_buf: Vec<u8>,
    subtree_buf: Vec<u8>,
    /// End-tag searchers for [`Parser::skip_raw`], by element name.
    finders: Vec<(Vec<u8>, memchr::memmem::Finder<'static>)>,
    cases: u64,
    seen_root: bool,
    /// Plain passing test cases read straight from the buffer ([`Parser::plain_cases`]); off
    /// only in tests, to check that it changes nothing.
    plain_reads: bool,
    /// How many were (for tests).
    plain_read: u64,
}

impl<'p, R: BufRead> Parser<'p, R> {
    pub(crate) fn new(inner: R, path: &'p Path) -> Self {
        Self::with_span(inner, path, Span::default())
    }

    pub(crate) fn with_span(inner: R, path: &'p Path, span: Span) -> Self {
        let mut reader = Reader::from_reader(inner);
        let config = reader.config_mut();
        // End tags are checked here, not by quick-xml: raw skipping of output bodies consumes
        // their end tags itself.
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.trim_text(true);
        Parser {
            reader,
            path,
            span,
            suites: Vec::new(),
            wrappers: 0,
            case_buf: Vec::with_capacity(4096),
            subtree_buf: Vec::with_capacity(1024),
            finders: Vec::new(),
            cases: 0,
            seen_root: span.mid_document,
            plain_reads: true,
            plain_read: 0,
        }
    }

    /// The current offset in the file.
    fn pos(&self) -> u64 {
        self.span.base + self.reader.buffer_position()
    }

    fn xml_error(&self, e: &quick_xml::Error) -> paved_core::Error {
        if let quick_xml::Error::Io(io) = e {
            return bad(self.path, format!("could not read it: {io}"));
        }
        let at = self.span.base
            + self
                .reader
                .error_position()
                .max(self.reader.buffer_position());
        bad(
            self.path,
            format!("malformed XML near byte {at}: {e}; is the file complete and well-formed?"),
        )
    }

    fn truncated(&self, inside: &str) -> paved_core::Error {
        truncated(self.path, inside, self.pos())
    }

    /// Parse to the end of the file (or the span's stop) and return how it ended. At the end of
    /// the file the document must be complete, except for `<testsuites>` wrappers in a
    /// mid-document span, which the caller balances across spans.
    pub(crate) fn run<S: Sink>(&mut self, sink: &mut S) -> Result<SpanEnd, S::Error> {
        let mut buf = Vec::with_capacity(4096);
        // quick-xml is between two elements (nothing of the next markup read yet).
        let mut between_elements = false;
        loop {
            if between_elements && self.plain_reads && !self.suites.is_empty() {
                self.plain_cases(sink)?;
            }
            buf.clear();
            let event = match self.reader.read_event_into(&mut buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(&e).into()),
            };
            // (After text, quick-xml has already read the `<` of the next markup.)
            between_elements = matches!(
                event,
                Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Comment(_)
            );
            match event {
                Event::Start(e) => self.open(e.local_name().as_ref(), &e, false, sink)?,
                Event::Empty(e) => self.open(e.local_name().as_ref(), &e, true, sink)?,
                Event::End(e) => {
                    let name = e.local_name();
                    match name.as_ref() {
                        b"testsuite" if !self.suites.is_empty() => {
                            self.suites.pop();
                            if self.suites.is_empty() {
                                sink.flush()?;
                                if self.span.stop_after.is_some_and(|stop| self.pos() >= stop) {
                                    return Ok(SpanEnd {
                                        stopped_at: Some(self.pos()),
                                        wrappers: self.wrappers,
                                        cases: self.cases,
                                    });
                                }
                            }
                        }
                        b"testsuites"
                            if self.suites.is_empty()
                                && (self.wrappers > 0 || self.span.mid_document) =>
                        {
                            self.wrappers -= 1;
                        }
                        other => {
                            let other = String::from_utf8_lossy(other).into_owned();
                            return Err(bad(
                                self.path,
                                format!(
                                    "malformed XML near byte {}: unexpected `</{other}>`",
                                    self.pos()
                                ),
                            )
                            .into());
                        }
                    }
                }
                Event::DocType(d) if memchr::memmem::find(d.as_ref(), b"<!ENTITY").is_some() => {
                    return Err(bad(
                        self.path,
                        "the XML declares entities in a DOCTYPE; paved never expands entities \
                         (entity-bomb protection) and JUnit reports do not use them",
                    )
                    .into());
                }
                Event::Eof => break,
                // Text between elements, comments, the XML declaration, processing instructions.
                _ => {}
            }
        }
        if !self.suites.is_empty() {
            return Err(self.truncated("testsuite").into());
        }
        if !self.span.mid_document {
            if self.wrappers > 0 {
                return Err(self.truncated("testsuites").into());
            }
            if !self.seen_root {
                return Err(bad(
                    self.path,
                    "no XML elements found; expected a JUnit XML report (`<testsuites>` or `<testsuite>`)",
                )
                .into());
            }
        }
        sink.flush()?;
        Ok(SpanEnd {
            stopped_at: None,
            wrappers: self.wrappers,
            cases: self.cases,
        })
    }

    /// Hand on the plain passing test cases that come next, read straight from the read buffer
    /// (most of a large report; see [`plain_case`]), until anything else comes or the buffer
    /// runs out. quick-xml reads the rest, so its offsets stay right: the bytes are consumed
    /// through its stream.
    fn plain_cases<S: Sink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        let Parser {
            reader,
            suites,
            cases,
            plain_read,
            ..
        } = self;
        let Some(suite) = suites.last() else {
            return Ok(());
        };
        let mut stream = reader.stream();
        // A read error is left to quick-xml, which words it.
        let Ok(chunk) = stream.fill_buf() else {
            return Ok(());
        };
        let mut taken = 0;
        while let Some((case, len)) = plain_case(&chunk[taken..]) {
            *cases += 1;
            *plain_read += 1;
            sink.passed(&CaseRef {
                suite: suite.name.as_bytes(),
                classname: &case.classname,
                name: &case.name,
                file: case.file.as_deref().or(suite.file.as_deref()),
                time: case.time.as_deref(),
            })?;
            taken += len;
        }
        stream.consume(taken);
        Ok(())
    }

    fn open<S: Sink>(
        &mut self,
        name: &[u8],
        e: &BytesStart<'_>,
        empty: bool,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let at_root = !self.seen_root;
        match name {
            b"testsuites" if self.suites.is_empty() => {
                self.seen_root = true;
                if !empty {
                    self.wrappers += 1;
                }
            }
            b"testsuite" => {
                self.seen_root = true;
                if !empty {
                    let mut suite = Suite {
                        name: String::new(),
                        file: None,
                    };
                    for (k, v) in attrs(e, self.path)? {
                        match k.as_slice() {
                            b"name" => suite.name = normalize(&v),
                            b"file" | b"filepath" => suite.file = Some(v),
                            _ => {}
                        }
                    }
                    self.suites.push(suite);
                }
            }
            _ if at_root => {
                let name = String::from_utf8_lossy(name);
                return Err(bad(
                    self.path,
                    format!(
                        "not a JUnit XML report: the root element is `<{name}>`, expected `<testsuites>` or `<testsuite>`"
                    ),
                )
                .into());
            }
            b"testcase" => {
                let mut buf = std::mem::take(&mut self.case_buf);
                let result = self.read_case(e, empty, &mut buf, sink);
                self.case_buf = buf;
                result?;
            }
            b"system-out" | b"system-err" if !empty => self.skip_raw(name, None)?,
            _ if !empty => self.skip_subtree(name)?,
            _ => {}
        }
        Ok(())
    }

    fn read_case<S: Sink>(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        buf: &mut Vec<u8>,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        let mut case = self.read_case_with(e, empty, buf)?;
        self.cases += 1;
        // Taken before `view` borrows the case's strings.
        let attempts = (!case.is_plain_pass()).then(|| case.take_attempts());
        let suite = self.suites.last();
        let file = case
            .file
            .as_deref()
            .or_else(|| suite.and_then(|s| s.file.as_deref()));
        let view = CaseRef {
            suite: suite.map_or(&[], |s| s.name.as_bytes()),
            classname: &case.classname,
            name: &case.name,
            file,
            time: case.time.as_deref(),
        };
        match attempts {
            None => sink.passed(&view),
            Some(attempts) => sink.other(&view, attempts),
        }
    }

    fn read_case_attributes<'e>(
        &self,
        e: &'e BytesStart<'_>,
        case: &mut Case<'e>,
    ) -> paved_core::Result<()> {
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|err| bad(self.path, format!("malformed attribute: {err}")))?;
            match a.key.local_name().as_ref() {
                b"name" => case.name = id_text(&a.value),
                b"classname" | b"class" => case.classname = id_text(&a.value),
                b"file" | b"filepath" => case.file = Some(plain_text(&a.value)),
                b"time" => case.time = Some(a.value),
                _ => {}
            }
        }
        Ok(())
    }

    fn read_case_with<'e>(
        &mut self,
        e: &'e BytesStart<'_>,
        empty: bool,
        buf: &mut Vec<u8>,
    ) -> paved_core::Result<Case<'e>> {
        let mut case = Case::default();
        if !scan_case_attributes(e.attributes_raw(), &mut case) {
            case = Case::default();
            self.read_case_attributes(e, &mut case)?;
        }
        if case.name.is_empty() {
            return Err(bad(
                self.path,
                format!("a `<testcase>` near byte {} has no `name`", self.pos()),
            ));
        }
        if empty {
            return Ok(case);
        }
        loop {
            buf.clear();
            let event = match self.reader.read_event_into(buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(&e)),
            };
            let (child, is_empty) = match event {
                Event::Start(c) => (c, false),
                Event::Empty(c) => (c, true),
                Event::End(end) => {
                    if end.local_name().as_ref() == b"testcase" {
                        return Ok(case);
                    }
                    let other = String::from_utf8_lossy(end.local_name().as_ref()).into_owned();
                    return Err(bad(
                        self.path,
                        format!(
                            "malformed XML near byte {}: `</{other}>` inside `<testcase name=\"{}\">`",
                            self.pos(),
                            String::from_utf8_lossy(&case.name)
                        ),
                    ));
                }
                Event::Eof => return Err(self.truncated("testcase")),
                _ => continue,
            };
            let name = child.local_name();
            let local: &[u8] = name.as_ref();
            let outcome = match local {
                b"failure" | b"flakyFailure" | b"rerunFailure" => Some(Outcome::Failed),
                b"error" | b"flakyError" | b"rerunError" => Some(Outcome::Error),
                b"skipped" => Some(Outcome::Skipped),
                _ => None,
            };
            let Some(outcome) = outcome else {
                if !is_empty {
                    if matches!(local, b"system-out" | b"system-err") {
                        self.skip_raw(local, None)?;
                    } else {
                        self.skip_subtree(local)?;
                    }
                }
                continue;
            };
            let mut message = None;
            let mut time = None;
            for (k, v) in attrs(&child, self.path)? {
                match k.as_slice() {
                    b"message" => message = first_line(&v),
                    b"time" => time = parse_time(&v),
                    _ => {}
                }
            }
            if !is_empty {
                if message.is_none() && outcome != Outcome::Skipped {
                    let mut body = Vec::new();
                    self.skip_raw(local, Some(&mut body))?;
                    message = body_message(&body);
                } else {
                    self.skip_raw(local, None)?;
                }
            }
            let attempt = Attempt {
                outcome,
                message,
                time,
            };
            match local {
                b"flakyFailure" | b"flakyError" => case.flaky.push(attempt),
                b"rerunFailure" | b"rerunError" => case.reruns.push(attempt),
                // A second <failure>/<error> in one case (pytest writes both for some
                // setup problems) is the same attempt; the first one stays.
                _ => match &case.primary {
                    Some(p) if p.outcome.is_failure() => {}
                    _ => case.primary = Some(attempt),
                },
            }
        }
    }

    /// Skip an element's subtree event by event (small elements such as `<properties>`).
    fn skip_subtree(&mut self, name: &[u8]) -> paved_core::Result<()> {
        let mut buf = std::mem::take(&mut self.subtree_buf);
        let result = self.skip_subtree_with(name, &mut buf);
        self.subtree_buf = buf;
        result
    }

    fn skip_subtree_with(&mut self, name: &[u8], buf: &mut Vec<u8>) -> paved_core::Result<()> {
        let mut depth = 1usize;
        loop {
            buf.clear();
            let event = match self.reader.read_event_into(buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(&e)),
            };
            match event {
                Event::Start(e) => {
                    let child = e.local_name().as_ref().to_vec();
                    if matches!(child.as_slice(), b"system-out" | b"system-err") {
                        self.skip_raw(&child, None)?;
                    } else {
                        depth += 1;
                    }
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Eof => {
                    return Err(self.truncated(&String::from_utf8_lossy(name)));
                }
                _ => {}
            }
        }
    }

    /// Skip the body of `<name>` up to and including `</name>` by scanning raw bytes, without
    /// building events: a gigabyte of output costs one read buffer. With `capture`, keep the
    /// first [`CAPTURE_LIMIT`] bytes of the body.
    fn skip_raw(
        &mut self,
        name: &[u8],
        mut capture: Option<&mut Vec<u8>>,
    ) -> paved_core::Result<()> {
        // One searcher per element name, built once (output elements are skipped by the
        // hundred thousand in a large report).
        let at = match self.finders.iter().position(|(n, _)| n.as_slice() == name) {
            Some(i) => i,
            None => {
                let mut needle = Vec::with_capacity(name.len() + 2);
                needle.extend_from_slice(b"</");
                needle.extend_from_slice(name);
                let finder = memchr::memmem::Finder::new(&needle).into_owned();
                self.finders.push((name.to_vec(), finder));
                self.finders.len() - 1
            }
        };
        let Parser {
            reader,
            finders,
            path,
            ..
        } = self;
        let path: &Path = path;
        let finder = &finders[at].1;
        let needle = finder.needle();
        let keep = needle.len() - 1;
        let mut carry: Vec<u8> = Vec::new();
        let mut stream = reader.stream();
        loop {
            let chunk = stream
                .fill_buf()
                .map_err(|e| bad(path, format!("could not read it: {e}")))?;
            if chunk.is_empty() {
                let name = String::from_utf8_lossy(name).into_owned();
                return Err(bad(
                    path,
                    format!(
                        "the XML ends inside `<{name}>` (truncated file? the test run may have been killed while writing it)"
                    ),
                ));
            }
            // A needle split across two reads: look at the seam first.
            let mut found_at = None;
            if !carry.is_empty() {
                let take = keep.min(chunk.len());
                let mut seam = carry.clone();
                seam.extend_from_slice(&chunk[..take]);
                if let Some(p) = finder.find(&seam) {
                    found_at = Some(p + needle.len() - carry.len());
                }
            }
            let found_at = found_at.or_else(|| {
                finder.find(chunk).map(|p| {
                    if let Some(c) = capture.as_deref_mut() {
                        let room = CAPTURE_LIMIT.saturating_sub(c.len());
                        c.extend_from_slice(&chunk[..p.min(room)]);
                    }
                    p + needle.len()
                })
            });
            match found_at {
                Some(end) => {
                    stream.consume(end);
                    // The rest of the end tag: optional whitespace, then `>`.
                    let mut closed = false;
                    let mut is_end = true;
                    while !closed {
                        let rest = stream
                            .fill_buf()
                            .map_err(|e| bad(path, format!("could not read it: {e}")))?;
                        if rest.is_empty() {
                            let name = String::from_utf8_lossy(name).into_owned();
                            return Err(bad(
                                path,
                                format!("the XML ends inside `</{name}>` (truncated file?)"),
                            ));
                        }
                        let mut used = 0;
                        for &b in rest {
                            used += 1;
                            if b == b'>' {
                                closed = true;
                                break;
                            }
                            if !b.is_ascii_whitespace() {
                                is_end = false;
                                closed = true;
                                break;
                            }
                        }
                        stream.consume(used);
                    }
                    if is_end {
                        return Ok(());
                    }
                    carry.clear();
                }
                None => {
                    if let Some(c) = capture.as_deref_mut() {
                        let room = CAPTURE_LIMIT.saturating_sub(c.len());
                        c.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    let len = chunk.len();
                    carry.extend_from_slice(chunk);
                    if carry.len() > keep {
                        carry.drain(..carry.len() - keep);
                    }
                    stream.consume(len);
                }
            }
        }
    }
}

/// The attributes of `e`, unescaped (XML escapes and character references only).
fn attrs(e: &BytesStart<'_>, path: &Path) -> paved_core::Result<Vec<(Vec<u8>, String)>> {
    let mut out = Vec::with_capacity(4);
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| bad(path, format!("malformed attribute: {err}")))?;
        let raw = String::from_utf8_lossy(&a.value);
        out.push((a.key.local_name().as_ref().to_vec(), unescape(&raw)));
    }
    Ok(out)
}

/// Decode the five XML escapes and character references; anything else (an entity this parser
/// will not expand) is kept as written.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail[..tail.len().min(12)].find(';') else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..end];
        let decoded = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_time_bytes(raw: &[u8]) -> Option<f64> {
    parse_time(&String::from_utf8_lossy(raw))
}

/// `1,234.5` → 1234.5 (Surefire formats times with grouping separators).
fn parse_time(s: &str) -> Option<f64> {
    let t = s.trim().replace(',', "");
    t.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0)
}

fn first_line(s: &str) -> Option<String> {
    let line = s.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(if line.chars().count() > MESSAGE_LIMIT {
        let mut t: String = line.chars().take(MESSAGE_LIMIT).collect();
        t.push('…');
        t
    } else {
        line.to_owned()
    })
}

fn body_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim_start();
    let text = text.strip_prefix("<![CDATA[").unwrap_or(text);
    let text = text.split("]]>").next().unwrap_or(text);
    // Nested elements (Surefire's <stackTrace>) are left out of the message.
    let text = if text.trim_start().starts_with('<') {
        text.split_once('>').map_or("", |(_, rest)| rest)
    } else {
        text
    };
    first_line(&unescape(text.split('<').next().unwrap_or(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_escapes() {
        assert_eq!(parse_time("1,234.5"), Some(1234.5));
        assert_eq!(parse_time("NaN"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(
            unescape("a &lt;b&gt; &amp;&#10;&#x41;&lol9;"),
            "a <b> &\nA&lol9;"
        );
        assert_eq!(normalize("  a   b\tc "), "a b c");
        assert_eq!(normalize("plain"), "plain");
    }

    /// The test results of `xml`, read through a buffer of `cap` bytes, the number of test
    /// cases, and how many of them were read without quick-xml.
    fn parse_with_buffer(
        xml: &str,
        cap: usize,
        plain_reads: bool,
    ) -> paved_core::Result<(Vec<TestResult>, u64, u64)> {
        let mut out = Vec::new();
        let mut collect = Collect {
            variant: "",
            pending: Vec::new(),
            index: HashMap::new(),
            sink: |r| {
                out.push(r);
                Ok::<(), paved_core::Error>(())
            },
        };
        let reader = BufReader::with_capacity(cap, xml.as_bytes());
        let mut parser = Parser::new(reader, Path::new("mem.xml"));
        parser.plain_reads = plain_reads;
        let end = parser.run(&mut collect)?;
        Ok((out, end.cases, parser.plain_read))
    }

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

    #[test]
    fn raw_skip_finds_end_tags_across_reads() {
        // A tiny buffer forces the end tag to straddle reads.
        let body = "x".repeat(10_000);
        let xml = format!(
            "<testsuite name=\"s\"><testcase name=\"t\"><system-out>{body}</system-out  ><failure>boom\nmore</failure></testcase><testcase name=\"u\"/></testsuite>"
        );
        for cap in [7, 13, 64, 4096] {
            let (out, _, _) = parse_with_buffer(&xml, cap, true).unwrap();
            assert_eq!(out.len(), 2, "cap {cap}");
            assert_eq!(out[0].attempts[0].outcome, Outcome::Failed);
            assert_eq!(out[0].attempts[0].message.as_deref(), Some("boom"));
        }
    }
}
