//! `cargo xtask sbom [--out FILE]`: a CycloneDX 1.5 JSON SBOM of what a paved release ships.
//!
//! The components are the five tool crates and every crate they link, on any target the release
//! builds for: the union of `cargo metadata --filter-platform T` over [`RELEASE_TARGETS`], walked
//! from the tool crates through normal dependencies only (dev-dependencies and build scripts'
//! dependencies are not in the binaries). Each crate has its purl (`pkg:cargo/name@version`), its
//! licence expression from its manifest and, for registry crates, the sha256 Cargo.lock records
//! for its `.crate` file. `dependencies` is the graph between them.
//!
//! The document is reproducible: no random serial number, and the timestamp is the tagged
//! commit's time. The release workflow (`.github/workflows/paved-release.yml`) attaches it to the
//! GitHub release next to the archives.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::codegen::TOOLS;
use crate::util::{cargo, root};

/// Every target a paved release ships binaries for (the release workflow's matrix).
pub const RELEASE_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a file")?)),
            other => return Err(format!("`sbom` takes --out FILE (got `{other}`)")),
        }
    }
    let root = root();
    let version = crate::dist::workspace_version()?;
    let out = out.unwrap_or_else(|| root.join("dist").join(format!("paved-{version}.cdx.json")));
    let bom = sbom(&root)?;
    let count = bom["components"].as_array().map_or(0, Vec::len);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("could not create `{}`: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&bom).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&out, text).map_err(|e| format!("could not write `{}`: {e}", out.display()))?;
    eprintln!(
        "sbom: {} (CycloneDX 1.5, {count} components)",
        out.display()
    );
    Ok(())
}

/// One crate as `cargo metadata` describes it.
#[derive(Debug, Clone)]
struct Crate {
    name: String,
    version: String,
    /// `registry+https://…`, `git+…`, or `None` for a path (workspace) crate.
    source: Option<String>,
    license: Option<String>,
    description: Option<String>,
}

/// The shipped crates (by package id) and the normal-dependency edges between them, for one
/// `cargo metadata` document.
fn shipped(
    metadata: &Value,
    crates: &mut BTreeMap<String, Crate>,
    edges: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<(), String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("`cargo metadata` printed no `packages`")?;
    for p in packages {
        let id = p["id"].as_str().unwrap_or_default().to_owned();
        let text = |key: &str| p[key].as_str().map(str::to_owned);
        crates.entry(id).or_insert_with(|| Crate {
            name: text("name").unwrap_or_default(),
            version: text("version").unwrap_or_default(),
            source: text("source"),
            license: text("license"),
            description: text("description"),
        });
    }
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("`cargo metadata` printed no `resolve.nodes`")?;
    let mut normal: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in nodes {
        let id = n["id"].as_str().unwrap_or_default();
        let deps = n["deps"].as_array().map(Vec::as_slice).unwrap_or_default();
        let linked = deps
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
            })
            .filter_map(|d| d["pkg"].as_str())
            .collect();
        normal.insert(id, linked);
    }
    let mut stack: Vec<&str> = crates
        .iter()
        .filter(|(_, c)| c.source.is_none() && TOOLS.iter().any(|t| t.bin == c.name))
        .map(|(id, _)| id.as_str())
        .filter(|id| normal.contains_key(id))
        .collect();
    if stack.len() != TOOLS.len() {
        return Err(format!(
            "`cargo metadata` lists {} of the {} tool crates; run it in the paved workspace",
            stack.len(),
            TOOLS.len()
        ));
    }
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.to_owned()) {
            continue;
        }
        let deps = normal.get(id).cloned().unwrap_or_default();
        edges
            .entry(id.to_owned())
            .or_default()
            .extend(deps.iter().map(|d| (*d).to_owned()));
        stack.extend(deps);
    }
    Ok(())
}

/// `(name, version, source)` → the sha256 Cargo.lock records for the `.crate` file.
fn lock_checksums(lock: &str) -> Result<BTreeMap<(String, String, String), String>, String> {
    let doc: toml::Table = lock
        .parse()
        .map_err(|e| format!("`Cargo.lock` does not parse: {e}"))?;
    let mut out = BTreeMap::new();
    let packages = doc
        .get("package")
        .and_then(toml::Value::as_array)
        .ok_or("`Cargo.lock` has no `[[package]]`")?;
    for p in packages {
        let field = |k: &str| p.get(k).and_then(toml::Value::as_str).map(str::to_owned);
        if let (Some(n), Some(v), Some(s), Some(c)) = (
            field("name"),
            field("version"),
            field("source"),
            field("checksum"),
        ) {
            out.insert((n, v, s), c);
        }
    }
    Ok(out)
}

