//! GitLab (GitLab.com or self-managed) over its REST API v4.
//!
//! Endpoints used, with the answers relied on:
//! - `GET /projects/:id/repository/commits/:sha/merge_requests`: MRs of a commit (`404 Commit
//!   Not Found` for an unknown one); `GET /projects/:id` for the default branch when several
//!   merged MRs contain the commit.
//! - `GET /projects/:id/merge_requests/:iid` and `/approvals`: merger and approvers.
//! - `GET /projects/:id/repository/commits/:sha` (`committed_date`) and
//!   `GET /projects/:id/merge_requests?state=merged&author_username=&created_before=&merged_before=`:
//!   earlier merged MRs of a user.
//! - `GET /projects/:id/releases/:tag_name` (`404` when none), `POST /projects/:id/releases`
//!   (`201`; `409 Conflict` when it exists), `PUT /projects/:id/releases/:tag_name`.
//! - `PUT /projects/:id/packages/generic/:package/:version/:file` (`201`) and
//!   `GET`/`POST /projects/:id/releases/:tag_name/assets/links`: assets live in the generic
//!   package registry and are linked from the release (`link_type: package`).
//!
//! `:id` is `CI_PROJECT_ID`, or the URL-encoded `CI_PROJECT_PATH` (`group%2Fproject`).

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::OnceLock;
use std::time::SystemTime;

use paved_core::http::{
    Auth, Client, HttpError, Method, RequestBuilder, Secret, encode_component, format_utc,
    parse_rfc3339,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::Session;
use crate::{
    AssetInfo, ChangeRequest, Error, Forge, ForgeKind, MAX_PAGES, ReleaseInfo, ReleaseSpec, Result,
    asset_name, non_empty,
};

const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";
const PRIVATE_TOKEN_VAR: &str = "GITLAB_TOKEN";
const JOB_TOKEN_VAR: &str = "CI_JOB_TOKEN";
/// Appended to a pre-release's name: GitLab releases have no pre-release flag.
const PRERELEASE_MARK: &str = " (pre-release)";

/// A GitLab credential: a personal, project or group access token, or a CI job token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitLabToken {
    /// An access token (`GITLAB_TOKEN`), sent as `PRIVATE-TOKEN`.
    Private(Secret),
    /// The job's token (`CI_JOB_TOKEN`), sent as `JOB-TOKEN`.
    Job(Secret),
}

impl GitLabToken {
    /// The token value.
    pub fn secret(&self) -> &Secret {
        match self {
            GitLabToken::Private(s) | GitLabToken::Job(s) => s,
        }
    }

    /// The variable this kind of token comes from, for messages.
    pub fn variable(&self) -> &'static str {
        match self {
            GitLabToken::Private(_) => PRIVATE_TOKEN_VAR,
            GitLabToken::Job(_) => JOB_TOKEN_VAR,
        }
    }

    pub(crate) fn auth(&self) -> Auth {
        match self {
            GitLabToken::Private(s) => Auth::header("PRIVATE-TOKEN", s.clone()),
            GitLabToken::Job(s) => Auth::header("JOB-TOKEN", s.clone()),
        }
    }
}

/// Where and as whom to talk to GitLab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabConfig {
    /// The REST API root, e.g. `https://gitlab.com/api/v4`.
    pub api_url: String,
    /// The project: its numeric id, or its path (`group/subgroup/project`), not encoded.
    pub project: String,
    /// The token, if any.
    pub token: Option<GitLabToken>,
    /// The generic package that release assets are uploaded to.
    pub package_name: String,
}

