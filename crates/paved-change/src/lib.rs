//! paved-change: change records with audit evidence, approval gates and DORA metrics.
//!
//! - [`evidence`] gathers what a change contains (reusing paved-version's range logic,
//!   paved-forge's PR lookups and paved-junit's JUnit parser);
//! - [`bundle`] is the versioned evidence format and `verify`'s checks;
//! - [`backend`] holds the record systems (file, ServiceNow, GitHub, GitLab, PagerDuty);
//! - [`wait`] is the approval gate, [`dora`](mod@dora) the four keys.
//!
//! The bundle is always written to `<records>/<id>.json`; that file is the `file` backend's
//! record and what `dora` reads, whichever backend holds the official record.

pub mod backend;
pub mod bundle;
pub mod cli;
pub mod dora;
pub mod error;
pub mod evidence;
pub mod signed;
pub mod text;
pub mod validate;
pub mod wait;

use std::path::{Path, PathBuf};

use paved_core::ci::{CiSink, Outputs};
use paved_core::config::PavedConfig;
use paved_core::git::Repo;
use paved_core::http::{Client, SystemClock};
use paved_core::release::{ReleaseOptions, Settings};

use crate::backend::{Approval, Backend, Kind};
use crate::bundle::{Bundle, Previous, Record, Timestamps};
pub use crate::cli::Args;
use crate::cli::{CloseArgs, Command, DoraArgs, OpenArgs, VerifyArgs, WaitArgs};
pub use crate::error::{Error, Result};

/// Default records directory, relative to the repository root.
pub const DEFAULT_RECORDS: &str = ".paved/changes";
/// Default PagerDuty Events API root.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com";

/// What every subcommand needs: the config, where records live, the backend kind.
#[derive(Debug)]
struct Context {
    config: PavedConfig,
    root: PathBuf,
    records: PathBuf,
    kind: Kind,
}

impl Context {
    fn new(args: &Args) -> Result<Context> {
        let root = Repo::discover(&args.repo.repo)
            .map(|r| r.root().to_owned())
            .unwrap_or_else(|_| args.repo.repo.clone());
        let (config, _) = PavedConfig::load(args.config.config.as_deref(), &root)?;
        let records = args
            .records
            .clone()
            .or_else(|| config.change.records.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RECORDS));
        let records = if records.is_absolute() {
            records
        } else {
            root.join(records)
        };
        let kind = match (args.backend, config.change.backend.as_deref()) {
            (Some(k), _) => k,
            (None, Some(s)) => Kind::parse(s)?,
            (None, None) => Kind::File,
        };
        Ok(Context {
            config,
            root,
            records,
            kind,
        })
    }

    fn production(&self, environment: &str) -> bool {
        match &self.config.change.production_environments {
            Some(list) => list.iter().any(|e| e == environment),
            None => matches!(environment, "prod" | "production"),
        }
    }
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn client() -> Result<Client> {
    Ok(Client::from_env()?)
}

/// The backend of `kind`, configured from flags, `[change]` and the environment.
fn make_backend(
    args: &Args,
    ctx: &Context,
    environment: Option<&str>,
    sink: &CiSink,
) -> Result<Box<dyn Backend>> {
    let backend: Box<dyn Backend> = match ctx.kind {
        Kind::File => Box::new(backend::FileBackend {
            records: ctx.records.clone(),
        }),
        Kind::Servicenow => {
            let url = args
                .servicenow_url
                .clone()
                .or_else(|| ctx.config.change.servicenow_url.clone())
                .ok_or_else(|| {
                    Error::usage(
                        "the ServiceNow backend needs the instance URL",
                        "pass `--servicenow-url https://INSTANCE.service-now.com`, set `PAVED_SERVICENOW_URL`, or `servicenow-url` under `[change]`",
                    )
                })?;
            let config = backend::ServiceNowConfig {
                url,
                auth: backend::ServiceNowConfig::auth_from(&env_var)?,
                change_type: ctx
                    .config
                    .change
                    .servicenow_type
                    .clone()
                    .unwrap_or_else(|| "normal".into()),
                assignment_group: ctx.config.change.servicenow_assignment_group.clone(),
                category: ctx.config.change.servicenow_category.clone(),
                api: match (args.servicenow_api, &args.standard_template) {
                    (Some(backend::SnowApi::Table), Some(t)) => {
                        return Err(Error::usage(
                            format!(
                                "`--standard-template {t}` needs the Change Management API, and `--servicenow-api table` was given"
                            ),
                            "drop `--servicenow-api table` (or pass `--servicenow-api change`): the Table API cannot create a change from a template",
                        ));
                    }
                    (Some(api), _) => api,
                    (None, Some(_)) => backend::SnowApi::Change,
                    (None, None) => backend::SnowApi::Table,
                },
                standard_template: args.standard_template.clone(),
            };
            Box::new(backend::ServiceNow::new(client()?, config))
        }
        Kind::Github => Box::new(backend::GitHubBackend::new(
            client()?,
            paved_forge::GitHubConfig::from_env()?,
            environment.is_some_and(|e| ctx.production(e)),
        )),
        Kind::Gitlab => Box::new(backend::GitLabBackend::new(
            client()?,
            paved_forge::GitLabConfig::from_env()?,
        )),
        Kind::Pagerduty => {
            let url = args
                .pagerduty_url
                .clone()
                .or_else(|| ctx.config.change.pagerduty_url.clone())
                .unwrap_or_else(|| PAGERDUTY_URL.into());
            let key = env_var("PAGERDUTY_ROUTING_KEY").ok_or_else(|| {
                Error::usage(
                    "the PagerDuty backend needs `PAGERDUTY_ROUTING_KEY`, and it is not set",
                    "set it from a CI secret to the integration key of the service's Events API v2 integration",
                )
            })?;
            Box::new(backend::PagerDuty::new(
                client()?,
                &url,
                paved_core::http::Secret::new(key),
            ))
        }
    };
    if let Some(secret) = backend.secret() {
        sink.mask(secret.expose());
    }
    Ok(backend)
}

