//! What the store keeps of one report: every test as a key and one byte, and the few tests
//! with a failure in full.
//!
//! A large suite is mostly passing tests, and a passing test needs no name in the store: it is
//! counted by its key, and `analyze` names only tests that failed somewhere (a test in
//! `quarantine.toml` is looked up by the key of its id). So a report is one row: its counts, two
//! columns of packed values (the sorted keys, and an outcome byte per key), and the tests with a
//! failed attempt as JSON ([`FailureRow`]: id, final outcome, attempts, first message). A
//! million-test report is then a single insert of about 9 MB, whatever the store.
//!
//! The keys column is each key as 8 little-endian bytes. The outcome byte: bits 0–1 the final
//! outcome ([`outcome_code`]), bit 2 "some attempt failed", bits 3–7 the number of attempts (31
//! stands for 31 or more; the exact number of a test with a failure is in its [`FailureRow`]).

use crate::junit::parallel::PieceSink;
use crate::junit::{CaseRef, Sink, merge_into};
use crate::model::{Attempt, Outcome, RunTotals as Totals, TestId, TestResult};

use super::{key_of, outcome_code, outcome_of};

/// One report, ready to store.
#[derive(Debug, Default)]
pub(crate) struct PackedReport {
    /// Sorted, distinct.
    pub keys: Vec<u64>,
    /// Parallel to `keys`.
    pub codes: Vec<u8>,
    /// Tests with at least one failed attempt.
    pub failures: Vec<FailureRow>,
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

pub(crate) fn keys_to_bytes(keys: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.len() * 8);
    for k in keys {
        out.extend_from_slice(&k.to_le_bytes());
    }
    out
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

const PLAIN_PASS: u32 = u32::MAX;

/// The [`Sink`] ingest parses into, one per parsed piece of a file: a key per test case, and
/// the test cases that were not a plain pass in full.
pub(crate) struct Collector {
    variant: String,
    /// (key, index into `full` or [`PLAIN_PASS`]), in document order until `finish` sorts it.
    entries: Vec<(u64, u32)>,
    full: Vec<Option<TestResult>>,
}

impl Collector {
    pub fn new(variant: &str) -> Collector {
        Collector {
            variant: variant.to_owned(),
            entries: Vec::new(),
            full: Vec::new(),
        }
    }

    fn key(&self, case: &CaseRef<'_>) -> u64 {
        key_of([case.suite, case.classname, case.name, &self.variant]).cast_unsigned()
    }
}

impl Sink for Collector {
    type Error = paved_core::Error;

    fn passed(&mut self, case: &CaseRef<'_>) -> paved_core::Result<()> {
        let key = self.key(case);
        self.entries.push((key, PLAIN_PASS));
        Ok(())
    }

    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> paved_core::Result<()> {
        let key = self.key(case);
        let index = u32::try_from(self.full.len()).map_err(|_| {
            paved_core::Error::Usage("a report with more than 4 billion test cases".into())
        })?;
        self.full.push(Some(TestResult {
            id: TestId {
                suite: case.suite.to_owned(),
                classname: case.classname.to_owned(),
                name: case.name.to_owned(),
                variant: self.variant.clone(),
            },
            file: case.file.map(str::to_owned),
            attempts,
        }));
        self.entries.push((key, index));
        Ok(())
    }

    fn flush(&mut self) -> paved_core::Result<()> {
        Ok(())
    }
}

impl PieceSink for Collector {
    fn finish(&mut self) {
        // Stable: a test reported twice keeps its attempts in document order.
        self.entries.sort_by_key(|e| e.0);
    }
}

/// Fold the pieces of one file (in file order, each sorted by key) into a [`PackedReport`].
/// A test reported more than once (reruns) becomes one with every attempt, in document order.
pub(crate) fn pack(mut pieces: Vec<Collector>) -> PackedReport {
    // Merge the sorted pieces two at a time; on equal keys the earlier piece comes first, so a
    // key's entries stay in document order. `(piece, entry)` pairs say where each came from.
    let mut merged: Vec<(u64, u32, u32)> = Vec::new();
    for (p, piece) in pieces.iter().enumerate() {
        let p = u32::try_from(p).unwrap_or(u32::MAX);
        let next: Vec<(u64, u32, u32)> = piece.entries.iter().map(|&(k, i)| (k, p, i)).collect();
        merged = if merged.is_empty() {
            next
        } else {
            merge_sorted(&merged, &next)
        };
    }
    let mut report = PackedReport {
        keys: Vec::with_capacity(merged.len()),
        codes: Vec::with_capacity(merged.len()),
        ..PackedReport::default()
    };
    let plain = encode(Outcome::Passed, 1, false);
    let mut at = 0;
    while at < merged.len() {
        let key = merged[at].0;
        let mut end = at + 1;
        while end < merged.len() && merged[end].0 == key {
            end += 1;
        }
        let group = &merged[at..end];
        at = end;
        if let [(_, _, PLAIN_PASS)] = group {
            report.keys.push(key);
            report.codes.push(plain);
            continue;
        }
        let mut result: Option<TestResult> = None;
        let mut passes_before = 0u32;
        for &(_, p, i) in group {
            let next = if i == PLAIN_PASS {
                None
            } else {
                pieces[p as usize].full[i as usize].take()
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
        report.keys.push(key);
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
    pieces.clear();
    report.totals = totals_of(&report.codes);
    report
}

/// Merge two lists sorted by key; on equal keys `a`'s entries come first.
fn merge_sorted(a: &[(u64, u32, u32)], b: &[(u64, u32, u32)]) -> Vec<(u64, u32, u32)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
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

pub(crate) fn pack_rows(mut rows: Vec<V1Row>) -> PackedReport {
    rows.sort_by_key(|r| r.0.cast_unsigned());
    let mut report = PackedReport::default();
    for (key, outcome, attempts, any_failure, message, id, file) in rows {
        let outcome = outcome_of(outcome);
        let attempts = u32::try_from(attempts).unwrap_or(1);
        report.keys.push(key.cast_unsigned());
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
