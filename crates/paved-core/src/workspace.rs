//! Which `[[version.package]]` depends on which, read from the Cargo and npm manifests in their
//! paths. paved-version and paved-changelog both plan with it
//! ([`crate::release::plan_with_dependencies`]), so a package released only because a workspace
//! dependency is released gets the same version from both; paved-version's `--write` rewrites
//! the requirements from the same reading ([`Manifests`]).
//!
//! - Cargo: a `path` dependency, or `workspace = true` on a `[workspace.dependencies]` entry with
//!   a `path`, in `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]` or their
//!   `[target.*]` forms (`package = "…"` renames understood).
//! - npm: `dependencies`, `devDependencies`, `peerDependencies`, `optionalDependencies` naming
//!   another package's `name`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::config::PackageConfig;
use crate::release::Dependency;
use crate::{Error, Result};

/// The dependency tables of a Cargo manifest (and of each `[target.*]` table).
pub const CARGO_TABLES: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];
/// The dependency maps of a `package.json`.
pub const NPM_TABLES: &[&str] = &[
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

/// One configured package's manifests.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name in `[[version.package]]`.
    pub config: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The crate name and the parsed `Cargo.toml`, when it has one with a `[package] name`.
    pub cargo: Option<(String, DocumentMut)>,
    /// The npm name and the parsed `package.json`, when it has one with a `name`.
    pub npm: Option<(String, serde_json::Value)>,
}

/// The root `Cargo.toml` of a workspace: its path, its text and the parsed document.
#[derive(Debug, Clone)]
pub struct RootManifest {
    /// `<root>/Cargo.toml`.
    pub path: PathBuf,
    /// Its text as read.
    pub text: String,
    /// Parsed, for lookups and edits.
    pub doc: DocumentMut,
}

/// The manifests of every configured package, and the root `Cargo.toml`, read once.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// One per `[[version.package]]`, in configuration order.
    pub members: Vec<Member>,
    /// The root `Cargo.toml`, when there is one.
    pub root: Option<RootManifest>,
}

/// The path of a manifest relative to `root`, as shown to people.
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn manifest_error(root: &Path, path: &Path, message: String) -> Error {
    Error::Manifest {
        path: display(root, path),
        message,
    }
}

/// Parse a Cargo manifest, naming it (relative to `root`) when it is not valid TOML.
pub fn parse_toml(root: &Path, path: &Path, text: &str) -> Result<DocumentMut> {
    text.parse().map_err(|e: toml_edit::TomlError| {
        manifest_error(root, path, format!("it is not valid TOML: {e}"))
    })
}

