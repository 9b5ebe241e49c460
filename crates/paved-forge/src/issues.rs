//! Issues on GitHub and GitLab (open, find, close), for paved-quarantine's `update --open-issues`.
//!
//! Opening is idempotent: an open issue that is the spec's own is reused instead of opening a
//! second one, so a re-run of a job does not file duplicates. With a [`IssueSpec::marker`] (a
//! hidden HTML comment naming what the issue is about, made by [`hidden_marker`]), "its own" is
//! an open issue (with the label, when one is given) whose body *starts* with that marker line
//! and that the token's own identity wrote (`GET /user`; for the Actions `GITHUB_TOKEN`,
//! `github-actions[bot]`; as [`crate::comments`] decides): a person may retitle the issue and it
//! is still found; an issue someone else wrote, with the same title and no marker or with the
//! marker planted, is not ours, and is never reused, commented on or closed. (A rotated GitLab
//! token is a new user: its predecessor's issues are not recognised, and new ones are opened.)
//! The marker is matched as the whole first line, so a marker quoted further down a body, or the
//! marker of a test whose name merely starts like this one's, does not count. Without a marker the exact
//! title is the key. Closing an issue that is already closed is a no-op (no second comment).
//!
//! A marked issue is looked up by listing the open issues with the label (GitHub and GitLab
//! alike: GitLab's `search` matches words, not a marker, and a title search would miss a
//! retitled issue), so an issue whose label a person removed is not found and a second one is
//! opened.
//!
//! GitHub, REST API `2022-11-28`:
//! - `GET /user` (with a marker: who the token is; `403` for the Actions `GITHUB_TOKEN`);
//! - `GET /repos/{o}/{r}/issues?state=open&labels=&per_page=100` (paginated with `Link`; pull
//!   requests are listed too and carry `pull_request`, so they are skipped);
//! - `POST /repos/{o}/{r}/issues` (`title`, `body`, `labels`) → `201`;
//! - `GET /repos/{o}/{r}/issues/{n}` (`state` = `open` / `closed`),
//!   `POST /repos/{o}/{r}/issues/{n}/comments` → `201`,
//!   `PATCH /repos/{o}/{r}/issues/{n}` (`state: closed`, `state_reason: completed`) → `200`.
//!
//! GitLab, REST API v4:
//! - `GET /user` (with a marker: who the token is);
//! - `GET /projects/:id/issues?state=opened&labels=&per_page=100` (paginated; without a marker,
//!   narrowed with `in=title&search=<title>`);
//! - `POST /projects/:id/issues` (`title`, `description`, `labels` comma-separated) → `201`;
//! - `GET /projects/:id/issues/:iid` (`state` = `opened` / `closed`),
//!   `POST /projects/:id/issues/:iid/notes` → `201`,
//!   `PUT /projects/:id/issues/:iid` (`state_event: close`) → `200`.

use std::fmt;
use std::ops::ControlFlow;

use paved_core::http::{Client, HttpError, Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::comments::{Account, Author, token_author};
use crate::session::Session;
use crate::{Error, ForgeKind, GitHubConfig, GitLabConfig, MAX_PAGES, Result};

/// The issue to open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSpec {
    /// The title; also how a re-run finds the issue it opened.
    pub title: String,
    /// The description (markdown).
    pub body: String,
    /// Labels to set (created by the forge if missing).
    pub labels: Vec<String>,
    /// The hidden marker `body` starts with ([`hidden_marker`]): how a re-run recognises the
    /// issue it opened, whatever its title became. `None`: the exact title is the key.
    #[serde(default)]
    pub marker: Option<String>,
}

/// A hidden marker for the first line of an issue body: an HTML comment `<!-- {name} k=v … -->`
/// that the forge does not render. Values are percent-encoded where they could end the comment
/// (`<`, `>`), start another field or line (whitespace, control characters), or be mistaken for
/// an encoding (`%`), so any test name gives exactly one marker and no marker is a prefix of
/// another's line.
pub fn hidden_marker(name: &str, fields: &[(&str, &str)]) -> String {
    let mut out = format!("<!-- {name}");
    for (key, value) in fields {
        out.push(' ');
        out.push_str(key);
        out.push('=');
        for c in value.chars() {
            if c == '%' || c == '<' || c == '>' || c.is_whitespace() || c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
    }
    out.push_str(" -->");
    out
}

/// Whether `body` is marked with `marker`: its first line (leading blank space and a trailing
/// `\r` aside, as the forges store edited bodies) is exactly the marker.
fn is_marked(body: Option<&str>, marker: &str) -> bool {
    body.and_then(|b| b.trim_start().lines().next())
        .is_some_and(|line| line.trim_end() == marker)
}

/// Whether the listed issue (`title`, `body`, written `by`) is the one `spec` describes; `me`
/// is the token's identity, known when `spec` has a marker.
fn is_own(
    spec: &IssueSpec,
    me: Option<Author>,
    title: &str,
    body: Option<&str>,
    by: Option<&Account>,
) -> bool {
    match (&spec.marker, me) {
        (Some(marker), Some(me)) => is_marked(body, marker) && me.is(by),
        (Some(_), None) => false,
        (None, _) => title == spec.title,
    }
}

/// An issue as the forge has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// GitHub's issue number, GitLab's `iid` (the `#12` number).
    pub number: u64,
    /// The issue's web page.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Whether this call opened it (`false`: an open one with the same title was reused).
    pub created: bool,
}

