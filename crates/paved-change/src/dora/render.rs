//! The figures as people read them: a plain table, markdown (the job summary), and a
//! self-contained HTML report (inline CSS and SVG charts, no script, nothing fetched; every
//! repository and environment name is escaped).

use std::fmt::Write as _;

use super::{Dora, Figures, Group, Week};
use crate::text::count;

/// `2d 3h`, `45m`, `0s`.
pub fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 && d == 0 {
        parts.push(format!("{m}m"));
    }
    if sec > 0 && d == 0 && h == 0 {
        parts.push(format!("{sec}s"));
    }
    if parts.is_empty() {
        parts.push("0s".into());
    }
    parts.join(" ")
}

fn rows(d: &Figures) -> Vec<(&'static str, String)> {
    vec![
        (
            "deployment frequency",
            format!(
                "{:.2}/day ({:.2}/week), {}",
                d.deployments_per_day,
                d.deployments_per_week,
                count(d.deployments, "deployment", "deployments")
            ),
        ),
        (
            "lead time for changes",
            match (d.lead_time.median_seconds, d.lead_time.p90_seconds) {
                (Some(m), Some(p)) if p != m => format!(
                    "median {}, p90 {} ({})",
                    human_secs(m),
                    human_secs(p),
                    count(d.lead_time.commits, "commit", "commits")
                ),
                (Some(m), _) => format!(
                    "median {} ({})",
                    human_secs(m),
                    count(d.lead_time.commits, "commit", "commits")
                ),
                (None, _) => "no commits deployed".into(),
            },
        ),
        (
            "change failure rate",
            match d.change_failure_rate {
                Some(r) => format!("{:.1}% ({} of {})", r * 100.0, d.failed, d.deployments),
                None => "no deployments".into(),
            },
        ),
        (
            "time to restore",
            match d.time_to_restore.median_seconds {
                Some(m) => format!(
                    "median {} ({} restored, {} not restored)",
                    human_secs(m),
                    d.time_to_restore.restored,
                    d.time_to_restore.unrestored
                ),
                None if d.time_to_restore.unrestored > 0 => format!(
                    "not restored yet ({})",
                    count(d.time_to_restore.unrestored, "failure", "failures")
                ),
                None => "no failures".into(),
            },
        ),
    ]
}

fn title(d: &Dora) -> String {
    format!(
        "DORA metrics for {}, {} .. {} ({} days)",
        d.environment.as_deref().unwrap_or("all environments"),
        &d.since[..10.min(d.since.len())],
        &d.until[..10.min(d.until.len())],
        d.days
    )
}

/// The cells of a breakdown row: deployments, per week, lead time median and p90, failure
/// rate, time to restore.
fn cells(f: &Figures) -> [String; 6] {
    let secs = |s: Option<i64>| s.map_or_else(|| "-".to_owned(), human_secs);
    [
        f.deployments.to_string(),
        format!("{:.2}", f.deployments_per_week),
        secs(f.lead_time.median_seconds),
        secs(f.lead_time.p90_seconds),
        f.change_failure_rate
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0)),
        match (
            f.time_to_restore.median_seconds,
            f.time_to_restore.unrestored,
        ) {
            (Some(m), 0) => human_secs(m),
            (Some(m), u) => format!("{} ({u} not restored)", human_secs(m)),
            (None, 0) => "-".to_owned(),
            (None, u) => format!("{u} not restored"),
        },
    ]
}

const HEADINGS: [&str; 6] = [
    "deployments",
    "per week",
    "lead time (median)",
    "lead time (p90)",
    "change failure rate",
    "time to restore (median)",
];

/// A plain table: the totals, then one line per repository and per environment when there is
/// more than one.
pub fn table(d: &Dora) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", title(d));
    for (k, v) in rows(&d.total) {
        let _ = writeln!(s, "  {k:<22} {v}");
    }
    if d.total.open > 0 {
        let _ = writeln!(
            s,
            "  ({} not counted)",
            count(d.total.open, "open record", "open records")
        );
    }
    for (what, groups) in [
        ("repository", &d.repositories),
        ("environment", &d.environments),
    ] {
        if groups.len() < 2 {
            continue;
        }
        let _ = writeln!(s, "\nper {what}:");
        for g in groups {
            let c = cells(&g.figures);
            let _ = writeln!(
                s,
                "  {}: {} deployed, lead time {}, failure rate {}, restore {}",
                paved_core::ci::shield(&g.name),
                c[0],
                c[2],
                c[4],
                c[5]
            );
        }
    }
    s
}

