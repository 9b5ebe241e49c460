//! With `--write`, the requirements that follow a released workspace dependency. Which
//! `[[version.package]]` depends on which is read in [`paved_core::workspace`] (paved-changelog
//! plans with the same reading); this module only rewrites.
//!
//! - Cargo: the `version` of a workspace path dependency (in the member, or in the root's
//!   `[workspace.dependencies]`) is rewritten with toml_edit, the rest of
//!   the file kept byte for byte. `Cargo.lock`, when there is one at the root, gets the members'
//!   new versions (their `[[package]]` entries have no `source`), and `"name old"` references in
//!   `dependencies` lists, so `cargo --locked` accepts it without network.
//! - npm: a requirement naming another package's `name`. A range keeps its operator (`^1.2.0` -> `^1.3.0`, `~`, `>=`, exact);
//!   `workspace:*`, `workspace:^`, `workspace:~` and ranges that are not one operator and one
//!   version (`1.x`, `^1 || ^2`) are left as they are. `package-lock.json` is not rewritten (npm
//!   rewrites it on the next `npm install`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use paved_core::config::PackageConfig;
use paved_core::release::VersionPlan;
use paved_core::workspace::{
    CARGO_TABLES, Manifests, NPM_TABLES, cargo_path_dependency, parse_toml,
};
use semver::Version;

use crate::error::Result;

fn read(path: &Path) -> Result<Option<String>> {
    Ok(paved_core::fs::read_for_rewrite(path)?)
}

/// `range` rewritten to require `to`, keeping its operator; `None` when it is left as it is
/// (`workspace:*`, `*`, compound ranges).
pub fn rewrite_range(range: &str, to: &Version) -> Option<String> {
    if let Some(rest) = range.strip_prefix("workspace:") {
        return rewrite_range(rest, to).map(|r| format!("workspace:{r}"));
    }
    let trimmed = range.trim();
    let op_len = trimmed
        .find(|c: char| !matches!(c, '^' | '~' | '=' | '>' | '<'))
        .unwrap_or(trimmed.len());
    let (op, rest) = trimmed.split_at(op_len);
    let rest = rest.trim_start();
    let (v, digits) = match rest.strip_prefix('v') {
        Some(d) => ("v", d),
        None => ("", rest),
    };
    if !matches!(op, "" | "^" | "~" | "=" | ">=" | "~>") || digits.is_empty() {
        return None;
    }
    // One version, possibly partial (`1.2`): digits and dots, then an optional pre-release.
    let core = digits.split(['-', '+']).next().unwrap_or(digits);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let new = format!("{op}{v}{to}");
    (new != trimmed).then_some(new)
}

fn set_requirement(item: &mut toml_edit::Item, to: &Version) -> bool {
    let Some(table) = item.as_table_like_mut() else {
        return false;
    };
    let Some(version) = table.get_mut("version") else {
        return false;
    };
    let Some(value) = version.as_value_mut() else {
        return false;
    };
    let Some(new) = value.as_str().and_then(|old| rewrite_range(old, to)) else {
        return false;
    };
    let decor = value.decor().clone();
    *value = toml_edit::Value::from(new);
    *value.decor_mut() = decor;
    true
}

/// With `--write`: point every requirement on a released package at its new version. Returns the
/// files changed, relative to `root`. Requirements follow even into packages with
/// `propagate = false` (an exact `=1.2.0` would otherwise no longer resolve); only their version
/// stays.
pub fn write_requirements(
    root: &Path,
    packages: &[PackageConfig],
    plans: &[VersionPlan],
) -> Result<Vec<String>> {
    let released: BTreeMap<&str, &Version> = plans
        .iter()
        .filter(|p| p.released)
        .filter_map(|p| p.package.as_deref().map(|n| (n, &p.version)))
        .collect();
    if released.is_empty() || packages.len() < 2 {
        return Ok(Vec::new());
    }
    let manifests = Manifests::read(root, packages)?;
    let members = &manifests.members;
    let crate_version: BTreeMap<String, &Version> = members
        .iter()
        .filter_map(|m| {
            let (name, _) = m.cargo.as_ref()?;
            Some((name.clone(), *released.get(m.config.as_str())?))
        })
        .collect();
    let npm_version: BTreeMap<String, &Version> = members
        .iter()
        .filter_map(|m| {
            let (name, _) = m.npm.as_ref()?;
            Some((name.clone(), *released.get(m.config.as_str())?))
        })
        .collect();
    let mut prepared: Vec<(PathBuf, String)> = Vec::new();

    // The root's `[workspace.dependencies]`.
    let shared = manifests.shared();
    if let Some(root_manifest) = &manifests.root {
        let (path, text, mut doc) = (
            root_manifest.path.clone(),
            &root_manifest.text,
            root_manifest.doc.clone(),
        );
        let mut changed = false;
        if let Some(table) = doc
            .get_mut("workspace")
            .and_then(|w| w.get_mut("dependencies"))
            .and_then(|d| d.as_table_like_mut())
        {
            for (key, entry) in table.iter_mut() {
                let key = key.get().to_owned();
                let Some(name) = cargo_path_dependency(&key, entry, None) else {
                    continue;
                };
                if let Some(to) = crate_version.get(&name) {
                    changed |= set_requirement(entry, to);
                }
            }
        }
        if changed && doc.to_string() != *text {
            prepared.push((path, doc.to_string()));
        }
    }

    for m in members {
        if let Some((_, doc)) = &m.cargo {
            let path = m.dir.join("Cargo.toml");
            // The root package of a workspace: start from the edit of its `[workspace.dependencies]`.
            let mut doc = match current(&prepared, &path) {
                Some(text) => parse_toml(root, &path, &text)?,
                None => doc.clone(),
            };
            let mut changed = false;
            let mut edit = |t: &mut dyn toml_edit::TableLike| {
                for table in CARGO_TABLES {
                    let Some(deps) = t.get_mut(table).and_then(|i| i.as_table_like_mut()) else {
                        continue;
                    };
                    for (key, entry) in deps.iter_mut() {
                        let key = key.get().to_owned();
                        let Some(name) = cargo_path_dependency(&key, entry, shared) else {
                            continue;
                        };
                        if let Some(to) = crate_version.get(&name) {
                            changed |= set_requirement(entry, to);
                        }
                    }
                }
            };
            edit(doc.as_table_mut());
            if let Some(targets) = doc.get_mut("target").and_then(|t| t.as_table_like_mut()) {
                for (_, target) in targets.iter_mut() {
                    if let Some(target) = target.as_table_like_mut() {
                        edit(target);
                    }
                }
            }
            if changed {
                merge(&mut prepared, path, doc.to_string());
            }
        }
        if m.npm.is_some() {
            let path = m.dir.join("package.json");
            let text = current(&prepared, &path)
                .map_or_else(|| read(&path).map(Option::unwrap_or_default), Ok)?;
            if let Some(new) = rewrite_npm(&text, &npm_version) {
                merge(&mut prepared, path, new);
            }
        }
    }

    let lock = root.join("Cargo.lock");
    if !crate_version.is_empty()
        && let Some(text) = read(&lock)?
        && let Some(new) = rewrite_lock(root, &lock, &text, &crate_version)?
    {
        prepared.push((lock, new));
    }

    let mut written = Vec::new();
    for (path, text) in prepared {
        paved_core::fs::write_atomic(&path, text.as_bytes())?;
        written.push(paved_core::workspace::display(root, &path));
    }
    Ok(written)
}

