//! Deployments across many repositories (read only), for `paved-change dora`.
//!
//! GitHub, REST API `2022-11-28`:
//! - `GET /orgs/{org}/repos?type=all&per_page=100` (paginated with `Link`): the organisation's
//!   repositories (`full_name`, `archived`); archived ones are left out.
//! - `GET /repos/{o}/{r}/deployments?environment=&per_page=100` (paginated, newest first).
//! - `GET /repos/{o}/{r}/deployments/{id}/statuses?per_page=100` (newest first): the outcome is
//!   the newest `success`, `failure` or `error` status, at its `created_at`. GitHub marks older
//!   deployments `inactive` after a newer one succeeds, so the newest status alone is not the
//!   outcome.
//! - `GET /repos/{o}/{r}/commits/{sha}`: `commit.committer.date`, the time the deployed commit
//!   landed (one call per distinct commit deployed, cached).
//!
//! GitLab, REST API v4:
//! - `GET /groups/:id/projects?include_subgroups=true&archived=false&per_page=100` (paginated).
//! - `GET /projects/:id/deployments?environment=&updated_after=&order_by=updated_at&sort=desc&per_page=100`
//!   (paginated): `status` `success` or `failed` at `finished_at` (older GitLab: `updated_at`);
//!   the deployed commit's time is `deployable.commit.committed_date` (or its `created_at`).
//!
//! `401`, `403` and `404` are errors naming the request (a usage error when it is the token's
//! access); `429` and `5xx` are retried by [`paved_core::http`].

use std::collections::HashMap;
use std::ops::ControlFlow;

use paved_core::http::{Auth, Client, HttpError, RequestBuilder, Response, encode_component};
use serde::Deserialize;
use serde_json::Value;

use crate::{GitLabToken, MAX_PAGES, Result};

/// One finished deployment, as a forge reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedDeployment {
    /// The repository (`owner/name`) or project path (`group/project`).
    pub repository: String,
    /// The forge's deployment id.
    pub id: u64,
    /// The environment.
    pub environment: String,
    /// The commit deployed.
    pub sha: String,
    /// Whether it succeeded (`false`: GitHub `failure`/`error`, GitLab `failed`).
    pub success: bool,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// When the deployed commit landed (committer time, RFC 3339), when known.
    pub committed_at: Option<String>,
}

/// What a walk over many repositories read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    /// The finished deployments.
    pub deployments: Vec<FinishedDeployment>,
    /// Deployments without a final status yet (left out).
    pub unfinished: usize,
    /// HTTP requests made.
    pub requests: usize,
    /// Lists cut short by the page cap ([`MAX_PAGES`] pages of 100), named.
    pub truncated: Vec<String>,
}

/// Read access to GitHub across an organisation or a list of repositories.
#[derive(Debug, Clone)]
pub struct GitHubFleet {
    client: Client,
    api_url: String,
    auth: Option<Auth>,
}

#[derive(Debug, Deserialize)]
struct GhRepo {
    full_name: String,
    #[serde(default)]
    archived: bool,
}

#[derive(Debug, Deserialize)]
struct GhDeployment {
    id: u64,
    sha: String,
    environment: String,
}

#[derive(Debug, Deserialize)]
struct GhStatus {
    state: String,
    created_at: String,
}

fn github_hint(what: &str) -> String {
    format!(
        "check that `GITHUB_TOKEN` can read {what}: a fine-grained token needs `Deployments: read` and `Contents: read` on each repository (`Metadata: read` to list an organisation's repositories)"
    )
}

impl GitHubFleet {
    /// GitHub at `api_url` (e.g. `https://api.github.com`), with a bearer token when given.
    pub fn new(client: Client, api_url: &str, token: Option<paved_core::http::Secret>) -> Self {
        GitHubFleet {
            client,
            api_url: api_url.trim().trim_end_matches('/').to_owned(),
            auth: token.filter(|t| !t.is_empty()).map(Auth::bearer),
        }
    }

    /// From `GITHUB_API_URL` (default `https://api.github.com`) and `GITHUB_TOKEN`.
    pub fn from_lookup(client: Client, env: impl Fn(&str) -> Option<String>) -> Self {
        let api = crate::non_empty(&env, "GITHUB_API_URL")
            .unwrap_or_else(|| "https://api.github.com".to_owned());
        let token = crate::non_empty(&env, "GITHUB_TOKEN").map(paved_core::http::Secret::new);
        Self::new(client, &api, token)
    }

