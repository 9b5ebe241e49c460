//! GitHub (and GitHub Enterprise Server) over its REST API, version `2022-11-28`.
//!
//! Endpoints used, with the answers relied on:
//! - `GET /repos/{o}/{r}/commits/{sha}/pulls`: PRs of a commit (`422` for an unknown commit).
//! - `GET /repos/{o}/{r}/pulls/{n}` and `/pulls/{n}/reviews`: merger and approvals.
//! - `GET /repos/{o}/{r}/commits/{sha}`: `author.login` (`null` when the email maps to no one).
//! - `GET /repos/{o}/{r}/commits?sha=&author=&per_page=1`: earlier commits by a user.
//! - `GET /repos/{o}/{r}/releases/tags/{tag}` (`404` when none; drafts are never returned, so
//!   `GET /repos/{o}/{r}/releases` is searched for a draft), `POST /repos/{o}/{r}/releases`
//!   (`201`; `422` with `already_exists` when one exists), `PATCH /repos/{o}/{r}/releases/{id}`.
//! - `GET /repos/{o}/{r}/releases/{id}/assets`, `DELETE /repos/{o}/{r}/releases/assets/{id}`,
//!   `POST {upload_url}?name=` (`201`; `422 already_exists` for a duplicate name).

use std::ops::ControlFlow;
use std::path::Path;

use paved_core::http::{
    Client, HttpError, Method, RequestBuilder, Response, Secret, encode_component,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::Session;
use crate::{
    AssetInfo, ChangeRequest, Error, Forge, ForgeKind, MAX_PAGES, ReleaseInfo, ReleaseSpec, Result,
    asset_name, content_type, non_empty,
};

const DEFAULT_API_URL: &str = "https://api.github.com";
const TOKEN_VAR: &str = "GITHUB_TOKEN";
/// Pages of the release list searched for a draft with the wanted tag.
const DRAFT_SCAN_PAGES: usize = 3;

/// Where and as whom to talk to GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubConfig {
    /// The REST API root, e.g. `https://api.github.com` or `https://ghes.example/api/v3`.
    pub api_url: String,
    /// The repository owner.
    pub owner: String,
    /// The repository name.
    pub repo: String,
    /// The token, if any.
    pub token: Option<Secret>,
}

impl GitHubConfig {
    /// An explicit configuration. `repository` is `owner/repo`.
    pub fn new(api_url: &str, repository: &str, token: Option<Secret>) -> Result<Self> {
        let (owner, repo) = split_repository(repository)?;
        let api_url = api_url.trim().trim_end_matches('/');
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(Error::Config {
                message: format!("the GitHub API URL `{api_url}` is not an http(s) URL"),
                hint: format!(
                    "set `GITHUB_API_URL` to the REST API root, e.g. `{DEFAULT_API_URL}` or `https://github.example.com/api/v3`"
                ),
            });
        }
        Ok(GitHubConfig {
            api_url: api_url.to_owned(),
            owner,
            repo,
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// From the variables GitHub Actions sets: `GITHUB_API_URL`, `GITHUB_REPOSITORY`, and
    /// `GITHUB_TOKEN` (which workflows pass explicitly through `env:`).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`GitHubConfig::from_env`] with a lookup function instead of the process environment.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let repository = non_empty(&env, "GITHUB_REPOSITORY").ok_or_else(|| Error::Config {
            message: "`GITHUB_REPOSITORY` is not set, so paved does not know which GitHub repository to use".into(),
            hint: "run inside GitHub Actions, or set `GITHUB_REPOSITORY=owner/repo`".into(),
        })?;
        let api_url =
            non_empty(&env, "GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let token = non_empty(&env, TOKEN_VAR).map(Secret::new);
        Self::new(&api_url, &repository, token)
    }
}

fn split_repository(repository: &str) -> Result<(String, String)> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repository.trim().split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => Ok((owner.into(), repo.into())),
        _ => Err(Error::Config {
            message: format!("`GITHUB_REPOSITORY` is `{repository}`, not `owner/repo`"),
            hint: "set it to the repository's `owner/repo`, e.g. `paved-dev/paved`".into(),
        }),
    }
}

/// GitHub behind the [`Forge`] trait.
#[derive(Debug, Clone)]
pub struct GitHub {
    session: Session,
    config: GitHubConfig,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
    #[serde(default)]
    title: String,
    user: Option<User>,
    merged_at: Option<String>,
    merged_by: Option<User>,
    base: Option<Base>,
}