/// Run the tool; returns the exit code.
#[allow(clippy::needless_pass_by_value)] // the shared `main` hands the arguments over by value
pub fn run(args: Args) -> Result<u8> {
    let sink = CiSink::from_env(args.result.dotenv.clone());
    match &args.command {
        Command::Open(o) => open(&args, o, &sink),
        Command::Wait(w) => wait_cmd(&args, w, &sink),
        Command::Close(c) => close(&args, c, &sink),
        Command::Verify(v) => verify(&args, v, &sink),
        Command::Dora(d) => dora(&args, d, &sink),
    }
}

/// Parse `argv` and run.
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, run)
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn write_outputs(sink: &CiSink, outputs: &Outputs) -> Result<()> {
    for w in sink.write_outputs(outputs)? {
        paved_core::cli::warn(&w);
    }
    Ok(())
}

/// The newest successful, closed deployment to `environment` among the local records.
fn last_local_deployment(
    records: &Path,
    environment: &str,
    except: &str,
) -> Result<Option<Previous>> {
    let (bundles, _) = bundle::load_dir(records)?;
    Ok(bundles
        .into_iter()
        .filter(|b| {
            b.environment == environment
                && b.id != except
                && b.record.result.as_deref() == Some("success")
                && b.timestamps.closed_at.is_some()
        })
        .max_by(|a, b| a.timestamps.closed_at.cmp(&b.timestamps.closed_at))
        .map(|b| Previous {
            id: Some(b.record.number.clone()),
            commit: Some(b.commits.head.clone()),
            digests: b.artifacts.iter().map(|a| a.digest.clone()).collect(),
            deployed_at: b.timestamps.closed_at.clone(),
        }))
}

