//! `cargo xtask bump X.Y.Z [--sums FILE]`: move every version pin to X.Y.Z.
//!
//! - `Cargo.toml` (`[workspace.package] version` and the workspace's own path dependencies) and
//!   the paved packages in `Cargo.lock`;
//! - `actions/setup/install.sh`: the pinned version and the sha256 of each target's release
//!   archive, from `SHA256SUMS` (by default it runs `cargo xtask dist` to make them);
//! - the GitLab components (regenerated: they embed install.sh);
//! - every `paved-dev/paved/<path>@vX.Y.Z` (actions, workflows) and `paved-dev/paved/<name>@X.Y.Z`
//!   (components) reference in actions, workflows, templates, README.md and docs/.

use std::path::{Path, PathBuf};

use crate::util::root;

/// Files and folders that hold pins.
pub const PINNED: &[&str] = &[
    "README.md",
    "docs",
    "actions",
    "templates",
    ".github/workflows",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut version = None;
    let mut sums = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sums" => sums = Some(PathBuf::from(it.next().ok_or("--sums needs a file")?)),
            v if version.is_none() && !v.starts_with('-') => version = Some(v.to_owned()),
            other => {
                return Err(format!(
                    "usage: cargo xtask bump X.Y.Z [--sums FILE] (got `{other}`)"
                ));
            }
        }
    }
    let version = version.ok_or("usage: cargo xtask bump X.Y.Z [--sums FILE]")?;
    let root = root();
    let old = crate::dist::workspace_version()?;
    bump_cargo(&root, &old, &version)?;
    let sums = match sums {
        Some(f) => std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?,
        None => crate::dist::dist("dist", &root.join("dist"))?,
    };
    let changed = bump_pins(&root, &old, &version, &sums)?;
    for c in changed {
        eprintln!("bump: {c}");
    }
    eprintln!(
        "\nbump: {old} -> {version}. Next: commit, tag v{version}, attach dist/* to the release, move the v{} tag",
        version.split('.').next().unwrap_or("1")
    );
    Ok(())
}

fn semver(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(format!("`{v}` is not a release version X.Y.Z"))
    }
}

/// `Cargo.toml` and `Cargo.lock`: the workspace's version and its own packages.
pub fn bump_cargo(root: &Path, old: &str, new: &str) -> Result<(), String> {
    semver(new)?;
    let path = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("Cargo.toml: {e}"))?;
    let from = format!("version = \"{old}\"");
    let to = format!("version = \"{new}\"");
    let mut in_package = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') {
            in_package = line.trim() == "[workspace.package]";
        }
        let ours = in_package || (line.contains("path = \"crates/") && line.starts_with("paved-"));
        if ours && line.contains(&from) {
            out.push_str(&line.replace(&from, &to));
        } else {
            out.push_str(line);
        }
    }
    std::fs::write(&path, out).map_err(|e| format!("Cargo.toml: {e}"))?;

    let lock = root.join("Cargo.lock");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        let mut out = String::new();
        let mut ours = false;
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("name = ") {
                let name = name.trim().trim_matches('"');
                ours = name.starts_with("paved-") || name == "paved";
            }
            if ours && line.trim() == from {
                out.push_str(&line.replace(&from, &to));
            } else {
                out.push_str(line);
            }
        }
        std::fs::write(&lock, out).map_err(|e| format!("Cargo.lock: {e}"))?;
    }
    Ok(())
}

