//! `cargo xtask bench`: the benchmarks. Figures are medians over repeated runs; they are printed,
//! never asserted in tests (the machines are shared and noisy).
//!
//! - paved-version: a 50,000-commit conventional history built with `git fast-import` (a tag every
//!   500 commits, 300 commits after the last tag), timing `paved-version` against
//!   `git log --format=%B <lasttag>..HEAD`. Target: at most 2x git log.
//! - paved-changelog: `--all` on a 500,000-commit history (a tag every 500 commits) against
//!   `git log --format=%H%x00%B`. Target: at most 1.5x git log. Peak memory is reported too.
//!
//! - paved-quarantine: `ingest` of a generated 200 MB JUnit file into SQLite against
//!   `grep -c '<testcase'` (see `bench/quarantine.rs`). Target: at least 1/3 of grep's speed.
//!   Then the peak memory of `gate`, `analyze` and `report` on it (target: at most 100 MB each;
//!   `cargo xtask bench quarantine memory` runs only that part; `... quarantine filter` only `filter`).
//!
//! - paved-changelog `--all` on a 1,000,000-commit history where every commit is a release tag,
//!   against paved-version on the same repository (`cargo xtask bench tags`). Target: at most 2x.
//!
//! - paved-version calibrate: every release replayed on a 10,000-commit history with 200 release
//!   tags (`cargo xtask bench calibrate`), against `git log --format=%B` of the whole history.
//!   Target: seconds, not minutes (one history walk shared by every replay).
//!
//! `cargo xtask bench version`, `cargo xtask bench changelog`, `cargo xtask bench tags`,
//! `cargo xtask bench calibrate` or `cargo xtask bench quarantine` runs one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cargo, root, step};

mod promote;
mod quarantine;

const RUNS: usize = 21;

/// A synthetic history: `commits` commits, a tag every `tag_every`, `after_last_tag` commits after
/// the last tag.
struct History {
    name: &'static str,
    commits: usize,
    tag_every: usize,
    after_last_tag: usize,
}

impl History {
    fn is_tagged(&self, i: usize) -> bool {
        let last = self.commits - self.after_last_tag;
        i <= last && (last - i).is_multiple_of(self.tag_every)
    }
}

const VERSION_REPO: History = History {
    name: "version-50k",
    commits: 50_000,
    tag_every: 500,
    after_last_tag: 300,
};
const CHANGELOG_REPO: History = History {
    name: "changelog-500k",
    commits: 500_000,
    tag_every: 500,
    after_last_tag: 300,
};
/// 200 releases of 50 commits each, for calibrate's replay of every one of them.
const CALIBRATE_REPO: History = History {
    name: "calibrate-10k-200",
    commits: 10_000,
    tag_every: 50,
    after_last_tag: 0,
};
/// Every commit a release: a million tags, where a per-release scan of the tags is quadratic.
const TAGS_REPO: History = History {
    name: "tags-1m",
    commits: 1_000_000,
    tag_every: 1,
    after_last_tag: 0,
};

pub fn run(args: &[String]) -> Result<(), String> {
    let which = args.first().map(String::as_str);
    if which == Some("promote") {
        return promote::run();
    }
    let part = match (which, args.get(1).map(String::as_str)) {
        (Some("quarantine"), Some("memory")) => quarantine::Part::Memory,
        (Some("quarantine"), Some("filter")) => quarantine::Part::Filter,
        _ => quarantine::Part::All,
    };
    if (args.len() > 1 && part == quarantine::Part::All)
        || !matches!(
            which,
            None | Some("version" | "changelog" | "tags" | "calibrate" | "quarantine")
        )
    {
        return Err(format!(
            "usage: cargo xtask bench [version|changelog|tags|calibrate|quarantine [memory|filter]] (got `{}`)",
            args.join(" ")
        ));
    }
    // Only the binaries this bench runs.
    let packages: &[&str] = match which {
        Some("quarantine") => &["paved-quarantine"],
        Some("version" | "calibrate") => &["paved-version"],
        Some("changelog" | "tags") => &["paved-version", "paved-changelog"],
        _ => &["paved-version", "paved-changelog", "paved-quarantine"],
    };
    let mut build = cargo();
    build.args(["build", "--release", "--locked"]);
    for p in packages {
        build.args(["-p", p]);
    }
    step("build release binaries", &mut build)?;
    if matches!(which, None | Some("version")) {
        bench_version()?;
    }
    if matches!(which, None | Some("changelog")) {
        bench_changelog()?;
    }
    if matches!(which, None | Some("changelog" | "tags")) {
        bench_tags()?;
    }
    if matches!(which, None | Some("calibrate")) {
        bench_calibrate()?;
    }
    if matches!(which, None | Some("quarantine")) {
        quarantine::run(part)?;
    }
    Ok(())
}