fn open(args: &Args, o: &OpenArgs, sink: &CiSink) -> Result<u8> {
    let env = |k: &str| std::env::var(k).ok();
    let in_ci = env_var("CI").is_some_and(|v| v != "false");
    let ctx = Context::new(args)?;
    if o.environment.trim().is_empty() || o.version.trim().is_empty() {
        return Err(Error::usage(
            "`--env` and `--version` must not be empty",
            "pass the environment and the version deployed, e.g. `--env prod --version 1.4.0`",
        ));
    }
    let key = signed::load_key(o.signing.signing_key.as_deref())?;
    let mut repo = Repo::discover(&args.repo.repo)?;
    let next = ReleaseOptions {
        package: o.package.clone(),
        ..ReleaseOptions::default()
    };
    let mut settings = Settings::resolve(&next, &ctx.config.version, in_ci)?;
    settings.check_package_paths(&repo)?;
    // The tag scheme the repository uses (`6.5.0`, `v6.5.0`, `name@6.5.0`), as paved-version
    // and paved-changelog find it, so all three agree on the last release.
    let tags = settings.adopt_tag_scheme(&repo)?;
    tags.notes.iter().for_each(|n| paved_core::cli::info(n));
    tags.warnings.iter().for_each(|w| paved_core::cli::warn(w));
    let head = match &o.commit {
        Some(rev) => repo.resolve(rev)?,
        None => repo.head()?,
    };
    let artifacts = evidence::artifacts(&o.digests)?;
    let ci = evidence::ci(&env);
    let links =
        paved_forge::connect::repository(&repo, ctx.config.changelog.repository_url.as_deref());
    let repository = evidence::repository(&env, links.base.as_deref());
    let correlation_id = o.correlation_id.clone().unwrap_or_else(|| {
        evidence::correlation_id(
            repository.as_deref(),
            &ci,
            &o.environment,
            &head.to_string(),
        )
    });
    let id = evidence::change_id(&correlation_id);
    let record_path = bundle::record_path(&ctx.records, &id);
    let existing = if record_path.exists() {
        Some(Bundle::load(&record_path)?)
    } else {
        None
    };

    let backend = make_backend(args, &ctx, Some(&o.environment), sink)?;
    let previous = match last_local_deployment(&ctx.records, &o.environment, &id)? {
        Some(p) => Some(p),
        None => backend.last_deployment(&o.environment)?,
    };
    let prev_commit = previous.as_ref().and_then(|p| p.commit.clone());
    let mut commits = paved_core::release::with_history(
        &mut repo,
        settings.fetch,
        &settings.remote,
        |repo: &Repo| evidence::commit_range(repo, head, prev_commit.as_deref(), &settings),
    )?;
    let forge = paved_forge::connect::for_enrichment(None, &links, sink);
    let changes = evidence::pull_requests(&mut commits, forge.as_deref());
    if let Some(e) = &changes.error {
        paved_core::cli::warn(&format!(
            "the PR/MR lookup stopped: {e}; the bundle records it and `verify` will report it"
        ));
    }
    let globs = if o.junit.is_empty() {
        ctx.config.change.junit.clone()
    } else {
        o.junit.clone()
    };
    let tests = evidence::tests(&globs, &ctx.root)?;

    let mut b = Bundle {
        schema: bundle::SCHEMA_URI.into(),
        schema_version: bundle::SCHEMA_VERSION,
        id: id.clone(),
        correlation_id,
        environment: o.environment.clone(),
        version: o.version.clone(),
        repository,
        commits,
        changes,
        tests,
        artifacts,
        previous,
        ci,
        timestamps: existing
            .as_ref()
            .map(|e| e.timestamps.clone())
            .unwrap_or_else(|| Timestamps {
                opened_at: now(),
                ..Timestamps::default()
            }),
        record: Record {
            backend: ctx.kind.as_str().into(),
            state: Approval::Pending.as_str().into(),
            ..Record::default()
        },
    };
    // The digest of the evidence the backend's record is opened with (it leaves out the record).
    let digest = signed::evidence_digest(&b);
    b.record.evidence_digest = Some(digest.clone());
    // The evidence is on disk before any backend is asked, so a failing backend never loses it;
    // the record part is filled in below.
    if existing.is_none() {
        signed::save(&b, &record_path, key.as_ref())?;
    }
    // A record this job attempt already made: PagerDuty events and file records are not made
    // twice; the other backends look their record up themselves.
    let reuse = existing.as_ref().filter(|e| {
        e.record.backend == ctx.kind.as_str()
            && !e.record.id.is_empty()
            && matches!(ctx.kind, Kind::Pagerduty | Kind::File)
    });
    let (created, approval) = match reuse {
        Some(e) => {
            b.record = e.record.clone();
            b.record.evidence_digest = Some(digest);
            (false, None)
        }
        None => {
            let opened = backend.open(&b)?;
            b.record.id = opened.id;
            b.record.number = opened.number;
            b.record.url = opened.url;
            (opened.created && existing.is_none(), Some(opened.approval))
        }
    };
    if let Some(a) = approval {
        b.record.state = a.as_str().into();
        if a == Approval::Approved && b.timestamps.approved_at.is_none() {
            b.timestamps.approved_at = Some(now());
        }
    }
    signed::save(&b, &record_path, key.as_ref())?;
    if let Some(extra) = &o.bundle {
        signed::save(&b, extra, key.as_ref())?;
    }

    let display = evidence::display_name(
        b.repository.as_deref(),
        repo.remote_url("origin").as_deref(),
        &ctx.root,
    );
    let mut outputs = Outputs::new();
    outputs
        .set("change-id", &b.record.id)
        .set("change-number", &b.record.number)
        .set("change-url", b.record.url.as_deref().unwrap_or(""))
        .set("state", &b.record.state)
        .set("created", created)
        .set("correlation-id", &b.correlation_id)
        .set(
            "bundle",
            o.bundle.as_deref().unwrap_or(&record_path).display(),
        );
    write_outputs(sink, &outputs)?;
    sink.write_summary(&format!(
        "### Change {} ({})\n\n```\n{}\n```\n",
        b.record.number,
        b.record.backend,
        text::open_summary(&b, created, &display)
    ))?;
    paved_core::cli::info(&text::open_summary(&b, created, &display));
    if args.result.json {
        let text = serde_json::to_string_pretty(&b)
            .map_err(|e| Error::Backend(format!("could not serialise the bundle: {e}")))?;
        paved_core::cli::print_stdout(&format!("{text}\n"))?;
    } else {
        // What `wait` and `close` accept even without the local record: GitLab's API knows a
        // deployment by its id, the other backends by the number people use too.
        let printed = if ctx.kind == Kind::Gitlab {
            &b.record.id
        } else {
            &b.record.number
        };
        paved_core::cli::print_stdout(&format!("{printed}\n"))?;
    }
    Ok(paved_core::exit::OK)
}

