//! Promotion policy over `[promote]` in paved.toml: `promote`, `history`, `rollback`.
//!
//! Checks, in order, each named in a refusal (exit 1):
//! - `previous-environment`: the digest has a promotion record in the environment before this one
//!   (from the ledger file when given, and from the previous environment's registry records)
//!   signed by a key that environment's `trusted-keys` lists, and the digest is in that
//!   environment's repository. Unsigned and wrongly signed records are ignored, each with a
//!   warning naming it and why; without `trusted-keys` there, the promotion is a config error
//!   unless this environment sets `allow-unsigned-records = true`;
//! - `soak`: the first trusted record is at least `soak` old;
//! - `require:<what>`: each of `require` (`signature`, `provenance`, `sbom`) is verified against
//!   `signature-keys` (see [`crate::verify`]); what failed is named with its reason;
//! - `immutable-tag`: the environment's tag does not already point at another digest.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use paved_core::ci::CiSink;
use paved_core::cli::{info, print_stdout, warn};
use paved_core::config::{EnvironmentConfig, PavedConfig, PromoteConfig};
use paved_core::sign::{PrivateKey, PublicKey};

use crate::cli::{Args, HistoryArgs, PromoteArgs, RollbackArgs};
use crate::copy;
use crate::error::{Error, Result};
use crate::ledger::{self, Found, PromotionRecord};
use crate::reference::{Location, Reference};
use crate::store::{IndexEntry, Session, Store};
use crate::verify;

/// `[promote]`, the ledger file, and the config file's path (trusted keys are relative to it).
fn load(args: &Args) -> Result<(PromoteConfig, Option<PathBuf>, PathBuf)> {
    let (config, path) = PavedConfig::load(args.config.config.as_deref(), Path::new("."))?;
    let path = path.unwrap_or_else(|| "paved.toml".into());
    let promote = config.promote;
    promote
        .validate()
        .map_err(|message| config_error(&path, message))?;
    let ledger = args
        .ledger
        .clone()
        .or_else(|| promote.ledger.as_ref().map(PathBuf::from));
    Ok((promote, ledger, path))
}

fn config_error(path: &Path, message: String) -> Error {
    Error::Core(paved_core::Error::Config {
        path: path.to_owned(),
        message,
    })
}

/// The public keys `[promote.env.<name>] trusted-keys` lists, read relative to the config file.
/// A file that cannot be read or is not a public key is a config error naming it.
fn trusted_keys(config_path: &Path, name: &str, env: &EnvironmentConfig) -> Result<Vec<PublicKey>> {
    load_keys(
        config_path,
        &format!("[promote.env.{name}] trusted-keys"),
        &env.trusted_keys,
    )
}

/// Public key files named by the config setting `setting`, relative to the config file.
fn load_keys(config_path: &Path, setting: &str, files: &[String]) -> Result<Vec<PublicKey>> {
    let base = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    files
        .iter()
        .map(|k| {
            PublicKey::load(&base.join(k)).map_err(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                config_error(config_path, format!("`{setting}`: `{k}`: {e}{cause}"))
            })
        })
        .collect()
}

/// `--signing-key`, loaded.
pub(crate) fn signing_key(args: &Args) -> Result<Option<PrivateKey>> {
    args.signing_key
        .as_deref()
        .map(|p| PrivateKey::load(p).map_err(|e| Error::Core(e.into())))
        .transpose()
}

/// An environment that lists `trusted-keys` gets only records signed by one of them: refuse
/// (before anything moves) a promotion without a key, or with a key it does not list.
fn check_signer(
    name: &str,
    env: &EnvironmentConfig,
    own: &[PublicKey],
    key: Option<&PrivateKey>,
    args: &Args,
) -> Result<()> {
    if own.is_empty() {
        return Ok(());
    }
    let listed = env.trusted_keys.join(", ");
    match key {
        None => Err(Error::Input {
            message: format!(
                "environment `{name}` lists `trusted-keys`, so its promotion records must be signed, but no signing key was given"
            ),
            hint: format!(
                "pass `--signing-key FILE` (or set PAVED_SIGNING_KEY) with the private key of one of: {listed}"
            ),
        }),
        Some(k) if !own.iter().any(|t| t.key_id() == k.key_id()) => Err(Error::Input {
            message: format!(
                "the signing key `{}` (key id {}) is not among `[promote.env.{name}] trusted-keys` ({listed}), so the next environment would not trust this record",
                args.signing_key
                    .as_deref()
                    .unwrap_or(Path::new("?"))
                    .display(),
                k.key_id()
            ),
            hint: format!(
                "sign with the private key of one of {listed}, or add this key's public key (`openssl pkey -in KEY -pubout`) to `trusted-keys`"
            ),
        }),
        Some(_) => Ok(()),
    }
}

