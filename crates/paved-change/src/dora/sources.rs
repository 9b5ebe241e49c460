//! Where `dora` reads deployments from, each turned into [`Deployment`]s:
//!
//! - **records**: the evidence bundles `open` and `close` wrote (`--records DIR`);
//! - **github**: deployments and their statuses of an organisation's repositories or of a list
//!   (through [`paved_forge::fleet`]): `success` is a deployment, `failure`/`error` a failed
//!   one, at the status' `created_at`; the lead time is from the deployed commit's committer
//!   time. Calls: the repository list (1 per 100 repositories), then per repository 1 per 100
//!   deployments, 1 per deployment (its statuses) and 1 per distinct commit deployed;
//! - **gitlab**: a group's projects (with subgroups) and their deployments (`success`,
//!   `failed`), 1 call per 100 projects and 1 per 100 deployments of each;
//! - **servicenow**: change requests matching a `sysparm_query` through the Table API, 100 a
//!   page (`sysparm_offset`, following `Link`): `close_code` `successful…` is a deployment,
//!   `unsuccessful` a failed one, at `closed_at`; the repository and environment come from
//!   the `correlation_id` paved writes (`repository:run:environment`); no commits, so no lead
//!   time;
//! - **ledger**: paved-promote's promotion records, from its JSON-lines file (`--ledger FILE`
//!   of `promote`) or from the registry (`REGISTRY/REPOSITORY`), where each record is an OCI
//!   artifact (`application/vnd.paved.promotion.v1+json`) found through the referrers API or
//!   its own `sha256-<hex>.paved-<id>` tag. A `promote` to an environment is a deployment; a
//!   `rollback` marks the promotion it undoes as failed and is itself the deployment that
//!   restores service. No commits, so no lead time.
//!
//! The ledger is read here rather than through paved-promote (tools do not depend on tools):
//! only the record's documented JSON fields are read, plain or inside a DSSE envelope's
//! in-toto statement (`paved_core::sign`), and the registry is read anonymously with plain
//! GETs (tags, manifests, referrers, blobs) over `paved_core::http`.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::path::Path;

use paved_core::http::{Auth, Client, HttpError, Response, encode_component};
use paved_forge::fleet::{FinishedDeployment, Fleet, GitHubFleet, GitLabFleet};
use serde::Deserialize;
use serde_json::Value;

use super::{Deployment, Outcome};
use crate::bundle;
use crate::error::{Error, Result};

/// What a source read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    /// The deployments.
    pub deployments: Vec<Deployment>,
    /// HTTP requests made.
    pub requests: usize,
    /// Warnings for the user (lists cut short, records skipped).
    pub warnings: Vec<String>,
}

/// The evidence bundles in `dir` (a directory that does not exist is an input error).
pub fn records(dir: &Path) -> Result<Gathered> {
    if !dir.is_dir() {
        return Err(Error::usage(
            format!(
                "there is no records directory `{}` to compute DORA figures from",
                dir.display()
            ),
            "pass `--records DIR` with the evidence bundles `paved-change open` wrote (in CI, \
             restore them from an artifact first)",
        ));
    }
    let (bundles, bad) = bundle::load_dir(dir)?;
    Ok(Gathered {
        deployments: bundles.iter().map(Deployment::from_bundle).collect(),
        requests: 0,
        warnings: bad
            .iter()
            .map(|e| format!("{e}; it is not counted"))
            .collect(),
    })
}

