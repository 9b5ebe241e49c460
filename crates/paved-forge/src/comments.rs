//! One comment per pull request (GitHub) or merge request note (GitLab) that a tool keeps up to
//! date: found by a hidden marker its body starts with, edited in place on re-runs, created once.
//!
//! GitHub, REST API `2022-11-28`:
//! - `GET /user` → `{id, login}` (`403` for the Actions `GITHUB_TOKEN`);
//! - `GET /repos/{o}/{r}/issues/{n}/comments?per_page=100` → `[{id, body, user, html_url}]`, oldest
//!   first, paginated with `Link` (every page is read: the marker may be on any);
//! - `PATCH /repos/{o}/{r}/issues/comments/{id}` (`body`) → `200`;
//! - `POST /repos/{o}/{r}/issues/{n}/comments` (`body`) → `201`.
//!
//! GitLab, REST API v4:
//! - `GET /user` → `{id, username}`;
//! - `GET /projects/:id/merge_requests/:iid/notes?sort=asc&order_by=created_at&per_page=100` →
//!   `[{id, body, system, author}]`, paginated (system notes are skipped);
//! - `PUT /projects/:id/merge_requests/:iid/notes/:note_id` (`body`) → `200`;
//! - `POST /projects/:id/merge_requests/:iid/notes` (`body`) → `201`.
//!
//! The marker is matched at the start of a body only, so text quoted from elsewhere (a test
//! name, a message) cannot make another comment look like ours. And only a comment the token's
//! own identity wrote counts: anyone can start a comment with the marker, and editing theirs
//! would put the gate's verdict under their name (or leave their "all green" standing).
//! - GitHub: `GET /user` → `id`, compared with each comment's `user.id`. The Actions
//!   `GITHUB_TOKEN` is an installation token and `GET /user` answers it `403`; its comments are
//!   by `github-actions[bot]` (`user.type: Bot`), so then only those count. A GitHub App's own
//!   installation token also gets `403`, and its comments (by `<app>[bot]`) are not recognised:
//!   the gate then posts a new comment on each run.
//! - GitLab: `GET /user` → `id`, compared with each note's `author.id`.

use std::ops::ControlFlow;

use paved_core::http::{Client, HttpError, Method};
use serde::Deserialize;
use serde_json::json;

use crate::session::Session;
use crate::{Error, ForgeKind, GitHubConfig, GitLabConfig, MAX_PAGES, Result};

/// What [`Comments::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    /// No comment with the marker was there: this one was created.
    Created { id: u64 },
    /// The comment with the marker was edited in place.
    Updated { id: u64 },
}

#[derive(Debug, Deserialize)]
struct Note {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    system: bool,
    /// GitHub's author of a comment.
    #[serde(default)]
    user: Option<Account>,
    /// GitLab's author of a note.
    #[serde(default)]
    author: Option<Account>,
}

/// A user as `GET /user` and the comment (and issue) listings describe it.
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    id: u64,
    #[serde(default)]
    login: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// Whose comments are ours: the token's identity. [`crate::issues`] recognises its issues the
/// same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Author {
    /// The user (or bot user) `GET /user` named.
    Id(u64),
    /// The Actions `GITHUB_TOKEN`, which cannot read `GET /user`: `github-actions[bot]`.
    GitHubActions,
}

/// The login GitHub Actions' `GITHUB_TOKEN` comments as.
const GITHUB_ACTIONS_BOT: &str = "github-actions[bot]";

impl Author {
    fn wrote(self, note: &Note) -> bool {
        self.is(note.user.as_ref().or(note.author.as_ref()))
    }

    /// Whether `by` (the author a listing names) is this identity.
    pub(crate) fn is(self, by: Option<&Account>) -> bool {
        by.is_some_and(|a| match self {
            Author::Id(id) => a.id == id,
            Author::GitHubActions => {
                a.login.as_deref() == Some(GITHUB_ACTIONS_BOT) && a.kind.as_deref() == Some("Bot")
            }
        })
    }
}

/// Who the token of `session` is: `GET /user` on the API root `api_url` (see the module docs).
pub(crate) fn token_author(
    session: &Session,
    kind: ForgeKind,
    api_url: &str,
    hint: String,
) -> Result<Author> {
    let request = session.read(format!("{api_url}/user"), hint);
    let response = match kind {
        ForgeKind::GitHub => request.allow_status(403).send()?,
        ForgeKind::GitLab => request.send()?,
    };
    if response.status() == 403 {
        return Ok(Author::GitHubActions);
    }
    let account: Account = response.json().map_err(|e| Error::Unexpected {
        message: format!(
            "GET {}: the answer names no user, as the API documents it should: {e}",
            response.url()
        ),
    })?;
    Ok(Author::Id(account.id))
}