/// The local record of change `id` (paved's id or the backend's), if there is one.
fn find_local(records: &Path, kind: Kind, id: &str) -> Result<Option<(PathBuf, Bundle)>> {
    let (bundles, _) = bundle::load_dir(records)?;
    Ok(bundles
        .into_iter()
        .find(|b| {
            b.id == id
                || (b.record.backend == kind.as_str()
                    && (b.record.id == id || b.record.number == id))
        })
        .map(|b| (bundle::record_path(records, &b.id), b)))
}

/// The id to ask the backend about for `given` (paved's id, the backend's id, or the number
/// people use): the local record knows the backend's id for each (GitLab's API answers to the
/// deployment id, not the iid people see).
fn backend_id(local: Option<&(PathBuf, Bundle)>, kind: Kind, given: &str) -> String {
    match (local, kind) {
        // The file backend's id is paved's id.
        (Some((_, b)), Kind::File) => b.id.clone(),
        (Some((_, b)), _) if !b.record.id.is_empty() => b.record.id.clone(),
        _ => given.to_owned(),
    }
}

fn wait_cmd(args: &Args, w: &WaitArgs, sink: &CiSink) -> Result<u8> {
    let ctx = Context::new(args)?;
    let timeout = wait::parse_duration(
        "--timeout",
        w.timeout
            .as_deref()
            .or(ctx.config.change.timeout.as_deref())
            .unwrap_or("1h"),
    )?;
    let interval = wait::parse_duration(
        "--interval",
        w.interval
            .as_deref()
            .or(ctx.config.change.interval.as_deref())
            .unwrap_or("30s"),
    )?;
    let key = signed::load_key(w.signing.signing_key.as_deref())?;
    let backend = make_backend(args, &ctx, None, sink)?;
    let local = find_local(&ctx.records, ctx.kind, &w.id)?;
    let id = backend_id(local.as_ref(), ctx.kind, &w.id);
    let decision = wait::wait(
        backend.as_ref(),
        &id,
        timeout,
        interval,
        &SystemClock,
        &mut |line| paved_core::cli::info(line),
    )?;
    if decision.approval == Approval::Approved {
        backend.start(&id)?;
    }
    for r in &decision.reviews {
        paved_core::cli::info(&wait::review_line(r));
    }
    // The number people use (CHG0030001), when the local record knows it.
    let name = local
        .as_ref()
        .map(|(_, b)| b.record.number.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| w.id.clone());
    if let Some((path, mut b)) = local {
        b.record.state = decision.approval.as_str().into();
        if decision.approval == Approval::Approved && b.timestamps.approved_at.is_none() {
            b.timestamps.approved_at = Some(now());
        }
        signed::save(&b, &path, key.as_ref())?;
    }
    let mut outputs = Outputs::new();
    outputs.set("state", decision.approval.as_str());
    outputs.set("approved-by", wait::approvers(&decision.reviews));
    write_outputs(sink, &outputs)?;
    if args.result.json {
        paved_core::cli::print_stdout(&format!(
            "{}\n",
            serde_json::json!({
                "id": w.id,
                "state": decision.approval.as_str(),
                "label": decision.label,
                "polls": decision.polls,
                "reviews": decision.reviews,
            })
        ))?;
    } else {
        paved_core::cli::print_stdout(&format!("{}\n", decision.approval.as_str()))?;
    }
    match decision.approval {
        Approval::Approved => Ok(paved_core::exit::OK),
        _ => {
            sink.annotate(&paved_core::ci::Annotation {
                message: wait::refusal(&name, ctx.kind, &decision),
                ..Default::default()
            });
            Ok(paved_core::exit::REFUSED)
        }
    }
}