fn from_fleet(source: &str, fleet: Fleet) -> Gathered {
    let mut warnings: Vec<String> = fleet
        .truncated
        .iter()
        .map(|t| {
            format!(
                "{t} has more than {} pages; the figures leave the older ones out",
                paved_forge::MAX_PAGES
            )
        })
        .collect();
    if fleet.unfinished > 0 {
        warnings.push(format!(
            "{} {source} deployments have no final status yet; they are not counted",
            fleet.unfinished
        ));
    }
    Gathered {
        deployments: fleet
            .deployments
            .into_iter()
            .map(|d: FinishedDeployment| Deployment {
                source: source.into(),
                id: format!("{}#{}", d.repository, d.id),
                repository: d.repository,
                environment: d.environment,
                at: d.finished_at,
                outcome: if d.success {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                committed_at: d.committed_at.into_iter().collect(),
            })
            .collect(),
        requests: fleet.requests,
        warnings,
    }
}

/// GitHub deployments of `org`'s repositories and of `repositories` (`owner/name`).
pub fn github(
    forge: &GitHubFleet,
    org: Option<&str>,
    repositories: &[String],
    environment: Option<&str>,
    since: &str,
) -> Result<Gathered> {
    let mut fleet = Fleet::default();
    let mut list: Vec<String> = Vec::new();
    if let Some(org) = org {
        list.extend(forge.org_repositories(org, &mut fleet)?);
    }
    for r in repositories {
        if !list.contains(r) {
            list.push(r.clone());
        }
    }
    for r in &list {
        forge.deployments(r, environment, since, &mut fleet)?;
    }
    Ok(from_fleet("github", fleet))
}

/// GitLab deployments of the projects of `group` and its subgroups.
pub fn gitlab(
    forge: &GitLabFleet,
    group: &str,
    environment: Option<&str>,
    since: &str,
) -> Result<Gathered> {
    let mut fleet = Fleet::default();
    for (id, path) in forge.group_projects(group, &mut fleet)? {
        forge.deployments(id, &path, environment, since, &mut fleet)?;
    }
    Ok(from_fleet("gitlab", fleet))
}

/// Most pages of change requests read (100 each).
pub const SERVICENOW_MAX_PAGES: usize = 50;
const SERVICENOW_PAGE: usize = 100;

/// A Table API date-time (`2026-01-05 12:00:00`, UTC) as RFC 3339.
fn snow_time(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let t = format!("{}Z", s.replacen(' ', "T", 1));
    t.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Change requests of the instance at `url` matching `query` (a `sysparm_query`).
pub fn servicenow(client: &Client, url: &str, auth: &Auth, query: &str) -> Result<Gathered> {
    let mut out = Gathered::default();
    let mut unnamed = 0;
    let table = format!("{}/api/now/table/change_request", url.trim_end_matches('/'));
    let mut pages = 0;
    let mut offset = 0;
    // ServiceNow pages by `sysparm_offset` and names the next page in `Link`; without a
    // `Link`, a full page means there may be more.
    loop {
        let response = client
            .get(table.clone())
            .header("Accept", "application/json")
            .auth(auth)
            .auth_hint("check the ServiceNow credentials (`SERVICENOW_TOKEN`, or `SERVICENOW_USERNAME`/`SERVICENOW_PASSWORD`) and that the user may read `change_request` (the `itil` role)")
            .query("sysparm_query", query)
            .query(
                "sysparm_fields",
                "sys_id,number,correlation_id,close_code,closed_at,opened_at,state",
            )
            .query("sysparm_exclude_reference_link", "true")
            .query("sysparm_limit", &SERVICENOW_PAGE.to_string())
            .query("sysparm_offset", &offset.to_string())
            .send()?;
        out.requests += 1;
        pages += 1;
        let has_next = response.next_link().is_some();
        let body: Value = response.json()?;
        let Some(list) = body["result"].as_array() else {
            return Err(Error::Backend(format!(
                "ServiceNow answered the change request query without a `result` list (from {})",
                paved_core::redact::redact_url(&table)
            )));
        };
        for r in list {
            let text = |k: &str| r[k].as_str().unwrap_or_default().trim().to_owned();
            let correlation = text("correlation_id");
            let (repository, environment) =
                match (correlation.split_once(':'), correlation.rsplit_once(':')) {
                    (Some((repo, _)), Some((_, env))) if !repo.is_empty() && !env.is_empty() => {
                        (repo.to_owned(), env.to_owned())
                    }
                    _ => {
                        unnamed += 1;
                        continue;
                    }
                };
            let close = text("close_code").to_ascii_lowercase();
            let (at, outcome) = match (snow_time(&text("closed_at")), close.as_str()) {
                (Some(t), c) if c.starts_with("successful") => (t, Outcome::Success),
                (Some(t), "unsuccessful") => (t, Outcome::Failure),
                _ => match snow_time(&text("opened_at")) {
                    Some(t) => (t, Outcome::Open),
                    None => continue,
                },
            };
            out.deployments.push(Deployment {
                source: "servicenow".into(),
                id: text("sys_id"),
                repository,
                environment,
                at,
                outcome,
                committed_at: Vec::new(),
            });
        }
        let next = !list.is_empty() && (has_next || list.len() >= SERVICENOW_PAGE);
        if !next || pages >= SERVICENOW_MAX_PAGES {
            if next {
                out.warnings.push(format!(
                    "the ServiceNow query matched more than {} change requests; the figures leave the rest out",
                    SERVICENOW_MAX_PAGES * SERVICENOW_PAGE
                ));
            }
            break;
        }
        offset += SERVICENOW_PAGE;
    }
    if unnamed > 0 {
        out.warnings.push(format!(
            "{unnamed} change requests have no `correlation_id` of the form `repository:run:environment`; they are not counted"
        ));
    }
    Ok(out)
}

/// The fields of a promotion record that `dora` reads (paved-promote's `PromotionRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PromotionRecord {
    /// `promote`, `rollback` or `copy`.
    pub action: String,
    /// The image digest.
    pub digest: String,
    /// Where it went (repository and tag).
    pub destination: String,
    /// The environment, for policy promotions.
    #[serde(default)]
    pub environment: Option<String>,
    /// When (RFC 3339).
    pub time: String,
}

/// A record from its JSON, or from the in-toto statement of a DSSE envelope holding it.
pub fn parse_record(bytes: &[u8], origin: &str) -> std::result::Result<PromotionRecord, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if value.get("payloadType").is_some() {
        let envelope =
            paved_core::sign::Envelope::from_json(bytes, origin).map_err(|e| e.to_string())?;
        let statement = paved_core::sign::Statement::from_json(&envelope.payload, origin)
            .map_err(|e| e.to_string())?;
        return serde_json::from_value(statement.predicate)
            .map_err(|e| format!("the predicate is not a promotion record: {e}"));
    }
    serde_json::from_value(value).map_err(|e| format!("not a promotion record: {e}"))
}

