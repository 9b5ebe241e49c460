//! A simulated CI history with known ground truth, ingested through the real binary and judged by
//! `analyze` and `update` from the store: stable tests, flaky ones at 5-40% (with one retry per
//! failing test, as gotestsum `--rerun-fails` writes it), one broken throughout, one regressed at
//! a known commit, one failing only on a pull-request branch, and infrastructure-failure runs.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

/// xorshift64*: a fixed, seedable sequence (no dependency, same on every machine).
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (x as f64 / (1u64 << 53) as f64) < p
    }
}

fn bin(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PAVED_") || k.starts_with("GITHUB_") || k.starts_with("CI_") {
            c.env_remove(k);
        }
    }
    c.env_remove("GITLAB_CI");
    let out = c.current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const FLAKY: [(&str, f64); 4] = [
    ("flaky_05", 0.05),
    ("flaky_10", 0.10),
    ("flaky_20", 0.20),
    ("flaky_40", 0.40),
];
const STABLE: [&str; 6] = [
    "stable_a", "stable_b", "stable_c", "stable_d", "stable_e", "stable_f",
];
/// Main commits; `regressed` breaks at this one.
const COMMITS: u32 = 50;
const REGRESSED_AT: u32 = 38;

/// One run's report: each test's attempts (true = failed), one retry for a failed first attempt.
fn junit(tests: &[(&str, Vec<bool>)]) -> String {
    let mut x = String::from("<testsuites><testsuite name=\"pkg\">");
    for (name, attempts) in tests {
        for failed in attempts {
            if *failed {
                let _ = write!(
                    x,
                    "<testcase classname=\"pkg\" name=\"{name}\"><failure message=\"boom\"/></testcase>"
                );
            } else {
                let _ = write!(x, "<testcase classname=\"pkg\" name=\"{name}\"/>");
            }
        }
    }
    x.push_str("</testsuite></testsuites>");
    x
}

/// A flaky test's attempts at rate `p`: a failed first attempt is retried once.
fn flaky_attempts(rng: &mut Rng, p: f64) -> Vec<bool> {
    if rng.chance(p) {
        vec![true, rng.chance(p)]
    } else {
        vec![false]
    }
}

struct Truth {
    /// Per flaky test: whether any attempt of it failed in a kept main run.
    flaky_failed: Vec<bool>,
    /// Per flaky test: whether it passed on a retry in a kept main run (direct evidence).
    retry_passed: Vec<bool>,
}

fn simulate(dir: &Path, seed: u64) -> Truth {
    let mut rng = Rng(seed);
    let mut flaky_failed = vec![false; FLAKY.len()];
    let mut retry_passed = vec![false; FLAKY.len()];
    let mut run = 0u32;
    let ingest =
        |dir: &Path, run: &mut u32, branch: &str, commit: &str, tests: &[(&str, Vec<bool>)]| {
            let file = dir.join(format!("run{run}.xml"));
            std::fs::write(&file, junit(tests)).unwrap();
            bin(
                dir,
                &[
                    "ingest",
                    file.to_str().unwrap(),
                    "--commit",
                    commit,
                    "--branch",
                    branch,
                    "--run-id",
                    &run.to_string(),
                ],
            );
            *run += 1;
        };
    for c in 0..COMMITS {
        let commit = format!("c{c}");
        // Every fifth commit is run twice (a re-run of the same commit).
        for _ in 0..(1 + u32::from(c % 5 == 0)) {
            let mut tests: Vec<(&str, Vec<bool>)> =
                STABLE.iter().map(|s| (*s, vec![false])).collect();
            for (i, (name, p)) in FLAKY.iter().enumerate() {
                let a = flaky_attempts(&mut rng, *p);
                flaky_failed[i] |= a[0];
                retry_passed[i] |= a[0] && !a[1];
                tests.push((name, a));
            }
            tests.push(("broken", vec![true, true]));
            let regressed = c >= REGRESSED_AT;
            tests.push((
                "regressed",
                if regressed {
                    vec![true, true]
                } else {
                    vec![false]
                },
            ));
            tests.push(("pr_only", vec![false]));
            ingest(dir, &mut run, "main", &commit, &tests);
        }
        // A pull request opened at this commit breaks `pr_only` on its branch, every run.
        if c % 10 == 3 {
            let mut tests: Vec<(&str, Vec<bool>)> =
                STABLE.iter().map(|s| (*s, vec![false])).collect();
            tests.push(("pr_only", vec![true, true]));
            tests.push(("regressed", vec![c >= REGRESSED_AT]));
            ingest(
                dir,
                &mut run,
                &format!("feature/pr-{c}"),
                &format!("pr{c}"),
                &tests,
            );
        }
        // The database is down in two runs on main: every test fails (discarded).
        if c == 12 || c == 27 {
            let mut tests: Vec<(&str, Vec<bool>)> =
                STABLE.iter().map(|s| (*s, vec![true])).collect();
            for (name, _) in FLAKY {
                tests.push((name, vec![true]));
            }
            for name in ["broken", "regressed", "pr_only"] {
                tests.push((name, vec![true]));
            }
            ingest(dir, &mut run, "main", &commit, &tests);
        }
    }
    Truth {
        flaky_failed,
        retry_passed,
    }
}

