//! The evidence bundle: what was deployed, what it contains, who reviewed it, what tested it, and
//! where the change record lives. Versioned JSON (`schema_version`), documented in
//! `docs/change-bundle.md`. Its JSON Schema is derived from these types ([`schema_json`]) and
//! written to `docs/change-bundle.schema.json` by `cargo xtask codegen`.
//!
//! The bundle file is also the `file` backend's record: `open` writes it, `wait` reads its state,
//! `close` adds the result, and `dora` reads a directory of them.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The version of the bundle format this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The `$schema` URI of version 1.
pub const SCHEMA_URI: &str = "https://paved.dev/schemas/change-bundle/v1.json";

/// One change: its evidence and its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "paved change evidence bundle, version 1",
    description = "Written by `paved-change open`, updated by `wait` and `close`, checked by `verify`, read by `dora`. See docs/change-bundle.md.",
    deny_unknown_fields,
    extend("$id" = SCHEMA_URI)
)]
pub struct Bundle {
    /// [`SCHEMA_URI`].
    #[serde(rename = "$schema")]
    #[schemars(description = "The format's URI.", extend("const" = SCHEMA_URI))]
    pub schema: String,
    /// [`SCHEMA_VERSION`].
    #[schemars(
        description = "The format version.",
        extend("const" = SCHEMA_VERSION)
    )]
    pub schema_version: u32,
    /// paved's id of the change (`chg-` and 16 hex digits, derived from the correlation id).
    #[schemars(regex(pattern = r"^chg-[0-9a-f]{16}$"))]
    pub id: String,
    /// `repository:run:environment`: the same for every attempt of one workflow run or pipeline.
    #[schemars(length(min = 1))]
    pub correlation_id: String,
    /// The environment deployed to.
    #[schemars(length(min = 1))]
    pub environment: String,
    /// The version deployed.
    #[schemars(length(min = 1))]
    pub version: String,
    /// `owner/repo` or the GitLab project path, when known.
    pub repository: Option<String>,
    /// The commit range since the last deployment.
    pub commits: Commits,
    /// Pull/merge requests of those commits.
    pub changes: Changes,
    /// The JUnit test summary (`null` when no reports were given).
    pub tests: Option<Tests>,
    /// Artifact digests deployed.
    pub artifacts: Vec<Artifact>,
    /// The deployment this one follows, when one is known.
    pub previous: Option<Previous>,
    /// The CI run that made the change.
    pub ci: Ci,
    /// When things happened (RFC 3339, UTC).
    pub timestamps: Timestamps,
    /// Where the change record lives and its state.
    pub record: Record,
}

/// Where the range starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub enum BaseSource {
    /// The commit of the last deployment to the environment (from the records or the backend).
    Deployment,
    /// The previous release tag.
    Tag,
    /// No earlier deployment or tag: the whole history.
    Root,
}

/// The commit range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Commits {
    /// The commit deployed (full sha).
    #[schemars(with = "Sha")]
    pub head: String,
    /// The commit the range starts after (exclusive), if any.
    #[schemars(with = "Option<Sha>")]
    pub base: Option<String>,
    /// Where `base` came from.
    pub base_source: BaseSource,
    /// The tag or record `base` came from.
    pub base_ref: Option<String>,
    /// The commits, newest first, merge commits left out.
    pub list: Vec<Commit>,
    /// Merge commits in the range (not listed).
    pub merges: usize,
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Commit {
    /// Full sha.
    #[schemars(with = "Sha")]
    pub sha: String,
    /// First line of the message.
    pub summary: String,
    /// Author name.
    pub author: String,
    /// Author email.
    pub author_email: String,
    /// Author time (RFC 3339): the start of the DORA lead time.
    #[schemars(with = "Time")]
    pub authored_at: String,
    /// Committer time (RFC 3339).
    #[schemars(with = "Time")]
    pub committed_at: String,
    /// The PR/MR number that brought it in, when known.
    #[schemars(range(min = 1))]
    pub pull_request: Option<u64>,
}

/// PR/MR evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Changes {
    /// `github`, `gitlab`, or `none` when no forge token was available.
    #[schemars(extend("enum" = ["github", "gitlab", "none"]))]
    pub source: String,
    /// The PRs/MRs, each once.
    pub pull_requests: Vec<PullRequest>,
    /// Commits no PR/MR was found for.
    #[schemars(with = "Vec<Sha>")]
    pub without_pull_request: Vec<String>,
    /// Why the lookup stopped early, if it did.
    pub error: Option<String>,
    /// PR/MR references in commit subjects (`(#123)`, `!123`) that no forge confirmed (there was
    /// no token, or the lookup did not find them): listed as written, not enriched.
    #[serde(default)]
    pub unverified: Vec<Reference>,
}

