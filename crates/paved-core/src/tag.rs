//! Tag templates: how a release version becomes a tag name and back.
//!
//! A template has exactly one `{version}` and, for monorepo packages, may use `{name}`:
//! `v{version}`, `{name}@{version}`, `{name}-v{version}`.

use semver::Version;

use crate::{Error, Result};

/// A parsed tag template, bound to a package name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    template: String,
    prefix: String,
    suffix: String,
}

impl TagTemplate {
    /// Parse `template`, substituting `{name}` with `package` when given.
    pub fn new(template: &str, package: Option<&str>) -> Result<Self> {
        let bound = match package {
            Some(name) => template.replace("{name}", name),
            None if template.contains("{name}") => {
                return Err(Error::Usage(format!(
                    "tag template `{template}` uses `{{name}}` but no package name applies here; \
                     use it only in `[[version.package]]` entries"
                )));
            }
            None => template.to_owned(),
        };
        let count = bound.matches("{version}").count();
        if count != 1 {
            return Err(Error::Usage(format!(
                "tag template `{template}` must contain `{{version}}` exactly once (found {count}); \
                 for example `v{{version}}` or `{{name}}@{{version}}`"
            )));
        }
        let (prefix, suffix) = bound.split_once("{version}").expect("checked above");
        let example = bound.replace("{version}", "1.2.3-rc.1+build.5");
        if let Some(problem) = crate::git::tag_name_problem(&example) {
            return Err(Error::Usage(format!(
                "tag template `{template}` makes tag names such as {example:?} that git refuses: \
                 the name {problem} (see `git check-ref-format`); for example `v{{version}}` or \
                 `{{name}}@{{version}}`"
            )));
        }
        Ok(TagTemplate {
            template: template.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// The tag name for `version`.
    pub fn render(&self, version: &Version) -> String {
        format!("{}{}{}", self.prefix, version, self.suffix)
    }

    /// The version in `tag`, if the tag matches this template and holds a valid semver version.
    pub fn parse(&self, tag: &str) -> Option<Version> {
        let rest = tag
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        // `v{version}` must not match `vv1.0.0` or `foo@1.0.0` must not match `foo-bar@1.0.0`:
        // the version part has to start with a digit.
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        Version::parse(rest).ok()
    }
}

/// The tag schemes tried, in order of preference, when a repository configures none.
pub const REPOSITORY_SCHEMES: [&str; 2] = ["v{version}", "{version}"];
/// The tag schemes tried, in order of preference, for a package that configures none.
pub const PACKAGE_SCHEMES: [&str; 6] = [
    "{name}-v{version}",
    "{name}@{version}",
    "{name}/v{version}",
    "{name}-{version}",
    "{name}/{version}",
    "{name}_v{version}",
];

/// Whether `tag` looks like a release of some version: a semver version at its end after a
/// prefix that does not end in a digit or a dot (`6.5.0`, `v1.2.3`, `api@1.0.0`). Returns the
/// prefix and the version.
pub fn version_in(tag: &str) -> Option<(&str, Version)> {
    let bytes = tag.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
            && let Ok(v) = Version::parse(&tag[i..])
        {
            return Some((&tag[..i], v));
        }
    }
    None
}

/// The scheme of `schemes` (bound to `package`) that names most of `tags`, and how many; the
/// earlier scheme wins a tie. `None` when no scheme names any tag.
pub fn best_scheme(
    tags: &[&str],
    schemes: &[&str],
    package: Option<&str>,
) -> Result<Option<(TagTemplate, usize)>> {
    let mut best: Option<(TagTemplate, usize)> = None;
    for scheme in schemes {
        let t = TagTemplate::new(scheme, package)?;
        let n = tags.iter().filter(|name| t.parse(name).is_some()).count();
        if n > 0 && best.as_ref().is_none_or(|(_, m)| n > *m) {
            best = Some((t, n));
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = TagTemplate::new("{name}@{version}", Some("api")).unwrap();
        let v = Version::parse("1.2.3-rc.1").unwrap();
        assert_eq!(t.render(&v), "api@1.2.3-rc.1");
        assert_eq!(t.parse("api@1.2.3-rc.1"), Some(v));
        assert_eq!(t.parse("web@1.2.3"), None);
        assert_eq!(t.parse("api@latest"), None);
    }

    #[test]
    fn default_template_ignores_other_tags() {
        let t = TagTemplate::new("v{version}", None).unwrap();
        assert_eq!(t.parse("v1.0.0"), Some(Version::new(1, 0, 0)));
        assert_eq!(t.parse("1.0.0"), None);
        assert_eq!(t.parse("v1.0"), None);
        assert_eq!(t.parse("release-1"), None);
    }

    #[test]
    fn version_shaped_tags() {
        assert_eq!(version_in("6.5.0"), Some(("", Version::new(6, 5, 0))));
        assert_eq!(
            version_in("web-v1.2.3"),
            Some(("web-v", Version::new(1, 2, 3)))
        );
        assert_eq!(
            version_in("python3-1.0.0"),
            Some(("python3-", Version::new(1, 0, 0)))
        );
        assert_eq!(version_in("v3.0"), None);
        assert_eq!(version_in("nightly"), None);
        let tags = ["api@1.0.0", "api@1.1.0", "api-v0.1.0", "web@2.0.0"];
        let (t, n) = best_scheme(&tags, &PACKAGE_SCHEMES, Some("api"))
            .unwrap()
            .unwrap();
        assert_eq!((t.as_str(), n), ("{name}@{version}", 2));
        assert!(
            best_scheme(&tags, &REPOSITORY_SCHEMES, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(TagTemplate::new("release", None).is_err());
        assert!(TagTemplate::new("{version}-{version}", None).is_err());
        assert!(TagTemplate::new("{name}@{version}", None).is_err());
        assert!(TagTemplate::new("v {version}", None).is_err());
    }
}