/// Open, find and close issues.
pub trait IssueTracker: fmt::Debug + Send + Sync {
    /// Which forge this is.
    fn kind(&self) -> ForgeKind;

    /// The open issue that is `spec`'s own (carrying its first label, when it has one): marked
    /// with `spec.marker`, or without a marker titled exactly `spec.title`.
    fn find_open_issue(&self, spec: &IssueSpec) -> Result<Option<Issue>>;

    /// Open an issue, or return the open one that is `spec`'s own.
    fn open_issue(&self, spec: &IssueSpec) -> Result<Issue> {
        if let Some(found) = self.find_open_issue(spec)? {
            return Ok(found);
        }
        self.create_issue(spec)
    }

    /// Open a new issue, without looking for an existing one.
    fn create_issue(&self, spec: &IssueSpec) -> Result<Issue>;

    /// Close the issue at `url` (its web page, as [`Issue::url`]), first adding `comment` if
    /// given. Returns `false` if it was already closed (then nothing is posted).
    fn close_issue(&self, url: &str, comment: Option<&str>) -> Result<bool>;
}

/// The issue tracker of `kind`, configured from the CI environment like [`crate::from_env`].
pub fn from_env(kind: ForgeKind) -> Result<Box<dyn IssueTracker>> {
    let client = Client::from_env().map_err(|e| Error::Config {
        message: e.to_string(),
        hint: "fix or unset the variable".into(),
    })?;
    Ok(match kind {
        ForgeKind::GitHub => Box::new(GitHubIssues::new(client, GitHubConfig::from_env()?)),
        ForgeKind::GitLab => Box::new(GitLabIssues::new(client, GitLabConfig::from_env()?)),
    })
}

/// The issue number at the end of an issue URL (`…/issues/12`, `…/-/issues/12`).
pub fn issue_number(url: &str) -> Result<u64> {
    let trimmed = url.trim().trim_end_matches('/');
    let mut rev = trimmed.rsplit('/');
    match (rev.next().map(str::parse::<u64>), rev.next()) {
        (Some(Ok(n)), Some("issues")) => Ok(n),
        _ => Err(Error::Config {
            message: format!("`{url}` is not an issue URL (expected `…/issues/<number>`)"),
            hint: "fix the `issue` of that entry in the quarantine list, or remove it".into(),
        }),
    }
}

#[derive(Debug, Deserialize)]
struct GhIssue {
    number: u64,
    html_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<Account>,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

/// Issues of a GitHub repository.
#[derive(Debug, Clone)]
pub struct GitHubIssues {
    session: Session,
    config: GitHubConfig,
}

impl GitHubIssues {
    /// Issues of the repository in `config`.
    pub fn new(client: Client, config: GitHubConfig) -> Self {
        GitHubIssues {
            session: Session::github(client, &config),
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
            variables: "`GITHUB_TOKEN`".into(),
            hint: "pass a token: `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: issues: write`".into(),
        }
        };
        self.session.write(method, url, missing, self.hint())
    }

    fn hint(&self) -> String {
        format!(
            "check that `GITHUB_TOKEN` can write issues of `{}/{}`: in the workflow, `permissions: issues: write`",
            self.config.owner, self.config.repo
        )
    }
}

