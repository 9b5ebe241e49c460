//! `cargo xtask bench`: the benchmarks. Figures are medians over repeated runs; they are printed,
//! never asserted in tests (the machines are shared and noisy).
//!
//! paved-version: a 50,000-commit conventional history built with `git fast-import` (a tag every
//! 500 commits, 300 commits after the last tag), timing `paved-version` against
//! `git log --format=%B <lasttag>..HEAD`. Target: at most 2x git log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cargo, root, step};

const COMMITS: usize = 50_000;
const TAG_EVERY: usize = 500;
const AFTER_LAST_TAG: usize = 300;
const RUNS: usize = 21;

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`bench` takes no arguments (got `{a}`)"));
    }
    step(
        "build release binaries",
        cargo().args(["build", "--release", "--locked", "-p", "paved-version"]),
    )?;
    let bin = root().join("target/release/paved-version");
    let repo = root().join("target/bench/version-50k");
    let last_tag = build_history(&repo)?;

    let range = format!("{last_tag}..HEAD");
    let git = median(RUNS, || {
        run_quiet(
            Command::new("git")
                .current_dir(&repo)
                .args(["log", "--format=%B", &range]),
        )
    })?;
    let paved = median(RUNS, || {
        run_quiet(
            Command::new(&bin)
                .current_dir(&repo)
                .env_remove("CI")
                .env("NO_COLOR", "1"),
        )
    })?;
    let out = Command::new(&bin)
        .current_dir(&repo)
        .output()
        .map_err(|e| e.to_string())?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ratio = paved.as_secs_f64() / git.as_secs_f64();
    println!(
        "\npaved-version on {COMMITS} commits ({} tags, {AFTER_LAST_TAG} after {last_tag}); median of {RUNS} runs",
        COMMITS / TAG_EVERY
    );
    println!("  git log --format=%B {range:<14} {:>8.2} ms", ms(git));
    println!(
        "  paved-version                     {:>8.2} ms   -> {version}",
        ms(paved)
    );
    println!(
        "  ratio                             {ratio:>8.2}x  (target <= 2.00x) {}",
        if ratio <= 2.0 { "ok" } else { "OVER TARGET" }
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_quiet(cmd: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !status.success() {
        return Err(format!("`{}` failed: {status}", crate::util::describe(cmd)));
    }
    Ok(took)
}

fn median(
    runs: usize,
    mut f: impl FnMut() -> Result<Duration, String>,
) -> Result<Duration, String> {
    f()?; // warm the page cache
    let mut times = (0..runs).map(|_| f()).collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[runs / 2])
}

/// Build (once) the synthetic history; returns the last tag's name.
fn build_history(repo: &Path) -> Result<String, String> {
    let tags = (1..=COMMITS).filter(|i| is_tagged(*i)).count();
    let last_tag = format!("v1.{}.0", tags - 1);
    let marker: PathBuf = repo.join(".git/paved-bench-complete");
    if marker.exists() {
        return Ok(last_tag);
    }
    let _ = std::fs::remove_dir_all(repo);
    std::fs::create_dir_all(repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    step(
        "git init",
        Command::new("git")
            .current_dir(repo)
            .args(["init", "-q", "-b", "main"]),
    )?;
    eprintln!("==> generating {COMMITS} commits with git fast-import");
    let mut child = Command::new("git")
        .current_dir(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("git fast-import: {e}"))?;
    {
        let stdin = child.stdin.as_mut().expect("piped");
        let mut w = std::io::BufWriter::new(stdin);
        let kinds = [
            "feat",
            "fix",
            "docs",
            "chore",
            "perf",
            "refactor",
            "test",
            "fix(core)",
            "feat(api)",
            "ci",
        ];
        let mut tag_no = 0;
        for i in 1..=COMMITS {
            let t = 1_600_000_000 + i as u64 * 60;
            let msg = format!(
                "{}: change number {i}\n\nSome body text explaining change {i}.\n",
                kinds[i % kinds.len()]
            );
            write!(
                w,
                "commit refs/heads/main\nmark :{i}\nauthor Bench <bench@example.com> {t} +0000\ncommitter Bench <bench@example.com> {t} +0000\ndata {}\n{msg}\n",
                msg.len()
            )
            .map_err(|e| e.to_string())?;
            if i > 1 {
                writeln!(w, "from :{}", i - 1).map_err(|e| e.to_string())?;
            }
            let body = format!("content {i}\n");
            write!(
                w,
                "M 644 inline src/file{}.txt\ndata {}\n{body}\n",
                i % 200,
                body.len()
            )
            .map_err(|e| e.to_string())?;
            if is_tagged(i) {
                let msg = format!("Release v1.{tag_no}.0\n");
                write!(w, "tag v1.{tag_no}.0\nfrom :{i}\ntagger Bench <bench@example.com> {t} +0000\ndata {}\n{msg}\n", msg.len())
                    .map_err(|e| e.to_string())?;
                tag_no += 1;
            }
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("git fast-import failed: {status}"));
    }
    step(
        "checkout",
        Command::new("git")
            .current_dir(repo)
            .args(["reset", "-q", "--hard", "main"]),
    )?;
    std::fs::write(&marker, "").map_err(|e| e.to_string())?;
    Ok(last_tag)
}

fn is_tagged(i: usize) -> bool {
    i <= COMMITS - AFTER_LAST_TAG && (COMMITS - AFTER_LAST_TAG - i).is_multiple_of(TAG_EVERY)
}
