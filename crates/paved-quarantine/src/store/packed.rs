//! What the store keeps of one report: every test as a key and one byte, and the few tests
//! with a failure in full.
//!
//! A large suite is mostly passing tests, and a passing test needs no name in the store: it is
//! counted by its key, and `analyze` names only tests that failed somewhere (a test in
//! `quarantine.toml` is looked up by the key of its id). So a report is one row: its counts, an
//! outcome byte per test in key order, a reference to its key set (the sorted keys; stored once
//! for all reports with the same tests), and the tests with a failed attempt as JSON
//! ([`FailureRow`]: id, final outcome, attempts, first message). A million-test report is then
//! one insert of 1 MB plus its failures, and 8 MB more only when its tests changed.
//!
//! A key set is each key as 8 little-endian bytes. The outcome byte: bits 0–1 the final
//! outcome ([`outcome_code`]), bit 2 "some attempt failed", bits 3–7 the number of attempts (31
//! stands for 31 or more; the exact number of a test with a failure is in its [`FailureRow`]).

use crate::junit::parallel::PieceSink;
use crate::junit::{CaseRef, Sink, merge_into};
use crate::model::{Attempt, Outcome, RunTotals as Totals, TestId, TestResult};

use super::{KeyHasher, outcome_code, outcome_of};

/// One report, ready to store.
///
/// Built by [`Collector`]s (one per parsed piece of the file, each on its own thread: a key and
/// a tag per test case, the others in full) and [`pack`] (the pieces merged in key order, a
/// test's repeats folded into one with every attempt).
#[derive(Debug, Default)]
pub(crate) struct PackedReport {
    /// The sorted, distinct test keys, each as 8 little-endian bytes (the stored form).
    pub keys: Vec<u8>,
    /// Parallel to `keys`.
    pub codes: Vec<u8>,
    /// Tests with at least one failed attempt.
    pub failures: Vec<FailureRow>,
    /// `failures` as stored (JSON), when already written by [`pack`].
    pub failures_json: Option<String>,
    pub totals: Totals,
}

/// The counts of `codes`.
pub(crate) fn totals_of(codes: &[u8]) -> Totals {
    let mut t = Totals::default();
    for &c in codes {
        let (outcome, _, any_failure) = decode(c);
        t.tests += 1;
        if outcome != Outcome::Skipped {
            t.ran += 1;
        }
        if outcome.is_failure() {
            t.failed += 1;
        } else if outcome == Outcome::Passed && any_failure {
            t.flaky += 1;
        }
    }
    t
}

/// A test that failed at least once in the report, as stored in the report's `failures` JSON.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct FailureRow {
    /// [`test_key`](super::test_key) of `id`, as stored in the keys column (signed).
    pub key: i64,
    pub id: TestId,
    pub outcome: Outcome,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A 64-bit digest of a report's keys column, to find an equal stored key set quickly (equality
/// is then checked byte for byte).
pub(crate) fn digest(keys: &[u8]) -> i64 {
    let mut acc = keys.len() as u64;
    for c in keys.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        acc = (acc ^ u64::from_le_bytes(w))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(23);
    }
    acc.cast_signed()
}

impl PackedReport {
    /// The `failures` column: as [`pack`] wrote it, else written now.
    pub fn failures_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.failures_json {
            Some(json) => std::borrow::Cow::Borrowed(json),
            None => std::borrow::Cow::Owned(failures_json(&self.failures)),
        }
    }
}

/// The `failures` column of a report.
pub(crate) fn failures_json(failures: &[FailureRow]) -> String {
    serde_json::to_string(failures).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn encode(outcome: Outcome, attempts: u32, any_failure: bool) -> u8 {
    let outcome = u8::try_from(outcome_code(outcome)).unwrap_or(3);
    let attempts = u8::try_from(attempts.min(31)).unwrap_or(31);
    outcome | (u8::from(any_failure) << 2) | (attempts << 3)
}

/// (final outcome, attempts, some attempt failed).
pub(crate) fn decode(code: u8) -> (Outcome, u32, bool) {
    (
        outcome_of(i64::from(code & 3)),
        u32::from(code >> 3),
        code & 4 != 0,
    )
}

/// The keys of a stored report; `None` when the bytes are not a whole number of keys.
pub(crate) fn keys_from_bytes(bytes: &[u8]) -> Option<Vec<u64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}

