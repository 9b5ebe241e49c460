//! How responses and waits read in messages: status lines, durations, and short single-line
//! excerpts of what a server said.

use std::time::Duration;

/// Longest excerpt of a server's error body quoted in an error.
pub(super) const SNIPPET_CHARS: usize = 300;

pub(super) fn server_message(body: &[u8]) -> Option<String> {
    server_message_whole(body).map(|m| truncate_chars(&m, SNIPPET_CHARS))
}

/// [`server_message`] before it is cut short: what a request scrubs of its secrets first, so that
/// a token straddling the cut is never printed in part.
pub(super) fn server_message_whole(body: &[u8]) -> Option<String> {
    use serde_json::Value;
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Some(excerpt_whole(body));
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
    Some(collapse_whitespace(&text))
}

pub(super) fn excerpt(body: &[u8]) -> String {
    truncate_chars(&excerpt_whole(body), SNIPPET_CHARS)
}

fn excerpt_whole(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return "(an HTML page)".to_owned();
    }
    if trimmed.is_empty() {
        return "(an empty body)".to_owned();
    }
    collapse_whitespace(trimmed)
}

/// Cut already-scrubbed `text` to the excerpt length; if the cut leaves the start of one of
/// `secrets` at the end (four characters or more), that is masked too.
pub(super) fn shorten(text: &str, secrets: &[String]) -> String {
    let Some((i, _)) = text.char_indices().nth(SNIPPET_CHARS) else {
        return text.to_owned();
    };
    let mut kept = &text[..i];
    for secret in secrets {
        let longest = (4..secret.len())
            .rev()
            .filter(|&k| secret.is_char_boundary(k))
            .find(|&k| kept.ends_with(&secret[..k]));
        if let Some(k) = longest {
            kept = &kept[..kept.len() - k];
            return format!("{kept}***…");
        }
    }
    format!("{kept}…")
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

    /// A token straddling the cut is scrubbed before the cut, and a token's start left at the
    /// cut (text that merely begins like it) is masked too.
    #[test]
    fn secrets_are_scrubbed_before_the_cut_and_at_it() {
        let token = "ghp_0123456789abcdefghij".to_owned();
        let mut body = "x".repeat(SNIPPET_CHARS - 6);
        body.push_str(&token);
        let scrubbed = body.replace(&token, "***");
        assert_eq!(shorten(&scrubbed, std::slice::from_ref(&token)), scrubbed);
        let mut at_cut = "y".repeat(SNIPPET_CHARS - 6);
        at_cut.push_str("ghp_01 and more text after the cut");
        let shown = shorten(&at_cut, &[token]);
        assert!(!shown.contains("ghp_01"), "{shown}");
        assert!(shown.ends_with("***…"), "{shown}");
    }

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