/// The ledger's JSON-lines file at `path` (one record or envelope a line).
pub fn ledger_file(path: &Path) -> Result<Gathered> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(
            format!("could not read the promotion ledger `{}`: {e}", path.display()),
            "pass `--ledger` the JSON-lines file `paved-promote --ledger FILE` appends to, or the registry repository `HOST/REPOSITORY` that holds the records",
        )
    })?;
    let mut records = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let origin = format!("{} line {}", path.display(), i + 1);
        let record = parse_record(line.as_bytes(), &origin).map_err(|e| {
            Error::usage(
                format!("`{origin}` is not a promotion record: {e}"),
                "the ledger holds one JSON record (or DSSE envelope of one) per line, as `paved-promote` appends them; restore the damaged line",
            )
        })?;
        records.push(record);
    }
    Ok(Gathered {
        deployments: ledger_deployments(records),
        ..Gathered::default()
    })
}

/// The repository of a destination `HOST/REPO:TAG` or `HOST/REPO@DIGEST`.
fn repository_of(destination: &str) -> &str {
    let name = destination.split_once('@').map_or(destination, |(n, _)| n);
    match name.rfind(':') {
        Some(i) if name[i..].find('/').is_none() && name[..i].contains('/') => &name[..i],
        _ => name,
    }
}

/// Promotion records as deployments: a `promote` to an environment is one, a `rollback` fails
/// the promotion before it (of that repository and environment) and restores service.
pub fn ledger_deployments(mut records: Vec<PromotionRecord>) -> Vec<Deployment> {
    records.sort_by(|a, b| a.time.cmp(&b.time));
    let mut out: Vec<Deployment> = Vec::new();
    let mut last: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    for r in records {
        let Some(env) = r.environment.clone().filter(|e| !e.is_empty()) else {
            continue;
        };
        let Some(at) = r
            .time
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        else {
            continue;
        };
        let repository = repository_of(&r.destination).to_owned();
        let id = format!("{repository}:{env}:{}:{}:{}", r.action, r.time, r.digest);
        if !seen.insert(id.clone()) {
            continue;
        }
        let key = (repository.clone(), env.clone());
        match r.action.as_str() {
            "promote" => {}
            "rollback" => {
                if let Some(&i) = last.get(&key) {
                    out[i].outcome = Outcome::Failure;
                }
            }
            _ => continue,
        }
        last.insert(key, out.len());
        out.push(Deployment {
            source: "ledger".into(),
            id,
            repository,
            environment: env,
            at,
            outcome: Outcome::Success,
            committed_at: Vec::new(),
        });
    }
    out
}

