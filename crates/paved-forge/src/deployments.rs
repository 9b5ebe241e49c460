//! Deployments on GitHub (deployments + statuses) and GitLab (deployments), for paved-change.
//!
//! GitHub, REST API `2022-11-28`:
//! - `GET /repos/{o}/{r}/deployments?environment=&sha=&per_page=100` (paginated with `Link`),
//!   newest first; a deployment made by paved carries `payload.correlation_id`, which is how a
//!   re-run finds the deployment it made instead of making a second one.
//! - `POST /repos/{o}/{r}/deployments` → `201` with the deployment; `409 Conflict` when the
//!   commit's required status checks failed (the answer is returned as an error with status
//!   `409`, so callers can treat it as a refusal); `202` when GitHub merged the default branch
//!   first, which paved never asks for (`auto_merge: false`).
//! - `GET /repos/{o}/{r}/deployments/{id}`, `GET …/{id}/statuses?per_page=1` (newest first) and
//!   `POST …/{id}/statuses` with `state` = `error`, `failure`, `inactive`, `in_progress`,
//!   `queued`, `pending` or `success`.
//! - Required reviewers of an environment gate the workflow run's job, not the deployment paved
//!   made, so paved stores the run id in the payload (`run_id`) and reads the run:
//!   `GET /repos/{o}/{r}/actions/runs/{run_id}/approvals` (the review history: `environments`,
//!   `state` `approved`/`rejected`, `user`, `comment`; no time) and
//!   `GET …/actions/runs/{run_id}/pending_deployments` (environments still waiting, with their
//!   `reviewers`). Both need `permissions: actions: read`. `GET /repos/{o}/{r}/environments/{name}`
//!   gives the environment's `protection_rules` (`required_reviewers`, `wait_timer` with its
//!   minutes, `branch_policy`), and `GET …/environments/{name}/deployment_protection_rules` its
//!   custom deployment protection rules (`custom_deployment_protection_rules`: `enabled`, the
//!   GitHub App's `slug`; `404` where the server has none). A pending deployment carries
//!   `wait_timer` (minutes) and `wait_timer_started_at`; `GET …/actions/runs/{run_id}` gives the
//!   run's `status` and `conclusion`.
//!
//! GitLab, REST API v4:
//! - `GET /projects/:id/deployments?environment=&order_by=id&sort=desc&per_page=100`
//!   (paginated); GitLab deployments have no free-form payload, so an unfinished deployment
//!   (`created`, `running`, `blocked`) of the same commit to the same environment is taken as the
//!   one a re-run made.
//! - `POST /projects/:id/deployments` (`environment`, `sha`, `ref`, `tag`, `status`) → `201`;
//!   `GET /projects/:id/deployments/:deployment_id`; `PUT` the same with `status` = `running`,
//!   `success`, `failed` or `canceled`. A deployment to a protected environment that needs
//!   approval is `blocked`, and lists its `approvals` (`user`, `status` `approved`/`rejected`,
//!   `created_at`, `comment`); `pending_approval_count` (Premium and Ultimate only) is how many
//!   approvals it still needs.
//! - A deployment has no free-form field, so what must be read back from it later (paved-change's
//!   evidence digest) goes into a commit status on the deployed sha:
//!   `POST /projects/:id/statuses/:sha` (`state`, `name`, `ref`, `description`, `target_url`) →
//!   `201`, and `GET /projects/:id/repository/commits/:sha/statuses?name=&all=true` (every
//!   status of that name, not only the latest per pipeline).

use paved_core::http::{Client, HttpError, Method, RequestBuilder, encode_component};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::ops::ControlFlow;

use crate::session::Session;
use crate::{Error, GitHubConfig, GitLabConfig, MAX_PAGES, Result};

/// The deployment to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// The environment, e.g. `prod`.
    pub environment: String,
    /// The commit deployed (full sha).
    pub sha: String,
    /// The branch or tag name it is deployed from (GitLab requires one); empty means `sha`.
    pub ref_name: String,
    /// Whether `ref_name` is a tag (GitLab).
    pub is_tag: bool,
    /// A short description (GitHub keeps 140 characters).
    pub description: String,
    /// repo:run:env (the same for every attempt); stored in GitHub's payload so a re-run finds the deployment.
    pub correlation_id: String,
    /// Extra payload for GitHub (merged with `correlation_id`).
    pub payload: Value,
    /// Whether this is a production environment (GitHub's `production_environment`).
    pub production: bool,
}

