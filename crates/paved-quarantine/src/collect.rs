//! `paved-quarantine collect`: the JUnit results of recent CI runs, read from the forge's
//! artifacts and ingested into the history store.
//!
//! GitHub: the completed workflow runs of the default branch and of `[quarantine] branches`
//! (exact names are asked of the API; `*` patterns are matched against every completed run),
//! newer than the watermark the store keeps per repository and branch; their artifacts whose
//! names match `--artifact`; the `.xml` members of each zip archive. Commit, branch, run id,
//! attempt and run URL come from the API. A file is keyed by `<artifact>/<member>` within its run
//! and attempt, so reading a run again stores nothing twice.
//!
//! Archives are streamed to a private temporary directory and capped in size; members are
//! decompressed one by one into a file named by its index (never by the member's name), checked
//! against their declared size and CRC, and ingested. A hostile or broken archive or member is
//! named in a warning and skipped; the others are stored. The watermark moves past a run only
//! once every artifact of it was read or skipped for good (expired, too large, not a zip): a run
//! that failed on the network is read again next time.

mod zip;

use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use globset::{Glob, GlobSet, GlobSetBuilder};
use paved_core::http::{Client, Secret};
use paved_forge::GitHubConfig;
use paved_forge::actions::{Actions, Artifact, Download, WorkflowRun};

use crate::error::{Error, Result};
use crate::model::RunMeta;
use crate::store::{Ingested, Store, branch_matches};

/// Default for `--max-artifact-bytes`: 200 MiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 200 * 1024 * 1024;
/// Default for `--max-report-bytes`: 1 GiB uncompressed per JUnit file.
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 1024 * 1024 * 1024;

/// Arguments of `collect`.
#[derive(Debug, Clone, clap::Args)]
pub struct CollectArgs {
    /// The forge the CI runs are on.
    #[arg(
        long,
        env = "PAVED_FORGE",
        value_name = "github",
        default_value = "github"
    )]
    pub forge: String,

    /// The repository, `owner/repo` [default: $GITHUB_REPOSITORY].
    #[arg(long, env = "PAVED_REPOSITORY", value_name = "OWNER/REPO")]
    pub repository: Option<String>,

    /// The forge's API URL [default: $GITHUB_API_URL, else `https://api.github.com`].
    #[arg(long, env = "PAVED_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// The token that reads the runs and artifacts (`actions: read`) [default: $PAVED_TOKEN, else $GITHUB_TOKEN].
    #[arg(
        long,
        env = "PAVED_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Branches whose runs are read (names or `*` patterns) [default: the repository's default branch and `[quarantine] branches`].
    #[arg(
        long = "branch",
        env = "PAVED_QUARANTINE_BRANCH",
        value_name = "B",
        value_delimiter = ','
    )]
    pub branches: Vec<String>,

    /// Artifacts to read, by name or glob.
    #[arg(
        long = "artifact",
        env = "PAVED_ARTIFACT",
        value_name = "NAME|GLOB",
        value_delimiter = ',',
        default_value = "junit*"
    )]
    pub artifacts: Vec<String>,

    /// Most new runs read per branch in one call (the newest ones).
    #[arg(long, env = "PAVED_MAX_RUNS", value_name = "N", default_value_t = 50)]
    pub max_runs: usize,

    /// Largest artifact archive downloaded, in bytes.
    #[arg(long, env = "PAVED_MAX_ARTIFACT_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_ARTIFACT_BYTES)]
    pub max_artifact_bytes: u64,

    /// Largest JUnit file read from an archive, in bytes uncompressed.
    #[arg(long, env = "PAVED_MAX_REPORT_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_REPORT_BYTES)]
    pub max_report_bytes: u64,

    /// What varies between jobs of one run (OS, shard, database); part of every test's identity. `{artifact}` is replaced by the artifact's name, for one artifact per matrix job.
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

/// What one `collect` did.
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    runs: u64,
    artifacts: u64,
    files: u64,
    tests: u64,
    already_ingested: u64,
    skipped: Vec<serde_json::Value>,
    /// Input that could not be read (named in warnings); decides the exit code.
    #[serde(skip)]
    bad_input: u64,
}

impl Summary {
    fn skip(&mut self, what: &str, why: &str, bad: bool) {
        paved_core::cli::warn(&format!("{what}: {why}; skipped"));
        self.skipped
            .push(serde_json::json!({"what": what, "why": why}));
        if bad {
            self.bad_input += 1;
        }
    }
}

/// A private temporary directory, removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for i in 0..100u32 {
            let dir = base.join(format!(
                "paved-collect-{}-{nanos:x}-{i}",
                std::process::id()
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(paved_core::Error::Io {
                        action: "create a temporary directory in",
                        path: base,
                        source,
                    }
                    .into());
                }
            }
        }
        Err(Error::Usage(format!(
            "could not create a temporary directory in `{}`; set `TMPDIR` to a writable directory",
            base.display()
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn matcher(patterns: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p).map_err(|e| {
            Error::Usage(format!("`--artifact {p}` is not a valid glob pattern: {e}"))
        })?);
    }
    set.build()
        .map_err(|e| Error::Usage(format!("the `--artifact` patterns are invalid: {e}")))
}

