//! `cargo xtask bench quarantine`: `paved-quarantine ingest` of a generated ~200 MB JUnit file
//! (1,000,000 test cases in 1,000 suites; every 10th case has a `<system-out>`, every 50th a
//! failure, every 200th a flaky retry) into a fresh SQLite store, against
//! `grep -c '<testcase'` on the same file. Target: ingest at least 1/3 of grep's speed.
//! Throughput (MB/s) and peak memory are printed for both.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

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

fn ingest(bin: &Path, file: &Path, store: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(["ingest", "--commit", "bench", "--run-id", "1", "--store"])
        .arg(store)
        .arg(file)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env("NO_COLOR", "1");
    c
}

pub fn run() -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("quarantine-junit.xml");
    let bytes = generate(&file)?;
    let mb = bytes as f64 / 1_000_000.0;
    let bin = root().join("target/release/paved-quarantine");
    let store: PathBuf = dir.join("quarantine-bench.db");
    let fresh = |store: &Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
        }
    };

    let grep = median(RUNS, || {
        run_quiet(Command::new("grep").arg("-c").arg("<testcase").arg(&file))
    })?;
    let paved = median(RUNS, || {
        fresh(&store);
        run_quiet(&mut ingest(&bin, &file, &store))
    })?;
    fresh(&store);
    let paved_peak = peak_rss_kib(&mut ingest(&bin, &file, &store));
    let grep_peak = peak_rss_kib(Command::new("grep").arg("-c").arg("<testcase").arg(&file));
    fresh(&store);

    let show_peak = |p: Option<u64>| {
        p.map_or_else(
            || "n/a (GNU time not installed)".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        )
    };
    let grep_rate = mb / grep.as_secs_f64();
    let paved_rate = mb / paved.as_secs_f64();
    let ratio = paved_rate / grep_rate;
    eprintln!(
        "\npaved-quarantine ingest of {mb:.0} MB, {CASES} test cases, into a fresh SQLite store; median of {RUNS} runs"
    );
    eprintln!(
        "  grep -c '<testcase'          {:>8.0} ms  {grep_rate:>8.0} MB/s   peak {}",
        ms(grep),
        show_peak(grep_peak)
    );
    eprintln!(
        "  paved-quarantine ingest      {:>8.0} ms  {paved_rate:>8.0} MB/s   peak {}",
        ms(paved),
        show_peak(paved_peak)
    );
    eprintln!(
        "  ingest speed / grep speed: {ratio:.2} (target >= 0.33: {})",
        if ratio >= 1.0 / 3.0 {
            "ok"
        } else {
            "UNDER TARGET"
        }
    );
    Ok(())
}
