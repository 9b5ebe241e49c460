//! `update --propose`: the change to `quarantine.toml` as one standing pull request (GitHub) or
//! merge request (GitLab), instead of a file written in the job's checkout.
//!
//! The new list is computed by `update` from the checked-out list (the default branch, on a
//! scheduled run); the proposal is one commit on the checked-out commit, on a fixed branch
//! (`--propose-branch`, default `paved/quarantine`), through [`paved_forge::proposals`]. A re-run
//! updates the same PR/MR; when the list would not change, the open one is closed with a
//! comment. The body is the evidence from `update`'s own plan and the figures it decided on, per
//! test: runs, failures, same-commit flakes, retry-passes, the Wilson bounds, the owner, and for
//! broken tests the commit they broke at. Test names come from JUnit reports, so every value in
//! the body is escaped for markdown: a name cannot break the table, mention anyone, or carry
//! HTML.

use std::path::Path;

use paved_forge::proposals::{Proposal, ProposalSpec, ProposalTracker};

use crate::list::{QuarantineList, format_id, normalize};
use crate::model::TestStats;
use crate::update::Plan;

/// The marker at the top of every body paved writes (how a person, or a later tool, tells it is
/// paved's).
pub const MARKER: &str = "<!-- paved-quarantine update --propose -->";

/// GitHub refuses bodies over 65 536 characters; rows stop a little before that.
const MAX_BODY: usize = 60_000;

/// `s` as a markdown code span inside a table cell: one line, pipes escaped, and a fence longer
/// than any run of backticks in it.
pub fn code(s: &str) -> String {
    let one_line = s.replace(['\r', '\n'], " ").replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in one_line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if one_line.starts_with('`') || one_line.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{one_line}{pad}{fence}")
}

/// `s` as plain text inside a table cell: one line, and markdown and HTML punctuation
/// backslash-escaped, so it renders as written (an owner's `@team` still mentions it).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '(' | ')' | '#' | '+'
            | '!' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn bounds(s: &TestStats) -> String {
    format!("{}–{}", percent(s.wilson_lower), percent(s.wilson_upper))
}

/// Whether `s` is the test `id` (with `variant`) of a list entry.
fn is_entry(s: &TestStats, id: &str, variant: Option<&str>) -> bool {
    format_id(&s.id) == id && normalize(&s.id.variant) == variant.map(normalize).unwrap_or_default()
}

/// The title: a Conventional Commit, so a repository that lints PR titles accepts it.
pub fn title(plan: &Plan) -> String {
    let count = |n: usize| {
        if n == 1 {
            "1 test".to_owned()
        } else {
            format!("{n} tests")
        }
    };
    let mut parts = Vec::new();
    if !plan.added.is_empty() {
        parts.push(format!("quarantine {}", count(plan.added.len())));
    }
    if !plan.released.is_empty() {
        parts.push(format!("release {}", count(plan.released.len())));
    }
    if parts.is_empty() {
        parts.push("update the quarantine list".into());
    }
    format!("chore(quarantine): {}", parts.join(", "))
}

/// Rows are added while the body stays under the forge's limit; the rest are counted.
struct Table {
    out: String,
    left_out: usize,
}

impl Table {
    fn row(&mut self, row: &str) {
        if self.out.len() + row.len() > MAX_BODY {
            self.left_out += 1;
        } else {
            self.out.push_str(row);
        }
    }
}

/// The PR/MR body: what changes and the evidence for each test. `before` is the list as it was
/// read (the released entries are found in it), `stats` the figures `update` decided on.
pub fn body(plan: &Plan, stats: &[TestStats], before: &QuarantineList, list: &str) -> String {
    let mut t = Table {
        out: format!(
            "{MARKER}\n`paved-quarantine update` proposes this change to {} from the recent runs of the default branch: {} to quarantine, {} to release. Review it like code: merging it changes what CI skips and what the gate ignores. Each scheduled run updates it, and closes it when there is nothing left to change.\n",
            code(list),
            plan.added.len(),
            plan.released.len(),
        ),
        left_out: 0,
    };
    if !plan.added.is_empty() {
        t.out.push_str("\n### Quarantine: flaky\n\n| test | variant | runs | failures | same-commit flakes | retry-passes | flaky-run rate (95% Wilson) | owner | expires |\n|---|---|---|---|---|---|---|---|---|\n");
        for e in &plan.added {
            let s = stats
                .iter()
                .find(|s| is_entry(s, &e.id, e.variant.as_deref()));
            let figures = s.map_or_else(
                || "| | | | | ".to_owned(),
                |s| {
                    format!(
                        "| {} | {} | {} | {} | {} ",
                        s.runs,
                        s.failures,
                        s.same_commit_flakes,
                        s.retry_passes,
                        bounds(s)
                    )
                },
            );
            t.row(&format!(
                "| {} | {} {figures}| {} | {} |\n",
                code(&e.id),
                e.variant.as_deref().map_or_else(|| "all".to_owned(), code),
                text(&e.owner),
                e.expires
            ));
        }
    }
    if !plan.released.is_empty() {
        t.out.push_str("\n### Release: stable again\n\n| test | runs | failures | clean runs at the end | flaky-run rate (95% Wilson) | owner | why |\n|---|---|---|---|---|---|---|\n");
        for r in &plan.released {
            let covered: Vec<&TestStats> = stats
                .iter()
                .filter(|s| before.position(&s.id) == Some(r.index))
                .collect();
            let sum = |f: fn(&TestStats) -> u32| covered.iter().map(|s| f(s)).sum::<u32>();
            let worst = covered
                .iter()
                .max_by(|a, b| a.wilson_upper.total_cmp(&b.wilson_upper));
            t.row(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                code(&r.entry.id),
                sum(|s| s.runs),
                sum(|s| s.failures),
                covered.iter().map(|s| s.clean_streak).min().unwrap_or(0),
                worst.map_or_else(String::new, |s| bounds(s)),
                text(&r.entry.owner),
                text(&r.why)
            ));
        }
    }
    if !plan.breaks.is_empty() {
        t.out.push_str("\n### Broken: not quarantined, needs a fix\n\nThese fail on every run from a change point on: a real break, not a flake, so they are never quarantined.\n\n| test | first failing commit | last good commit | failing runs |\n|---|---|---|---|\n");
        for b in &plan.breaks {
            t.row(&format!(
                "| {} | {} | {} | {} |\n",
                code(&b.id),
                code(&b.at.since),
                b.at.last_good.as_deref().map_or_else(String::new, code),
                b.at.failing_runs
            ));
        }
    }
    if !plan.not_observed.is_empty() {
        t.out.push_str("\n### Quarantined, not observed in the window (kept)\n\n| test | owner | expires |\n|---|---|---|\n");
        for n in &plan.not_observed {
            t.row(&format!(
                "| {} | {} | {} |\n",
                code(&n.id),
                text(&n.owner),
                n.expires
            ));
        }
    }
    if t.left_out > 0 {
        t.out.push_str(&format!(
            "\n{} more rows are left out to keep this description under the forge's size limit; run `paved-quarantine analyze` for all of them.\n",
            t.left_out
        ));
    }
    t.out
}

