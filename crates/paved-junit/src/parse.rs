//! The streaming parser: quick-xml events for everything but the plain passing test cases (see
//! [`crate::fast`]), a test case at a time, handed to a [`Sink`].
//!
//! The parser keeps only what it needs: the open suites, one test case, and fixed-size read
//! buffers. Captured output and failure bodies are skipped by scanning the raw bytes for their
//! end tag (`Parser::skip_raw`), so their size costs nothing but the read.

use std::io::BufRead;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::case::{Case, body_message, first_line, parse_time, parse_time_bytes};
use crate::escape::{id_text, plain_text, unescape};
use crate::fast::{plain_case, scan_case_attributes};
use crate::key::normalize;
use crate::model::{Attempt, Outcome};

pub(crate) fn truncated(path: &Path, inside: &str, at: u64) -> paved_core::Error {
    bad(
        path,
        format!(
            "the XML ends inside `<{inside}>` at byte {at} (truncated file? the test run may have been killed while writing it)"
        ),
    )
}

pub(crate) fn bad(path: &Path, message: impl Into<String>) -> paved_core::Error {
    paved_core::Error::BadFile {
        path: path.to_owned(),
        message: message.into(),
    }
}

mod skip;

/// An open `<testsuite>`: its normalised name (part of every test id inside it) and file.
pub(crate) struct Suite {
    pub name: String,
    pub file: Option<String>,
}

/// One `<testcase>` as the parser hands it on: strings borrowed from the parser's buffers.
///
/// The id parts are bytes, always valid UTF-8 (unescaped and normalised): a plain ASCII name is
/// handed on as read, without validating it again, and a sink that only hashes it (ingest)
/// never needs a `str`. See [`text`](crate::text) for one.
#[derive(Debug, Clone, Copy)]
pub struct CaseRef<'a> {
    /// The innermost open suite (the empty name for a test case outside any suite).
    pub suite: &'a [u8],
    /// The `classname` (or `class`) attribute.
    pub classname: &'a [u8],
    /// The `name` attribute, never empty.
    pub name: &'a [u8],
    /// The test case's `file`, else its suite's.
    pub file: Option<&'a str>,
    /// The `time` attribute as written: see [`CaseRef::seconds`].
    pub time: Option<&'a [u8]>,
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
///
/// Implemented by the crate's own collector behind [`stream_file`](crate::stream_file), and by
/// paved-quarantine's ingest, which keeps only a key and an outcome byte per test case.
pub trait Sink {
    /// What the sink's own failures are; a parse error becomes one through `From`.
    type Error: From<paved_core::Error>;
    /// A plain pass: one attempt, no failure, error or skipped element.
    fn passed(&mut self, case: &CaseRef<'_>) -> Result<(), Self::Error>;
    /// Any other test case, with every attempt in order.
    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> Result<(), Self::Error>;
    /// Every suite is closed: results held back for merging are final.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

/// Where a parse starts and stops, for parsing one file in pieces (see [`crate::parallel`]).
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
    pub(crate) plain_reads: bool,
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
        // quick-xml drops a UTF-8 byte order mark at the start without counting it in its
        // positions, and only when its first read holds all three bytes (a pipe may hand over
        // fewer). Positions here count it, so an error names the same byte whatever the reads.
        let mut span = span;
        if reader
            .stream()
            .fill_buf()
            .is_ok_and(|start| start.starts_with(b"\xEF\xBB\xBF"))
        {
            span.base += 3;
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use std::io::BufReader;

    use super::*;
    use crate::merge::Collect;
    use crate::model::TestResult;

    /// The test results of `xml`, read through a buffer of `cap` bytes, the number of test
    /// cases, and how many of them were read without quick-xml.
    pub(crate) fn parse_with_buffer(
        xml: &str,
        cap: usize,
        plain_reads: bool,
    ) -> paved_core::Result<(Vec<TestResult>, u64, u64)> {
        let mut out = Vec::new();
        let mut collect = Collect::new("", |r| {
            out.push(r);
            Ok::<(), paved_core::Error>(())
        });
        let reader = BufReader::with_capacity(cap, xml.as_bytes());
        let mut parser = Parser::new(reader, Path::new("mem.xml"));
        parser.plain_reads = plain_reads;
        let end = parser.run(&mut collect)?;
        Ok((out, end.cases, parser.plain_read))
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

/// Found by the `junit_fast` fuzz target: a file starting with a byte order mark gave error
/// positions 3 bytes apart depending on how many bytes the first read returned.
#[cfg(test)]
mod bom {
    #[test]
    fn error_positions_count_a_byte_order_mark_whatever_the_read_size() {
        let xml = "\u{FEFF}<testsuite name=\"s\"><testcase name=\"t\"/>";
        let messages: Vec<String> = [1, 2, 3, 4, 64 * 1024]
            .into_iter()
            .flat_map(|cap| [true, false].map(|plain| (cap, plain)))
            .map(|(cap, plain)| {
                crate::fuzzing::parse_with(xml.as_bytes(), cap, plain)
                    .expect_err("a truncated file is an error")
                    .to_string()
            })
            .collect();
        let end = xml.len();
        assert!(
            messages[0].contains(&format!("at byte {end}")),
            "{}",
            messages[0]
        );
        assert!(messages.iter().all(|m| *m == messages[0]), "{messages:#?}");
    }
}