/// A PR/MR a commit subject names, not confirmed by a forge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Reference {
    /// The number.
    #[schemars(range(min = 1))]
    pub number: u64,
    /// As written: `#123` (a GitHub pull request) or `!123` (a GitLab merge request).
    #[schemars(regex(pattern = r"^[#!][0-9]+$"))]
    pub reference: String,
    /// The commits of the range whose subject names it.
    #[schemars(with = "Vec<Sha>")]
    pub commits: Vec<String>,
}

/// One PR/MR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct PullRequest {
    /// Number (`#n`) or MR iid (`!n`).
    #[schemars(range(min = 1))]
    pub number: u64,
    /// Web page.
    pub url: String,
    /// Title.
    pub title: String,
    /// Who opened it.
    pub author: String,
    /// Who merged it.
    pub merged_by: Option<String>,
    /// When (RFC 3339).
    #[schemars(with = "Option<Time>")]
    pub merged_at: Option<String>,
    /// Whose latest review approves it.
    pub approvers: Vec<String>,
    /// The commits of the range it brought in.
    #[schemars(with = "Vec<Sha>")]
    pub commits: Vec<String>,
}

/// JUnit totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Tests {
    /// The report files read.
    pub files: Vec<String>,
    /// Tests.
    pub tests: u64,
    /// Passed (including flaky).
    pub passed: u64,
    /// Failed on their last attempt.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
    /// Passed after failing at least once.
    pub flaky: u64,
}

/// One deployed artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Artifact {
    /// Name (image reference or file), when given as `NAME@sha256:…`.
    pub name: Option<String>,
    /// `algorithm:hex`, e.g. `sha256:…`.
    #[schemars(with = "Digest")]
    pub digest: String,
}

/// The deployment this change follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Previous {
    /// Its change id (paved's or the backend's).
    pub id: Option<String>,
    /// The commit it deployed.
    #[schemars(with = "Option<Sha>")]
    pub commit: Option<String>,
    /// Its digests: the back-out plan.
    #[schemars(with = "Vec<Digest>")]
    pub digests: Vec<String>,
    /// When it was deployed (RFC 3339).
    #[schemars(with = "Option<Time>")]
    pub deployed_at: Option<String>,
}

/// The CI run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Ci {
    /// `github`, `gitlab` or `local`.
    #[schemars(extend("enum" = ["github", "gitlab", "local"]))]
    pub provider: String,
    /// Run (GitHub) or pipeline (GitLab) id.
    pub run_id: Option<String>,
    /// Run attempt (GitHub) or job id (GitLab).
    pub attempt: Option<String>,
    /// Link to the run or job.
    pub run_url: Option<String>,
    /// Who triggered it.
    pub actor: Option<String>,
    /// Workflow or pipeline name.
    pub workflow: Option<String>,
    /// Job name.
    pub job: Option<String>,
    /// Branch or tag.
    pub ref_name: Option<String>,
}

/// Timestamps (RFC 3339, UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Timestamps {
    /// When the change was opened.
    #[schemars(with = "Time")]
    pub opened_at: String,
    /// When `wait` saw it approved.
    #[schemars(with = "Option<Time>")]
    pub approved_at: Option<String>,
    /// When it was closed.
    #[schemars(with = "Option<Time>")]
    pub closed_at: Option<String>,
}

/// The change record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(inline, deny_unknown_fields)]
pub struct Record {
    /// `file`, `servicenow`, `github`, `gitlab` or `pagerduty`.
    #[schemars(extend("enum" = ["file", "servicenow", "github", "gitlab", "pagerduty"]))]
    pub backend: String,
    /// The backend's id (ServiceNow `sys_id`, deployment id, paved's id for `file`).
    pub id: String,
    /// The number people use (ServiceNow `CHG…`, GitLab `iid`).
    pub number: String,
    /// A link to it.
    pub url: Option<String>,
    /// `pending`, `approved`, `rejected`, `cancelled` or `closed`.
    #[schemars(extend("enum" = ["pending", "approved", "rejected", "cancelled", "closed"]))]
    pub state: String,
    /// `success` or `failure`, once closed.
    #[schemars(extend("enum" = ["success", "failure", null]))]
    pub result: Option<String>,
    /// Closing notes.
    pub notes: Option<String>,
    /// The evidence digest `open` wrote into the backend's record: `sha256:` of the bundle
    /// without `record`, `approved_at` and `closed_at` (see docs/change-bundle.md). Added after
    /// the first release of version 1: a bundle without it reads as `null`.
    #[serde(default)]
    #[schemars(with = "Option<Digest>")]
    pub evidence_digest: Option<String>,
}

