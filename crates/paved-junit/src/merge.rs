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

#[cfg(test)]
mod tests {
    use crate::model::Outcome;
    use crate::{merge_reports, parse_bytes};

    fn outcomes(xml: &str) -> Vec<(String, Outcome, bool, usize)> {
        let report = parse_bytes("mem.xml", "", xml.as_bytes()).unwrap();
        report
            .results
            .iter()
            .map(|r| {
                (
                    r.id.name.clone(),
                    r.final_outcome(),
                    r.passed_on_retry(),
                    r.attempts.len(),
                )
            })
            .collect()
    }

    #[test]
    fn duplicates_in_any_order_never_turn_a_final_failure_into_a_pass() {
        // pytest 9 + pytest-rerunfailures under xdist: reruns of two tests interleaved, each
        // rerun an empty test case, the final attempt last.
        let xml = r#"<testsuite name="pytest">
            <testcase classname="m" name="always"/>
            <testcase classname="m" name="flaky"/>
            <testcase classname="m" name="flaky"/>
            <testcase classname="m" name="always"/>
            <testcase classname="m" name="always"><failure message="boom"/></testcase>
        </testsuite>"#;
        assert_eq!(
            outcomes(xml),
            [
                ("always".into(), Outcome::Failed, false, 3),
                ("flaky".into(), Outcome::Passed, false, 2),
            ]
        );
        // gotestsum: the failure first, the rerun's pass after it: a retry-pass.
        let xml = r#"<testsuite name="pkg">
            <testcase classname="pkg" name="TestA"><failure message="timeout"/></testcase>
            <testcase classname="pkg" name="TestB"><failure message="500"/></testcase>
            <testcase classname="pkg" name="TestA"/>
            <testcase classname="pkg" name="TestB"/>
            <testcase classname="pkg" name="TestB"><error message="500"/></testcase>
        </testsuite>"#;
        assert_eq!(
            outcomes(xml),
            [
                ("TestA".into(), Outcome::Passed, true, 2),
                ("TestB".into(), Outcome::Error, false, 3),
            ]
        );
        // The same test split across two suites of one file (a rerun pass written in a later
        // suite), and a skip after a failure: the failure is not hidden.
        let xml = r#"<testsuites>
            <testsuite name="s"><testcase classname="c" name="t"/></testsuite>
            <testsuite name="s"><testcase classname="c" name="t"><failure/></testcase>
              <testcase classname="c" name="u"><failure/></testcase>
              <testcase classname="c" name="u"><skipped/></testcase></testsuite>
        </testsuites>"#;
        assert_eq!(
            outcomes(xml),
            [
                ("t".into(), Outcome::Failed, false, 2),
                ("u".into(), Outcome::Failed, false, 2),
            ]
        );
    }

    #[test]
    fn across_files_the_later_report_decides() {
        let first = parse_bytes(
            "a.xml",
            "",
            br#"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#,
        )
        .unwrap();
        let rerun = parse_bytes(
            "b.xml",
            "",
            br#"<testsuite name="s"><testcase classname="c" name="t"><failure/></testcase></testsuite>"#,
        )
        .unwrap();
        let merged = merge_reports([first, rerun]);
        assert_eq!(merged.results[0].final_outcome(), Outcome::Failed);
        assert!(!merged.results[0].passed_on_retry());
    }
}
