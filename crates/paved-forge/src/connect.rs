//! Which forge and repository a checkout belongs to, and a client for it: from the CI variables,
//! the configured repository URL, or the `origin` remote. paved-changelog and paved-change both
//! start here.

use paved_core::ci::CiSink;
use paved_core::git::Repo;
use paved_core::http::{Client, Secret};

use crate::links::Links;
use crate::{
    Error, Forge, ForgeKind, GitHub, GitHubConfig, GitLab, GitLabConfig, GitLabToken, Result,
};

/// The repository's web URL and forge: `repository_url` (from `[changelog]`), then CI variables,
/// then the `origin` remote.
pub fn repository(repo: &Repo, repository_url: Option<&str>) -> Links {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = repository_url {
        return Links::new(Some(url), None);
    }
    if env("GITHUB_ACTIONS").as_deref() == Some("true")
        && let (Some(server), Some(repository)) =
            (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY"))
    {
        return Links::new(
            Some(&format!("{}/{repository}", server.trim_end_matches('/'))),
            Some(ForgeKind::GitHub),
        );
    }
    if env("GITLAB_CI").as_deref() == Some("true")
        && let Some(url) = env("CI_PROJECT_URL")
    {
        return Links::new(Some(&url), Some(ForgeKind::GitLab));
    }
    Links::new(repo.remote_url("origin").as_deref(), None)
}

/// The forge for `kind`, from the CI variables, or (outside CI) from the repository URL and the
/// token variables.
pub fn connect(kind: ForgeKind, links: &Links) -> Result<Box<dyn Forge>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match crate::from_env(kind) {
        Ok(forge) => return Ok(forge),
        Err(Error::Config { .. }) => {}
        Err(e) => return Err(e),
    }
    let client = Client::from_env()?;
    let base = links.base.as_deref().ok_or_else(|| Error::Config {
        message: format!("paved does not know which {kind} repository this is"),
        hint: "set `repository-url` under `[changelog]`, add an `origin` remote, or run in CI"
            .into(),
    })?;
    let (host, path) = base.split_once("://").map_or(("", base), |(_, rest)| {
        rest.split_once('/').unwrap_or((rest, ""))
    });
    Ok(match kind {
        ForgeKind::GitHub => {
            let api = if host == "github.com" {
                "https://api.github.com".to_owned()
            } else {
                format!("https://{host}/api/v3")
            };
            let api = env("GITHUB_API_URL").unwrap_or(api);
            let config = GitHubConfig::new(&api, path, env("GITHUB_TOKEN").map(Secret::new))?;
            Box::new(GitHub::new(client, config))
        }
        ForgeKind::GitLab => {
            let api = env("CI_API_V4_URL").unwrap_or_else(|| format!("https://{host}/api/v4"));
            let token = env("GITLAB_TOKEN")
                .map(|t| GitLabToken::Private(Secret::new(t)))
                .or_else(|| env("CI_JOB_TOKEN").map(|t| GitLabToken::Job(Secret::new(t))));
            Box::new(GitLab::new(client, GitLabConfig::new(&api, path, token)?))
        }
    })
}

/// The forge to enrich notes with: only when a token is set and the forge is known.
pub fn for_enrichment(
    kind: Option<ForgeKind>,
    links: &Links,
    sink: &CiSink,
) -> Option<Box<dyn Forge>> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let kind = kind
        .or_else(ForgeKind::detect)
        .or(links.forge)
        .or_else(|| set("GITHUB_TOKEN").then_some(ForgeKind::GitHub))
        .or_else(|| set("GITLAB_TOKEN").then_some(ForgeKind::GitLab))?;
    let forge = connect(kind, links).ok()?;
    forge.token()?;
    forge.mask_token(sink);
    Some(forge)
}