#[test]
fn every_verdict_matches_the_ground_truth() {
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 42, 2026] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let truth = simulate(d, seed);
        // 50 commits + 10 re-runs + 2 infrastructure runs on main; the PR runs are left out.
        let json: serde_json::Value = serde_json::from_slice(
            &bin(d, &["analyze", "--json", "--all", "--window", "100"]).stdout,
        )
        .unwrap();
        assert_eq!(json["runs"], 62, "seed {seed}");
        assert_eq!(
            json["discarded_runs"].as_array().unwrap().len(),
            2,
            "seed {seed}"
        );
        let verdict = |name: &str| {
            json["tests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"]["name"] == name)
                .map(|t| {
                    (
                        t["verdict"].as_str().unwrap().to_owned(),
                        t["broken"].clone(),
                    )
                })
        };
        // They failed in the discarded runs (so they are listed), never in a kept one.
        let stable = |name: &str| verdict(name).is_none_or(|v| v.0 == "stable");
        for s in STABLE {
            assert!(stable(s), "seed {seed}: {s}: {:?}", verdict(s));
        }
        assert!(stable("pr_only"), "seed {seed}: failed only on PR branches");
        for (i, (name, p)) in FLAKY.iter().enumerate() {
            let got = verdict(name).map(|v| v.0);
            if truth.retry_passed[i] {
                assert_eq!(got.as_deref(), Some("flaky"), "seed {seed}: {name} at {p}");
            } else if truth.flaky_failed[i] {
                // Only final failures (both attempts failed): judged by the numbers, never broken
                // at these rates and this many runs.
                assert_ne!(got.as_deref(), Some("broken"), "seed {seed}: {name} at {p}");
            } else {
                assert!(
                    stable(name),
                    "seed {seed}: {name} never failed in a kept run"
                );
            }
        }
        let (v, b) = verdict("broken").unwrap();
        assert_eq!(v, "broken", "seed {seed}");
        assert_eq!(b["since"], "c0");
        assert!(b.get("last_good").is_none(), "{b}");
        let (v, b) = verdict("regressed").unwrap();
        assert_eq!(v, "broken", "seed {seed}");
        assert_eq!(b["since"], format!("c{REGRESSED_AT}"));
        assert_eq!(b["last_good"], format!("c{}", REGRESSED_AT - 1));
        assert_eq!(
            b["failing_runs"],
            COMMITS - REGRESSED_AT + 2,
            "re-runs at c40 and c45"
        );

        // `update` quarantines exactly the flaky tests, never a break or the PR-only failure.
        let json: serde_json::Value = serde_json::from_slice(
            &bin(
                d,
                &[
                    "update",
                    "--json",
                    "--window",
                    "100",
                    "--today",
                    "2026-11-22",
                ],
            )
            .stdout,
        )
        .unwrap();
        let mut added: Vec<String> = json["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        added.sort();
        let mut expected: Vec<String> = FLAKY
            .iter()
            .filter(|(n, _)| verdict(n).is_some_and(|v| v.0 == "flaky"))
            .map(|(n, _)| format!("pkg|pkg|{n}"))
            .collect();
        let evidence = truth.retry_passed.iter().filter(|r| **r).count();
        assert!(expected.len() >= evidence, "seed {seed}");
        assert!(
            evidence >= 3,
            "seed {seed}: the simulation shows flakes at 10-40%"
        );
        expected.sort();
        assert_eq!(added, expected, "seed {seed}");
        let mut breaks: Vec<&str> = json["breaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        breaks.sort_unstable();
        assert_eq!(
            breaks,
            ["pkg|pkg|broken", "pkg|pkg|regressed"],
            "seed {seed}"
        );
    }
}
