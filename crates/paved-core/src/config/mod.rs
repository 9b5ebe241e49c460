//! `paved.toml`: one section per tool, unknown keys rejected with the key named.
//!
//! Precedence is flag > `PAVED_*` env > file > default. clap resolves flag and env; each tool then
//! falls back to these values and finally to its defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::Version;
use serde::Deserialize;

use crate::semver_rules::Bump;
use crate::{Error, Result};

mod change;
mod promote;
mod quarantine;

pub use change::ChangeConfig;
pub use promote::{EnvironmentConfig, PromoteConfig, ProvenanceConfig};
pub use quarantine::QuarantineConfig;

/// The file name looked for at the repository root.
pub const FILE_NAME: &str = "paved.toml";

/// The whole `paved.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PavedConfig {
    /// `[version]`
    #[serde(default)]
    pub version: VersionConfig,
    /// `[changelog]`
    #[serde(default)]
    pub changelog: ChangelogConfig,
    /// `[quarantine]`
    #[serde(default)]
    pub quarantine: QuarantineConfig,
    /// `[promote]`
    #[serde(default)]
    pub promote: PromoteConfig,
    /// `[change]`
    #[serde(default)]
    pub change: ChangeConfig,
}

/// How history is deepened in a shallow clone (`fetch` in paved.toml, `--fetch` on the command
/// line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FetchMode {
    /// Deepen with git fetch until the base tag is reachable, and fetch tags.
    Auto,
    /// Never fetch: missing history is an error.
    Never,
}

/// `[version]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionConfig {
    /// Tag template for the repository (default `v{version}`).
    pub tag_template: Option<String>,
    /// The version assumed before the first release tag (default `0.0.0`).
    pub initial_version: Option<Version>,
    /// Commit type → bump overrides, e.g. `refactor = "patch"`.
    #[serde(default)]
    pub types: BTreeMap<String, Bump>,
    /// Shallow-clone handling: `auto` or `never` (default: `auto` in CI, otherwise `never`).
    pub fetch: Option<FetchMode>,
    /// The remote to fetch from and push tags to (default `origin`).
    pub remote: Option<String>,
    /// What a commit of an unlisted type, or one that is not conventional, releases: `none`
    /// (default) or `patch` ("any commit releases a patch", as git-cliff and lerna).
    pub default_bump: Option<DefaultBump>,
    /// What `feat` releases on 0.x: `minor` (default) or `patch` (as release-plz).
    pub zero_feat: Option<ZeroFeat>,
    /// The message of the release commit `--write --tag` makes; `{version}` and `{tag}` are
    /// replaced (default `chore(release): {version}`).
    pub commit_message: Option<String>,
    /// Extra files whose version `--write` updates, relative to the repository root.
    #[serde(default)]
    pub files: Vec<String>,
    /// Monorepo packages, each versioned from the commits that touch its path.
    #[serde(default)]
    pub package: Vec<PackageConfig>,
}

/// `default-bump` in `[version]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultBump {
    /// Commits of unlisted types release nothing.
    None,
    /// Any commit releases at least a patch.
    Patch,
}

/// `zero-feat` in `[version]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZeroFeat {
    /// `feat` on 0.x moves the minor version.
    Minor,
    /// `feat` on 0.x moves the patch version.
    Patch,
}

impl From<DefaultBump> for Bump {
    fn from(b: DefaultBump) -> Bump {
        match b {
            DefaultBump::None => Bump::None,
            DefaultBump::Patch => Bump::Patch,
        }
    }
}

impl From<ZeroFeat> for Bump {
    fn from(b: ZeroFeat) -> Bump {
        match b {
            ZeroFeat::Minor => Bump::Minor,
            ZeroFeat::Patch => Bump::Patch,
        }
    }
}

/// `[[version.package]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageConfig {
    /// Package name, used in `{name}` and `--package`.
    pub name: String,
    /// Directory relative to the repository root.
    pub path: String,
    /// Tag template (default `{name}-v{version}`).
    pub tag: Option<String>,
    /// `default-bump` for this package (default: the `[version]` one).
    pub default_bump: Option<DefaultBump>,
    /// `zero-feat` for this package (default: the `[version]` one).
    pub zero_feat: Option<ZeroFeat>,
    /// Extra files for `--write`, relative to the repository root.
    #[serde(default)]
    pub files: Vec<String>,
    /// Whether a release of a workspace dependency releases this package too (at least a
    /// patch). Default `true`; `false` keeps its version (its requirement is still rewritten).
    pub propagate: Option<bool>,
}

