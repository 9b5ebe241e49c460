//! `[promote]`: settings for paved-promote.
//!
//! ```toml
//! [promote]
//! environments = ["dev", "staging", "prod"]   # the order an artifact moves in
//! ledger = ".paved/promotions.jsonl"          # optional: also append records here
//!
//! [promote.env.prod]
//! repository = "registry.example/app"        # registry/repository of the environment
//! tag = "{tag}"                                # immutable tag written (default: the source tag)
//! current-tag = "prod"                         # optional moving pointer, rewritten on rollback
//! soak = "24h"                                 # time the digest must have spent in staging
//! require = ["application/vnd.dev.sigstore.bundle.v0.3+json"]  # referrer artifact types
//! trusted-keys = ["keys/prod.pub"]             # keys that sign the records of promotions into prod
//! # allow-unsigned-records = true              # trust the previous environment's unsigned records
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[promote]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PromoteConfig {
    /// Environment names in promotion order; each needs a `[promote.env.<name>]` table.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Per-environment settings.
    #[serde(default)]
    pub env: BTreeMap<String, EnvironmentConfig>,
    /// A JSON-lines ledger file every promotion is appended to (as `--ledger`).
    pub ledger: Option<String>,
    /// Parallel blob transfers (as `--jobs`).
    pub jobs: Option<usize>,
}

/// `[promote.env.<name>]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvironmentConfig {
    /// `registry/repository` the environment's images live in (or `oci:DIR` for a layout).
    pub repository: String,
    /// Tag pattern written in this environment: `{tag}` (the source tag), `{env}`, `{short}`
    /// (the first 12 hex digits of the digest). Default `{tag}`, or `{short}` when the source
    /// has no tag. The tag is immutable: once written, it never moves to another digest.
    pub tag: Option<String>,
    /// An optional mutable pointer tag (e.g. `prod`) moved to every promoted or rolled-back
    /// digest, for deploy tools that follow a tag.
    pub current_tag: Option<String>,
    /// How long the digest must have been in the previous environment, e.g. `30m`, `24h`, `2d`.
    pub soak: Option<String>,
    /// Referrer artifact types the image must carry (signatures, SBOMs, attestations).
    #[serde(default)]
    pub require: Vec<String>,
    /// Public key files (PEM; relative to the config file) of whoever promotes into this
    /// environment. Promotions into it must be signed with one of them (`--signing-key`), and the
    /// next environment trusts only this environment's records signed by one of them.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// Trust the previous environment's records without a signature when that environment
    /// lists no `trusted-keys` (anyone who can push there can forge them). Default: refused.
    #[serde(default)]
    pub allow_unsigned_records: bool,
}

impl PromoteConfig {
    /// Check the cross-references serde cannot: every listed environment has a table and every
    /// table is listed, names are unique, repositories are set.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for name in &self.environments {
            if !seen.insert(name.as_str()) {
                return Err(format!(
                    "environment `{name}` is listed twice in `[promote] environments`"
                ));
            }
            let Some(env) = self.env.get(name) else {
                return Err(format!(
                    "environment `{name}` is listed in `[promote] environments` but has no `[promote.env.{name}]` table"
                ));
            };
            if env.repository.trim().is_empty() {
                return Err(format!(
                    "`[promote.env.{name}]` has an empty `repository`; set it to `registry/repository`"
                ));
            }
        }
        if let Some(name) = self.env.keys().find(|k| !seen.contains(k.as_str())) {
            return Err(format!(
                "`[promote.env.{name}]` is not listed in `[promote] environments`; add it in promotion order"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PavedConfig;

    #[test]
    fn parses_and_validates() {
        let c = PavedConfig::parse(
            r#"
[promote]
environments = ["dev", "prod"]
[promote.env.dev]
repository = "127.0.0.1:5000/app"
[promote.env.prod]
repository = "127.0.0.1:5000/prod/app"
soak = "1h"
require = ["application/spdx+json"]
current-tag = "prod"
trusted-keys = ["keys/prod.pub"]
allow-unsigned-records = true
"#,
        )
        .unwrap();
        c.promote.validate().unwrap();
        assert_eq!(c.promote.env["prod"].require, ["application/spdx+json"]);
        assert_eq!(c.promote.env["prod"].trusted_keys, ["keys/prod.pub"]);
        assert!(c.promote.env["prod"].allow_unsigned_records);
        assert!(!c.promote.env["dev"].allow_unsigned_records);

        let err = PavedConfig::parse("[promote.env.dev]\nrepository = \"x/y\"\nsoke = \"1h\"\n")
            .unwrap_err();
        assert!(err.contains("soke"), "{err}");
        let c = PavedConfig::parse("[promote]\nenvironments = [\"dev\"]\n").unwrap();
        assert!(
            c.promote
                .validate()
                .unwrap_err()
                .contains("promote.env.dev")
        );
    }
}
