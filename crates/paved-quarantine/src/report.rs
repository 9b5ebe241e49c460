//! `paved-quarantine report`: a markdown summary and a self-contained HTML page (inline CSS and
//! SVG, no external assets) from the run history: the tests `analyze` does not call stable (and
//! the quarantined ones), with the same verdicts over the same runs (infrastructure-failure runs
//! discarded, as `analyze` does), their quarantine state, owner and expiry, where a broken test
//! broke, a per-test pass/fail timeline of the recent runs (one cell per run, discarded runs
//! marked), and a flake-rate trend chart over the runs kept.
//!
//! The history comes from the store (`--store`, `--window`, `--branch`, as for `analyze`), or
//! from `--history FILE` (a history as JSON: every run in it is analysed, as given), analysed
//! with the `[quarantine]` thresholds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use paved_core::Error;

use crate::analyze::{Analysis, NotObserved, Thresholds};
use crate::codeowners::CodeOwners;
use crate::list::{QuarantineList, format_id};
use crate::model::{Break, History, Outcome, Verdict};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run history as JSON (runs, tests, files, outcomes) instead of reading the store.
    #[arg(long, env = "PAVED_HISTORY", value_name = "FILE")]
    pub history: Option<PathBuf>,

    #[command(flatten)]
    pub source: crate::update::HistorySource,

    /// Config file [default: paved.toml in the working directory].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The quarantine list [default: `[quarantine] list`, else quarantine.toml].
    #[arg(long, env = "PAVED_LIST", value_name = "FILE")]
    pub list: Option<PathBuf>,

    /// Where to write the markdown summary.
    #[arg(
        long,
        env = "PAVED_MARKDOWN",
        value_name = "FILE",
        default_value = "quarantine-report.md"
    )]
    pub markdown: PathBuf,

    /// Where to write the HTML page.
    #[arg(
        long,
        env = "PAVED_HTML",
        value_name = "FILE",
        default_value = "quarantine-report.html"
    )]
    pub html: PathBuf,

    /// How many of the most recent runs the timeline and chart show.
    #[arg(long, env = "PAVED_RUNS", value_name = "N", default_value_t = 30)]
    pub runs: usize,

    /// How many tests the tables list.
    #[arg(long, env = "PAVED_TOP", value_name = "N", default_value_t = 20)]
    pub top: usize,
}

/// What happened to one test in one run of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Pass,
    /// Failed, then passed on a retry.
    Flaky,
    Fail,
    Skip,
    /// Not in that run.
    Absent,
    /// The run was discarded as an infrastructure failure.
    Discarded,
}

impl Cell {
    fn class(self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Flaky => "flaky",
            Cell::Fail => "fail",
            Cell::Skip => "skip",
            Cell::Absent => "none",
            Cell::Discarded => "discarded",
        }
    }
}

/// One test's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub variant: String,
    pub verdict: Verdict,
    /// The quarantine entry covering it: (owner, expires).
    pub quarantine: Option<(String, jiff::civil::Date)>,
    /// The entry's owner, else CODEOWNERS by its source file.
    pub owner: Option<String>,
    pub broken: Option<Break>,
    /// Runs kept by `analyze` in which it ran.
    pub runs: u32,
    pub failures: u32,
    pub retry_passes: u32,
    /// Runs with any failing attempt, over runs.
    pub flake_rate: f64,
    pub cells: Vec<Cell>,
}

/// The figures the report shows.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Indexes of the runs in the window, oldest first.
    pub runs: Vec<usize>,
    /// Runs `analyze` discarded as infrastructure failures (of the whole history).
    pub discarded: usize,
    pub rows: Vec<Row>,
    /// Per run of the window: the share of its tests that failed at least once (`None` for a
    /// discarded run).
    pub trend: Vec<Option<f64>>,
    pub flaky: usize,
    pub broken: usize,
    pub not_observed: Vec<NotObserved>,
}

