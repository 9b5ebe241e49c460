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
//! GitLab: the finished pipelines of those branches, newer than the watermark (pipeline ids);
//! every job of each, retried ones included (`include_retried`), whose name matches `--artifact`
//! (by default: the jobs that declare `artifacts:reports:junit`); the `.xml` members of each
//! job's artifacts archive (so the reports must also be in `artifacts:paths`). Run id = pipeline
//! id; attempt = the job's retry order among the jobs of its name (1 for the first, 2 for its
//! first retry); a file is keyed by `<job>/<member>`.
//!
//! New attempts behind the watermark: "Re-run jobs" on GitHub gives an old run id a new
//! `run_attempt`, a retried GitLab job adds a job to an old pipeline, and a run that finished
//! after a newer one is behind the watermark too. So the listing goes on past the watermark
//! over runs created in the last `--recheck-days`, and reads what it has not read in full
//! before: on GitHub a (run, attempt) not recorded yet (the listing shows a run's latest attempt
//! only, so attempts between two collects are not read), and of it only the artifacts no earlier
//! attempt listed (a partial re-run keeps the passed-through jobs' artifacts in the run's list);
//! on GitLab each job not recorded yet.
//! A run or job is recorded only once all of it was read or skipped for good.
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
use paved_forge::actions::{Actions, Download, WorkflowRun};
use paved_forge::pipelines::{Job, Pipeline, Pipelines, Window};
use paved_forge::{GitHubConfig, GitLabConfig, GitLabToken};

use crate::error::{Error, Result};
use crate::model::RunMeta;
use crate::store::{Ingested, Store, branch_matches};

/// Default for `--max-artifact-bytes`: 200 MiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 200 * 1024 * 1024;
/// Default for `--max-report-bytes`: 1 GiB uncompressed per JUnit file.
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 1024 * 1024 * 1024;
/// Default for `--recheck-days`.
pub const DEFAULT_RECHECK_DAYS: u32 = 3;

/// Arguments of `collect`.
#[derive(Debug, Clone, clap::Args)]
pub struct CollectArgs {
    /// The forge the CI runs are on: `github` or `gitlab`.
    #[arg(
        long,
        env = "PAVED_FORGE",
        value_name = "github|gitlab",
        default_value = "github"
    )]
    pub forge: String,

    /// The repository, `owner/repo`, or the GitLab project (id or `group/project`) [default: $GITHUB_REPOSITORY; on GitLab $CI_PROJECT_ID, else $CI_PROJECT_PATH].
    #[arg(long, env = "PAVED_REPOSITORY", value_name = "OWNER/REPO")]
    pub repository: Option<String>,

    /// The forge's API URL [default: $GITHUB_API_URL, else `https://api.github.com`; on GitLab $CI_API_V4_URL, else `https://gitlab.com/api/v4`].
    #[arg(long, env = "PAVED_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// The token that reads the runs and artifacts (`actions: read`; on GitLab `read_api`, sent as `PRIVATE-TOKEN`) [default: $PAVED_TOKEN, else $GITHUB_TOKEN; on GitLab $GITLAB_TOKEN, else $CI_JOB_TOKEN].
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

    /// Artifacts to read, by name or glob; on GitLab, the jobs whose artifacts are read, by job name [default: `junit*`; on GitLab, the jobs that declare `artifacts:reports:junit`].
    #[arg(
        long = "artifact",
        env = "PAVED_ARTIFACT",
        value_name = "NAME|GLOB",
        value_delimiter = ','
    )]
    pub artifacts: Vec<String>,

    /// Most new runs read per branch in one call (the newest ones).
    #[arg(long, env = "PAVED_MAX_RUNS", value_name = "N", default_value_t = 50)]
    pub max_runs: usize,

    /// Also look again at runs behind the watermark created in the last N days, and read the attempts (re-runs, retried jobs) not read yet; 0 looks only at new runs.
    #[arg(long, env = "PAVED_RECHECK_DAYS", value_name = "N", default_value_t = DEFAULT_RECHECK_DAYS)]
    pub recheck_days: u32,

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
    /// Runs behind the watermark read for attempts not read before (`--recheck-days`).
    new_attempts: u64,
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

