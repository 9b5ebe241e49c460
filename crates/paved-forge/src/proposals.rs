//! One standing pull request (GitHub) or merge request (GitLab) that carries a bot's edit of one
//! file, for paved-quarantine's `update --propose`.
//!
//! The proposal lives on a fixed branch (`paved/quarantine` by default). Each run replaces that
//! branch with **one** commit on top of the commit the edit was computed from, then finds the open
//! PR/MR whose source is that branch and updates its title and body, or opens one. A re-run
//! therefore updates the same PR/MR and never opens a second; a create that raced another job
//! (GitHub `422` "A pull request already exists", GitLab `409`) is treated as "update instead".
//! When there is nothing to change, [`ProposalTracker::withdraw`] closes the open one with a
//! comment. No `git push` is involved: the commit is made through the API, so the token never
//! reaches git.
//!
//! Only a PR/MR from the repository's **own** branch counts as the open one: the listings below
//! also match forks whose branch has the same name, and editing or closing one of those would put
//! paved's title and body on someone else's change. GitHub: `head.repo.full_name` is `{o}/{r}`
//! and `head.ref` the branch; GitLab: `source_project_id` is the project's own `id`. The author is
//! not compared: a rotated project access token is a new user, and its predecessor's MR is still
//! paved's.
//!
//! GitHub, REST API `2022-11-28`:
//! - `GET /repos/{o}/{r}` (`default_branch`);
//! - `GET /repos/{o}/{r}/git/commits/{sha}` (`tree.sha`), `POST /repos/{o}/{r}/git/trees`
//!   (`base_tree`, the file's content inline) → `201`, `POST /repos/{o}/{r}/git/commits`
//!   (`message`, `tree`, `parents`) → `201`;
//! - `PATCH /repos/{o}/{r}/git/refs/heads/{branch}` (`sha`, `force: true`) → `200`, or `422`
//!   when the branch does not exist, then `POST /repos/{o}/{r}/git/refs` → `201`;
//! - `GET /repos/{o}/{r}/pulls?head={owner}:{branch}&state=open` (`head.ref`,
//!   `head.repo.full_name`), `POST /repos/{o}/{r}/pulls`
//!   → `201` (`422` when one is open already), `PATCH /repos/{o}/{r}/pulls/{n}` → `200`;
//! - closing: `POST /repos/{o}/{r}/issues/{n}/comments` → `201`, then
//!   `PATCH /repos/{o}/{r}/pulls/{n}` (`state: closed`) → `200`.
//!
//! GitLab, REST API v4:
//! - `GET /projects/:id` (`id`, `default_branch`);
//! - `POST /projects/:id/repository/commits` (`branch`, `start_sha`, `force: true`, one
//!   `create` or `update` action) → `201`;
//! - `GET /projects/:id/merge_requests?source_branch=&state=opened` (`source_project_id`),
//!   `POST /projects/:id/merge_requests` → `201` (`409` when one is open already),
//!   `PUT /projects/:id/merge_requests/:iid` → `200`;
//! - closing: `POST /projects/:id/merge_requests/:iid/notes` → `201`, then
//!   `PUT /projects/:id/merge_requests/:iid` (`state_event: close`) → `200`.

use std::fmt;

use paved_core::http::{Client, Method, RequestBuilder, encode_component};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::Session;
use crate::{Error, ForgeKind, GitHubConfig, GitLabConfig, Result};

/// The branch `update --propose` uses unless told otherwise.
pub const DEFAULT_BRANCH: &str = "paved/quarantine";

/// The change to propose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalSpec {
    /// The branch the proposal lives on (replaced on every run).
    pub branch: String,
    /// The commit the new content was computed from: the branch's one commit sits on it.
    pub base_commit: String,
    /// The file, relative to the repository root, with `/` separators.
    pub path: String,
    /// Its new content.
    pub content: String,
    /// Whether the file exists at `base_commit` (GitLab needs to know: `create` or `update`).
    pub file_exists: bool,
    /// The commit message.
    pub message: String,
    /// The PR/MR title.
    pub title: String,
    /// The PR/MR description (markdown).
    pub body: String,
}

