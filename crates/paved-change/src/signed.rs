//! Evidence with integrity: the bundle signed as an in-toto Statement v1 in a DSSE envelope, and
//! the evidence digest that binds a backend's record to the evidence it was opened with. See
//! docs/change-bundle.md ("Signed bundles").
//!
//! Layout: `<records>/<id>.json` stays the plain bundle every reader reads (`dora`, `wait`,
//! `close`, `verify`, older paved versions); the envelope is written next to it as
//! `<records>/<id>.intoto.jsonl` (one compact JSON line; not `*.json`, so directory readers never
//! take it for a bundle). Its predicate is the bundle JSON, so `verify` names every field the
//! plain file changed after signing.

use std::path::{Path, PathBuf};

use paved_core::sign::{Envelope, PrivateKey, PublicKey, Statement, Subject};
use serde::Serialize;
use serde_json::Value;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::validate::{Problem, shown};

/// The in-toto `predicateType` of a signed change bundle (format version 1).
pub const PREDICATE_TYPE: &str = "https://paved.dev/change/v1";

/// The envelope file of the bundle at `bundle`: `X.json` → `X.intoto.jsonl`.
pub fn envelope_path(bundle: &Path) -> PathBuf {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    bundle.with_file_name(format!("{stem}.intoto.jsonl"))
}

/// The bundle an envelope file belongs to (`X.intoto.jsonl` → `X.json`), or `None` when `path`
/// is not an envelope's name.
pub fn bundle_of_envelope(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".intoto.jsonl")?;
    Some(path.with_file_name(format!("{stem}.json")))
}

/// The signing key of `--signing-key`, loaded (exit 2 naming the file when it is not a key).
pub fn load_key(path: Option<&Path>) -> Result<Option<PrivateKey>> {
    path.map(|p| PrivateKey::load(p).map_err(Error::from))
        .transpose()
}

/// The trusted keys of `--trusted-key`.
pub fn load_trusted(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| PublicKey::load(p).map_err(Error::from))
        .collect()
}

/// Keys sorted, recursively: the canonical form the evidence digest is taken over (the crate
/// keeps JSON objects in insertion order).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The evidence digest of a bundle's JSON: `sha256:` and the hex SHA-256 of its compact JSON
/// with keys sorted, without `record` (the backend's own part, filled in after the backend is
/// asked) and without `timestamps.approved_at` / `timestamps.closed_at` (which change after
/// `open`). It is what `open` writes into the backend's record and `record.evidence_digest`;
/// `jq -cS 'del(.record, .timestamps.approved_at, .timestamps.closed_at)' B | tr -d '\n' |
/// sha256sum` computes the same for bundles of plain ASCII text.
pub fn evidence_digest_of(bundle: &Value) -> String {
    let mut v = bundle.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("record");
        if let Some(t) = o.get_mut("timestamps").and_then(Value::as_object_mut) {
            t.remove("approved_at");
            t.remove("closed_at");
        }
    }
    let bytes = serde_json::to_vec(&sorted(&v)).expect("JSON values always serialise");
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// [`evidence_digest_of`] a bundle.
pub fn evidence_digest(b: &Bundle) -> String {
    evidence_digest_of(&serde_json::to_value(b).expect("a bundle always serialises"))
}