/// Cargo's old `MIT/Apache-2.0` spelling as the SPDX expression it means.
fn spdx(license: &str) -> String {
    license
        .split('/')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn purl(c: &Crate) -> String {
    format!("pkg:cargo/{}@{}", c.name, c.version)
}

/// The SBOM of the workspace at `root`.
pub fn sbom(root: &Path) -> Result<Value, String> {
    let mut crates = BTreeMap::new();
    let mut edges = BTreeMap::new();
    for target in RELEASE_TARGETS {
        let out = cargo()
            .current_dir(root)
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", target])
            .output()
            .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`cargo metadata --filter-platform {target}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let metadata: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))?;
        shipped(&metadata, &mut crates, &mut edges)?;
    }
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|e| format!("could not read `{}`: {e}", lock_path.display()))?;
    let checksums = lock_checksums(&lock)?;

    let version = crate::dist::workspace_version()?;
    let top = format!("paved@{version}");
    let ref_of = |id: &str| crates.get(id).map(purl).unwrap_or_else(|| id.to_owned());
    let mut components = Vec::new();
    for id in edges.keys() {
        let c = &crates[id];
        let tool = c.source.is_none() && TOOLS.iter().any(|t| t.bin == c.name);
        let mut component = json!({
            "type": if tool { "application" } else { "library" },
            "bom-ref": purl(c),
            "name": c.name,
            "version": c.version,
            "scope": "required",
            "purl": purl(c),
        });
        if let Some(d) = c.description.as_deref() {
            component["description"] = json!(d.trim());
        }
        if let Some(l) = c.license.as_deref() {
            component["licenses"] = json!([{ "expression": spdx(l) }]);
        }
        if let Some(source) = &c.source {
            let key = (c.name.clone(), c.version.clone(), source.clone());
            if let Some(sum) = checksums.get(&key) {
                component["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
            }
        }
        components.push(component);
    }
    let mut dependencies = vec![json!({
        "ref": top,
        "dependsOn": edges
            .keys()
            .filter(|id| crates[*id].source.is_none() && TOOLS.iter().any(|t| t.bin == crates[*id].name))
            .map(|id| ref_of(id))
            .collect::<Vec<_>>(),
    })];
    for (id, deps) in &edges {
        let on: BTreeSet<String> = deps.iter().map(|d| ref_of(d)).collect();
        dependencies.push(json!({ "ref": ref_of(id), "dependsOn": on }));
    }

    let mut metadata = json!({
        "tools": { "components": [{
            "type": "application",
            "name": "cargo xtask sbom",
            "version": version,
        }]},
        "component": {
            "type": "application",
            "bom-ref": top,
            "name": "paved",
            "version": version,
            "description": "paved's release binaries: paved-version, paved-changelog, paved-quarantine, paved-promote, paved-change",
            "licenses": [{ "expression": "MIT OR Apache-2.0" }],
            "externalReferences": [{ "type": "vcs", "url": "https://github.com/paved-dev/paved" }],
        },
        "properties": [{ "name": "paved:targets", "value": RELEASE_TARGETS.join(" ") }],
    });
    if let Some(time) = commit_time(root) {
        metadata["timestamp"] = json!(time);
    }
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    }))
}

/// HEAD's commit time (strict ISO 8601), so the same commit gives the same SBOM.
fn commit_time(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["log", "-1", "--format=%cI"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let t = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tools::venv_bin;

    /// Validates with cyclonedx-python-lib's strict JSON validator and the 1.5 schema it ships.
    const VALIDATE: &str = "\
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if error is not None:
    print(error, file=sys.stderr)
    sys.exit(1)
";

    fn validate(path: &Path) -> std::process::Output {
        let python = venv_bin().join("python");
        assert!(
            python.is_file(),
            "no tools venv at {}: run `cargo xtask tools`",
            python.display()
        );
        Command::new(python)
            .args(["-c", VALIDATE])
            .arg(path)
            .output()
            .unwrap()
    }

    /// `(version, checksum)` of each registry crate called `name` in Cargo.lock, read line by line
    /// (not with the parser the SBOM uses).
    fn locked(lock: &str, name: &str) -> Vec<(String, String)> {
        lock.split("[[package]]")
            .filter(|block| block.lines().any(|l| l == format!("name = \"{name}\"")))
            .filter_map(|block| {
                let field = |k: &str| {
                    block.lines().find_map(|l| {
                        l.strip_prefix(&format!("{k} = \""))
                            .map(|v| v.trim_end_matches('"').to_owned())
                    })
                };
                Some((field("version")?, field("checksum")?))
            })
            .collect()
    }

    #[test]
    fn the_sbom_is_valid_cyclonedx_and_lists_the_locked_crates_with_their_checksums() {
        let root = root();
        let bom = sbom(&root).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paved.cdx.json");
        std::fs::write(&path, serde_json::to_string_pretty(&bom).unwrap()).unwrap();
        let out = validate(&path);
        assert!(
            out.status.success(),
            "the SBOM is not valid CycloneDX 1.5: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
        let components = bom["components"].as_array().unwrap();
        for name in ["gix", "ureq", "rustls", "clap"] {
            let expected = locked(&lock, name);
            assert!(!expected.is_empty(), "{name} is not in Cargo.lock");
            for (version, checksum) in expected {
                let c = components
                    .iter()
                    .find(|c| c["name"] == name && c["version"] == version.as_str())
                    .unwrap_or_else(|| panic!("{name} {version} is not in the SBOM"));
                assert_eq!(c["purl"], format!("pkg:cargo/{name}@{version}"));
                assert_eq!(c["hashes"][0]["alg"], "SHA-256");
                assert_eq!(c["hashes"][0]["content"], checksum.as_str());
                assert!(c["licenses"][0]["expression"].is_string(), "{c}");
            }
        }
        for t in TOOLS {
            let c = components.iter().find(|c| c["name"] == t.bin).unwrap();
            assert_eq!(c["type"], "application");
        }
        // Only what the binaries link: no test-only crates, no xtask.
        for absent in ["paved-testkit", "insta", "xtask"] {
            assert!(
                !components.iter().any(|c| c["name"] == absent),
                "{absent} is not shipped but is in the SBOM"
            );
        }
        // Every edge names a component.
        let refs: BTreeSet<&str> = components
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .chain([bom["metadata"]["component"]["bom-ref"].as_str().unwrap()])
            .collect();
        for d in bom["dependencies"].as_array().unwrap() {
            assert!(refs.contains(d["ref"].as_str().unwrap()), "{d}");
            for on in d["dependsOn"].as_array().unwrap() {
                assert!(refs.contains(on.as_str().unwrap()), "{d}");
            }
        }
    }

    #[test]
    fn the_validator_refuses_a_document_that_breaks_the_schema() {
        // The check above means something only if the validator can say no.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.cdx.json");
        let bad = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "components": [{ "type": "library", "name": "gix", "hashes": [{ "alg": "sha256", "content": "zz" }] }],
        });
        std::fs::write(&path, bad.to_string()).unwrap();
        let out = validate(&path);
        assert!(!out.status.success());
    }

    #[test]
    fn the_release_workflow_builds_every_target_the_sbom_covers() {
        let workflow =
            std::fs::read_to_string(root().join(".github/workflows/paved-release.yml")).unwrap();
        let built: Vec<&str> = workflow
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("- { target: "))
            .filter_map(|l| l.split(',').next())
            .collect();
        assert_eq!(
            built, RELEASE_TARGETS,
            "the workflow's matrix and RELEASE_TARGETS differ"
        );
        assert!(workflow.contains("cargo xtask dist --target \"$TARGET\""));
        assert!(workflow.contains("cargo xtask sbom --out"));
    }

    #[test]
    fn old_style_licences_become_spdx_expressions() {
        assert_eq!(spdx("MIT/Apache-2.0"), "MIT OR Apache-2.0");
        assert_eq!(spdx("MIT OR Apache-2.0"), "MIT OR Apache-2.0");
    }
}