impl GitLabConfig {
    /// An explicit configuration. The asset package is named after the project's last path
    /// segment (`release` for a numeric id); see [`GitLabConfig::with_package_name`].
    pub fn new(api_url: &str, project: &str, token: Option<GitLabToken>) -> Result<Self> {
        let api_url = api_url.trim().trim_end_matches('/');
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(Error::Config {
                message: format!("the GitLab API URL `{api_url}` is not an http(s) URL"),
                hint: format!("set `CI_API_V4_URL` to the REST API root, e.g. `{DEFAULT_API_URL}`"),
            });
        }
        let project = project.trim().trim_matches('/');
        if project.is_empty() {
            return Err(missing_project());
        }
        let package = if project.chars().all(|c| c.is_ascii_digit()) {
            "release"
        } else {
            project.rsplit('/').next().unwrap_or("release")
        };
        Ok(GitLabConfig {
            api_url: api_url.to_owned(),
            project: project.to_owned(),
            token: token.filter(|t| !t.secret().is_empty()),
            package_name: package_name(package),
        })
    }

    /// Use `name` for the generic package that holds release assets (invalid characters become
    /// `-`).
    pub fn with_package_name(mut self, name: &str) -> Self {
        self.package_name = package_name(name);
        self
    }

    /// From the variables GitLab CI sets: `CI_API_V4_URL`, `CI_PROJECT_ID` (or
    /// `CI_PROJECT_PATH`), `CI_PROJECT_NAME` for the asset package, and `GITLAB_TOKEN` (an access
    /// token with the `api` scope) or else `CI_JOB_TOKEN`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`GitLabConfig::from_env`] with a lookup function instead of the process environment.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let api_url =
            non_empty(&env, "CI_API_V4_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let project = non_empty(&env, "CI_PROJECT_ID")
            .or_else(|| non_empty(&env, "CI_PROJECT_PATH"))
            .ok_or_else(missing_project)?;
        let token = non_empty(&env, PRIVATE_TOKEN_VAR)
            .map(|t| GitLabToken::Private(Secret::new(t)))
            .or_else(|| non_empty(&env, JOB_TOKEN_VAR).map(|t| GitLabToken::Job(Secret::new(t))));
        let mut config = Self::new(&api_url, &project, token)?;
        if let Some(name) = non_empty(&env, "CI_PROJECT_NAME") {
            config = config.with_package_name(&name);
        }
        Ok(config)
    }
}

fn missing_project() -> Error {
    Error::Config {
        message: "neither `CI_PROJECT_ID` nor `CI_PROJECT_PATH` is set, so paved does not know which GitLab project to use".into(),
        hint: "run inside GitLab CI, or set `CI_PROJECT_PATH=group/project`".into(),
    }
}

/// A generic package name: `[A-Za-z0-9._-]`, other characters replaced by `-`.
fn package_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.trim_matches(['-', '.']).is_empty() {
        "release".to_owned()
    } else {
        cleaned
    }
}

/// A generic package version from a tag: `[A-Za-z0-9_+.-]`, others replaced by `-`, no `..`.
fn package_version(tag: &str) -> String {
    let mut version = String::with_capacity(tag.len());
    for c in tag.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
            c
        } else {
            '-'
        };
        if !(c == '.' && version.ends_with('.')) {
            version.push(c);
        }
    }
    version
}

/// GitLab behind the [`Forge`] trait.
#[derive(Debug)]
pub struct GitLab {
    session: Session,
    config: GitLabConfig,
    default_branch: OnceLock<Option<String>>,
}

#[derive(Debug, Deserialize)]
struct User {
    username: String,
}

#[derive(Debug, Deserialize)]
struct MergeRequest {
    iid: u64,
    web_url: String,
    #[serde(default)]
    title: String,
    author: Option<User>,
    merge_user: Option<User>,
    merged_by: Option<User>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    target_branch: String,
    merged_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Approvals {
    #[serde(default)]
    approved_by: Vec<Approval>,
}

#[derive(Debug, Deserialize)]
struct Approval {
    user: User,
}

#[derive(Debug, Deserialize)]
struct Commit {
    committed_date: String,
}

#[derive(Debug, Deserialize)]
struct Project {
    default_branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Release {
    tag_name: String,
    #[serde(rename = "_links")]
    links: Option<ReleaseLinks>,
}

#[derive(Debug, Deserialize)]
struct ReleaseLinks {
    #[serde(rename = "self")]
    web: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AssetLink {
    name: String,
    url: String,
    direct_asset_url: Option<String>,
}

impl GitLab {
    /// GitLab with an explicit client and configuration.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLab {
            session: Session::gitlab(client, &config),
            config,
            default_branch: OnceLock::new(),
        }
    }

    /// GitLab configured from the environment (see [`GitLabConfig::from_env`]).
    pub fn from_env() -> Result<Self> {
        let client = Client::from_env().map_err(|e| Error::Config {
            message: e.to_string(),
            hint: "fix or unset the variable".into(),
        })?;
        Ok(GitLab::new(client, GitLabConfig::from_env()?))
    }