/// A deployment as the forge has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The deployment id.
    pub id: u64,
    /// The number people see: GitHub's id, GitLab's `iid`.
    pub number: u64,
    /// The commit deployed.
    pub sha: String,
    /// The environment.
    pub environment: String,
    /// The latest status: GitHub's latest deployment status state (`none` before the first),
    /// GitLab's deployment `status`.
    pub status: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// A page to look at, when the forge gives one.
    pub url: Option<String>,
    /// Approvals recorded on it (GitLab; empty on GitHub, see [`GitHubDeployments::run_review`]).
    pub approvals: Vec<Review>,
    /// How many approvals it still needs (GitLab Premium and Ultimate; `None` when the forge
    /// does not say, which on GitLab Free means the environment has no approval rules).
    pub pending_approval_count: Option<u64>,
    /// Whether this call created it (`false`: a re-run found it).
    pub created: bool,
    /// GitHub's `payload` as the API returns it (an object, or a string); `null` on GitLab,
    /// whose deployments have none.
    pub payload: Value,
}

/// One reviewer's decision on a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer's login (GitHub) or username (GitLab).
    pub user: String,
    /// `approved` or `rejected` (GitHub's history may also hold `pending`, a comment only).
    pub state: String,
    /// When it was given (RFC 3339), when the forge says (GitLab does, GitHub does not).
    pub at: Option<String>,
    /// The reviewer's comment, when there is one.
    pub comment: Option<String>,
}

/// Where a workflow run's review of one environment stands (GitHub).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReview {
    /// Whether the run's job for the environment is waiting for a review.
    pub waiting: bool,
    /// Who can approve it (logins or team slugs), while it waits.
    pub reviewers: Vec<String>,
    /// The reviews of that environment in the run's history, in the order GitHub lists them.
    pub reviews: Vec<Review>,
    /// While it waits: the environment's wait timer, in minutes (0 or absent: none).
    pub wait_timer_minutes: Option<u64>,
    /// While it waits: when the wait timer started (RFC 3339).
    pub wait_timer_started_at: Option<String>,
}

/// What can hold a job back in a GitHub environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// Required reviewers must approve.
    pub required_reviewers: bool,
    /// A wait timer, in minutes (`None`: no timer).
    pub wait_timer_minutes: Option<u64>,
    /// The GitHub Apps of enabled custom deployment protection rules (by slug), and protection
    /// rules of a type paved does not know.
    pub custom: Vec<String>,
}

impl Protection {
    /// Whether anything can hold a job in the environment back (a branch policy cannot: it
    /// decides which branches may deploy, not when).
    pub fn gated(&self) -> bool {
        self.required_reviewers || self.wait_timer_minutes.is_some() || !self.custom.is_empty()
    }
}

/// A workflow run's `status` and `conclusion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    /// `queued`, `in_progress`, `waiting`, `completed`, …
    pub status: String,
    /// Once completed: `success`, `failure`, `cancelled`, …
    pub conclusion: Option<String>,
}

const GITHUB_TOKEN_VAR: &str = "GITHUB_TOKEN";
/// Deployments looked at when searching for the last successful one.
const LAST_SUCCESS_SCAN: usize = 30;

/// GitHub deployments and deployment statuses.
#[derive(Debug, Clone)]
pub struct GitHubDeployments {
    session: Session,
    config: GitHubConfig,
}

#[derive(Debug, Deserialize)]
struct GhDeployment {
    id: u64,
    sha: String,
    environment: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    payload: Value,
}

#[derive(Debug, Deserialize)]
struct GhStatus {
    state: String,
    #[serde(default)]
    description: Option<String>,
}

/// One status of a GitHub deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatus {
    /// `queued`, `in_progress`, `success`, …
    pub state: String,
    /// Its description (empty when it has none).
    pub description: String,
}

#[derive(Debug, Deserialize)]
struct GhNamed {
    name: String,
}