/// Every pin in actions, workflows, templates and docs, and the checksums. Returns changed files.
pub fn bump_pins(root: &Path, old: &str, new: &str, sums: &str) -> Result<Vec<String>, String> {
    semver(new)?;
    let mut changed = Vec::new();
    // The setup script: version and checksum table.
    let install = root.join("actions/setup/install.sh");
    let text = std::fs::read_to_string(&install).map_err(|e| format!("install.sh: {e}"))?;
    let text = set_checksums(&text, new, sums)?;
    std::fs::write(&install, text).map_err(|e| format!("install.sh: {e}"))?;
    changed.push("actions/setup/install.sh".to_owned());

    for rel in PINNED {
        for file in walk(&root.join(rel)) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let moved = move_refs(&text, old, new);
            if moved != text {
                std::fs::write(&file, moved).map_err(|e| format!("{}: {e}", file.display()))?;
                changed.push(
                    file.strip_prefix(root)
                        .unwrap_or(&file)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    changed.extend(crate::codegen::write(root)?);
    changed.sort();
    changed.dedup();
    Ok(changed)
}

fn walk(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// `paved-dev/paved/<path>@v<old>` -> `@v<new>`, and `paved-dev/paved/<path>@<old>` -> `@<new>`.
pub fn move_refs(text: &str, old: &str, new: &str) -> String {
    const REPO: &str = "paved-dev/paved/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(REPO) {
        let after = i + REPO.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let path_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_./<>".contains(c)))
            .unwrap_or(rest.len());
        if rest[path_len..].starts_with('@') {
            let pin = &rest[path_len + 1..];
            let (v, body) = pin.strip_prefix('v').map_or(("", pin), |b| ("v", b));
            let ends = body[old.len().min(body.len())..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'));
            if body.starts_with(old) && ends {
                out.push_str(&rest[..=path_len]);
                out.push_str(v);
                out.push_str(new);
                rest = &body[old.len()..];
                continue;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Rewrite `paved_version=` and the `paved_sha256` table of install.sh from SHA256SUMS lines
/// `<sha>  paved-<new>-<target>.tar.gz`.
pub fn set_checksums(script: &str, new: &str, sums: &str) -> Result<String, String> {
    let prefix = format!("paved-{new}-");
    let mut table: Vec<(String, String)> = Vec::new();
    for line in sums.lines() {
        let Some((sha, name)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let name = name.trim().trim_start_matches('*');
        let Some(target) = name
            .strip_prefix(&prefix)
            .and_then(|t| t.strip_suffix(".tar.gz"))
        else {
            continue;
        };
        // Both go into install.sh as shell text: only a sha256 and a plain target triple may.
        let is_sha = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
        let is_triple = !target.is_empty()
            && target
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !is_sha || !is_triple {
            return Err(format!(
                "SHA256SUMS line `{line}` is not `<sha256>  paved-{new}-<target>.tar.gz` (64 hex digits, a target triple); nothing was pinned: regenerate it with `cargo xtask dist`"
            ));
        }
        table.push((target.to_owned(), sha.to_ascii_lowercase()));
    }
    if table.is_empty() {
        return Err(format!(
            "SHA256SUMS lists no `paved-{new}-<target>.tar.gz`: build them with `cargo xtask dist` after setting the version"
        ));
    }
    table.sort();
    let mut out = String::new();
    let mut in_table = false;
    for line in script.split_inclusive('\n') {
        if line.starts_with("paved_version=") {
            out.push_str(&format!("paved_version={new}\n"));
        } else if line.trim() == "case \"$1\" in"
            && !in_table
            && out.ends_with("paved_sha256() {\n")
        {
            in_table = true;
            out.push_str(line);
            for (target, sha) in &table {
                out.push_str(&format!("    {target}) echo {sha} ;;\n"));
            }
        } else if in_table {
            if line.trim_start().starts_with("*)") {
                in_table = false;
                out.push_str(line);
            }
        } else {
            out.push_str(line);
        }
    }
    if !out.contains(&table[0].1) {
        return Err("install.sh has no `paved_sha256() { case \"$1\" in` table to update".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap().flatten() {
                copy(&e.path(), &to.join(e.file_name()));
            }
        } else if from.is_file() {
            std::fs::copy(from, to).unwrap();
        }
    }

    #[test]
    fn bump_moves_every_pin() {
        let root = crate::util::root();
        let old = crate::dist::workspace_version().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        for rel in PINNED.iter().chain(&["Cargo.toml", "Cargo.lock"]) {
            copy(&root.join(rel), &tmp.path().join(rel));
        }
        let tree = tmp.path();
        let sha = "ab".repeat(32);
        let sums = format!(
            "{sha}  paved-9.8.7-x86_64-unknown-linux-musl.tar.gz\n{}  paved-version\n",
            "cd".repeat(32)
        );
        bump_cargo(tree, &old, "9.8.7").unwrap();
        bump_pins(tree, &old, "9.8.7", &sums).unwrap();

        let mut pins = 0;
        for file in walk(tree) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let rel = file.strip_prefix(tree).unwrap().display().to_string();
            for stale in [
                format!("@v{old}"),
                format!("@{old}"),
                format!("paved_version={old}"),
            ] {
                assert!(!text.contains(&stale), "{rel} still pins {stale}");
            }
            pins += text.matches("@v9.8.7").count() + text.matches("@9.8.7").count();
        }
        assert!(
            pins >= 10,
            "expected the workflows, docs and components to pin 9.8.7, found {pins}"
        );
        let install = std::fs::read_to_string(tree.join("actions/setup/install.sh")).unwrap();
        assert!(install.contains("paved_version=9.8.7"));
        assert!(install.contains(&format!("x86_64-unknown-linux-musl) echo {sha} ;;")));
        // The components embed install.sh: they moved too, and codegen sees no drift.
        assert!(crate::codegen::drift(tree).unwrap().is_empty());
        let cargo = std::fs::read_to_string(tree.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("version = \"9.8.7\""));
        assert!(!cargo.contains(&format!(
            "paved-core = {{ path = \"crates/paved-core\", version = \"{old}\" }}"
        )));
    }

    #[test]
    fn refs_move_only_on_an_exact_version() {
        let text = "uses: paved-dev/paved/actions/version@v0.1.0\n- component: $CI_SERVER_FQDN/paved-dev/paved/version@0.1.0\nkeep paved-dev/paved/x@v0.1.01 and other/repo@v0.1.0\n";
        assert_eq!(
            move_refs(text, "0.1.0", "1.0.0"),
            "uses: paved-dev/paved/actions/version@v1.0.0\n- component: $CI_SERVER_FQDN/paved-dev/paved/version@1.0.0\nkeep paved-dev/paved/x@v0.1.01 and other/repo@v0.1.0\n"
        );
    }

    #[test]
    fn missing_checksums_are_an_error() {
        let err = set_checksums("paved_version=0.1.0\n", "1.0.0", "").unwrap_err();
        assert!(err.contains("cargo xtask dist"), "{err}");
    }

    #[test]
    fn a_sums_line_that_is_not_a_sha256_of_a_plain_target_is_refused() {
        let script =
            std::fs::read_to_string(crate::util::root().join("actions/setup/install.sh")).unwrap();
        let good = "ab".repeat(32);
        for sums in [
            // Not a sha256: it would be written into install.sh as shell code.
            "$(touch${IFS}/tmp/pwned)  paved-1.0.0-x86_64-unknown-linux-musl.tar.gz\n".to_owned(),
            format!(
                "{}  paved-1.0.0-x86_64-unknown-linux-musl.tar.gz\n",
                "ab".repeat(31)
            ),
            // A target that is not a plain triple would change the `case` pattern.
            format!("{good}  paved-1.0.0-x86_64|*.tar.gz\n"),
        ] {
            let err = set_checksums(&script, "1.0.0", &sums).unwrap_err();
            assert!(err.contains("SHA256SUMS"), "{err}");
        }
        let ok = set_checksums(
            &script,
            "1.0.0",
            &format!("{good}  paved-1.0.0-x86_64-unknown-linux-musl.tar.gz\n"),
        )
        .unwrap();
        assert!(ok.contains(&format!("x86_64-unknown-linux-musl) echo {good} ;;")));
    }
}