/// A full commit sha (SHA-1, or SHA-256 in a SHA-256 repository), as the schema describes it.
struct Sha;

impl JsonSchema for Sha {
    fn schema_name() -> Cow<'static, str> {
        "sha".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[0-9a-f]{40}([0-9a-f]{24})?$" })
    }
}

/// An artifact digest (`sha256:`, `sha384:` or `sha512:` and the hex), as the schema describes it.
struct Digest;

impl JsonSchema for Digest {
    fn schema_name() -> Cow<'static, str> {
        "digest".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$",
        })
    }
}

/// An RFC 3339 time, as the schema describes it.
struct Time;

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "time".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// The JSON Schema of [`Bundle`] (2020-12), pretty-printed with a trailing newline: the text of
/// `docs/change-bundle.schema.json`, which `cargo xtask codegen` writes and `cargo xtask ci`
/// checks for drift.
///
/// It describes bundles as paved-change writes them: every field is present, and one without a
/// value is `null`.
pub fn schema_json() -> String {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Bundle>();
    let mut schema = schema.to_value();
    optional_defaults(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema)
        .expect("a JSON Schema is plain JSON and always serialises");
    text.push('\n');
    text
}

/// A field added to the format after its first release has a `default`, and bundles written
/// before it lack the key: it is not required, so those bundles stay valid version 1 bundles.
fn optional_defaults(node: &mut serde_json::Value) {
    use serde_json::Value;
    if let Value::Object(fields) = node {
        let later: Vec<String> = fields
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter(|(_, p)| p.get("default").is_some())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Value::Array(required)) = fields.get_mut("required") {
            required.retain(|k| !k.as_str().is_some_and(|k| later.iter().any(|l| l == k)));
        }
        for v in fields.values_mut() {
            optional_defaults(v);
        }
    } else if let Value::Array(items) = node {
        for v in items {
            optional_defaults(v);
        }
    }
}

impl Bundle {
    /// Read a bundle, checking its format version.
    pub fn load(path: &Path) -> Result<Bundle> {
        let value = read_json(path)?;
        serde_json::from_value(value).map_err(|e| Error::BadBundle {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// A bundle from its JSON text, checking its format version; the message says what is
    /// wrong with it ([`Bundle::load`] names the file). Public for the fuzz targets.
    #[doc(hidden)]
    pub fn parse(text: &str) -> std::result::Result<Bundle, String> {
        let value = parse_json(text)?;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Write the bundle atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| paved_core::Error::Io {
                action: "create",
                path: dir.to_owned(),
                source: e,
            })?;
        }
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Backend(format!("the bundle could not be serialised: {e}")))?;
        text.push('\n');
        paved_core::fs::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}

/// The JSON of a bundle file, checking that it is JSON of this format version (the fields are
/// not checked: see [`crate::validate`]).
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bad = |message: String| Error::BadBundle {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    parse_json(&text).map_err(bad)
}

/// The JSON of a bundle, checking its format version.
fn parse_json(text: &str) -> std::result::Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => Ok(value),
        Some(v) => Err(format!(
            "`schema_version` is {v}; this paved-change reads version {SCHEMA_VERSION}"
        )),
        None => Err("it has no `schema_version`".into()),
    }
}

/// What `verify` found: the evidence items (when the fields could be read) and every invalid
/// field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The evidence items; `None` when the bundle's types are too broken to read them.
    pub checks: Option<Vec<Check>>,
    /// Every field that does not hold a valid value, by path.
    pub invalid: Vec<crate::validate::Problem>,
}

impl Verification {
    /// Check the JSON of a bundle: its fields' validity, then its evidence items.
    pub fn of(value: &serde_json::Value) -> Verification {
        let mut invalid = crate::validate::problems(value);
        let checks = match serde_json::from_value::<Bundle>(value.clone()) {
            Ok(b) => Some(verify(&b)),
            Err(e) => {
                if invalid.is_empty() {
                    invalid.push(crate::validate::Problem {
                        field: "bundle".into(),
                        message: e.to_string(),
                    });
                }
                None
            }
        };
        Verification { checks, invalid }
    }

