//! Web links and PR/MR references: where the repository lives, and how a commit, a PR and a
//! comparison are linked on GitHub and GitLab.

use serde::Serialize;

use crate::ForgeKind;

/// A reference to a pull request (`#12`) or merge request (`!12`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrRef {
    /// The number.
    pub number: u64,
    /// `#` or `!`.
    pub prefix: String,
    /// Web link, when the repository URL is known.
    pub url: Option<String>,
}

/// An issue a commit closes (`Closes: #12`, `Fixes #3`), with its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueRef {
    /// The number.
    pub number: u64,
    /// Web link, when the repository URL and forge are known.
    pub url: Option<String>,
}

/// Builds links for one repository.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// Web URL without a trailing slash.
    pub base: Option<String>,
    /// The forge, when known.
    pub forge: Option<ForgeKind>,
}

impl Links {
    /// Links for `url` (any git remote form), with the forge guessed from the host unless given.
    pub fn new(url: Option<&str>, forge: Option<ForgeKind>) -> Links {
        let base = url.and_then(web_url);
        let forge = forge.or_else(|| {
            let b = base.as_deref()?;
            if b.contains("github") {
                Some(ForgeKind::GitHub)
            } else if b.contains("gitlab") {
                Some(ForgeKind::GitLab)
            } else {
                None
            }
        });
        Links { base, forge }
    }

    fn sep(&self) -> &'static str {
        if self.forge == Some(ForgeKind::GitLab) {
            "/-"
        } else {
            ""
        }
    }

    /// Link to a commit.
    pub fn commit(&self, sha: &str) -> Option<String> {
        let base = self.base.as_deref()?;
        self.forge
            .map(|_| format!("{base}{}/commit/{sha}", self.sep()))
    }

    /// Link comparing two revisions.
    pub fn compare(&self, from: &str, to: &str) -> Option<String> {
        let base = self.base.as_deref()?;
        self.forge
            .map(|_| format!("{base}{}/compare/{from}...{to}", self.sep()))
    }

    /// Link to an issue of this repository.
    pub fn issue(&self, number: u64) -> IssueRef {
        let url = self.base.as_deref().and_then(|base| {
            self.forge
                .map(|_| format!("{base}{}/issues/{number}", self.sep()))
        });
        IssueRef { number, url }
    }

    /// A PR/MR reference with its link.
    pub fn pr(&self, number: u64, prefix: char) -> PrRef {
        let url = self
            .base
            .as_deref()
            .and_then(|base| match (self.forge, prefix) {
                (Some(ForgeKind::GitLab), _) | (None, '!') => {
                    Some(format!("{base}/-/merge_requests/{number}"))
                }
                (Some(ForgeKind::GitHub), _) => Some(format!("{base}/pull/{number}")),
                (None, _) => None,
            });
        PrRef {
            number,
            prefix: prefix.to_string(),
            url,
        }
    }
}

/// `git@github.com:acme/app.git`, `ssh://git@host:22/acme/app`, `https://tok@host/acme/app.git`
/// → `https://host/acme/app`. Credentials are always dropped.
pub fn web_url(remote: &str) -> Option<String> {
    let r = remote.trim().trim_end_matches('/');
    let r = r.strip_suffix(".git").unwrap_or(r);
    let (host, path) = if let Some(rest) = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))
    {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
        rest.split_once('/')?
    } else if let Some(rest) = r.strip_prefix("ssh://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?, path)
    } else if let Some((user_host, path)) = r.split_once(':') {
        // scp-like: git@github.com:acme/app
        if user_host.contains('/') {
            return None;
        }
        (
            user_host.rsplit_once('@').map_or(user_host, |(_, h)| h),
            path,
        )
    } else {
        return None;
    };
    if host.is_empty() || path.is_empty() {
        return None;
    }
    let scheme = if r.starts_with("http://") {
        "http"
    } else {
        "https"
    };
    Some(format!(
        "{scheme}://{host}/{}",
        path.trim_start_matches('/')
    ))
}

/// The issues of this repository that `footers` close: `Closes`, `Fixes` and `Resolves` (any
/// case and tense GitHub and GitLab accept) with `#12`, `#12, #13` or `#12 #13`. References to
/// other repositories (`acme/app#4`) and URLs are left out: they cannot be linked here.
pub fn closed_issues(footers: &[(String, String)], links: &Links) -> Vec<IssueRef> {
    const CLOSING: &[&str] = &[
        "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved",
    ];
    let mut out: Vec<IssueRef> = Vec::new();
    for (token, value) in footers {
        if !CLOSING.contains(&token.trim().to_ascii_lowercase().as_str()) {
            continue;
        }
        for word in value.split([',', ' ', '\t']).map(str::trim) {
            let Some(n) = word.strip_prefix('#').and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            if !out.iter().any(|i| i.number == n) {
                out.push(links.issue(n));
            }
        }
    }
    out
}

