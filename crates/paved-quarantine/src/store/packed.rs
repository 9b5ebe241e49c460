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
//! The failures JSON is an array of objects with short keys, about 160 bytes a test:
//! `{"k":key,"c":classname,"n":name,"o":outcome,"a":attempts}`, plus `"s"` (the suite, when it is not
//! the classname), `"v"` (the variant, when there is one), `"m"` (the first failure message)
//! and `"f"` (the file). Reports stored before that are read too (`{"key":…,"id":{…},…}`).
//!
//! A key set is each key as 8 little-endian bytes. The outcome byte: bits 0–1 the final
//! outcome ([`outcome_code`]), bit 2 "some attempt failed", bits 3–7 the number of attempts (31
//! stands for 31 or more; the exact number of a test with a failure is in its [`FailureRow`]).

use paved_junit::parallel::PieceSink;
use paved_junit::{CaseKeyer, CaseRef, Sink, merge_into, text};

use crate::model::{Attempt, Outcome, RunTotals as Totals, TestId, TestResult};

use super::{outcome_code, outcome_of};

/// One report, ready to store.
///
/// Built by [`Collector`]s (one per parsed piece of the file, on the parsing threads: a key and
/// a tag per test case in buckets by key, the cases that were not a plain pass in full) and
/// [`pack`] (a bucket at a time, the pieces' entries sorted together, a test's repeats folded
/// into one with every attempt).
#[derive(Debug)]
pub(crate) struct PackedReport {
    /// The sorted, distinct test keys, each as 8 little-endian bytes (the stored form).
    pub keys: Vec<u8>,
    /// Parallel to `keys`.
    pub codes: Vec<u8>,
    /// The tests with at least one failed attempt, as stored: a JSON array of [`FailureRow`]s.
    pub failures_json: String,
    pub totals: Totals,
}

impl Default for PackedReport {
    /// No tests.
    fn default() -> Self {
        PackedReport {
            keys: Vec::new(),
            codes: Vec::new(),
            failures_json: "[]".to_owned(),
            totals: Totals::default(),
        }
    }
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

/// A test that failed at least once in the report (stored in the report's `failures` JSON).
#[derive(Debug)]
pub(crate) struct FailureRow {
    /// [`test_key`](super::test_key) of `id`, as stored in the keys column (signed).
    pub key: i64,
    pub id: TestId,
    pub outcome: Outcome,
    pub attempts: u32,
    pub message: Option<String>,
    pub file: Option<String>,
}

/// A [`FailureRow`] as written (see the module's docs), borrowed from where it was read.
#[derive(serde::Serialize)]
struct FailureOut<'a> {
    #[serde(rename = "k")]
    key: i64,
    #[serde(rename = "s", skip_serializing_if = "Option::is_none")]
    suite: Option<&'a str>,
    #[serde(rename = "c")]
    classname: &'a str,
    #[serde(rename = "n")]
    name: &'a str,
    #[serde(rename = "v", skip_serializing_if = "str::is_empty")]
    variant: &'a str,
    #[serde(rename = "o")]
    outcome: Outcome,
    #[serde(rename = "a")]
    attempts: u32,
    #[serde(rename = "m", skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(rename = "f", skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
}

impl<'a> FailureOut<'a> {
    fn new(
        key: i64,
        id: &'a TestId,
        outcome: Outcome,
        attempts: u32,
        message: Option<&'a str>,
        file: Option<&'a str>,
    ) -> Self {
        FailureOut {
            key,
            suite: (id.suite != id.classname).then_some(id.suite.as_str()),
            classname: &id.classname,
            name: &id.name,
            variant: &id.variant,
            outcome,
            attempts,
            message,
            file,
        }
    }
}

/// A stored failure in either form: short keys, or (reports stored before them) `key` and a
/// nested `id`.
#[derive(serde::Deserialize)]
struct FailureIn {
    #[serde(alias = "k")]
    key: i64,
    #[serde(default)]
    id: Option<TestId>,
    #[serde(default, rename = "s")]
    suite: Option<String>,
    #[serde(default, rename = "c")]
    classname: Option<String>,
    #[serde(default, rename = "n")]
    name: Option<String>,
    #[serde(default, rename = "v")]
    variant: Option<String>,
    #[serde(alias = "o")]
    outcome: Outcome,
    #[serde(alias = "a")]
    attempts: u32,
    #[serde(default, alias = "m")]
    message: Option<String>,
    #[serde(default, alias = "f")]
    file: Option<String>,
}

