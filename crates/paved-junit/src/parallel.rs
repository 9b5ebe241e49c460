//! One large report parsed by several threads.
//!
//! The file is cut after `</testsuite>` end tags near evenly spaced offsets, into a few pieces
//! per thread, and the threads take pieces (spans of bytes) in turn until none is left (so a core
//! slowed by other work holds up only its current piece). Each piece is parsed by the same
//! parser as a whole file, from a position where no suite is open. A cut is only a guess until
//! it is checked: the piece before it must stop exactly there, after a `</testsuite>` that
//! closed its last open suite. A cut that fell inside captured output, a comment or a nested
//! suite fails that check; the pieces after it are then thrown away and the rest of the file is
//! parsed on this thread from where the previous piece really stopped. The result is always
//! what one sequential parse gives; a bad guess only costs time.
//!
//! Memory stays bounded: each thread streams its piece through its own read buffer.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::parse::{Parser, Sink, Span, SpanEnd, bad, truncated};

/// Files smaller than this are parsed on one thread (splitting costs more than it saves).
const MIN_PIECE: u64 = 16 << 20;
/// How far past a target offset to look for a `</testsuite>` to cut at.
const SEARCH_LIMIT: u64 = 16 << 20;
const READ_BUFFER: usize = 256 << 10;
/// Pieces per thread, at most (see [`parse_in_pieces`]).
const PIECES_PER_THREAD: usize = 4;
const CUT: &[u8] = b"</testsuite>";

/// A [`Sink`] for one piece of a file, which also tidies up on its own thread once its piece is
/// parsed (paved-quarantine's ingest sorts its keys there).
pub trait PieceSink: Sink<Error = paved_core::Error> + Send {
    /// Called once, on the parsing thread, after the piece's last test case.
    fn finish(&mut self) {}
}

/// Parse `path` with up to `threads` threads. Returns one sink per piece, in file order, and
/// the number of `<testcase>` elements read. `make(i, bytes)` makes the sink of piece `i`, of
/// about `bytes` bytes; pieces later in the file get larger numbers.
///
/// The results are what one sequential parse gives: a sink sees the test cases of its piece in
/// document order, and the pieces in order hold every test case of the file once.
pub fn parse<S: PieceSink>(
    path: &Path,
    len: u64,
    threads: usize,
    make: impl Fn(usize, u64) -> S + Sync,
) -> paved_core::Result<(Vec<S>, u64)> {
    parse_in_pieces(path, len, threads, MIN_PIECE, make)
}

/// [`parse`] with pieces of at least `min_piece` bytes (small in tests, here and in
/// paved-quarantine's).
#[doc(hidden)]
pub fn parse_in_pieces<S: PieceSink>(
    path: &Path,
    len: u64,
    threads: usize,
    min_piece: u64,
    make: impl Fn(usize, u64) -> S + Sync,
) -> paved_core::Result<(Vec<S>, u64)> {
    // More pieces than threads: a thread that finishes early takes the next piece, so a core
    // slowed by something else holds up only its current piece.
    let pieces = usize::try_from(len / min_piece.max(1))
        .unwrap_or(usize::MAX)
        .clamp(1, threads.max(1).saturating_mul(PIECES_PER_THREAD));
    let cuts = if pieces > 1 {
        cut_points(path, len, pieces)?
    } else {
        Vec::new()
    };
    // Piece k runs from cuts[k-1] (or 0) and stops at the first clean point at or after cuts[k].
    let starts: Vec<u64> = std::iter::once(0).chain(cuts.iter().copied()).collect();
    let stops: Vec<Option<u64>> = cuts.iter().copied().map(Some).chain([None]).collect();
    let make = &make;
    let next_piece = std::sync::atomic::AtomicUsize::new(0);
    let workers = threads.clamp(1, starts.len());
    let mut outcomes: Vec<(usize, paved_core::Result<(S, SpanEnd)>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next_piece.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let (Some(&start), Some(&stop)) = (starts.get(i), stops.get(i)) else {
                                break done;
                            };
                            let bytes = stop.unwrap_or(len).saturating_sub(start);
                            done.push((i, parse_piece(path, start, stop, make(i, bytes))));
                        }
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(starts.len());
            for h in handles {
                match h.join() {
                    Ok(done) => all.extend(done),
                    // Stands for the pieces that thread had taken: the chain breaks there.
                    Err(_) => all.push((
                        usize::MAX,
                        Err(bad(
                            path,
                            "the JUnit parser panicked; please report this file",
                        )),
                    )),
                }
            }
            all
        });
    outcomes.sort_by_key(|(i, _)| *i);
    if outcomes.last().is_some_and(|(i, _)| *i == usize::MAX) {
        return Err(bad(
            path,
            "the JUnit parser panicked; please report this file",
        ));
    }
    let outcomes = outcomes.into_iter().map(|(_, o)| o);

    let mut sinks = Vec::with_capacity(starts.len());
    let (mut wrappers, mut cases) = (0i64, 0u64);
    // Where the next piece must start for the chain to hold; `None` once a piece reached the end.
    let mut next = Some(0u64);
    for (&start, outcome) in starts.iter().zip(outcomes) {
        match next {
            Some(expected) if expected == start => {}
            _ => break,
        }
        let (sink, end) = outcome?;
        wrappers += end.wrappers;
        cases += end.cases;
        sinks.push(sink);
        next = end.stopped_at;
    }
    if let Some(from) = next {
        #[cfg(test)]
        tests::FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A cut was a bad guess: parse the rest here, from where the last good piece stopped.
        let (sink, end) = parse_piece(path, from, None, make(starts.len(), len - from))?;
        wrappers += end.wrappers;
        cases += end.cases;
        sinks.push(sink);
    }
    if wrappers > 0 {
        return Err(truncated(path, "testsuites", len));
    }
    if wrappers < 0 {
        return Err(bad(
            path,
            "malformed XML: a `</testsuites>` closes an element that was never opened",
        ));
    }
    Ok((sinks, cases))
}