/// The ingest [`Sink`], one per parsed piece of a file: a key per test case, and the test
/// cases that were not a plain pass in full.
pub(crate) struct Collector {
    variant: String,
    /// The piece's number in file order: the top half of each entry's tag.
    piece: u64,
    /// (key, tag) per test case, split by the key's top bit (so that the two halves can be
    /// sorted and folded on two threads). The tag is `piece << 32 | position << 1 | full`:
    /// ordered by (key, tag), a test's repeats are in document order.
    entries: [Vec<(u64, u64)>; 2],
    /// The cases that were not a plain pass, in document order, and their positions (kept
    /// apart: a binary search over the small array stays in cache).
    full: Vec<TestResult>,
    full_positions: Vec<u32>,
    /// Test cases seen.
    count: u32,
    /// The hash state after the current suite's name, and after its current classname.
    suite: Option<(String, KeyHasher)>,
    class: Option<(String, KeyHasher)>,
}

impl Collector {
    /// `expected`: about how many test cases the piece holds (room is reserved for them, so
    /// that the entries are not copied as they grow).
    pub fn new(variant: &str, piece: usize, expected: usize) -> Collector {
        let half = expected / 2 + 16;
        Collector {
            variant: variant.to_owned(),
            piece: piece as u64,
            entries: [Vec::with_capacity(half), Vec::with_capacity(half)],
            full: Vec::new(),
            full_positions: Vec::new(),
            count: 0,
            suite: None,
            class: None,
        }
    }

    /// The test key, reusing the hash of the suite and classname prefix (a suite's test cases
    /// mostly share both).
    fn key(&mut self, case: &CaseRef<'_>) -> u64 {
        let mut h = match (&self.suite, &self.class) {
            (Some((suite, _)), Some((class, h)))
                if suite == case.suite && class == case.classname =>
            {
                *h
            }
            _ => {
                let suite = match &self.suite {
                    Some((name, h)) if name == case.suite => *h,
                    _ => {
                        let mut h = KeyHasher::new();
                        h.part(case.suite);
                        self.suite = Some((case.suite.to_owned(), h));
                        h
                    }
                };
                let mut h = suite;
                h.part(case.classname);
                self.class = Some((case.classname.to_owned(), h));
                h
            }
        };
        h.part(case.name);
        h.part(&self.variant);
        h.finish().cast_unsigned()
    }

    /// Record a test case; returns its position.
    fn push(&mut self, key: u64, full: bool) -> paved_core::Result<u32> {
        let position = self.count;
        if position >= 1 << 31 {
            return Err(paved_core::Error::Usage(
                "a report with more than 2 billion test cases; split it into several files".into(),
            ));
        }
        self.count += 1;
        let tag = self.piece << 32 | u64::from(position) << 1 | u64::from(full);
        self.entries[usize::from(key >> 63 == 1)].push((key, tag));
        Ok(position)
    }

    /// The full result of the entry tagged `tag`.
    fn full(&self, tag: u64) -> Option<TestResult> {
        let position = u32::try_from(tag >> 1 & 0x7fff_ffff).ok()?;
        let i = self.full_positions.binary_search(&position).ok()?;
        Some(self.full[i].clone())
    }
}

impl Sink for Collector {
    type Error = paved_core::Error;

    fn passed(&mut self, case: &CaseRef<'_>) -> paved_core::Result<()> {
        let key = self.key(case);
        self.push(key, false)?;
        Ok(())
    }

    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> paved_core::Result<()> {
        let key = self.key(case);
        let position = self.push(key, true)?;
        self.full_positions.push(position);
        self.full.push(TestResult {
            id: TestId {
                suite: case.suite.to_owned(),
                classname: case.classname.to_owned(),
                name: case.name.to_owned(),
                variant: self.variant.clone(),
            },
            file: case.file.map(str::to_owned),
            attempts,
        });
        Ok(())
    }

    fn flush(&mut self) -> paved_core::Result<()> {
        Ok(())
    }
}

impl PieceSink for Collector {
    /// Sort on the parsing thread, in place: pieces finish in parallel, and [`pack`] only merges.
    fn finish(&mut self) {
        for half in &mut self.entries {
            half.sort_unstable();
        }
    }
}

