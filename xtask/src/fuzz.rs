//! `cargo xtask fuzz [--seconds N] [--runs N] [--build-only] [TARGET…]`: build the libFuzzer
//! targets in `fuzz/` and run each for N seconds (or until N executions with `--runs`, whichever
//! comes first) on its seed corpus, printing executions per target.
//!
//! cargo-fuzz is not needed: the flags it would pass are passed here. libFuzzer's coverage
//! instrumentation (`-Cpasses=sancov-module`) and AddressSanitizer (`-Zsanitizer=address`) are
//! unstable rustc options, which the stable toolchain accepts under `RUSTC_BOOTSTRAP=1`. The
//! flags go to the target triple only (`--target`), so build scripts and proc macros are built
//! without them.
//!
//! Each run reads `fuzz/corpus/<target>/` (the checked-in seeds, never written) and keeps what
//! it finds in `fuzz/target/corpus/<target>/`, so a later run starts from there. A crash input
//! is saved to `fuzz/artifacts/<target>/` and named in the error. xtask's tests replay every
//! seed through the same target bodies without libFuzzer (`xtask/tests/fuzz_corpus.rs`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::util::{describe, root, step};

const DEFAULT_SECONDS: u64 = 60;

/// The flags cargo-fuzz passes for libFuzzer (coverage counters, the PC table, comparison
/// tracing) and AddressSanitizer.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
    "-Zsanitizer=address",
];

struct Options {
    seconds: u64,
    /// Stop a target after this many executions (libFuzzer's `-runs`), if it gets there first.
    runs: Option<u64>,
    build_only: bool,
    targets: Vec<String>,
}

fn parse_args(args: &[String], known: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        runs: None,
        build_only: false,
        targets: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it
                    .next()
                    .ok_or("`--seconds` needs a number of seconds, e.g. `--seconds 30`")?;
                options.seconds =
                    v.parse().ok().filter(|&s| s > 0).ok_or_else(|| {
                        format!("`--seconds {v}`: expected a whole number above 0")
                    })?;
            }
            "--runs" => {
                let v = it
                    .next()
                    .ok_or("`--runs` needs a number of executions, e.g. `--runs 10000000`")?;
                options.runs = Some(
                    v.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("`--runs {v}`: expected a whole number above 0"))?,
                );
            }
            "--build-only" => options.build_only = true,
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag `{flag}`; usage: cargo xtask fuzz [--seconds N] [--runs N] [--build-only] [TARGET…]"
                ));
            }
            target if known.iter().any(|k| k == target) => options.targets.push(target.into()),
            other => {
                return Err(format!(
                    "no fuzz target `{other}`; the targets are: {}",
                    known.join(", ")
                ));
            }
        }
    }
    if options.targets.is_empty() {
        options.targets = known.to_vec();
    }
    Ok(options)
}

/// The targets: one `fuzz/fuzz_targets/<name>.rs` each.
pub fn targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz.join("fuzz_targets");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("could not list `{}`: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".rs"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let fuzz = root().join("fuzz");
    let known = targets(&fuzz)?;
    let options = parse_args(args, &known)?;
    let triple = host_triple()?;
    build(&fuzz, &triple, &options.targets)?;
    if options.build_only {
        return Ok(());
    }
    let bin_dir = fuzz.join("target").join(&triple).join("release");
    let mut results = Vec::new();
    for target in &options.targets {
        results.push(run_one(
            &fuzz,
            &bin_dir,
            target,
            options.seconds,
            options.runs,
        )?);
    }
    println!(
        "\n{:<18} {:>14} {:>9} {:>11}  result",
        "target", "executions", "seconds", "exec/s"
    );
    for r in &results {
        println!(
            "{:<18} {:>14} {:>9.0} {:>11.0}  {}",
            r.target,
            r.executions.map_or_else(|| "?".into(), |n| n.to_string()),
            r.seconds,
            r.executions
                .map_or(0.0, |n| n as f64 / r.seconds.max(0.001)),
            r.crash
                .as_deref()
                .map_or("ok".into(), |c| format!("CRASH: {c}")),
        );
    }
    let crashes: Vec<String> = results
        .iter()
        .filter_map(|r| r.crash.as_ref().map(|c| format!("`{}`: {c}", r.target)))
        .collect();
    if crashes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "a fuzz target failed; reproduce with `fuzz/target/{triple}/release/<target> <input>`, \
             and add a regression test in the owning crate:\n  {}",
            crashes.join("\n  ")
        ))
    }
}

fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("could not run `rustc -vV`: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "`rustc -vV` printed no `host:` line".into())
}

/// The command that builds `targets` (every one when empty) with libFuzzer's flags.
pub fn build_command(fuzz: &Path, triple: &str, targets: &[String]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(fuzz)
        .args(["build", "--release", "--locked", "--target", triple])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    for t in targets {
        cmd.args(["--bin", t]);
    }
    cmd
}

fn build(fuzz: &Path, triple: &str, targets: &[String]) -> Result<(), String> {
    step(
        "build the fuzz targets (RUSTC_BOOTSTRAP=1, libFuzzer + AddressSanitizer)",
        &mut build_command(fuzz, triple, targets),
    )
}

struct Outcome {
    target: String,
    executions: Option<u64>,
    seconds: f64,
    crash: Option<String>,
}