fn bench_version() -> Result<(), String> {
    let h = &VERSION_REPO;
    let bin = root().join("target/release/paved-version");
    let (repo, last_tag) = build_history(h)?;
    let range = format!("{last_tag}..HEAD");
    let git = median(RUNS, || {
        run_quiet(
            Command::new("git")
                .current_dir(&repo)
                .args(["log", "--format=%B", &range]),
        )
    })?;
    let paved = median(RUNS, || run_quiet(&mut tool(&bin, &repo)))?;
    let out = tool(&bin, &repo).output().map_err(|e| e.to_string())?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ratio = paved.as_secs_f64() / git.as_secs_f64();
    println!(
        "\npaved-version on {} commits ({} tags, {} after {last_tag}); median of {RUNS} runs",
        h.commits,
        h.commits / h.tag_every,
        h.after_last_tag
    );
    println!("  git log --format=%B {range:<14} {:>8.2} ms", ms(git));
    println!(
        "  paved-version                     {:>8.2} ms   -> {version}",
        ms(paved)
    );
    println!(
        "  ratio                             {ratio:>8.2}x  (target <= 2.00x) {}",
        verdict(ratio, 2.0)
    );
    Ok(())
}

fn bench_changelog() -> Result<(), String> {
    const RUNS: usize = 5;
    let h = &CHANGELOG_REPO;
    let bin = root().join("target/release/paved-changelog");
    let (repo, _) = build_history(h)?;
    let git = median(RUNS, || {
        run_quiet(
            Command::new("git")
                .current_dir(&repo)
                .args(["log", "--format=%H%x00%B"]),
        )
    })?;
    let paved = median(RUNS, || run_quiet(tool(&bin, &repo).arg("--all")))?;
    let ratio = paved.as_secs_f64() / git.as_secs_f64();
    let peak = |cmd: &mut Command| {
        peak_rss_kib(cmd).map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        )
    };
    let paved_peak = peak(tool(&bin, &repo).arg("--all"));
    let git_peak = peak(
        Command::new("git")
            .current_dir(&repo)
            .args(["log", "--format=%H%x00%B"]),
    );
    println!(
        "\npaved-changelog --all on {} commits ({} tags); median of {RUNS} runs",
        h.commits,
        h.commits / h.tag_every
    );
    println!(
        "  git log --format=%H%x00%B         {:>8.0} ms   peak {git_peak}",
        ms(git)
    );
    println!(
        "  paved-changelog --all             {:>8.0} ms   peak {paved_peak}",
        ms(paved)
    );
    println!(
        "  ratio                             {ratio:>8.2}x  (target <= 1.50x) {}",
        verdict(ratio, 1.5)
    );
    Ok(())
}

/// `paved-changelog --all` against `paved-version` on a history where every commit is a release:
/// both read every tag once; the changelog then follows the chain of releases through an index.
fn bench_tags() -> Result<(), String> {
    const RUNS: usize = 3;
    let h = &TAGS_REPO;
    let repo = build_history(h)?.0;
    let version = root().join("target/release/paved-version");
    let changelog = root().join("target/release/paved-changelog");
    let paved_version = median(RUNS, || run_quiet(&mut tool(&version, &repo)))?;
    let paved_changelog = median(RUNS, || run_quiet(tool(&changelog, &repo).arg("--all")))?;
    // The floor: reading every commit message once, which `--all` cannot avoid and
    // paved-version (one range after the latest tag) never does.
    let git = median(RUNS, || {
        run_quiet(
            Command::new("git")
                .current_dir(&repo)
                .args(["log", "--format=%H%x00%B"]),
        )
    })?;
    let ratio = paved_changelog.as_secs_f64() / paved_version.as_secs_f64();
    println!(
        "\npaved-changelog --all against paved-version on {} commits, each one tagged; median of {RUNS} runs",
        h.commits
    );
    println!(
        "  paved-version                     {:>8.0} ms",
        ms(paved_version)
    );
    println!(
        "  paved-changelog --all             {:>8.0} ms",
        ms(paved_changelog)
    );
    println!("  git log --format=%H%x00%B         {:>8.0} ms", ms(git));
    println!(
        "  ratio                             {ratio:>8.2}x  (target <= 2.00x) {}",
        verdict(ratio, 2.0)
    );
    println!(
        "  git log against paved-version     {:>8.2}x  (the floor for any --all)",
        git.as_secs_f64() / paved_version.as_secs_f64()
    );
    println!(
        "  paved-changelog --all to git log  {:>8.2}x",
        paved_changelog.as_secs_f64() / git.as_secs_f64()
    );
    Ok(())
}

