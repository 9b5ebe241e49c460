//! Gathering the evidence of one change: the commit range since the last deployment (through
//! paved-version's range logic), the PRs/MRs with mergers and approvers (through paved-forge),
//! the JUnit summary (through paved-junit's parser), digests and the CI run.

use std::collections::BTreeMap;
use std::path::Path;

use paved_core::git::{Oid, Repo};
use paved_core::release::Settings;
use paved_core::release::range::{self, CommitRange, Incomplete};
use paved_forge::Forge;

use crate::bundle::{
    Artifact, BaseSource, Changes, Ci, Commit, Commits, PullRequest, Reference, Tests,
};
use crate::error::{Error, Result};

/// Most commits whose PR/MR is looked up; beyond this the evidence says the lookup stopped.
pub const MAX_PR_LOOKUPS: usize = 300;

/// A lookup of environment variables (the process environment, or a map in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The CI run, from the variables GitHub Actions or GitLab CI set.
pub fn ci(env: Env<'_>) -> Ci {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if get("GITHUB_ACTIONS").as_deref() == Some("true") {
        let run_url = match (
            get("GITHUB_SERVER_URL"),
            get("GITHUB_REPOSITORY"),
            get("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => Some(match get("GITHUB_RUN_ATTEMPT") {
                Some(a) => format!(
                    "{}/{repo}/actions/runs/{run}/attempts/{a}",
                    server.trim_end_matches('/')
                ),
                None => format!("{}/{repo}/actions/runs/{run}", server.trim_end_matches('/')),
            }),
            _ => None,
        };
        Ci {
            provider: "github".into(),
            run_id: get("GITHUB_RUN_ID"),
            attempt: get("GITHUB_RUN_ATTEMPT"),
            run_url,
            actor: get("GITHUB_TRIGGERING_ACTOR").or_else(|| get("GITHUB_ACTOR")),
            workflow: get("GITHUB_WORKFLOW"),
            job: get("GITHUB_JOB"),
            ref_name: get("GITHUB_REF_NAME"),
        }
    } else if get("GITLAB_CI").as_deref() == Some("true") {
        Ci {
            provider: "gitlab".into(),
            run_id: get("CI_PIPELINE_ID"),
            attempt: get("CI_JOB_ID"),
            run_url: get("CI_JOB_URL").or_else(|| get("CI_PIPELINE_URL")),
            actor: get("GITLAB_USER_LOGIN"),
            workflow: get("CI_PIPELINE_NAME"),
            job: get("CI_JOB_NAME"),
            ref_name: get("CI_COMMIT_REF_NAME"),
        }
    } else {
        Ci {
            provider: "local".into(),
            ..Ci::default()
        }
    }
}

/// `owner/repo` (GitHub) or the project path (GitLab), from CI variables or the repository URL.
pub fn repository(env: Env<'_>, web_url: Option<&str>) -> Option<String> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    get("GITHUB_REPOSITORY")
        .or_else(|| get("CI_PROJECT_PATH"))
        .or_else(|| {
            let url = web_url?;
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let path = rest.split_once('/')?.1.trim_matches('/');
            (!path.is_empty()).then(|| path.to_owned())
        })
}