fn environment<'c>(
    config: &'c PromoteConfig,
    name: &str,
) -> Result<(usize, &'c EnvironmentConfig)> {
    if config.environments.is_empty() {
        return Err(Error::Input {
            message: format!(
                "no environments are configured (`[promote] environments` in paved.toml), so `{name}` is unknown"
            ),
            hint: format!(
                "add to paved.toml (or pass `--config FILE`):\n  [promote]\n  environments = [\"staging\", \"{name}\"]\n  [promote.env.staging]\n  repository = \"registry.example.com/app-staging\"\n  [promote.env.{name}]\n  repository = \"registry.example.com/app\"\n  current-tag = \"{name}\""
            ),
        });
    }
    let i = config
        .environments
        .iter()
        .position(|e| e == name)
        .ok_or_else(|| {
            Error::Usage(format!(
                "environment `{name}` is not in `[promote] environments` ({})",
                if config.environments.is_empty() {
                    "none configured".to_owned()
                } else {
                    config.environments.join(", ")
                }
            ))
        })?;
    Ok((i, &config.env[name]))
}

fn env_location(name: &str, env: &EnvironmentConfig) -> Result<Location> {
    Location::parse(&env.repository)
        .map_err(|e| Error::Usage(format!("`[promote.env.{name}] repository`: {e}")))
}