/// The statement's subjects for a bundle's JSON: each artifact by its digest, then the commit
/// deployed (`gitCommit`, as in-toto's resource descriptors name a commit).
pub fn subjects(bundle: &Value) -> Vec<Subject> {
    let mut out = Vec::new();
    for a in bundle["artifacts"].as_array().into_iter().flatten() {
        let Some((alg, hex)) = a["digest"].as_str().and_then(|d| d.split_once(':')) else {
            continue;
        };
        out.push(Subject {
            name: a["name"].as_str().unwrap_or("artifact").to_owned(),
            digest: [(alg.to_owned(), hex.to_owned())].into(),
        });
    }
    let repository = bundle["repository"].as_str().unwrap_or("commit");
    out.push(Subject {
        name: repository.to_owned(),
        digest: [(
            "gitCommit".to_owned(),
            bundle["commits"]["head"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )]
        .into(),
    });
    out
}

/// The bundle as a signed in-toto statement.
pub fn sign(b: &Bundle, key: &PrivateKey) -> Result<Envelope> {
    let value = serde_json::to_value(b).expect("a bundle always serialises");
    Ok(Statement::new(subjects(&value), PREDICATE_TYPE, value).sign(key)?)
}

/// Write the bundle to `path`, and with a key its envelope next to it. Without a key, an
/// envelope left from an earlier signed write no longer covers the file: say so.
pub fn save(b: &Bundle, path: &Path, key: Option<&PrivateKey>) -> Result<()> {
    b.save(path)?;
    let envelope = envelope_path(path);
    match key {
        Some(key) => {
            let mut line = sign(b, key)?.to_json();
            line.push('\n');
            paved_core::fs::write_atomic(&envelope, line.as_bytes())?;
        }
        None if envelope.exists() => paved_core::cli::warn(&format!(
            "`{}` was signed, and this change to it is not: `verify --trusted-key` will name the \
             fields changed since; pass `--signing-key` (or `PAVED_SIGNING_KEY`) to re-sign",
            path.display()
        )),
        None => {}
    }
    Ok(())
}

/// What `verify` says about the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Signature {
    /// No envelope next to the bundle.
    Unsigned,
    /// An envelope, not checked: no trusted keys were given.
    NotChecked {
        /// The keyids the envelope names.
        keyids: Vec<String>,
    },
    /// Verified with this trusted key.
    Verified {
        /// The key id.
        keyid: String,
    },
    /// The envelope did not verify or was not readable.
    Refused,
}

impl Signature {
    /// `unsigned`, `not-checked`, `verified` or `refused` (the `signature` output).
    pub fn status(&self) -> &'static str {
        match self {
            Signature::Unsigned => "unsigned",
            Signature::NotChecked { .. } => "not-checked",
            Signature::Verified { .. } => "verified",
            Signature::Refused => "refused",
        }
    }
}

/// The integrity part of `verify`: the signature, and every field the signed evidence and the
/// file disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Integrity {
    /// The envelope file looked at.
    pub envelope: String,
    /// The signature's status.
    pub signature: Signature,
    /// Every integrity problem, by field (`signature`, a bundle field path, `record.evidence_digest`).
    pub problems: Vec<Problem>,
}

/// Every path where `signed` and `file` differ, each with both values.
fn diff(signed: &Value, file: &Value, at: &str, out: &mut Vec<Problem>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    match (signed, file) {
        (Value::Object(s), Value::Object(f)) => {
            for (k, sv) in s {
                match f.get(k) {
                    Some(fv) => diff(sv, fv, &join(k), out),
                    None => out.push(Problem {
                        field: join(k),
                        message: format!("signed as {}, removed from the file", shown(sv)),
                    }),
                }
            }
            for (k, fv) in f {
                if !s.contains_key(k) {
                    out.push(Problem {
                        field: join(k),
                        message: format!("not signed, added to the file as {}", shown(fv)),
                    });
                }
            }
        }
        (Value::Array(s), Value::Array(f)) if s.len() == f.len() => {
            for (n, (sv, fv)) in s.iter().zip(f).enumerate() {
                diff(sv, fv, &format!("{at}[{n}]"), out);
            }
        }
        (s, f) if s != f => out.push(Problem {
            field: if at.is_empty() {
                "bundle".into()
            } else {
                at.to_owned()
            },
            message: format!("signed as {}, the file has {}", shown(s), shown(f)),
        }),
        _ => {}
    }
}