fn named(groups: &[Group]) -> impl Iterator<Item = (String, &Figures)> {
    groups.iter().map(|g| (g.name.clone(), &g.figures))
}

/// Text for a markdown table cell: no line breaks, no `|`, no HTML.
fn md_cell(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
        .replace('|', "\\|")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn md_breakdown<'g>(
    s: &mut String,
    heading: &str,
    first: &str,
    rows: impl Iterator<Item = (String, &'g Figures)>,
) {
    let _ = writeln!(s, "\n#### {heading}\n");
    let _ = writeln!(s, "| {first} | {} |", HEADINGS.join(" | "));
    let _ = writeln!(s, "|{}", " --- |".repeat(HEADINGS.len() + 1));
    for (name, f) in rows {
        let _ = writeln!(s, "| {} | {} |", md_cell(&name), cells(f).join(" | "));
    }
}

/// A markdown summary: the totals, per repository and per environment (when more than one),
/// and per week.
pub fn markdown(d: &Dora) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {}\n", title(d));
    let _ = writeln!(s, "| metric | value |\n| --- | --- |");
    for (k, v) in rows(&d.total) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    if d.total.open > 0 {
        let _ = writeln!(
            s,
            "\n{} not counted.",
            count(d.total.open, "open record", "open records")
        );
    }
    if d.repositories.len() > 1 {
        md_breakdown(
            &mut s,
            "Per repository",
            "repository",
            named(&d.repositories),
        );
    }
    if d.environments.len() > 1 {
        md_breakdown(
            &mut s,
            "Per environment",
            "environment",
            named(&d.environments),
        );
    }
    md_breakdown(
        &mut s,
        "Per week",
        "week",
        d.weeks
            .iter()
            .map(|w| (format!("{} ({})", w.week, w.starts), &w.figures)),
    );
    s
}

/// Text safe inside HTML elements and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CHART_W: f64 = 420.0;
const CHART_H: f64 = 160.0;
const PAD: f64 = 24.0;

