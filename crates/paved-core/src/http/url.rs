//! URLs as the client follows them: origins, relative links, `Link`
//! headers and percent-encoding.

use std::fmt::Write as _;

/// `scheme://authority` of an absolute URL.
pub(super) fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme_end + 3 + authority_end])
}

/// Resolve a link target against the URL of the request it came from.
pub(super) fn resolve_url(base: &str, target: &str) -> String {
    if target.contains("://") {
        return target.to_owned();
    }
    let Some(origin) = origin(base) else {
        return target.to_owned();
    };
    if target.starts_with("//") {
        let scheme = &origin[..origin.find("://").unwrap_or(0)];
        return format!("{scheme}:{target}");
    }
    if target.starts_with('/') {
        return format!("{origin}{target}");
    }
    let path_end = base.find(['?', '#']).unwrap_or(base.len());
    let path = &base[..path_end];
    if target.starts_with('?') {
        return format!("{path}{target}");
    }
    let dir_end = path
        .rfind('/')
        .filter(|&i| i >= origin.len())
        .map_or(path.len(), |i| i + 1);
    if dir_end == path.len() && !path.ends_with('/') {
        return format!("{path}/{target}");
    }
    format!("{}{target}", &path[..dir_end])
}

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

/// Percent-encode `s` for use as one URL path segment or query value: everything except the
/// unreserved characters `A-Z a-z 0-9 - . _ ~` is encoded (so `/` becomes `%2F`, as GitLab's
/// project paths need).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decode `%XX` escapes (and `+` as a space when `plus_is_space`); invalid escapes are kept.
pub fn decode_component(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