fn close(args: &Args, c: &CloseArgs, sink: &CiSink) -> Result<u8> {
    let ctx = Context::new(args)?;
    let key = signed::load_key(c.signing.signing_key.as_deref())?;
    let backend = make_backend(args, &ctx, None, sink)?;
    let local = find_local(&ctx.records, ctx.kind, &c.id)?;
    let id = backend_id(local.as_ref(), ctx.kind, &c.id);
    let notes = c
        .notes
        .clone()
        .unwrap_or_else(|| format!("Deployment {} (closed by paved-change).", c.result.as_str()));
    backend.close(&id, c.result, &notes, local.as_ref().map(|(_, b)| b))?;
    if let Some((path, mut b)) = local {
        b.record.state = "closed".into();
        b.record.result = Some(c.result.as_str().into());
        b.record.notes = Some(notes.clone());
        if b.timestamps.closed_at.is_none() {
            b.timestamps.closed_at = Some(now());
        }
        signed::save(&b, &path, key.as_ref())?;
    } else {
        paved_core::cli::warn(&format!(
            "no local record of change `{}` in `{}`; the backend record is closed, but `dora` will not count it",
            c.id,
            ctx.records.display()
        ));
    }
    let mut outputs = Outputs::new();
    outputs.set("result", c.result.as_str());
    write_outputs(sink, &outputs)?;
    paved_core::cli::info(&format!(
        "closed change {} ({}): {}",
        c.id,
        ctx.kind,
        c.result.as_str()
    ));
    paved_core::cli::print_stdout(&format!("{}\n", c.result.as_str()))?;
    Ok(paved_core::exit::OK)
}