/// Check the bundle JSON `file` (read from `path`) against its envelope and `trusted` keys, and
/// its `record.evidence_digest` against its evidence.
pub fn check(file: &Value, path: &Path, trusted: &[PublicKey]) -> Integrity {
    let envelope_file = envelope_path(path);
    let origin = envelope_file.display().to_string();
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(Problem {
            field: field.to_owned(),
            message,
        });
    };
    if let Some(recorded) = file["record"]["evidence_digest"].as_str() {
        let actual = evidence_digest_of(file);
        if recorded != actual {
            problem(
                "record.evidence_digest",
                format!("the record holds `{recorded}`, the evidence is `{actual}`"),
            );
        }
    }
    let signature = if !envelope_file.exists() {
        if !trusted.is_empty() {
            problem(
                "signature",
                format!("the bundle is unsigned: there is no `{origin}`"),
            );
        }
        Signature::Unsigned
    } else {
        match std::fs::read(&envelope_file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Envelope::from_json(&bytes, &origin).map_err(|e| e.to_string()))
        {
            Err(e) => {
                problem("signature", e);
                Signature::Refused
            }
            Ok(envelope) if trusted.is_empty() => Signature::NotChecked {
                keyids: envelope
                    .signatures
                    .iter()
                    .filter_map(|s| s.keyid.clone())
                    .collect(),
            },
            Ok(envelope) => match Statement::verify(&envelope, trusted, &origin) {
                Err(e) => {
                    problem("signature", e.to_string());
                    Signature::Refused
                }
                Ok((statement, verified)) => {
                    let keyid = verified.key().key_id().as_str().to_owned();
                    if statement.predicate_type != PREDICATE_TYPE {
                        problem(
                            "signature",
                            format!(
                                "the signed statement's predicateType is `{}`, not `{PREDICATE_TYPE}`",
                                statement.predicate_type
                            ),
                        );
                    }
                    if statement.subject != subjects(&statement.predicate) {
                        problem(
                            "signature",
                            "the signed statement's subjects are not the signed bundle's artifacts and commit".into(),
                        );
                    }
                    let mut fields = Vec::new();
                    diff(&statement.predicate, file, "", &mut fields);
                    problems.extend(fields);
                    Signature::Verified { keyid }
                }
            },
        }
    };
    // One line per field: the first reason found.
    let mut seen = std::collections::BTreeSet::new();
    problems.retain(|p| seen.insert(p.field.clone()));
    Integrity {
        envelope: origin,
        signature,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_envelope_sits_next_to_the_bundle_and_back() {
        assert_eq!(
            envelope_path(Path::new("r/chg-1.json")),
            Path::new("r/chg-1.intoto.jsonl")
        );
        assert_eq!(
            envelope_path(Path::new("evidence")),
            Path::new("evidence.intoto.jsonl")
        );
        assert_eq!(
            bundle_of_envelope(Path::new("r/chg-1.intoto.jsonl")).as_deref(),
            Some(Path::new("r/chg-1.json"))
        );
        assert_eq!(bundle_of_envelope(Path::new("r/chg-1.json")), None);
    }

    #[test]
    fn the_evidence_digest_ignores_key_order_and_the_record_but_not_the_evidence() {
        let a = json!({ "version": "1", "timestamps": { "opened_at": "t", "closed_at": null },
                        "record": { "state": "pending" } });
        let b = json!({ "record": { "state": "closed" },
                        "timestamps": { "closed_at": "later", "opened_at": "t" }, "version": "1" });
        assert_eq!(evidence_digest_of(&a), evidence_digest_of(&b));
        let c = json!({ "version": "2", "timestamps": { "opened_at": "t" } });
        assert_ne!(evidence_digest_of(&a), evidence_digest_of(&c));
        // The bytes hashed: sorted keys, compact, without the record and the later times.
        let expected = ring::digest::digest(
            &ring::digest::SHA256,
            br#"{"timestamps":{"opened_at":"t"},"version":"1"}"#,
        );
        let hex: String = expected
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(evidence_digest_of(&a), format!("sha256:{hex}"));
    }

    #[test]
    fn every_difference_is_named_by_path() {
        let signed =
            json!({ "a": 1, "list": [{ "x": "s" }, { "x": "t\nv" }], "gone": true, "n": [1] });
        let file = json!({ "a": 2, "list": [{ "x": "s" }, { "x": "u" }], "new": 0, "n": [1, 2] });
        let mut out = Vec::new();
        diff(&signed, &file, "", &mut out);
        let fields: Vec<&str> = out.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["a", "list[1].x", "gone", "n", "new"]);
        assert_eq!(out[0].message, "signed as `1`, the file has `2`");
        assert_eq!(out[1].message, "signed as `t\\nv`, the file has `u`");
        assert_eq!(out[2].message, "signed as `true`, removed from the file");
        assert_eq!(out[4].message, "not signed, added to the file as `0`");
    }
}