/// Fold the pieces of one file (in file order) into a [`PackedReport`]. A test reported more
/// than once (reruns) becomes one with every attempt, in document order.
///
/// The two halves of the key space are sorted and folded on two threads (a key's entries are
/// all in one half), then joined.
pub(crate) fn pack(pieces: &[Collector]) -> PackedReport {
    let total: usize = pieces
        .iter()
        .map(|p| p.entries[0].len() + p.entries[1].len())
        .sum();
    // Each half also writes its failures as JSON on its own thread.
    let half = |h: usize| {
        let report = pack_half(pieces, h);
        let json = failures_json(&report.failures);
        (report, json)
    };
    let ((mut report, low_json), (upper, high_json)) = if total < 1 << 16 {
        (half(0), half(1))
    } else {
        std::thread::scope(|scope| {
            let upper = scope.spawn(|| half(1));
            let lower = half(0);
            let upper = upper.join().unwrap_or_else(|_| half(1));
            (lower, upper)
        })
    };
    report.keys.extend_from_slice(&upper.keys);
    report.codes.extend_from_slice(&upper.codes);
    report.failures.extend(upper.failures);
    report.totals = totals_of(&report.codes);
    // Two JSON arrays joined into one: `[a…]` + `[b…]` → `[a…,b…]`.
    let (low, high) = (
        &low_json[1..low_json.len() - 1],
        &high_json[1..high_json.len() - 1],
    );
    let sep = if low.is_empty() || high.is_empty() {
        ""
    } else {
        ","
    };
    report.failures_json = Some(format!("[{low}{sep}{high}]"));
    report
}

/// [`pack`] of one half of the key space: the pieces' entries (each sorted) merged as they
/// are folded, a key at a time.
fn pack_half(pieces: &[Collector], half: usize) -> PackedReport {
    let inputs: Vec<&[(u64, u64)]> = pieces.iter().map(|p| p.entries[half].as_slice()).collect();
    let total: usize = inputs.iter().map(|i| i.len()).sum();
    let mut report = PackedReport {
        keys: Vec::with_capacity(total * 8),
        codes: Vec::with_capacity(total),
        ..PackedReport::default()
    };
    let merged = Merge {
        at: vec![0; inputs.len()],
        inputs,
    };
    fold_sorted(pieces, merged, &mut report);
    report
}

/// Sorted lists merged into one sorted stream by (key, tag) (tags are distinct).
struct Merge<'a> {
    inputs: Vec<&'a [(u64, u64)]>,
    at: Vec<usize>,
}

impl Iterator for Merge<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let mut best: Option<(usize, (u64, u64))> = None;
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(&e) = input.get(self.at[i])
                && best.is_none_or(|(_, b)| e < b)
            {
                best = Some((i, e));
            }
        }
        let (i, e) = best?;
        self.at[i] += 1;
        Some(e)
    }
}

/// Append `entries` (in order of key, then tag) to `report`, a key at a time.
fn fold_sorted(
    pieces: &[Collector],
    entries: impl Iterator<Item = (u64, u64)>,
    report: &mut PackedReport,
) {
    let plain = encode(Outcome::Passed, 1, false);
    let mut entries = entries.peekable();
    let mut group: Vec<u64> = Vec::new();
    while let Some((key, tag)) = entries.next() {
        report.keys.extend_from_slice(&key.to_le_bytes());
        let repeated = entries.peek().is_some_and(|e| e.0 == key);
        // The common case: one plain pass.
        if !repeated && tag & 1 == 0 {
            report.codes.push(plain);
            continue;
        }
        group.clear();
        group.push(tag);
        while let Some((_, tag)) = entries.next_if(|e| e.0 == key) {
            group.push(tag);
        }
        let mut result: Option<TestResult> = None;
        let mut passes_before = 0u32;
        for &tag in &group {
            let next = if tag & 1 == 0 {
                None
            } else {
                usize::try_from(tag >> 32)
                    .ok()
                    .and_then(|p| pieces.iter().find(|c| c.piece as usize == p))
                    .and_then(|c| c.full(tag))
            };
            match (&mut result, next) {
                (None, None) => passes_before += 1,
                (None, Some(mut r)) => {
                    let mut earlier: Vec<Attempt> = (0..passes_before).map(|_| pass()).collect();
                    earlier.append(&mut r.attempts);
                    r.attempts = earlier;
                    result = Some(r);
                }
                (Some(m), None) => m.attempts.push(pass()),
                (Some(m), Some(r)) => merge_into(m, r),
            }
        }
        let (outcome, attempts, any_failure) = match &result {
            Some(r) => (
                r.final_outcome(),
                u32::try_from(r.attempts.len()).unwrap_or(u32::MAX),
                r.attempts.iter().any(|a| a.outcome.is_failure()),
            ),
            None => (Outcome::Passed, passes_before, false),
        };
        report.codes.push(encode(outcome, attempts, any_failure));
        if any_failure && let Some(r) = result {
            report.failures.push(FailureRow {
                key: key.cast_signed(),
                outcome,
                attempts,
                message: r
                    .attempts
                    .iter()
                    .find(|a| a.outcome.is_failure())
                    .and_then(|a| a.message.clone()),
                id: r.id,
                file: r.file,
            });
        }
    }
}

