//! Whether each field of a bundle holds what the format says it holds: `verify` lists every
//! field that does not, by its path (`commits.head`, `artifacts[1].digest`), so an edited bundle
//! is refused field by field instead of counting as "present".
//!
//! Two passes over the JSON, so a bundle whose types are wrong still gets every problem listed:
//! the structure (types, required and unknown keys, enumerations, minimums) is checked against
//! the published JSON Schema ([`crate::bundle::schema_json`]), so the two never disagree; then the
//! values: commit ids, digests, RFC 3339 times, URLs, and the fields that must agree with each
//! other (test counts, the range's base, the record's state and result, the commits a PR lists).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::bundle::SCHEMA_URI;

/// One field that does not hold a valid value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Its path, e.g. `commits.head`, `artifacts[1].digest`, `tests`.
    pub field: String,
    /// What is wrong with it, e.g. "`not-a-sha` is not a commit id (40 or 64 lower-case hex digits)".
    pub message: String,
}

/// Every invalid field of `bundle` (the parsed JSON of a bundle file), in document order of the
/// checks; empty when the bundle is valid.
pub fn problems(bundle: &Value) -> Vec<Problem> {
    let schema: Value =
        serde_json::from_str(&crate::bundle::schema_json()).expect("the generated schema is JSON");
    let mut out = Problems::default();
    structure(bundle, &schema, &schema, "", &mut out);
    values(bundle, &mut out);
    out.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        let field = if field.is_empty() { "bundle" } else { field };
        // One message per field: a value the structure check refused is not described twice.
        if self.0.iter().any(|p| p.field == field) {
            return;
        }
        self.0.push(Problem {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A value as a message shows it: short, in backticks, control characters escaped.
pub(crate) fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut short: String = text.chars().take(72).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("`{}`", short.escape_debug())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn has_type(v: &Value, ty: &str) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn type_word(ty: &str) -> &str {
    match ty {
        "null" => "null",
        "boolean" => "a boolean",
        "integer" => "an integer",
        "number" => "a number",
        "string" => "a string",
        "array" => "a list",
        "object" => "an object",
        other => other,
    }
}

fn types_text(types: &[String]) -> String {
    types
        .iter()
        .map(|t| type_word(t))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn resolve<'a>(node: &'a Value, root: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root["$defs"].get(name))
            .unwrap_or(&Value::Null),
        None => node,
    }
}

/// The types a schema node allows (after `$ref`, across `anyOf`/`oneOf`).
fn allowed_types(node: &Value, root: &Value) -> Vec<String> {
    let node = resolve(node, root);
    if let Some(branches) = node
        .get("anyOf")
        .or_else(|| node.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut all: Vec<String> = Vec::new();
        for b in branches {
            for t in allowed_types(b, root) {
                if !all.contains(&t) {
                    all.push(t);
                }
            }
        }
        return all;
    }
    match &node["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

fn one_of_text(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => format!("`{s}`"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The structure of `v` against the schema node: types, keys, enumerations, constants, minimums
/// and minimum lengths. Patterns and formats are the value pass's, with better messages.
fn structure(v: &Value, node: &Value, root: &Value, path: &str, out: &mut Problems) {
    let node = resolve(node, root);
    if let Some(branches) = node
        .get("anyOf")
        .or_else(|| node.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut first_typed = None;
        for b in branches {
            let mut inner = Problems::default();
            structure(v, b, root, path, &mut inner);
            if inner.0.is_empty() {
                return;
            }
            let typed = allowed_types(b, root).iter().any(|t| has_type(v, t));
            if typed && first_typed.is_none() {
                first_typed = Some(inner);
            }
        }
        let consts: Vec<Value> = branches
            .iter()
            .filter_map(|b| resolve(b, root).get("const").cloned())
            .collect();
        if consts.len() == branches.len() {
            out.push(
                path,
                format!("{} is not one of {}", shown(v), one_of_text(&consts)),
            );
        } else if let Some(inner) = first_typed {
            for p in inner.0 {
                out.push(&p.field, p.message);
            }
        } else {
            let types = allowed_types(node, root);
            out.push(
                path,
                format!("is {}; it must be {}", type_name(v), types_text(&types)),
            );
        }
        return;
    }
    let types = allowed_types(node, root);
    if !types.is_empty() && !types.iter().any(|t| has_type(v, t)) {
        out.push(
            path,
            format!("is {}; it must be {}", type_name(v), types_text(&types)),
        );
        return;
    }
    if let Some(c) = node.get("const")
        && v != c
    {
        out.push(path, format!("{} is not {}", shown(v), shown(c)));
        return;
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        out.push(
            path,
            format!("{} is not one of {}", shown(v), one_of_text(values)),
        );
        return;
    }
    if let (Some(min), Some(n)) = (node.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        let must = if min == 0.0 {
            "must not be negative".to_owned()
        } else {
            format!("must be at least {min}")
        };
        out.push(path, format!("is {n}; it {must}"));
        return;
    }
    if let (Some(min), Some(s)) = (node.get("minLength").and_then(Value::as_u64), v.as_str())
        && (s.chars().count() as u64) < min
    {
        out.push(path, "is empty; it must not be");
        return;
    }
    match v {
        Value::Object(fields) => {
            let props = node.get("properties").and_then(Value::as_object);
            if let Some(required) = node.get("required").and_then(Value::as_array) {
                for key in required.iter().filter_map(Value::as_str) {
                    if !fields.contains_key(key) {
                        out.push(
                            &join(path, key),
                            "is missing (every field is present; an unknown value is `null`)",
                        );
                    }
                }
            }
            for (key, value) in fields {
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => structure(value, sub, root, &join(path, key), out),
                    None if node.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        out.push(&join(path, key), "is not a field of the bundle format");
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.get("items") {
                for (n, value) in items.iter().enumerate() {
                    structure(value, item, root, &format!("{path}[{n}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// A full commit id: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
pub fn is_commit_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A digest: `sha256:`, `sha384:` or `sha512:` and that many lower-case hex digits.
pub fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(alg, hex)| {
        let len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return false,
        };
        hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// An RFC 3339 date-time (section 5.6): `2026-01-05T10:00:00Z`, with optional fractions and a
/// `Z` or `±hh:mm` offset, and a real date and time.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    let offset_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    };
    offset_ok && s.to_ascii_uppercase().parse::<jiff::Timestamp>().is_ok()
}

/// An absolute `http` or `https` URL with a host.
pub fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

const COMMIT_ID: &str = "is not a commit id (40 or 64 lower-case hex digits)";
const DIGEST: &str =
    "is not a digest (`sha256:` and 64 lower-case hex digits; `sha384:` 96, `sha512:` 128)";
const TIME: &str = "is not an RFC 3339 time (e.g. `2026-01-05T10:00:00Z`)";
const URL: &str = "is not an http(s) URL";

/// `check` on every string at `path` (one value, or each item of a list with `[]`); `null` and
/// values of the wrong type are left to the structure pass.
fn each_string(v: &Value, path: &str, out: &mut Problems, check: fn(&str) -> bool, what: &str) {
    let mut at = |value: &Value, field: String| {
        if let Some(s) = value.as_str()
            && !check(s)
        {
            out.push(&field, format!("{} {what}", shown(value)));
        }
    };
    let (pointer, list) = match path.strip_suffix("[]") {
        Some(p) => (p, true),
        None => (path, false),
    };
    let Some(value) = v.pointer(&format!("/{}", pointer.replace('.', "/"))) else {
        return;
    };
    let field = display(pointer);
    if list {
        for (n, item) in value.as_array().into_iter().flatten().enumerate() {
            at(item, format!("{field}[{n}]"));
        }
    } else {
        at(value, field);
    }
}

/// `commits.list.0.sha` as a path reads: `commits.list[0].sha`.
fn display(dotted: &str) -> String {
    let mut s = String::new();
    for part in dotted.split('.') {
        if !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()) {
            s.push_str(&format!("[{part}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(part);
        }
    }
    s
}

fn list<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The value pass: formats, and fields that must agree with each other.
fn values(b: &Value, out: &mut Problems) {
    if let Some(s) = b.get("$schema")
        && s != SCHEMA_URI
    {
        out.push("$schema", format!("{} is not `{SCHEMA_URI}`", shown(s)));
    }
    if let Some(id) = b.get("id").and_then(Value::as_str) {
        let well_formed = id.len() == 20
            && id.starts_with("chg-")
            && id[4..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            out.push(
                "id",
                format!(
                    "{} is not `chg-` and 16 lower-case hex digits",
                    shown(&b["id"])
                ),
            );
        } else if let Some(corr) = b.get("correlation_id").and_then(Value::as_str) {
            let expected = crate::evidence::change_id(corr);
            if id != expected {
                out.push(
                    "id",
                    format!("`{id}` is not the id of `correlation_id` (that is `{expected}`)"),
                );
            }
        }
    }

    each_string(b, "commits.head", out, is_commit_id, COMMIT_ID);
    each_string(b, "commits.base", out, is_commit_id, COMMIT_ID);
    for (n, _) in list(b, "/commits/list") {
        each_string(
            b,
            &format!("commits.list.{n}.sha"),
            out,
            is_commit_id,
            COMMIT_ID,
        );
        each_string(
            b,
            &format!("commits.list.{n}.authored_at"),
            out,
            is_rfc3339,
            TIME,
        );
        each_string(
            b,
            &format!("commits.list.{n}.committed_at"),
            out,
            is_rfc3339,
            TIME,
        );
    }
    match (
        b.pointer("/commits/base_source").and_then(Value::as_str),
        b.pointer("/commits/base"),
    ) {
        (Some("root"), Some(base)) if !base.is_null() => out.push(
            "commits.base",
            "is set, but `base_source` is `root` (the whole history has no base)",
        ),
        (Some(src @ ("tag" | "deployment")), Some(Value::Null)) => out.push(
            "commits.base",
            format!("is null, but `base_source` is `{src}`, which names the base commit"),
        ),
        _ => {}
    }
    let range: BTreeSet<&str> = list(b, "/commits/list")
        .filter_map(|(_, c)| c.get("sha").and_then(Value::as_str))
        .collect();
    let in_range = |out: &mut Problems, field: String, sha: &Value| {
        if let Some(s) = sha.as_str()
            && is_commit_id(s)
            && !range.contains(s)
        {
            out.push(
                &field,
                format!("{} is not a commit of `commits.list`", shown(sha)),
            );
        }
    };

    let mut numbers = BTreeSet::new();
    for (n, pr) in list(b, "/changes/pull_requests") {
        let at = format!("changes.pull_requests.{n}");
        let shown_at = display(&at);
        each_string(b, &format!("{at}.url"), out, is_web_url, URL);
        each_string(b, &format!("{at}.merged_at"), out, is_rfc3339, TIME);
        each_string(b, &format!("{at}.commits[]"), out, is_commit_id, COMMIT_ID);
        for (i, sha) in list(pr, "/commits") {
            in_range(out, format!("{shown_at}.commits[{i}]"), sha);
        }
        if let Some(number) = pr.get("number").and_then(Value::as_u64)
            && !numbers.insert(number)
        {
            out.push(
                &format!("{shown_at}.number"),
                format!("#{number} is listed twice (each PR/MR is listed once)"),
            );
        }
    }
    each_string(
        b,
        "changes.without_pull_request[]",
        out,
        is_commit_id,
        COMMIT_ID,
    );
    for (i, sha) in list(b, "/changes/without_pull_request") {
        in_range(out, format!("changes.without_pull_request[{i}]"), sha);
    }
    for (n, r) in list(b, "/changes/unverified") {
        let at = format!("changes.unverified.{n}");
        each_string(b, &format!("{at}.commits[]"), out, is_commit_id, COMMIT_ID);
        for (i, sha) in list(r, "/commits") {
            in_range(out, format!("{}.commits[{i}]", display(&at)), sha);
        }
        if let (Some(number), Some(written)) = (
            r.get("number").and_then(Value::as_u64),
            r.get("reference").and_then(Value::as_str),
        ) && written != format!("#{number}")
            && written != format!("!{number}")
        {
            out.push(
                &format!("{}.reference", display(&at)),
                format!("`{written}` is not `#{number}` or `!{number}`"),
            );
        }
    }
    let looked_up = b
        .pointer("/changes/source")
        .and_then(Value::as_str)
        .is_some_and(|s| s != "none");
    if looked_up {
        for (n, c) in list(b, "/commits/list") {
            if let Some(number) = c.get("pull_request").and_then(Value::as_u64)
                && !numbers.contains(&number)
            {
                out.push(
                    &format!("commits.list[{n}].pull_request"),
                    format!("#{number} is not in `changes.pull_requests`"),
                );
            }
        }
    }

    if let Some(t) = b.get("tests").filter(|t| t.is_object()) {
        let count = |k: &str| t.get(k).and_then(Value::as_u64);
        if let (Some(tests), Some(passed), Some(failed), Some(skipped)) = (
            count("tests"),
            count("passed"),
            count("failed"),
            count("skipped"),
        ) && passed
            .checked_add(failed)
            .and_then(|s| s.checked_add(skipped))
            != Some(tests)
        {
            out.push(
                "tests.tests",
                format!(
                    "is {tests}, but passed + failed + skipped is {passed} + {failed} + {skipped}"
                ),
            );
        }
        if let (Some(flaky), Some(passed)) = (count("flaky"), count("passed"))
            && flaky > passed
        {
            out.push(
                "tests.flaky",
                format!(
                    "is {flaky}, more than the {passed} passed (a flaky test passed in the end)"
                ),
            );
        }
    }

    for (n, _) in list(b, "/artifacts") {
        each_string(b, &format!("artifacts.{n}.digest"), out, is_digest, DIGEST);
    }
    each_string(b, "previous.commit", out, is_commit_id, COMMIT_ID);
    each_string(b, "previous.digests[]", out, is_digest, DIGEST);
    each_string(b, "previous.deployed_at", out, is_rfc3339, TIME);
    each_string(b, "ci.run_url", out, is_web_url, URL);
    for k in ["opened_at", "approved_at", "closed_at"] {
        each_string(b, &format!("timestamps.{k}"), out, is_rfc3339, TIME);
    }
    each_string(b, "record.url", out, is_web_url, URL);

    let state = b
        .pointer("/record/state")
        .and_then(Value::as_str)
        .filter(|s| ["pending", "approved", "rejected", "cancelled", "closed"].contains(s));
    let result = b.pointer("/record/result");
    match (state, result) {
        (Some("closed"), Some(Value::Null)) => {
            out.push("record.result", "is null, but `record.state` is `closed`");
        }
        (Some(s), Some(r)) if s != "closed" && !r.is_null() => out.push(
            "record.result",
            format!("is {}, but `record.state` is `{s}`, not `closed`", shown(r)),
        ),
        _ => {}
    }
    if state == Some("closed") && b.pointer("/timestamps/closed_at") == Some(&Value::Null) {
        out.push(
            "timestamps.closed_at",
            "is null, but `record.state` is `closed`",
        );
    }
    if b.pointer("/record/backend").and_then(Value::as_str) == Some("file")
        && let (Some(rid), Some(id)) = (
            b.pointer("/record/id").and_then(Value::as_str),
            b.get("id").and_then(Value::as_str),
        )
        && !rid.is_empty()
        && rid != id
    {
        out.push(
            "record.id",
            format!("`{rid}` is not the bundle's `id` (a `file` record's id is paved's id)"),
        );
    }
}