/// Build the figures from `history` and its `analysis` (the one `analyze` computes), over the
/// last `window` runs: the tests it does not call stable, and the quarantined ones, in its
/// order (flaky, broken, stable).
pub fn summarize(
    history: &History,
    analysis: &Analysis,
    list: &QuarantineList,
    owners: &CodeOwners,
    repo: &Path,
    window: usize,
    top: usize,
) -> Summary {
    let first = history.runs.len().saturating_sub(window);
    let runs: Vec<usize> = (first..history.runs.len()).collect();
    let discarded: std::collections::HashSet<usize> =
        analysis.discarded_runs.iter().copied().collect();
    let index: std::collections::HashMap<&crate::model::TestId, usize> = history
        .tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    let mut grid = vec![vec![Cell::Absent; runs.len()]; history.tests.len()];
    for o in &history.outcomes {
        if o.run < first || o.test >= history.tests.len() {
            continue;
        }
        let cell = match o.outcome {
            _ if discarded.contains(&o.run) => Cell::Discarded,
            Outcome::Passed if o.any_failure => Cell::Flaky,
            Outcome::Passed => Cell::Pass,
            Outcome::Skipped => Cell::Skip,
            Outcome::Failed | Outcome::Error => Cell::Fail,
        };
        grid[o.test][o.run - first] = cell;
    }
    for (col, run) in runs.iter().enumerate() {
        if discarded.contains(run) {
            for row in &mut grid {
                row[col] = Cell::Discarded;
            }
        }
    }
    let rows: Vec<Row> = analysis
        .tests
        .iter()
        .filter_map(|t| {
            let entry = list.matches(&t.id);
            if t.verdict == Verdict::Stable && entry.is_none() {
                return None;
            }
            let owner = entry.map(|e| e.owner.clone()).or_else(|| {
                crate::source::source_file(&t.id, t.file.as_deref(), repo)
                    .and_then(|f| owners.owners_of(&f).map(|o| o.join(" ")))
            });
            Some(Row {
                id: format_id(&t.id),
                variant: t.id.variant.clone(),
                verdict: t.verdict,
                quarantine: entry.map(|e| (e.owner.clone(), e.expires)),
                owner,
                broken: t.broken.clone(),
                runs: t.runs,
                failures: t.failures,
                retry_passes: t.retry_passes,
                flake_rate: if t.runs == 0 {
                    0.0
                } else {
                    f64::from(t.failures + t.retry_passes) / f64::from(t.runs)
                },
                cells: index
                    .get(&t.id)
                    .map(|&i| grid[i].clone())
                    .unwrap_or_else(|| vec![Cell::Absent; runs.len()]),
            })
        })
        .take(top)
        .collect();
    // Over every test of each run (the store counts those that never failed too).
    let totals = history.run_totals();
    let trend = runs
        .iter()
        .map(|&r| {
            let t = totals[r];
            if discarded.contains(&r) {
                None
            } else if t.ran == 0 {
                Some(0.0)
            } else {
                Some((t.failed + t.flaky) as f64 / t.ran as f64)
            }
        })
        .collect();
    Summary {
        runs,
        discarded: analysis.discarded_runs.len(),
        rows,
        trend,
        flaky: analysis.with(Verdict::Flaky).count(),
        broken: analysis.with(Verdict::Broken).count(),
        not_observed: analysis.not_observed.clone(),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Flaky => "flaky",
        Verdict::Broken => "broken",
        Verdict::Stable => "stable",
    }
}

fn quarantine_text(r: &Row) -> String {
    match &r.quarantine {
        Some((_, expires)) => format!("quarantined until {expires}"),
        None => "not quarantined".into(),
    }
}

/// Where a broken test broke, commits shortened to 12 characters.
fn since_text(b: &Break) -> String {
    let short = |c: &str| c.chars().take(12).collect::<String>();
    match &b.last_good {
        Some(good) => format!("{} (last good {})", short(&b.since), short(good)),
        None => format!("{} or earlier", short(&b.since)),
    }
}

fn headline(history: &History, s: &Summary) -> String {
    format!(
        "{} runs in the window ({} stored, {} discarded as infrastructure failures), up to {} tests per run: {} flaky, {} broken.",
        s.runs.len(),
        history.runs.len(),
        s.discarded,
        most_tests(history),
        s.flaky,
        s.broken
    )
}

/// The most tests any run of `history` had.
fn most_tests(history: &History) -> u64 {
    history
        .run_totals()
        .iter()
        .map(|t| t.tests)
        .max()
        .unwrap_or(0)
}