#[derive(Debug, Deserialize)]
struct GhUser {
    login: String,
}

/// One entry of a run's review history.
#[derive(Debug, Deserialize)]
struct GhApproval {
    #[serde(default)]
    environments: Vec<GhNamed>,
    state: String,
    user: Option<GhUser>,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GhEnvironment {
    #[serde(default)]
    protection_rules: Vec<GhRule>,
}

#[derive(Debug, Deserialize)]
struct GhRule {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    wait_timer: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GhCustomRules {
    #[serde(default)]
    custom_deployment_protection_rules: Vec<GhCustomRule>,
}

#[derive(Debug, Deserialize)]
struct GhCustomRule {
    #[serde(default = "enabled")]
    enabled: bool,
    app: Option<GhApp>,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct GhApp {
    slug: String,
}

#[derive(Debug, Deserialize)]
struct GhRun {
    #[serde(default)]
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
}

/// One environment a run waits on.
#[derive(Debug, Deserialize)]
struct GhPending {
    environment: GhNamed,
    #[serde(default)]
    reviewers: Vec<GhReviewer>,
    #[serde(default)]
    wait_timer: Option<u64>,
    #[serde(default)]
    wait_timer_started_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GhReviewer {
    /// A user (`login`) or a team (`slug`).
    reviewer: Option<Value>,
}

impl GitHubDeployments {
    /// Deployments of the repository in `config`.
    pub fn new(client: Client, config: GitHubConfig) -> Self {
        GitHubDeployments {
            session: Session::github(client, &config),
            config,
        }
    }

    fn url(&self, rest: &str) -> String {
        self.session.url(rest)
    }

    fn hint(&self) -> String {
        format!(
            "check that `{GITHUB_TOKEN_VAR}` can use deployments of `{}/{}`: in the workflow, `permissions: deployments: write`",
            self.config.owner, self.config.repo
        )
    }

    fn request(&self, method: Method, url: String, operation: &str) -> Result<RequestBuilder<'_>> {
        let missing = || {
            Error::MissingToken {
            operation: operation.to_owned(),
            variables: format!("`{GITHUB_TOKEN_VAR}`"),
            hint: "pass a token: `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: deployments: write`".into(),
        }
        };
        self.session.write(method, url, missing, self.hint())
    }

    fn with_status(&self, d: GhDeployment, created: bool) -> Result<Deployment> {
        let status = self.latest_status(d.id)?;
        Ok(Deployment {
            id: d.id,
            number: d.id,
            url: Some(format!(
                "{}/deployments/{}",
                web_root(&self.config.api_url, &self.config.owner, &self.config.repo),
                encode_component(&d.environment)
            )),
            sha: d.sha,
            environment: d.environment,
            status,
            created_at: d.created_at,
            approvals: Vec::new(),
            pending_approval_count: None,
            created,
            payload: d.payload,
        })
    }

    fn actions_hint(&self) -> String {
        format!(
            "check that `{GITHUB_TOKEN_VAR}` can read Actions runs of `{}/{}`: in the workflow, `permissions: actions: read`",
            self.config.owner, self.config.repo
        )
    }

    /// A read of the run's review state: the token is required (the routes need
    /// `actions: read`), and refusals are hinted with that permission.
    fn actions_request(&self, url: String, operation: &str) -> Result<RequestBuilder<'_>> {
        let missing = || {
            Error::MissingToken {
            operation: operation.to_owned(),
            variables: format!("`{GITHUB_TOKEN_VAR}`"),
            hint: "pass a token: `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: actions: read`".into(),
        }
        };
        self.session
            .write(Method::Get, url, missing, self.actions_hint())
    }

    /// The workflow run that made deployment `id` (from the `run_id` paved put in its payload)
    /// and the deployment's environment; `None` for a deployment made elsewhere or by an older
    /// paved.
    pub fn run_of(&self, id: u64) -> Result<Option<(u64, String)>> {
        let d: GhDeployment = self
            .request(
                Method::Get,
                self.url(&format!("/deployments/{id}")),
                "reading a GitHub deployment",
            )?
            .send()?
            .json()?;
        let run = &d.payload["run_id"];
        Ok(run
            .as_u64()
            .or_else(|| run.as_str().and_then(|s| s.parse().ok()))
            .map(|run| (run, d.environment)))
    }