/// A PR/MR as the forge has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The PR number or MR `iid`.
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// Whether this run opened it (`false`: an open one was updated or closed).
    pub created: bool,
}

/// Keep one PR/MR that proposes an edit of one file.
pub trait ProposalTracker: fmt::Debug + Send + Sync {
    /// Which forge this is.
    fn kind(&self) -> ForgeKind;

    /// The repository's default branch (what the PR/MR targets).
    fn default_branch(&self) -> Result<String>;

    /// The open PR/MR whose source branch is `branch`.
    fn find_open(&self, branch: &str) -> Result<Option<Proposal>>;

    /// Replace `spec.branch` with one commit on `spec.base_commit` that writes the file. Returns
    /// the new commit's sha.
    fn push_file(&self, spec: &ProposalSpec) -> Result<String>;

    /// Open a PR/MR from `spec.branch` into `target`. `None` when the forge answers that one is
    /// open already (another job opened it since [`ProposalTracker::find_open`] looked).
    fn create(&self, spec: &ProposalSpec, target: &str) -> Result<Option<Proposal>>;

    /// Set the title and body of PR/MR `number`.
    fn edit(&self, number: u64, spec: &ProposalSpec) -> Result<Proposal>;

    /// Comment on PR/MR `number`, then close it.
    fn close(&self, number: u64, comment: &str) -> Result<()>;

    /// Push the change and open the PR/MR, or update the open one. Safe to re-run.
    ///
    /// Refused (a usage error, nothing written) when `spec.branch` is the default branch: the
    /// branch is force-replaced on every run, which would throw away the default branch's
    /// history.
    fn propose(&self, spec: &ProposalSpec) -> Result<Proposal> {
        let target = self.default_branch()?;
        if spec.branch == target {
            return Err(Error::Config {
                message: format!(
                    "the {} branch `{}` is the repository's default branch, which paved would force-replace with one commit; nothing was pushed",
                    self.noun(),
                    spec.branch
                ),
                hint: format!(
                    "pass `--propose-branch` a branch of its own (the default is `{DEFAULT_BRANCH}`)"
                ),
            });
        }
        self.push_file(spec)?;
        if let Some(open) = self.find_open(&spec.branch)? {
            return self.edit(open.number, spec);
        }
        if let Some(created) = self.create(spec, &target)? {
            return Ok(created);
        }
        let open = self
            .find_open(&spec.branch)?
            .ok_or_else(|| Error::Unexpected {
                message: format!(
                    "the forge said a {} from `{}` is open already, but lists none",
                    self.noun(),
                    spec.branch
                ),
            })?;
        self.edit(open.number, spec)
    }

    /// Close the open PR/MR from `branch` with `comment`, if there is one.
    fn withdraw(&self, branch: &str, comment: &str) -> Result<Option<Proposal>> {
        let Some(open) = self.find_open(branch)? else {
            return Ok(None);
        };
        self.close(open.number, comment)?;
        Ok(Some(open))
    }

    /// The vendor's word for the object: "pull request" or "merge request".
    fn noun(&self) -> &'static str {
        match self.kind() {
            ForgeKind::GitHub => "pull request",
            ForgeKind::GitLab => "merge request",
        }
    }
}

/// The proposal tracker of `kind`, configured from the CI environment like [`crate::from_env`].
pub fn from_env(kind: ForgeKind) -> Result<Box<dyn ProposalTracker>> {
    let client = Client::from_env().map_err(|e| Error::Config {
        message: e.to_string(),
        hint: "fix or unset the variable".into(),
    })?;
    Ok(match kind {
        ForgeKind::GitHub => Box::new(GitHubProposals::new(client, GitHubConfig::from_env()?)),
        ForgeKind::GitLab => Box::new(GitLabProposals::new(client, GitLabConfig::from_env()?)),
    })
}