fn pass() -> Attempt {
    Attempt {
        outcome: Outcome::Passed,
        message: None,
        time: None,
    }
}

/// One run's reports merged, in the order they were stored: a test in several reports (a rerun
/// job's own report) gets the later outcome, the attempts of all, and "some attempt failed" from
/// any.
pub(crate) fn merge_run(reports: Vec<(Vec<u64>, Vec<u8>)>) -> (Vec<u64>, Vec<u8>) {
    let mut iter = reports.into_iter();
    let Some(mut acc) = iter.next() else {
        return (Vec::new(), Vec::new());
    };
    for (keys, codes) in iter {
        let (a_keys, a_codes) = acc;
        let mut out_k = Vec::with_capacity(a_keys.len().max(keys.len()));
        let mut out_c = Vec::with_capacity(out_k.capacity());
        let (mut i, mut j) = (0, 0);
        while i < a_keys.len() || j < keys.len() {
            let take_a = j >= keys.len() || (i < a_keys.len() && a_keys[i] < keys[j]);
            let take_b = i >= a_keys.len() || (j < keys.len() && keys[j] < a_keys[i]);
            if take_a {
                out_k.push(a_keys[i]);
                out_c.push(a_codes[i]);
                i += 1;
            } else if take_b {
                out_k.push(keys[j]);
                out_c.push(codes[j]);
                j += 1;
            } else {
                let (_, a_attempts, a_fail) = decode(a_codes[i]);
                let (outcome, b_attempts, b_fail) = decode(codes[j]);
                out_k.push(keys[j]);
                out_c.push(encode(outcome, a_attempts + b_attempts, a_fail || b_fail));
                i += 1;
                j += 1;
            }
        }
        acc = (out_k, out_c);
    }
    acc
}

/// A version-1 store's results of one run as a report (schema migration 2): each row is (test
/// key, outcome code, attempts, some attempt failed, message, the test's name and file).
pub(crate) type V1Row = (i64, i64, i64, bool, Option<String>, TestId, Option<String>);

fn pack_rows(mut rows: Vec<V1Row>) -> PackedReport {
    rows.sort_by_key(|r| r.0.cast_unsigned());
    let mut report = PackedReport::default();
    for (key, outcome, attempts, any_failure, message, id, file) in rows {
        let outcome = outcome_of(outcome);
        let attempts = u32::try_from(attempts).unwrap_or(1);
        report
            .keys
            .extend_from_slice(&key.cast_unsigned().to_le_bytes());
        report.codes.push(encode(outcome, attempts, any_failure));
        if any_failure {
            report.failures.push(FailureRow {
                key,
                id,
                outcome,
                attempts,
                message,
                file,
            });
        }
    }
    report.totals = totals_of(&report.codes);
    report
}

/// Migration 2's reports for one run: its version-1 rows as one report named after the run's
/// first ingested file, and an empty report for each other file (so that they stay ingested).
pub(crate) fn v1_reports(files: Vec<String>, rows: Vec<V1Row>) -> Vec<(String, PackedReport)> {
    let mut files = files.into_iter();
    let first = files
        .next()
        .unwrap_or_else(|| "(before schema 2)".to_owned());
    std::iter::once((first, pack_rows(rows)))
        .chain(files.map(|f| (f, pack_rows(Vec::new()))))
        .collect()
}