/// The comments (GitHub) or notes (GitLab) of pull or merge requests of one repository.
#[derive(Debug, Clone)]
pub struct Comments {
    session: Session,
    kind: ForgeKind,
    variable: &'static str,
    /// The REST API root, for `GET /user`.
    api_url: String,
}

impl Comments {
    /// The repository in `config`.
    pub fn github(client: Client, config: &GitHubConfig) -> Comments {
        Comments {
            session: Session::github(client, config),
            kind: ForgeKind::GitHub,
            variable: "GITHUB_TOKEN",
            api_url: config.api_url.clone(),
        }
    }

    /// The project in `config`.
    pub fn gitlab(client: Client, config: &GitLabConfig) -> Comments {
        Comments {
            session: Session::gitlab(client, config),
            kind: ForgeKind::GitLab,
            variable: config
                .token
                .as_ref()
                .map_or("GITLAB_TOKEN", |t| t.variable()),
            api_url: config.api_url.clone(),
        }
    }

    fn what(&self, number: u64) -> String {
        match self.kind {
            ForgeKind::GitHub => format!("commenting on pull request #{number}"),
            ForgeKind::GitLab => format!("adding a note to merge request !{number}"),
        }
    }

    fn hint(&self) -> String {
        match self.kind {
            ForgeKind::GitHub => "check that `GITHUB_TOKEN` may write pull request comments: in the workflow, `permissions: pull-requests: write`".into(),
            ForgeKind::GitLab => format!(
                "check that `{}` may add notes to merge requests (a project access token with the `api` scope and the Reporter role)",
                self.variable
            ),
        }
    }

    fn list_url(&self, number: u64) -> String {
        match self.kind {
            ForgeKind::GitHub => self.session.url(&format!("/issues/{number}/comments")),
            ForgeKind::GitLab => self.session.url(&format!("/merge_requests/{number}/notes")),
        }
    }

    /// Who the token is (see the module docs).
    fn author(&self) -> Result<Author> {
        token_author(&self.session, self.kind, &self.api_url, self.hint())
    }

    /// The first comment of PR/MR `number` that the token's identity wrote and whose body starts
    /// with `marker`.
    pub fn find(&self, number: u64, marker: &str) -> Result<Option<u64>> {
        let author = self.author()?;
        let mut found = None;
        let mut request = self
            .session
            .read(self.list_url(number), self.hint())
            .query("per_page", "100");
        if self.kind == ForgeKind::GitLab {
            request = request.query("sort", "asc").query("order_by", "created_at");
        }
        request.for_each_page(MAX_PAGES * 5, |response| {
            let page: Vec<Note> = response.json()?;
            found = page
                .into_iter()
                .find(|n| {
                    !n.system
                        && n.body.as_deref().is_some_and(|b| b.starts_with(marker))
                        && author.wrote(n)
                })
                .map(|n| n.id);
            Ok::<_, HttpError>(if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(found)
    }

    /// Edit the comment of PR/MR `number` that starts with `marker` to `body` (which must start
    /// with it too), or create it.
    pub fn upsert(&self, number: u64, marker: &str, body: &str) -> Result<Upserted> {
        debug_assert!(body.starts_with(marker));
        let what = self.what(number);
        let missing = || Error::MissingToken {
            operation: what.clone(),
            variables: format!("`{}`", self.variable),
            hint: self.hint(),
        };
        self.session.require_token(missing)?;
        let existing = self.find(number, marker)?;
        let (method, url) = match (existing, self.kind) {
            (Some(id), ForgeKind::GitHub) => (
                Method::Patch,
                self.session.url(&format!("/issues/comments/{id}")),
            ),
            (Some(id), ForgeKind::GitLab) => (
                Method::Put,
                self.session
                    .url(&format!("/merge_requests/{number}/notes/{id}")),
            ),
            (None, _) => (Method::Post, self.list_url(number)),
        };
        let response = self
            .session
            .write(method, url, missing, self.hint())?
            .json(&json!({ "body": body }))
            .send()?;
        let id = response.json::<Note>()?.id;
        Ok(match existing {
            Some(_) => Upserted::Updated { id },
            None => Upserted::Created { id },
        })
    }
}