    /// The configuration.
    pub fn config(&self) -> &GitLabConfig {
        &self.config
    }

    fn project_url(&self, rest: &str) -> String {
        self.session.url(rest)
    }

    fn token_variable(&self) -> &'static str {
        self.config
            .token
            .as_ref()
            .map_or(PRIVATE_TOKEN_VAR, GitLabToken::variable)
    }

    fn read_hint(&self) -> String {
        format!(
            "check that `{}` is set and can read the project `{}` (an access token needs the `read_api` scope)",
            self.token_variable(),
            self.config.project
        )
    }

    fn write_hint(&self) -> String {
        match &self.config.token {
            Some(GitLabToken::Job(_)) => format!(
                "`{JOB_TOKEN_VAR}` may not be allowed to do this on `{}`; set `{PRIVATE_TOKEN_VAR}` to a project access token with the `api` scope and the Developer role or higher",
                self.config.project
            ),
            _ => format!(
                "check that `{PRIVATE_TOKEN_VAR}` has the `api` scope and at least the Developer role on `{}`",
                self.config.project
            ),
        }
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
            variables: format!("neither `{PRIVATE_TOKEN_VAR}` nor `{JOB_TOKEN_VAR}`"),
            hint: format!(
                "set `{PRIVATE_TOKEN_VAR}` as a masked CI/CD variable holding a project access token with the `api` scope (`{JOB_TOKEN_VAR}` is set by GitLab CI inside jobs)"
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

    fn default_branch(&self) -> Result<Option<String>> {
        if let Some(branch) = self.default_branch.get() {
            return Ok(branch.clone());
        }
        let project: Project = self.read(self.project_url("")).send()?.json()?;
        Ok(self
            .default_branch
            .get_or_init(|| project.default_branch)
            .clone())
    }

    fn merge_request(&self, iid: u64) -> Result<MergeRequest> {
        Ok(self
            .read(self.project_url(&format!("/merge_requests/{iid}")))
            .send()?
            .json()?)
    }

    fn find_release(&self, tag: &str) -> Result<Option<Release>> {
        let response = self
            .read(self.project_url(&format!("/releases/{}", encode_component(tag))))
            .allow_status(404)
            .send()?;
        if response.status() == 404 {
            return Ok(None);
        }
        Ok(Some(response.json()?))
    }

    fn update_release(&self, spec: &ReleaseSpec, name: &str) -> Result<ReleaseInfo> {
        let release: Release = self
            .write(
                Method::Put,
                self.project_url(&format!("/releases/{}", encode_component(&spec.tag))),
                &format!("updating the GitLab release `{}`", spec.tag),
            )?
            .json(&json!({ "name": name, "description": spec.body }))
            .send()?
            .json()?;
        Ok(self.info(release, false))
    }

    fn info(&self, release: Release, created: bool) -> ReleaseInfo {
        let url = release.links.and_then(|l| l.web).unwrap_or_else(|| {
            self.project_url(&format!(
                "/releases/{}",
                encode_component(&release.tag_name)
            ))
        });
        ReleaseInfo {
            id: None,
            tag: release.tag_name,
            url,
            upload_url: None,
            created,
        }
    }
}

fn release_name(spec: &ReleaseSpec) -> String {
    let name = if spec.name.trim().is_empty() {
        spec.tag.clone()
    } else {
        spec.name.clone()
    };
    if spec.prerelease && !name.ends_with(PRERELEASE_MARK) {
        format!("{name}{PRERELEASE_MARK}")
    } else {
        name
    }
}

fn to_change_request(mr: MergeRequest) -> ChangeRequest {
    ChangeRequest {
        number: mr.iid,
        url: mr.web_url,
        title: mr.title,
        author_login: mr.author.map_or_else(|| "ghost".to_owned(), |u| u.username),
        merged_by_login: mr.merge_user.or(mr.merged_by).map(|u| u.username),
        merged_at: mr.merged_at,
        approvers: Vec::new(),
    }
}

fn message_mentions(response: &paved_core::http::Response, words: &[&str]) -> bool {
    let text = response
        .error_message()
        .unwrap_or_default()
        .to_ascii_lowercase();
    words.iter().any(|w| text.contains(w))
}

impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    fn pull_request_for_commit(&self, sha: &str) -> Result<Option<ChangeRequest>> {
        let response = self
            .read(self.project_url(&format!(
                "/repository/commits/{}/merge_requests",
                encode_component(sha)
            )))
            .allow_status(404)
            .send()?;
        if response.status() == 404 {
            if message_mentions(&response, &["commit"]) {
                return Ok(None);
            }
            return Err(response.into_error(Some(self.read_hint())).into());
        }
        let mrs: Vec<MergeRequest> = response.json()?;
        let merged: Vec<usize> = (0..mrs.len())
            .filter(|&i| mrs[i].state == "merged")
            .collect();
        let best = match merged.as_slice() {
            [] => (!mrs.is_empty()).then_some(0),
            [only] => Some(*only),
            several => {
                let default = self.default_branch()?;
                several
                    .iter()
                    .copied()
                    .find(|&i| default.as_deref() == Some(mrs[i].target_branch.as_str()))
                    .or(Some(several[0]))
            }
        };
        Ok(best.and_then(|i| mrs.into_iter().nth(i).map(to_change_request)))
    }

    fn add_review_details(&self, change: &mut ChangeRequest) -> Result<()> {
        if change.merged_by_login.is_none() {
            let mr = self.merge_request(change.number)?;
            if change.merged_at.is_none() {
                change.merged_at.clone_from(&mr.merged_at);
            }
            change.merged_by_login = mr.merge_user.or(mr.merged_by).map(|u| u.username);
        }
        let approvals: Approvals = self
            .read(self.project_url(&format!("/merge_requests/{}/approvals", change.number)))
            .send()?
            .json()?;
        change.approvers = approvals
            .approved_by
            .into_iter()
            .map(|a| a.user.username)
            .collect();
        Ok(())
    }

    fn commit_author_login(&self, sha: &str) -> Result<Option<String>> {
        // GitLab's commits carry a name and an email, not an account: use the MR's author.
        Ok(self.pull_request_for_commit(sha)?.map(|c| c.author_login))
    }

    fn is_first_contribution(&self, login: &str, before: Option<&str>) -> Result<bool> {
        let Some(before) = before else {
            return Ok(true);
        };
        let commit_url =
            self.project_url(&format!("/repository/commits/{}", encode_component(before)));
        let commit: Commit = self.read(commit_url).send()?.json()?;
        let cutoff: SystemTime =
            parse_rfc3339(&commit.committed_date).ok_or_else(|| Error::Unexpected {
                message: format!(
                    "GitLab gave `{}` as the date of `{before}`, which is not an RFC 3339 time",
                    commit.committed_date
                ),
            })?;
        let cutoff_text = format_utc(cutoff);
        let mut found = false;
        // `merged_before` is recent GitLab; `created_before` narrows the list on older servers
        // too, and the dates are checked here either way.
        self.read(self.project_url("/merge_requests"))
            .query("state", "merged")
            .query("author_username", login)
            .query("created_before", &cutoff_text)
            .query("merged_before", &cutoff_text)
            .query("per_page", "100")
            .for_each_page(MAX_PAGES, |page| {
                let mrs: Vec<MergeRequest> = page.json()?;
                found = mrs.iter().any(|mr| {
                    mr.merged_at
                        .as_deref()
                        .and_then(parse_rfc3339)
                        .is_some_and(|at| at <= cutoff)
                });
                Ok::<_, HttpError>(if found {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
        Ok(!found)
    }

    fn create_or_update_release(&self, spec: &ReleaseSpec) -> Result<ReleaseInfo> {
        if spec.draft {
            return Err(Error::Unsupported {
                message: format!(
                    "GitLab has no draft releases, so the release `{}` cannot be created as a draft",
                    spec.tag
                ),
                hint: "publish it without `draft`".into(),
            });
        }
        let operation = format!("creating the GitLab release `{}`", spec.tag);
        self.require_token(&operation)?;
        let name = release_name(spec);
        if self.find_release(&spec.tag)?.is_some() {
            return self.update_release(spec, &name);
        }
        let mut body = json!({
            "tag_name": spec.tag,
            "name": name,
            "description": spec.body,
        });
        if let Some(target) = &spec.target {
            body["ref"] = Value::String(target.clone());
        }
        let response = self
            .write(Method::Post, self.project_url("/releases"), &operation)?
            .json(&body)
            .allow_status(409)
            .allow_status(422)
            .send()?;
        match response.status() {
            // Created by another job, or by our own POST that was retried.
            409 => self.update_release(spec, &name),
            422 if message_mentions(&response, &["already exists"]) => {
                self.update_release(spec, &name)
            }
            422 => Err(response.into_error(None).into()),
            _ => Ok(self.info(response.json()?, true)),
        }
    }

    fn upload_asset(&self, release: &ReleaseInfo, path: &Path) -> Result<AssetInfo> {
        let name = asset_name(path)?;
        let operation = format!("uploading the release asset `{name}`");
        self.require_token(&operation)?;
        let package_url = self.project_url(&format!(
            "/packages/generic/{}/{}/{}",
            encode_component(&self.config.package_name),
            encode_component(&package_version(&release.tag)),
            encode_component(&name)
        ));
        self.write(Method::Put, package_url.clone(), &operation)?
            .file(path, "application/octet-stream")
            .send()?;

        let links_url = self.project_url(&format!(
            "/releases/{}/assets/links",
            encode_component(&release.tag)
        ));
        let links: Vec<AssetLink> = self
            .read(links_url.clone())
            .query("per_page", "100")
            .paginate(MAX_PAGES)?
            .items;
        if let Some(link) = links.into_iter().find(|l| l.name == name) {
            return Ok(AssetInfo {
                url: link.direct_asset_url.unwrap_or(link.url),
                name,
                replaced: true,
            });
        }
        let response = self
            .write(Method::Post, links_url, &operation)?
            .json(&json!({
                "name": name,
                "url": package_url,
                "direct_asset_path": format!("/{name}"),
                "link_type": "package",
            }))
            .allow_status(400)
            .allow_status(409)
            .allow_status(422)
            .send()?;
        if response.status() >= 400 {
            // A link of that name appeared since we listed them (a parallel job): keep it.
            if message_mentions(&response, &["taken", "already exist"]) {
                return Ok(AssetInfo {
                    url: package_url,
                    name,
                    replaced: true,
                });
            }
            return Err(response.into_error(None).into());
        }
        let link: AssetLink = response.json()?;
        Ok(AssetInfo {
            url: link.direct_asset_url.unwrap_or(link.url),
            name,
            replaced: false,
        })
    }

    fn token(&self) -> Option<&Secret> {
        self.config.token.as_ref().map(GitLabToken::secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_and_versions() {
        assert_eq!(package_name("my project"), "my-project");
        assert_eq!(package_name("@@"), "release");
        assert_eq!(
            package_version("v1.2.3-rc.1+build.5"),
            "v1.2.3-rc.1+build.5"
        );
        assert_eq!(package_version("pkg@1.2..3"), "pkg-1.2.3");
    }

    #[test]
    fn prerelease_names() {
        let mut spec = ReleaseSpec {
            tag: "v1.0.0-rc.1".into(),
            prerelease: true,
            ..ReleaseSpec::default()
        };
        assert_eq!(release_name(&spec), "v1.0.0-rc.1 (pre-release)");
        spec.name = "v1.0.0-rc.1 (pre-release)".into();
        assert_eq!(release_name(&spec), "v1.0.0-rc.1 (pre-release)");
        spec.prerelease = false;
        spec.name = "Release 1".into();
        assert_eq!(release_name(&spec), "Release 1");
    }

    #[test]
    fn config_from_env() {
        let env = |k: &str| match k {
            "CI_PROJECT_PATH" => Some("group/sub/proj".to_owned()),
            "CI_JOB_TOKEN" => Some("job-123".to_owned()),
            "GITLAB_TOKEN" => Some(String::new()),
            _ => None,
        };
        let config = GitLabConfig::from_lookup(env).unwrap();
        assert_eq!(config.api_url, DEFAULT_API_URL);
        assert_eq!(config.project, "group/sub/proj");
        assert_eq!(config.package_name, "proj");
        assert!(matches!(config.token, Some(GitLabToken::Job(_))));
        let err = GitLabConfig::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains("CI_PROJECT_ID"), "{err}");
    }
}
