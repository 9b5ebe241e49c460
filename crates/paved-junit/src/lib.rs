//! paved-junit: JUnit XML for paved. One streaming parser for every runner's dialect, test
//! identity and keys, and summaries; paved-quarantine and paved-change both read reports
//! through it.
//!
//! - [`parse_file`] → [`Report`]: the tests in one file, attempts folded per test;
//! - [`stream_file`]: the same tests handed to a callback as each `<testsuite>` closes, so that a
//!   report with a million test cases is ingested without holding it all in memory;
//! - [`Summary::of`] → totals for evidence and summaries;
//! - [`Tally`]: a run's files folded into a record per test and the tests with a failed attempt
//!   in full ([`Tallied`]), in bounded memory (what paved-quarantine's `gate` reads).
//!
//! Inside, one parser hands each test case to a [`Sink`]: a plain pass (most of any report)
//! arrives as borrowed strings ([`CaseRef`]), without allocating, and only other cases as a
//! [`TestResult`]. paved-quarantine's `ingest` parses a large file on several threads
//! ([`parallel`]), each from a cut between two suites, checked after the fact.
//!
//! # Modules
//!
//! - [`model`]: [`TestId`], [`Outcome`], [`Attempt`], [`TestResult`], [`Report`];
//! - [`key`]: normalising id parts, and [`test_key`], the stable key of a test;
//! - `parse` (the quick-xml parser, [`Sink`], [`CaseRef`]), `fast` (the word-at-a-time scanner
//!   for plain passes, and its contract with the parser), `case` (a test case's attempts),
//!   `escape` ([`unescape`], [`text`]);
//! - `merge` ([`merge_reports`], [`merge_into`]), `discover` ([`find_reports`]), `summary`
//!   ([`Summary`]), [`parallel`] (one file on several threads), [`tally`] (a record per test).
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
//! - **pytest-rerunfailures** (`--reruns N`): with pytest 9 each rerun attempt is an empty
//!   `<testcase/>` before the final one (the plugin's "rerun" outcome is neither a pass nor a
//!   failure to pytest's junitxml), in both junit families and interleaved under xdist; older
//!   pytest (7, 8) writes one test case with the final attempt only. Either way the last
//!   attempt decides ([`TestResult::final_outcome`]); the empty reruns are kept as attempts but
//!   are no evidence of a failure, so a test that passed on a rerun looks like a plain pass.
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

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

mod case;
mod discover;
mod escape;
mod fast;
pub mod key;
mod merge;
pub mod model;
pub mod parallel;
mod parse;
mod summary;
pub mod tally;

pub use discover::{FindError, find_reports};
pub use escape::{text, unescape};
pub use key::{CaseKeyer, KeyHasher, normalize, test_key};
pub use merge::{merge_into, merge_reports};
pub use model::{Attempt, Outcome, Report, TestId, TestResult};
pub use parse::{CaseRef, Sink};
pub use summary::Summary;
pub use tally::{FailedTest, Tallied, Tally};

use merge::{Collect, Merger};
use parse::{Parser, bad};

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

/// Stream the tests of one file to `sink`, a suite at a time (duplicates within a suite already
/// merged). Returns the number of `<testcase>` elements read.
///
/// An error from `sink` stops the parse and is returned as is.
pub fn stream_file<E: From<paved_core::Error>>(
    path: &Path,
    variant: &str,
    sink: impl FnMut(TestResult) -> Result<(), E>,
) -> Result<u64, E> {
    let reader = open_report(path)?;
    let mut collect = Collect::new(variant, sink);
    Ok(Parser::new(reader, path).run(&mut collect)?.cases)
}

/// A JUnit file opened for the parser; an empty file is refused with a hint.
fn open_report(path: &Path) -> paved_core::Result<BufReader<File>> {
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
        ));
    }
    Ok(BufReader::with_capacity(256 * 1024, file))
}

/// Parse JUnit XML from memory (tests, and reports that arrive over a pipe).
pub fn parse_bytes(name: &str, variant: &str, bytes: &[u8]) -> paved_core::Result<Report> {
    let path = PathBuf::from(name);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(&path, "the report is empty"));
    }
    let mut merger = Merger::default();
    let mut collect = Collect::new(variant, |r| {
        merger.add(r);
        Ok::<(), paved_core::Error>(())
    });
    Parser::new(bytes, &path).run(&mut collect)?;
    Ok(merger.finish())
}

/// Entry points for the fuzz targets in `fuzz/`: the parser with the knobs its own tests turn.
/// Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::io::BufReader;
    use std::path::Path;

    use crate::merge::Collect;
    use crate::model::TestResult;
    use crate::parse::Parser;

    /// Parse `bytes` through a read buffer of `cap` bytes, with the fast path for plain passes
    /// on or off. Returns the test results as the sink receives them and the number of
    /// `<testcase>` elements read.
    pub fn parse_with(
        bytes: &[u8],
        cap: usize,
        plain_reads: bool,
    ) -> paved_core::Result<(Vec<TestResult>, u64)> {
        let mut out = Vec::new();
        let mut collect = Collect::new("", |r| {
            out.push(r);
            Ok::<(), paved_core::Error>(())
        });
        let reader = BufReader::with_capacity(cap.max(1), bytes);
        let mut parser = Parser::new(reader, Path::new("fuzz.xml"));
        parser.plain_reads = plain_reads;
        let end = parser.run(&mut collect)?;
        Ok((out, end.cases))
    }
}
