//! URLs as the client follows them: origins, link targets resolved against the request they came
//! from, and percent-encoding of path segments and query values.
//!
//! Parsing, joining and origins are the `url` crate's (the WHATWG URL standard), so that the
//! client and a browser agree on what "the same server" means: scheme, host and port, with a
//! default port equal to the same port written out.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

/// Everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether `a` and `b` are absolute URLs of the same origin (scheme, host, port). Credentials
/// are only ever sent again to the origin they were first sent to. A URL that does not parse, or
/// has an opaque origin (no host, an unknown scheme), matches nothing.
pub(super) fn same_origin(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (a.origin(), b.origin());
            a.is_tuple() && a == b
        }
        _ => false,
    }
}

/// Resolve a link target against the URL of the request it came from. A target that cannot be
/// resolved is returned as it is (and then fails as an invalid URL, or as another origin).
pub(super) fn resolve_url(base: &str, target: &str) -> String {
    match Url::parse(base).and_then(|base| base.join(target)) {
        Ok(url) => url.into(),
        Err(_) => target.to_owned(),
    }
}

/// Percent-encode `s` for use as one URL path segment or query value: everything except the
/// unreserved characters `A-Z a-z 0-9 - . _ ~` is encoded (so `/` becomes `%2F`, as GitLab's
/// project paths need).
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// Decode `%XX` escapes (and `+` as a space when `plus_is_space`); invalid escapes are kept.
pub fn decode_component(s: &str, plus_is_space: bool) -> String {
    if plus_is_space && s.contains('+') {
        let spaced = s.replace('+', " ");
        return percent_decode_str(&spaced).decode_utf8_lossy().into_owned();
    }
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_links() {
        assert_eq!(
            resolve_url("https://h/a/b?x=1", "/c?p=2"),
            "https://h/c?p=2"
        );
        assert_eq!(resolve_url("https://h/a/b", "c"), "https://h/a/c");
        assert_eq!(
            resolve_url("https://h/a/b", "?page=2"),
            "https://h/a/b?page=2"
        );
        assert_eq!(resolve_url("https://h/a", "//g/x"), "https://g/x");
        assert_eq!(resolve_url("https://h", "x"), "https://h/x");
        assert_eq!(
            resolve_url("https://h/a", "https://g/x?page=2"),
            "https://g/x?page=2"
        );
        assert_eq!(resolve_url("not a url", "/x"), "/x");
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert!(same_origin("https://h/a?x=1", "https://h/b"));
        assert!(same_origin("https://H.example/a", "https://h.EXAMPLE/b"));
        // A default port is the same port written out.
        assert!(same_origin("https://h/a", "https://h:443/b"));
        assert!(same_origin("http://h:80/a", "http://h/b"));
        // Userinfo is not part of the origin.
        assert!(same_origin("https://u:p@h/a", "https://h/b"));
        assert!(!same_origin("https://h/a", "http://h/a"));
        assert!(!same_origin("https://h/a", "https://g/a"));
        assert!(!same_origin("https://h/a", "https://h.evil/a"));
        assert!(!same_origin("https://h/a", "https://h:8443/a"));
        assert!(!same_origin("http://h:8080/a", "http://h:8081/a"));
        assert!(!same_origin("https://h/a", "/relative"));
        assert!(!same_origin("data:text/plain,x", "data:text/plain,x"));
    }

    #[test]
    fn encodes_components() {
        assert_eq!(
            encode_component("group/sub project"),
            "group%2Fsub%20project"
        );
        assert_eq!(encode_component("v1.2.3-rc.1_x~"), "v1.2.3-rc.1_x~");
        assert_eq!(encode_component("a@1.0"), "a%401.0");
        assert_eq!(encode_component("✓"), "%E2%9C%93");
        assert_eq!(
            decode_component("group%2Fsub+x%zz%", true),
            "group/sub x%zz%"
        );
        assert_eq!(decode_component("a+b%2B", false), "a+b+");
        assert_eq!(decode_component("a+b%2B", true), "a b+");
        assert_eq!(decode_component("%E2%9C%93", false), "✓");
    }
}
