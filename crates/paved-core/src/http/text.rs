//! How responses and waits read in messages: status lines, durations, and short single-line
//! excerpts of what a server said.

use std::time::Duration;

/// Longest excerpt of a server's error body quoted in an error.
pub(super) const SNIPPET_CHARS: usize = 300;

pub(super) fn server_message(body: &[u8]) -> Option<String> {
    use serde_json::Value;
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Some(excerpt(body));
    };
    let mut parts: Vec<String> = Vec::new();
    let mut push = |v: &Value| match v {
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) => parts.push(s.clone()),
        other => parts.push(other.to_string()),
    };
    if let Value::Object(map) = &value {
        for key in ["message", "error", "error_description"] {
            if let Some(v) = map.get(key) {
                push(v);
            }
        }
        if let Some(Value::Array(errors)) = map.get("errors") {
            for e in errors.iter().take(3) {
                match e {
                    Value::Object(err) => {
                        let field = |k: &str| err.get(k).and_then(Value::as_str);
                        let text = [field("field"), field("code"), field("message")]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ");
                        if !text.is_empty() {
                            push(&Value::String(text));
                        }
                    }
                    other => push(other),
                }
            }
        }
    } else {
        push(&value);
    }
    let text = if parts.is_empty() {
        value.to_string()
    } else {
        parts.join("; ")
    };
    Some(truncate_chars(&collapse_whitespace(&text), SNIPPET_CHARS))
}

pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return "(an HTML page)".to_owned();
    }
    if trimmed.is_empty() {
        return "(an empty body)".to_owned();
    }
    truncate_chars(&collapse_whitespace(trimmed), SNIPPET_CHARS)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

pub(super) fn status_text(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

pub(super) fn human_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs();
        if secs >= 3600 {
            format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
        } else if secs >= 60 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages() {
        assert_eq!(
            server_message(br#"{"message": {"tag_name": ["is missing"]}}"#).as_deref(),
            Some(r#"{"tag_name":["is missing"]}"#)
        );
        assert_eq!(
            server_message(br#"{"error": "insufficient_scope"}"#).as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(server_message(b"  "), None);
        let long = "x".repeat(1000);
        assert_eq!(
            server_message(long.as_bytes()).unwrap().chars().count(),
            SNIPPET_CHARS + 1
        );
    }
}