    /// Items present.
    pub fn present(&self) -> usize {
        self.checks.iter().flatten().filter(|c| c.present).count()
    }

    /// Every item present.
    pub fn complete(&self) -> bool {
        self.checks
            .as_ref()
            .is_some_and(|c| c.iter().all(|c| c.present))
    }

    /// Every field valid.
    pub fn valid(&self) -> bool {
        self.invalid.is_empty()
    }
}

/// The number of evidence items `verify` checks.
pub const EVIDENCE_ITEMS: usize = 9;

/// The records directory's file for change `id`.
pub fn record_path(records: &Path, id: &str) -> PathBuf {
    records.join(format!("{id}.json"))
}

/// Every bundle in `dir`, with the files that could not be read (named, never skipped silently).
pub fn load_dir(dir: &Path) -> Result<(Vec<Bundle>, Vec<Error>)> {
    let mut bundles = Vec::new();
    let mut bad = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((bundles, bad)),
        Err(e) => {
            return Err(paved_core::Error::Io {
                action: "read",
                path: dir.to_owned(),
                source: e,
            }
            .into());
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        match Bundle::load(&p) {
            Ok(b) => bundles.push(b),
            Err(e) => bad.push(e),
        }
    }
    Ok((bundles, bad))
}

/// One evidence item `verify` checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What it is, e.g. `tests`.
    pub item: &'static str,
    /// Whether it is there.
    pub present: bool,
    /// What is missing, or what is there.
    pub detail: String,
}