/// `30m`, `24h`, `2d`, `90s`, `1h30m`.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "`{text}` is not a duration; write e.g. `30m`, `24h` or `2d`"
                ));
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration; write e.g. `30m`, `24h` or `2d`"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || text.trim().is_empty() {
        return Err(format!(
            "`{text}` is not a duration; give a unit, e.g. `30m`, `24h` or `2d`"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `1d`, `23h 59m 59s`, `1m 40s`, `0s`: as paved-change writes durations, with days.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let parts = [
        (s / 86_400, 'd'),
        (s % 86_400 / 3600, 'h'),
        (s % 3600 / 60, 'm'),
        (s % 60, 's'),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if text.is_empty() {
        "0s".into()
    } else {
        text.join(" ")
    }
}

#[cfg(test)]
#[test]
fn human_durations_name_days_hours_minutes_and_seconds() {
    let d = |s| human_duration(Duration::from_secs(s));
    assert_eq!(d(86_400), "1d");
    assert_eq!(d(86_399), "23h 59m 59s");
    assert_eq!(d(100), "1m 40s");
    assert_eq!(d(0), "0s");
    assert_eq!(d(90_061), "1d 1h 1m 1s");
}

fn render_tag(
    pattern: Option<&str>,
    source: &Reference,
    env: &str,
    digest: &crate::digest::Digest,
) -> Result<String> {
    let default = if source.tag.is_some() {
        "{tag}"
    } else {
        "{short}"
    };
    let pattern = pattern.unwrap_or(default);
    if pattern.contains("{tag}") && source.tag.is_none() {
        return Err(Error::Usage(format!(
            "the tag pattern `{pattern}` of environment `{env}` uses `{{tag}}`, but `{source}` has no tag; promote a tagged reference"
        )));
    }
    Ok(pattern
        .replace("{tag}", source.tag.as_deref().unwrap_or(""))
        .replace("{env}", env)
        .replace("{short}", digest.short()))
}

fn records_for_env(
    session: &Session,
    ledger: Option<&Path>,
    env: &str,
    location: &Location,
    digest: Option<&crate::digest::Digest>,
) -> Result<Vec<PromotionRecord>> {
    let mut out: Vec<PromotionRecord> = Vec::new();
    for f in found_for_env(session, ledger, env, location, digest)? {
        if !out.contains(&f.record) {
            out.push(f.record);
        }
    }
    Ok(out)
}

/// The records (with their envelopes, unverified) that name `env` (and `digest`), from the
/// ledger file and the environment's repository, oldest first. The same record read from both
/// places is kept once.
fn found_for_env(
    session: &Session,
    ledger: Option<&Path>,
    env: &str,
    location: &Location,
    digest: Option<&crate::digest::Digest>,
) -> Result<Vec<Found>> {
    let mut out: Vec<Found> = Vec::new();
    if let Some(path) = ledger {
        out.extend(ledger::read_found(path)?);
    }
    let store = session.store(location, false)?;
    let from_registry = match digest {
        Some(d) => ledger::registry_found(&store, d)?,
        None => ledger::scan_repository(&store)?,
    };
    for f in from_registry {
        if !out
            .iter()
            .any(|x| x.record == f.record && x.envelope == f.envelope)
        {
            out.push(f);
        }
    }
    out.retain(|f| f.record.environment.as_deref() == Some(env));
    if let Some(d) = digest {
        out.retain(|f| f.record.digest == d.as_str());
    }
    out.sort_by(|a, b| a.record.time.cmp(&b.record.time));
    Ok(out)
}

fn refuse(check: &str, message: &str, hint: &str) -> Error {
    Error::Refused {
        message: format!("check `{check}` failed: {message}"),
        hint: Some(hint.to_owned()),
    }
}

/// `promote --env ENV REF`.
pub fn promote(session: &Session, sink: &CiSink, args: &Args, p: &PromoteArgs) -> Result<u8> {
    let (config, ledger_path, config_path) = load(args)?;
    let (index, env) = environment(&config, &p.env)?;
    let key = signing_key(args)?;
    let own = trusted_keys(&config_path, &p.env, env)?;
    check_signer(&p.env, env, &own, key.as_ref(), args)?;
    let signature_keys = load_keys(
        &config_path,
        &format!("[promote.env.{}] signature-keys", p.env),
        &env.signature_keys,
    )?;
    let previous = match index {
        0 => None,
        i => {
            let prev = config.environments[i - 1].as_str();
            let prev_env = &config.env[prev];
            let trusted = trusted_keys(&config_path, prev, prev_env)?;
            if trusted.is_empty() && !env.allow_unsigned_records {
                return Err(config_error(
                    &config_path,
                    format!(
                        "`{}` requires a promotion record from `{prev}`, but `[promote.env.{prev}]` lists no `trusted-keys`, so a forged record could not be told from a real one; \
                         add `trusted-keys = [\"keys/{prev}.pub\"]` (the public key of whoever promotes into `{prev}`, who signs with `--signing-key`) to `[promote.env.{prev}]`, \
                         or set `allow-unsigned-records = true` in `[promote.env.{}]` to trust unsigned records (anyone who can push to `{prev}` can forge them)",
                        p.env, p.env
                    ),
                ));
            }
            Some((prev, env_location(prev, prev_env)?, trusted))
        }
    };
    let source = Reference::parse(&p.reference).map_err(Error::Usage)?;
    session.set_home(&env_location(&p.env, env)?);
    let src = session.store(&source.location, false)?;
    let root = src.fetch(&source)?;
    let mut checks = Vec::new();

    if let Some((prev, prev_location, trusted)) = &previous {
        let prev = *prev;
        let found = found_for_env(
            session,
            ledger_path.as_deref(),
            prev,
            prev_location,
            Some(&root.digest),
        )?;
        let mut accepted: Vec<(PromotionRecord, String)> = Vec::new();
        let mut ignored = 0;
        for f in found {
            if trusted.is_empty() {
                warn(&format!(
                    "promotion record {} is unverified: `[promote.env.{prev}]` lists no `trusted-keys` and `[promote.env.{}]` sets `allow-unsigned-records = true`",
                    f.origin, p.env
                ));
                accepted.push((f.record, "unverified".into()));
                continue;
            }
            match f.verify(trusted, &root.digest, prev) {
                Ok(k) => accepted.push((
                    f.record,
                    format!("signed by {}", &k.key_id().as_str()[..16]),
                )),
                Err(reason) => {
                    ignored += 1;
                    warn(&format!("ignored promotion record {}: {reason}", f.origin));
                }
            }
        }
        let Some((first, signer)) = accepted.first() else {
            let why = if ignored > 0 {
                format!(
                    " ({ignored} record(s) ignored as not signed by a key `[promote.env.{prev}] trusted-keys` lists; see the warnings above)"
                )
            } else {
                String::new()
            };
            return Err(refuse(
                "previous-environment",
                &format!(
                    "`{}` was never promoted to `{prev}`, the environment before `{}`{why}",
                    root.digest, p.env
                ),
                &format!(
                    "promote it to `{prev}` first (`paved-promote promote --env {prev} --signing-key KEY …`)"
                ),
            ));
        };
        let prev_store = session.store(prev_location, false)?;
        if !prev_store.has_manifest(&root.digest)? {
            return Err(refuse(
                "previous-environment",
                &format!(
                    "`{}` is not in {}, the repository of `{prev}`, although a signed record says it was promoted there (deleted since, or the record was copied from elsewhere)",
                    root.digest,
                    prev_store.describe()
                ),
                &format!("promote it to `{prev}` again"),
            ));
        }
        checks.push(format!(
            "previous-environment: in {prev} since {}, {signer}",
            first.time
        ));
        if let Some(soak) = &env.soak {
            let soak = parse_duration(soak)
                .map_err(|e| Error::Usage(format!("`[promote.env.{}] soak`: {e}", p.env)))?;
            let since = first.at().unwrap_or_else(SystemTime::now);
            let aged = SystemTime::now().duration_since(since).unwrap_or_default();
            if aged < soak {
                return Err(refuse(
                    "soak",
                    &format!(
                        "`{}` has been in `{prev}` for {}; `{}` requires {}",
                        root.digest,
                        human_duration(aged),
                        p.env,
                        human_duration(soak)
                    ),
                    &format!("wait {} and promote again", human_duration(soak - aged)),
                ));
            }
            checks.push(format!(
                "soak: {} >= {}",
                human_duration(aged),
                human_duration(soak)
            ));
        }
    }
    if !env.require.is_empty() {
        let evidence = verify::gather(&src, &root.digest)?;
        let listed = env.signature_keys.join(", ");
        for required in &env.require {
            let Some(requirement) = verify::Requirement::parse(required) else {
                continue; // The config's validation names the entry.
            };
            match verify::check(
                requirement,
                &evidence,
                &root.digest,
                &signature_keys,
                env.provenance.as_ref(),
            ) {
                Ok(passed) => checks.push(format!("{required}: {passed}")),
                Err(reasons) => {
                    let why = if reasons.is_empty() {
                        format!("{} in {}", requirement.missing(), src.describe())
                    } else {
                        format!(
                            "nothing verified with `[promote.env.{}] signature-keys` ({listed}): {}",
                            p.env,
                            reasons.join("; ")
                        )
                    };
                    return Err(refuse(
                        &format!("require:{required}"),
                        &format!("`{}`: {why}", root.digest),
                        "sign or attest the image with a key `signature-keys` lists (e.g. `cosign sign --key`, `cosign attest --key`) before promoting",
                    ));
                }
            }
        }
    }

    let dst_location = env_location(&p.env, env)?;
    let tag = render_tag(env.tag.as_deref(), &source, &p.env, &root.digest)?;
    checks.push("immutable-tag".to_owned());
    let options = crate::copy_options(&p.transfer, config.jobs);
    let (dst, report) = crate::into_new_layout(&dst_location, || {
        let dst = session.store(&dst_location, true)?;
        let report = copy::copy(&src, &source.to_string(), &root, &dst, Some(&tag), &options)?;
        Ok((dst, report))
    })?;
    if report.dry_run {
        info(crate::summary(&report).trim_end());
        info(&format!("checks passed: {}", checks.join("; ")));
        return Ok(paved_core::exit::OK);
    }
    // A re-run of a promotion that is already in place (same digest and destination recorded,
    // and the current tag still on it) records nothing new. Where this environment lists
    // `trusted-keys`, only a record signed by one of them counts: an unsigned or forged one must
    // not keep the real, signed record from being written.
    let already_current = match &env.current_tag {
        Some(current) => dst.resolve(current)?.as_ref() == Some(&root.digest),
        None => true,
    };
    let rerun = report.tag == copy::TagOutcome::Unchanged
        && already_current
        && ledger::registry_found(&dst, &root.digest)?.iter().any(|x| {
            x.record.environment.as_deref() == Some(p.env.as_str())
                && x.record.destination == report.destination
                && (own.is_empty() || x.verify(&own, &root.digest, &p.env).is_ok())
        });
    if let Some(current) = &env.current_tag {
        // Deliberately mutable: the pointer a deploy tool follows.
        dst.put_manifest(&root, IndexEntry::Tag(current))?;
    }
    if rerun {
        info(crate::summary(&report).trim_end());
        info(&format!(
            "`{}` is already promoted to `{}` as {}; no new record",
            root.digest, p.env, report.destination
        ));
        let mut outputs = crate::copy_outputs(&report);
        outputs.set("environment", &p.env);
        for w in sink.write_outputs(&outputs)? {
            paved_core::cli::warn(&w);
        }
        if args.result.json {
            let value = serde_json::json!({"copy": report, "record": null});
            print_stdout(&format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            ))?;
        } else {
            print_stdout(&format!("{}\n", root.digest))?;
        }
        return Ok(paved_core::exit::OK);
    }
    let record = PromotionRecord::now(
        "promote",
        &root.digest,
        source.to_string(),
        report.destination.clone(),
        Some(p.env.clone()),
        checks,
    );
    finish(
        sink,
        args,
        &dst,
        &root,
        &record,
        key.as_ref(),
        ledger_path.as_deref(),
        &report,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    sink: &CiSink,
    args: &Args,
    dst: &Store,
    root: &crate::oci::Manifest,
    record: &PromotionRecord,
    key: Option<&PrivateKey>,
    ledger_path: Option<&Path>,
    report: &copy::CopyReport,
) -> Result<u8> {
    let envelope = key.map(|k| ledger::sign_record(record, k)).transpose()?;
    let record_digest = ledger::push_record(dst, record, envelope.as_ref(), root)?;
    if let Some(path) = ledger_path {
        ledger::append(path, record, envelope.as_ref())?;
    }
    info(crate::summary(report).trim_end());
    info(&format!(
        "recorded {} of {} to {} ({}) as {record_digest}",
        record.action,
        record.digest,
        record.environment.as_deref().unwrap_or("-"),
        record.checks.join("; ")
    ));
    let mut outputs = crate::copy_outputs(report);
    outputs.set("environment", record.environment.as_deref().unwrap_or(""));
    outputs.set("record", &record_digest);
    for w in sink.write_outputs(&outputs)? {
        paved_core::cli::warn(&w);
    }
    if args.result.json {
        let value = serde_json::json!({
            "copy": report,
            "record": record,
            "record_digest": record_digest,
            "signed_by": key.map(|k| k.key_id().as_str().to_owned()),
        });
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ))?;
    } else {
        print_stdout(&format!("{}\n", record.digest))?;
    }
    Ok(paved_core::exit::OK)
}