impl Manifests {
    /// Read the manifests of `packages` under `root` (and the root `Cargo.toml`). A missing
    /// manifest is no manifest; one that does not parse is an error naming it.
    pub fn read(root: &Path, packages: &[PackageConfig]) -> Result<Manifests> {
        let mut members = Vec::new();
        for p in packages {
            let dir = root.join(p.path.trim_matches('/'));
            let cargo_path = dir.join("Cargo.toml");
            let cargo = match crate::fs::read_for_rewrite(&cargo_path)? {
                Some(text) => {
                    let doc = parse_toml(root, &cargo_path, &text)?;
                    let name = doc
                        .get("package")
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str())
                        .map(str::to_owned);
                    name.map(|n| (n, doc))
                }
                None => None,
            };
            let npm_path = dir.join("package.json");
            let npm = match crate::fs::read_for_rewrite(&npm_path)? {
                Some(text) => {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                        manifest_error(root, &npm_path, format!("it is not valid JSON: {e}"))
                    })?;
                    let name = value
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned);
                    name.map(|n| (n, value))
                }
                None => None,
            };
            members.push(Member {
                config: p.name.clone(),
                dir,
                cargo,
                npm,
            });
        }
        let path = root.join("Cargo.toml");
        let root_manifest = match crate::fs::read_for_rewrite(&path)? {
            Some(text) => Some(RootManifest {
                doc: parse_toml(root, &path, &text)?,
                path,
                text,
            }),
            None => None,
        };
        Ok(Manifests {
            members,
            root: root_manifest,
        })
    }

    /// The root's `[workspace.dependencies]`, where `workspace = true` entries point.
    pub fn shared(&self) -> Option<&dyn toml_edit::TableLike> {
        self.root
            .as_ref()
            .and_then(|r| workspace_dependencies(&r.doc))
    }

    /// Which configured package depends on which.
    pub fn dependencies(&self) -> Vec<Dependency> {
        let shared = self.shared();
        let by_crate: BTreeMap<&str, &str> = self
            .members
            .iter()
            .filter_map(|m| {
                m.cargo
                    .as_ref()
                    .map(|(n, _)| (n.as_str(), m.config.as_str()))
            })
            .collect();
        let by_npm: BTreeMap<&str, &str> = self
            .members
            .iter()
            .filter_map(|m| m.npm.as_ref().map(|(n, _)| (n.as_str(), m.config.as_str())))
            .collect();
        let mut out: Vec<Dependency> = Vec::new();
        let mut push = |dependent: &str, dependency: &str| {
            if dependent != dependency
                && !out
                    .iter()
                    .any(|d| d.dependent == dependent && d.dependency == dependency)
            {
                out.push(Dependency {
                    dependent: dependent.to_owned(),
                    dependency: dependency.to_owned(),
                });
            }
        };
        for m in &self.members {
            if let Some((_, doc)) = &m.cargo {
                for table in cargo_tables(doc) {
                    for (key, entry) in table.iter() {
                        if let Some(target) = cargo_path_dependency(key, entry, shared)
                            .and_then(|c| by_crate.get(c.as_str()))
                        {
                            push(&m.config, target);
                        }
                    }
                }
            }
            if let Some((_, value)) = &m.npm {
                for table in NPM_TABLES {
                    let Some(deps) = value.get(table).and_then(|d| d.as_object()) else {
                        continue;
                    };
                    for name in deps.keys() {
                        if let Some(target) = by_npm.get(name.as_str()) {
                            push(&m.config, target);
                        }
                    }
                }
            }
        }
        out
    }
}

/// Which configured package depends on which, from the manifests in their paths (nothing to
/// read with fewer than two packages).
pub fn dependencies(root: &Path, packages: &[PackageConfig]) -> Result<Vec<Dependency>> {
    if packages.len() < 2 {
        return Ok(Vec::new());
    }
    Ok(Manifests::read(root, packages)?.dependencies())
}

/// Every dependency table of a Cargo manifest: the plain ones and the `[target.*]` ones.
pub fn cargo_tables(doc: &DocumentMut) -> Vec<&dyn toml_edit::TableLike> {
    fn add<'a>(out: &mut Vec<&'a dyn toml_edit::TableLike>, t: &'a dyn toml_edit::TableLike) {
        for name in CARGO_TABLES {
            if let Some(table) = t.get(name).and_then(|i| i.as_table_like()) {
                out.push(table);
            }
        }
    }
    let mut out = Vec::new();
    add(&mut out, doc.as_table());
    if let Some(targets) = doc.get("target").and_then(|t| t.as_table_like()) {
        for (_, target) in targets.iter() {
            if let Some(target) = target.as_table_like() {
                add(&mut out, target);
            }
        }
    }
    out
}

/// The crate an entry names (`package = "…"` renames it) when it is a workspace path dependency:
/// a `path`, or `workspace = true` on a `workspace_deps` entry with a `path`.
pub fn cargo_path_dependency(
    key: &str,
    entry: &toml_edit::Item,
    workspace_deps: Option<&dyn toml_edit::TableLike>,
) -> Option<String> {
    let entry = entry.as_table_like()?;
    let renamed = |t: &dyn toml_edit::TableLike| {
        t.get("package")
            .and_then(|p| p.as_str())
            .unwrap_or(key)
            .to_owned()
    };
    if entry.get("path").is_some() {
        return Some(renamed(entry));
    }
    if entry.get("workspace").and_then(toml_edit::Item::as_bool) == Some(true) {
        let shared = workspace_deps?.get(key)?.as_table_like()?;
        if shared.get("path").is_some() {
            return Some(renamed(shared));
        }
    }
    None
}

/// A root manifest's `[workspace.dependencies]`.
pub fn workspace_dependencies(doc: &DocumentMut) -> Option<&dyn toml_edit::TableLike> {
    doc.get("workspace")?.get("dependencies")?.as_table_like()
}