/// Run `collect`.
pub fn run(args: &CollectArgs) -> Result<u8> {
    match args.forge.as_str() {
        "github" => {}
        "gitlab" => {
            return Err(Error::Usage(
                "`collect --forge gitlab` is not available yet; on GitLab, run `paved-quarantine ingest` in the test job instead".into(),
            ));
        }
        other => {
            return Err(Error::Usage(format!(
                "`--forge {other}` is not a forge paved knows; use `github`"
            )));
        }
    }
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let q = &config.quarantine;
    let artifacts = matcher(&args.artifacts)?;
    let repository = args
        .repository
        .clone()
        .or_else(|| env("GITHUB_REPOSITORY"))
        .ok_or_else(|| {
            Error::Usage(
                "no repository: pass `--repository owner/repo` (or run in GitHub Actions, where `GITHUB_REPOSITORY` is set)".into(),
            )
        })?;
    let api = args
        .api_url
        .clone()
        .or_else(|| env("GITHUB_API_URL"))
        .unwrap_or_else(|| "https://api.github.com".into());
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.trim().is_empty());
    if let Some(t) = &token {
        paved_core::ci::CiSink::mask_from_env(t);
    }
    let github = GitHubConfig::new(&api, &repository, token.map(Secret::new))?;
    let actions = Actions::new(Client::from_env()?, &github);

    let mut branches = args.branches.clone();
    if branches.is_empty() {
        branches.push(actions.default_branch()?);
        for b in q.branches.iter().flatten().chain(q.branch.iter()) {
            if !branches.contains(b) {
                branches.push(b.clone());
            }
        }
    }

    let spec = args.store.clone().or_else(|| q.store.clone());
    let mut store = Store::open(spec.as_deref())?;
    let temp = TempDir::new()?;
    let mut summary = Summary::default();
    for branch in &branches {
        collect_branch(
            args,
            &actions,
            &repository,
            branch,
            &artifacts,
            &mut store,
            &temp.0,
            &mut summary,
        )?;
    }
    if summary.runs == 0 {
        paved_core::cli::info(&format!(
            "no new completed runs on {}; nothing to ingest",
            branches
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        paved_core::cli::info(&format!(
            "collected {} runs: {} tests from {} files in {} artifacts ({} files already ingested)",
            summary.runs, summary.tests, summary.files, summary.artifacts, summary.already_ingested
        ));
    }
    if args.json {
        let out = serde_json::json!({
            "store": store.describe(),
            "repository": repository,
            "branches": branches,
            "summary": summary,
        });
        paved_core::cli::print_stdout(&format!("{out:#}\n"))?;
    }
    if summary.bad_input > 0 {
        paved_core::cli::warn(&format!(
            "{} artifact files could not be read (warnings above); everything else is stored",
            summary.bad_input
        ));
        return Ok(paved_core::exit::Category::Usage.code());
    }
    Ok(paved_core::exit::OK)
}

#[allow(clippy::too_many_arguments)]
fn collect_branch(
    args: &CollectArgs,
    actions: &Actions,
    repository: &str,
    branch: &str,
    artifacts: &GlobSet,
    store: &mut Store,
    temp: &Path,
    summary: &mut Summary,
) -> Result<()> {
    let source = format!("github:{repository}:{branch}");
    let watermark = store
        .watermark(&source)?
        .and_then(|w| u64::try_from(w).ok());
    let pattern = branch.contains('*');
    // A pattern cannot be asked of the API: every completed run is listed and matched here.
    let (mut runs, more) = actions.completed_runs(
        (!pattern).then_some(branch),
        watermark,
        args.max_runs,
        |r| {
            !pattern
                || r.head_branch
                    .as_deref()
                    .is_some_and(|b| branch_matches(branch, b))
        },
    )?;
    if more {
        paved_core::cli::info(&format!(
            "`{branch}`: reading the newest {} new completed runs (`--max-runs` {}); older ones are not read",
            runs.len(),
            args.max_runs
        ));
    }
    // Oldest first, so the history keeps the runs' order and the watermark moves up run by run.
    runs.sort_by_key(|r| r.id);
    for run in &runs {
        collect_run(args, actions, run, artifacts, store, temp, summary)?;
        store.raise_watermark(&source, i64::try_from(run.id).unwrap_or(i64::MAX))?;
    }
    Ok(())
}

fn run_time(run: &WorkflowRun) -> i64 {
    run.run_started_at
        .as_deref()
        .or(run.created_at.as_deref())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or_else(crate::store::now, jiff::Timestamp::as_second)
}

fn collect_run(
    args: &CollectArgs,
    actions: &Actions,
    run: &WorkflowRun,
    artifacts: &GlobSet,
    store: &mut Store,
    temp: &Path,
    summary: &mut Summary,
) -> Result<()> {
    summary.runs += 1;
    let meta = RunMeta {
        commit: run.head_sha.clone(),
        branch: run.head_branch.clone().unwrap_or_default(),
        run_id: run.id.to_string(),
        attempt: run.run_attempt,
        variant: String::new(),
        time: run_time(run),
    };
    store.record_run_url(&meta.run_id, meta.attempt, &run.html_url)?;
    let chosen: Vec<Artifact> = actions
        .artifacts(run.id)?
        .into_iter()
        .filter(|a| artifacts.is_match(&a.name))
        .collect();
    if chosen.is_empty() {
        paved_core::cli::info(&format!(
            "run {} attempt {} has no artifact named {}",
            run.id,
            run.run_attempt,
            args.artifacts.join(" or ")
        ));
    }
    for artifact in &chosen {
        let what = format!("artifact `{}` of run {}", artifact.name, run.id);
        if artifact.expired {
            summary.skip(&what, "it has expired", false);
            continue;
        }
        if artifact.size_in_bytes > args.max_artifact_bytes {
            summary.skip(
                &what,
                &format!(
                    "it is {} bytes, more than `--max-artifact-bytes` {}",
                    artifact.size_in_bytes, args.max_artifact_bytes
                ),
                true,
            );
            continue;
        }
        let zip = temp.join(format!("artifact-{}.zip", artifact.id));
        match actions.download(artifact, &zip, args.max_artifact_bytes) {
            Ok(Download::Saved) => {}
            Ok(Download::Expired) => {
                summary.skip(&what, "it has expired", false);
                continue;
            }
            Err(paved_forge::Error::Http(paved_core::http::HttpError::TooLarge { .. })) => {
                summary.skip(
                    &what,
                    &format!(
                        "its download grew past `--max-artifact-bytes` {}",
                        args.max_artifact_bytes
                    ),
                    true,
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        summary.artifacts += 1;
        let result = read_archive(args, artifact, &zip, &meta, store, temp, summary);
        let _ = std::fs::remove_file(&zip);
        result?;
    }
    Ok(())
}

fn read_archive(
    args: &CollectArgs,
    artifact: &Artifact,
    zip_path: &Path,
    meta: &RunMeta,
    store: &mut Store,
    temp: &Path,
    summary: &mut Summary,
) -> Result<()> {
    let what = format!("artifact `{}` of run {}", artifact.name, meta.run_id);
    let meta = &RunMeta {
        variant: paved_junit::normalize(&args.variant.replace("{artifact}", &artifact.name)),
        ..meta.clone()
    };
    let file = std::fs::File::open(zip_path).map_err(|source| paved_core::Error::Io {
        action: "read the downloaded artifact",
        path: zip_path.to_owned(),
        source,
    })?;
    let mut archive = match zip::Archive::open(file) {
        Ok(a) => a,
        Err(e) => {
            summary.skip(&what, &e.to_string(), true);
            return Ok(());
        }
    };
    let mut other = 0usize;
    for index in 0..archive.members().len() {
        let member = archive.members()[index].clone();
        if member.is_dir() {
            continue;
        }
        let member_what = format!("`{}` in {what}", member.name.escape_debug());
        if member.has_unsafe_name() {
            summary.skip(
                &member_what,
                "its name leaves the archive (`..`, an absolute path)",
                true,
            );
            continue;
        }
        if !member.name.to_ascii_lowercase().ends_with(".xml") {
            other += 1;
            continue;
        }
        let out_path = temp.join(format!("member-{index}.xml"));
        let extracted = std::fs::File::create(&out_path)
            .map_err(zip::MemberError::Io)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                let n = archive.extract(index, &mut w, args.max_report_bytes)?;
                std::io::Write::flush(&mut w).map_err(zip::MemberError::Io)?;
                Ok(n)
            });
        if let Err(e) = extracted {
            let _ = std::fs::remove_file(&out_path);
            summary.skip(&member_what, &e.to_string(), true);
            continue;
        }
        let key = format!("{}/{}", artifact.name, member.name);
        let ingested = store.ingest_file(meta, &out_path, &key);
        let _ = std::fs::remove_file(&out_path);
        match ingested {
            Ok(Ingested::Stored { tests }) => {
                summary.files += 1;
                summary.tests += tests;
                paved_core::cli::info(&format!(
                    "ingested {tests} tests from `{key}` (run {} attempt {}, commit {})",
                    meta.run_id, meta.attempt, meta.commit
                ));
            }
            Ok(Ingested::AlreadyIngested) => summary.already_ingested += 1,
            Err(Error::Core(e)) => {
                summary.skip(&member_what, &e.to_string(), true);
            }
            Err(e) => return Err(e),
        }
    }
    if other > 0 {
        paved_core::cli::info(&format!(
            "{what}: {other} files that are not `.xml` were left alone"
        ));
    }
    Ok(())
}
