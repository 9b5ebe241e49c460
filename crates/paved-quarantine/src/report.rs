//! `paved-quarantine report`: a markdown summary and a self-contained HTML page (inline CSS and
//! SVG, no external assets) from the run history: the top flaky tests, a per-test pass/fail
//! timeline of the recent runs (one cell per run), and a flake-rate trend chart.
//!
//! The history comes from the store (`--store`, `--window`, `--branch`, as for `analyze`), or
//! from `--history FILE` (a history as JSON).

use std::fmt::Write as _;
use std::path::PathBuf;

use paved_core::Error;

use crate::list::format_id;
use crate::model::{History, Outcome};

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
}

impl Cell {
    fn class(self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Flaky => "flaky",
            Cell::Fail => "fail",
            Cell::Skip => "skip",
            Cell::Absent => "none",
        }
    }
}

/// One test's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub variant: String,
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
    pub rows: Vec<Row>,
    /// Per run of the window: the share of its tests that failed at least once.
    pub trend: Vec<f64>,
}

/// Build the figures from `history`, over its last `window` runs.
pub fn summarize(history: &History, window: usize, top: usize) -> Summary {
    let first = history.runs.len().saturating_sub(window);
    let runs: Vec<usize> = (first..history.runs.len()).collect();
    let mut grid = vec![vec![Cell::Absent; runs.len()]; history.tests.len()];
    for o in &history.outcomes {
        if o.run < first || o.test >= history.tests.len() {
            continue;
        }
        let col = o.run - first;
        let cell = match o.outcome {
            Outcome::Passed if o.any_failure => Cell::Flaky,
            Outcome::Passed => Cell::Pass,
            Outcome::Skipped => Cell::Skip,
            Outcome::Failed | Outcome::Error => Cell::Fail,
        };
        grid[o.test][col] = cell;
    }
    let mut rows: Vec<Row> = history
        .tests
        .iter()
        .zip(grid)
        .map(|(id, cells)| {
            let ran = cells
                .iter()
                .filter(|c| !matches!(c, Cell::Absent | Cell::Skip))
                .count() as u32;
            let failures = cells.iter().filter(|c| **c == Cell::Fail).count() as u32;
            let retry_passes = cells.iter().filter(|c| **c == Cell::Flaky).count() as u32;
            Row {
                id: format_id(id),
                variant: id.variant.clone(),
                runs: ran,
                failures,
                retry_passes,
                flake_rate: if ran == 0 {
                    0.0
                } else {
                    f64::from(failures + retry_passes) / f64::from(ran)
                },
                cells,
            }
        })
        .filter(|r| r.failures + r.retry_passes > 0)
        .collect();
    rows.sort_by(|a, b| {
        b.flake_rate
            .total_cmp(&a.flake_rate)
            .then(b.runs.cmp(&a.runs))
            .then(a.id.cmp(&b.id))
    });
    rows.truncate(top);
    // Over every test of each run (the store counts those that never failed too).
    let totals = history.run_totals();
    let trend = runs
        .iter()
        .map(|&r| {
            let t = totals[r];
            if t.ran == 0 {
                0.0
            } else {
                (t.failed + t.flaky) as f64 / t.ran as f64
            }
        })
        .collect();
    Summary { runs, rows, trend }
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
    let _ = writeln!(
        out,
        "{} runs in the window ({} stored), up to {} tests per run, {} with failures.\n",
        s.runs.len(),
        history.runs.len(),
        most_tests(history),
        s.rows.len()
    );
    if s.rows.is_empty() {
        out.push_str("No test failed in the window.\n");
        return out;
    }
    out.push_str(
        "| test | variant | runs | failed | passed on retry | flake rate | recent runs |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---|\n");
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
            })
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | `{strip}` |",
            md_escape(&r.id),
            if r.variant.is_empty() {
                "-".to_owned()
            } else {
                md_escape(&r.variant)
            },
            r.runs,
            r.failures,
            r.retry_passes,
            pct(r.flake_rate)
        );
    }
    out.push_str("\n✓ passed · ~ passed on retry · ✗ failed · - skipped · · not run (last 10 runs, oldest first)\n");
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
         .num{text-align:right}.id{font-family:monospace;max-width:40em;overflow-wrap:anywhere}\n\
         .timeline td.cell{width:12px;height:16px;padding:0;border:1px solid #fff}\n\
         .pass{background:#2da44e}.flaky{background:#d4a72c}.fail{background:#cf222e}.skip{background:#afb8c1}.none{background:#eaeef2}\n\
         .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\n\
         </style></head><body>\n<h1>Flaky tests</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p>{} runs in the window ({} stored), up to {} tests per run, {} with failures.</p>",
        s.runs.len(),
        history.runs.len(),
        most_tests(history),
        s.rows.len()
    );
    // Trend chart: flake rate per run.
    let (w, h, pad) = (600.0_f64, 160.0_f64, 30.0_f64);
    let n = s.trend.len().max(2) as f64;
    let points: Vec<String> = s
        .trend
        .iter()
        .enumerate()
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
    out.push_str("<h2>Top flaky tests</h2>\n");
    out.push_str("<p class=\"legend\"><span class=\"pass\"></span>passed<span class=\"flaky\"></span>passed on retry<span class=\"fail\"></span>failed<span class=\"skip\"></span>skipped<span class=\"none\"></span>not run</p>\n");
    out.push_str("<table class=\"timeline\"><thead><tr><th>test</th><th>variant</th><th class=\"num\">runs</th><th class=\"num\">flake rate</th><th>runs, oldest first</th></tr></thead><tbody>\n");
    for r in &s.rows {
        let _ = write!(
            out,
            "<tr class=\"test\"><td class=\"id\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><table><tr>",
            html_escape(&r.id),
            html_escape(&r.variant),
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
    out.push_str("</tbody></table>\n</body></html>\n");
    out
}

/// Run `report`.
pub fn run(args: &ReportArgs) -> crate::error::Result<u8> {
    if args.runs == 0 {
        return Err(Error::Usage("`--runs` is 0; show at least one run".into()).into());
    }
    let history: History = match &args.history {
        Some(path) => {
            let text = paved_core::fs::read_to_string(path)?;
            serde_json::from_str(&text).map_err(|e| Error::BadFile {
                path: path.clone(),
                message: format!(
                    "not a run history (JSON with `runs`, `tests`, `files`, `outcomes`): {e}"
                ),
            })?
        }
        None => args.source.load(args.config.as_deref(), &[])?.0,
    };
    let summary = summarize(&history, args.runs, args.top);
    let md = markdown(&history, &summary);
    paved_core::fs::write_atomic(&args.markdown, md.as_bytes())?;
    paved_core::fs::write_atomic(&args.html, html(&history, &summary).as_bytes())?;
    paved_core::ci::CiSink::from_env(None).write_summary(&md)?;
    paved_core::cli::info(&format!(
        "wrote {} and {} ({} flaky tests over {} runs)",
        args.markdown.display(),
        args.html.display(),
        summary.rows.len(),
        summary.runs.len()
    ));
    Ok(0)
}
