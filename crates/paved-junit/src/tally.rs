//! Reports folded into one small record per test, in bounded memory: what a merge check (the
//! quarantine gate) needs of a run's JUnit files without holding every result.
//!
//! [`merge_reports`](crate::merge_reports) keeps every attempt of every test as a
//! [`TestResult`]; on a report with a million test cases that is most of a gigabyte. A
//! [`Tally`] reads test cases as the parser hands them on (a plain pass arrives borrowed,
//! nothing allocated) and keeps, per distinct test, 8 bytes and an entry in a table keyed by
//! the test's 64-bit [`test_key`](crate::test_key): its attempts so far, the outcome of the last
//! one, the last that ran (which decides), whether any failed, and its file (interned). Only a
//! test with a failed attempt gets its id and the message of its last failed attempt (the first
//! line, at most 300 characters) in full: those are the ones a gate reports.
//!
//! The fold is the one [`merge_into`](crate::merge_into) makes, a test case at a time in
//! document order, across suites and files: the last attempt that ran decides, a pass written
//! before a failure never does, and pytest's teardown error after a call failure is that same
//! attempt. (Merging suite by suite, [`merge_reports`](crate::merge_reports) applies the
//! teardown rule to a suite's merged attempts, so a test repeated in two suites with a teardown
//! error can count one attempt fewer there; the final outcome is the same.)
//!
//! Identity is the 64-bit key, as in paved-quarantine's store. A pass or a failure whose key
//! matches a test that has a failed attempt is checked against that test's full id, so a key
//! shared by two tests (a hash collision) never credits one's pass to the other's failure.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use crate::escape::text;
use crate::key::CaseKeyer;
use crate::model::{Attempt, Outcome, TestId, TestResult};
use crate::parse::{CaseRef, Parser, Sink};
use crate::summary::Summary;

/// A test with at least one failed attempt in the reports, whatever its final outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedTest {
    pub id: TestId,
    /// The first file a report named for it.
    pub file: Option<String>,
    /// Attempts across the reports.
    pub attempts: u32,
    /// What decided: the last attempt that ran (see [`TestResult::final_outcome`]).
    pub outcome: Outcome,
    /// The message of its last failed attempt, when that attempt had one.
    pub message: Option<String>,
}

impl FailedTest {
    /// It passed in the end, after a failed attempt: a retry-pass.
    pub fn passed_on_retry(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// The same figures from a merged result; `None` when no attempt of it failed.
    pub fn of(r: &TestResult) -> Option<FailedTest> {
        let last_failure = r.attempts.iter().rev().find(|a| a.outcome.is_failure())?;
        Some(FailedTest {
            id: r.id.clone(),
            file: r.file.clone(),
            attempts: u32::try_from(r.attempts.len()).unwrap_or(u32::MAX),
            outcome: r.final_outcome(),
            message: last_failure.message.clone(),
        })
    }
}

/// What a [`Tally`] found: the totals over every test, and the tests with a failed attempt in
/// the order the reports first named them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallied {
    pub summary: Summary,
    pub failed: Vec<FailedTest>,
}

impl Tallied {
    /// The same from merged results (each test once, as [`merge_reports`](crate::merge_reports)
    /// gives them).
    pub fn of(results: &[TestResult]) -> Tallied {
        Tallied {
            summary: Summary::of(results),
            failed: results.iter().filter_map(FailedTest::of).collect(),
        }
    }
}

/// One test's state: attempts (26 bits), the last attempt's outcome (2), the deciding outcome
/// (3: none, or an outcome), and whether any attempt failed (1).
#[derive(Debug, Clone, Copy)]
struct State(u32);

impl State {
    const ATTEMPTS: u32 = (1 << 26) - 1;

    fn attempts(self) -> u32 {
        self.0 & Self::ATTEMPTS
    }

    fn last(self) -> Outcome {
        outcome_of((self.0 >> 26) & 3)
    }

    fn decided(self) -> Outcome {
        match (self.0 >> 28) & 7 {
            0 => Outcome::Skipped,
            c => outcome_of(c - 1),
        }
    }

    fn any_failure(self) -> bool {
        self.0 >> 31 != 0
    }