/// The name a person knows the repository by, for messages: `owner/repo` when known, else the
/// last part of the `origin` remote's URL (`rocket` of `git@host:team/rocket.git`), else the
/// checkout's directory name.
pub fn display_name(repository: Option<&str>, remote_url: Option<&str>, root: &Path) -> String {
    if let Some(r) = repository {
        return r.to_owned();
    }
    let from_remote = remote_url.and_then(|u| {
        let u = u.trim().trim_end_matches('/');
        let last = u.rsplit(['/', ':', '\\']).next()?;
        let last = last.strip_suffix(".git").unwrap_or(last);
        (!last.is_empty()).then(|| last.to_owned())
    });
    from_remote
        .or_else(|| {
            root.canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "this repository".into())
}

/// `repository:run:environment`. The run is the workflow run (GitHub `GITHUB_RUN_ID`) or the
/// pipeline (GitLab `CI_PIPELINE_ID`), never the attempt or the job: "Re-run jobs" and "Retry"
/// keep the run and change only the attempt or job id, so every attempt finds the record the
/// first one opened. Outside CI the run is `local-<head>`, so re-running locally on the same
/// commit finds the same record.
pub fn correlation_id(repository: Option<&str>, ci: &Ci, environment: &str, head: &str) -> String {
    let run = ci
        .run_id
        .clone()
        .unwrap_or_else(|| format!("local-{}", head.chars().take(12).collect::<String>()));
    // `^` separates ServiceNow query terms; keep it out of the id.
    format!("{}:{run}:{environment}", repository.unwrap_or("repository")).replace('^', "_")
}

/// paved's change id: `chg-` and the 64-bit FNV-1a hash of the correlation id, in hex.
pub fn change_id(correlation_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in correlation_id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("chg-{hash:016x}")
}

/// Parse `--digest` values: `sha256:<64 hex>` or `NAME@sha256:<64 hex>` (sha384, sha512 too).
pub fn artifacts(values: &[String]) -> Result<Vec<Artifact>> {
    values
        .iter()
        .map(|v| {
            let v = v.trim();
            let (name, digest) = match v.rsplit_once('@') {
                Some((n, d)) => (Some(n.to_owned()), d),
                None => (None, v),
            };
            let valid = digest.split_once(':').is_some_and(|(alg, hex)| {
                let len = match alg {
                    "sha256" => 64,
                    "sha384" => 96,
                    "sha512" => 128,
                    _ => 0,
                };
                len > 0
                    && hex.len() == len
                    && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !valid || name.as_deref().is_some_and(str::is_empty) {
                return Err(Error::usage(
                    format!("`--digest {v}` is not a digest"),
                    "pass `sha256:<64 lower-case hex digits>`, optionally as `NAME@sha256:…` (e.g. `ghcr.io/acme/app@sha256:…`)",
                ));
            }
            Ok(Artifact {
                name,
                digest: digest.to_owned(),
            })
        })
        .collect()
}

/// Expand `--junit` globs (relative to `base`) and sum the tests of every file through
/// paved-junit's parser. A glob that matches nothing is an error.
pub fn tests(globs: &[String], base: &Path) -> Result<Option<Tests>> {
    if globs.is_empty() {
        return Ok(None);
    }
    use paved_junit::FindError;
    let files = paved_junit::find_reports(globs, base).map_err(|e| match e {
        FindError::BadPattern { pattern, message } => Error::usage(
            format!("`--junit {pattern}` is not a valid glob: {message}"),
            "quote the pattern, e.g. `--junit 'target/**/junit*.xml'`",
        ),
        FindError::NoMatch { pattern } => Error::usage(
            format!("`--junit {pattern}` matches no file"),
            "check the path of the test reports (relative to the repository root), or drop `--junit`",
        ),
        FindError::Io { path, source } => Error::Core(paved_core::Error::Io {
            action: "read",
            path,
            source,
        }),
    })?;
    // Merged as the gate merges them: a rerun report's attempts join the first report's test,
    // so a test retried in a second file is counted once (as flaky), not twice.
    let mut reports = Vec::with_capacity(files.len());
    for f in &files {
        reports.push(paved_junit::parse_file(f, "")?);
    }
    let results = paved_junit::merge_reports(reports).results;
    let s = paved_junit::Summary::of(&results);
    Ok(Some(Tests {
        files: files
            .iter()
            .map(|f| {
                f.strip_prefix(base)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        tests: s.tests,
        passed: s.passed,
        failed: s.failed,
        skipped: s.skipped,
        flaky: s.flaky,
    }))
}

/// RFC 3339 (UTC, whole seconds) of a Unix time.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The commit range deployed: from `previous` (the last deployment's commit) when it is in this
/// repository, else from the latest release tag reachable from `head` that is not on `head`
/// itself, else the whole history.
pub fn commit_range(
    repo: &Repo,
    head: Oid,
    previous: Option<&str>,
    settings: &Settings,
) -> Result<std::result::Result<Commits, Incomplete>> {
    let Some((scope, _)) = settings.scopes.first() else {
        return Err(Error::usage(
            "no package selected",
            "pass `--package NAME` naming a `[[version.package]]`",
        ));
    };
    let path = scope.path.as_deref();
    if let Some(prev) = previous {
        match repo.resolve_prefix(prev) {
            Some(base) => {
                let range = match range::collect(repo, head, Some(base), path, None)? {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)),
                };
                return Ok(Ok(commits(
                    head,
                    Some(base),
                    BaseSource::Deployment,
                    Some(prev.chars().take(12).collect()),
                    &range,
                )));
            }
            None => paved_core::cli::warn(&format!(
                "the last deployment's commit `{prev}` is not in this clone; using the previous release tag instead (fetch the full history with `fetch-depth: 0` to use it)"
            )),
        }
    }
    let tags = repo.tags_matching(|name| scope.template.parse(name).is_some())?;
    let mut candidates = range::release_tags(&tags, &scope.template);
    // A tag on the deployed commit names this release, not the previous one.
    let mut keep = Vec::with_capacity(candidates.len());
    for c in candidates.drain(..) {
        if repo.peel_to_commit(c.target)? != Some(head) {
            keep.push(c);
        }
    }
    let mut bases = match range::find_bases(repo, head, &keep)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let base = bases.latest.clone();
    let known = bases.take_range(base.as_ref().map(|t| t.commit));
    let range = match range::collect(repo, head, base.as_ref().map(|t| t.commit), path, known)? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(match base {
        Some(t) => commits(head, Some(t.commit), BaseSource::Tag, Some(t.name), &range),
        None => commits(head, None, BaseSource::Root, None, &range),
    }))
}

fn commits(
    head: Oid,
    base: Option<Oid>,
    source: BaseSource,
    base_ref: Option<String>,
    range: &CommitRange,
) -> Commits {
    Commits {
        head: head.to_string(),
        base: base.map(|b| b.to_string()),
        base_source: source,
        base_ref,
        list: range
            .commits
            .iter()
            .map(|c| Commit {
                sha: c.commit.id.to_string(),
                summary: c.commit.summary().to_owned(),
                author: c.commit.author.name.clone(),
                author_email: c.commit.author.email.clone(),
                authored_at: rfc3339(c.commit.author.time),
                committed_at: rfc3339(c.commit.commit_time),
                pull_request: None,
            })
            .collect(),
        merges: range.merges,
    }
}

/// Look up the PR/MR of every commit, and each PR/MR's merger and approvers. A failure stops
/// the lookup and is recorded in the evidence (and shown by `verify`), never hidden.
pub fn pull_requests(commits: &mut Commits, forge: Option<&dyn Forge>) -> Changes {
    let mut changes = looked_up(commits, forge);
    changes.unverified = unverified(commits);
    changes
}

/// The PR/MR references (`(#123)`, `!123`) a commit subject holds, as written: `#` in
/// parentheses (GitHub's squash-merge subjects; a bare `#5` is as often an issue), `!` standing
/// alone (GitLab's merge requests; `feat!:` is no reference).
pub fn references(subject: &str) -> Vec<(char, u64)> {
    let b = subject.as_bytes();
    let mut out = Vec::new();
    let number_at = |start: usize| {
        let len = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        (len > 0)
            .then(|| subject[start..start + len].parse::<u64>().ok())
            .flatten()
            .filter(|n| *n > 0)
            .map(|n| (n, start + len))
    };
    for i in 0..b.len() {
        match b[i] {
            b'#' if i > 0 && b[i - 1] == b'(' => {
                if let Some((n, end)) = number_at(i + 1)
                    && b.get(end) == Some(&b')')
                {
                    out.push(('#', n));
                }
            }
            b'!' if i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'(' | b'[' | b',') => {
                if let Some((n, end)) = number_at(i + 1)
                    && b.get(end)
                        .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
                {
                    out.push(('!', n));
                }
            }
            _ => {}
        }
    }
    out
}

/// The references in the subjects of the commits no forge confirmed a PR/MR for, by number.
fn unverified(commits: &Commits) -> Vec<Reference> {
    let mut by_ref: BTreeMap<(u64, char), Reference> = BTreeMap::new();
    for c in commits.list.iter().filter(|c| c.pull_request.is_none()) {
        for (kind, number) in references(&c.summary) {
            let r = by_ref.entry((number, kind)).or_insert_with(|| Reference {
                number,
                reference: format!("{kind}{number}"),
                commits: Vec::new(),
            });
            if !r.commits.contains(&c.sha) {
                r.commits.push(c.sha.clone());
            }
        }
    }
    by_ref.into_values().collect()
}

fn looked_up(commits: &mut Commits, forge: Option<&dyn Forge>) -> Changes {
    let Some(forge) = forge else {
        return Changes {
            source: "none".into(),
            ..Changes::default()
        };
    };
    let mut changes = Changes {
        source: forge.kind().to_string(),
        ..Changes::default()
    };
    let mut by_number: BTreeMap<u64, PullRequest> = BTreeMap::new();
    let total = commits.list.len();
    for (i, c) in commits.list.iter_mut().enumerate() {
        if i >= MAX_PR_LOOKUPS {
            changes.error = Some(format!(
                "stopped after {MAX_PR_LOOKUPS} commits; {} more were not looked up",
                total - i
            ));
            break;
        }
        match forge.pull_request_for_commit(&c.sha) {
            Ok(Some(pr)) => {
                c.pull_request = Some(pr.number);
                let entry = by_number.entry(pr.number).or_insert_with(|| PullRequest {
                    number: pr.number,
                    url: pr.url.clone(),
                    title: pr.title.clone(),
                    author: pr.author_login.clone(),
                    merged_by: pr.merged_by_login.clone(),
                    merged_at: pr.merged_at.clone(),
                    approvers: Vec::new(),
                    commits: Vec::new(),
                });
                entry.commits.push(c.sha.clone());
            }
            Ok(None) => changes.without_pull_request.push(c.sha.clone()),
            Err(e) => {
                changes.error = Some(e.to_string());
                break;
            }
        }
    }
    if changes.error.is_none() {
        for pr in by_number.values_mut() {
            let mut cr = paved_forge::ChangeRequest {
                number: pr.number,
                url: pr.url.clone(),
                title: pr.title.clone(),
                author_login: pr.author.clone(),
                merged_by_login: pr.merged_by.clone(),
                merged_at: pr.merged_at.clone(),
                approvers: Vec::new(),
            };
            if let Err(e) = forge.add_review_details(&mut cr) {
                changes.error = Some(e.to_string());
                break;
            }
            pr.merged_by = cr.merged_by_login;
            pr.merged_at = cr.merged_at;
            pr.approvers = cr.approvers;
        }
    }
    changes.pull_requests = by_number.into_values().collect();
    changes
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn references_in_subjects() {
        assert_eq!(references("feat(api): export (#3)"), [('#', 3)]);
        assert_eq!(references("fix: retry !7"), [('!', 7)]);
        assert_eq!(references("!12 first"), [('!', 12)]);
        assert_eq!(references("revert (#3) and (#10)"), [('#', 3), ('#', 10)]);
        assert_eq!(references("chore: see (!4), [!5]"), [('!', 4), ('!', 5)]);
        for none in [
            "feat!: drop v1",
            "feat(api)!: x",
            "fixes #5",
            "(#5",
            "(#x)",
            "(#0)",
            "group/project!9",
            "wow!3",
            "!3a",
            "(#99999999999999999999999)",
        ] {
            assert_eq!(references(none), [], "{none}");
        }
    }
}