fn current(prepared: &[(PathBuf, String)], path: &Path) -> Option<String> {
    prepared
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.clone())
}

fn merge(prepared: &mut Vec<(PathBuf, String)>, path: PathBuf, text: String) {
    match prepared.iter_mut().find(|(p, _)| *p == path) {
        Some(entry) => entry.1 = text,
        None => prepared.push((path, text)),
    }
}

/// `package.json` with its requirements on released packages rewritten in place.
fn rewrite_npm(text: &str, versions: &BTreeMap<String, &Version>) -> Option<String> {
    let mut out = text.to_owned();
    let mut changed = false;
    for table in NPM_TABLES {
        for (name, to) in versions {
            let Some((start, end)) =
                crate::files::json_member_string(out.as_bytes(), &[table, name])
            else {
                continue;
            };
            let old: String = serde_json::from_str(&out[start..end]).ok()?;
            if let Some(new) = rewrite_range(&old, to) {
                let quoted = serde_json::to_string(&new).expect("a string serialises");
                out.replace_range(start..end, &quoted);
                changed = true;
            }
        }
    }
    changed.then_some(out)
}

/// `Cargo.lock` with the released members' versions (entries without `source`) and the
/// `"name old"` references to them updated.
fn rewrite_lock(
    root: &Path,
    path: &Path,
    text: &str,
    versions: &BTreeMap<String, &Version>,
) -> Result<Option<String>> {
    let mut doc = parse_toml(root, path, text)?;
    let mut old: BTreeMap<String, String> = BTreeMap::new();
    let Some(packages) = doc
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
    else {
        return Ok(None);
    };
    for package in packages.iter_mut() {
        if package.contains_key("source") {
            continue;
        }
        let Some(name) = package
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
        else {
            continue;
        };
        let Some(to) = versions.get(&name) else {
            continue;
        };
        if let Some(item) = package.get_mut("version")
            && let Some(value) = item.as_value_mut()
            && let Some(previous) = value.as_str().map(str::to_owned)
        {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(to.to_string());
            *value.decor_mut() = decor;
            old.insert(name, previous);
        }
    }
    for package in packages.iter_mut() {
        let Some(deps) = package
            .get_mut("dependencies")
            .and_then(|d| d.as_array_mut())
        else {
            continue;
        };
        for dep in deps.iter_mut() {
            let Some(s) = dep.as_str() else { continue };
            let mut words = s.split(' ');
            let (Some(name), Some(version), None) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            if old.get(name).is_some_and(|o| o == version)
                && let Some(to) = versions.get(name)
            {
                let decor = dep.decor().clone();
                *dep = toml_edit::Value::from(format!("{name} {to}"));
                *dep.decor_mut() = decor;
            }
        }
    }
    let new = doc.to_string();
    Ok((new != text).then_some(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_their_operator() {
        let to = Version::new(1, 3, 0);
        for (old, new) in [
            ("^1.2.0", Some("^1.3.0")),
            ("~1.2.0", Some("~1.3.0")),
            ("1.2.0", Some("1.3.0")),
            ("=1.2.0", Some("=1.3.0")),
            (">=1.2", Some(">=1.3.0")),
            ("^v1.2.0", Some("^v1.3.0")),
            ("workspace:^1.2.0", Some("workspace:^1.3.0")),
            ("workspace:*", None),
            ("workspace:^", None),
            ("*", None),
            ("1.x", None),
            ("^1 || ^2", None),
            (">=1.0.0 <2.0.0", None),
            ("^1.3.0", None),
        ] {
            assert_eq!(rewrite_range(old, &to).as_deref(), new, "{old}");
        }
    }
}
