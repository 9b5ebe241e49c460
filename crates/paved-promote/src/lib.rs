//! paved-promote: digest-preserving OCI promotion with policy, immutability and an audit ledger.
//!
//! - [`oci`]: the Distribution client (auth, manifests, blobs, mounts, uploads, referrers) and
//!   the OCI image layout.
//! - [`copy`]: the copy engine (plan, parallel blob transfer, children-first manifests,
//!   referrers, immutable tag write).
//! - [`policy`]: `promote`, `history` and `rollback` over `[promote]` in paved.toml.
//! - [`ledger`]: promotion records (signed in-toto statements), as OCI referrers and as a
//!   JSON-lines file.
//! - [`verify`]: `require`: cosign signatures and in-toto attestations, verified.

pub mod cli;
pub mod copy;
pub mod digest;
pub mod error;
pub mod ledger;
pub mod oci;
pub mod policy;
pub mod reference;
pub mod store;
pub mod verify;

use std::fmt::Write as _;

use paved_core::ci::{CiSink, Outputs};
use paved_core::cli::{info, print_stdout};
use paved_core::http::Client;

pub use crate::cli::Args;
use crate::cli::{Command, TransferArgs};
use crate::copy::{CopyOptions, CopyReport, TagOutcome, human_bytes};
pub use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::store::Session;

/// Default for `--jobs`.
pub const DEFAULT_JOBS: usize = 4;

/// Run the tool; returns the exit code.
#[allow(clippy::needless_pass_by_value)] // `paved_core::cli::main` hands the arguments over by value.
pub fn run(args: Args) -> Result<u8> {
    oci::auth::mask_env_passwords();
    let http = Client::from_env()?;
    let session = Session::new(http, args.plain_http.clone());
    let sink = CiSink::from_env(args.result.dotenv.clone());
    match &args.command {
        Command::Copy(c) => {
            let options = copy_options(&c.transfer, None);
            let src_ref = Reference::parse(&c.source).map_err(Error::Usage)?;
            let dst_ref = Reference::parse(&c.destination).map_err(Error::Usage)?;
            if dst_ref.digest.is_some() {
                return Err(Error::Usage(format!(
                    "destination `{}` names a digest; give a repository and optionally a tag (the digest is always the source's)",
                    c.destination
                )));
            }
            session.set_home(&dst_ref.location);
            let src = session.store(&src_ref.location, false)?;
            // The source first: a source that cannot be read leaves no destination behind.
            let root = src.fetch(&src_ref)?;
            let report = into_new_layout(&dst_ref.location, || {
                let dst = session.store(&dst_ref.location, true)?;
                copy::copy(
                    &src,
                    &src_ref.to_string(),
                    &root,
                    &dst,
                    dst_ref.tag.as_deref(),
                    &options,
                )
            })?;
            if let Some(ledger) = &args.ledger
                && !report.dry_run
            {
                let record = ledger::PromotionRecord::now(
                    "copy",
                    &report.digest,
                    report.source.clone(),
                    report.destination.clone(),
                    None,
                    Vec::new(),
                );
                let envelope = policy::signing_key(&args)?
                    .map(|k| ledger::sign_record(&record, &k))
                    .transpose()?;
                ledger::append(ledger, &record, envelope.as_ref())?;
            }
            emit_copy(&sink, &args, &report)?;
            Ok(paved_core::exit::OK)
        }
        Command::Promote(p) => policy::promote(&session, &sink, &args, p),
        Command::History(h) => policy::history(&session, &args, h),
        Command::Rollback(r) => policy::rollback(&session, &sink, &args, r),
    }
}

/// Run `write`, which writes into `location`; when that is an `oci:` layout this run creates
/// and the write fails, the directory is removed again rather than left empty or half-made.
pub(crate) fn into_new_layout<T>(
    location: &reference::Location,
    write: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let created = match location {
        reference::Location::Layout(dir) if !dir.exists() => Some(dir.clone()),
        _ => None,
    };
    let result = write();
    if let (Err(_), Some(dir)) = (&result, created) {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

pub(crate) fn copy_options(t: &TransferArgs, config_jobs: Option<usize>) -> CopyOptions {
    CopyOptions {
        jobs: t.jobs.or(config_jobs).unwrap_or(DEFAULT_JOBS).max(1),
        dry_run: t.dry_run,
        referrers: !t.no_referrers,
        chunk_size: t.chunk_size.filter(|c| *c > 0),
    }
}

/// The human summary of a copy.
pub fn summary(report: &CopyReport) -> String {
    let mut s = String::new();
    if report.dry_run {
        let _ = writeln!(s, "plan: {} -> {}", report.source, report.destination);
        for line in &report.plan {
            let _ = writeln!(s, "  {line}");
        }
        return s;
    }
    if report.tag == TagOutcome::Unchanged && report.manifests_pushed == 0 {
        let _ = writeln!(
            s,
            "{} already points at {}; nothing to do",
            report.destination, report.digest
        );
        return s;
    }
    if report.tag == TagOutcome::Unchanged {
        let _ = writeln!(
            s,
            "{} already points at {}; copied {} new referrer manifest(s)",
            report.destination, report.digest, report.manifests_pushed
        );
        return s;
    }
    let _ = writeln!(s, "copied {} -> {}", report.source, report.destination);
    let _ = writeln!(s, "  digest    {} ({})", report.digest, report.media_type);
    let _ = writeln!(
        s,
        "  manifests {} ({} pushed)",
        report.manifests, report.manifests_pushed
    );
    let _ = writeln!(
        s,
        "  blobs     {}: {} uploaded ({}), {} mounted, {} already there",
        report.blobs,
        report.blobs_uploaded,
        human_bytes(report.bytes_uploaded),
        report.blobs_mounted,
        report.blobs_skipped
    );
    if !report.referrers.is_empty() {
        let _ = writeln!(s, "  referrers {}", report.referrers.len());
    }
    if !report.cosign_tags.is_empty() {
        let _ = writeln!(s, "  cosign    {}", report.cosign_tags.join(", "));
    }
    s
}

pub(crate) fn copy_outputs(report: &CopyReport) -> Outputs {
    let mut o = Outputs::new();
    o.set("digest", &report.digest)
        .set("destination", &report.destination)
        .set("bytes-uploaded", report.bytes_uploaded)
        .set("blobs-uploaded", report.blobs_uploaded)
        .set("blobs-mounted", report.blobs_mounted)
        .set("blobs-skipped", report.blobs_skipped)
        .set("referrers", report.referrers.len());
    o
}

fn emit_copy(sink: &CiSink, args: &Args, report: &CopyReport) -> Result<()> {
    info(summary(report).trim_end());
    for w in sink.write_outputs(&copy_outputs(report))? {
        paved_core::cli::warn(&w);
    }
    if args.result.json {
        let text = serde_json::to_string_pretty(report).unwrap_or_default();
        print_stdout(&format!("{text}\n"))?;
    } else {
        print_stdout(&format!("{}\n", report.digest))?;
    }
    Ok(())
}

/// Parse `argv` and run.
pub fn main_with_args<I, T>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    paved_core::cli::main(argv, run)
}
