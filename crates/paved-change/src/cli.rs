//! Command-line definition (in the library, so action inputs can be generated from it).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

use crate::backend::{Kind, Outcome};

/// Change records with audit evidence, approval gates and DORA metrics.
///
/// `open` gathers the evidence of a deployment (commits since the last deployment, PRs/MRs with
/// mergers and approvers, JUnit totals, artifact digests, the CI run) into a JSON bundle and
/// opens the change record; `wait` is the approval gate; `close` records the result; `verify`
/// checks a bundle is valid and complete; `dora` computes the four keys from the records.
///
/// Exit codes: 0 ok/approved, 1 rejected, cancelled, invalid or incomplete evidence, 2 usage, config or
/// input error, 3 backend, network or git failure, or `wait` timed out.
#[derive(Debug, Parser)]
#[command(name = "paved-change", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub repo: paved_core::flags::RepoArg,

    #[command(flatten)]
    pub config: paved_core::flags::ConfigArg,

    /// Where change records live [default: file].
    #[arg(long, env = "PAVED_BACKEND", value_name = "BACKEND", global = true)]
    pub backend: Option<Kind>,

    /// Directory of evidence bundles (the file backend's records) [default: .paved/changes].
    #[arg(long, env = "PAVED_RECORDS", value_name = "DIR", global = true)]
    pub records: Option<PathBuf>,

    /// ServiceNow instance URL, e.g. `https://acme.service-now.com`. Credentials come from
    /// SERVICENOW_TOKEN, or SERVICENOW_USERNAME and SERVICENOW_PASSWORD.
    #[arg(
        long,
        env = "PAVED_SERVICENOW_URL",
        value_name = "URL",
        global = true,
        help_heading = "ServiceNow backend"
    )]
    pub servicenow_url: Option<String>,

    /// Which ServiceNow REST API to use: `table` (the Table API on `change_request`) or `change`
    /// (the Change Management API, `sn_chg_rest`) [default: table; change with
    /// --standard-template].
    #[arg(
        long,
        env = "PAVED_SERVICENOW_API",
        value_name = "API",
        global = true,
        help_heading = "ServiceNow backend"
    )]
    pub servicenow_api: Option<crate::backend::SnowApi>,

    /// Open a standard change from this ServiceNow standard change template (its name or
    /// sys_id; it must be active), through the Change Management API. Standard changes are
    /// pre-approved: `open` schedules them.
    #[arg(
        long,
        env = "PAVED_STANDARD_TEMPLATE",
        value_name = "NAME",
        global = true,
        help_heading = "ServiceNow backend"
    )]
    pub standard_template: Option<String>,

    /// PagerDuty Events API root [default: `https://events.pagerduty.com`]. The routing key comes
    /// from PAGERDUTY_ROUTING_KEY.
    #[arg(
        long,
        env = "PAVED_PAGERDUTY_URL",
        value_name = "URL",
        global = true,
        help_heading = "PagerDuty backend"
    )]
    pub pagerduty_url: Option<String>,

    #[command(flatten)]
    pub result: paved_core::flags::OutputArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather the evidence and open the change record (a re-run finds the record it made).
    Open(OpenArgs),
    /// Wait for the change to be approved: exit 0 approved, 1 rejected or cancelled, 3 timeout.
    Wait(WaitArgs),
    /// Close the change with the deployment's result.
    Close(CloseArgs),
    /// Check that an evidence bundle is valid and complete; exit 1 naming each invalid field and missing item.
    Verify(VerifyArgs),
    /// DORA metrics from the records: frequency, lead time, failure rate, time to restore.
    Dora(DoraArgs),
}

/// `open`
#[derive(Debug, Clone, ClapArgs)]
pub struct OpenArgs {
    /// The environment deployed to, e.g. prod.
    #[arg(long = "env", env = "PAVED_ENV", value_name = "ENV")]
    pub environment: String,

    /// The version deployed, e.g. 1.4.0.
    #[arg(long, env = "PAVED_VERSION", value_name = "VERSION")]
    pub version: String,

    /// An artifact digest deployed: sha256:HEX or NAME@sha256:HEX (repeatable, or comma-separated).
    #[arg(
        long = "digest",
        env = "PAVED_DIGEST",
        value_name = "DIGEST",
        value_delimiter = ','
    )]
    pub digests: Vec<String>,

    /// JUnit XML reports for the test evidence (globs, repeatable) [default: `junit` in paved.toml's change section].
    #[arg(long, env = "PAVED_JUNIT", value_name = "GLOB", value_delimiter = ',')]
    pub junit: Vec<String>,

    /// The commit deployed [default: HEAD].
    #[arg(long, env = "PAVED_COMMIT", value_name = "REV")]
    pub commit: Option<String>,

    /// Compute the range for this monorepo package (see [[version.package]]).
    #[arg(long, env = "PAVED_PACKAGE", value_name = "NAME")]
    pub package: Option<String>,

    /// Override the correlation id [default: repository:run:environment, the same for every attempt of a run].
    #[arg(long, env = "PAVED_CORRELATION_ID", value_name = "ID")]
    pub correlation_id: Option<String>,

    /// Also write the bundle here (the record in --records is always written).
    #[arg(long, env = "PAVED_BUNDLE", value_name = "FILE")]
    pub bundle: Option<PathBuf>,

    #[command(flatten)]
    pub signing: SigningArg,
}