/// `[changelog]`. Tag templates and packages come from `[version]`, so both tools agree on
/// what a release is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChangelogConfig {
    /// Built-in template name (`github`, `gitlab`, `markdown`, `plain`) or a file path.
    pub template: Option<String>,
    /// Commit type → section title. An empty title hides the type. Merged over the defaults
    /// (feat, fix, perf, revert shown; everything else hidden).
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    /// Split squash-merge bodies that list several conventional commits into separate entries.
    pub split_squash: Option<bool>,
    /// Web URL of the repository, for links (default: from CI variables or the `origin` remote).
    pub repository_url: Option<String>,
    /// Text written above the first release when `--output` creates a new file.
    pub header: Option<String>,
}

impl PavedConfig {
    /// Load `explicit` (an error if missing) or `<root>/paved.toml` (defaults if missing).
    pub fn load(explicit: Option<&Path>, root: &Path) -> Result<(PavedConfig, Option<PathBuf>)> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None => {
                let p = root.join(FILE_NAME);
                if !p.exists() {
                    return Ok((PavedConfig::default(), None));
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Usage(format!(
                "config file `{}` does not exist; check the path given to `--config` (or \
                 `PAVED_CONFIG`)",
                path.display()
            )),
            _ => Error::io("read config", &path, e),
        })?;
        let config = Self::parse(&text).map_err(|message| Error::Config {
            path: path.clone(),
            message,
        })?;
        Ok((config, Some(path)))
    }

    /// Parse and validate the text of a `paved.toml`.
    pub fn parse(text: &str) -> std::result::Result<PavedConfig, String> {
        let config: PavedConfig =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        let mut names = std::collections::HashSet::new();
        for p in &config.version.package {
            if p.name.trim().is_empty() {
                return Err("a `[[version.package]]` entry has an empty `name`".into());
            }
            if !names.insert(p.name.as_str()) {
                return Err(format!(
                    "package `{}` is listed twice in `[[version.package]]`",
                    p.name
                ));
            }
            if p.path.starts_with('/') || p.path.split('/').any(|c| c == "..") {
                return Err(format!(
                    "package `{}` has path `{}`: use a path relative to the repository root, without `..`",
                    p.name, p.path
                ));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = PavedConfig::parse("[version]\ntag-templat = \"v{version}\"\n").unwrap_err();
        assert!(err.contains("tag-templat"), "{err}");
        let err = PavedConfig::parse("[changelog]\ntemplates = \"x\"\n").unwrap_err();
        assert!(err.contains("templates"), "{err}");
        let err = PavedConfig::parse("[versoin]\n").unwrap_err();
        assert!(err.contains("versoin"), "{err}");
        let err =
            PavedConfig::parse("[[version.package]]\nname = \"a\"\npath = \"a\"\nowner = \"x\"\n")
                .unwrap_err();
        assert!(err.contains("owner"), "{err}");
    }

    #[test]
    fn full_example_parses() {
        let c = PavedConfig::parse(
            r#"
[version]
tag-template = "release-{version}"
initial-version = "1.0.0"
fetch = "never"
files = ["VERSION"]
[version.types]
refactor = "patch"
[[version.package]]
name = "api"
path = "services/api"
tag = "{name}@{version}"
"#,
        )
        .unwrap();
        assert_eq!(c.version.types["refactor"], Bump::Patch);
        assert_eq!(
            c.version.package[0].tag.as_deref(),
            Some("{name}@{version}")
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(PavedConfig::parse("[version.types]\nfeat = \"huge\"\n").is_err());
        assert!(PavedConfig::parse("[version]\ninitial-version = \"1.0\"\n").is_err());
        assert!(
            PavedConfig::parse("[[version.package]]\nname = \"a\"\npath = \"../x\"\n").is_err()
        );
    }
}
