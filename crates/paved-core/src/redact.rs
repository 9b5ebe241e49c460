//! Redaction: how a URL or a header appears in anything paved prints (errors, logs, reports).
//!
//! Every tool shows URLs through [`redact_url`], so a password in a store URL, a token in a query
//! string or `user:password@` in a remote never reaches a log.

/// `url` as it may be shown: without the query string and fragment (which may carry tokens),
/// and without any `user:password@`.
pub fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn userinfo_query_and_fragment_are_dropped() {
        assert_eq!(
            redact_url(
                "postgres://alice:s3cret@db.example/quarantine?password=hunter2&sslmode=require"
            ),
            "postgres://db.example/quarantine"
        );
        assert_eq!(
            redact_url("postgres://alice@host/db?password=hunter2"),
            "postgres://host/db"
        );
        assert_eq!(
            redact_url("https://h/p?private_token=x#frag"),
            "https://h/p"
        );
        assert_eq!(redact_url("https://h/a@b"), "https://h/a@b");
        assert_eq!(redact_url("not a url?token=x"), "not a url");
    }
}
