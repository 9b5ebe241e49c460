//! GitHub Actions workflow runs and their artifacts, for paved-quarantine's `collect`.
//!
//! REST API `2022-11-28`, all reads (a token with `actions: read` for private repositories):
//! - `GET /repos/{o}/{r}` → `default_branch`;
//! - `GET /repos/{o}/{r}/actions/runs?branch=&status=completed&per_page=100` → `{total_count,
//!   workflow_runs: [{id, run_attempt, head_sha, head_branch, html_url, …}]}`, newest first,
//!   paginated with `Link`;
//! - `GET /repos/{o}/{r}/actions/runs/{id}/artifacts?per_page=100` → `{total_count, artifacts:
//!   [{id, name, size_in_bytes, expired}]}`, paginated;
//! - `GET /repos/{o}/{r}/actions/artifacts/{id}/zip` → `302` to a short-lived storage URL on
//!   another host, or `410 Gone` (GitHub's answer for an expired artifact; `404` is treated
//!   the same, as older servers answer so).
//!
//! The token goes only to the API's origin: [`paved_core::http`] follows the redirect itself and
//! drops credentials once it leaves the first request's origin, so the storage host never sees
//! it. Downloads are streamed to a file and capped at a size.

use std::ops::ControlFlow;
use std::path::Path;

use paved_core::http::{Client, HttpError};
use serde::Deserialize;

use crate::pipelines::{Listed, Window, epoch_seconds, sort_page};
use crate::session::Session;
use crate::{Error, GitHubConfig, Result};

/// Most pages of runs or artifacts read (100 items a page).
pub const MAX_RUN_PAGES: usize = 50;

/// A completed workflow run, as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkflowRun {
    /// The run id (the number in its URL); grows with each new run.
    pub id: u64,
    /// Which attempt of the run this is (a re-run of the same run increases it).
    #[serde(default = "first_attempt")]
    pub run_attempt: u32,
    /// The commit the run tested.
    pub head_sha: String,
    /// The branch the run tested (none for some events, such as a tag push).
    #[serde(default)]
    pub head_branch: Option<String>,
    /// The run's web page.
    pub html_url: String,
    /// When this attempt started (RFC 3339).
    #[serde(default)]
    pub run_started_at: Option<String>,
    /// When the run was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// What started the run (`push`, `schedule`, `pull_request`, …).
    #[serde(default)]
    pub event: Option<String>,
    /// The repository the tested commit came from: a fork's for a pull request from a fork.
    #[serde(default)]
    pub head_repository: Option<RunRepository>,
}

/// The repository part of a run that says where its commit came from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunRepository {
    /// `owner/name`.
    pub full_name: String,
}

/// The events whose runs test a branch of the repository itself, as pushed: anything else (a
/// pull request, a comment) tests code someone proposed, and a fork can name its branch `main`.
pub const BRANCH_EVENTS: &[&str] = &[
    "push",
    "schedule",
    "workflow_dispatch",
    "merge_group",
    "repository_dispatch",
    "workflow_run",
];

impl WorkflowRun {
    /// Why this run is not history of `repository`'s own branch, if it is not: it came from a
    /// fork, or from an event that tests a proposal rather than the branch.
    pub fn not_branch_history(&self, repository: &str) -> Option<String> {
        let from = self.head_repository.as_ref().map(|r| r.full_name.as_str());
        if !from.is_some_and(|f| f.eq_ignore_ascii_case(repository)) {
            return Some(match from {
                Some(f) => format!("its commit comes from the fork `{f}`"),
                None => "the API names no repository for its commit".to_owned(),
            });
        }
        match self.event.as_deref() {
            Some(e) if BRANCH_EVENTS.contains(&e) => None,
            Some(e) => Some(format!(
                "it ran for a `{e}` event, not a push to the branch"
            )),
            None => Some("the API names no event for it".to_owned()),
        }
    }
}

fn first_attempt() -> u32 {
    1
}

/// An artifact of a run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Artifact {
    /// The artifact id.
    pub id: u64,
    /// Its name, as given to `actions/upload-artifact`.
    pub name: String,
    /// The size GitHub reports (of the zip archive).
    #[serde(default)]
    pub size_in_bytes: u64,
    /// Whether its retention period is over (it can no longer be downloaded).
    #[serde(default)]
    pub expired: bool,
}

