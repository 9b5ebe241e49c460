//! `--write`: set the released version in version files, preserving formatting and comments.
//!
//! - `Cargo.toml`: `[package] version` and `[workspace.package] version` (string values only;
//!   `version.workspace = true` is left alone).
//! - `pyproject.toml`: `[project] version` (unless listed in `dynamic`) and `[tool.poetry] version`.
//! - `package.json`: the top-level `"version"`, edited in place so key order and spacing stay.
//! - Other configured files: a `.toml` or `.json` file's top-level `version`, or a plain-text file
//!   that holds only the version (e.g. `VERSION`).
//!
//! Every file is prepared first and written only if all of them can be: a bad file means nothing
//! is written.

use std::path::{Path, PathBuf};

use semver::Version;
use toml_edit::DocumentMut;

use crate::error::{Error, Result};

/// Files looked for in the package directory.
const DISCOVERED: &[&str] = &["Cargo.toml", "package.json", "pyproject.toml"];

/// Set `version` in the package's version files and in `extra` (root-relative). Returns the
/// files changed, relative to `root`.
pub fn write_versions(
    root: &Path,
    package_path: Option<&str>,
    extra: &[String],
    version: &Version,
) -> Result<Vec<String>> {
    let dir = package_path.map_or_else(|| root.to_owned(), |p| root.join(p));
    let mut targets: Vec<(PathBuf, bool)> = DISCOVERED
        .iter()
        .map(|f| (dir.join(f), false))
        .filter(|(p, _)| p.is_file())
        .collect();
    for f in extra {
        let p = root.join(f);
        if !targets.iter().any(|(t, _)| t == &p) {
            targets.push((p, true));
        }
    }
    let v = version.to_string();
    let mut prepared = Vec::new();
    for (path, explicit) in targets {
        let shown = crate::display(root, &path);
        let text = paved_core::fs::read_for_rewrite(&path)?.ok_or_else(|| Error::VersionFile {
            path: shown.clone(),
            message: "could not read it: it does not exist".into(),
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        let updated = match (name, ext) {
            ("Cargo.toml", _) => set_toml(&text, &[&["package"], &["workspace", "package"]], &v),
            ("pyproject.toml", _) => set_pyproject(&text, &v),
            (_, "toml") => set_toml(&text, &[&[]], &v),
            (_, "json") => set_json(&text, &v),
            _ => Ok(Some(set_plain(&text, &v))),
        }
        .map_err(|message| Error::VersionFile {
            path: shown.clone(),
            message,
        })?;
        match updated {
            Some(new) if new != text => prepared.push((path, shown, new)),
            Some(_) => {}
            None if explicit => {
                return Err(Error::VersionFile {
                    path: shown,
                    message: "it has no `version` field to set".into(),
                });
            }
            None => {}
        }
    }
    let mut written = Vec::new();
    for (path, shown, new) in prepared {
        paved_core::fs::write_atomic(&path, new.as_bytes())?;
        written.push(shown);
    }
    Ok(written)
}

fn set_value(item: &mut toml_edit::Item, v: &str) -> bool {
    match item.as_value_mut() {
        Some(value) if value.is_str() => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(v);
            *value.decor_mut() = decor;
            true
        }
        _ => false,
    }
}

fn table_at<'a>(
    doc: &'a mut DocumentMut,
    path: &[&str],
) -> Option<&'a mut dyn toml_edit::TableLike> {
    let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for key in path {
        t = t.get_mut(key)?.as_table_like_mut()?;
    }
    Some(t)
}

/// Set `version` in each table at `paths` that has a string `version`. `Ok(None)` when none has.
fn set_toml(text: &str, paths: &[&[&str]], v: &str) -> std::result::Result<Option<String>, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("it is not valid TOML: {e}"))?;
    let mut changed = false;
    for path in paths {
        if let Some(item) = table_at(&mut doc, path).and_then(|t| t.get_mut("version")) {
            changed |= set_value(item, v);
        }
    }
    Ok(changed.then(|| doc.to_string()))
}

fn set_pyproject(text: &str, v: &str) -> std::result::Result<Option<String>, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("it is not valid TOML: {e}"))?;
    let mut changed = false;
    if let Some(project) = table_at(&mut doc, &["project"]) {
        let dynamic = project
            .get("dynamic")
            .and_then(|d| d.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("version")));
        if let (false, Some(item)) = (dynamic, project.get_mut("version")) {
            changed |= set_value(item, v);
        }
    }
    if let Some(item) = table_at(&mut doc, &["tool", "poetry"]).and_then(|t| t.get_mut("version")) {
        changed |= set_value(item, v);
    }
    Ok(changed.then(|| doc.to_string()))
}

fn set_plain(text: &str, v: &str) -> String {
    let trailing = &text[text.trim_end().len()..];
    format!("{v}{}", if trailing.is_empty() { "\n" } else { trailing })
}