/// The file's path in the repository (with `/`), and the commit it was read at.
pub fn location(list: &Path, repo: &Path) -> paved_core::Result<(String, String, bool)> {
    let git = paved_core::git::Repo::discover(repo)?;
    let root = git.root().canonicalize().map_err(|e| {
        paved_core::Error::Usage(format!(
            "cannot resolve the repository root `{}`: {e}",
            git.root().display()
        ))
    })?;
    let name = list.file_name().ok_or_else(|| {
        paved_core::Error::Usage(format!(
            "`{}` is not a file name; pass `--list PATH` to the quarantine list",
            list.display()
        ))
    })?;
    let parent = match list.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let outside = || {
        paved_core::Error::Usage(format!(
            "`--propose` edits the list in the repository, but `{}` is not inside the repository at `{}`; pass `--list` a path in the repository",
            list.display(),
            root.display()
        ))
    };
    let parent = parent.canonicalize().map_err(|_| outside())?;
    let rel = parent
        .strip_prefix(&root)
        .map_err(|_| outside())?
        .join(name);
    let path = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok((path, git.head()?.to_string(), list.is_file()))
}

/// What the proposal step did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Outcome {
    /// A PR/MR was opened.
    Opened { number: u64, url: String },
    /// The open PR/MR was updated.
    Updated { number: u64, url: String },
    /// Nothing to change: the open PR/MR was closed.
    Closed { number: u64, url: String },
    /// Nothing to change and nothing open.
    Unchanged,
}

impl Outcome {
    fn of(p: Proposal) -> Outcome {
        if p.created {
            Outcome::Opened {
                number: p.number,
                url: p.url,
            }
        } else {
            Outcome::Updated {
                number: p.number,
                url: p.url,
            }
        }
    }
}

/// Propose `spec` when the list changes, or withdraw the open proposal when it does not.
pub fn run(
    tracker: &dyn ProposalTracker,
    spec: &ProposalSpec,
    changed: bool,
) -> paved_forge::Result<Outcome> {
    if changed {
        return tracker.propose(spec).map(Outcome::of);
    }
    let comment = format!(
        "Closed by `paved-quarantine update`: the recent runs no longer call for a change to `{}`. A later run opens a new {} if they do.",
        spec.path,
        tracker.noun()
    );
    Ok(match tracker.withdraw(&spec.branch, &comment)? {
        Some(p) => Outcome::Closed {
            number: p.number,
            url: p.url,
        },
        None => Outcome::Unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::QuarantineEntry;

    #[test]
    fn a_code_span_outlasts_the_backticks_inside_and_keeps_to_one_cell() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x `y` ``z``"), "``` x `y` ``z`` ```");
        let span = code("`start\nend`");
        assert_eq!(span, "`` `start end` ``");
        assert_eq!(text("<b>*x*</b> @team"), "\\<b\\>\\*x\\*\\</b\\> @team");
    }

    #[test]
    fn the_body_stays_under_the_forge_limit_and_counts_what_it_left_out() {
        let date = jiff::civil::date(2026, 1, 1);
        let plan = Plan {
            added: (0..5000)
                .map(|i| QuarantineEntry {
                    id: format!("suite|class|test_{i}_{}", "x".repeat(40)),
                    variant: None,
                    reason: String::new(),
                    owner: "@acme/team".into(),
                    issue: None,
                    added: date,
                    expires: date,
                })
                .collect(),
            ..Plan::default()
        };
        let list = QuarantineList::empty(Path::new("quarantine.toml"));
        let body = body(&plan, &[], &list, "quarantine.toml");
        assert!(body.len() < 65_536, "{}", body.len());
        assert!(body.contains("more rows are left out"), "{body}");
        assert!(body.contains("test_0_"));
    }
}
