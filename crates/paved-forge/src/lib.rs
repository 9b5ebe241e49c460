//! GitHub and GitLab behind one [`Forge`] trait: PR/MR lookup, contributors, releases, assets.
//!
//! Both implementations are thin REST clients over [`paved_core::http`], not octocrab or the
//! `gitlab` crate: the whole suite keeps one blocking HTTP stack (ureq + rustls), one retry
//! policy (backoff with jitter, `Retry-After`, rate-limit resets, `5xx`), one place that keeps
//! tokens out of errors, and no async runtime in small static binaries. The few endpoints used
//! here are listed on each implementation, with the documented status codes they rely on.
//!
//! - [`GitHub`]: `GITHUB_API_URL` (default `https://api.github.com`), `GITHUB_REPOSITORY`
//!   (`owner/repo`), `GITHUB_TOKEN` (a bearer token).
//! - [`GitLab`]: `CI_API_V4_URL` (default `https://gitlab.com/api/v4`), `CI_PROJECT_ID` or
//!   `CI_PROJECT_PATH`, and `GITLAB_TOKEN` (sent as `PRIVATE-TOKEN`) or else `CI_JOB_TOKEN`
//!   (sent as `JOB-TOKEN`).
//!
//! Reads work without a token where the project is public (at the forge's anonymous rate limit);
//! writes without one fail with a usage error (exit 2) naming the variable to set. Tokens are
//! held as [`Secret`]s and never printed; call [`Forge::mask_token`] once at start-up so the CI
//! masks them in its logs too.
//!
//! Re-running is safe: [`Forge::create_or_update_release`] finds the release for the tag (drafts
//! too on GitHub) and updates it, and treats the "already exists" answer of a create that raced
//! another job (GitHub `422 already_exists`, GitLab `409`) as "update instead". Uploading an
//! asset replaces one of the same name.
//!
//! GitLab has no pre-release flag and no drafts: a pre-release is marked by appending
//! ` (pre-release)` to the release name, and `draft` is refused with a usage error rather than
//! silently publishing.

pub mod actions;
pub mod comments;
pub mod connect;
pub mod deployments;
mod error;
pub mod fleet;
mod github;
mod gitlab;
pub mod issues;
pub mod links;
pub mod pipelines;
pub mod proposals;
mod session;

use std::fmt;
use std::path::Path;

use paved_core::ci::CiSink;
use paved_core::http::{Client, Secret};
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use github::{GitHub, GitHubConfig};
pub use gitlab::{GitLab, GitLabConfig, GitLabToken};

/// Most pages read from one paginated list (at 100 items a page).
pub const MAX_PAGES: usize = 20;

/// A pull request (GitHub) or merge request (GitLab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// The PR number, or the MR `iid` (the `!123` number).
    pub number: u64,
    /// The web page of the PR/MR.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Who opened it (`ghost` when the account was deleted).
    pub author_login: String,
    /// Who merged it, when the forge says. GitHub's commit → PR list does not carry it; call
    /// [`Forge::add_review_details`] to fill it.
    pub merged_by_login: Option<String>,
    /// When it was merged (RFC 3339), if it was.
    pub merged_at: Option<String>,
    /// Who approved it; empty until [`Forge::add_review_details`] is called.
    pub approvers: Vec<String>,
}

/// The release to create or update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSpec {
    /// The tag, e.g. `v1.2.0`.
    pub tag: String,
    /// The release title.
    pub name: String,
    /// The release notes (markdown).
    pub body: String,
    /// Mark it as a pre-release (GitLab: ` (pre-release)` is appended to the name).
    pub prerelease: bool,
    /// Create it as a draft (GitHub only).
    pub draft: bool,
    /// The commit or branch to create the tag from, if the tag does not exist yet.
    pub target: Option<String>,
}

/// A release as the forge has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    /// GitHub's numeric release id; GitLab identifies releases by tag and has none.
    pub id: Option<u64>,
    /// The tag.
    pub tag: String,
    /// The release's web page.
    pub url: String,
    /// GitHub's asset upload URL (without its `{?name,label}` template).
    pub upload_url: Option<String>,
    /// Whether this run created it (`false`: it existed and was updated).
    pub created: bool,
}

/// An uploaded asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    /// The asset's file name.
    pub name: String,
    /// Where it can be downloaded.
    pub url: String,
    /// Whether an asset of that name was there before (GitHub: deleted and uploaded again;
    /// GitLab: the package file uploaded again and the existing release link kept).
    pub replaced: bool,
}

/// Which forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise Server.
    GitHub,
    /// GitLab.com or self-managed GitLab.
    GitLab,
}

impl ForgeKind {
    /// The forge whose CI this is running in (`GITHUB_ACTIONS=true` or `GITLAB_CI=true`).
    pub fn detect() -> Option<ForgeKind> {
        Self::detect_with(|k| std::env::var(k).ok())
    }