/// One weekly series as an SVG chart: bars, or a line through the weeks that have a value.
fn chart(
    s: &mut String,
    id: &str,
    caption: &str,
    weeks: &[Week],
    value: impl Fn(&Figures) -> Option<f64>,
    label: impl Fn(f64) -> String,
    line: bool,
) {
    let values: Vec<Option<f64>> = weeks.iter().map(|w| value(&w.figures)).collect();
    let max = values
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let n = weeks.len().max(1) as f64;
    let step = (CHART_W - 2.0 * PAD) / n;
    let y = |v: f64| CHART_H - PAD - (v / max) * (CHART_H - 2.0 * PAD);
    let _ = write!(
        s,
        "<figure class=\"chart\" id=\"{id}\"><figcaption>{}</figcaption>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {CHART_W} {CHART_H}\" width=\"{CHART_W}\" height=\"{CHART_H}\" role=\"img\" aria-label=\"{}\">\
         <line class=\"axis\" x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <text class=\"max\" x=\"2\" y=\"{t}\">{}</text>",
        esc(caption),
        esc(caption),
        esc(&label(max)),
        b = CHART_H - PAD,
        r = CHART_W - PAD,
        t = PAD - 6.0,
    );
    let mut points = Vec::new();
    for (i, (w, v)) in weeks.iter().zip(&values).enumerate() {
        let x = PAD + step * i as f64;
        let tip = format!(
            "{}: {}",
            w.week,
            v.map_or_else(|| "none".to_owned(), &label)
        );
        match (v, line) {
            (Some(v), false) => {
                let top = y(*v);
                let _ = write!(
                    s,
                    "<rect class=\"bar\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
                    x + step * 0.15,
                    step * 0.7,
                    (CHART_H - PAD - top).max(0.0),
                    esc(&tip)
                );
            }
            (Some(v), true) => {
                let (cx, cy) = (x + step / 2.0, y(*v));
                points.push(format!("{cx:.1},{cy:.1}"));
                let _ = write!(
                    s,
                    "<circle class=\"point\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3\"><title>{}</title></circle>",
                    esc(&tip)
                );
            }
            (None, _) => {}
        }
    }
    if values.iter().all(Option::is_none) {
        let _ = write!(
            s,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data in the window</text>",
            CHART_W / 2.0,
            CHART_H / 2.0
        );
    }
    if line && !points.is_empty() {
        let _ = write!(
            s,
            "<polyline class=\"trend\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    if let (Some(first), Some(last)) = (weeks.first(), weeks.last()) {
        let _ = write!(
            s,
            "<text class=\"week\" x=\"{PAD}\" y=\"{}\">{}</text><text class=\"week\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            CHART_H - 6.0,
            esc(&first.week),
            CHART_W - PAD,
            CHART_H - 6.0,
            esc(&last.week)
        );
    }
    s.push_str("</svg></figure>\n");
}

fn html_breakdown<'g>(
    s: &mut String,
    heading: &str,
    class: &str,
    rows: impl Iterator<Item = (String, &'g Figures)>,
) {
    let _ = write!(
        s,
        "<h2>{}</h2>\n<table class=\"{class}s\"><thead><tr><th>{class}</th>",
        esc(heading)
    );
    for h in HEADINGS {
        let _ = write!(s, "<th>{h}</th>");
    }
    s.push_str("</tr></thead><tbody>\n");
    for (name, f) in rows {
        let _ = write!(
            s,
            "<tr class=\"{class}\"><td class=\"name\">{}</td>",
            esc(&name)
        );
        for c in cells(f) {
            let _ = write!(s, "<td>{}</td>", esc(&c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1b1f24}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left}\
th{background:#f6f8fa}.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}\
figcaption{font-weight:600;margin-bottom:.3em}.bar{fill:#0969da}.trend{fill:none;stroke:#1a7f37;stroke-width:2}\
.point{fill:#1a7f37}.axis{stroke:#8c959f}text{font-size:10px;fill:#57606a}";

/// A self-contained HTML report: the totals, four weekly trend charts, and tables per
/// repository, environment and week.
pub fn html(d: &Dora) -> String {
    let mut s = String::new();
    let t = esc(&title(d));
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n<table class=\"summary\"><tbody>\n"
    );
    for (k, v) in rows(&d.total) {
        let _ = writeln!(
            s,
            "<tr class=\"metric\"><th>{k}</th><td>{}</td></tr>",
            esc(&v)
        );
    }
    s.push_str("</tbody></table>\n");
    if d.total.open > 0 {
        let _ = writeln!(
            s,
            "<p class=\"open\">{} not counted.</p>",
            count(d.total.open, "open record", "open records")
        );
    }
    s.push_str("<h2>Trends per week</h2>\n<div class=\"charts\">\n");
    let hours = |v: f64| format!("{v:.1}h");
    chart(
        &mut s,
        "chart-frequency",
        "Deployments per week",
        &d.weeks,
        |f| Some(f.deployments as f64),
        |v| format!("{v:.0}"),
        false,
    );
    chart(
        &mut s,
        "chart-lead-time",
        "Lead time for changes (median, hours)",
        &d.weeks,
        |f| f.lead_time.median_seconds.map(|x| x as f64 / 3600.0),
        hours,
        true,
    );
    chart(
        &mut s,
        "chart-failure-rate",
        "Change failure rate",
        &d.weeks,
        |f| f.change_failure_rate.map(|r| r * 100.0),
        |v| format!("{v:.0}%"),
        false,
    );
    chart(
        &mut s,
        "chart-restore",
        "Time to restore (median, hours)",
        &d.weeks,
        |f| f.time_to_restore.median_seconds.map(|x| x as f64 / 3600.0),
        hours,
        false,
    );
    s.push_str("</div>\n");
    html_breakdown(
        &mut s,
        "Per repository",
        "repository",
        named(&d.repositories),
    );
    html_breakdown(
        &mut s,
        "Per environment",
        "environment",
        named(&d.environments),
    );
    html_breakdown(
        &mut s,
        "Per week",
        "week",
        d.weeks
            .iter()
            .map(|w| (format!("{} ({})", w.week, w.starts), &w.figures)),
    );
    s.push_str("</body></html>\n");
    s
}
