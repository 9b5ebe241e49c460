//! `analyze` figures on hand-built histories, checked against hand-computed values.

use paved_quarantine::analyze::{Thresholds, analyze, wilson};
use paved_quarantine::model::{History, Outcome, RunMeta, RunOutcome, TestId, Verdict};

fn id(name: &str) -> TestId {
    TestId {
        suite: "s".into(),
        classname: "c".into(),
        name: name.into(),
        variant: String::new(),
    }
}

/// Runs at the given commits; `cells[t][r]` is test t's outcome in run r:
/// `P` pass, `F` fail, `R` retry-pass (failed then passed), `S` skipped, `-` absent.
fn history(commits: &[&str], tests: &[(&str, &str)]) -> History {
    let mut h = History::default();
    for (i, c) in commits.iter().enumerate() {
        h.runs.push(RunMeta {
            commit: (*c).into(),
            branch: "main".into(),
            run_id: i.to_string(),
            attempt: 1,
            variant: String::new(),
            time: i as i64,
        });
    }
    for (t, (name, cells)) in tests.iter().enumerate() {
        h.tests.push(id(name));
        h.files.push(None);
        for (r, cell) in cells.chars().enumerate() {
            let (outcome, attempts, any_failure) = match cell {
                'P' => (Outcome::Passed, 1, false),
                'F' => (Outcome::Failed, 1, true),
                'R' => (Outcome::Passed, 2, true),
                'S' => (Outcome::Skipped, 1, false),
                _ => continue,
            };
            h.outcomes.push(RunOutcome {
                run: r,
                test: t,
                outcome,
                attempts,
                any_failure,
            });
        }
    }
    h
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 5e-4
}

#[test]
fn wilson_matches_hand_computed_values() {
    // k=2, n=10: p=0.2, z=1.96: centre=(0.2+0.19208)/1.38415=0.28327,
    // margin=1.96*sqrt(0.016+0.0096040)/1.38415=0.22657 -> 0.0567, 0.5098.
    let (lo, hi) = wilson(2, 10);
    assert!(close(lo, 0.0567) && close(hi, 0.5098), "{lo} {hi}");
    // k=0, n=20: lower 0, upper z²/(n+z²) = 3.8415/23.8415 = 0.1611.
    let (lo, hi) = wilson(0, 20);
    assert!(close(lo, 0.0) && close(hi, 0.1611), "{lo} {hi}");
    // k=n=5: lower n/(n+z²) = 5/8.8415 = 0.5655.
    let (lo, hi) = wilson(5, 5);
    assert!(close(lo, 0.5655) && close(hi, 1.0), "{lo} {hi}");
    assert_eq!(wilson(0, 0), (0.0, 1.0));
}

#[test]
fn figures_per_test() {
    // Ten runs; c1 and c2 each appear twice.
    let commits = ["c1", "c1", "c2", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    let h = history(
        &commits,
        &[
            // flaky: fails at c1 (run 1) but passed at c1 (run 0): a same-commit flake; fails at
            // run 4; retry-pass at run 6.
            ("flaky", "PFPPFPRPPP"),
            // stable: always passes (one skip does not count as a run).
            ("stable", "PPPPPSPPPP"),
            // broken: fails every run it ran.
            ("broken", "FFFFFFFFFF"),
            // fixed: failed at c1..c2, then fixed; no same-commit evidence, 4/10 fail.
            ("fixed", "FFFFPPPPPP"),
        ],
    );
    let a = analyze(&h, &Thresholds::default());
    assert!(a.discarded_runs.is_empty());
    let get = |n: &str| a.tests.iter().find(|t| t.id.name == n).unwrap();

    let f = get("flaky");
    assert_eq!(
        (f.runs, f.failures, f.retry_passes, f.same_commit_flakes),
        (10, 2, 1, 1)
    );
    // Outcome sequence by final failure: P F P P F P P P P P -> 4 flips over 9 gaps.
    assert!(close(f.flip_rate, 4.0 / 9.0));
    // Flaky-run rate 3/10 (2 failures + 1 retry-pass).
    let (lo, hi) = wilson(3, 10);
    assert!(close(f.wilson_lower, lo) && close(f.wilson_upper, hi));
    assert_eq!(f.clean_streak, 3);
    assert_eq!(f.verdict, Verdict::Flaky);

    let s = get("stable");
    assert_eq!((s.runs, s.failures, s.clean_streak), (9, 0, 9));
    assert_eq!(s.verdict, Verdict::Stable);

    let b = get("broken");
    assert_eq!((b.runs, b.failures), (10, 10));
    assert_eq!(
        b.verdict,
        Verdict::Broken,
        "failing 100% is broken, not flaky"
    );

    let x = get("fixed");
    assert_eq!(
        (x.failures, x.same_commit_flakes, x.clean_streak),
        (4, 0, 6)
    );
    assert!(close(x.flip_rate, 1.0 / 9.0));
    // 4/10: Wilson lower 0.1682 > 0.02 and 10 >= min-runs: the rate alone calls it flaky.
    assert!(close(x.wilson_lower, 0.1682), "{}", x.wilson_lower);
    assert_eq!(x.verdict, Verdict::Flaky);
    // With a stricter threshold it is stable.
    let strict = Thresholds {
        flaky_threshold: 0.2,
        ..Thresholds::default()
    };
    let a = analyze(&h, &strict);
    assert_eq!(
        a.tests
            .iter()
            .find(|t| t.id.name == "fixed")
            .unwrap()
            .verdict,
        Verdict::Stable
    );
}

#[test]
fn infrastructure_failures_are_discarded() {
    // Run 2: 5 of 6 tests failed (83% > 80%): discarded. Run 3: 4 of 6 (67%): kept.
    let h = history(
        &["c1", "c2", "c3", "c4"],
        &[
            ("a", "PPFP"),
            ("b", "PPFF"),
            ("c", "PPFF"),
            ("d", "PPFF"),
            ("e", "PPFF"),
            ("f", "PPPP"),
        ],
    );
    let a = analyze(&h, &Thresholds::default());
    assert_eq!(a.discarded_runs, vec![2]);
    let t = a.tests.iter().find(|t| t.id.name == "a").unwrap();
    assert_eq!((t.runs, t.failures), (3, 0));
    let t = a.tests.iter().find(|t| t.id.name == "b").unwrap();
    assert_eq!((t.runs, t.failures), (3, 1));
    // Under infra-min-tests the guard does not apply.
    let small = Thresholds {
        infra_min_tests: 7,
        ..Thresholds::default()
    };
    assert!(analyze(&h, &small).discarded_runs.is_empty());
}