    fn with(attempts: u32, last: Outcome, decided: Option<Outcome>, any_failure: bool) -> State {
        State(
            attempts.min(Self::ATTEMPTS)
                | code(last) << 26
                | decided.map_or(0, |o| code(o) + 1) << 28
                | u32::from(any_failure) << 31,
        )
    }

    /// After one more attempt.
    fn then(self, outcome: Outcome) -> State {
        let decided = match outcome {
            Outcome::Skipped => (self.0 >> 28 & 7 != 0).then(|| self.decided()),
            o => Some(o),
        };
        State::with(
            self.attempts().saturating_add(1),
            outcome,
            decided,
            self.any_failure() || outcome.is_failure(),
        )
    }

    /// The last attempt replaced by `outcome` (a pytest teardown error).
    fn replace_last(self, outcome: Outcome) -> State {
        State::with(
            self.attempts(),
            outcome,
            Some(outcome),
            self.any_failure() || outcome.is_failure(),
        )
    }
}

fn code(o: Outcome) -> u32 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Error => 2,
        Outcome::Skipped => 3,
    }
}

fn outcome_of(c: u32) -> Outcome {
    match c {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Error,
        _ => Outcome::Skipped,
    }
}

/// A test, 8 bytes: its state and its file (an index into the interned files, plus one; 0 for
/// none).
#[derive(Debug, Clone, Copy)]
struct Record {
    state: State,
    file: u32,
}

/// What is kept in full of a test with a failed attempt.
#[derive(Debug)]
struct Detail {
    id: TestId,
    message: Option<String>,
}

/// Test keys are hashes already: the table uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyIsHash>>;

/// Folds the test cases of one or more reports (a run's files, in order) into a record per test
/// (see the module docs). A [`Sink`]; [`Tally::read_file`] feeds it a file.
#[derive(Debug)]
pub struct Tally {
    keys: CaseKeyer,
    /// Test key → index into `records`.
    index: KeyMap<u32>,
    /// In the order the reports first named them.
    records: Vec<Record>,
    /// By index into `records`: the tests with a failed attempt.
    details: HashMap<u32, Detail, BuildHasherDefault<KeyIsHash>>,
    /// Tests whose key an earlier, different test has: by full id.
    collided: HashMap<TestId, u32>,
    files: Vec<Box<str>>,
    file_index: HashMap<Box<str>, u32>,
}

impl Tally {
    /// Tests of variant `variant` (part of each id); room for about `expected` of them.
    pub fn new(variant: &str, expected: usize) -> Tally {
        let expected = expected.min(1 << 24);
        Tally {
            keys: CaseKeyer::new(variant),
            index: KeyMap::with_capacity_and_hasher(expected, BuildHasherDefault::default()),
            records: Vec::with_capacity(expected),
            details: HashMap::default(),
            collided: HashMap::new(),
            files: Vec::new(),
            file_index: HashMap::new(),
        }
    }

    /// About how many test cases `bytes` of JUnit XML hold, to size [`Tally::new`] (a test case
    /// takes at least 128 bytes in practice; room that is never used costs no memory).
    pub fn expected_cases(bytes: u64) -> usize {
        usize::try_from(bytes / 128).unwrap_or(usize::MAX)
    }

    /// Read one JUnit file into the tally, after those read before (a rerun job's report after
    /// the first run's). Returns the number of `<testcase>` elements read.
    pub fn read_file(&mut self, path: &Path) -> paved_core::Result<u64> {
        let reader = crate::open_report(path)?;
        Ok(Parser::new(reader, path).run(self)?.cases)
    }

    /// The totals, and the tests with a failed attempt.
    pub fn finish(self) -> Tallied {
        let mut summary = Summary::default();
        for r in &self.records {
            summary.tests += 1;
            match r.state.decided() {
                Outcome::Passed if r.state.any_failure() => {
                    summary.passed += 1;
                    summary.flaky += 1;
                }
                Outcome::Passed => summary.passed += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::Failed | Outcome::Error => summary.failed += 1,
            }
        }
        let mut details: Vec<(u32, Detail)> = self.details.into_iter().collect();
        details.sort_unstable_by_key(|(i, _)| *i);
        let failed = details
            .into_iter()
            .map(|(i, d)| {
                let r = self.records[i as usize];
                FailedTest {
                    id: d.id,
                    file: r
                        .file
                        .checked_sub(1)
                        .and_then(|f| self.files.get(f as usize))
                        .map(ToString::to_string),
                    attempts: r.state.attempts(),
                    outcome: r.state.decided(),
                    message: d.message,
                }
            })
            .collect();
        Tallied { summary, failed }
    }