#[derive(Debug, Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    branch: String,
    repo: Option<Repo>,
}

#[derive(Debug, Deserialize)]
struct Repo {
    default_branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Review {
    user: Option<User>,
    state: String,
}

#[derive(Debug, Deserialize)]
struct Commit {
    author: Option<User>,
}

#[derive(Debug, Deserialize)]
struct Release {
    id: u64,
    html_url: String,
    upload_url: Option<String>,
    tag_name: String,
    #[serde(default)]
    draft: bool,
}

#[derive(Debug, Deserialize)]
struct Asset {
    id: u64,
    name: String,
    browser_download_url: Option<String>,
}

impl GitHub {
    /// GitHub with an explicit client and configuration.
    pub fn new(client: Client, config: GitHubConfig) -> Self {
        GitHub {
            session: Session::github(client, &config),
            config,
        }
    }

    /// GitHub configured from the environment (see [`GitHubConfig::from_env`]).
    pub fn from_env() -> Result<Self> {
        let client = Client::from_env().map_err(|e| Error::Config {
            message: e.to_string(),
            hint: "fix or unset the variable".into(),
        })?;
        Ok(GitHub::new(client, GitHubConfig::from_env()?))
    }

    /// The configuration.
    pub fn config(&self) -> &GitHubConfig {
        &self.config
    }

    fn repo_url(&self, rest: &str) -> String {
        self.session.url(rest)
    }

    fn slug(&self) -> String {
        format!("{}/{}", self.config.owner, self.config.repo)
    }

    fn read_hint(&self) -> String {
        format!(
            "check that `{TOKEN_VAR}` is set and can read `{}` (`contents: read`, `pull-requests: read`)",
            self.slug()
        )
    }

    fn write_hint(&self) -> String {
        format!(
            "check that `{TOKEN_VAR}` can write to `{}`: in the workflow, `permissions: contents: write` and `env: GITHUB_TOKEN: ${{{{ github.token }}}}`",
            self.slug()
        )
    }