/// What downloading an artifact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    /// The zip archive is in the file.
    Saved,
    /// The artifact has expired (`410`/`404`): nothing was written.
    Expired,
}

#[derive(Deserialize)]
struct RunsPage {
    #[serde(default)]
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Deserialize)]
struct ArtifactsPage {
    #[serde(default)]
    artifacts: Vec<Artifact>,
}

#[derive(Deserialize)]
struct RepositoryInfo {
    default_branch: String,
}

/// The Actions API of one repository.
#[derive(Debug, Clone)]
pub struct Actions {
    session: Session,
    has_token: bool,
}

impl Actions {
    /// The repository in `config`.
    pub fn new(client: Client, config: &GitHubConfig) -> Actions {
        Actions {
            session: Session::github(client, config),
            has_token: config.token.is_some(),
        }
    }

    /// From the GitHub Actions variables (see [`GitHubConfig::from_env`]) and `PAVED_HTTP_*`.
    pub fn from_env() -> Result<Actions> {
        Ok(Actions::new(
            Client::from_env()?,
            &GitHubConfig::from_env()?,
        ))
    }

    fn hint(&self) -> String {
        if self.has_token {
            "check that `GITHUB_TOKEN` can read the repository's Actions (`permissions: actions: read`)".into()
        } else {
            "set `GITHUB_TOKEN` (or `--token`); Actions artifacts need a token even on public repositories".into()
        }
    }

    /// The repository's default branch.
    pub fn default_branch(&self) -> Result<String> {
        let info: RepositoryInfo = self
            .session
            .read(self.session.url(""), self.hint())
            .send()?
            .json()?;
        Ok(info.default_branch)
    }

    /// The completed runs of `branch` (of every branch for `None`) that `keep` accepts, newest
    /// first, in `window`: those above the watermark (at most `window.max`; pages are read only
    /// until the watermark or `max` is reached), and those at or below it created since
    /// `window.recheck_since`, whose `run_attempt` may have grown since they were read ("Re-run
    /// jobs" makes a new attempt of the same run id).
    pub fn completed_runs(
        &self,
        branch: Option<&str>,
        window: Window,
        keep: impl Fn(&WorkflowRun) -> bool,
    ) -> Result<Listed<WorkflowRun>> {
        let mut listed = Listed::default();
        let mut request = self
            .session
            .read(self.session.url("/actions/runs"), self.hint());
        if let Some(branch) = branch {
            request = request.query("branch", branch);
        }
        let request = request
            .query("status", "completed")
            .query("per_page", "100");
        let pages = request.for_each_page(MAX_RUN_PAGES, |response| {
            let page: RunsPage = response.json()?;
            Ok::<_, HttpError>(sort_page(
                &mut listed,
                page.workflow_runs,
                window,
                |r| r.id,
                |r| epoch_seconds(r.created_at.as_deref()),
                &keep,
            ))
        })?;
        listed.more |= pages.truncated;
        Ok(listed)
    }

    /// The artifacts of run `run_id`.
    pub fn artifacts(&self, run_id: u64) -> Result<Vec<Artifact>> {
        let mut artifacts = Vec::new();
        self.session
            .read(
                self.session
                    .url(&format!("/actions/runs/{run_id}/artifacts")),
                self.hint(),
            )
            .query("per_page", "100")
            .for_each_page(MAX_RUN_PAGES, |response| {
                artifacts.extend(response.json::<ArtifactsPage>()?.artifacts);
                Ok::<_, HttpError>(ControlFlow::Continue(()))
            })?;
        Ok(artifacts)
    }

    /// Stream the zip archive of `artifact` into `path`, failing once it grows past
    /// `max_bytes`. The storage host the API redirects to gets no credentials.
    pub fn download(&self, artifact: &Artifact, path: &Path, max_bytes: u64) -> Result<Download> {
        let response = self
            .session
            .read(
                self.session
                    .url(&format!("/actions/artifacts/{}/zip", artifact.id)),
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
                    "GET {} answered {status} without a download (expected `302` to the archive, or `410` for an expired artifact)",
                    response.url()
                ),
            }),
        }
    }
}