fn verify(args: &Args, v: &VerifyArgs, sink: &CiSink) -> Result<u8> {
    let trusted = if v.trusted_keys.is_empty() {
        // `trusted-keys` under `[change]`, relative to the repository root.
        let ctx = Context::new(args)?;
        let paths: Vec<PathBuf> = ctx
            .config
            .change
            .trusted_keys
            .iter()
            .map(|k| ctx.root.join(k))
            .collect();
        signed::load_trusted(&paths)?
    } else {
        signed::load_trusted(&v.trusted_keys)?
    };
    // Given the envelope, check the bundle it signs.
    let path = signed::bundle_of_envelope(&v.bundle).unwrap_or_else(|| v.bundle.clone());
    let value = bundle::read_json(&path)?;
    let report = bundle::Verification::of(&value);
    let mut integrity = signed::check(&value, &path, &trusted);
    let backend_digest = recorded_digest(args, &value, sink);
    if let BackendDigest::Recorded { digest, record } = &backend_digest {
        let actual = signed::evidence_digest_of(&value);
        if *digest != actual {
            integrity.problems.push(validate::Problem {
                field: "record".into(),
                message: format!(
                    "the backend's record {record} holds the evidence digest `{digest}`, the bundle's evidence is `{actual}`"
                ),
            });
        }
    }
    let intact = integrity.problems.is_empty();
    let (present, complete, valid) = (report.present(), report.complete(), report.valid());
    paved_core::cli::info(text::verify_report(&value, &report).trim_end());
    paved_core::cli::info(text::integrity_report(&integrity, &backend_digest).trim_end());
    let file = Some(path.display().to_string());
    if !valid {
        sink.annotate(&paved_core::ci::Annotation {
            title: Some("invalid change evidence".into()),
            file: file.clone(),
            message: format!(
                "invalid: {}",
                report
                    .invalid
                    .iter()
                    .map(|p| p.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ..Default::default()
        });
    }
    if !intact {
        sink.annotate(&paved_core::ci::Annotation {
            title: Some("change evidence changed or not signed by a trusted key".into()),
            file: file.clone(),
            message: format!(
                "integrity: {}",
                integrity
                    .problems
                    .iter()
                    .map(|p| p.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ..Default::default()
        });
    }
    if let Some(checks) = report.checks.as_ref().filter(|_| !complete) {
        let missing: Vec<&str> = checks
            .iter()
            .filter(|c| !c.present)
            .map(|c| c.item)
            .collect();
        sink.annotate(&paved_core::ci::Annotation {
            title: Some("incomplete change evidence".into()),
            file,
            message: format!("missing: {}", missing.join(", ")),
            ..Default::default()
        });
    }
    let total = bundle::EVIDENCE_ITEMS;
    let mut outputs = Outputs::new();
    outputs
        .set("complete", complete)
        .set("valid", valid)
        .set("evidence-present", present)
        .set("evidence-total", total)
        .set("invalid-fields", report.invalid.len())
        .set("signature", integrity.signature.status())
        .set("intact", intact);
    write_outputs(sink, &outputs)?;
    if args.result.json {
        paved_core::cli::print_stdout(&format!(
            "{}\n",
            serde_json::json!({
                "complete": complete,
                "valid": valid,
                "present": present,
                "total": total,
                "checks": report.checks.as_deref().unwrap_or_default(),
                "invalid": report.invalid,
                "intact": intact,
                "signature": integrity.signature,
                "integrity": integrity.problems,
                "backend_digest": backend_digest,
            })
        ))?;
    } else {
        paved_core::cli::print_stdout(match (valid, intact, complete) {
            (false, _, _) => "invalid\n",
            (true, false, _) => "tampered\n",
            (true, true, false) => "incomplete\n",
            (true, true, true) => "complete\n",
        })?;
    }
    Ok(if complete && valid && intact {
        paved_core::exit::OK
    } else {
        paved_core::exit::REFUSED
    })
}

/// What the backend's own record says the evidence digest is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum BackendDigest {
    /// The record itself is the bundle (`file`): `record.evidence_digest` is checked.
    Local {
        /// `record.evidence_digest` (`None` in a bundle from before paved recorded it).
        digest: Option<String>,
    },
    /// Read from the backend's record.
    Recorded {
        /// The digest it holds.
        digest: String,
        /// Which record, as people name it.
        record: String,
    },
    /// Not checked, and why (no configuration here, unreachable, or a write-only backend).
    NotChecked {
        /// Why.
        reason: String,
    },
}

/// Ask the bundle's backend for the digest its record holds, when it can be reached from here.
fn recorded_digest(args: &Args, value: &serde_json::Value, sink: &CiSink) -> BackendDigest {
    let not = |reason: String| BackendDigest::NotChecked { reason };
    let backend = value["record"]["backend"].as_str().unwrap_or_default();
    let id = value["record"]["id"].as_str().unwrap_or_default();
    let number = value["record"]["number"].as_str().unwrap_or(id);
    let kind = match Kind::parse(backend) {
        Ok(Kind::File) => {
            return BackendDigest::Local {
                digest: value["record"]["evidence_digest"]
                    .as_str()
                    .map(str::to_owned),
            };
        }
        Ok(k) => k,
        Err(_) => return not(format!("`record.backend` `{backend}` is not a backend")),
    };
    if id.is_empty() {
        return not("the bundle names no backend record".into());
    }
    let made = Context::new(args).and_then(|mut ctx| {
        ctx.kind = kind;
        make_backend(args, &ctx, None, sink)
    });
    let backend = match made {
        Ok(b) => b,
        Err(e) => return not(format!("the {kind} backend is not configured here: {e}")),
    };
    match backend.recorded_digest(id) {
        Ok(Some(digest)) => BackendDigest::Recorded {
            digest,
            record: format!("{kind} {number}"),
        },
        Ok(None) => not(format!(
            "the {kind} record {number} holds no evidence digest paved can read back"
        )),
        Err(e) => not(format!("the {kind} record {number} could not be read: {e}")),
    }
}

fn dora(args: &Args, d: &DoraArgs, sink: &CiSink) -> Result<u8> {
    let ctx = Context::new(args)?;
    let until = match &d.until {
        Some(t) => t.parse::<jiff::Timestamp>().map_err(|e| {
            Error::usage(
                format!("`--until {t}` is not an RFC 3339 time: {e}"),
                "use e.g. `2026-01-31T00:00:00Z`",
            )
        })?,
        None => jiff::Timestamp::now(),
    };
    let since = match d.since.parse::<jiff::Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let back = wait::parse_duration("--since", &d.since)?;
            let back = jiff::SignedDuration::try_from(back).map_err(|_| {
                Error::usage(
                    format!("`--since {}` is too long", d.since),
                    "use e.g. `90d`",
                )
            })?;
            until.checked_sub(back).map_err(|_| {
                Error::usage(
                    format!("`--since {}` is too long", d.since),
                    "use e.g. `90d`",
                )
            })?
        }
    };
    if since >= until {
        return Err(Error::usage(
            format!("the window `{}` .. `{until}` is empty", d.since),
            "`--since` must be before `--until`",
        ));
    }
    let mut deployments = dora_sources(args, d, &ctx, since, sink)?;
    if let Some(url) = &d.store {
        let mut store = dora::store::PgStore::open(url)?;
        let new = store.upsert(&deployments)?;
        deployments = store.load(since.as_second(), until.as_second())?;
        paved_core::cli::info(&format!(
            "stored {} in `{}`; the figures cover its {} in the window",
            text::count(new, "new deployment", "new deployments"),
            store.describe(),
            text::count(deployments.len(), "deployment", "deployments")
        ));
    }
    let figures = dora::compute(&deployments, d.environment.as_deref(), since, until);
    let md = dora::markdown(&figures);
    if let Some(path) = &d.markdown {
        paved_core::fs::write_atomic(path, md.as_bytes())?;
    }
    if let Some(path) = &d.html {
        paved_core::fs::write_atomic(path, dora::html(&figures).as_bytes())?;
    }
    sink.write_summary(&md)?;
    let mut outputs = Outputs::new();
    let figures_total = &figures.total;
    outputs
        .set("deployments", figures_total.deployments)
        .set("deployments-per-day", figures_total.deployments_per_day)
        .set(
            "lead-time-seconds",
            figures_total
                .lead_time
                .median_seconds
                .map(|s| s.to_string())
                .unwrap_or_default(),
        )
        .set(
            "change-failure-rate",
            figures_total
                .change_failure_rate
                .map(|r| r.to_string())
                .unwrap_or_default(),
        )
        .set(
            "time-to-restore-seconds",
            figures_total
                .time_to_restore
                .median_seconds
                .map(|s| s.to_string())
                .unwrap_or_default(),
        );
    write_outputs(sink, &outputs)?;
    if args.result.json {
        let text = serde_json::to_string_pretty(&figures)
            .map_err(|e| Error::Backend(format!("could not serialise the figures: {e}")))?;
        paved_core::cli::print_stdout(&format!("{text}\n"))?;
    } else {
        paved_core::cli::print_stdout(&dora::table(&figures))?;
    }
    Ok(paved_core::exit::OK)
}

/// Where `--ledger` reads paved-promote's records from.
#[derive(Debug, PartialEq, Eq)]
enum LedgerSource<'a> {
    /// The JSON-lines ledger file.
    File(&'a Path),
    /// The registry repository `HOST/REPOSITORY`.
    Registry(&'a str),
}

/// What `value` of `--ledger` names: `file:PATH` and `oci://HOST/REPOSITORY` say it; without a
/// prefix, a value shaped like a registry repository (`ghcr.io/acme/app`, `localhost:5000/app`)
/// is the registry, anything else a file. A value that is registry-shaped and also an existing
/// file is refused, so a checked-in file cannot silently replace the registry's ledger (nor the
/// registry the file).
fn ledger_source(value: &str) -> Result<LedgerSource<'_>> {
    if let Some(path) = value.strip_prefix("file:") {
        return Ok(LedgerSource::File(Path::new(path)));
    }
    if let Some(reference) = value.strip_prefix("oci://") {
        return Ok(LedgerSource::Registry(reference));
    }
    let path = Path::new(value);
    let registry_shaped = value.split_once('/').is_some_and(|(host, repo)| {
        !repo.is_empty() && (host.contains('.') || host.contains(':') || host == "localhost")
    }) && !value.starts_with(['.', '/', '~'])
        && !path
            .extension()
            .is_some_and(|e| e == "jsonl" || e == "json" || e == "ndjson");
    match (registry_shaped, path.exists()) {
        (true, true) => Err(Error::usage(
            format!(
                "`--ledger {value}` names both a file here and a registry repository; dora will \
                 not guess which ledger to read"
            ),
            format!(
                "write `file:{value}` to read the file, or `oci://{value}` to read the registry"
            ),
        )),
        (true, false) => Ok(LedgerSource::Registry(value)),
        (false, _) => Ok(LedgerSource::File(path)),
    }
}

/// The deployments of every source `dora` was pointed at. The local records are read when
/// they are named (`--records`, `[change] records`) or when no other source (nor `--store`) is.
fn dora_sources(
    args: &Args,
    d: &DoraArgs,
    ctx: &Context,
    since: jiff::Timestamp,
    sink: &CiSink,
) -> Result<Vec<dora::Deployment>> {
    let remote = d.github_org.is_some()
        || !d.github_repos.is_empty()
        || d.gitlab_group.is_some()
        || d.servicenow_query.is_some()
        || d.ledger.is_some();
    let named_records = args.records.is_some() || ctx.config.change.records.is_some();
    // With a store, the store is the history: the local records are read only when named.
    let read_records = named_records || (!remote && d.store.is_none());
    let since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut gathered: Vec<(String, dora::sources::Gathered)> = Vec::new();
    if read_records {
        gathered.push((
            format!("`{}`", ctx.records.display()),
            dora::sources::records(&ctx.records)?,
        ));
    }
    if d.github_org.is_some() || !d.github_repos.is_empty() {
        if let Some(t) = env_var("GITHUB_TOKEN") {
            sink.mask(&t);
        }
        let forge = paved_forge::fleet::GitHubFleet::from_lookup(client()?, env_var);
        let what = match &d.github_org {
            Some(org) => format!("GitHub organisation `{org}`"),
            None => "GitHub".to_owned(),
        };
        paved_core::cli::info(&format!("reading deployments from {what}"));
        gathered.push((
            what,
            dora::sources::github(
                &forge,
                d.github_org.as_deref(),
                &d.github_repos,
                d.environment.as_deref(),
                &since_text,
            )?,
        ));
    }
    if let Some(group) = &d.gitlab_group {
        for k in ["GITLAB_TOKEN", "CI_JOB_TOKEN"] {
            if let Some(t) = env_var(k) {
                sink.mask(&t);
            }
        }
        let forge = paved_forge::fleet::GitLabFleet::from_lookup(client()?, env_var);
        let what = format!("GitLab group `{group}`");
        paved_core::cli::info(&format!("reading deployments from {what}"));
        gathered.push((
            what,
            dora::sources::gitlab(&forge, group, d.environment.as_deref(), &since_text)?,
        ));
    }
    if let Some(query) = &d.servicenow_query {
        let url = args
            .servicenow_url
            .clone()
            .or_else(|| ctx.config.change.servicenow_url.clone())
            .ok_or_else(|| {
                Error::usage(
                    "`--servicenow-query` needs the instance URL",
                    "pass `--servicenow-url https://INSTANCE.service-now.com`, set `PAVED_SERVICENOW_URL`, or `servicenow-url` under `[change]`",
                )
            })?;
        let auth = backend::ServiceNowConfig::auth_from(&env_var)?;
        sink.mask(auth.secret().expose());
        let what = "ServiceNow change requests".to_owned();
        paved_core::cli::info(&format!("reading {what}"));
        gathered.push((
            what,
            dora::sources::servicenow(&client()?, &url, &auth, query)?,
        ));
    }
    if let Some(ledger) = &d.ledger {
        let what = format!("the promotion ledger `{ledger}`");
        let read = match ledger_source(ledger)? {
            LedgerSource::File(path) => dora::sources::ledger_file(path)?,
            LedgerSource::Registry(reference) => {
                paved_core::cli::info(&format!("reading {what}"));
                // `trusted-keys` under `[change]`, relative to the repository root.
                let paths: Vec<PathBuf> = ctx
                    .config
                    .change
                    .trusted_keys
                    .iter()
                    .map(|k| ctx.root.join(k))
                    .collect();
                let trusted = signed::load_trusted(&paths)?;
                dora::sources::ledger_registry(
                    &client()?,
                    reference,
                    &dora::sources::LedgerLimits::default(),
                    &trusted,
                )?
            }
        };
        gathered.push((what, read));
    }
    let mut all = Vec::new();
    for (what, g) in gathered {
        for w in &g.warnings {
            paved_core::cli::warn(w);
        }
        if g.requests > 0 {
            paved_core::cli::info(&format!(
                "{what}: {} in {}",
                text::count(g.deployments.len(), "deployment", "deployments"),
                text::count(g.requests, "request", "requests")
            ));
        }
        all.extend(g.deployments);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_prefix_says_which_source_and_a_bare_value_goes_by_its_shape() {
        assert_eq!(
            ledger_source("oci://ghcr.io/acme/app").unwrap(),
            LedgerSource::Registry("ghcr.io/acme/app")
        );
        assert_eq!(
            ledger_source("file:ghcr.io/acme/app").unwrap(),
            LedgerSource::File(Path::new("ghcr.io/acme/app"))
        );
        assert_eq!(
            ledger_source("localhost:5000/app").unwrap(),
            LedgerSource::Registry("localhost:5000/app")
        );
        for file in [
            "ledger.jsonl",
            "./ghcr.io/acme/app",
            "promotions/ledger",
            "a.json",
        ] {
            assert_eq!(
                ledger_source(file).unwrap(),
                LedgerSource::File(Path::new(file)),
                "{file}"
            );
        }
    }
}