fn run_one(
    fuzz: &Path,
    bin_dir: &Path,
    target: &str,
    seconds: u64,
    runs: Option<u64>,
) -> Result<Outcome, String> {
    let seeds = fuzz.join("corpus").join(target);
    if !seeds.is_dir() {
        return Err(format!(
            "`{}` is missing: every target has a seed corpus; add at least one input there",
            seeds.display()
        ));
    }
    let work = fuzz.join("target").join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    for dir in [&work, &artifacts] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("could not create `{}`: {e}", dir.display()))?;
    }
    let log_path = fuzz.join("target").join(format!("fuzz-{target}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("could not create `{}`: {e}", log_path.display()))?;
    let mut cmd = Command::new(bin_dir.join(target));
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=30")
        .arg("-rss_limit_mb=4096")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(runs.map(|n| format!("-runs={n}")))
        .arg(&work)
        .arg(&seeds)
        .env("ASAN_OPTIONS", "detect_leaks=0")
        .stdout(Stdio::null())
        .stderr(log);
    let budget = runs.map_or_else(String::new, |n| format!(" or {n} executions"));
    eprintln!(
        "\n==> fuzz {target} for {seconds}s{budget}\n    $ {}",
        describe(&cmd)
    );
    let start = Instant::now();
    let status = cmd.status().map_err(|e| {
        format!(
            "could not start `{}`: {e}; build it with `cargo xtask fuzz --build-only`",
            describe(&cmd)
        )
    })?;
    let elapsed = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let executions = executions(&text);
    eprintln!(
        "    ({target}: {} executions in {elapsed:.0}s; log: {})",
        executions.map_or_else(|| "?".into(), |n| n.to_string()),
        log_path.display()
    );
    let crash = if status.success() {
        None
    } else {
        Some(crash_input(&text).map_or_else(
            || {
                format!(
                    "libFuzzer exited with {status}; see `{}`",
                    log_path.display()
                )
            },
            |input| {
                format!(
                    "crash input saved to `{input}` (log: `{}`)",
                    log_path.display()
                )
            },
        ))
    };
    Ok(Outcome {
        target: target.into(),
        executions,
        seconds: elapsed,
        crash,
    })
}

/// The number of executions in libFuzzer's output: `stat::number_of_executed_units`, else the
/// `Done N runs` line, else the last `#N` status line.
pub fn executions(log: &str) -> Option<u64> {
    let stat = log.lines().find_map(|l| {
        l.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    let done = || {
        log.lines().find_map(|l| {
            l.strip_prefix("Done ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
    };
    let last_status = || {
        log.lines().rev().find_map(|l| {
            l.strip_prefix('#')
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
        })
    };
    stat.or_else(done).or_else(last_status)
}

/// The input libFuzzer saved for a crash, leak or timeout (`Test unit written to PATH`).
pub fn crash_input(log: &str) -> Option<String> {
    log.lines().find_map(|l| {
        l.split_once("Test unit written to ")
            .map(|(_, path)| path.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail of a real libFuzzer run (`-print_final_stats=1`) and of a crash.
    const DONE: &str = "#1048576\tpulse  cov: 812 ft: 2431 corp: 301/18Kb exec/s: 349525 rss: 61Mb\nDone 2097152 runs in 6 second(s)\nstat::number_of_executed_units: 2097153\nstat::average_exec_per_sec:     349525\n";
    const CRASH: &str = "thread '<unnamed>' panicked at fuzz/bodies/src/lib.rs:60:5:\n==4242== ERROR: libFuzzer: deadly signal\nMS: 1 ChangeBit-; base unit: 0a\nartifact_prefix='fuzz/artifacts/junit_fast/'; Test unit written to fuzz/artifacts/junit_fast/crash-da39a3ee\nBase64: PHRlc3Q+\nstat::number_of_executed_units: 5120\n";

    #[test]
    fn executions_come_from_the_final_stats() {
        assert_eq!(executions(DONE), Some(2_097_153));
        assert_eq!(executions(CRASH), Some(5120));
        assert_eq!(
            executions("#77\tNEW cov: 1\nDone 80 runs in 1 second(s)\n"),
            Some(80)
        );
        assert_eq!(executions("#77\tNEW cov: 1\n#90\tREDUCE\n"), Some(90));
        assert_eq!(executions("no stats"), None);
    }

    #[test]
    fn the_crash_input_is_named() {
        assert_eq!(
            crash_input(CRASH).as_deref(),
            Some("fuzz/artifacts/junit_fast/crash-da39a3ee")
        );
        assert_eq!(crash_input(DONE), None);
    }

    #[test]
    fn arguments_are_checked() {
        let known = vec!["junit_fast".to_owned(), "codeowners".to_owned()];
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse_args(&args(&["--seconds", "5", "codeowners"]), &known).unwrap();
        assert_eq!(
            (o.seconds, o.build_only, o.targets),
            (5, false, vec!["codeowners".into()])
        );
        let o = parse_args(&args(&["--build-only"]), &known).unwrap();
        assert_eq!(o.targets, known);
        let err = parse_args(&args(&["nope"]), &known).err().unwrap();
        assert!(
            err.contains("no fuzz target `nope`") && err.contains("junit_fast"),
            "{err}"
        );
        assert!(parse_args(&args(&["--seconds", "0"]), &known).is_err());
        assert!(parse_args(&args(&["--seconds"]), &known).is_err());
        let o = parse_args(&args(&["--runs", "10000000"]), &known).unwrap();
        assert_eq!(o.runs, Some(10_000_000));
        assert!(parse_args(&args(&["--runs", "many"]), &known).is_err());
        assert!(parse_args(&args(&["--jobs"]), &known).is_err());
    }
}