    /// Whether anything can hold a job in `environment` back: a protection rule other than a
    /// branch policy (required reviewers, a wait timer, a custom rule).
    pub fn environment_gated(&self, environment: &str) -> Result<bool> {
        Ok(self.environment_protection(environment)?.gated())
    }

    /// What can hold a job in `environment` back: its protection rules and its enabled custom
    /// deployment protection rules.
    pub fn environment_protection(&self, environment: &str) -> Result<Protection> {
        let env: GhEnvironment = self
            .actions_request(
                self.session
                    .url(&format!("/environments/{}", encode_component(environment))),
                "reading a GitHub environment",
            )?
            .send()?
            .json()?;
        let mut protection = Protection::default();
        for rule in env.protection_rules {
            match rule.kind.as_str() {
                "branch_policy" => {}
                "required_reviewers" => protection.required_reviewers = true,
                "wait_timer" => {
                    protection.wait_timer_minutes = rule.wait_timer.filter(|m| *m > 0);
                }
                other => protection.custom.push(other.to_owned()),
            }
        }
        let response = self
            .actions_request(
                self.session.url(&format!(
                    "/environments/{}/deployment_protection_rules",
                    encode_component(environment)
                )),
                "reading the custom deployment protection rules of a GitHub environment",
            )?
            .allow_status(404)
            .send()?;
        if response.status() != 404 {
            let rules: GhCustomRules = response.json()?;
            protection.custom.extend(
                rules
                    .custom_deployment_protection_rules
                    .into_iter()
                    .filter(|r| r.enabled)
                    .map(|r| {
                        r.app
                            .map_or_else(|| "(a GitHub App)".to_owned(), |a| a.slug)
                    }),
            );
        }
        Ok(protection)
    }

    /// Workflow run `run_id`'s status and conclusion.
    pub fn run_status(&self, run_id: u64) -> Result<RunStatus> {
        let run: GhRun = self
            .actions_request(
                self.url(&format!("/actions/runs/{run_id}")),
                "reading a GitHub workflow run",
            )?
            .send()?
            .json()?;
        Ok(RunStatus {
            status: run.status,
            conclusion: run.conclusion,
        })
    }