/// The failures JSON of a stored report.
pub(crate) fn parse_failures(json: &str) -> Result<Vec<FailureRow>, String> {
    let rows: Vec<FailureIn> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    rows.into_iter()
        .map(|r| {
            let id = match (r.id, r.name) {
                (Some(id), _) => id,
                (None, Some(name)) => {
                    let classname = r.classname.unwrap_or_default();
                    TestId {
                        suite: r.suite.unwrap_or_else(|| classname.clone()),
                        classname,
                        name,
                        variant: r.variant.unwrap_or_default(),
                    }
                }
                (None, None) => return Err("a failure without a test name".to_owned()),
            };
            Ok(FailureRow {
                key: r.key,
                id,
                outcome: r.outcome,
                attempts: r.attempts,
                message: r.message,
                file: r.file,
            })
        })
        .collect()
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

/// The `failures` column of a report.
pub(crate) fn failures_json(failures: &[FailureRow]) -> String {
    let rows: Vec<FailureOut<'_>> = failures
        .iter()
        .map(|f| {
            FailureOut::new(
                f.key,
                &f.id,
                f.outcome,
                f.attempts,
                f.message.as_deref(),
                f.file.as_deref(),
            )
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned())
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
    keys: CaseKeyer,
    /// The piece's number in file order: the top half of each entry's tag.
    piece: u64,
    /// (key, tag) per test case; the tag is `piece << 32 | position << 1 | full`, so that,
    /// ordered by (key, tag), a test's repeats are in document order. In document order while
    /// the piece is parsed; then (see [`PieceSink::finish`]) in buckets by the key's top
    /// `bits` bits, each bucket in no particular order.
    entries: Vec<(u64, u64)>,
    /// `2^bits` buckets: test keys are hashes, spread evenly, so [`pack`] can sort one small
    /// bucket (of all pieces) at a time, in cache, instead of the whole. Every piece of a file
    /// uses the same `bits`.
    bits: u32,
    /// Where each bucket starts in `entries`, and the end (set by `finish`).
    bucket_starts: Vec<usize>,
    /// The cases that were not a plain pass, in document order, and their positions (kept
    /// apart: a binary search over the small array stays in cache).
    full: Vec<TestResult>,
    full_positions: Vec<u32>,
    /// Test cases seen.
    count: u32,
}

/// How many top key bits to bucket by (see [`Collector`]) for about `cases` test cases in all:
/// buckets of a hundred or so entries.
pub(crate) fn bucket_bits(cases: usize) -> u32 {
    (cases / 128).max(1).ilog2().min(16)
}

impl Collector {
    /// `expected`: about how many test cases the piece holds (room is reserved for them, so
    /// that the entries are not copied as they grow). `bits`: see [`bucket_bits`]; the same for
    /// every piece of a file.
    pub fn new(variant: &str, piece: usize, expected: usize, bits: u32) -> Collector {
        Collector {
            keys: CaseKeyer::new(variant),
            piece: piece as u64,
            entries: Vec::with_capacity(expected + 16),
            bits: bits.min(16),
            bucket_starts: Vec::new(),
            full: Vec::new(),
            full_positions: Vec::new(),
            count: 0,
        }
    }

    fn bucket_of(&self, key: u64) -> usize {
        if self.bits == 0 {
            0
        } else {
            usize::try_from(key >> (64 - self.bits)).unwrap_or(0)
        }
    }

    /// The entries of bucket `b`, in no particular order.
    fn bucket(&self, b: usize) -> &[(u64, u64)] {
        match (self.bucket_starts.get(b), self.bucket_starts.get(b + 1)) {
            (Some(&start), Some(&end)) => &self.entries[start..end],
            _ => &[],
        }
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
        self.entries.push((key, tag));
        Ok(position)
    }

    /// The full result of the entry tagged `tag`.
    fn full(&self, tag: u64) -> Option<&TestResult> {
        let position = u32::try_from(tag >> 1 & 0x7fff_ffff).ok()?;
        let i = self.full_positions.binary_search(&position).ok()?;
        self.full.get(i)
    }
}

impl Sink for Collector {
    type Error = paved_core::Error;

    fn passed(&mut self, case: &CaseRef<'_>) -> paved_core::Result<()> {
        let key = self.keys.key(case);
        self.push(key, false)?;
        Ok(())
    }

    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> paved_core::Result<()> {
        let key = self.keys.key(case);
        let position = self.push(key, true)?;
        self.full_positions.push(position);
        self.full.push(TestResult {
            id: TestId {
                suite: text(case.suite),
                classname: text(case.classname),
                name: text(case.name),
                variant: self.keys.variant().to_owned(),
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
    /// Put the entries in buckets, in place (a counting pass, then each entry swapped into its
    /// bucket's next free slot), on the parsing thread. In place, so that no second buffer of
    /// fresh memory is faulted in; a bucket's order is then scrambled, which [`pack`]'s sort
    /// makes right.
    fn finish(&mut self) {
        let buckets = 1usize << self.bits;
        let mut starts = vec![0usize; buckets + 1];
        if buckets == 1 {
            starts[1] = self.entries.len();
        } else {
            for &(key, _) in &self.entries {
                starts[self.bucket_of(key) + 1] += 1;
            }
            for b in 0..buckets {
                starts[b + 1] += starts[b];
            }
            let mut next = starts.clone();
            for b in 0..buckets {
                while next[b] < starts[b + 1] {
                    let to = self.bucket_of(self.entries[next[b]].0);
                    if to == b {
                        next[b] += 1;
                    } else {
                        // `to` is a later bucket (earlier ones are full); its slot gets this
                        // entry, and what was there is looked at next.
                        self.entries.swap(next[b], next[to]);
                        next[to] += 1;
                    }
                }
            }
        }
        self.bucket_starts = starts;
    }
}

/// Fold the pieces of one file (in file order) into a [`PackedReport`]. A test reported more
/// than once (reruns) becomes one with every attempt, in document order.
///
/// The lower and upper buckets (each half of the key space, in order) are sorted and folded on
/// two threads, each into its own part of the keys and codes, then joined.
pub(crate) fn pack(pieces: &[Collector]) -> PackedReport {
    let buckets = pieces.first().map_or(1, |p| 1usize << p.bits);
    let entries = |range: std::ops::Range<usize>| -> usize {
        range
            .flat_map(|b| pieces.iter().map(move |p| p.bucket(b).len()))
            .sum()
    };
    let middle = if entries(0..buckets) < 1 << 16 {
        buckets
    } else {
        buckets / 2
    };
    // Room for every entry (a test repeated takes less): each half writes into its own part.
    let lower_room = entries(0..middle);
    let mut keys = vec![0u8; 8 * (lower_room + entries(middle..buckets))];
    let mut codes = vec![0u8; keys.len() / 8];
    let (lower_keys, upper_keys) = keys.split_at_mut(8 * lower_room);
    let (lower_codes, upper_codes) = codes.split_at_mut(lower_room);
    let (lower, upper) = std::thread::scope(|scope| {
        let upper = (middle < buckets).then(|| {
            scope.spawn(|| fold_buckets(pieces, middle..buckets, upper_keys, upper_codes, ""))
        });
        let lower = fold_buckets(pieces, 0..middle, lower_keys, lower_codes, "[");
        (lower, upper.map(std::thread::ScopedJoinHandle::join))
    });
    let (mut len, mut json) = lower;
    if let Some(upper) = upper {
        // A thread that panicked wrote nothing usable: fold its half again here.
        let (upper_len, upper_json) = upper.unwrap_or_else(|_| {
            let (k, c) = (&mut keys[8 * lower_room..], &mut codes[lower_room..]);
            fold_buckets(pieces, middle..buckets, k, c, "")
        });
        if len < lower_room {
            keys.copy_within(8 * lower_room..8 * (lower_room + upper_len), 8 * len);
            codes.copy_within(lower_room..lower_room + upper_len, len);
        }
        len += upper_len;
        if !upper_json.is_empty() {
            if json.len() > 1 {
                json.push(',');
            }
            json.push_str(&upper_json);
        }
    }
    json.push(']');
    keys.truncate(8 * len);
    codes.truncate(len);
    PackedReport {
        totals: totals_of(&codes),
        keys,
        codes,
        failures_json: json,
    }
}

/// Fold buckets `range` of every piece into `keys` and `codes`: (tests written, their failures
/// as JSON elements after `json_start`).
fn fold_buckets(
    pieces: &[Collector],
    range: std::ops::Range<usize>,
    keys: &mut [u8],
    codes: &mut [u8],
    json_start: &str,
) -> (usize, String) {
    let mut out = Folded::new(keys, codes, json_start);
    for b in range {
        out.bucket(pieces, b);
    }
    out.finish()
}

/// One thread's part of [`pack`]: buckets in key order, each gathered from every piece,
/// sorted and folded into `keys` and `codes` (a key's entries are all in one bucket), and the
/// tests with a failure written as JSON.
struct Folded<'a> {
    keys: &'a mut [u8],
    codes: &'a mut [u8],
    len: usize,
    /// JSON (serde_json writes UTF-8).
    json: Vec<u8>,
    /// Whether `json` has an element yet.
    any: bool,
    bucket: Vec<(u64, u64)>,
    /// Room for [`sort_entries`].
    scratch: Vec<(u64, u64)>,
}

impl<'a> Folded<'a> {
    fn new(keys: &'a mut [u8], codes: &'a mut [u8], json_start: &str) -> Self {
        Folded {
            keys,
            codes,
            len: 0,
            json: json_start.as_bytes().to_vec(),
            any: false,
            bucket: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn push(&mut self, key: u64, code: u8) {
        self.keys[8 * self.len..8 * self.len + 8].copy_from_slice(&key.to_le_bytes());
        self.codes[self.len] = code;
        self.len += 1;
    }

    fn failure(&mut self, key: u64, r: &TestResult, outcome: Outcome, attempts: u32) {
        let message = r
            .attempts
            .iter()
            .find(|a| a.outcome.is_failure())
            .and_then(|a| a.message.as_deref());
        let row = FailureOut::new(
            key.cast_signed(),
            &r.id,
            outcome,
            attempts,
            message,
            r.file.as_deref(),
        );
        if self.any {
            self.json.push(b',');
        }
        self.any = true;
        // Writing into memory cannot fail, and the row has only plain fields.
        if serde_json::to_writer(&mut self.json, &row).is_err() {
            self.json.extend_from_slice(b"null");
        }
    }

    /// Gather, sort and fold bucket `b` of every piece.
    fn bucket(&mut self, pieces: &[Collector], b: usize) {
        let mut bucket = std::mem::take(&mut self.bucket);
        bucket.clear();
        for p in pieces {
            bucket.extend_from_slice(p.bucket(b));
        }
        sort_entries(
            &mut bucket,
            &mut self.scratch,
            pieces.first().map_or(0, |p| p.bits),
        );
        self.fold(pieces, &bucket);
        self.bucket = bucket;
    }

    /// Append `entries` (in order of key, then tag), a key at a time.
    fn fold(&mut self, pieces: &[Collector], entries: &[(u64, u64)]) {
        let plain = encode(Outcome::Passed, 1, false);
        let full = |tag: u64| {
            usize::try_from(tag >> 32)
                .ok()
                .and_then(|p| pieces.iter().find(|c| c.piece as usize == p))
                .and_then(|c| c.full(tag))
        };
        let mut i = 0;
        while let Some(&(key, tag)) = entries.get(i) {
            let repeats = entries[i + 1..].iter().take_while(|e| e.0 == key).count();
            let group = &entries[i..=i + repeats];
            i += repeats + 1;
            match (repeats, tag & 1) {
                // The common case: one plain pass.
                (0, 0) => self.push(key, plain),
                // One test case with a failure or a skip: read where it is.
                (0, _) => match full(tag) {
                    Some(r) => self.result(key, r),
                    None => self.push(key, plain),
                },
                // A test reported more than once: its attempts merged in document order.
                _ => {
                    let mut result: Option<TestResult> = None;
                    let mut passes_before = 0u32;
                    for &(_, tag) in group {
                        let next = if tag & 1 == 0 {
                            None
                        } else {
                            full(tag).cloned()
                        };
                        match (&mut result, next) {
                            (None, None) => passes_before += 1,
                            (None, Some(mut r)) => {
                                let mut earlier: Vec<Attempt> =
                                    (0..passes_before).map(|_| pass()).collect();
                                earlier.append(&mut r.attempts);
                                r.attempts = earlier;
                                result = Some(r);
                            }
                            (Some(m), None) => m.attempts.push(pass()),
                            (Some(m), Some(r)) => merge_into(m, r),
                        }
                    }
                    match &result {
                        Some(r) => self.result(key, r),
                        None => self.push(key, encode(Outcome::Passed, passes_before, false)),
                    }
                }
            }
        }
    }

    fn result(&mut self, key: u64, r: &TestResult) {
        let outcome = r.final_outcome();
        let attempts = u32::try_from(r.attempts.len()).unwrap_or(u32::MAX);
        let any_failure = r.attempts.iter().any(|a| a.outcome.is_failure());
        self.push(key, encode(outcome, attempts, any_failure));
        if any_failure {
            self.failure(key, r, outcome, attempts);
        }
    }

    /// (tests written, their failures as JSON).
    fn finish(self) -> (usize, String) {
        let json = String::from_utf8(self.json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        (self.len, json)
    }
}

/// Sort one bucket's entries by (key, tag). Keys are hashes, spread evenly: a counting pass and
/// a scatter by the key bits below the bucket's own `bits` leave the entries nearly in order,
/// and an insertion sort finishes the few that share a slot. No comparisons on random data,
/// so no mispredicted branches (a comparison sort spent most of its time on those).
fn sort_entries(v: &mut Vec<(u64, u64)>, scratch: &mut Vec<(u64, u64)>, bits: u32) {
    let n = v.len();
    // Bits left below the bucket's: too few to spread on, sort as usual.
    if n < 16 || bits > 48 {
        v.sort_unstable();
        return;
    }
    // About one slot per entry.
    let slot_bits = (usize::BITS - (n - 1).leading_zeros()).min(16);
    let shift = 64 - bits - slot_bits;
    let slot = |key: u64| ((key << bits) >> bits >> shift) as usize;
    let mut starts = vec![0u32; (1 << slot_bits) + 1];
    for &(key, _) in v.iter() {
        starts[slot(key) + 1] += 1;
    }
    for s in 1..starts.len() {
        starts[s] += starts[s - 1];
    }
    scratch.clear();
    scratch.resize(n, (0, 0));
    for &e in v.iter() {
        let at = &mut starts[slot(e.0)];
        scratch[*at as usize] = e;
        *at += 1;
    }
    for i in 1..n {
        let e = scratch[i];
        let mut j = i;
        while j > 0 && scratch[j - 1] > e {
            scratch[j] = scratch[j - 1];
            j -= 1;
        }
        scratch[j] = e;
    }
    std::mem::swap(v, scratch);
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
    let mut failures = Vec::new();
    for (key, outcome, attempts, any_failure, message, id, file) in rows {
        let outcome = outcome_of(outcome);
        let attempts = u32::try_from(attempts).unwrap_or(1);
        report
            .keys
            .extend_from_slice(&key.cast_unsigned().to_le_bytes());
        report.codes.push(encode(outcome, attempts, any_failure));
        if any_failure {
            failures.push(FailureRow {
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
    report.failures_json = failures_json(&failures);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures written now and failures stored before the short keys read the same.
    #[test]
    fn failures_are_read_in_both_forms() {
        let id = |suite: &str, classname: &str, variant: &str| TestId {
            suite: suite.into(),
            classname: classname.into(),
            name: "t \"1\"".into(),
            variant: variant.into(),
        };
        let rows = vec![
            FailureRow {
                key: crate::store::test_key(&id("a.B", "a.B", "")),
                id: id("a.B", "a.B", ""),
                outcome: Outcome::Failed,
                attempts: 3,
                message: Some("boom".into()),
                file: Some("b.py".into()),
            },
            FailureRow {
                key: crate::store::test_key(&id("suite", "", "linux")),
                id: id("suite", "", "linux"),
                outcome: Outcome::Passed,
                attempts: 2,
                message: None,
                file: None,
            },
        ];
        let show = |rows: &[FailureRow]| format!("{rows:?}");
        let written = failures_json(&rows);
        assert!(
            written
                .contains(r#","c":"a.B","n":"t \"1\"","o":"failed","a":3,"m":"boom","f":"b.py"}"#)
        );
        assert!(
            written
                .contains(r#","s":"suite","c":"","n":"t \"1\"","v":"linux","o":"passed","a":2}"#)
        );
        assert_eq!(show(&parse_failures(&written).unwrap()), show(&rows));
        let before = format!(
            r#"[{{"key":{},"id":{{"suite":"a.B","classname":"a.B","name":"t \"1\"","variant":""}},"outcome":"failed","attempts":3,"message":"boom","file":"b.py"}},
            {{"key":{},"id":{{"suite":"suite","classname":"","name":"t \"1\"","variant":"linux"}},"outcome":"passed","attempts":2}}]"#,
            rows[0].key, rows[1].key
        );
        assert_eq!(show(&parse_failures(&before).unwrap()), show(&rows));
        assert!(parse_failures(r#"[{"k":1,"c":"x","o":"failed","a":1}]"#).is_err());
        assert!(parse_failures("[{").is_err());
    }

    /// The report of `path` parsed in pieces of 256 bytes or more by `threads` threads, its
    /// keys bucketed by `bits` bits, and the number of test cases.
    fn packed_in_buckets(
        path: &std::path::Path,
        threads: usize,
        bits: u32,
    ) -> paved_core::Result<(PackedReport, u64)> {
        let len = std::fs::metadata(path).unwrap().len();
        let (pieces, cases) =
            paved_junit::parallel::parse_in_pieces(path, len, threads, 256, |i, _| {
                Collector::new("", i, 16, bits)
            })?;
        Ok((pack(&pieces), cases))
    }

    /// Every way to cut a report, and to bucket its keys, packs to what one thread and one sort
    /// give: cuts inside captured output (which holds text that looks like the end of a suite),
    /// nested suites, a test repeated in suites far apart (a rerun, folded across pieces), and
    /// failures. (That the cuts themselves are checked is paved-junit's test.)
    #[test]
    fn any_number_of_pieces_and_buckets_gives_the_same_report() {
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
                xml.push_str(&format!(
                    "<testsuite name=\"inner{s}\"><testcase classname=\"I\" name=\"i\"/></testsuite>\n<testcase classname=\"C{s}\" name=\"after-inner\"/>\n"
                ));
            }
            xml.push_str("</testsuite>\n");
            if s % 20 == 19 {
                xml.push_str("<testsuite name=\"suite0\"><testcase classname=\"C0\" name=\"t1\"/></testsuite>\n");
            }
        }
        xml.push_str("</testsuites>\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml");
        std::fs::write(&path, &xml).unwrap();

        let failures = |r: &PackedReport| parse_failures(&r.failures_json).unwrap();
        let summary = |r: &PackedReport| {
            let failures: Vec<String> = failures(r)
                .iter()
                .map(|f| {
                    format!(
                        "{}|{}|{:?}|{}",
                        f.id.classname, f.id.name, f.outcome, f.attempts
                    )
                })
                .collect();
            (r.keys.clone(), r.codes.clone(), failures)
        };
        let (one, cases) = packed_in_buckets(&path, 1, 0).unwrap();
        assert!(
            failures(&one)
                .iter()
                .any(|f| f.id.name == "t1" && f.attempts == 4)
        );
        assert!(!failures(&one).is_empty() && one.keys.len() > 8 * 400);
        for threads in [2, 3, 5, 8, 40] {
            let (many, n) = packed_in_buckets(&path, threads, 0).unwrap();
            assert_eq!(n, cases, "{threads} threads");
            assert_eq!(summary(&many), summary(&one), "{threads} threads");
        }
        // Keys sorted a bucket at a time give the same report as one sort of all.
        for (threads, bits) in [(1, 1), (1, 5), (3, 2), (5, 9), (8, 16)] {
            let (bucketed, _) = packed_in_buckets(&path, threads, bits).unwrap();
            assert_eq!(
                summary(&bucketed),
                summary(&one),
                "{threads} threads, {bits} bits"
            );
        }
    }
}