/// Split a trailing `(#123)` or `(!123)` off a description; otherwise look for GitLab's
/// `See merge request group/project!123` in the body.
///
/// On GitLab `#123` is an issue, not a merge request: it stays in the description (GitLab links
/// it as an issue where the notes are shown) and the merge request comes from `!123` or the API.
pub fn split_pr(description: &str, body: Option<&str>, links: &Links) -> (String, Option<PrRef>) {
    let d = description.trim_end();
    if let Some(open) = d.rfind('(')
        && d.ends_with(')')
    {
        let inner = &d[open + 1..d.len() - 1];
        let prefix = inner.chars().next();
        let gitlab_issue = prefix == Some('#') && links.forge == Some(ForgeKind::GitLab);
        if let Some(p @ ('#' | '!')) = prefix
            && !gitlab_issue
            && let Ok(n) = inner[1..].parse::<u64>()
        {
            return (d[..open].trim_end().to_owned(), Some(links.pr(n, p)));
        }
    }
    if let Some(body) = body {
        for line in body.lines() {
            if let Some(rest) = line.trim().strip_prefix("See merge request ")
                && let Some((_, n)) = rest.rsplit_once('!')
                && let Ok(n) = n.trim_end_matches('.').parse::<u64>()
            {
                return (d.to_owned(), Some(links.pr(n, '!')));
            }
        }
    }
    (d.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_forms() {
        let want = Some("https://github.com/acme/app".to_owned());
        assert_eq!(web_url("git@github.com:acme/app.git"), want);
        assert_eq!(web_url("https://github.com/acme/app.git"), want);
        assert_eq!(
            web_url("https://x-access-token:SECRET@github.com/acme/app"),
            want
        );
        assert_eq!(web_url("ssh://git@github.com:22/acme/app.git"), want);
        assert_eq!(web_url("/tmp/local/repo"), None);
        assert_eq!(
            web_url("https://gitlab.example.com/group/sub/app.git").unwrap(),
            "https://gitlab.example.com/group/sub/app"
        );
    }

    #[test]
    fn pr_refs() {
        let gh = Links::new(Some("https://github.com/acme/app"), None);
        let (d, pr) = split_pr("handle empty config (#42)", None, &gh);
        assert_eq!(d, "handle empty config");
        assert_eq!(
            pr.unwrap().url.as_deref(),
            Some("https://github.com/acme/app/pull/42")
        );
        let gl = Links::new(Some("https://gitlab.com/acme/app"), None);
        let (_, pr) = split_pr("x", Some("See merge request acme/app!7"), &gl);
        assert_eq!(
            pr.unwrap().url.as_deref(),
            Some("https://gitlab.com/acme/app/-/merge_requests/7")
        );
        // On GitLab `#12` is an issue: it stays in the text and is no merge request.
        let (d, pr) = split_pr("handle empty config (#12)", None, &gl);
        assert_eq!((d.as_str(), pr), ("handle empty config (#12)", None));
        let (d, pr) = split_pr("handle empty config (!12)", None, &gl);
        assert_eq!(d, "handle empty config");
        assert_eq!(
            pr.unwrap().url.as_deref(),
            Some("https://gitlab.com/acme/app/-/merge_requests/12")
        );
        let footers = [
            ("Closes".to_owned(), "#12, #13".to_owned()),
            (
                "fixes".to_owned(),
                "#13 acme/other#4 https://x/issues/9".to_owned(),
            ),
            ("Refs".to_owned(), "#99".to_owned()),
            ("Reviewed-by".to_owned(), "#1".to_owned()),
        ];
        let closed = closed_issues(&footers, &gh);
        assert_eq!(
            closed.iter().map(|i| i.number).collect::<Vec<_>>(),
            vec![12, 13]
        );
        assert_eq!(
            closed[0].url.as_deref(),
            Some("https://github.com/acme/app/issues/12")
        );
        assert_eq!(
            gl.issue(5).url.as_deref(),
            Some("https://gitlab.com/acme/app/-/issues/5")
        );
        let (d, pr) = split_pr("call f(x)", None, &gh);
        assert_eq!((d.as_str(), pr), ("call f(x)", None));
        assert_eq!(
            gl.commit("abc").unwrap(),
            "https://gitlab.com/acme/app/-/commit/abc"
        );
        assert_eq!(
            gh.compare("v1", "v2").unwrap(),
            "https://github.com/acme/app/compare/v1...v2"
        );
    }
}