/// `history REF` / `history --env ENV`.
pub fn history(session: &Session, args: &Args, h: &HistoryArgs) -> Result<u8> {
    let mut records = Vec::new();
    // Per record, whether the environment's `trusted-keys` verify it (only with `--env`, where
    // the keys are known).
    let mut signatures: Vec<(PromotionRecord, String)> = Vec::new();
    if let Some(env) = &h.env {
        let (config, ledger_path, config_path) = load(args)?;
        let (_, e) = environment(&config, env)?;
        let location = env_location(env, e)?;
        session.set_home(&location);
        let own = trusted_keys(&config_path, env, e)?;
        for f in found_for_env(session, ledger_path.as_deref(), env, &location, None)? {
            let status = if own.is_empty() {
                if f.envelope.is_some() {
                    "signed (no trusted-keys to check it)".to_owned()
                } else {
                    "unsigned".to_owned()
                }
            } else {
                match crate::digest::Digest::parse(&f.record.digest)
                    .map_err(|e| e.to_string())
                    .and_then(|d| f.verify(&own, &d, env))
                {
                    Ok(k) => format!("signed by {}", &k.key_id().as_str()[..16]),
                    Err(reason) => format!("NOT TRUSTED: {reason}"),
                }
            };
            if !records.contains(&f.record) {
                records.push(f.record.clone());
                signatures.push((f.record, status));
            }
        }
    }
    if let Some(reference) = &h.reference {
        let r = Reference::parse(reference).map_err(Error::Usage)?;
        if h.env.is_none() {
            session.set_home(&r.location);
        }
        let store = session.store(&r.location, false)?;
        let root = store.fetch(&r)?;
        let mut found = ledger::registry_records(&store, &root.digest)?;
        if let Some(path) = &args.ledger {
            for rec in ledger::read(path)? {
                if rec.digest == root.digest.as_str() && !found.contains(&rec) {
                    found.push(rec);
                }
            }
        }
        if h.env.is_some() {
            records.retain(|r| r.digest == root.digest.as_str());
        } else {
            records = found;
        }
        records.sort_by(|a, b| a.time.cmp(&b.time));
    }
    let signature_of = |r: &PromotionRecord| {
        signatures
            .iter()
            .find(|(x, _)| x == r)
            .map(|(_, s)| s.as_str())
    };
    if args.result.json {
        let values: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let (Some(s), Some(map)) = (signature_of(r), v.as_object_mut()) {
                    map.insert("signature".into(), s.into());
                }
                v
            })
            .collect();
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&values).unwrap_or_default()
        ))?;
    } else {
        let mut text = String::new();
        for r in &records {
            text.push_str(&format!(
                "{}  {:<8} {:<10} {}  {} -> {}  by {}{}{}\n",
                r.time,
                r.action,
                r.environment.as_deref().unwrap_or("-"),
                r.digest,
                r.source,
                r.destination,
                r.actor.as_deref().unwrap_or("?"),
                r.run_url
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default(),
                signature_of(r)
                    .map(|s| format!("  [{s}]"))
                    .unwrap_or_default()
            ));
        }
        if records.is_empty() {
            info("no promotion records found");
        }
        print_stdout(&text)?;
    }
    Ok(paved_core::exit::OK)
}

