//! GitLab CI pipelines, their jobs and job artifacts, for paved-quarantine's `collect`.
//!
//! REST API v4, all reads (`PRIVATE-TOKEN` with `read_api`, or `JOB-TOKEN`: a job token can read
//! the pipelines, jobs and artifacts of its own project):
//! - `GET /projects/:id` → `default_branch`;
//! - `GET /projects/:id/pipelines?ref=&scope=finished&order_by=id&sort=desc&per_page=100` →
//!   `[{id, sha, ref, status, web_url, created_at, updated_at}]`, newest first, paginated with
//!   `Link` (offset pagination, which GitLab serves with `Link` and `x-next-page` headers);
//! - `GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true&per_page=100` →
//!   `[{id, name, status, web_url, started_at, artifacts_file: {filename, size}, …}]`. Without
//!   `include_retried` GitLab (13.5 and later) lists only the latest job of each name; with it,
//!   the retried ones too, so each retry is an attempt of its own. One pipeline's listing is read
//!   up to [`MAX_PIPELINE_JOBS`] jobs and [`MAX_JOBS_BYTES`], so a server that ignores `per_page`
//!   or links on forever cannot fill memory; the cut is returned for a warning;
//! - `GET /projects/:id/jobs/:job_id/artifacts` → the job's artifacts archive (zip), or `302` to
//!   object storage on another host; `404` when the job has none, or they expired or were
//!   erased.
//!
//! The token goes only to the API's origin: [`paved_core::http`] follows the redirect itself and
//! drops credentials once it leaves the first request's origin.

use std::ops::ControlFlow;
use std::path::Path;

use paved_core::http::{Client, HttpError};
use serde::Deserialize;

use crate::actions::Download;
use crate::session::Session;
use crate::{Error, GitLabConfig, GitLabToken, Result};

/// Most pages of pipelines or jobs read (100 items a page).
pub const MAX_PIPELINE_PAGES: usize = 50;

/// Most jobs of one pipeline read: the page cap at 100 a page. A server that ignores
/// `per_page` is cut here too.
pub const MAX_PIPELINE_JOBS: usize = MAX_PIPELINE_PAGES * 100;

/// Most bytes of job listings read for one pipeline (a real job is a few KB): with each page
/// allowed up to the HTTP client's response cap, the page cap alone would let a hostile server
/// fill gigabytes.
pub const MAX_JOBS_BYTES: u64 = 32 * 1024 * 1024;

/// The jobs of one pipeline, as [`Pipelines::jobs`] read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineJobs {
    /// Every job read, retried ones included, in the API's order.
    pub jobs: Vec<Job>,
    /// Why the listing was cut short, for a warning (`None`: it was read whole).
    pub truncated: Option<String>,
}

/// A finished pipeline, as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pipeline {
    /// The pipeline id (global, grows with each new pipeline).
    pub id: u64,
    /// The commit it ran for.
    pub sha: String,
    /// The branch or tag it ran for.
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// Its web page.
    pub web_url: String,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The artifacts archive of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ArtifactsFile {
    /// Its file name (`artifacts.zip`).
    #[serde(default)]
    pub filename: String,
    /// Its size in bytes, as GitLab reports it.
    #[serde(default)]
    pub size: u64,
}

/// A job of a pipeline (retried ones included).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Job {
    /// The job id (global, grows with each new job: a retry has a larger id than the job it
    /// retries).
    pub id: u64,
    /// Its name in `.gitlab-ci.yml` (a retry keeps it).
    pub name: String,
    /// `success`, `failed`, `canceled`, `skipped`, `manual`, …
    #[serde(default)]
    pub status: String,
    /// Its web page.
    #[serde(default)]
    pub web_url: String,
    /// When it started (RFC 3339), if it did.
    #[serde(default)]
    pub started_at: Option<String>,
    /// Its artifacts archive, if it has one.
    #[serde(default)]
    pub artifacts_file: Option<ArtifactsFile>,
    /// Every artifact it uploaded, by type: `archive`, `junit` (from `artifacts:reports:junit`),
    /// `trace`, …
    #[serde(default)]
    pub artifacts: Vec<JobArtifact>,
}

impl Job {
    /// Whether it declared JUnit reports (`artifacts:reports:junit`).
    pub fn reports_junit(&self) -> bool {
        self.artifacts.iter().any(|a| a.file_type == "junit")
    }
}

/// One artifact of a job, as the jobs API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobArtifact {
    /// `archive`, `junit`, `trace`, `metadata`, …
    #[serde(default)]
    pub file_type: String,
}

#[derive(Deserialize)]
struct Project {
    default_branch: Option<String>,
}