/// The forge `collect` reads from.
enum Forge {
    GitHub {
        actions: Actions,
        repository: String,
    },
    GitLab {
        pipelines: Pipelines,
        project: String,
    },
}

impl Forge {
    fn from_args(args: &CollectArgs) -> Result<Forge> {
        match args.forge.as_str() {
            "github" => {
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
                    .or_else(|| env("GITHUB_TOKEN"))
                    .filter(|t| !t.trim().is_empty());
                if let Some(t) = &token {
                    paved_core::ci::CiSink::mask_from_env(t);
                }
                let github = GitHubConfig::new(&api, &repository, token.map(Secret::new))?;
                Ok(Forge::GitHub {
                    actions: Actions::new(Client::from_env()?, &github),
                    repository,
                })
            }
            "gitlab" => {
                let project = args
                    .repository
                    .clone()
                    .or_else(|| env("CI_PROJECT_ID"))
                    .or_else(|| env("CI_PROJECT_PATH"))
                    .ok_or_else(|| {
                        Error::Usage(
                            "no GitLab project: pass `--repository group/project` (or run in GitLab CI, where `CI_PROJECT_ID` is set)".into(),
                        )
                    })?;
                let api = args
                    .api_url
                    .clone()
                    .or_else(|| env("CI_API_V4_URL"))
                    .unwrap_or_else(|| "https://gitlab.com/api/v4".into());
                // `--token`/`PAVED_TOKEN` and `GITLAB_TOKEN` are access tokens; the job token
                // is sent as one.
                let token = args
                    .token
                    .clone()
                    .or_else(|| env("GITLAB_TOKEN"))
                    .map(|t| GitLabToken::Private(Secret::new(t)))
                    .or_else(|| env("CI_JOB_TOKEN").map(|t| GitLabToken::Job(Secret::new(t))));
                if let Some(t) = &token {
                    paved_core::ci::CiSink::mask_from_env(t.secret().expose());
                }
                let gitlab = GitLabConfig::new(&api, &project, token)?;
                Ok(Forge::GitLab {
                    pipelines: Pipelines::new(Client::from_env()?, &gitlab),
                    project,
                })
            }
            other => Err(Error::Usage(format!(
                "`--forge {other}` is not a forge paved knows; use `github` or `gitlab`"
            ))),
        }
    }

    fn repository(&self) -> &str {
        match self {
            Forge::GitHub { repository, .. } => repository,
            Forge::GitLab { project, .. } => project,
        }
    }

    fn default_branch(&self) -> Result<String> {
        Ok(match self {
            Forge::GitHub { actions, .. } => actions.default_branch()?,
            Forge::GitLab { pipelines, .. } => pipelines.default_branch()?,
        })
    }
}

/// What `collect` reads everything with.
struct Collector<'a> {
    args: &'a CollectArgs,
    /// `None`: the GitLab default, jobs that declare JUnit reports.
    artifacts: Option<GlobSet>,
    store: Store,
    temp: TempDir,
    summary: Summary,
    recheck_since: Option<i64>,
}

