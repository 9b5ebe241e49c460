//! `Link` headers (RFC 8288): the links a server sends, and which one is the next page.

/// One link of a `Link` header (RFC 8288).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target, as written between `<` and `>`.
    pub url: String,
    /// The relation types of `rel`, lower-case.
    pub rel: Vec<String>,
}

/// Parse a `Link` header value. Malformed parts are skipped, never fatal.
pub fn parse_link_header(value: &str) -> Vec<Link> {
    let bytes = value.as_bytes();
    let mut links = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Find the next `<`.
        let Some(open) = value[i..].find('<').map(|o| i + o) else {
            break;
        };
        let Some(close) = value[open..].find('>').map(|c| open + c) else {
            break;
        };
        let url = value[open + 1..close].trim().to_owned();
        let mut rel = Vec::new();
        i = close + 1;
        // Parameters until a comma outside quotes.
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() {
                break;
            }
            match bytes[i] {
                b',' => {
                    i += 1;
                    break;
                }
                b';' => {
                    i += 1;
                    let name_start = i;
                    while i < bytes.len() && !matches!(bytes[i], b'=' | b';' | b',') {
                        i += 1;
                    }
                    let name = value[name_start..i].trim().to_ascii_lowercase();
                    let mut param = String::new();
                    if i < bytes.len() && bytes[i] == b'=' {
                        i += 1;
                        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                            i += 1;
                        }
                        if i < bytes.len() && bytes[i] == b'"' {
                            i += 1;
                            let start = i;
                            let mut escaped = false;
                            while i < bytes.len() && (escaped || bytes[i] != b'"') {
                                escaped = !escaped && bytes[i] == b'\\';
                                i += 1;
                            }
                            param = value[start..i].replace("\\\"", "\"");
                            i = (i + 1).min(bytes.len());
                        } else {
                            let start = i;
                            while i < bytes.len() && !matches!(bytes[i], b';' | b',') {
                                i += 1;
                            }
                            param = value[start..i].trim().to_owned();
                        }
                    }
                    if name == "rel" {
                        rel.extend(param.split_whitespace().map(str::to_ascii_lowercase));
                    }
                }
                _ => {
                    // Junk: skip to the next link.
                    match value[i..].find(',') {
                        Some(c) => i += c + 1,
                        None => i = bytes.len(),
                    }
                    break;
                }
            }
        }
        links.push(Link { url, rel });
    }
    links
}

/// The `rel="next"` target of a `Link` header value.
pub fn next_link(value: &str) -> Option<String> {
    parse_link_header(value)
        .into_iter()
        .find(|l| l.rel.iter().any(|r| r == "next"))
        .map(|l| l.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_headers() {
        let links = parse_link_header(
            r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#,
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].url, "https://api.github.com/x?page=2");
        assert_eq!(links[0].rel, vec!["next"]);
        assert_eq!(
            next_link(r#"<https://a/x?page=1>; rel="prev first", <https://a/x?page=3>; rel=next"#),
            Some("https://a/x?page=3".into())
        );
        assert_eq!(
            next_link(r#"<https://a/b,c>; title="a, b; c"; rel="NEXT""#),
            Some("https://a/b,c".into())
        );
        assert_eq!(next_link(r#"<https://a/x>; rel="last""#), None);
        assert_eq!(next_link("garbage, <<>>; ;;; rel"), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
    }
}