/// What [`Pipelines::finished`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    /// Newer than the watermark, newest first, at most `max`.
    pub new: Vec<T>,
    /// At or below the watermark and created since the re-check time, newest first: these may
    /// have attempts that were not there when they were last read.
    pub recheck: Vec<T>,
    /// Whether older new ones may be left unread (`max` reached, or the page cap).
    pub more: bool,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            new: Vec::new(),
            recheck: Vec::new(),
            more: false,
        }
    }
}

/// Which part of a newest-first listing is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The watermark: the newest id read in full before.
    pub after: Option<u64>,
    /// Items at or below the watermark created at or after this time (seconds since the
    /// epoch) are re-checked.
    pub recheck_since: Option<i64>,
    /// Most new items.
    pub max: usize,
}

/// Sort one page of a newest-first listing into `listed`; whether to stop the walk. `id` and
/// `created` read an item's id and creation time (seconds since the epoch).
pub fn sort_page<T>(
    listed: &mut Listed<T>,
    items: Vec<T>,
    window: Window,
    id: impl Fn(&T) -> u64,
    created: impl Fn(&T) -> Option<i64>,
    keep: impl Fn(&T) -> bool,
) -> ControlFlow<()> {
    let Window {
        after,
        recheck_since,
        max,
    } = window;
    let mut past = false;
    for item in items {
        let seen = |list: &[T]| list.iter().any(|x| id(x) == id(&item));
        // Young enough to have a new attempt since it was read.
        let young = after.is_some()
            && recheck_since.is_some_and(|since| created(&item).is_some_and(|t| t >= since));
        if after.is_some_and(|a| id(&item) <= a) {
            // Behind the watermark: re-checked while young, else the walk is done.
            if !young {
                past = true;
            } else if keep(&item) && !seen(&listed.recheck) {
                listed.recheck.push(item);
            }
        } else if listed.new.len() >= max {
            listed.more = true;
            // Older ones are not read; the walk goes on only to re-check young ones.
            past |= !young;
        } else if keep(&item) && !seen(&listed.new) {
            // Not listed twice: an item pushed to a later page by a new one while the list
            // was read appears again there.
            listed.new.push(item);
        }
    }
    if listed.new.len() >= max {
        listed.more = true;
        // Full: further pages matter only for re-checks.
        past |= after.is_none() || recheck_since.is_none();
    }
    if past {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// RFC 3339 → seconds since the epoch.
pub fn epoch_seconds(time: Option<&str>) -> Option<i64> {
    let t = paved_core::http::parse_rfc3339(time?)?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// The CI API of one GitLab project.
#[derive(Debug, Clone)]
pub struct Pipelines {
    session: Session,
    project: String,
    token: Option<&'static str>,
}

impl Pipelines {
    /// The project in `config`.
    pub fn new(client: Client, config: &GitLabConfig) -> Pipelines {
        Pipelines {
            session: Session::gitlab(client, config),
            project: config.project.clone(),
            token: config.token.as_ref().map(GitLabToken::variable),
        }
    }

    fn hint(&self) -> String {
        match self.token {
            Some(var) => format!(
                "check that `{var}` can read the pipelines and job artifacts of `{}` (an access token needs the `read_api` scope)",
                self.project
            ),
            None => format!(
                "set `GITLAB_TOKEN` (or `--token`) to a token that can read `{}`; a private project's pipelines need one",
                self.project
            ),
        }
    }

    /// The project's default branch.
    pub fn default_branch(&self) -> Result<String> {
        let project: Project = self
            .session
            .read(self.session.url(""), self.hint())
            .send()?
            .json()?;
        project.default_branch.ok_or_else(|| Error::Unexpected {
            message: format!(
                "GitLab names no default branch for `{}` (an empty project?); pass `--branch`",
                self.project
            ),
        })
    }

    /// The finished pipelines of `git_ref` (of every ref for `None`) that `keep` accepts, in
    /// `window`, newest first.
    pub fn finished(
        &self,
        git_ref: Option<&str>,
        window: Window,
        keep: impl Fn(&Pipeline) -> bool,
    ) -> Result<Listed<Pipeline>> {
        let mut listed = Listed::default();
        let mut request = self
            .session
            .read(self.session.url("/pipelines"), self.hint());
        if let Some(git_ref) = git_ref {
            request = request.query("ref", git_ref);
        }
        let pages = request
            .query("scope", "finished")
            .query("order_by", "id")
            .query("sort", "desc")
            .query("per_page", "100")
            .for_each_page(MAX_PIPELINE_PAGES, |response| {
                let page: Vec<Pipeline> = response.json()?;
                Ok::<_, HttpError>(sort_page(
                    &mut listed,
                    page,
                    window,
                    |p| p.id,
                    |p| epoch_seconds(p.created_at.as_deref()),
                    &keep,
                ))
            })?;
        listed.more |= pages.truncated;
        Ok(listed)
    }

    /// Every job of pipeline `id`, retried ones included, up to [`MAX_PIPELINE_JOBS`] jobs,
    /// [`MAX_JOBS_BYTES`] of listings and [`MAX_PIPELINE_PAGES`] pages;
    /// [`PipelineJobs::truncated`] says when one of those cut it.
    pub fn jobs(&self, pipeline_id: u64) -> Result<PipelineJobs> {
        let mut jobs = Vec::new();
        let mut bytes: u64 = 0;
        let mut cut = None;
        let pages = self
            .session
            .read(
                self.session.url(&format!("/pipelines/{pipeline_id}/jobs")),
                self.hint(),
            )
            .query("include_retried", "true")
            .query("per_page", "100")
            .for_each_page(MAX_PIPELINE_PAGES, |response| {
                bytes = bytes.saturating_add(response.body().len() as u64);
                let page = response.json::<Vec<Job>>()?;
                let room = MAX_PIPELINE_JOBS - jobs.len();
                if page.len() > room {
                    cut = Some(format!("more than {MAX_PIPELINE_JOBS} jobs"));
                }
                jobs.extend(page.into_iter().take(room));
                if cut.is_none() && bytes > MAX_JOBS_BYTES {
                    cut = Some(format!(
                        "more than {} MiB of job listings",
                        MAX_JOBS_BYTES / (1024 * 1024)
                    ));
                }
                let full = jobs.len() >= MAX_PIPELINE_JOBS;
                Ok::<_, HttpError>(if cut.is_some() || full {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
        if cut.is_none() && pages.truncated {
            cut = Some(format!("more than {MAX_PIPELINE_PAGES} pages of jobs"));
        }
        let truncated = cut.map(|why| {
            format!(
                "pipeline {pipeline_id} lists {why}: read the first {} jobs; the rest are not collected",
                jobs.len()
            )
        });
        Ok(PipelineJobs { jobs, truncated })
    }

    /// Stream the artifacts archive of job `job_id` into `path`, failing once it grows past
    /// `max_bytes`. Object storage the API redirects to gets no credentials.
    pub fn download(&self, job_id: u64, path: &Path, max_bytes: u64) -> Result<Download> {
        let response = self
            .session
            .read(
                self.session.url(&format!("/jobs/{job_id}/artifacts")),
                self.hint(),
            )
            .allow_status(404)
            .allow_status(410)
            .download_to(path)
            .max_download_bytes(max_bytes)
            .send()?;
        match response.status() {
            404 | 410 => Ok(Download::Expired),
            200..=299 => Ok(Download::Saved),
            status => Err(Error::Unexpected {
                message: format!(
                    "GET {} answered {status} without a download (expected the archive, a `302` to it, or `404` for none)",
                    response.url()
                ),
            }),
        }
    }
}

/// Which attempt each job is: 1 for the first job of its name, 2 for its first retry, … (by job
/// id, which grows with each retry).
pub fn attempts(jobs: &[Job]) -> Vec<u32> {
    jobs.iter()
        .map(|j| {
            let earlier = jobs
                .iter()
                .filter(|o| o.name == j.name && o.id < j.id)
                .count();
            u32::try_from(earlier + 1).unwrap_or(u32::MAX)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, name: &str) -> Job {
        Job {
            id,
            name: name.into(),
            status: "success".into(),
            web_url: String::new(),
            started_at: None,
            artifacts_file: None,
            artifacts: Vec::new(),
        }
    }

    #[test]
    fn a_retry_is_the_next_attempt_of_its_job_name() {
        // GitLab lists jobs newest first.
        let jobs = [
            job(30, "test"),
            job(21, "lint"),
            job(20, "test"),
            job(10, "test"),
        ];
        assert_eq!(attempts(&jobs), [3, 1, 2, 1]);
    }

    #[test]
    fn runs_behind_the_watermark_are_rechecked_only_while_young() {
        let mut listed = Listed::default();
        // (id, created)
        let page = vec![(9, 900), (7, 700), (6, 600), (5, 500), (4, 400)];
        let flow = sort_page(
            &mut listed,
            page,
            Window {
                after: Some(7),
                recheck_since: Some(550),
                max: 10,
            },
            |x| x.0,
            |x| Some(x.1),
            |_| true,
        );
        assert_eq!(listed.new, [(9, 900)]);
        assert_eq!(listed.recheck, [(7, 700), (6, 600)]);
        assert!(flow.is_break());
        // Without a re-check time the walk stops at the watermark.
        let mut listed = Listed::default();
        let flow = sort_page(
            &mut listed,
            vec![(9, 900), (7, 700)],
            Window {
                after: Some(7),
                recheck_since: None,
                max: 10,
            },
            |x: &(u64, i64)| x.0,
            |x| Some(x.1),
            |_| true,
        );
        assert!(listed.recheck.is_empty());
        assert!(flow.is_break());
    }
}
