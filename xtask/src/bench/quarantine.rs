//! `cargo xtask bench quarantine`: `paved-quarantine ingest` of a generated ~200 MB JUnit file
//! (1,000,000 test cases in 1,000 suites; every 10th case has a `<system-out>`, every 50th a
//! failure, every 200th a flaky retry) into SQLite, against `grep -c '<testcase'` on the same
//! file. Target: ingest at least 1/3 of grep's speed. Throughput (MB/s) and peak memory are
//! printed for both, for a first ingest into an empty store (every test is new) and for the
//! steady state (the next run of the same suite, whose tests the store already knows).
//!
//! Then `filter` on a quarantine.toml of 100,000 entries (target: under 1 s; line numbers for
//! errors used to be counted from the top of the file for every entry, which took 18 s on 10k).
//!
//! Then memory: `gate` on the same 200 MB report (with a quarantine list covering the failures
//! of the first 100 suites), and `analyze` and `report` (markdown and HTML) on a store that
//! ingest filled with 10 runs of it. Target: peak resident memory at most 100 MB each (wall time
//! is printed too, not judged). `cargo xtask bench quarantine memory` runs only this part.
//!
//! grep's output is read through a pipe: with stdout on `/dev/null`, GNU grep stops at the
//! first match and the comparison would be meaningless.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{median, ms, peak_rss_kib, run_quiet};
use crate::util::root;

const CASES: usize = 1_000_000;
const PER_SUITE: usize = 1_000;
const RUNS: usize = 5;

fn generate(path: &Path) -> Result<u64, String> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.len() > 0
        && path.with_extension("complete").exists()
    {
        return Ok(meta.len());
    }
    eprintln!("generating {} ({CASES} test cases)", path.display());
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let output =
        "2026-11-22T10:00:00.000Z INFO  request handled in 12 ms &lt;ok&gt; user=alice\n".repeat(8);
    let mut write = || -> std::io::Result<()> {
        writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(w, "<testsuites name=\"bench\" tests=\"{CASES}\">")?;
        for s in 0..CASES / PER_SUITE {
            writeln!(
                w,
                "  <testsuite name=\"com.example.service{s}.ServiceTest\" tests=\"{PER_SUITE}\" timestamp=\"2026-11-22T10:00:00\">"
            )?;
            for c in 0..PER_SUITE {
                let i = s * PER_SUITE + c;
                write!(
                    w,
                    "    <testcase classname=\"com.example.service{s}.ServiceTest\" name=\"handlesRequestNumber{c}WithValidInput\" time=\"0.{:03}\"",
                    i % 1000
                )?;
                if !i.is_multiple_of(10) && !i.is_multiple_of(50) && !i.is_multiple_of(200) {
                    writeln!(w, "/>")?;
                    continue;
                }
                writeln!(w, ">")?;
                if i.is_multiple_of(200) {
                    writeln!(
                        w,
                        "      <flakyFailure message=\"timeout after 5000 ms\" type=\"java.util.concurrent.TimeoutException\"><stackTrace>java.util.concurrent.TimeoutException\n\tat com.example.Service.call(Service.java:42)</stackTrace></flakyFailure>"
                    )?;
                } else if i.is_multiple_of(50) {
                    writeln!(
                        w,
                        "      <failure message=\"expected: &lt;200&gt; but was: &lt;500&gt;\" type=\"org.opentest4j.AssertionFailedError\">org.opentest4j.AssertionFailedError: expected: &lt;200&gt; but was: &lt;500&gt;\n\tat com.example.ServiceTest.handles(ServiceTest.java:{c})</failure>"
                    )?;
                }
                if i.is_multiple_of(10) {
                    writeln!(w, "      <system-out><![CDATA[{output}]]></system-out>")?;
                }
                writeln!(w, "    </testcase>")?;
            }
            writeln!(w, "  </testsuite>")?;
        }
        writeln!(w, "</testsuites>")?;
        w.flush()
    };
    write().map_err(|e| format!("writing {}: {e}", path.display()))?;
    std::fs::write(path.with_extension("complete"), b"")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| e.to_string())
}

/// Time `grep -c`, reading its output through a pipe.
fn grep(file: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let out = Command::new("grep")
        .arg("-c")
        .arg("<testcase")
        .arg(file)
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("grep: {e}"))?;
    let took = start.elapsed();
    let count = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if count != CASES.to_string() {
        return Err(format!(
            "grep counted `{count}` test cases, expected {CASES}"
        ));
    }
    Ok(took)
}

