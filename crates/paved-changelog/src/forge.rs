//! What a forge token adds: logins and first-time contributors in the notes, and publishing the
//! release. Everything here is optional: without a token the notes are complete, only plainer.

use std::collections::HashMap;

use paved_core::ci::CiSink;
use paved_core::http::{Client, Secret};
use paved_forge::{
    Forge, ForgeKind, GitHub, GitHubConfig, GitLab, GitLabConfig, GitLabToken, ReleaseSpec,
};

use crate::context::{Contributor, Release};
use crate::error::{Error, Result};
use crate::links::{self, Links};

/// The forge for `kind`, from the CI variables, or (outside CI) from the repository URL and the
/// token variables.
pub fn connect(kind: ForgeKind, links: &Links) -> Result<Box<dyn Forge>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match paved_forge::from_env(kind) {
        Ok(forge) => return Ok(forge),
        Err(paved_forge::Error::Config { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let client = Client::from_env()?;
    let base = links.base.as_deref().ok_or_else(|| {
        Error::Usage(format!(
            "paved does not know which {kind} repository this is: set `repository-url` under `[changelog]`, \
             add an `origin` remote, or run in CI"
        ))
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
        .or(match links.forge {
            Some(links::ForgeKind::GitHub) => Some(ForgeKind::GitHub),
            Some(links::ForgeKind::GitLab) => Some(ForgeKind::GitLab),
            None => None,
        })
        .or_else(|| set("GITHUB_TOKEN").then_some(ForgeKind::GitHub))
        .or_else(|| set("GITLAB_TOKEN").then_some(ForgeKind::GitLab))?;
    let forge = connect(kind, links).ok()?;
    forge.token()?;
    forge.mask_token(sink);
    Some(forge)
}

/// What the forge knows of one commit: its PR (number, URL) and its author's login.
type Found = (Option<(u64, String)>, Option<String>);

/// Add logins, PR links found through the API, and first-time contributors. Failures are
/// warnings: the notes stay correct without them.
pub fn enrich(release: &mut Release, forge: &dyn Forge, links: &Links) {
    if let Err(e) = try_enrich(release, forge, links) {
        paved_core::cli::warn(&format!(
            "could not add logins and first-time contributors from {}: {e}; the notes are complete without them",
            forge.kind()
        ));
    }
}

fn try_enrich(release: &mut Release, forge: &dyn Forge, links: &Links) -> Result<()> {
    // One lookup per commit, shared by the breaking list and the sections.
    let mut by_sha: HashMap<String, Found> = HashMap::new();
    let shas: Vec<String> = release
        .sections
        .iter()
        .flat_map(|s| s.entries.iter())
        .chain(release.breaking.iter())
        .map(|e| e.sha.clone())
        .collect();
    for sha in shas {
        if by_sha.contains_key(&sha) {
            continue;
        }
        let found = match forge.pull_request_for_commit(&sha)? {
            Some(cr) => (Some((cr.number, cr.url)), Some(cr.author_login)),
            None => (None, forge.commit_author_login(&sha)?),
        };
        by_sha.insert(sha, found);
    }
    let prefix = if forge.kind() == ForgeKind::GitLab {
        '!'
    } else {
        '#'
    };
    let mut first_pr: HashMap<String, crate::links::PrRef> = HashMap::new();
    let entries = release
        .sections
        .iter_mut()
        .flat_map(|s| s.entries.iter_mut())
        .chain(release.breaking.iter_mut());
    for entry in entries {
        let Some((pr, login)) = by_sha.get(&entry.sha) else {
            continue;
        };
        if entry.pr.is_none()
            && let Some((number, url)) = pr
        {
            let mut r = links.pr(*number, prefix);
            r.url = Some(url.clone());
            entry.pr = Some(r);
        }
        if let Some(login) = login {
            entry.author.login = Some(login.clone());
            if let Some(pr) = &entry.pr {
                first_pr.entry(login.clone()).or_insert_with(|| pr.clone());
            }
            if let Some(c) = release
                .contributors
                .iter_mut()
                .find(|c| c.name == entry.author.name)
            {
                c.login = Some(login.clone());
            }
        }
    }
    let mut seen = Vec::new();
    for c in &release.contributors {
        let Some(login) = c.login.clone() else {
            continue;
        };
        if seen.contains(&login) || login.ends_with("[bot]") {
            continue;
        }
        seen.push(login.clone());
        if forge.is_first_contribution(&login, release.previous_tag.as_deref())? {
            release.first_time_contributors.push(Contributor {
                name: c.name.clone(),
                pr: first_pr.get(&login).cloned(),
                login: Some(login),
            });
        }
    }
    Ok(())
}

/// Create or update the release for `tag` with `notes`, then attach `assets`. Returns its web
/// URL and whether it was created (rather than updated).
pub fn publish(
    forge: &dyn Forge,
    tag: Option<&str>,
    prerelease: bool,
    notes: &str,
    assets: &[std::path::PathBuf],
) -> Result<(String, bool)> {
    // A missing asset is a usage error to report before anything is published.
    for path in assets {
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "asset `{}` is not a file; build it before publishing",
                path.display()
            )));
        }
    }
    let tag = tag
        .map(str::to_owned)
        .ok_or_else(|| Error::Usage("--publish needs a release tag (`--tag vX`)".into()))?;
    let spec = ReleaseSpec {
        name: tag.clone(),
        tag,
        body: notes.to_owned(),
        prerelease,
        draft: false,
        target: None,
    };
    let info = forge.create_or_update_release(&spec)?;
    for path in assets {
        let asset = forge.upload_asset(&info, path)?;
        let verb = if asset.replaced {
            "replaced"
        } else {
            "attached"
        };
        paved_core::cli::info(&format!("{verb} {} ({})", asset.name, asset.url));
    }
    Ok((info.url, info.created))
}
