//! The words of a change record (ServiceNow fields, deployment descriptions) and the summaries
//! people read, all from the bundle.

use std::fmt::Write as _;

use crate::bundle::Bundle;

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// One line: what goes where.
pub fn short_description(b: &Bundle) -> String {
    let repo = b.repository.as_deref().unwrap_or("release");
    format!("Deploy {repo} {} to {}", b.version, b.environment)
}

/// The evidence in prose: range, PRs with mergers and approvers, tests, artifacts, CI run.
pub fn description(b: &Bundle) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", short_description(b));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Commit: {} ({} since {})",
        b.commits.head,
        count(b.commits.list.len(), "commit", "commits"),
        b.commits.base_ref.as_deref().unwrap_or("the first commit")
    );
    for c in &b.commits.list {
        let _ = writeln!(s, "- {} {} ({})", short(&c.sha), c.summary, c.author);
    }
    if !b.changes.pull_requests.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Pull/merge requests:");
        for pr in &b.changes.pull_requests {
            let approvers = if pr.approvers.is_empty() {
                "none".to_owned()
            } else {
                pr.approvers.join(", ")
            };
            let _ = writeln!(
                s,
                "- #{} {} ({}) by {}, merged by {}, approved by {approvers}",
                pr.number,
                pr.title,
                pr.url,
                pr.author,
                pr.merged_by.as_deref().unwrap_or("unknown"),
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", test_plan(b));
    if !b.artifacts.is_empty() {
        let _ = writeln!(s, "Artifacts:");
        for a in &b.artifacts {
            let _ = writeln!(
                s,
                "- {}{}",
                a.name
                    .as_deref()
                    .map(|n| format!("{n}@"))
                    .unwrap_or_default(),
                a.digest
            );
        }
    }
    if let Some(u) = &b.ci.run_url {
        let _ = writeln!(s, "CI run: {u}");
    }
    if let Some(a) = &b.ci.actor {
        let _ = writeln!(s, "Actor: {a}");
    }
    let _ = writeln!(s, "Correlation id: {}", b.correlation_id);
    s
}

/// How it is deployed.
pub fn implementation_plan(b: &Bundle) -> String {
    let what = if b.artifacts.is_empty() {
        format!("commit {}", b.commits.head)
    } else {
        b.artifacts
            .iter()
            .map(|a| a.digest.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let run = b.ci.run_url.as_deref().unwrap_or("the release pipeline");
    format!(
        "Automated deployment of {} ({what}) to {} by {run}.",
        b.version, b.environment
    )
}

/// How to go back: the previous digest.
pub fn backout_plan(b: &Bundle) -> String {
    match &b.previous {
        Some(p) if !p.digests.is_empty() => format!(
            "Redeploy the previous release: {} (commit {}).",
            p.digests.join(", "),
            p.commit.as_deref().unwrap_or("unknown")
        ),
        Some(p) => format!(
            "Redeploy the previous release (commit {}).",
            p.commit.as_deref().unwrap_or("unknown")
        ),
        None => format!(
            "No earlier deployment to {} is recorded; roll back by removing the release.",
            b.environment
        ),
    }
}

/// The tests that ran.
pub fn test_plan(b: &Bundle) -> String {
    match &b.tests {
        Some(t) => format!(
            "Automated tests: {} tests, {} passed, {} failed, {} skipped, {} flaky ({}).",
            t.tests,
            t.passed,
            t.failed,
            t.skipped,
            t.flaky,
            t.files.join(", ")
        ),
        None => "No automated test results were attached.".into(),
    }
}

/// What `open` tells a person (stderr); `repository` is the name to show
/// ([`crate::evidence::display_name`]).
pub fn open_summary(b: &Bundle, created: bool, repository: &str) -> String {
    let mut s = String::new();
    let verb = if created { "opened" } else { "found existing" };
    let _ = writeln!(
        s,
        "{verb} change {} ({}) for {repository} {} -> {}",
        b.record.number, b.record.backend, b.version, b.environment
    );
    let _ = writeln!(
        s,
        "  range: {} since {} ({})",
        count(b.commits.list.len(), "commit", "commits"),
        b.commits.base_ref.as_deref().unwrap_or("the first commit"),
        match b.commits.base_source {
            crate::bundle::BaseSource::Deployment => "last deployment",
            crate::bundle::BaseSource::Tag => "previous tag",
            crate::bundle::BaseSource::Root => "no earlier deployment or tag",
        }
    );
    let unverified = if b.changes.unverified.is_empty() {
        String::new()
    } else {
        format!(
            "; commit subjects name {} (unverified)",
            crate::bundle::references_text(&b.changes.unverified)
        )
    };
    let _ = writeln!(
        s,
        "  pull requests: {}{unverified}",
        if b.changes.source == "none" {
            "not looked up (no forge token)".to_owned()
        } else {
            format!(
                "{} ({} without one)",
                count(b.changes.pull_requests.len(), "PR/MR", "PRs/MRs"),
                count(b.changes.without_pull_request.len(), "commit", "commits")
            )
        }
    );
    let _ = writeln!(
        s,
        "  tests: {}",
        b.tests.as_ref().map_or_else(
            || "none attached".to_owned(),
            |t| format!(
                "{} ({} failed)",
                count(
                    usize::try_from(t.tests).unwrap_or(usize::MAX),
                    "test",
                    "tests"
                ),
                t.failed
            )
        )
    );
    let _ = writeln!(
        s,
        "  artifacts: {}",
        count(b.artifacts.len(), "digest", "digests")
    );
    let _ = write!(s, "  state: {}", b.record.state);
    s
}

/// `n` and the noun, agreeing in number: `1 commit`, `2 commits`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What `verify` tells a person (stderr): the headline, one line per evidence item, one line per
/// invalid field.
pub fn verify_report(bundle: &serde_json::Value, v: &crate::bundle::Verification) -> String {
    let field = |k: &str| {
        bundle
            .pointer(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let repository = bundle
        .get("repository")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("an unnamed repository");
    let mut s = format!(
        "evidence for change {} ({repository} {} -> {}): ",
        field("/record/number"),
        field("/version"),
        field("/environment"),
    );
    match &v.checks {
        Some(checks) => {
            let _ = write!(s, "{} of {} items present", v.present(), checks.len());
        }
        None => s.push_str("the evidence items were not checked"),
    }
    if !v.invalid.is_empty() {
        let _ = write!(
            s,
            ", {}",
            count(v.invalid.len(), "invalid field", "invalid fields")
        );
    }
    s.push('\n');
    for c in v.checks.iter().flatten() {
        let _ = writeln!(
            s,
            "  {:<8} {:<14} {}",
            if c.present { "ok" } else { "MISSING" },
            c.item,
            c.detail
        );
    }
    for p in &v.invalid {
        let _ = writeln!(s, "  {:<8} {}: {}", "INVALID", p.field, p.message);
    }
    s
}

/// `verify`'s integrity lines: the signature, the backend's digest, and each field refused.
pub fn integrity_report(i: &crate::signed::Integrity, backend: &crate::BackendDigest) -> String {
    use crate::signed::Signature;
    let mut s = String::new();
    let _ = match &i.signature {
        Signature::Unsigned => writeln!(
            s,
            "  {:<8} {:<14} unsigned (no {})",
            "-", "signature", i.envelope
        ),
        Signature::NotChecked { keyids } => writeln!(
            s,
            "  {:<8} {:<14} signed by {}; not checked (pass --trusted-key)",
            "-",
            "signature",
            if keyids.is_empty() {
                "an unnamed key".to_owned()
            } else {
                keyids.join(", ")
            }
        ),
        Signature::Verified { keyid } => {
            writeln!(
                s,
                "  {:<8} {:<14} verified with trusted key {keyid}",
                "ok", "signature"
            )
        }
        Signature::Refused => writeln!(s, "  {:<8} {:<14} refused", "REFUSED", "signature"),
    };
    let _ = match backend {
        crate::BackendDigest::Local { digest: Some(d) } => writeln!(
            s,
            "  {:<8} {:<14} the file record holds {d}",
            "-", "backend-digest"
        ),
        crate::BackendDigest::Local { digest: None } => writeln!(
            s,
            "  {:<8} {:<14} the file record holds no evidence digest (made before paved recorded one)",
            "-", "backend-digest"
        ),
        crate::BackendDigest::Recorded { digest, record } => writeln!(
            s,
            "  {:<8} {:<14} {record} holds {digest}",
            "-", "backend-digest"
        ),
        crate::BackendDigest::NotChecked { reason } => {
            writeln!(
                s,
                "  {:<8} {:<14} not checked: {reason}",
                "-", "backend-digest"
            )
        }
    };
    for p in &i.problems {
        let _ = writeln!(s, "  {:<8} {}: {}", "TAMPERED", p.field, p.message);
    }
    s
}