    fn get(&self, url: String, what: &str) -> RequestBuilder<'_> {
        self.client
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .auth_opt(self.auth.as_ref())
            .auth_hint(github_hint(what))
    }

    /// The repositories of `org` that are not archived (`owner/name`).
    pub fn org_repositories(&self, org: &str, fleet: &mut Fleet) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let pages = self
            .get(
                format!("{}/orgs/{}/repos", self.api_url, encode_component(org)),
                &format!("the repositories of the organisation `{org}`"),
            )
            .query("type", "all")
            .query("per_page", "100")
            .for_each_page(MAX_PAGES, |page: Response| {
                fleet.requests += 1;
                let list: Vec<GhRepo> = page.json()?;
                out.extend(
                    list.into_iter()
                        .filter(|r| !r.archived)
                        .map(|r| r.full_name),
                );
                Ok::<_, HttpError>(ControlFlow::Continue(()))
            })?;
        if pages.truncated {
            fleet.truncated.push(format!("the repositories of `{org}`"));
        }
        Ok(out)
    }

    /// The finished deployments of `repository` (`owner/name`), to `environment` when given,
    /// created at or after `since` (RFC 3339; the newest-first list stops at the first older
    /// one, so a deployment created before `since` that finished after it is not read).
    pub fn deployments(
        &self,
        repository: &str,
        environment: Option<&str>,
        since: &str,
        fleet: &mut Fleet,
    ) -> Result<()> {
        let Some((owner, name)) = repository.split_once('/') else {
            return Err(crate::Error::Config {
                message: format!("`{repository}` is not a GitHub repository `owner/name`"),
                hint: "list repositories as `owner/name`, comma-separated".into(),
            });
        };
        let base = format!(
            "{}/repos/{}/{}",
            self.api_url,
            encode_component(owner),
            encode_component(name)
        );
        let what = format!("the deployments of `{repository}`");
        let mut listed = Vec::new();
        let mut request = self
            .get(format!("{base}/deployments"), &what)
            .query("per_page", "100");
        if let Some(e) = environment {
            request = request.query("environment", e);
        }
        let mut older = false;
        let since_time = paved_core::http::parse_rfc3339(since);
        let pages = request.for_each_page(MAX_PAGES, |page: Response| {
            fleet.requests += 1;
            let list: Vec<Value> = page.json()?;
            for v in list {
                let created = v["created_at"]
                    .as_str()
                    .and_then(paved_core::http::parse_rfc3339);
                if created.is_some_and(|c| since_time.is_some_and(|s| c < s)) {
                    older = true;
                    continue;
                }
                if let Ok(d) = serde_json::from_value::<GhDeployment>(v) {
                    listed.push(d);
                }
            }
            Ok::<_, HttpError>(if older {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        if pages.truncated {
            fleet.truncated.push(what.clone());
        }
        let mut commit_times: HashMap<String, Option<String>> = HashMap::new();
        for d in listed {
            fleet.requests += 1;
            let statuses: Vec<GhStatus> = self
                .get(format!("{base}/deployments/{}/statuses", d.id), &what)
                .query("per_page", "100")
                .send()?
                .json()?;
            let Some(last) = statuses
                .iter()
                .find(|s| matches!(s.state.as_str(), "success" | "failure" | "error"))
            else {
                fleet.unfinished += 1;
                continue;
            };
            let success = last.state == "success";
            // Only a successful deployment has a lead time, so only its commit is asked for.
            let committed_at = match commit_times.get(&d.sha) {
                _ if !success => None,
                Some(t) => t.clone(),
                None => {
                    fleet.requests += 1;
                    let commit: Value = self
                        .get(
                            format!("{base}/commits/{}", encode_component(&d.sha)),
                            &format!("the commits of `{repository}`"),
                        )
                        .send()?
                        .json()?;
                    let t = commit["commit"]["committer"]["date"]
                        .as_str()
                        .map(str::to_owned);
                    commit_times.insert(d.sha.clone(), t.clone());
                    t
                }
            };
            fleet.deployments.push(FinishedDeployment {
                repository: repository.to_owned(),
                id: d.id,
                environment: d.environment,
                sha: d.sha,
                success,
                finished_at: last.created_at.clone(),
                committed_at,
            });
        }
        Ok(())
    }
}

/// Read access to GitLab across a group.
#[derive(Debug, Clone)]
pub struct GitLabFleet {
    client: Client,
    api_url: String,
    auth: Option<Auth>,
}

#[derive(Debug, Deserialize)]
struct GlProject {
    id: u64,
    path_with_namespace: String,
}

fn gitlab_hint(what: &str) -> String {
    format!(
        "check that `GITLAB_TOKEN` can read {what}: a token with the `read_api` scope, of a member with at least the Reporter role"
    )
}

impl GitLabFleet {
    /// GitLab at `api_url` (e.g. `https://gitlab.com/api/v4`).
    pub fn new(client: Client, api_url: &str, token: Option<GitLabToken>) -> Self {
        GitLabFleet {
            client,
            api_url: api_url.trim().trim_end_matches('/').to_owned(),
            auth: token.map(|t| t.auth()),
        }
    }

    /// From `CI_API_V4_URL` (default `https://gitlab.com/api/v4`) and `GITLAB_TOKEN` or
    /// `CI_JOB_TOKEN`.
    pub fn from_lookup(client: Client, env: impl Fn(&str) -> Option<String>) -> Self {
        let api = crate::non_empty(&env, "CI_API_V4_URL")
            .unwrap_or_else(|| "https://gitlab.com/api/v4".to_owned());
        let secret = paved_core::http::Secret::new;
        let token = crate::non_empty(&env, "GITLAB_TOKEN")
            .map(|t| GitLabToken::Private(secret(t)))
            .or_else(|| {
                crate::non_empty(&env, "CI_JOB_TOKEN").map(|t| GitLabToken::Job(secret(t)))
            });
        Self::new(client, &api, token)
    }

    fn get(&self, url: String, what: &str) -> RequestBuilder<'_> {
        self.client
            .get(url)
            .auth_opt(self.auth.as_ref())
            .auth_hint(gitlab_hint(what))
    }

    /// The projects of `group` (id or path) and its subgroups, not archived: `(id, path)`.
    pub fn group_projects(&self, group: &str, fleet: &mut Fleet) -> Result<Vec<(u64, String)>> {
        let mut out = Vec::new();
        let what = format!("the projects of the group `{group}`");
        let pages = self
            .get(
                format!(
                    "{}/groups/{}/projects",
                    self.api_url,
                    encode_component(group)
                ),
                &what,
            )
            .query("include_subgroups", "true")
            .query("archived", "false")
            .query("per_page", "100")
            .for_each_page(MAX_PAGES, |page: Response| {
                fleet.requests += 1;
                let list: Vec<GlProject> = page.json()?;
                out.extend(list.into_iter().map(|p| (p.id, p.path_with_namespace)));
                Ok::<_, HttpError>(ControlFlow::Continue(()))
            })?;
        if pages.truncated {
            fleet.truncated.push(what);
        }
        Ok(out)
    }

    /// The finished deployments of project `id` (shown as `path`), updated after `since`.
    pub fn deployments(
        &self,
        id: u64,
        path: &str,
        environment: Option<&str>,
        since: &str,
        fleet: &mut Fleet,
    ) -> Result<()> {
        let what = format!("the deployments of `{path}`");
        let mut request = self
            .get(format!("{}/projects/{id}/deployments", self.api_url), &what)
            .query("updated_after", since)
            .query("order_by", "updated_at")
            .query("sort", "desc")
            .query("per_page", "100");
        if let Some(e) = environment {
            request = request.query("environment", e);
        }
        let pages = request.for_each_page(MAX_PAGES, |page: Response| {
            fleet.requests += 1;
            let list: Vec<Value> = page.json()?;
            for d in list {
                let success = match d["status"].as_str() {
                    Some("success") => true,
                    Some("failed") => false,
                    _ => {
                        fleet.unfinished += 1;
                        continue;
                    }
                };
                let finished = d["finished_at"]
                    .as_str()
                    .or_else(|| d["updated_at"].as_str());
                let (Some(dep_id), Some(finished)) = (d["id"].as_u64(), finished) else {
                    continue;
                };
                let commit = &d["deployable"]["commit"];
                fleet.deployments.push(FinishedDeployment {
                    repository: path.to_owned(),
                    id: dep_id,
                    environment: d["environment"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    sha: d["sha"].as_str().unwrap_or_default().to_owned(),
                    success,
                    finished_at: finished.to_owned(),
                    committed_at: commit["committed_date"]
                        .as_str()
                        .or_else(|| commit["created_at"].as_str())
                        .map(str::to_owned),
                });
            }
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
        if pages.truncated {
            fleet.truncated.push(what);
        }
        Ok(())
    }
}
