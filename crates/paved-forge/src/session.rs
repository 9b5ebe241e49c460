//! The request plumbing every client in this crate shares: the repository's or project's base URL,
//! the token (held as an [`Auth`], never printed), the forge's fixed headers, and the split
//! between reads (a token if there is one) and writes (a token or a usage error saying which
//! variable to set). Releases, issues and deployments each hold one [`Session`] and keep only their
//! own endpoints and hints.

use paved_core::http::{Auth, Client, Method, RequestBuilder, encode_component};

use crate::{Error, GitHubConfig, GitLabConfig, GitLabToken, Result};

/// One repository (GitHub) or project (GitLab) on one forge.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    client: Client,
    /// `{api}/repos/{owner}/{repo}` or `{api}/projects/{id or path}`.
    base: String,
    auth: Option<Auth>,
    headers: &'static [(&'static str, &'static str)],
}

const GITHUB_HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", "2022-11-28"),
];

impl Session {
    /// The repository in `config`, with its token as a bearer token.
    pub(crate) fn github(client: Client, config: &GitHubConfig) -> Session {
        Session {
            client,
            base: format!(
                "{}/repos/{}/{}",
                config.api_url,
                encode_component(&config.owner),
                encode_component(&config.repo)
            ),
            auth: config.token.clone().map(Auth::bearer),
            headers: GITHUB_HEADERS,
        }
    }

    /// The project in `config`, with `PRIVATE-TOKEN` or `JOB-TOKEN` auth.
    pub(crate) fn gitlab(client: Client, config: &GitLabConfig) -> Session {
        Session {
            client,
            base: format!(
                "{}/projects/{}",
                config.api_url,
                encode_component(&config.project)
            ),
            auth: config.token.as_ref().map(GitLabToken::auth),
            headers: &[],
        }
    }

    /// The URL of `rest` (which starts with `/`, or is empty for the repository itself).
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }

    /// Fail early, before any request, when a write will need a token that is not there.
    pub(crate) fn require_token(&self, missing: impl FnOnce() -> Error) -> Result<()> {
        match self.auth {
            Some(_) => Ok(()),
            None => Err(missing()),
        }
    }

    /// A read: sent with the token when there is one (public projects work without).
    pub(crate) fn read(&self, url: String, hint: String) -> RequestBuilder<'_> {
        self.with_headers(self.client.get(url))
            .auth_opt(self.auth.as_ref())
            .auth_hint(hint)
    }

    /// A write: the token is required; without one, `missing` is the error.
    pub(crate) fn write(
        &self,
        method: Method,
        url: String,
        missing: impl FnOnce() -> Error,
        hint: String,
    ) -> Result<RequestBuilder<'_>> {
        let auth = self.auth.as_ref().ok_or_else(missing)?;
        Ok(self
            .with_headers(self.client.request(method, url))
            .auth(auth)
            .auth_hint(hint))
    }

    fn with_headers<'c>(&self, mut request: RequestBuilder<'c>) -> RequestBuilder<'c> {
        for &(name, value) in self.headers {
            request = request.header(name, value);
        }
        request
    }
}