fn ingest(bin: &Path, file: &Path, store: &Path, run: &str) -> Command {
    let mut c = Command::new(bin);
    c.args(["ingest", "--commit", "bench", "--run-id", run, "--store"])
        .arg(store)
        .arg(file)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env("NO_COLOR", "1");
    c
}

/// Which part of the quarantine bench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    All,
    /// Only the memory of `gate`, `analyze` and `report` (`bench quarantine memory`).
    Memory,
    /// Only `filter` on a 100k-entry list (`bench quarantine filter`).
    Filter,
}

pub fn run(part: Part) -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let bin = root().join("target/release/paved-quarantine");
    if part == Part::Filter {
        return bench_filter(&bin, &dir);
    }
    let file = dir.join("quarantine-junit.xml");
    let bytes = generate(&file)?;
    let mb = bytes as f64 / 1_000_000.0;
    if part == Part::Memory {
        return bench_memory(&bin, &dir, &file, mb);
    }
    let store: PathBuf = dir.join("quarantine-bench.db");
    let fresh = |store: &Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
        }
    };

    let grep_time = median(RUNS, || grep(&file))?;
    let first = median(RUNS, || {
        fresh(&store);
        run_quiet(&mut ingest(&bin, &file, &store, "1"))
    })?;
    let mut next_run = 2;
    let steady = median(RUNS, || {
        next_run += 1;
        run_quiet(&mut ingest(&bin, &file, &store, &next_run.to_string()))
    })?;
    fresh(&store);
    let first_peak = peak_rss_kib(&mut ingest(&bin, &file, &store, "1"));
    let steady_peak = peak_rss_kib(&mut ingest(&bin, &file, &store, "2"));
    let grep_peak = peak_rss_kib(Command::new("grep").arg("-c").arg("<testcase").arg(&file));
    fresh(&store);

    let show_peak = |p: Option<u64>| {
        p.map_or_else(
            || "n/a (GNU time not installed)".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        )
    };
    let rate = |d: Duration| mb / d.as_secs_f64();
    let grep_rate = rate(grep_time);
    eprintln!(
        "\npaved-quarantine ingest of {mb:.0} MB, {CASES} test cases, into SQLite; median of {RUNS} runs"
    );
    eprintln!(
        "  grep -c '<testcase'                {:>8.0} ms  {grep_rate:>7.0} MB/s   peak {}",
        ms(grep_time),
        show_peak(grep_peak)
    );
    for (what, took, peak) in [
        ("ingest, empty store", first, first_peak),
        ("ingest, next run (steady)", steady, steady_peak),
    ] {
        let ratio = rate(took) / grep_rate;
        eprintln!(
            "  {what:<33}  {:>8.0} ms  {:>7.0} MB/s   peak {}   {ratio:.2}x grep (target >= 0.33: {})",
            ms(took),
            rate(took),
            show_peak(peak),
            if ratio >= 1.0 / 3.0 {
                "ok"
            } else {
                "UNDER TARGET"
            }
        );
    }
    bench_filter(&bin, &dir)?;
    bench_memory(&bin, &dir, &file, mb)
}

const LIST_ENTRIES: usize = 100_000;

/// `filter --runner pytest` and `--runner jest` on a 100k-entry quarantine.toml.
fn bench_filter(bin: &Path, dir: &Path) -> Result<(), String> {
    let list = dir.join("quarantine-100k.toml");
    if !list.exists() {
        let mut text = String::with_capacity(LIST_ENTRIES * 160);
        for i in 0..LIST_ENTRIES {
            text.push_str(&format!(
                "# flaky since run {i}\n[[test]]\nid = \"tests|tests.test_mod{m}.TestCase{c}|test_{i}\"\n\
                 reason = \"flaky\"\nowner = \"@acme/qa\"\nadded = 2026-11-01\nexpires = 2099-12-31\n\n",
                m = i % 100,
                c = i % 7,
            ));
        }
        std::fs::write(&list, text).map_err(|e| format!("{}: {e}", list.display()))?;
    }
    eprintln!(
        "\npaved-quarantine filter on a quarantine.toml of {LIST_ENTRIES} entries; median of {RUNS} runs"
    );
    for runner in ["pytest", "jest"] {
        let took = median(RUNS, || {
            let mut cmd = Command::new(bin);
            cmd.args(["filter", "--runner", runner, "--list"])
                .arg(&list)
                .current_dir(dir)
                .env("NO_COLOR", "1");
            run_quiet(&mut cmd)
        })?;
        eprintln!(
            "  filter --runner {runner:<8} {:>8.0} ms   (target < 1000 ms: {})",
            ms(took),
            if took < Duration::from_secs(1) {
                "ok"
            } else {
                "OVER TARGET"
            }
        );
    }
    Ok(())
}

