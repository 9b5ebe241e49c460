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
    // 4/10: Wilson lower 0.1682 > 0.02, but one flip (broken, then fixed) is one change point,
    // no evidence of nondeterminism: not flaky.
    assert!(close(x.wilson_lower, 0.1682), "{}", x.wilson_lower);
    assert_eq!(x.verdict, Verdict::Stable);
    assert_eq!(x.broken, None);
}

/// Commits `c0..c{n}`, one run each.
fn commits(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}")).collect()
}

#[test]
fn a_regression_is_broken_since_its_commit_not_flaky() {
    // Green for 40 commits, red on every run from c40 on (10 runs): one change point.
    let c = commits(50);
    let c: Vec<&str> = c.iter().map(String::as_str).collect();
    let regressed = format!("{}{}", "P".repeat(40), "F".repeat(10));
    // Issue 14's numbers: 47 green, then 3 red.
    let late = format!("{}{}", "P".repeat(47), "F".repeat(3));
    // Flaky at about 10% (failures on distinct commits), with a pass at the end.
    let flaky = "PPPPFPPPPPPPPPFPPPPPPPPFPPPPPPPPPFPPPPPPPPFPPPPPPP";
    // The same flaky test, failing on its last two runs: at its rate (upper bound 23%) two
    // failures in a row are no change point.
    let flaky_tail = "PPPPFPPPPPPPPPFPPPPPPPPFPPPPPPPPPFPPPPPPPPFPPPPPFF";
    // One failure on the last run only: too early to tell, not a break.
    let once = format!("{}F", "P".repeat(49));
    let h = history(
        &c,
        &[
            ("regressed", &regressed),
            ("late", &late),
            ("flaky", flaky),
            ("flaky_tail", flaky_tail),
            ("once", &once),
        ],
    );
    let a = analyze(&h, &Thresholds::default());
    let get = |n: &str| a.tests.iter().find(|t| t.id.name == n).unwrap();

    let r = get("regressed");
    // Under the old rule 10/50 (Wilson lower 0.112 > 0.02) was "flaky" and quarantined.
    assert_eq!(r.verdict, Verdict::Broken);
    let b = r.broken.as_ref().unwrap();
    assert_eq!(
        (b.since.as_str(), b.last_good.as_deref(), b.failing_runs),
        ("c40", Some("c39"), 10)
    );
    let l = get("late");
    assert_eq!(l.verdict, Verdict::Broken);
    let b = l.broken.as_ref().unwrap();
    assert_eq!(
        (b.since.as_str(), b.last_good.as_deref()),
        ("c47", Some("c46"))
    );

    let f = get("flaky");
    assert_eq!(
        (f.failures, f.same_commit_flakes, f.retry_passes),
        (5, 0, 0)
    );
    // 10 flips, 5/50: Wilson lower 0.0435 > 0.02: flaky.
    assert_eq!(f.verdict, Verdict::Flaky);
    assert_eq!(get("flaky_tail").verdict, Verdict::Flaky);
    assert_eq!(get("flaky_tail").broken, None);
    assert_eq!(get("once").verdict, Verdict::Stable);

    // A streak whose first commit also passed (a re-run of c39 failed, and everything after):
    // the break came from outside the code, and is one still, not a flake to hide.
    let mut c2 = c.clone();
    c2[40] = "c39";
    let h = history(&c2, &[("rerun", &regressed)]);
    let a = analyze(&h, &Thresholds::default());
    assert_eq!(a.tests[0].same_commit_flakes, 1);
    assert_eq!(a.tests[0].verdict, Verdict::Broken);
    let b = a.tests[0].broken.as_ref().unwrap();
    assert_eq!(
        (b.since.as_str(), b.last_good.as_deref()),
        ("c39", Some("c39"))
    );

    // Failing on every run of the window: broken since before it, no last good commit.
    let h = history(&c, &[("always", &"F".repeat(50))]);
    let a = analyze(&h, &Thresholds::default());
    let b = a.tests[0].broken.as_ref().unwrap();
    assert_eq!((b.since.as_str(), b.last_good.as_deref()), ("c0", None));

    // The JSON names both commits.
    let h = history(&c, &[("regressed", &regressed)]);
    let json = serde_json::to_value(analyze(&h, &Thresholds::default())).unwrap();
    assert_eq!(json["tests"][0]["verdict"], "broken");
    assert_eq!(json["tests"][0]["broken"]["since"], "c40");
    assert_eq!(json["tests"][0]["broken"]["last_good"], "c39");
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
