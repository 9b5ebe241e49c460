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
    fn rejects_bad_templates() {
        assert!(TagTemplate::new("release", None).is_err());
        assert!(TagTemplate::new("{version}-{version}", None).is_err());
        assert!(TagTemplate::new("{name}@{version}", None).is_err());
        assert!(TagTemplate::new("v {version}", None).is_err());
    }
}
