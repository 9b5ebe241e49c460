//! Folding repeated reports of one test into one [`TestResult`] with every attempt: reruns in
//! one file (gotestsum, Gradle), in one suite, and across files (a rerun job's own report).

use std::collections::HashMap;

use crate::escape::text;
use crate::key::test_key;
use crate::model::{Attempt, Outcome, Report, TestId, TestResult};
use crate::parse::{CaseRef, Sink};

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

/// Collects results, folding repeated tests together. Keyed by the id's 64-bit hash (hashing
/// four strings once instead of SipHash on every probe); a hit is confirmed by comparing ids.
#[derive(Default)]
pub(crate) struct Merger {
    results: Vec<TestResult>,
    index: HashMap<i64, usize>,
}

impl Merger {
    pub(crate) fn add(&mut self, r: TestResult) {
        let key = test_key(&r.id);
        match self.index.get(&key) {
            Some(&i) if self.results[i].id == r.id => merge_into(&mut self.results[i], r),
            Some(_) => self.results.push(r),
            None => {
                self.index.insert(key, self.results.len());
                self.results.push(r);
            }
        }
    }

    pub(crate) fn finish(self) -> Report {
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

/// The [`Sink`] behind [`stream_file`](crate::stream_file): builds [`TestResult`]s, merges a
/// test repeated within a suite (reruns), and hands them on when the suite closes.
pub(crate) struct Collect<'v, F> {
    variant: &'v str,
    pending: Vec<TestResult>,
    /// Keyed by the id's hash; a hit is confirmed by comparing ids.
    index: HashMap<i64, usize>,
    sink: F,
}

impl<'v, F, E> Collect<'v, F>
where
    F: FnMut(TestResult) -> Result<(), E>,
{
    /// Hands each suite's results to `sink` when the suite closes.
    pub(crate) fn new(variant: &'v str, sink: F) -> Self {
        Collect {
            variant,
            pending: Vec::new(),
            index: HashMap::new(),
            sink,
        }
    }

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
        let key = test_key(&result.id);
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