impl IssueTracker for GitHubIssues {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    fn find_open_issue(&self, spec: &IssueSpec) -> Result<Option<Issue>> {
        let mut found = None;
        let mut request = self
            .request(Method::Get, self.url("/issues"), "listing GitHub issues")?
            .query("state", "open")
            .query("per_page", "100");
        // A marked issue is ours only when the token's own identity wrote it: anyone can start
        // a body with the marker (who that is: see `comments`).
        let me = match spec.marker {
            Some(_) => Some(token_author(
                &self.session,
                ForgeKind::GitHub,
                &self.config.api_url,
                self.hint(),
            )?),
            None => None,
        };
        if let Some(label) = spec.labels.first() {
            request = request.query("labels", label);
        }
        request.for_each_page(MAX_PAGES, |page| {
            let issues: Vec<GhIssue> = page.json()?;
            found = issues.into_iter().find(|i| {
                i.pull_request.is_none()
                    && is_own(spec, me, &i.title, i.body.as_deref(), i.user.as_ref())
            });
            Ok::<_, HttpError>(if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(found.map(|i| Issue {
            number: i.number,
            url: i.html_url,
            title: i.title,
            created: false,
        }))
    }

    fn create_issue(&self, spec: &IssueSpec) -> Result<Issue> {
        let created: GhIssue = self
            .request(
                Method::Post,
                self.url("/issues"),
                &format!("opening the GitHub issue `{}`", spec.title),
            )?
            .json(&json!({"title": spec.title, "body": spec.body, "labels": spec.labels}))
            .send()?
            .json()?;
        Ok(Issue {
            number: created.number,
            url: created.html_url,
            title: created.title,
            created: true,
        })
    }

    fn close_issue(&self, url: &str, comment: Option<&str>) -> Result<bool> {
        let number = issue_number(url)?;
        let operation = format!("closing the GitHub issue #{number}");
        let current: GhIssue = self
            .request(
                Method::Get,
                self.url(&format!("/issues/{number}")),
                &operation,
            )?
            .send()?
            .json()?;
        if current.state == "closed" {
            return Ok(false);
        }
        if let Some(body) = comment {
            self.request(
                Method::Post,
                self.url(&format!("/issues/{number}/comments")),
                &operation,
            )?
            .json(&json!({ "body": body }))
            .send()?;
        }
        self.request(
            Method::Patch,
            self.url(&format!("/issues/{number}")),
            &operation,
        )?
        .json(&json!({"state": "closed", "state_reason": "completed"}))
        .send()?;
        Ok(true)
    }
}

#[derive(Debug, Deserialize)]
struct GlIssue {
    iid: u64,
    web_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    author: Option<Account>,
}

/// Issues of a GitLab project.
#[derive(Debug, Clone)]
pub struct GitLabIssues {
    session: Session,
    config: GitLabConfig,
}

impl GitLabIssues {
    /// Issues of the project in `config`.
    pub fn new(client: Client, config: GitLabConfig) -> Self {
        GitLabIssues {
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
            hint: "set `GITLAB_TOKEN` to a project access token with the `api` scope (as a masked CI/CD variable); the job token cannot write issues".into(),
        }
        };
        self.session.write(method, url, missing, self.hint())
    }

    fn hint(&self) -> String {
        format!(
            "check that `GITLAB_TOKEN` has the `api` scope and at least the Reporter role in `{}`",
            self.config.project
        )
    }
}

impl IssueTracker for GitLabIssues {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    fn find_open_issue(&self, spec: &IssueSpec) -> Result<Option<Issue>> {
        let mut found = None;
        let mut request = self
            .request(Method::Get, self.url("/issues"), "listing GitLab issues")?
            .query("state", "opened")
            .query("per_page", "100");
        // A marked issue is ours only when the token's own identity wrote it: anyone can start
        // a body with the marker (who that is: see `comments`).
        let me = match spec.marker {
            Some(_) => Some(token_author(
                &self.session,
                ForgeKind::GitLab,
                &self.config.api_url,
                self.hint(),
            )?),
            None => None,
        };
        if spec.marker.is_none() {
            // The title is the key: let GitLab narrow the listing (its search is fuzzy, so the
            // title is still compared exactly below).
            request = request.query("in", "title").query("search", &spec.title);
        }
        if let Some(label) = spec.labels.first() {
            request = request.query("labels", label);
        }
        request.for_each_page(MAX_PAGES, |page| {
            let issues: Vec<GlIssue> = page.json()?;
            found = issues.into_iter().find(|i| {
                is_own(
                    spec,
                    me,
                    &i.title,
                    i.description.as_deref(),
                    i.author.as_ref(),
                )
            });
            Ok::<_, HttpError>(if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(found.map(|i| Issue {
            number: i.iid,
            url: i.web_url,
            title: i.title,
            created: false,
        }))
    }

    fn create_issue(&self, spec: &IssueSpec) -> Result<Issue> {
        let created: GlIssue = self
            .request(
                Method::Post,
                self.url("/issues"),
                &format!("opening the GitLab issue `{}`", spec.title),
            )?
            .json(&json!({
                "title": spec.title,
                "description": spec.body,
                "labels": spec.labels.join(","),
            }))
            .send()?
            .json()?;
        Ok(Issue {
            number: created.iid,
            url: created.web_url,
            title: created.title,
            created: true,
        })
    }

    fn close_issue(&self, url: &str, comment: Option<&str>) -> Result<bool> {
        let iid = issue_number(url)?;
        let operation = format!("closing the GitLab issue #{iid}");
        let current: GlIssue = self
            .request(Method::Get, self.url(&format!("/issues/{iid}")), &operation)?
            .send()?
            .json()?;
        if current.state == "closed" {
            return Ok(false);
        }
        if let Some(body) = comment {
            self.request(
                Method::Post,
                self.url(&format!("/issues/{iid}/notes")),
                &operation,
            )?
            .json(&json!({ "body": body }))
            .send()?;
        }
        self.request(Method::Put, self.url(&format!("/issues/{iid}")), &operation)?
            .json(&json!({"state_event": "close"}))
            .send()?;
        Ok(true)
    }
}