/// The memory target for `gate`, `analyze` and `report` on the 200 MB report, in MB (10^6 bytes).
const PEAK_TARGET_MB: f64 = 100.0;
/// Runs ingested into the store that `analyze` and `report` read.
const STORE_RUNS: usize = 10;
/// Timed runs of each command (after one to warm the page cache).
const MEMORY_RUNS: usize = 3;

/// A command in the bench directory with no CI around it.
fn quarantine(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("PAVED_STORE")
        .env("NO_COLOR", "1");
    c
}

/// Time `cmd`, which may exit 0 or 1 (a gate that says no is a result, not a failure).
fn run_decided(cmd: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !matches!(status.code(), Some(0 | 1)) {
        return Err(format!("`{}` failed: {status}", crate::util::describe(cmd)));
    }
    Ok(took)
}

/// Peak memory and wall time of `gate`, `analyze` and `report` on the 200 MB report.
fn bench_memory(bin: &Path, dir: &Path, file: &Path, mb: f64) -> Result<(), String> {
    // The failures of the first 100 suites are quarantined (every 50th test case fails).
    let list = dir.join("quarantine-gate.toml");
    let mut text = String::new();
    let mut quarantined = 0;
    for i in (0..100 * PER_SUITE)
        .step_by(50)
        .filter(|i| !i.is_multiple_of(200))
    {
        let (s, c) = (i / PER_SUITE, i % PER_SUITE);
        quarantined += 1;
        text.push_str(&format!(
            "[[test]]\nid = \"com.example.service{s}.ServiceTest|com.example.service{s}.ServiceTest|handlesRequestNumber{c}WithValidInput\"\n\
             reason = \"flaky\"\nowner = \"@acme/qa\"\nadded = 2026-11-01\nexpires = 2099-12-31\n\n"
        ));
    }
    std::fs::write(&list, text).map_err(|e| format!("{}: {e}", list.display()))?;
    let file_arg = file.to_string_lossy().into_owned();
    let list_arg = list.to_string_lossy().into_owned();
    let gate = || {
        quarantine(
            bin,
            dir,
            &[
                "gate",
                &file_arg,
                "--list",
                &list_arg,
                "--today",
                "2026-11-22",
            ],
        )
    };

    let store = dir.join("quarantine-analyze.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    eprintln!("\ningesting {STORE_RUNS} runs of the report for analyze and report");
    for run in 1..=STORE_RUNS {
        let commit = format!("{run:0>40}");
        let mut cmd = quarantine(
            bin,
            dir,
            &["ingest", "--commit", &commit, "--branch", "main"],
        );
        cmd.args(["--run-id", &run.to_string(), "--store"])
            .arg(&store)
            .arg(file);
        run_quiet(&mut cmd)?;
    }
    let store_arg = store.to_string_lossy().into_owned();
    let analyze = || quarantine(bin, dir, &["analyze", "--store", &store_arg]);
    let md = dir
        .join("quarantine-report.md")
        .to_string_lossy()
        .into_owned();
    let html = dir
        .join("quarantine-report.html")
        .to_string_lossy()
        .into_owned();
    let report = || {
        quarantine(
            bin,
            dir,
            &[
                "report",
                "--store",
                &store_arg,
                "--markdown",
                &md,
                "--html",
                &html,
            ],
        )
    };

    eprintln!(
        "\npaved-quarantine memory on the {mb:.0} MB report ({CASES} test cases); store of {STORE_RUNS} runs; median of {MEMORY_RUNS} runs"
    );
    let gate_label = format!("gate ({quarantined} quarantined)");
    let commands: [(&str, &dyn Fn() -> Command); 3] = [
        (&gate_label, &gate),
        ("analyze", &analyze),
        ("report (markdown and html)", &report),
    ];
    for (what, cmd) in commands {
        let took = median(MEMORY_RUNS, || run_decided(&mut cmd()))?;
        let peak = peak_rss_kib(&mut cmd());
        let (peak, verdict) = match peak {
            Some(k) => {
                let mb = k as f64 * 1024.0 / 1e6;
                (
                    format!("{mb:.1} MB"),
                    if mb <= PEAK_TARGET_MB {
                        "ok"
                    } else {
                        "OVER TARGET"
                    },
                )
            }
            None => ("n/a (GNU time not installed)".to_owned(), "not measured"),
        };
        eprintln!(
            "  {what:<28} {:>8.0} ms   peak {peak}   (target <= {PEAK_TARGET_MB:.0} MB: {verdict})",
            ms(took)
        );
    }
    Ok(())
}
