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
//! require = ["signature", "provenance", "sbom"] # what must verify before the image enters
//! signature-keys = ["keys/cosign.pub"]         # cosign public keys for signatures and attestations
//! trusted-keys = ["keys/prod.pub"]             # keys that sign the records of promotions into prod
//! # allow-unsigned-records = true              # trust the previous environment's unsigned records
//!
//! [promote.env.prod.provenance]                # checks of the SLSA provenance predicate
//! builder-id = "https://github.com/acme/build/.github/workflows/build.yml@refs/heads/main"
//! source-repository = "https://github.com/acme/app"
//! source-ref = "refs/heads/main"
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
    /// What must be verified before an image enters: `signature` (a cosign signature naming
    /// this digest), `provenance` (a SLSA provenance attestation, checked against
    /// `[promote.env.<name>.provenance]`), `sbom` (a CycloneDX or SPDX attestation). Each must be
    /// signed by one of `signature-keys`.
    #[serde(default)]
    pub require: Vec<String>,
    /// Public key files (PEM, Ed25519 or ECDSA P-256; relative to the config file) that
    /// signatures and attestations named by `require` must verify with.
    #[serde(default)]
    pub signature_keys: Vec<String>,
    /// What the SLSA provenance must say (with `require = ["provenance"]`).
    pub provenance: Option<ProvenanceConfig>,
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

/// `[promote.env.<name>.provenance]`: each set field must match the verified provenance.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProvenanceConfig {
    /// `runDetails.builder.id` (SLSA v1) or `builder.id` (v0.2), exactly.
    pub builder_id: Option<String>,
    /// The source repository, e.g. `https://github.com/acme/app` (`git+` and `.git` ignored).
    pub source_repository: Option<String>,
    /// The source ref, e.g. `refs/heads/main` or `refs/tags/v1.2.3`, exactly.
    pub source_ref: Option<String>,
}

/// The names `require` takes.
pub const REQUIREMENTS: [&str; 3] = ["signature", "provenance", "sbom"];

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
            if let Some(r) = env
                .require
                .iter()
                .find(|r| !REQUIREMENTS.contains(&r.as_str()))
            {
                return Err(format!(
                    "`[promote.env.{name}] require` names `{r}`, which paved cannot verify; it takes {} \
                     (each verified against `signature-keys`: a referrer's mere presence proves nothing)",
                    REQUIREMENTS.map(|x| format!("`{x}`")).join(", ")
                ));
            }
            if !env.require.is_empty() && env.signature_keys.is_empty() {
                return Err(format!(
                    "`[promote.env.{name}] require` is set but `signature-keys` is empty; add the public key(s) \
                     the signatures and attestations are made with, e.g. `signature-keys = [\"keys/cosign.pub\"]`"
                ));
            }
            if env.provenance.is_some() && !env.require.iter().any(|r| r == "provenance") {
                return Err(format!(
                    "`[promote.env.{name}.provenance]` is set but `require` does not name `provenance`; add it"
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
require = ["sbom", "provenance"]
signature-keys = ["keys/cosign.pub"]
current-tag = "prod"
trusted-keys = ["keys/prod.pub"]
allow-unsigned-records = true
[promote.env.prod.provenance]
builder-id = "https://builder.example/b"
source-ref = "refs/heads/main"
"#,
        )
        .unwrap();
        c.promote.validate().unwrap();
        assert_eq!(c.promote.env["prod"].require, ["sbom", "provenance"]);
        let provenance = c.promote.env["prod"].provenance.clone().unwrap();
        assert_eq!(
            provenance.builder_id.as_deref(),
            Some("https://builder.example/b")
        );
        assert_eq!(provenance.source_repository, None);
        assert_eq!(c.promote.env["prod"].trusted_keys, ["keys/prod.pub"]);
        assert!(c.promote.env["prod"].allow_unsigned_records);
        assert!(!c.promote.env["dev"].allow_unsigned_records);

        let err = PavedConfig::parse("[promote.env.dev]\nrepository = \"x/y\"\nsoke = \"1h\"\n")
            .unwrap_err();
        assert!(err.contains("soke"), "{err}");
        let one = |extra: &str| {
            PavedConfig::parse(&format!(
                "[promote]\nenvironments = [\"dev\"]\n[promote.env.dev]\nrepository = \"x/y\"\n{extra}"
            ))
            .unwrap()
            .promote
            .validate()
        };
        let err = one("require = [\"application/spdx+json\"]\nsignature-keys = [\"k.pub\"]\n")
            .unwrap_err();
        assert!(
            err.contains("`application/spdx+json`") && err.contains("`signature`"),
            "{err}"
        );
        let err = one("require = [\"sbom\"]\n").unwrap_err();
        assert!(err.contains("signature-keys"), "{err}");
        let err = one("require = [\"sbom\"]\nsignature-keys = [\"k.pub\"]\n[promote.env.dev.provenance]\nsource-ref = \"x\"\n")
            .unwrap_err();
        assert!(err.contains("does not name `provenance`"), "{err}");
        let c = PavedConfig::parse("[promote]\nenvironments = [\"dev\"]\n").unwrap();
        assert!(
            c.promote
                .validate()
                .unwrap_err()
                .contains("promote.env.dev")
        );
    }
}