/// Run `collect`.
pub fn run(args: &CollectArgs) -> Result<u8> {
    let forge = Forge::from_args(args)?;
    let (config, _) =
        paved_core::config::PavedConfig::load(args.config.as_deref(), Path::new("."))?;
    let q = &config.quarantine;
    let artifacts = match (&forge, args.artifacts.is_empty()) {
        (Forge::GitHub { .. }, true) => Some(matcher(&["junit*".to_owned()])?),
        (Forge::GitLab { .. }, true) => None,
        (_, false) => Some(matcher(&args.artifacts)?),
    };
    let mut branches = args.branches.clone();
    if branches.is_empty() {
        branches.push(forge.default_branch()?);
        for b in q.branches.iter().flatten().chain(q.branch.iter()) {
            if !branches.contains(b) {
                branches.push(b.clone());
            }
        }
    }
    let spec = args.store.clone().or_else(|| q.store.clone());
    let recheck_since = (args.recheck_days > 0)
        .then(|| crate::store::now() - i64::from(args.recheck_days) * 86_400);
    let mut c = Collector {
        args,
        artifacts,
        store: Store::open(spec.as_deref())?,
        temp: TempDir::new()?,
        summary: Summary::default(),
        recheck_since,
    };
    for branch in &branches {
        match &forge {
            Forge::GitHub {
                actions,
                repository,
            } => c.github_branch(actions, repository, branch)?,
            Forge::GitLab { pipelines, project } => c.gitlab_branch(pipelines, project, branch)?,
        }
    }
    let summary = &c.summary;
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
            "store": c.store.describe(),
            "repository": forge.repository(),
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

impl Collector<'_> {
    fn window(&mut self, source: &str) -> Result<Window> {
        Ok(Window {
            after: self
                .store
                .watermark(source)?
                .and_then(|w| u64::try_from(w).ok()),
            recheck_since: self.recheck_since,
            max: self.args.max_runs,
        })
    }

    fn more(&self, branch: &str, read: usize) {
        paved_core::cli::info(&format!(
            "`{branch}`: reading the newest {read} new completed runs (`--max-runs` {}); older ones are not read",
            self.args.max_runs
        ));
    }

    fn recheck_full(&self, branch: &str) {
        paved_core::cli::info(&format!(
            "`{branch}`: `--max-runs` {} reached; older runs behind the watermark are looked at again next time",
            self.args.max_runs
        ));
    }

    fn github_branch(&mut self, actions: &Actions, repository: &str, branch: &str) -> Result<()> {
        let source = format!("github:{repository}:{branch}");
        let window = self.window(&source)?;
        let pattern = branch.contains('*');
        // A pattern cannot be asked of the API: every completed run is listed and matched here.
        // A fork can name its branch `main`; a pull request's run tests a proposal. Neither is the
        // branch's history, and a fork's run uploads whatever artifact it likes.
        let refused = std::cell::RefCell::new(Vec::new());
        let listed = actions.completed_runs((!pattern).then_some(branch), window, |r| {
            let on_branch = !pattern
                || r.head_branch
                    .as_deref()
                    .is_some_and(|b| branch_matches(branch, b));
            if !on_branch {
                return false;
            }
            match r.not_branch_history(repository) {
                Some(why) => {
                    refused.borrow_mut().push(format!("run {} ({why})", r.id));
                    false
                }
                None => true,
            }
        })?;
        let mut refused = refused.into_inner();
        refused.sort();
        refused.dedup();
        if !refused.is_empty() {
            let n = refused.len();
            paved_core::cli::warn(&format!(
                "`{branch}`: {n} run{} not read: only the repository's own runs of a push, schedule or dispatch are its history, never a pull request's or a fork's: {}",
                if n == 1 { " was" } else { "s were" },
                refused.join("; ")
            ));
        }
        if listed.more {
            self.more(branch, listed.new.len());
        }
        let mut runs: Vec<&WorkflowRun> = listed.new.iter().collect();
        for run in &listed.recheck {
            if self
                .store
                .run_url(&run.id.to_string(), run.run_attempt)?
                .is_none()
            {
                if runs.len() >= self.args.max_runs {
                    self.recheck_full(branch);
                    break;
                }
                paved_core::cli::info(&format!(
                    "run {} attempt {} is behind the watermark and was not read yet (a re-run, or a run that finished late); reading it",
                    run.id, run.run_attempt
                ));
                self.summary.new_attempts += 1;
                runs.push(run);
            }
        }
        // Oldest first, so the history keeps the runs' order and the watermark moves up run by run.
        runs.sort_by_key(|r| r.id);
        for run in runs {
            self.github_run(actions, run)?;
            self.store
                .raise_watermark(&source, i64::try_from(run.id).unwrap_or(i64::MAX))?;
        }
        Ok(())
    }

    fn github_run(&mut self, actions: &Actions, run: &WorkflowRun) -> Result<()> {
        self.summary.runs += 1;
        let meta = RunMeta {
            commit: run.head_sha.clone(),
            branch: run.head_branch.clone().unwrap_or_default(),
            run_id: run.id.to_string(),
            attempt: run.run_attempt,
            variant: String::new(),
            time: run_time(run.run_started_at.as_deref().or(run.created_at.as_deref())),
        };
        let wanted = self.artifacts.clone().unwrap_or_default();
        let chosen: Vec<_> = actions
            .artifacts(run.id)?
            .into_iter()
            .filter(|a| wanted.is_match(&a.name))
            .collect();
        if chosen.is_empty() {
            paved_core::cli::info(&format!(
                "run {} attempt {} has no artifact named {}",
                run.id,
                run.run_attempt,
                self.artifact_names()
            ));
        }
        for artifact in &chosen {
            // A re-run's list may still hold artifacts an earlier attempt uploaded (jobs a
            // "Re-run failed jobs" passed through): those were read as that attempt's.
            let read_before = format!("github-artifact:{}", artifact.id);
            if self.store.has_part(&read_before)? {
                continue;
            }
            let what = format!("artifact `{}` of run {}", artifact.name, run.id);
            if artifact.expired {
                self.summary.skip(&what, "it has expired", false);
            } else if self.fits(&what, artifact.size_in_bytes) {
                let zip = self.temp.0.join(format!("artifact-{}.zip", artifact.id));
                let downloaded = actions.download(artifact, &zip, self.args.max_artifact_bytes);
                if self.downloaded(&what, downloaded)? {
                    self.read_archive(&artifact.name, &what, &zip, &meta)?;
                }
            }
            self.store.record_part(&read_before, &run.html_url)?;
        }
        // Recorded last: a run whose reading stopped half-way is read again (`--recheck-days`).
        self.store
            .record_run_url(&meta.run_id, meta.attempt, &run.html_url)?;
        Ok(())
    }

    fn artifact_names(&self) -> String {
        if self.args.artifacts.is_empty() {
            "`junit*`".into()
        } else {
            self.args
                .artifacts
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        }
    }

    /// Whether an archive of `size` bytes (as the forge says) may be downloaded.
    fn fits(&mut self, what: &str, size: u64) -> bool {
        if size > self.args.max_artifact_bytes {
            self.summary.skip(
                what,
                &format!(
                    "it is {size} bytes, more than `--max-artifact-bytes` {}",
                    self.args.max_artifact_bytes
                ),
                true,
            );
            return false;
        }
        true
    }

    /// Whether the download is there to read; a skipped one is named.
    fn downloaded(
        &mut self,
        what: &str,
        result: std::result::Result<Download, paved_forge::Error>,
    ) -> Result<bool> {
        match result {
            Ok(Download::Saved) => {
                self.summary.artifacts += 1;
                Ok(true)
            }
            Ok(Download::Expired) => {
                self.summary.skip(what, "it has expired", false);
                Ok(false)
            }
            Err(paved_forge::Error::Http(paved_core::http::HttpError::TooLarge { .. })) => {
                self.summary.skip(
                    what,
                    &format!(
                        "its download grew past `--max-artifact-bytes` {}",
                        self.args.max_artifact_bytes
                    ),
                    true,
                );
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn gitlab_branch(&mut self, pipelines: &Pipelines, project: &str, branch: &str) -> Result<()> {
        let source = format!("gitlab:{project}:{branch}");
        let window = self.window(&source)?;
        let pattern = branch.contains('*');
        let listed = pipelines.finished((!pattern).then_some(branch), window, |p| {
            !pattern
                || p.git_ref
                    .as_deref()
                    .is_some_and(|b| branch_matches(branch, b))
        })?;
        if listed.more {
            self.more(branch, listed.new.len());
        }
        let mut todo: Vec<(&Pipeline, bool)> = listed.new.iter().map(|p| (p, false)).collect();
        // Each re-checked pipeline costs a jobs request: `--max-runs` caps them with the new ones.
        let room = self.args.max_runs.saturating_sub(todo.len());
        if listed.recheck.len() > room {
            self.recheck_full(branch);
        }
        todo.extend(listed.recheck.iter().take(room).map(|p| (p, true)));
        todo.sort_by_key(|(p, _)| p.id);
        for (pipeline, recheck) in todo {
            self.gitlab_pipeline(pipelines, pipeline, recheck)?;
            self.store
                .raise_watermark(&source, i64::try_from(pipeline.id).unwrap_or(i64::MAX))?;
        }
        Ok(())
    }

    fn gitlab_pipeline(
        &mut self,
        pipelines: &Pipelines,
        pipeline: &Pipeline,
        recheck: bool,
    ) -> Result<()> {
        let listed = pipelines.jobs(pipeline.id)?;
        if let Some(cut) = &listed.truncated {
            paved_core::cli::warn(cut);
        }
        let jobs = listed.jobs;
        let attempts = paved_forge::pipelines::attempts(&jobs);
        let mut todo: Vec<(&Job, u32)> = Vec::new();
        for (job, attempt) in jobs.iter().zip(attempts) {
            let wanted = match &self.artifacts {
                Some(set) => set.is_match(&job.name),
                None => job.reports_junit(),
            };
            // Jobs that never ran (manual, skipped) have nothing yet: not recorded, so a later
            // run of them is read.
            let finished = matches!(job.status.as_str(), "success" | "failed" | "canceled");
            if !wanted || !finished || self.store.has_part(&job_key(job.id))? {
                continue;
            }
            todo.push((job, attempt));
        }
        if todo.is_empty() {
            if !recheck {
                self.summary.runs += 1;
                paved_core::cli::info(&format!(
                    "pipeline {} has no finished job {}",
                    pipeline.id,
                    if self.args.artifacts.is_empty() {
                        "that declares `artifacts:reports:junit`".to_owned()
                    } else {
                        format!("named {}", self.artifact_names())
                    }
                ));
            }
            return Ok(());
        }
        self.summary.runs += 1;
        if recheck {
            self.summary.new_attempts += 1;
            paved_core::cli::info(&format!(
                "pipeline {} is behind the watermark and has {} jobs not read yet (retried, or finished late); reading them",
                pipeline.id,
                todo.len()
            ));
        }
        // Oldest first: attempts in the order they ran.
        todo.sort_by_key(|(j, _)| j.id);
        for (job, attempt) in todo {
            let meta = RunMeta {
                commit: pipeline.sha.clone(),
                branch: pipeline.git_ref.clone().unwrap_or_default(),
                run_id: pipeline.id.to_string(),
                attempt,
                variant: String::new(),
                time: run_time(job.started_at.as_deref().or(pipeline.created_at.as_deref())),
            };
            let what = format!(
                "the artifacts of job `{}` ({}) of pipeline {}",
                job.name, job.id, pipeline.id
            );
            match &job.artifacts_file {
                None => paved_core::cli::info(&format!("{what}: the job has none")),
                Some(file) if !self.fits(&what, file.size) => {}
                Some(_) => {
                    let zip = self.temp.0.join(format!("job-{}.zip", job.id));
                    let downloaded = pipelines.download(job.id, &zip, self.args.max_artifact_bytes);
                    if self.downloaded(&what, downloaded)? {
                        self.read_archive(&job.name, &what, &zip, &meta)?;
                    }
                }
            }
            self.store
                .record_run_url(&meta.run_id, meta.attempt, &pipeline.web_url)?;
            self.store.record_part(&job_key(job.id), &job.web_url)?;
        }
        Ok(())
    }
}

/// How a GitLab job read in full is recorded (`collected_parts`): retried jobs are attempts of a
/// pipeline, so a pipeline behind the watermark is read again only for the jobs not recorded.
fn job_key(job_id: u64) -> String {
    format!("gitlab-job:{job_id}")
}

fn run_time(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or_else(crate::store::now, jiff::Timestamp::as_second)
}

impl Collector<'_> {
    /// Ingest the `.xml` members of the archive at `zip_path` (artifact or job `name`, `what`
    /// in messages), then remove it.
    fn read_archive(
        &mut self,
        name: &str,
        what: &str,
        zip_path: &Path,
        meta: &RunMeta,
    ) -> Result<()> {
        let result = self.read_members(name, what, zip_path, meta);
        let _ = std::fs::remove_file(zip_path);
        result
    }

    fn read_members(
        &mut self,
        name: &str,
        what: &str,
        zip_path: &Path,
        meta: &RunMeta,
    ) -> Result<()> {
        let args = self.args;
        let temp = self.temp.0.clone();
        let temp = temp.as_path();
        let store = &mut self.store;
        let summary = &mut self.summary;
        let meta = &RunMeta {
            variant: paved_junit::normalize(&args.variant.replace("{artifact}", name)),
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
                summary.skip(what, &e.to_string(), true);
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
            let key = format!("{name}/{}", member.name);
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
}