    /// [`ForgeKind::detect`] with a lookup function instead of the process environment.
    pub fn detect_with(env: impl Fn(&str) -> Option<String>) -> Option<ForgeKind> {
        if env("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            Some(ForgeKind::GitHub)
        } else if env("GITLAB_CI").is_some_and(|v| v == "true") {
            Some(ForgeKind::GitLab)
        } else {
            None
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForgeKind::GitHub => "github",
            ForgeKind::GitLab => "gitlab",
        })
    }
}

impl std::str::FromStr for ForgeKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "github" => Ok(ForgeKind::GitHub),
            "gitlab" => Ok(ForgeKind::GitLab),
            _ => Err(Error::Config {
                message: format!("`{s}` is not a forge paved knows"),
                hint: "use `github` or `gitlab`".into(),
            }),
        }
    }
}

/// What paved asks of a forge.
pub trait Forge: fmt::Debug + Send + Sync {
    /// Which forge this is.
    fn kind(&self) -> ForgeKind;

    /// The PR/MR that brought `sha` in: the one merged into the default branch if there are
    /// several, else a merged one, else the first listed. `None` if there is none, or the forge
    /// does not know the commit (not pushed yet).
    fn pull_request_for_commit(&self, sha: &str) -> Result<Option<ChangeRequest>>;

    /// Fill [`ChangeRequest::merged_by_login`] (where missing) and [`ChangeRequest::approvers`]
    /// (users whose latest review approves it). Costs one or two requests per PR/MR, so it is
    /// separate from the lookup: release notes do not need it, change records do.
    fn add_review_details(&self, change: &mut ChangeRequest) -> Result<()>;

    /// The forge account that authored commit `sha`, when the forge can tell. GitHub maps the
    /// commit's email to an account; GitLab cannot, so it answers with the author of the MR that
    /// brought the commit in.
    fn commit_author_login(&self, sha: &str) -> Result<Option<String>>;

    /// Whether `login` had contributed nothing before `before` (the previous release's tag or
    /// commit). With no previous release (`None`), everyone is a first-time contributor.
    ///
    /// GitHub: no commit by `login` is reachable from `before`
    /// (`GET /repos/{o}/{r}/commits?sha={before}&author={login}&per_page=1`): one request, exact
    /// for the history of that tag, and without the search API's 30-requests-a-minute limit.
    /// GitLab: no MR by `login` was merged into the project before `before`'s commit date.
    fn is_first_contribution(&self, login: &str, before: Option<&str>) -> Result<bool>;

    /// Create the release for `spec.tag`, or update it if it exists. Safe to re-run.
    fn create_or_update_release(&self, spec: &ReleaseSpec) -> Result<ReleaseInfo>;

    /// Attach the file at `path` to `release`, replacing an asset of the same name.
    fn upload_asset(&self, release: &ReleaseInfo, path: &Path) -> Result<AssetInfo>;

    /// The token, if one is configured.
    fn token(&self) -> Option<&Secret>;

    /// Ask the CI to mask the token in logs (GitHub `::add-mask::`). Call once at start-up.
    fn mask_token(&self, sink: &CiSink) {
        if let Some(token) = self.token() {
            sink.mask(token.expose());
        }
    }
}

/// The forge of `kind`, configured from the CI environment, with an HTTP client configured from
/// the `PAVED_HTTP_*` variables.
pub fn from_env(kind: ForgeKind) -> Result<Box<dyn Forge>> {
    let client = Client::from_env().map_err(|e| Error::Config {
        message: e.to_string(),
        hint: "fix or unset the variable".into(),
    })?;
    Ok(match kind {
        ForgeKind::GitHub => Box::new(GitHub::new(client, GitHubConfig::from_env()?)),
        ForgeKind::GitLab => Box::new(GitLab::new(client, GitLabConfig::from_env()?)),
    })
}

/// The file name of an asset, checked to be a regular file with a UTF-8 name.
fn asset_name(path: &Path) -> Result<String> {
    let asset_error = |message: &str| Error::Asset {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::Asset {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(asset_error("it is not a regular file"));
    }
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| asset_error("its file name is not valid UTF-8"))
}

/// A `Content-Type` for an asset, from its extension.
fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    match ext {
        "gz" | "tgz" => "application/gzip",
        "zip" => "application/zip",
        "xz" => "application/x-xz",
        "zst" => "application/zstd",
        "bz2" => "application/x-bzip2",
        "tar" => "application/x-tar",
        "json" => "application/json",
        "txt" | "sha256" | "sha512" | "sha256sum" | "md" => "text/plain; charset=utf-8",
        "asc" | "sig" => "application/pgp-signature",
        _ => "application/octet-stream",
    }
}

/// An environment value, with empty counted as unset.
fn non_empty(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