/// A branch name as path segments of a URL (`paved/quarantine` stays two segments).
fn branch_path(branch: &str) -> String {
    branch
        .split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn unexpected(what: &str, e: impl fmt::Display) -> Error {
    Error::Unexpected {
        message: format!("{what}: the answer is not what the API documents: {e}"),
    }
}

#[derive(Debug, Deserialize)]
struct GhPull {
    number: u64,
    html_url: String,
    /// Absent in the answers to `POST`/`PATCH` of older servers; the listing always has it.
    #[serde(default)]
    head: Option<GhHead>,
}

#[derive(Debug, Deserialize)]
struct GhHead {
    #[serde(rename = "ref")]
    branch: String,
    /// `null` when the fork the pull request came from was deleted.
    repo: Option<GhRepo>,
}

#[derive(Debug, Deserialize)]
struct GhRepo {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct GhSha {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct GhCommit {
    tree: GhSha,
}

/// Pull requests of a GitHub repository.
#[derive(Debug, Clone)]
pub struct GitHubProposals {
    session: Session,
    config: GitHubConfig,
}

impl GitHubProposals {
    /// Pull requests of the repository in `config`.
    pub fn new(client: Client, config: GitHubConfig) -> Self {
        GitHubProposals {
            session: Session::github(client, &config),
            config,
        }
    }

    fn request(&self, method: Method, rest: &str, operation: &str) -> Result<RequestBuilder<'_>> {
        let missing = || {
            Error::MissingToken {
            operation: operation.to_owned(),
            variables: "`GITHUB_TOKEN`".into(),
            hint: "pass a token: `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: contents: write, pull-requests: write`".into(),
        }
        };
        let hint = format!(
            "check that the token can push branches and open pull requests in `{}/{}`: `permissions: contents: write, pull-requests: write`, and the repository setting \"Allow GitHub Actions to create and approve pull requests\"",
            self.config.owner, self.config.repo
        );
        self.session
            .write(method, self.session.url(rest), missing, hint)
    }
}

impl ProposalTracker for GitHubProposals {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    fn default_branch(&self) -> Result<String> {
        let what = "reading the GitHub repository's default branch";
        let repo: Value = self.request(Method::Get, "", what)?.send()?.json()?;
        repo["default_branch"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| unexpected(what, "no `default_branch`"))
    }

    fn find_open(&self, branch: &str) -> Result<Option<Proposal>> {
        let pulls: Vec<GhPull> = self
            .request(Method::Get, "/pulls", "listing GitHub pull requests")?
            .query("head", &format!("{}:{branch}", self.config.owner))
            .query("state", "open")
            .query("per_page", "100")
            .send()?
            .json()?;
        // `head=owner:branch` also matches a fork the same owner holds (`octo/widgets-fork`):
        // only a pull request from this repository's own branch is ours to edit or close.
        let own = format!("{}/{}", self.config.owner, self.config.repo);
        let ours = |p: &GhPull| {
            p.head.as_ref().is_some_and(|h| {
                h.branch == branch
                    && h.repo
                        .as_ref()
                        .is_some_and(|r| r.full_name.eq_ignore_ascii_case(&own))
            })
        };
        Ok(pulls.into_iter().find(ours).map(|p| Proposal {
            number: p.number,
            url: p.html_url,
            created: false,
        }))
    }

    fn push_file(&self, spec: &ProposalSpec) -> Result<String> {
        let what = format!("committing `{}` to the branch `{}`", spec.path, spec.branch);
        let base: GhCommit = self
            .request(
                Method::Get,
                &format!("/git/commits/{}", encode_component(&spec.base_commit)),
                &what,
            )?
            .send()?
            .json()?;
        let tree: GhSha = self
            .request(Method::Post, "/git/trees", &what)?
            .json(&json!({
                "base_tree": base.tree.sha,
                "tree": [{"path": spec.path, "mode": "100644", "type": "blob", "content": spec.content}],
            }))
            .send()?
            .json()?;
        let commit: GhSha = self
            .request(Method::Post, "/git/commits", &what)?
            .json(&json!({
                "message": spec.message,
                "tree": tree.sha,
                "parents": [spec.base_commit],
            }))
            .send()?
            .json()?;
        let updated = self
            .request(
                Method::Patch,
                &format!("/git/refs/heads/{}", branch_path(&spec.branch)),
                &what,
            )?
            .json(&json!({"sha": commit.sha, "force": true}))
            .allow_status(422)
            .send()?;
        if updated.status() == 422 {
            // "Reference does not exist": the first run creates the branch.
            self.request(Method::Post, "/git/refs", &what)?
                .json(&json!({"ref": format!("refs/heads/{}", spec.branch), "sha": commit.sha}))
                .send()?;
        }
        Ok(commit.sha)
    }

    fn create(&self, spec: &ProposalSpec, target: &str) -> Result<Option<Proposal>> {
        let response = self
            .request(Method::Post, "/pulls", "opening a GitHub pull request")?
            .json(&json!({
                "title": spec.title,
                "head": spec.branch,
                "base": target,
                "body": spec.body,
                "maintainer_can_modify": true,
            }))
            .allow_status(422)
            .send()?;
        if response.status() == 422 {
            let body: Value = response.json().unwrap_or(Value::Null);
            let exists = body["errors"].as_array().is_some_and(|errors| {
                errors.iter().any(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("A pull request already exists"))
                })
            });
            if exists {
                return Ok(None);
            }
            return Err(Error::Http(response.into_error(Some(format!(
                "check that the branch `{}` and the base `{target}` exist, and that the token may open pull requests",
                spec.branch
            )))));
        }
        let pull: GhPull = response.json()?;
        Ok(Some(Proposal {
            number: pull.number,
            url: pull.html_url,
            created: true,
        }))
    }

    fn edit(&self, number: u64, spec: &ProposalSpec) -> Result<Proposal> {
        let pull: GhPull = self
            .request(
                Method::Patch,
                &format!("/pulls/{number}"),
                &format!("updating the GitHub pull request #{number}"),
            )?
            .json(&json!({"title": spec.title, "body": spec.body}))
            .send()?
            .json()?;
        Ok(Proposal {
            number: pull.number,
            url: pull.html_url,
            created: false,
        })
    }

    fn close(&self, number: u64, comment: &str) -> Result<()> {
        let what = format!("closing the GitHub pull request #{number}");
        self.request(Method::Post, &format!("/issues/{number}/comments"), &what)?
            .json(&json!({ "body": comment }))
            .send()?;
        self.request(Method::Patch, &format!("/pulls/{number}"), &what)?
            .json(&json!({"state": "closed"}))
            .send()?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct GlMerge {
    iid: u64,
    web_url: String,
    #[serde(default)]
    source_project_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct GlProject {
    id: u64,
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GlCommit {
    id: String,
}

/// Merge requests of a GitLab project.
#[derive(Debug, Clone)]
pub struct GitLabProposals {
    session: Session,
    config: GitLabConfig,
}

impl GitLabProposals {
    /// Merge requests of the project in `config`.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLabProposals {
            session: Session::gitlab(client, &config),
            config,
        }
    }

    fn request(&self, method: Method, rest: &str, operation: &str) -> Result<RequestBuilder<'_>> {
        let missing = || {
            Error::MissingToken {
            operation: operation.to_owned(),
            variables: "`GITLAB_TOKEN`".into(),
            hint: "set `GITLAB_TOKEN` to a project access token with the `api` scope and the Developer role (as a masked CI/CD variable); the job token cannot push or open merge requests".into(),
        }
        };
        let hint = format!(
            "check that `GITLAB_TOKEN` has the `api` scope and at least the Developer role in `{}`, and that the branch is not protected against it",
            self.config.project
        );
        self.session
            .write(method, self.session.url(rest), missing, hint)
    }

    /// `GET /projects/:id`: the numeric id (the configured project may be a path) and the
    /// default branch.
    fn project(&self, what: &str) -> Result<GlProject> {
        self.request(Method::Get, "", what)?
            .send()?
            .json()
            .map_err(|e| unexpected(what, e))
    }
}

impl ProposalTracker for GitLabProposals {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    fn default_branch(&self) -> Result<String> {
        let what = "reading the GitLab project's default branch";
        self.project(what)?
            .default_branch
            .filter(|b| !b.is_empty())
            .ok_or_else(|| unexpected(what, "no `default_branch`"))
    }

    fn find_open(&self, branch: &str) -> Result<Option<Proposal>> {
        // `source_branch=` also lists merge requests from forks whose branch has that name:
        // only one from this project's own branch is ours to edit or close.
        let own = self.project("reading the GitLab project's id")?.id;
        let merges: Vec<GlMerge> = self
            .request(
                Method::Get,
                "/merge_requests",
                "listing GitLab merge requests",
            )?
            .query("source_branch", branch)
            .query("state", "opened")
            .query("per_page", "100")
            .send()?
            .json()?;
        Ok(merges
            .into_iter()
            .find(|m| m.source_project_id == Some(own))
            .map(|m| Proposal {
                number: m.iid,
                url: m.web_url,
                created: false,
            }))
    }

    fn push_file(&self, spec: &ProposalSpec) -> Result<String> {
        let commit: GlCommit = self
            .request(
                Method::Post,
                "/repository/commits",
                &format!("committing `{}` to the branch `{}`", spec.path, spec.branch),
            )?
            .json(&json!({
                "branch": spec.branch,
                "start_sha": spec.base_commit,
                "force": true,
                "commit_message": spec.message,
                "actions": [{
                    "action": if spec.file_exists { "update" } else { "create" },
                    "file_path": spec.path,
                    "content": spec.content,
                }],
            }))
            .send()?
            .json()?;
        Ok(commit.id)
    }

    fn create(&self, spec: &ProposalSpec, target: &str) -> Result<Option<Proposal>> {
        let response = self
            .request(
                Method::Post,
                "/merge_requests",
                "opening a GitLab merge request",
            )?
            .json(&json!({
                "source_branch": spec.branch,
                "target_branch": target,
                "title": spec.title,
                "description": spec.body,
                "remove_source_branch": true,
            }))
            .allow_status(409)
            .send()?;
        if response.status() == 409 {
            // "Another open merge request already exists for this source branch".
            return Ok(None);
        }
        let merge: GlMerge = response.json()?;
        Ok(Some(Proposal {
            number: merge.iid,
            url: merge.web_url,
            created: true,
        }))
    }

    fn edit(&self, number: u64, spec: &ProposalSpec) -> Result<Proposal> {
        let merge: GlMerge = self
            .request(
                Method::Put,
                &format!("/merge_requests/{number}"),
                &format!("updating the GitLab merge request !{number}"),
            )?
            .json(&json!({"title": spec.title, "description": spec.body}))
            .send()?
            .json()?;
        Ok(Proposal {
            number: merge.iid,
            url: merge.web_url,
            created: false,
        })
    }

    fn close(&self, number: u64, comment: &str) -> Result<()> {
        let what = format!("closing the GitLab merge request !{number}");
        self.request(
            Method::Post,
            &format!("/merge_requests/{number}/notes"),
            &what,
        )?
        .json(&json!({ "body": comment }))
        .send()?;
        self.request(Method::Put, &format!("/merge_requests/{number}"), &what)?
            .json(&json!({"state_event": "close"}))
            .send()?;
        Ok(())
    }
}