    /// How run `run_id`'s review of `environment` stands: its history (every page), then, unless
    /// it is decided, whether the run still waits on the environment and for whom.
    pub fn run_review(&self, run_id: u64, environment: &str) -> Result<RunReview> {
        let mut review = RunReview::default();
        self.actions_request(
            self.url(&format!("/actions/runs/{run_id}/approvals")),
            "reading the review history of a GitHub workflow run",
        )?
        .for_each_page(MAX_PAGES, |page| {
            let list: Vec<GhApproval> = page.json()?;
            review.reviews.extend(
                list.into_iter()
                    .filter(|a| a.environments.iter().any(|e| e.name == environment))
                    .map(|a| Review {
                        user: a.user.map_or_else(|| "(unknown)".to_owned(), |u| u.login),
                        state: a.state,
                        at: None,
                        comment: a.comment.filter(|c| !c.is_empty()),
                    }),
            );
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        self.actions_request(
            self.url(&format!("/actions/runs/{run_id}/pending_deployments")),
            "reading the pending deployments of a GitHub workflow run",
        )?
        .for_each_page(MAX_PAGES, |page| {
            let list: Vec<GhPending> = page.json()?;
            for p in list
                .into_iter()
                .filter(|p| p.environment.name == environment)
            {
                review.waiting = true;
                review.wait_timer_minutes = p.wait_timer.filter(|m| *m > 0);
                review.wait_timer_started_at = p.wait_timer_started_at;
                review
                    .reviewers
                    .extend(p.reviewers.into_iter().filter_map(|r| {
                        let r = r.reviewer?;
                        r["login"]
                            .as_str()
                            .or_else(|| r["slug"].as_str())
                            .map(str::to_owned)
                    }));
            }
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        Ok(review)
    }

    /// The latest status state of deployment `id` (`none` when it has none yet).
    pub fn latest_status(&self, id: u64) -> Result<String> {
        let statuses: Vec<GhStatus> = self
            .request(
                Method::Get,
                self.url(&format!("/deployments/{id}/statuses")),
                "reading a GitHub deployment",
            )?
            .query("per_page", "1")
            .send()?
            .json()?;
        Ok(statuses
            .into_iter()
            .next()
            .map_or_else(|| "none".to_owned(), |s| s.state))
    }

    /// The statuses of deployment `id`, newest first (the latest 100).
    pub fn statuses(&self, id: u64) -> Result<Vec<DeploymentStatus>> {
        let statuses: Vec<GhStatus> = self
            .request(
                Method::Get,
                self.url(&format!("/deployments/{id}/statuses")),
                "reading a GitHub deployment",
            )?
            .query("per_page", "100")
            .send()?
            .json()?;
        Ok(statuses
            .into_iter()
            .map(|s| DeploymentStatus {
                state: s.state,
                description: s.description.unwrap_or_default(),
            })
            .collect())
    }

    /// The deployment made for `correlation_id` to `environment`, if a run made one.
    pub fn find(&self, environment: &str, correlation_id: &str) -> Result<Option<Deployment>> {
        let mut found = None;
        self.request(
            Method::Get,
            self.url("/deployments"),
            "listing GitHub deployments",
        )?
        .query("environment", environment)
        .query("per_page", "100")
        .for_each_page(MAX_PAGES, |page| {
            let list: Vec<GhDeployment> = page.json()?;
            found = list
                .into_iter()
                .find(|d| d.payload["correlation_id"] == correlation_id);
            Ok::<_, HttpError>(if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        found.map(|d| self.with_status(d, false)).transpose()
    }

    /// Create the deployment for `spec`, or return the one a previous run of the same
    /// correlation id made.
    pub fn create(&self, spec: &DeploymentSpec) -> Result<Deployment> {
        if let Some(existing) = self.find(&spec.environment, &spec.correlation_id)? {
            return Ok(existing);
        }
        let mut payload = if spec.payload.is_object() {
            spec.payload.clone()
        } else {
            json!({})
        };
        payload["correlation_id"] = json!(spec.correlation_id);
        let reference = if spec.ref_name.is_empty() {
            &spec.sha
        } else {
            &spec.ref_name
        };
        let description: String = spec.description.chars().take(140).collect();
        let response = self
            .request(
                Method::Post,
                self.url("/deployments"),
                "creating a GitHub deployment",
            )?
            .json(&json!({
                "ref": reference,
                "environment": spec.environment,
                "description": description,
                "auto_merge": false,
                "payload": payload,
                "production_environment": spec.production,
            }))
            .send()?;
        if response.status() == 202 {
            return Err(Error::Unexpected {
                message: format!(
                    "GitHub answered `202` to creating a deployment of `{reference}` (it merged the default branch instead), which paved does not ask for"
                ),
            });
        }
        let d: GhDeployment = response.json()?;
        self.with_status(d, true)
    }

    /// Deployment `id`.
    pub fn get(&self, id: u64) -> Result<Deployment> {
        let d: GhDeployment = self
            .request(
                Method::Get,
                self.url(&format!("/deployments/{id}")),
                "reading a GitHub deployment",
            )?
            .send()?
            .json()?;
        self.with_status(d, false)
    }

    /// Add a status to deployment `id`.
    pub fn set_status(
        &self,
        id: u64,
        state: &str,
        description: &str,
        log_url: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({
            "state": state,
            "description": description.chars().take(140).collect::<String>(),
        });
        if let Some(url) = log_url {
            body["log_url"] = json!(url);
        }
        self.request(
            Method::Post,
            self.url(&format!("/deployments/{id}/statuses")),
            "setting a GitHub deployment status",
        )?
        .json(&body)
        .send()?;
        Ok(())
    }

    /// The newest deployment to `environment` whose latest status is `success`.
    pub fn last_successful(&self, environment: &str) -> Result<Option<Deployment>> {
        let list: Vec<GhDeployment> = self
            .request(
                Method::Get,
                self.url("/deployments"),
                "listing GitHub deployments",
            )?
            .query("environment", environment)
            .query("per_page", &LAST_SUCCESS_SCAN.to_string())
            .send()?
            .json()?;
        for d in list {
            let deployment = self.with_status(d, false)?;
            if deployment.status == "success" {
                return Ok(Some(deployment));
            }
        }
        Ok(None)
    }
}

/// The web page root of a repository, from its API URL.
fn web_root(api_url: &str, owner: &str, repo: &str) -> String {
    let host = if api_url == "https://api.github.com" {
        "https://github.com".to_owned()
    } else {
        api_url.trim_end_matches("/api/v3").to_owned()
    };
    format!("{host}/{owner}/{repo}")
}

/// GitLab deployments.
#[derive(Debug, Clone)]
pub struct GitLabDeployments {
    session: Session,
    config: GitLabConfig,
}

#[derive(Debug, Deserialize)]
struct GlDeployment {
    id: u64,
    #[serde(default)]
    iid: u64,
    sha: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    created_at: String,
    environment: Option<GlEnvironment>,
    deployable: Option<GlDeployable>,
    #[serde(default)]
    approvals: Vec<GlApproval>,
    #[serde(default)]
    pending_approval_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GlEnvironment {
    name: String,
}

#[derive(Debug, Deserialize)]
struct GlDeployable {
    web_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GlApproval {
    status: String,
    user: Option<GlUser>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GlCommitStatus {
    id: u64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "ref")]
    ref_name: Option<String>,
    #[serde(default)]
    target_url: Option<String>,
}

/// A GitLab commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// `pending`, `running`, `success`, `failed`, `canceled`.
    pub state: String,
    /// The status's name (GitLab's `name`, "context" elsewhere).
    pub name: String,
    /// Its description (GitLab keeps 255 characters).
    pub description: String,
    /// The branch or tag it is for.
    pub ref_name: Option<String>,
    /// A link shown with it.
    pub target_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GlUser {
    username: String,
}

impl GitLabDeployments {
    /// Deployments of the project in `config`.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLabDeployments {
            session: Session::gitlab(client, &config),
            config,
        }
    }

    fn url(&self, rest: &str) -> String {
        self.session.url(rest)
    }

    fn request(&self, method: Method, url: String, operation: &str) -> Result<RequestBuilder<'_>> {
        let missing = || {
            Error::MissingToken {
            operation: operation.to_owned(),
            variables: "`GITLAB_TOKEN`".into(),
            hint: "set `GITLAB_TOKEN` to a project access token with the `api` scope (as a masked CI/CD variable)".into(),
        }
        };
        let hint = format!(
            "check that `GITLAB_TOKEN` has the `api` scope and at least the Developer role in `{}`",
            self.config.project
        );
        self.session.write(method, url, missing, hint)
    }

    fn convert(d: GlDeployment, created: bool, fallback_env: &str) -> Deployment {
        Deployment {
            id: d.id,
            number: d.iid,
            sha: d.sha,
            environment: d
                .environment
                .map_or_else(|| fallback_env.to_owned(), |e| e.name),
            status: d.status,
            created_at: d.created_at,
            url: d.deployable.and_then(|j| j.web_url),
            approvals: d
                .approvals
                .into_iter()
                .map(|a| Review {
                    user: a
                        .user
                        .map_or_else(|| "(unknown)".to_owned(), |u| u.username),
                    state: a.status,
                    at: a.created_at,
                    comment: a.comment.filter(|c| !c.is_empty()),
                })
                .collect(),
            pending_approval_count: d.pending_approval_count,
            created,
            payload: Value::Null,
        }
    }

    /// An unfinished deployment (`created`, `running`, `blocked`) of `sha` to `environment`.
    pub fn find_open(&self, environment: &str, sha: &str) -> Result<Option<Deployment>> {
        let mut found = None;
        self.request(
            Method::Get,
            self.url("/deployments"),
            "listing GitLab deployments",
        )?
        .query("environment", environment)
        .query("order_by", "id")
        .query("sort", "desc")
        .query("per_page", "100")
        .for_each_page(MAX_PAGES, |page| {
            let list: Vec<GlDeployment> = page.json()?;
            found = list.into_iter().find(|d| {
                d.sha == sha && matches!(d.status.as_str(), "created" | "running" | "blocked")
            });
            Ok::<_, HttpError>(if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(found.map(|d| Self::convert(d, false, environment)))
    }

    /// Create a `running` deployment for `spec`, or return the unfinished one a re-run made.
    pub fn create(&self, spec: &DeploymentSpec) -> Result<Deployment> {
        if let Some(existing) = self.find_open(&spec.environment, &spec.sha)? {
            return Ok(existing);
        }
        let reference = if spec.ref_name.is_empty() {
            &spec.sha
        } else {
            &spec.ref_name
        };
        let d: GlDeployment = self
            .request(
                Method::Post,
                self.url("/deployments"),
                "creating a GitLab deployment",
            )?
            .json(&json!({
                "environment": spec.environment,
                "sha": spec.sha,
                "ref": reference,
                "tag": spec.is_tag,
                "status": "running",
            }))
            .send()?
            .json()?;
        Ok(Self::convert(d, true, &spec.environment))
    }

    /// Deployment `id`.
    pub fn get(&self, id: u64) -> Result<Deployment> {
        let d: GlDeployment = self
            .request(
                Method::Get,
                self.url(&format!("/deployments/{id}")),
                "reading a GitLab deployment",
            )?
            .send()?
            .json()?;
        Ok(Self::convert(d, false, ""))
    }

    /// Set the status of deployment `id` (`running`, `success`, `failed`, `canceled`).
    pub fn set_status(&self, id: u64, status: &str) -> Result<Deployment> {
        let d: GlDeployment = self
            .request(
                Method::Put,
                self.url(&format!("/deployments/{id}")),
                "updating a GitLab deployment",
            )?
            .json(&json!({ "status": status }))
            .send()?
            .json()?;
        Ok(Self::convert(d, false, ""))
    }

    /// Post a commit status named `name` on `sha` (`state`: `pending`, `running`, `success`,
    /// `failed`, `canceled`).
    pub fn post_commit_status(&self, sha: &str, status: &CommitStatus) -> Result<()> {
        let mut body = json!({
            "state": status.state,
            "name": status.name,
            "description": status.description,
        });
        if let Some(r) = &status.ref_name {
            body["ref"] = json!(r);
        }
        if let Some(u) = &status.target_url {
            body["target_url"] = json!(u);
        }
        self.request(
            Method::Post,
            self.url(&format!("/statuses/{}", encode_component(sha))),
            "posting a GitLab commit status",
        )?
        .json(&body)
        .send()?;
        Ok(())
    }

    /// Every commit status named `name` on `sha`, newest first.
    pub fn commit_statuses(&self, sha: &str, name: &str) -> Result<Vec<CommitStatus>> {
        let mut all: Vec<GlCommitStatus> = Vec::new();
        self.request(
            Method::Get,
            self.url(&format!(
                "/repository/commits/{}/statuses",
                encode_component(sha)
            )),
            "reading GitLab commit statuses",
        )?
        .query("name", name)
        .query("all", "true")
        .query("per_page", "100")
        .for_each_page(MAX_PAGES, |page| {
            all.extend(page.json::<Vec<GlCommitStatus>>()?);
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        all.sort_by_key(|s| std::cmp::Reverse(s.id));
        Ok(all
            .into_iter()
            .filter(|s| s.name == name)
            .map(|s| CommitStatus {
                state: s.status,
                name: s.name,
                description: s.description.unwrap_or_default(),
                ref_name: s.ref_name,
                target_url: s.target_url,
            })
            .collect())
    }

    /// The newest successful deployment to `environment`.
    pub fn last_successful(&self, environment: &str) -> Result<Option<Deployment>> {
        let list: Vec<GlDeployment> = self
            .request(
                Method::Get,
                self.url("/deployments"),
                "listing GitLab deployments",
            )?
            .query("environment", environment)
            .query("status", "success")
            .query("order_by", "finished_at")
            .query("sort", "desc")
            .query("per_page", "1")
            .send()?
            .json()?;
        Ok(list
            .into_iter()
            .next()
            .map(|d| Self::convert(d, false, environment)))
    }
}