/// The digests an environment has held, oldest first, as its records tell it: a promotion
/// puts its digest on top; a rollback to a digest still on the stack takes everything above it
/// away (so a second rollback goes further back, never forward again), and a rollback to one
/// that is not (`--to` a later digest) puts it on top.
fn deployed_stack(records: &[PromotionRecord]) -> Vec<&PromotionRecord> {
    let mut stack: Vec<&PromotionRecord> = Vec::new();
    for r in records {
        if r.action == "rollback"
            && let Some(at) = stack.iter().rposition(|x| x.digest == r.digest)
        {
            stack.truncate(at + 1);
            continue;
        }
        if stack.last().is_none_or(|top| top.digest != r.digest) {
            stack.push(r);
        }
    }
    stack
}

/// `rollback --env ENV [--to DIGEST]`: move the current tag back to an earlier digest.
pub fn rollback(session: &Session, sink: &CiSink, args: &Args, r: &RollbackArgs) -> Result<u8> {
    let (config, ledger_path, config_path) = load(args)?;
    let (_, env) = environment(&config, &r.env)?;
    let key = signing_key(args)?;
    let own = trusted_keys(&config_path, &r.env, env)?;
    check_signer(&r.env, env, &own, key.as_ref(), args)?;
    let Some(current_tag) = env.current_tag.clone() else {
        return Err(Error::Input {
            message: format!(
                "environment `{}` has no `current-tag`, so a rollback has no tag to move (its version tags never move)",
                r.env
            ),
            hint: format!(
                "add `current-tag = \"{}\"` (the tag your deploy follows) to `[promote.env.{}]` in paved.toml, and promote again before rolling back",
                r.env, r.env
            ),
        });
    };
    let location = env_location(&r.env, env)?;
    session.set_home(&location);
    let records = if own.is_empty() {
        records_for_env(session, ledger_path.as_deref(), &r.env, &location, None)?
    } else {
        // A keyed environment's history is what its keys signed: a record anyone else pushed
        // must not become the "current" deployment, nor a target to roll back to.
        let mut out: Vec<PromotionRecord> = Vec::new();
        for f in found_for_env(session, ledger_path.as_deref(), &r.env, &location, None)? {
            let verdict = crate::digest::Digest::parse(&f.record.digest)
                .map_err(|e| format!("its digest is not valid: {e}"))
                .and_then(|d| f.verify(&own, &d, &r.env));
            match verdict {
                Ok(_) if !out.contains(&f.record) => out.push(f.record),
                Ok(_) => {}
                Err(reason) => warn(&format!("ignored promotion record {}: {reason}", f.origin)),
            }
        }
        out
    };
    let stack = deployed_stack(&records);
    let Some(current) = stack.last().copied() else {
        return Err(Error::Refused {
            message: format!(
                "environment `{}` has no promotion records; there is nothing to roll back",
                r.env
            ),
            hint: Some("pass `--ledger FILE` if the records are in a ledger file".into()),
        });
    };
    let target = match &r.to {
        Some(to) => {
            let wanted = crate::digest::Digest::parse(to).map_err(|e| Error::Input {
                message: format!("`--to {to}`: {e}"),
                hint: "give the full digest, `sha256:` and 64 hex digits (see `paved-promote history --env ENV`)".into(),
            })?;
            if wanted.as_str() == current.digest {
                info(&format!("`{}` is already at {wanted}; nothing to do", r.env));
                print_stdout(&format!("{wanted}\n"))?;
                return Ok(paved_core::exit::OK);
            }
            records
                .iter()
                .rev()
                .find(|x| x.digest == wanted.as_str())
                .ok_or_else(|| Error::Input {
                    message: format!(
                        "`{wanted}` was never in `{}`: no promotion record names it",
                        r.env
                    ),
                    hint: format!(
                        "pick a digest from `paved-promote history --env {}`",
                        r.env
                    ),
                })?
        }
        None => stack
            .iter()
            .rev()
            .find(|x| x.digest != current.digest)
            .copied()
            .ok_or_else(|| Error::Refused {
                message: format!(
                    "environment `{}` has no earlier digest than `{}` to roll back to",
                    r.env, current.digest
                ),
                hint: Some(format!(
                    "every earlier digest was rolled back already; name one with `--to DIGEST` (see `paved-promote history --env {}`)",
                    r.env
                )),
            })?,
    };
    let digest = crate::digest::Digest::parse(&target.digest).map_err(Error::Usage)?;
    let dst = session.store(&location, false)?;
    let root = dst
        .get_manifest(&digest, None)?
        .ok_or_else(|| Error::NotFound {
            message: format!("`{digest}` is no longer in {}", dst.describe()),
            hint: Some("it was deleted from the registry; promote a new version instead".into()),
        })?;
    if r.dry_run {
        info(&format!(
            "would roll `{}` back from {} to {digest} ({})",
            r.env, current.digest, target.destination
        ));
        return Ok(paved_core::exit::OK);
    }
    let report = copy::copy(
        &dst,
        &target.destination,
        &root,
        &dst,
        None,
        &crate::copy::CopyOptions::default(),
    )?;
    dst.put_manifest(&root, IndexEntry::Tag(&current_tag))?;
    let record = PromotionRecord::now(
        "rollback",
        &digest,
        format!(
            "{} (rolled back from {})",
            target.destination, current.digest
        ),
        target.destination.clone(),
        Some(r.env.clone()),
        vec![format!("previous-digest: {}", target.time)],
    );
    finish(
        sink,
        args,
        &dst,
        &root,
        &record,
        key.as_ref(),
        ledger_path.as_deref(),
        &report,
    )
}