fn parse_piece<S: PieceSink>(
    path: &Path,
    start: u64,
    stop: Option<u64>,
    mut sink: S,
) -> paved_core::Result<(S, SpanEnd)> {
    let io = |source| paved_core::Error::Io {
        action: "read the JUnit report",
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).map_err(io)?;
    }
    let span = Span {
        base: start,
        mid_document: start > 0,
        stop_after: stop,
    };
    let end = Parser::with_span(BufReader::with_capacity(READ_BUFFER, file), path, span)
        .run(&mut sink)?;
    sink.finish();
    Ok((sink, end))
}

/// Offsets just past a `</testsuite>` at or after each of `pieces - 1` evenly spaced targets,
/// increasing; a target with no end tag within [`SEARCH_LIMIT`] gets no cut.
fn cut_points(path: &Path, len: u64, pieces: usize) -> paved_core::Result<Vec<u64>> {
    let io = |source| paved_core::Error::Io {
        action: "read the JUnit report",
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let finder = memchr::memmem::Finder::new(CUT);
    let mut cuts: Vec<u64> = Vec::with_capacity(pieces - 1);
    let mut buf = vec![0u8; READ_BUFFER];
    for k in 1..pieces {
        let target = len / pieces as u64 * k as u64;
        let mut at = cuts.last().map_or(target, |&c| c.max(target));
        let limit = (at + SEARCH_LIMIT).min(len);
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let mut found = None;
        while at < limit && found.is_none() {
            let want = usize::try_from((limit - at).min(READ_BUFFER as u64)).unwrap_or(READ_BUFFER);
            let n = read_full(&mut file, &mut buf[..want]).map_err(io)?;
            if n == 0 {
                break;
            }
            if let Some(cut) = plausible_cut(&finder, &buf[..n]) {
                found = Some(at + cut as u64);
            } else if n < CUT.len() {
                break;
            } else {
                // Overlap reads so that a tag across two reads is seen.
                let step = (n - (CUT.len() - 1)) as u64;
                at += step;
                file.seek(SeekFrom::Start(at)).map_err(io)?;
            }
        }
        if let Some(cut) = found
            && cut < len
            && cuts.last().is_none_or(|&c| cut > c)
        {
            cuts.push(cut);
        }
    }
    Ok(cuts)
}

/// The first offset just past a `</testsuite>` in `buf` that is followed by another suite or
/// the end of the wrapper (a `</testsuite>` inside captured output usually is not). Only a
/// guess, checked later; it keeps threads from starting inside output.
fn plausible_cut(finder: &memchr::memmem::Finder<'_>, buf: &[u8]) -> Option<usize> {
    finder.find_iter(buf).map(|i| i + CUT.len()).find(|&cut| {
        let next = buf[cut..].iter().position(|b| !b.is_ascii_whitespace());
        match next {
            // The buffer ends first: cannot tell, take it (the check after parsing decides).
            None => true,
            Some(j) => {
                let rest = &buf[cut + j..];
                rest.starts_with(b"<testsuite")
                    || rest.starts_with(b"</testsuites")
                    || b"<testsuite".starts_with(&rest[..rest.len().min(10)])
            }
        }
    })
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::CaseRef;
    use crate::{Attempt, Outcome, Report, TestId, TestResult, merge_reports, text};

    /// Times a bad cut sent the rest of a file to one thread.
    pub(super) static FALLBACKS: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);

    /// Every test case of a piece, as read, in document order.
    #[derive(Default)]
    struct Cases(Vec<TestResult>);

    impl Cases {
        fn push(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) {
            self.0.push(TestResult {
                id: TestId {
                    suite: text(case.suite),
                    classname: text(case.classname),
                    name: text(case.name),
                    variant: String::new(),
                },
                file: case.file.map(str::to_owned),
                attempts,
            });
        }
    }

    impl Sink for Cases {
        type Error = paved_core::Error;

        fn passed(&mut self, case: &CaseRef<'_>) -> paved_core::Result<()> {
            let pass = Attempt {
                outcome: Outcome::Passed,
                message: None,
                time: case.seconds(),
            };
            self.push(case, vec![pass]);
            Ok(())
        }

        fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> paved_core::Result<()> {
            self.push(case, attempts);
            Ok(())
        }

        fn flush(&mut self) -> paved_core::Result<()> {
            Ok(())
        }
    }

    impl PieceSink for Cases {}

    /// The test cases of `path` in document order, parsed in pieces of 256 bytes or more.
    fn cases(path: &Path, threads: usize) -> paved_core::Result<(Vec<TestResult>, u64)> {
        let len = std::fs::metadata(path).unwrap().len();
        let (pieces, n) = parse_in_pieces(path, len, threads, 256, |_, _| Cases::default())?;
        Ok((pieces.into_iter().flat_map(|c| c.0).collect(), n))
    }

    /// Every way to cut a report gives what one thread gives: cuts inside captured output
    /// (which holds text that looks like the end of a suite), nested suites, a test repeated in
    /// suites far apart (a rerun), and failures.
    #[test]
    fn any_number_of_threads_gives_the_same_report() {
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites>\n");
        for s in 0..60 {
            xml.push_str(&format!("<testsuite name=\"suite{s}\">\n"));
            for c in 0..8 {
                match (s + c) % 7 {
                    0 => xml.push_str(&format!(
                        "<testcase classname=\"C{s}\" name=\"t{c}\"><system-out><![CDATA[log\n</testsuite>\n<testsuite name=\"ghost\"><testcase name=\"ghost{c}\"/>\n]]></system-out></testcase>\n"
                    )),
                    1 => xml.push_str(&format!(
                        "<testcase classname=\"C{s}\" name=\"t{c}\"><failure message=\"boom\">trace</failure></testcase>\n"
                    )),
                    _ => xml.push_str(&format!("<testcase classname=\"C{s}\" name=\"t{c}\" time=\"0.1\"/>\n")),
                }
            }
            if s % 9 == 4 {
                // A nested suite: a cut after its end is not between top-level suites.
                xml.push_str(&format!(
                    "<testsuite name=\"inner{s}\"><testcase classname=\"I\" name=\"i\"/></testsuite>\n<testcase classname=\"C{s}\" name=\"after-inner\"/>\n"
                ));
            }
            xml.push_str("</testsuite>\n");
            if s % 20 == 19 {
                // A rerun of suite 0's failed test, in a later suite of the same name.
                xml.push_str("<testsuite name=\"suite0\"><testcase classname=\"C0\" name=\"t1\"/></testsuite>\n");
            }
        }
        xml.push_str("</testsuites>\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml");
        std::fs::write(&path, &xml).unwrap();
        let (one, n) = cases(&path, 1).unwrap();
        assert_eq!(n as usize, one.len());
        assert!(one.len() > 8 * 60 && !one.iter().any(|r| r.id.name.starts_with("ghost")));
        let merged = merge_reports([Report {
            results: one.clone(),
        }]);
        assert!(
            merged
                .results
                .iter()
                .any(|r| r.id.name == "t1" && r.id.classname == "C0" && r.attempts.len() == 4)
        );
        for threads in [2, 3, 5, 8, 40] {
            let (many, m) = cases(&path, threads).unwrap();
            assert_eq!(m, n, "{threads} threads");
            assert_eq!(many, one, "{threads} threads");
        }
        // Some cut fell inside captured output or after a nested suite, and was caught.
        assert!(FALLBACKS.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_broken_document_is_refused_whatever_the_cuts() {
        let suites: String = (0..80)
            .map(|s| format!("<testsuite name=\"s{s}\"><testcase name=\"t\"/></testsuite>\n"))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for (name, xml) in [
            ("truncated.xml", format!("<testsuites>{suites}")),
            (
                "extra-end.xml",
                format!("<testsuites>{suites}</testsuites></testsuites>"),
            ),
            (
                "cut-in-case.xml",
                format!("<testsuites>{suites}<testsuite name=\"x\"><testcase name=\"y\""),
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, xml).unwrap();
            for threads in [1, 4] {
                let err = cases(&path, threads).map(|_| ()).unwrap_err();
                assert!(
                    err.to_string().contains(name),
                    "{name}, {threads} threads: {err}"
                );
            }
        }
    }
}