/// `#3, #4, !7`.
pub fn references_text(refs: &[Reference]) -> String {
    refs.iter()
        .map(|r| r.reference.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The evidence checks of a bundle, in a fixed order.
pub fn verify(b: &Bundle) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |item, present, detail: String| {
        checks.push(Check {
            item,
            present,
            detail,
        });
    };
    let head_ok = crate::validate::is_commit_id(&b.commits.head);
    check(
        "commit-range",
        head_ok,
        if head_ok {
            format!(
                "{} since {}",
                crate::text::count(b.commits.list.len(), "commit", "commits"),
                b.commits.base_ref.as_deref().unwrap_or("the first commit")
            )
        } else {
            "no deployed commit id".into()
        },
    );
    let prs_ok = b.changes.source != "none"
        && b.changes.error.is_none()
        && b.changes.without_pull_request.is_empty();
    check(
        "pull-requests",
        prs_ok,
        if b.changes.source == "none" && !b.changes.unverified.is_empty() {
            format!(
                "not looked up (no forge token when the bundle was made); commit subjects name {} (unverified)",
                references_text(&b.changes.unverified)
            )
        } else if b.changes.source == "none" {
            "not looked up (no forge token when the bundle was made)".into()
        } else if let Some(e) = &b.changes.error {
            format!("the lookup failed: {e}")
        } else if !b.changes.without_pull_request.is_empty() {
            format!(
                "no PR/MR for {}: {}",
                crate::text::count(b.changes.without_pull_request.len(), "commit", "commits"),
                b.changes
                    .without_pull_request
                    .iter()
                    .map(|s| s.chars().take(7).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            crate::text::count(b.changes.pull_requests.len(), "PR/MR", "PRs/MRs")
        },
    );
    let unapproved: Vec<String> = b
        .changes
        .pull_requests
        .iter()
        .filter(|p| p.approvers.is_empty())
        .map(|p| format!("#{}", p.number))
        .collect();
    check(
        "approvals",
        b.changes.source != "none" && unapproved.is_empty(),
        if b.changes.source == "none" {
            "unknown (PRs/MRs were not looked up)".into()
        } else if unapproved.is_empty() {
            "every PR/MR has an approving review".into()
        } else {
            format!("no approving review on {}", unapproved.join(", "))
        },
    );
    match &b.tests {
        Some(t) if t.tests > 0 => check(
            "tests",
            true,
            format!(
                "{}: {} passed, {} failed, {} skipped",
                crate::text::count(
                    usize::try_from(t.tests).unwrap_or(usize::MAX),
                    "test",
                    "tests"
                ),
                t.passed,
                t.failed,
                t.skipped
            ),
        ),
        Some(_) => check("tests", false, "the JUnit reports hold no tests".into()),
        None => check("tests", false, "no JUnit test summary".into()),
    }
    check(
        "artifacts",
        !b.artifacts.is_empty(),
        if b.artifacts.is_empty() {
            "no artifact digests".into()
        } else {
            crate::text::count(b.artifacts.len(), "digest", "digests")
        },
    );
    check(
        "ci-run",
        b.ci.run_url.is_some(),
        b.ci.run_url
            .clone()
            .unwrap_or_else(|| "no CI run URL (not run in CI?)".into()),
    );
    check(
        "actor",
        b.ci.actor.is_some(),
        b.ci.actor.clone().unwrap_or_else(|| "no CI actor".into()),
    );
    let ts_ok = b.timestamps.opened_at.parse::<jiff::Timestamp>().is_ok();
    check(
        "timestamps",
        ts_ok,
        if ts_ok {
            format!("opened {}", b.timestamps.opened_at)
        } else {
            format!("`opened_at` is `{}`, not RFC 3339", b.timestamps.opened_at)
        },
    );
    let rec_ok = !b.record.id.is_empty() && !b.record.backend.is_empty();
    check(
        "record",
        rec_ok,
        if rec_ok {
            format!("{} {}", b.record.backend, b.record.number)
        } else {
            "no change record id".into()
        },
    );
    checks
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Every object in `value` has exactly the keys its schema node lists as required: a bundle
    /// never leaves a key out, and the schema asks for every key a bundle writes.
    fn assert_required(value: &Value, schema: &Value, at: &str) {
        match value {
            Value::Object(fields) => {
                // Required, or added later with a default (see `optional_defaults`).
                let mut required: Vec<&str> = schema["required"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: the schema lists no required keys"))
                    .iter()
                    .filter_map(Value::as_str)
                    .chain(
                        schema["properties"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(_, p)| p.get("default").is_some())
                            .map(|(k, _)| k.as_str()),
                    )
                    .collect();
                let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
                required.sort_unstable();
                keys.sort_unstable();
                assert_eq!(required, keys, "{at}");
                assert_eq!(schema["additionalProperties"], false, "{at}");
                for (k, v) in fields {
                    assert_required(v, &schema["properties"][k], &format!("{at}.{k}"));
                }
            }
            Value::Array(items) => {
                for (n, v) in items.iter().enumerate() {
                    assert_required(v, &schema["items"], &format!("{at}[{n}]"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_schema_requires_every_key_a_bundle_writes() {
        let sha = "a".repeat(40);
        let bundle: Bundle = serde_json::from_value(json!({
            "$schema": SCHEMA_URI, "schema_version": SCHEMA_VERSION, "id": "chg-0123456789abcdef",
            "correlation_id": "acme/rocket:1:1:prod", "environment": "prod", "version": "1.0.0",
            "repository": null,
            "commits": { "head": sha, "base": null, "base_source": "root", "base_ref": null, "merges": 0,
                "list": [{ "sha": sha, "summary": "s", "author": "a", "author_email": "e",
                    "authored_at": "2026-01-01T00:00:00Z", "committed_at": "2026-01-01T00:00:00Z",
                    "pull_request": 1 }] },
            "changes": { "source": "github", "without_pull_request": [], "error": null,
                "unverified": [{ "number": 2, "reference": "#2", "commits": [sha] }],
                "pull_requests": [{ "number": 1, "url": "u", "title": "t", "author": "a",
                    "merged_by": null, "merged_at": null, "approvers": [], "commits": [sha] }] },
            "tests": { "files": [], "tests": 0, "passed": 0, "failed": 0, "skipped": 0, "flaky": 0 },
            "artifacts": [{ "name": null, "digest": format!("sha256:{}", "b".repeat(64)) }],
            "previous": { "id": null, "commit": null, "digests": [], "deployed_at": null },
            "ci": { "provider": "local", "run_id": null, "attempt": null, "run_url": null,
                "actor": null, "workflow": null, "job": null, "ref_name": null },
            "timestamps": { "opened_at": "2026-01-01T00:00:00Z", "approved_at": null, "closed_at": null },
            "record": { "backend": "file", "id": "x", "number": "x", "url": null, "state": "approved",
                "result": null, "notes": null },
        }))
        .unwrap();
        let schema: Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(schema["$id"], SCHEMA_URI);
        assert!(schema_json().ends_with("}\n"));
        assert_required(&serde_json::to_value(&bundle).unwrap(), &schema, "bundle");
    }
}