    fn file(&mut self, file: Option<&str>) -> u32 {
        let Some(file) = file else {
            return 0;
        };
        if let Some(&i) = self.file_index.get(file) {
            return i + 1;
        }
        let i = u32::try_from(self.files.len()).unwrap_or(u32::MAX - 1);
        self.files.push(file.into());
        self.file_index.insert(file.into(), i);
        i + 1
    }

    fn id_of(&self, case: &CaseRef<'_>) -> TestId {
        TestId {
            suite: text(case.suite),
            classname: text(case.classname),
            name: text(case.name),
            variant: self.keys.variant().to_owned(),
        }
    }

    /// The record of the test of `case`, if it was seen before.
    fn find(&self, key: u64, case: &CaseRef<'_>) -> Option<u32> {
        let &i = self.index.get(&key)?;
        let Some(d) = self.details.get(&i) else {
            // Nothing to check against: the key is the identity.
            return Some(i);
        };
        if d.id.suite.as_bytes() == case.suite
            && d.id.classname.as_bytes() == case.classname
            && d.id.name.as_bytes() == case.name
        {
            return Some(i);
        }
        self.collided.get(&self.id_of(case)).copied()
    }

    /// A new record for the test of `case`.
    fn insert(&mut self, key: u64, case: &CaseRef<'_>, file: u32) -> u32 {
        let i = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        self.records.push(Record {
            state: State(0),
            file,
        });
        if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry(key) {
            e.insert(i);
        } else {
            let id = self.id_of(case);
            self.collided.insert(id, i);
        }
        i
    }

    fn add(&mut self, case: &CaseRef<'_>, attempts: &[Attempt]) {
        let key = self.keys.key(case);
        let i = match self.find(key, case) {
            Some(i) => i,
            None => {
                let file = self.file(case.file);
                self.insert(key, case, file)
            }
        };
        let at = i as usize;
        let record = self.records[at];
        // pytest writes a teardown error after a call failure as a second test case: the same
        // attempt, not a rerun (as in `merge_into`).
        if record.state.attempts() > 0
            && let [only] = attempts
            && only.outcome == Outcome::Error
            && only
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("failed on teardown with"))
        {
            if !record.state.last().is_failure() {
                self.records[at].state = record.state.replace_last(Outcome::Error);
                self.failure(i, case, only.message.clone());
            }
            return;
        }
        if record.file == 0 && case.file.is_some() {
            self.records[at].file = self.file(case.file);
        }
        let mut state = record.state;
        for a in attempts {
            state = state.then(a.outcome);
            if a.outcome.is_failure() {
                self.failure(i, case, a.message.clone());
            }
        }
        self.records[at].state = state;
    }

    /// Record test `i`'s latest failed attempt.
    fn failure(&mut self, i: u32, case: &CaseRef<'_>, message: Option<String>) {
        match self.details.get_mut(&i) {
            Some(d) => d.message = message,
            None => {
                let id = self.id_of(case);
                self.details.insert(i, Detail { id, message });
            }
        }
    }
}

impl Sink for Tally {
    type Error = paved_core::Error;

    fn passed(&mut self, case: &CaseRef<'_>) -> paved_core::Result<()> {
        const PASS: [Attempt; 1] = [Attempt {
            outcome: Outcome::Passed,
            message: None,
            time: None,
        }];
        self.add(case, &PASS);
        Ok(())
    }

    fn other(&mut self, case: &CaseRef<'_>, attempts: Vec<Attempt>) -> paved_core::Result<()> {
        self.add(case, &attempts);
        Ok(())
    }

    fn flush(&mut self) -> paved_core::Result<()> {
        Ok(())
    }
}