/// Replace the top-level `"version"` string of a JSON object in place.
fn set_json(text: &str, v: &str) -> std::result::Result<Option<String>, String> {
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not valid JSON: {e}"))?;
    if !parsed
        .get("version")
        .is_some_and(serde_json::Value::is_string)
    {
        return Ok(None);
    }
    let span = json::top_level_string(text.as_bytes(), "version")
        .ok_or("could not locate the top-level `version`")?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..span.0]);
    out.push_str(&serde_json::to_string(v).expect("a string serialises"));
    out.push_str(&text[span.1..]);
    Ok(Some(out))
}

/// The byte span (quotes included) of the string at `path` in a JSON document, for in-place
/// edits of nested values (`["dependencies", "@scope/x"]`).
pub(crate) fn json_member_string(text: &[u8], path: &[&str]) -> Option<(usize, usize)> {
    json::string_at(text, path)
}

/// A tiny JSON scanner: just enough to find the byte span of a top-level string value.
mod json {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    }

    /// End of the string starting at `i` (a `"`), exclusive.
    fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    fn value_end(b: &[u8], i: usize) -> Option<usize> {
        match *b.get(i)? {
            b'"' => string_end(b, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = string_end(b, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']')
                    && !b[j].is_ascii_whitespace()
                {
                    j += 1;
                }
                Some(j)
            }
        }
    }

    /// The byte span of the value of member `key` of the object starting at `i`.
    fn member(b: &[u8], i: usize, key: &str) -> Option<(usize, usize)> {
        let mut i = ws(b, i);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i += 1;
        loop {
            i = ws(b, i);
            match b.get(i)? {
                b'}' => return None,
                b',' => {
                    i += 1;
                    continue;
                }
                b'"' => {}
                _ => return None,
            }
            let key_end = string_end(b, i)?;
            let this_key: String = serde_json::from_slice(&b[i..key_end]).ok()?;
            i = ws(b, key_end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws(b, i + 1);
            let end = value_end(b, i)?;
            if this_key == key {
                return Some((i, end));
            }
            i = end;
        }
    }

    /// The span of the string at `path` (keys of nested objects), quotes included.
    pub(super) fn string_at(b: &[u8], path: &[&str]) -> Option<(usize, usize)> {
        let mut span = (0, b.len());
        for key in path {
            span = member(b, span.0, key)?;
        }
        (b.get(span.0) == Some(&b'"')).then_some(span)
    }

    pub(super) fn top_level_string(b: &[u8], key: &str) -> Option<(usize, usize)> {
        string_at(b, &[key])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_toml_keeps_comments_and_skips_inherited() {
        let text = "[package]\nname = \"x\"\nversion = \"0.1.0\" # bumped by paved\n\n[dependencies]\nfoo = { version = \"1\" }\n";
        let out = set_toml(text, &[&["package"], &["workspace", "package"]], "0.2.0")
            .unwrap()
            .unwrap();
        assert_eq!(out, text.replace("0.1.0", "0.2.0"));
        let inherited = "[package]\nname = \"x\"\nversion.workspace = true\n";
        assert_eq!(
            set_toml(
                inherited,
                &[&["package"], &["workspace", "package"]],
                "1.0.0"
            )
            .unwrap(),
            None
        );
        let ws = "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"1.0.0\"\n";
        assert!(
            set_toml(ws, &[&["package"], &["workspace", "package"]], "1.1.0")
                .unwrap()
                .unwrap()
                .contains("\"1.1.0\"")
        );
    }

    #[test]
    fn package_json_in_place() {
        let text = "{\n  \"name\": \"x\",\n  \"nested\": {\"version\": \"9.9.9\"},\n  \"version\":   \"1.0.0\",\n  \"z\": [1, \"}\"]\n}\n";
        let out = set_json(text, "1.1.0").unwrap().unwrap();
        assert_eq!(out, text.replace("\"1.0.0\"", "\"1.1.0\""));
        assert!(set_json("{\"name\": 1}", "1.0.0").unwrap().is_none());
        assert!(set_json("{bad", "1.0.0").is_err());
    }

    #[test]
    fn pyproject_both_styles_and_dynamic() {
        let text = "[project]\nname = \"x\"\nversion = \"0.1.0\"\n\n[tool.poetry]\nversion = \"0.1.0\"  # keep\n";
        let out = set_pyproject(text, "0.2.0").unwrap().unwrap();
        assert_eq!(out, text.replace("0.1.0", "0.2.0"));
        let dynamic = "[project]\nname = \"x\"\ndynamic = [\"version\"]\nversion = \"0.0.0\"\n";
        assert_eq!(set_pyproject(dynamic, "1.0.0").unwrap(), None);
    }

    #[test]
    fn plain_files() {
        assert_eq!(set_plain("1.0.0\n", "1.1.0"), "1.1.0\n");
        assert_eq!(set_plain("1.0.0", "1.1.0"), "1.1.0\n");
    }
}
