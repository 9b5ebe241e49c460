//! What a forge token adds: logins and first-time contributors in the notes, and publishing the
//! release. Everything here is optional: without a token the notes are complete, only plainer.

use std::collections::HashMap;

use paved_forge::links::Links;
use paved_forge::{Forge, ForgeKind, ReleaseSpec};

use crate::context::{Contributor, Release};
use crate::error::{Error, Result};

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
    let mut first_pr: HashMap<String, paved_forge::links::PrRef> = HashMap::new();
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