const PROMOTION_ARTIFACT_TYPE: &str = "application/vnd.paved.promotion.v1+json";
const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Plain HTTP only for a loopback registry, as `skopeo` and `crane` do: `localhost` or a
/// loopback IP address (`127.0.0.0/8`, `[::1]`), never a name that merely starts like one
/// (`127.evil.example`).
fn registry_base(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    format!("{}://{host}", if loopback { "http" } else { "https" })
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ManifestDoc {
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// How much of a registry ledger `dora` reads; past a cap the rest is left out with a warning.
#[derive(Debug, Clone)]
pub struct LedgerLimits {
    /// Image tags whose referrers are looked up (two requests each).
    pub image_tags: usize,
    /// Promotion records read.
    pub records: usize,
    /// Bytes of record blobs read, all records together.
    pub bytes: usize,
}

impl Default for LedgerLimits {
    fn default() -> Self {
        LedgerLimits {
            image_tags: 500,
            records: 10_000,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// The promotion records that the registry repository `reference` (`HOST/REPOSITORY`) holds,
/// read up to `limits`. With `trusted` keys, only DSSE envelopes one of them signed count (the
/// rest are left out and counted in a warning); without, the records are read unverified, and a
/// warning says so.
pub fn ledger_registry(
    client: &Client,
    reference: &str,
    limits: &LedgerLimits,
    trusted: &[paved_core::sign::PublicKey],
) -> Result<Gathered> {
    let bad = || {
        Error::usage(
            format!(
                "`--ledger {reference}` is neither a file nor a registry repository `HOST/REPOSITORY`"
            ),
            "pass the JSON-lines ledger file, or the repository promotions go to, e.g. `ghcr.io/acme/app`",
        )
    };
    let (host, repo) = reference.split_once('/').ok_or_else(bad)?;
    if host.is_empty()
        || repo.is_empty()
        || !(host.contains('.') || host.contains(':') || host == "localhost")
    {
        return Err(bad());
    }
    let base = format!("{}/v2/{}", registry_base(host), repo.trim_matches('/'));
    let hint = format!(
        "`dora` reads the ledger in `{reference}` anonymously; if the registry needs credentials, read the JSON-lines ledger file instead (`paved-promote --ledger FILE`)"
    );
    let mut out = Gathered::default();
    let mut tags: Vec<String> = Vec::new();
    client
        .get(format!("{base}/tags/list"))
        .query("n", "1000")
        .auth_hint(hint.clone())
        .for_each_page(20, |page: Response| {
            out.requests += 1;
            let v: Value = page.json()?;
            tags.extend(
                v["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
            Ok::<_, HttpError>(ControlFlow::Continue(()))
        })?;
    let get = |url: String, accept: &str| -> Result<Response> {
        Ok(client
            .get(url)
            .header("Accept", accept)
            .auth_hint(hint.clone())
            .send()?)
    };
    // Record manifests: those under their own tag, and the referrers of every image tag.
    let mut manifests: Vec<String> = Vec::new();
    let mut image_tags = 0;
    for tag in &tags {
        if tag.starts_with("sha256-") {
            if tag.contains(".paved-") {
                manifests.push(tag.clone());
            }
            continue;
        }
        image_tags += 1;
        if image_tags > limits.image_tags {
            out.warnings.push(format!(
                "looked up the promotion records of only the first {} image tags of `{reference}`; the records of later tags are left out",
                limits.image_tags
            ));
            break;
        }
        let image = get(
            format!("{base}/manifests/{}", encode_component(tag)),
            MANIFEST_ACCEPT,
        )?;
        out.requests += 1;
        let Some(digest) = image.header("Docker-Content-Digest").map(str::to_owned) else {
            continue;
        };
        let referrers = client
            .get(format!("{base}/referrers/{digest}"))
            .header("Accept", "application/vnd.oci.image.index.v1+json")
            .query("artifactType", PROMOTION_ARTIFACT_TYPE)
            .auth_hint(hint.clone())
            .allow_status(404)
            .send()?;
        out.requests += 1;
        if referrers.status() == 404 {
            continue;
        }
        if let Ok(index) = referrers.json::<ManifestDoc>() {
            manifests.extend(
                index
                    .manifests
                    .into_iter()
                    .filter(|d| d.artifact_type.as_deref() == Some(PROMOTION_ARTIFACT_TYPE))
                    .map(|d| d.digest),
            );
        }
    }
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    let mut bytes = 0usize;
    let mut unverified = 0usize;
    'manifests: for m in manifests {
        let response = get(
            format!("{base}/manifests/{}", encode_component(&m)),
            "application/vnd.oci.image.manifest.v1+json",
        )?;
        out.requests += 1;
        let digest = response
            .header("Docker-Content-Digest")
            .map_or_else(|| m.clone(), str::to_owned);
        if !seen.insert(digest.clone()) {
            continue;
        }
        let Ok(doc) = serde_json::from_slice::<ManifestDoc>(response.body()) else {
            continue;
        };
        if doc.artifact_type.as_deref() != Some(PROMOTION_ARTIFACT_TYPE) {
            continue;
        }
        for layer in doc
            .layers
            .iter()
            .filter(|l| l.media_type == PROMOTION_ARTIFACT_TYPE || l.media_type == DSSE_MEDIA_TYPE)
        {
            if records.len() + unverified >= limits.records {
                out.warnings.push(format!(
                    "read only the first {} promotion records of `{reference}`; the rest are left out",
                    limits.records
                ));
                break 'manifests;
            }
            let blob = get(format!("{base}/blobs/{}", layer.digest), "*/*")?;
            out.requests += 1;
            bytes += blob.body().len();
            if bytes > limits.bytes {
                out.warnings.push(format!(
                    "read only the first {} bytes of promotion records of `{reference}`; the rest are left out",
                    limits.bytes
                ));
                break 'manifests;
            }
            let origin = format!("{digest} in {reference}");
            if !trusted.is_empty() && !signed_by(blob.body(), trusted, &origin) {
                unverified += 1;
                continue;
            }
            match parse_record(blob.body(), &origin) {
                Ok(r) => records.push(r),
                Err(e) => out
                    .warnings
                    .push(format!("ignored promotion record {origin}: {e}")),
            }
        }
    }
    if unverified > 0 {
        out.warnings.push(format!(
            "left out {unverified} promotion records not signed by a trusted key in `{reference}` (`trusted-keys` in `[change]` of paved.toml)"
        ));
    } else if trusted.is_empty() && !records.is_empty() {
        out.warnings.push(format!(
            "the {} promotion records of `{reference}` are not verified: anyone who can push to it can add records; set `trusted-keys` in `[change]` of paved.toml to count only records those keys signed",
            records.len()
        ));
    }
    out.deployments = ledger_deployments(records);
    Ok(out)
}

/// Whether `bytes` is a DSSE envelope that one of `trusted` signed.
fn signed_by(bytes: &[u8], trusted: &[paved_core::sign::PublicKey], origin: &str) -> bool {
    paved_core::sign::Envelope::from_json(bytes, origin)
        .is_ok_and(|e| e.verify(trusted, None, origin).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_names_its_repository() {
        assert_eq!(
            repository_of("localhost:5000/app:prod"),
            "localhost:5000/app"
        );
        assert_eq!(repository_of("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(
            repository_of("ghcr.io/acme/app@sha256:00"),
            "ghcr.io/acme/app"
        );
    }

    #[test]
    fn only_a_loopback_registry_is_read_over_plain_http() {
        for host in [
            "localhost:5000",
            "localhost",
            "127.0.0.1:5000",
            "127.5.6.7",
            "[::1]:5000",
        ] {
            assert!(registry_base(host).starts_with("http://"), "{host}");
        }
        // A name that only starts like a loopback address is a public host.
        for host in [
            "127.evil.example",
            "127.evil.example:5000",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "ghcr.io",
            "10.0.0.1:5000",
        ] {
            assert!(registry_base(host).starts_with("https://"), "{host}");
        }
    }

    #[test]
    fn servicenow_times_are_utc() {
        assert_eq!(
            snow_time("2026-01-05 12:00:00").as_deref(),
            Some("2026-01-05T12:00:00Z")
        );
        assert_eq!(snow_time(""), None);
    }
}