    fn read<'c>(&'c self, url: String) -> RequestBuilder<'c> {
        self.session.read(url, self.read_hint())
    }

    fn require_token(&self, operation: &str) -> Result<()> {
        self.session
            .require_token(|| Self::missing_token(operation))
    }

    /// The usage error that says which variable to set.
    fn missing_token(operation: &str) -> Error {
        Error::MissingToken {
            operation: operation.to_owned(),
            variables: format!("`{TOKEN_VAR}`"),
            hint: format!(
                "pass a token: in the workflow, `env: GITHUB_TOKEN: ${{{{ github.token }}}}` with `permissions: contents: write` (or set `{TOKEN_VAR}` locally)"
            ),
        }
    }

    fn write<'c>(
        &'c self,
        method: Method,
        url: String,
        operation: &str,
    ) -> Result<RequestBuilder<'c>> {
        self.session.write(
            method,
            url,
            || Self::missing_token(operation),
            self.write_hint(),
        )
    }

    /// The release for `tag`, published or draft.
    fn find_release(&self, tag: &str) -> Result<Option<Release>> {
        let response = self
            .read(self.repo_url(&format!("/releases/tags/{}", encode_component(tag))))
            .allow_status(404)
            .send()?;
        if response.status() == 200 {
            return Ok(Some(response.json()?));
        }
        // Drafts are not returned by tag; they are listed, newest first, to those who can push.
        // A draft left by an earlier run of this release is recent, so a few pages suffice.
        let mut found = None;
        self.read(self.repo_url("/releases"))
            .query("per_page", "100")
            .for_each_page(DRAFT_SCAN_PAGES, |page| {
                let releases: Vec<Release> = page.json()?;
                found = releases.into_iter().find(|r| r.draft && r.tag_name == tag);
                Ok::<_, HttpError>(if found.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
        Ok(found)
    }

    fn update_release(&self, release: &Release, spec: &ReleaseSpec) -> Result<ReleaseInfo> {
        let operation = format!("updating the GitHub release `{}`", spec.tag);
        let updated: Release = self
            .write(
                Method::Patch,
                self.repo_url(&format!("/releases/{}", release.id)),
                &operation,
            )?
            .json(&release_body(spec))
            .send()?
            .json()?;
        Ok(info(updated, false))
    }

    fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>> {
        Ok(self
            .read(self.repo_url(&format!("/releases/{release_id}/assets")))
            .query("per_page", "100")
            .paginate(MAX_PAGES)?
            .items)
    }

    fn delete_asset_named(&self, release_id: u64, name: &str) -> Result<bool> {
        let mut deleted = false;
        for asset in self
            .list_assets(release_id)?
            .into_iter()
            .filter(|a| a.name == name)
        {
            self.write(
                Method::Delete,
                self.repo_url(&format!("/releases/assets/{}", asset.id)),
                &format!("replacing the release asset `{name}`"),
            )?
            .allow_status(404)
            .send()?;
            deleted = true;
        }
        Ok(deleted)
    }

    /// Where assets are uploaded when the release does not say: `uploads.github.com` for
    /// github.com, `/api/uploads` on GitHub Enterprise Server, else the API root itself.
    fn default_upload_url(&self, release_id: u64) -> String {
        let api = &self.config.api_url;
        let root = if api == DEFAULT_API_URL {
            "https://uploads.github.com".to_owned()
        } else if let Some(host) = api.strip_suffix("/api/v3") {
            format!("{host}/api/uploads")
        } else {
            api.clone()
        };
        format!(
            "{root}/repos/{}/{}/releases/{release_id}/assets",
            encode_component(&self.config.owner),
            encode_component(&self.config.repo)
        )
    }

    fn upload(&self, url: &str, name: &str, path: &Path) -> Result<Response> {
        Ok(self
            .write(
                Method::Post,
                url.to_owned(),
                &format!("uploading the release asset `{name}`"),
            )?
            .query("name", name)
            .file(path, content_type(name))
            .allow_status(422)
            .send()?)
    }
}

fn release_body(spec: &ReleaseSpec) -> Value {
    let mut body = json!({
        "tag_name": spec.tag,
        "name": spec.name,
        "body": spec.body,
        "draft": spec.draft,
        "prerelease": spec.prerelease,
    });
    if let Some(target) = &spec.target {
        body["target_commitish"] = json!(target);
    }
    body
}

fn info(release: Release, created: bool) -> ReleaseInfo {
    ReleaseInfo {
        id: Some(release.id),
        tag: release.tag_name,
        url: release.html_url,
        upload_url: release
            .upload_url
            .as_deref()
            .map(|u| strip_uri_template(u).to_owned()),
        created,
    }
}

/// `https://uploads.github.com/…/assets{?name,label}` without its RFC 6570 template part.
fn strip_uri_template(url: &str) -> &str {
    url.split('{').next().unwrap_or_default()
}

/// Whether a `422` body says that something already exists (GitHub's `already_exists` code).
fn already_exists(response: &Response) -> bool {
    let Ok(body) = response.json::<Value>() else {
        return false;
    };
    body["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["code"] == "already_exists"))
}

fn to_change_request(pull: Pull) -> ChangeRequest {
    ChangeRequest {
        number: pull.number,
        url: pull.html_url,
        title: pull.title,
        author_login: pull.user.map_or_else(|| "ghost".to_owned(), |u| u.login),
        merged_by_login: pull.merged_by.map(|u| u.login),
        merged_at: pull.merged_at,
        approvers: Vec::new(),
    }
}

/// The users whose latest deciding review approves, in the order they first approved.
fn approvers(reviews: Vec<Review>) -> Vec<String> {
    let mut latest: Vec<(String, String)> = Vec::new();
    for review in reviews {
        let Some(user) = review.user else { continue };
        // Comments do not change a reviewer's verdict.
        if review.state == "COMMENTED" || review.state == "PENDING" {
            continue;
        }
        match latest.iter_mut().find(|(login, _)| *login == user.login) {
            Some(slot) => slot.1 = review.state,
            None => latest.push((user.login, review.state)),
        }
    }
    latest
        .into_iter()
        .filter(|(_, state)| state == "APPROVED")
        .map(|(login, _)| login)
        .collect()
}

impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    fn pull_request_for_commit(&self, sha: &str) -> Result<Option<ChangeRequest>> {
        let response = self
            .read(self.repo_url(&format!("/commits/{}/pulls", encode_component(sha))))
            .query("per_page", "100")
            .allow_status(422)
            .send()?;
        if response.status() == 422 {
            // "No commit found for SHA": not pushed, or not in this repository.
            return Ok(None);
        }
        let pulls: Vec<Pull> = response.json()?;
        let into_default = |p: &Pull| {
            p.merged_at.is_some()
                && p.base.as_ref().is_some_and(|b| {
                    b.repo
                        .as_ref()
                        .and_then(|r| r.default_branch.as_deref())
                        .is_some_and(|d| d == b.branch)
                })
        };
        let best = pulls
            .iter()
            .position(into_default)
            .or_else(|| pulls.iter().position(|p| p.merged_at.is_some()))
            .or(if pulls.is_empty() { None } else { Some(0) });
        Ok(best.and_then(|i| pulls.into_iter().nth(i).map(to_change_request)))
    }

    fn add_review_details(&self, change: &mut ChangeRequest) -> Result<()> {
        if change.merged_by_login.is_none() {
            let pull: Pull = self
                .read(self.repo_url(&format!("/pulls/{}", change.number)))
                .send()?
                .json()?;
            change.merged_by_login = pull.merged_by.map(|u| u.login);
            if change.merged_at.is_none() {
                change.merged_at = pull.merged_at;
            }
        }
        let reviews: Vec<Review> = self
            .read(self.repo_url(&format!("/pulls/{}/reviews", change.number)))
            .query("per_page", "100")
            .paginate(MAX_PAGES)?
            .items;
        change.approvers = approvers(reviews);
        Ok(())
    }

    fn commit_author_login(&self, sha: &str) -> Result<Option<String>> {
        let response = self
            .read(self.repo_url(&format!("/commits/{}", encode_component(sha))))
            .allow_status(422)
            .send()?;
        if response.status() == 422 {
            return Ok(None);
        }
        let commit: Commit = response.json()?;
        Ok(commit.author.map(|u| u.login))
    }

    fn is_first_contribution(&self, login: &str, before: Option<&str>) -> Result<bool> {
        let Some(before) = before else {
            return Ok(true);
        };
        let earlier: Vec<Value> = self
            .read(self.repo_url("/commits"))
            .query("sha", before)
            .query("author", login)
            .query("per_page", "1")
            .send()?
            .json()?;
        Ok(earlier.is_empty())
    }

    fn create_or_update_release(&self, spec: &ReleaseSpec) -> Result<ReleaseInfo> {
        let operation = format!("creating the GitHub release `{}`", spec.tag);
        // A missing token fails before any request.
        self.require_token(&operation)?;
        if let Some(existing) = self.find_release(&spec.tag)? {
            return self.update_release(&existing, spec);
        }
        let response = self
            .write(Method::Post, self.repo_url("/releases"), &operation)?
            .json(&release_body(spec))
            .allow_status(422)
            .send()?;
        if response.status() == 422 {
            if !already_exists(&response) {
                return Err(response.into_error(None).into());
            }
            // Another job (or our own retried POST) created it in the meantime.
            let existing = self.find_release(&spec.tag)?.ok_or_else(|| Error::Unexpected {
                message: format!(
                    "GitHub says the release `{}` of `{}` already exists, but it is not found by tag or among the releases",
                    spec.tag,
                    self.slug()
                ),
            })?;
            return self.update_release(&existing, spec);
        }
        Ok(info(response.json()?, true))
    }

    fn upload_asset(&self, release: &ReleaseInfo, path: &Path) -> Result<AssetInfo> {
        let name = asset_name(path)?;
        let id = release.id.ok_or_else(|| Error::Unexpected {
            message: format!(
                "the GitHub release `{}` has no id to upload `{name}` to",
                release.tag
            ),
        })?;
        // A missing token fails before any request.
        self.require_token(&format!("uploading the release asset `{name}`"))?;
        let url = release
            .upload_url
            .as_deref()
            .map(strip_uri_template)
            .filter(|u| !u.is_empty())
            .map_or_else(|| self.default_upload_url(id), str::to_owned);
        let replaced = self.delete_asset_named(id, &name)?;
        let mut response = self.upload(&url, &name, path)?;
        if response.status() == 422 {
            if !already_exists(&response) {
                return Err(response.into_error(None).into());
            }
            // A retried upload that had landed, or a broken upload GitHub keeps as a "starter"
            // asset: delete it and upload once more.
            self.delete_asset_named(id, &name)?;
            response = self.upload(&url, &name, path)?;
            if response.status() == 422 {
                return Err(response.into_error(None).into());
            }
        }
        let asset: Asset = response.json()?;
        Ok(AssetInfo {
            url: asset.browser_download_url.unwrap_or_default(),
            name: asset.name,
            replaced,
        })
    }

    fn token(&self) -> Option<&Secret> {
        self.config.token.as_ref()
    }
}
