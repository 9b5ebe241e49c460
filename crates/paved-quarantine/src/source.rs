//! Which source file a test lives in, when its JUnit report does not say (no `file` attribute:
//! pytest's default xunit2, gotestsum, go-junit-report, nextest, jest-junit): found from the test
//! id and the repository itself, so CODEOWNERS can name an owner.
//!
//! | runner (JUnit shape) | from | to |
//! |---|---|---|
//! | pytest (`classname` = dotted module path, then classes) | the longest dotted prefix that is a `.py` file | `tests/test_cart.py` |
//! | go (`classname` = import path, `name` = `TestX/sub`) | the `go.mod` whose `module` is the longest prefix of the import path, then the package's `_test.go` file declaring `func TestX(` | `cart/cart_test.go` |
//! | nextest (suite = binary id `crate`, `crate::bin/x`, `crate::it`) | the workspace member whose `Cargo.toml` names the crate | `crates/shop/src/lib.rs`, `crates/shop/tests/it/main.rs` |
//! | jest-junit with `suiteNameTemplate: "{filepath}"`, playwright (`classname` = spec file) | the suite or classname when it is a file | `tests/login.test.js` |
//!
//! Every mapping only answers with a file that exists in the repository; otherwise `None` (the
//! default owner applies). jest-junit's default suite name is the first `describe` title, which
//! names no file: set `suiteNameTemplate` to `{filepath}` (or `addFileAttribute`).

use std::path::{Path, PathBuf};

use crate::model::TestId;

/// Directories never searched for `go.mod` or `Cargo.toml`.
const SKIP_DIRS: &[&str] = &[".git", "target", "node_modules", "vendor", ".venv", "venv"];

/// How deep below the repository root manifests are looked for.
const MAX_DEPTH: usize = 6;

/// The test's source file relative to `repo`: `known` (the report's `file` attribute) when
/// given, else found from the id (see the module docs).
pub fn source_file(id: &TestId, known: Option<&str>, repo: &Path) -> Option<String> {
    if let Some(f) = known {
        return Some(f.to_owned());
    }
    let is_file = |p: &str| !p.is_empty() && !p.contains("..") && repo.join(p).is_file();
    for named in [&id.suite, &id.classname] {
        let named = named.trim_start_matches("./");
        if is_file(named) {
            return Some(named.to_owned());
        }
    }
    python_module(&id.classname, repo)
        .or_else(|| go_test_file(&id.classname, &id.name, repo))
        .or_else(|| cargo_binary(&id.suite, repo))
}

/// pytest writes the module path dotted in `classname` (`tests.test_cart.TestTotal`): the
/// longest dotted prefix that is a `.py` file in `repo`.
pub fn python_module(classname: &str, repo: &Path) -> Option<String> {
    let parts: Vec<&str> = classname.split('.').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| p.contains(['/', '\\']) || *p == "..") {
        return None;
    }
    (1..=parts.len()).rev().find_map(|k| {
        let file = format!("{}.py", parts[..k].join("/"));
        repo.join(&file).is_file().then_some(file)
    })
}

/// Manifests named `name` under `repo` (not in [`SKIP_DIRS`]), as paths relative to `repo`.
fn manifests(repo: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![(PathBuf::new(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(repo.join(&dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let file_name = e.file_name();
            let rel = dir.join(&file_name);
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                let skip = SKIP_DIRS.iter().any(|s| file_name == *s);
                if !skip && depth < MAX_DEPTH {
                    dirs.push((rel, depth + 1));
                }
            } else if kind.is_file() && file_name == name {
                found.push(rel);
            }
        }
    }
    found.sort();
    found
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `module` line of a go.mod.
fn go_module(text: &str) -> Option<&str> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("module")?;
        rest.starts_with([' ', '\t'])
            .then(|| rest.trim().trim_matches('"'))
            .filter(|m| !m.is_empty())
    })
}

/// gotestsum and go-junit-report write the package import path as `classname`: the go.mod
/// whose module path is its longest prefix gives the package directory, and the `_test.go`
/// file there declaring the top-level test (`TestX` of `TestX/sub`) is the file.
pub fn go_test_file(import_path: &str, name: &str, repo: &Path) -> Option<String> {
    if !import_path.contains('/') && !import_path.contains('.') {
        return None;
    }
    let func = name.split('/').next().unwrap_or(name);
    let (module_dir, module) = manifests(repo, "go.mod")
        .into_iter()
        .filter_map(|m| {
            let text = std::fs::read_to_string(repo.join(&m)).ok()?;
            let module = go_module(&text)?.to_owned();
            let inside = import_path == module || import_path.starts_with(&format!("{module}/"));
            inside.then(|| (m.parent().map(Path::to_owned).unwrap_or_default(), module))
        })
        .max_by_key(|(_, module)| module.len())?;
    let rel = import_path[module.len()..].trim_start_matches('/');
    if rel.split('/').any(|p| p == "..") {
        return None;
    }
    let dir = module_dir.join(rel);
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join(&dir))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with("_test.go"))
        })
        .collect();
    files.sort();
    let declares = |p: &Path| {
        std::fs::read_to_string(p).is_ok_and(|text| {
            text.lines().any(|l| {
                l.strip_prefix("func ")
                    .and_then(|rest| rest.strip_prefix(func))
                    .is_some_and(|rest| rest.starts_with('('))
            })
        })
    };
    let file = files.iter().find(|p| declares(p))?;
    Some(slash(&dir.join(file.file_name()?)))
}

/// The `[package] name` of a Cargo.toml.
fn cargo_package(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("package")?.get("name")?.as_str().map(str::to_owned)
}

/// nextest's suite is the binary id: `crate` (its library's unit tests), `crate::bin/x`,
/// `crate::example/x`, `crate::bench/x`, or `crate::test` (an integration test). The crate's
/// directory comes from its Cargo.toml in the workspace; the file from cargo's default layout.
pub fn cargo_binary(binary_id: &str, repo: &Path) -> Option<String> {
    let (krate, binary) = match binary_id.split_once("::") {
        Some((k, b)) => (k, Some(b)),
        None => (binary_id, None),
    };
    if krate.is_empty() || krate.contains(['/', '\\', ' ']) {
        return None;
    }
    let manifest = manifests(repo, "Cargo.toml").into_iter().find(|m| {
        std::fs::read_to_string(repo.join(m))
            .ok()
            .and_then(|t| cargo_package(&t))
            .is_some_and(|n| n == krate || n.replace('-', "_") == krate)
    })?;
    let dir = manifest.parent().map(Path::to_owned).unwrap_or_default();
    let candidates: Vec<String> = match binary.map(|b| b.split_once('/')) {
        None => vec!["src/lib.rs".into(), "src/main.rs".into()],
        Some(Some(("bin", name))) => vec![
            format!("src/bin/{name}.rs"),
            format!("src/bin/{name}/main.rs"),
            "src/main.rs".into(),
        ],
        Some(Some((kind @ ("example" | "bench"), name))) => {
            let folder = if kind == "example" {
                "examples"
            } else {
                "benches"
            };
            vec![
                format!("{folder}/{name}.rs"),
                format!("{folder}/{name}/main.rs"),
            ]
        }
        Some(Some(_)) => Vec::new(),
        Some(None) => {
            let name = binary.unwrap_or_default();
            vec![format!("tests/{name}.rs"), format!("tests/{name}/main.rs")]
        }
    };
    candidates
        .into_iter()
        .map(|c| dir.join(c))
        .find(|p| repo.join(p).is_file())
        .map(|p| slash(&p))
}
