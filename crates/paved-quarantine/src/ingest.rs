//! `paved-quarantine ingest`: JUnit files into the history store, one transaction per file.

use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;

use crate::error::{Error, Result};
use crate::model::RunMeta;
use crate::store::{Ingested, Store};

/// Arguments of `ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// JUnit XML files or glob patterns (quote globs so the shell leaves them alone).
    #[arg(value_name = "FILE|GLOB", required = true)]
    pub files: Vec<String>,

    /// The commit tested [default: $GITHUB_SHA or $CI_COMMIT_SHA].
    #[arg(long, env = "PAVED_COMMIT", value_name = "SHA")]
    pub commit: Option<String>,

    /// The branch tested [default: $GITHUB_HEAD_REF, $GITHUB_REF_NAME or $CI_COMMIT_REF_NAME].
    #[arg(long, env = "PAVED_BRANCH", value_name = "B")]
    pub branch: Option<String>,

    /// The CI run [default: $GITHUB_RUN_ID or $CI_PIPELINE_ID].
    #[arg(long, env = "PAVED_RUN_ID", value_name = "R")]
    pub run_id: Option<String>,

    /// The run's attempt: a re-run of the same run is a new attempt [default: $GITHUB_RUN_ATTEMPT, else 1].
    #[arg(long, env = "PAVED_ATTEMPT", value_name = "N")]
    pub attempt: Option<u32>,

    /// What varies between jobs of one run (OS, shard, database); part of every test's identity.
    #[arg(long, env = "PAVED_VARIANT", value_name = "V", default_value = "")]
    pub variant: String,

    /// The history store: a SQLite file or a postgres:// URL [default: `[quarantine] store`, else .paved/quarantine.db].
    #[arg(long, env = "PAVED_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,

    /// Config file [default: paved.toml in the current directory].
    #[arg(long, env = "PAVED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the result as JSON on stdout.
    #[arg(long, env = "PAVED_JSON", value_parser = BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub json: bool,
}

fn env(keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// Resolve the run metadata from flags, then CI variables.
pub fn run_meta(args: &IngestArgs) -> Result<RunMeta> {
    let commit = args
        .commit
        .clone()
        .or_else(|| env(&["GITHUB_SHA", "CI_COMMIT_SHA"]))
        .ok_or_else(|| {
            Error::Usage(
                "no commit: pass `--commit SHA` (or run in GitHub Actions / GitLab CI, where it is read from the environment)".into(),
            )
        })?;
    let branch = args
        .branch
        .clone()
        .or_else(|| env(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"]))
        .unwrap_or_default();
    let run_id = args
        .run_id
        .clone()
        .or_else(|| env(&["GITHUB_RUN_ID", "CI_PIPELINE_ID"]))
        .ok_or_else(|| {
            Error::Usage(
                "no run id: pass `--run-id R` (or run in GitHub Actions / GitLab CI, where it is read from the environment)".into(),
            )
        })?;
    let attempt = match args.attempt {
        Some(a) => a,
        None => match env(&["GITHUB_RUN_ATTEMPT"]) {
            Some(a) => a.parse().map_err(|_| {
                Error::Usage(format!(
                    "GITHUB_RUN_ATTEMPT is `{a}`, not a number; pass `--attempt N`"
                ))
            })?,
            None => 1,
        },
    };
    Ok(RunMeta {
        commit,
        branch,
        run_id,
        attempt,
        variant: paved_junit::normalize(&args.variant),
        time: crate::store::now(),
    })
}

/// The report files of `patterns` (relative to the working directory): see
/// [`paved_junit::find_reports`].
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    use paved_junit::FindError;
    paved_junit::find_reports(patterns, Path::new("")).map_err(|e| match e {
        FindError::BadPattern { pattern, message } => {
            Error::Usage(format!("`{pattern}` is not a valid glob pattern: {message}"))
        }
        FindError::NoMatch { pattern } => Error::Usage(format!(
            "`{pattern}` matched no files; check the path the test runner writes its JUnit report to"
        )),
        FindError::Io { path, source } => Error::Core(paved_core::Error::Io {
            action: "read",
            path,
            source,
        }),
    })
}

/// Run `ingest`.
pub fn run(args: &IngestArgs) -> Result<u8> {
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let q = &config.quarantine;
    let meta = run_meta(args)?;
    let files = expand(&args.files)?;
    let spec = args.store.clone().or_else(|| q.store.clone());
    let mut store = Store::open(spec.as_deref())?;
    let mut report = Vec::new();
    let mut first_error = None;
    let mut stored = 0u64;
    for file in &files {
        let key = file.to_string_lossy().into_owned();
        match store.ingest_file(&meta, file, &key) {
            Ok(Ingested::Stored { tests }) => {
                stored += tests;
                paved_core::cli::info(&format!(
                    "ingested {tests} tests from `{key}` (run {} attempt {}{})",
                    meta.run_id,
                    meta.attempt,
                    variant_note(&meta.variant)
                ));
                report.push(serde_json::json!({"file": key, "status": "stored", "tests": tests}));
            }
            Ok(Ingested::AlreadyIngested) => {
                paved_core::cli::info(&format!(
                    "`{key}` was already ingested for run {} attempt {}{}; skipped",
                    meta.run_id,
                    meta.attempt,
                    variant_note(&meta.variant)
                ));
                report.push(serde_json::json!({"file": key, "status": "already-ingested"}));
            }
            Err(e) => {
                if files.len() > 1 {
                    paved_core::cli::report(&e);
                }
                report.push(
                    serde_json::json!({"file": key, "status": "error", "error": e.to_string()}),
                );
                first_error.get_or_insert(e);
            }
        }
    }
    if args.json {
        let out = serde_json::json!({
            "store": store.describe(),
            "run": meta,
            "tests": stored,
            "files": report,
        });
        paved_core::cli::print_stdout(&format!("{out:#}\n"))?;
    }
    match first_error {
        // Every good file is stored; the exit code says that at least one was not.
        Some(e) if files.len() > 1 => {
            paved_core::cli::warn(&format!(
                "{} of {} files were not ingested (errors above); the others are stored",
                report.iter().filter(|r| r["status"] == "error").count(),
                files.len()
            ));
            Ok(paved_core::error::Diagnostic::category(&e).code())
        }
        Some(e) => Err(e),
        None => Ok(paved_core::exit::OK),
    }
}

fn variant_note(v: &str) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(" variant {v}")
    }
}
