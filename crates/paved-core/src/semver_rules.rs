//! Bump levels, the commit-type → bump map, and next-version arithmetic, including pre-releases.

use std::collections::BTreeMap;
use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};
use serde::{Deserialize, Serialize};

use crate::conventional::Conventional;
use crate::{Error, Result};

/// How far a release moves the version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// No release.
    #[default]
    None,
    /// `x.y.Z`
    Patch,
    /// `x.Y.0`
    Minor,
    /// `X.0.0`
    Major,
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        })
    }
}

/// Which bump each commit type causes. A breaking change is always `major` (see [`Self::bump_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpRules {
    types: BTreeMap<String, Bump>,
    /// Types whose `none` is paved's default rather than the user's choice: `default` applies.
    defaulted: std::collections::BTreeSet<String>,
    /// The bump of a commit of an unlisted type, or of a message that is not conventional
    /// (`default-bump`: `none`, or `patch` for "any commit releases a patch").
    default: Bump,
    /// What `feat` (a minor bump) does on 0.x (`zero-feat`: `minor`, or `patch` as release-plz).
    zero_feat: Bump,
}

/// Types that are valid Conventional Commit types out of the box (the Angular convention).
pub const KNOWN_TYPES: &[&str] = &[
    "feat", "fix", "perf", "revert", "docs", "style", "refactor", "test", "build", "ci", "chore",
];

impl Default for BumpRules {
    fn default() -> Self {
        let mut types: BTreeMap<String, Bump> = KNOWN_TYPES
            .iter()
            .map(|t| ((*t).to_owned(), Bump::None))
            .collect();
        types.insert("feat".into(), Bump::Minor);
        types.insert("fix".into(), Bump::Patch);
        types.insert("perf".into(), Bump::Patch);
        // A revert of something already released changes behaviour, so it is released as a fix.
        // A revert inside the unreleased range cancels its target instead and counts for nothing.
        types.insert("revert".into(), Bump::Patch);
        let defaulted = types
            .iter()
            .filter(|(_, b)| **b == Bump::None)
            .map(|(k, _)| k.clone())
            .collect();
        BumpRules {
            types,
            defaulted,
            default: Bump::None,
            zero_feat: Bump::Minor,
        }
    }
}

impl BumpRules {
    /// The default map with `overrides` applied (type names are case-insensitive).
    pub fn with_overrides(overrides: &BTreeMap<String, Bump>) -> Self {
        let mut rules = BumpRules::default();
        for (k, v) in overrides {
            let k = k.to_ascii_lowercase();
            rules.defaulted.remove(&k);
            rules.types.insert(k, *v);
        }
        rules
    }

    /// The conventions: what an unlisted type or a non-conventional message releases, and what
    /// `feat` does on 0.x.
    pub fn with_conventions(mut self, default: Bump, zero_feat: Bump) -> Self {
        self.default = default;
        self.zero_feat = zero_feat;
        self
    }

    /// The bump one commit causes: `major` when breaking, otherwise the type's entry (the
    /// default bump if the type is unlisted or only paved's default says `none`).
    pub fn bump_for(&self, commit: &Conventional) -> Bump {
        if commit.breaking {
            return Bump::Major;
        }
        match self.types.get(&commit.kind) {
            Some(b) if !self.defaulted.contains(&commit.kind) => *b,
            _ => self.default,
        }
    }

    /// The bump of a commit whose message is not conventional.
    pub fn bump_for_unparsed(&self) -> Bump {
        self.default
    }

    /// Apply `bump` to a released `base`: the version, and the bump that really moved it (on 0.x
    /// a breaking change moves the minor version, and `feat` the patch under `zero-feat = "patch"`).
    pub fn apply(&self, base: &Version, bump: Bump) -> (Version, Bump) {
        let effective = match bump {
            _ if base.major > 0 => bump,
            Bump::Major => Bump::Minor,
            Bump::Minor => self.zero_feat,
            other => other,
        };
        (apply(base, effective), effective)
    }