/// `paved-version calibrate` replays every release of a history with 200 release tags: one walk
/// decodes the history and every replay is arithmetic over it, so it takes about as long as
/// reading the history once. Target: seconds (at most 10 s here), not minutes.
fn bench_calibrate() -> Result<(), String> {
    const RUNS: usize = 5;
    const TARGET_SECS: f64 = 10.0;
    let h = &CALIBRATE_REPO;
    let bin = root().join("target/release/paved-version");
    let (repo, _) = build_history(h)?;
    let git = median(RUNS, || {
        run_quiet(
            Command::new("git")
                .current_dir(&repo)
                .args(["log", "--format=%B"]),
        )
    })?;
    let calibrate = median(RUNS, || run_quiet(tool(&bin, &repo).arg("calibrate")))?;
    let out = tool(&bin, &repo)
        .args(["calibrate", "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "paved-version calibrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("paved-version calibrate --json printed no JSON: {e}"))?;
    let best = &report["best"];
    let (Some(releases), Some(score)) = (best["releases"].as_u64(), best["score"].as_f64()) else {
        return Err(format!(
            "paved-version calibrate --json has no `best.releases`/`best.score`: {report}"
        ));
    };
    let agreement = format!("{:.1}%", score * 100.0);
    let commits_read = report["commits_read"].as_u64().unwrap_or_default();
    let secs = calibrate.as_secs_f64();
    let ratio = secs / git.as_secs_f64();
    println!(
        "
paved-version calibrate on {} commits ({} release tags); median of {RUNS} runs",
        h.commits,
        (1..=h.commits).filter(|i| h.is_tagged(*i)).count()
    );
    println!("  git log --format=%B               {:>8.1} ms", ms(git));
    println!(
        "  paved-version calibrate           {:>8.1} ms   -> {releases} releases replayed over {commits_read} commits read, {agreement} agree",
        ms(calibrate)
    );
    println!("  ratio to git log                  {ratio:>8.2}x");
    println!(
        "  time                              {secs:>8.2} s   (target <= {TARGET_SECS:.0} s) {}",
        verdict(secs, TARGET_SECS)
    );
    Ok(())
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio <= target { "ok" } else { "OVER TARGET" }
}

fn tool(bin: &Path, repo: &Path) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(repo)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env("NO_COLOR", "1");
    c
}

/// Peak resident memory of one run, from GNU time when it is installed.
fn peak_rss_kib(cmd: &mut Command) -> Option<u64> {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let out = timed.stdout(Stdio::null()).output().ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
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

/// Build (once) the synthetic history; returns its path and the last tag's name.
fn build_history(h: &History) -> Result<(PathBuf, String), String> {
    let repo = root().join("target/bench").join(h.name);
    let tags = (1..=h.commits).filter(|i| h.is_tagged(*i)).count();
    let last_tag = format!("v1.{}.0", tags - 1);
    let marker: PathBuf = repo.join(".git/paved-bench-complete");
    if marker.exists() {
        return Ok((repo, last_tag));
    }
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).map_err(|e| format!("create {}: {e}", repo.display()))?;
    step(
        "git init",
        Command::new("git")
            .current_dir(&repo)
            .args(["init", "-q", "-b", "main"]),
    )?;
    eprintln!("==> generating {} commits with git fast-import", h.commits);
    let mut child = Command::new("git")
        .current_dir(&repo)
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
        for i in 1..=h.commits {
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
            if h.is_tagged(i) {
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
        "pack refs",
        Command::new("git")
            .current_dir(&repo)
            .args(["pack-refs", "--all"]),
    )?;
    step(
        "checkout",
        Command::new("git")
            .current_dir(&repo)
            .args(["reset", "-q", "--hard", "main"]),
    )?;
    std::fs::write(&marker, "").map_err(|e| e.to_string())?;
    Ok((repo, last_tag))
}