fn pct(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

fn md_escape(s: &str) -> String {
    s.replace('|', r"\|").replace('`', "'")
}

/// The markdown summary.
pub fn markdown(history: &History, s: &Summary) -> String {
    let mut out = String::from("## Flaky tests\n\n");
    let _ = writeln!(out, "{}\n", headline(history, s));
    if s.rows.is_empty() {
        out.push_str("No test is flaky, broken or quarantined in the window.\n");
    } else {
        out.push_str(
            "| verdict | test | variant | quarantine | owner | runs | failed | passed on retry | flake rate | recent runs |\n",
        );
        out.push_str("|---|---|---|---|---|---:|---:|---:|---:|---|\n");
        for r in &s.rows {
            let strip: String = r
                .cells
                .iter()
                .rev()
                .take(10)
                .rev()
                .map(|c| match c {
                    Cell::Pass => '✓',
                    Cell::Flaky => '~',
                    Cell::Fail => '✗',
                    Cell::Skip => '-',
                    Cell::Absent => '·',
                    Cell::Discarded => '#',
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | `{strip}` |",
                verdict_name(r.verdict),
                md_escape(&r.id),
                if r.variant.is_empty() {
                    "-".to_owned()
                } else {
                    md_escape(&r.variant)
                },
                quarantine_text(r),
                md_escape(r.owner.as_deref().unwrap_or("-")),
                r.runs,
                r.failures,
                r.retry_passes,
                pct(r.flake_rate)
            );
        }
        out.push_str("\n✓ passed · ~ passed on retry · ✗ failed · - skipped · · not run · # discarded as an infrastructure failure (last 10 runs, oldest first)\n");
    }
    let broken: Vec<&Row> = s.rows.iter().filter(|r| r.broken.is_some()).collect();
    if !broken.is_empty() {
        out.push_str("\n### Broken: real breaks, never quarantined\n\n");
        for r in broken {
            if let Some(b) = &r.broken {
                let _ = writeln!(
                    out,
                    "- `{}`: {}",
                    md_escape(&r.id),
                    crate::analyze::break_text(b, |c| c)
                );
            }
        }
    }
    if !s.not_observed.is_empty() {
        out.push_str("\n### Quarantined but not observed\n\n");
        for n in &s.not_observed {
            let _ = writeln!(
                out,
                "- {}",
                crate::analyze::not_observed_text(n).replace('|', r"\|")
            );
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The self-contained HTML page.
pub fn html(history: &History, s: &Summary) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Flaky tests</title>\n<style>\n\
         body{font:14px system-ui,sans-serif;margin:2em;color:#222}\n\
         table{border-collapse:collapse;margin:1em 0}th,td{padding:2px 6px;text-align:left}\n\
         .num{text-align:right}.id{font-family:monospace;min-width:18em;max-width:40em;overflow-wrap:anywhere}.since{font-family:monospace}\n\
         .timeline td.cell{width:12px;height:16px;padding:0;border:1px solid #fff}\n\
         .pass{background:#2da44e}.flaky{background:#d4a72c}.fail{background:#cf222e}.skip{background:#afb8c1}.none{background:#eaeef2}.discarded{background:repeating-linear-gradient(45deg,#eaeef2 0 3px,#8c959f 3px 5px)}\n\
         .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\n\
         </style></head><body>\n<h1>Flaky tests</h1>\n",
    );
    let _ = writeln!(out, "<p>{}</p>", html_escape(&headline(history, s)));
    // Trend chart: flake rate per run.
    let (w, h, pad) = (600.0_f64, 160.0_f64, 30.0_f64);
    let n = s.trend.len().max(2) as f64;
    let points: Vec<String> = s
        .trend
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .map(|(i, r)| {
            format!(
                "{:.1},{:.1}",
                pad + (w - 2.0 * pad) * i as f64 / (n - 1.0),
                h - pad - (h - 2.0 * pad) * r
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<h2>Flake rate per run</h2>\n<svg id=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"share of tests failing at least once, per run\">\
         <line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#888\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{y0}\" stroke=\"#888\"/>\
         <text x=\"2\" y=\"{pad}\" font-size=\"10\">100%</text><text x=\"8\" y=\"{y0}\" font-size=\"10\">0%</text>\
         <polyline fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" points=\"{}\"/></svg>",
        points.join(" "),
        y0 = h - pad,
        x1 = w - pad,
    );
    out.push_str("<h2>Flaky, broken and quarantined tests</h2>\n");
    out.push_str("<p class=\"legend\"><span class=\"pass\"></span>passed<span class=\"flaky\"></span>passed on retry<span class=\"fail\"></span>failed<span class=\"skip\"></span>skipped<span class=\"none\"></span>not run<span class=\"discarded\"></span>discarded (infrastructure failure)</p>\n");
    out.push_str("<table class=\"timeline\"><thead><tr><th>verdict</th><th>test</th><th>variant</th><th>quarantine</th><th>owner</th><th>broken since</th><th class=\"num\">runs</th><th class=\"num\">flake rate</th><th>runs, oldest first</th></tr></thead><tbody>\n");
    for r in &s.rows {
        let _ = write!(
            out,
            "<tr class=\"test\"><td class=\"verdict\">{}</td><td class=\"id\">{}</td><td>{}</td><td class=\"quarantine\">{}</td><td class=\"owner\">{}</td><td class=\"since\" title=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><table><tr>",
            verdict_name(r.verdict),
            html_escape(&r.id),
            html_escape(&r.variant),
            html_escape(&quarantine_text(r)),
            html_escape(r.owner.as_deref().unwrap_or("-")),
            r.broken
                .as_ref()
                .map(|b| html_escape(&crate::analyze::break_text(b, |c| c)))
                .unwrap_or_default(),
            r.broken
                .as_ref()
                .map(|b| html_escape(&since_text(b)))
                .unwrap_or_default(),
            r.runs,
            pct(r.flake_rate)
        );
        for (cell, run) in r.cells.iter().zip(&s.runs) {
            let meta = &history.runs[*run];
            let _ = write!(
                out,
                "<td class=\"cell {}\" title=\"{} run {} attempt {} @ {}\"></td>",
                cell.class(),
                cell.class(),
                html_escape(&meta.run_id),
                meta.attempt,
                html_escape(&meta.commit.chars().take(8).collect::<String>())
            );
        }
        out.push_str("</tr></table></td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
    if !s.not_observed.is_empty() {
        out.push_str("<h2>Quarantined but not observed</h2>\n<ul class=\"not-observed\">\n");
        for n in &s.not_observed {
            let _ = writeln!(
                out,
                "<li>{}</li>",
                html_escape(&crate::analyze::not_observed_text(n))
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Run `report`.
pub fn run(args: &ReportArgs) -> crate::error::Result<u8> {
    if args.runs == 0 {
        return Err(Error::Usage("`--runs` is 0; show at least one run".into()).into());
    }
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let q = config.quarantine;
    let list = QuarantineList::load_or_empty(&crate::gate::list_path(args.list.as_deref(), &q))?;
    let (history, mut analysis) = match &args.history {
        Some(path) => {
            let text = paved_core::fs::read_to_string(path)?;
            let history: History = serde_json::from_str(&text).map_err(|e| Error::BadFile {
                path: path.clone(),
                message: format!(
                    "not a run history (JSON with `runs`, `tests`, `files`, `outcomes`): {e}"
                ),
            })?;
            let analysis = crate::analyze::analyze(&history, &Thresholds::from_config(&q));
            (history, analysis)
        }
        None => args.source.load(args.config.as_deref(), &list.focus())?,
    };
    analysis.not_observed = crate::analyze::not_observed(&list, &analysis.tests);
    let owners = CodeOwners::discover(Path::new("."))?;
    let summary = summarize(
        &history,
        &analysis,
        &list,
        &owners,
        Path::new("."),
        args.runs,
        args.top,
    );
    let md = markdown(&history, &summary);
    paved_core::fs::write_atomic(&args.markdown, md.as_bytes())?;
    paved_core::fs::write_atomic(&args.html, html(&history, &summary).as_bytes())?;
    paved_core::ci::CiSink::from_env(None).write_summary(&md)?;
    paved_core::cli::info(&format!(
        "wrote {} and {} ({} flaky, {} broken over {} runs)",
        args.markdown.display(),
        args.html.display(),
        summary.flaky,
        summary.broken,
        summary.runs.len()
    ));
    Ok(0)
}