    /// Whether `kind` is a known type (a default one or one named in the config).
    pub fn is_known(&self, kind: &str) -> bool {
        self.types.contains_key(&kind.to_ascii_lowercase())
    }

    /// The known type names, sorted.
    pub fn known_types(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }
}

/// Apply `bump` to a released `base` version. On 0.x a breaking change moves the minor version:
/// leaving 0.x is a human decision (`--release-as 1.0.0`).
pub fn apply(base: &Version, bump: Bump) -> Version {
    let mut v = Version::new(base.major, base.minor, base.patch);
    match bump {
        Bump::None => return base.clone(),
        Bump::Major if v.major == 0 => {
            v.minor += 1;
            v.patch = 0;
        }
        Bump::Major => {
            v.major += 1;
            v.minor = 0;
            v.patch = 0;
        }
        Bump::Minor => {
            v.minor += 1;
            v.patch = 0;
        }
        Bump::Patch => v.patch += 1,
    }
    v
}

/// Validate a pre-release identifier such as `rc`, `beta` or `alpha`.
pub fn parse_pre_id(id: &str) -> Result<String> {
    let ok = !id.is_empty()
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(id.to_owned())
    } else {
        Err(Error::Usage(format!(
            "pre-release identifier `{id}` is invalid: use letters, digits and `-`, for example `rc` or `beta`"
        )))
    }
}

/// Parse `--build` metadata.
pub fn parse_build(meta: &str) -> Result<BuildMetadata> {
    BuildMetadata::new(meta).map_err(|e| {
        Error::Usage(format!(
            "build metadata `{meta}` is invalid ({e}): use dot-separated [0-9A-Za-z-] identifiers, e.g. `sha.1a2b3c4`"
        ))
    })
}

/// The `N` of a pre-release `<id>.N`, if `version` is one.
pub fn pre_number(version: &Version, id: &str) -> Option<u64> {
    let rest = version.pre.as_str().strip_prefix(id)?.strip_prefix('.')?;
    rest.parse().ok()
}

/// The next pre-release of `core` with identifier `id`, numbered after every existing
/// `<core>-<id>.N` in `existing` (tags anywhere in the repository, so a number is never reused).
pub fn next_pre<'a>(
    core: &Version,
    id: &str,
    existing: impl IntoIterator<Item = &'a Version>,
) -> Version {
    let last = existing
        .into_iter()
        .filter(|v| v.major == core.major && v.minor == core.minor && v.patch == core.patch)
        .filter_map(|v| pre_number(v, id))
        .max()
        .unwrap_or(0);
    let mut v = Version::new(core.major, core.minor, core.patch);
    v.pre = Prerelease::new(&format!("{id}.{}", last + 1)).expect("validated identifier");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn bumps() {
        assert_eq!(apply(&v("1.2.3"), Bump::Major), v("2.0.0"));
        assert_eq!(apply(&v("1.2.3"), Bump::Minor), v("1.3.0"));
        assert_eq!(apply(&v("1.2.3"), Bump::Patch), v("1.2.4"));
        assert_eq!(apply(&v("0.4.2"), Bump::Major), v("0.5.0"));
        assert_eq!(apply(&v("1.3.0-rc.2"), Bump::Patch), v("1.3.1"));
    }

    #[test]
    fn pre_numbers_never_repeat() {
        let tags = [
            v("1.3.0-rc.1"),
            v("1.3.0-rc.4"),
            v("1.3.0-beta.9"),
            v("1.4.0-rc.7"),
        ];
        assert_eq!(next_pre(&v("1.3.0"), "rc", &tags), v("1.3.0-rc.5"));
        assert_eq!(next_pre(&v("2.0.0"), "rc", &tags), v("2.0.0-rc.1"));
    }

    #[test]
    fn validates_inputs() {
        assert!(parse_pre_id("rc").is_ok());
        assert!(parse_pre_id("r c").is_err());
        assert!(parse_pre_id("12").is_err());
        assert!(parse_build("sha.abc").is_ok());
        assert!(parse_build("bad meta").is_err());
    }
}