/// The key that signs the bundle (`open`, `wait`, `close`).
#[derive(Debug, Clone, ClapArgs)]
pub struct SigningArg {
    /// Sign the bundle with this private key (PEM, Ed25519 or ECDSA P-256): an in-toto statement
    /// in a DSSE envelope, written next to it as `<id>.intoto.jsonl`.
    #[arg(
        long,
        env = "PAVED_SIGNING_KEY",
        value_name = "FILE",
        help_heading = "Signing"
    )]
    pub signing_key: Option<PathBuf>,
}

/// `wait`
#[derive(Debug, Clone, ClapArgs)]
pub struct WaitArgs {
    /// The change id `open` printed (ServiceNow: the sys_id or the CHG number).
    pub id: String,

    /// Give up after this long (exit 3), e.g. 4h [default: 1h].
    #[arg(long, env = "PAVED_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Poll this often, e.g. 30s [default: 30s].
    #[arg(long, env = "PAVED_INTERVAL", value_name = "DURATION")]
    pub interval: Option<String>,

    #[command(flatten)]
    pub signing: SigningArg,
}

/// `close`
#[derive(Debug, Clone, ClapArgs)]
pub struct CloseArgs {
    /// The change id `open` printed.
    pub id: String,

    /// How the deployment went.
    #[arg(long, env = "PAVED_RESULT", value_name = "RESULT")]
    pub result: Outcome,

    /// Closing notes.
    #[arg(long, env = "PAVED_NOTES", value_name = "TEXT")]
    pub notes: Option<String>,

    #[command(flatten)]
    pub signing: SigningArg,
}

/// `verify`
#[derive(Debug, Clone, ClapArgs)]
pub struct VerifyArgs {
    /// The bundle file (or its signed envelope, `<id>.intoto.jsonl`: the bundle next to it is checked).
    pub bundle: PathBuf,

    /// A public key (PEM) the bundle's signature must verify with (repeatable, or
    /// comma-separated) [default: `trusted-keys` in paved.toml's change section]. With it, an
    /// unsigned bundle, a signature no listed key made, and every field changed since signing are
    /// refused.
    #[arg(
        long = "trusted-key",
        env = "PAVED_TRUSTED_KEY",
        value_name = "FILE",
        value_delimiter = ',',
        help_heading = "Signing"
    )]
    pub trusted_keys: Vec<PathBuf>,
}

/// `dora`
#[derive(Debug, Clone, ClapArgs)]
pub struct DoraArgs {
    /// Only this environment [default: all].
    #[arg(long = "env", env = "PAVED_ENV", value_name = "ENV")]
    pub environment: Option<String>,

    /// The window start: a duration back from --until (e.g. 90d, 12h) or an RFC 3339 time.
    #[arg(long, env = "PAVED_SINCE", value_name = "WHEN", default_value = "90d")]
    pub since: String,

    /// The end of the window (RFC 3339) [default: now].
    #[arg(long, env = "PAVED_UNTIL", value_name = "TIME")]
    pub until: Option<String>,

    /// Also write a markdown summary to this file.
    #[arg(long, env = "PAVED_MARKDOWN", value_name = "FILE")]
    pub markdown: Option<PathBuf>,

    /// Also write a self-contained HTML report with weekly trend charts to this file.
    #[arg(long, env = "PAVED_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Read the deployments (and their statuses) of every repository of this GitHub
    /// organisation. The API and token come from GITHUB_API_URL and GITHUB_TOKEN.
    #[arg(
        long,
        env = "PAVED_GITHUB_ORG",
        value_name = "ORG",
        help_heading = "Sources"
    )]
    pub github_org: Option<String>,

    /// Read the GitHub deployments of these repositories (`owner/name`, comma-separated).
    #[arg(
        long,
        env = "PAVED_GITHUB_REPOS",
        value_name = "OWNER/NAME",
        value_delimiter = ',',
        help_heading = "Sources"
    )]
    pub github_repos: Vec<String>,

    /// Read the deployments of every project of this GitLab group (id or path) and its
    /// subgroups. The API and token come from CI_API_V4_URL and GITLAB_TOKEN or CI_JOB_TOKEN.
    #[arg(
        long,
        env = "PAVED_GITLAB_GROUP",
        value_name = "GROUP",
        help_heading = "Sources"
    )]
    pub gitlab_group: Option<String>,

    /// Read the ServiceNow change requests matching this `sysparm_query` (e.g.
    /// `correlation_idSTARTSWITHacme/`) from --servicenow-url.
    #[arg(
        long,
        env = "PAVED_SERVICENOW_QUERY",
        value_name = "QUERY",
        help_heading = "Sources"
    )]
    pub servicenow_query: Option<String>,

    /// Keep the deployments read in PostgreSQL (`postgres://USER@HOST/DB`, upserted by source
    /// and id) and compute the figures from everything stored there. Without another source,
    /// only the store is read.
    #[arg(long, env = "PAVED_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// Read paved-promote's promotion ledger: its JSON-lines file, or the registry repository
    /// (`HOST/REPOSITORY`) that holds the records. `file:PATH` and `oci://HOST/REPOSITORY` say
    /// which; a value that is both an existing file and registry-shaped needs one.
    #[arg(
        long,
        env = "PAVED_LEDGER",
        value_name = "FILE|REPOSITORY",
        help_heading = "Sources"
    )]
    pub ledger: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (duplicate flags, a global flag shadowed by a subcommand's,
    /// bad defaults), which otherwise only fire when a user hits the broken path.
    #[test]
    fn the_command_line_is_consistent() {
        super::Args::command().debug_assert();
    }
}
