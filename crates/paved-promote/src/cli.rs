//! Command-line definition.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

/// Digest-preserving OCI promotion with policy, immutability and an audit ledger.
///
/// Copies images and indexes byte-for-byte (children before the index, referrers too), refuses to
/// move an existing tag, enforces the environment order in paved.toml, and records every
/// promotion in the registry (and a ledger file).
///
/// References: `registry/repo:tag`, `registry/repo@sha256:…`, `oci:DIR:TAG` (an OCI image
/// layout). Loopback registries (localhost, 127.*) are reached over plain http; others over
/// https unless named with --plain-http.
///
/// Exit codes: 0 ok (also "already there"), 1 refused (immutable tag, failed policy check),
/// 2 usage or config error, 3 registry or network failure (including an image that is not there).
#[derive(Debug, Parser)]
#[command(
    name = "paved-promote",
    version,
    max_term_width = 100,
    mut_arg("config", |a| a.help("Config file [default: paved.toml in the current directory]"))
)]
pub struct Args {
    #[command(flatten)]
    pub config: paved_core::flags::ConfigArg,

    #[command(flatten)]
    pub result: paved_core::flags::OutputArgs,

    /// Non-loopback registry hosts to reach over plain http (comma-separated).
    #[arg(
        long,
        env = "PAVED_PLAIN_HTTP",
        value_name = "HOST",
        value_delimiter = ',',
        global = true
    )]
    pub plain_http: Vec<String>,

    /// Append promotion records to this JSON-lines file (also read by history and rollback).
    #[arg(long, env = "PAVED_LEDGER", value_name = "FILE", global = true)]
    pub ledger: Option<PathBuf>,

    /// Sign promotion records with this private key (PEM: PKCS#8 Ed25519 or ECDSA P-256, or SEC1
    /// P-256). Required when the environment lists `trusted-keys`; the next environment trusts
    /// only records signed by a key it lists.
    #[arg(long, env = "PAVED_SIGNING_KEY", value_name = "FILE", global = true)]
    pub signing_key: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy an image or index, byte-for-byte, with its referrers.
    Copy(CopyArgs),
    /// Promote an image into an environment of paved.toml, checking the policy.
    Promote(PromoteArgs),
    /// List the promotion records of an image or an environment.
    History(HistoryArgs),
    /// Move an environment's current tag back to its previous digest (or `--to` one).
    Rollback(RollbackArgs),
}

/// Transfer options shared by the commands that copy.
#[derive(Debug, Clone, ClapArgs)]
pub struct TransferArgs {
    /// Parallel blob transfers [default: 4].
    #[arg(long, env = "PAVED_JOBS", value_name = "N")]
    pub jobs: Option<usize>,

    /// Print the plan; copy nothing.
    #[arg(long, env = "PAVED_DRY_RUN")]
    pub dry_run: bool,

    /// Do not copy referrers (signatures, SBOMs, attestations).
    #[arg(long, env = "PAVED_NO_REFERRERS")]
    pub no_referrers: bool,

    /// Upload blobs in chunks of this many bytes (default: one request per blob).
    #[arg(long, env = "PAVED_CHUNK_SIZE", value_name = "BYTES")]
    pub chunk_size: Option<u64>,
}

/// `copy SRC DST`
#[derive(Debug, Clone, ClapArgs)]
pub struct CopyArgs {
    /// Source: registry/repo:tag, registry/repo@sha256:…, or oci:DIR:TAG.
    #[arg(env = "PAVED_SOURCE")]
    pub source: String,

    /// Destination: `registry/repo[:tag]` or `oci:DIR[:TAG]`. Without a tag, the image is pushed by
    /// digest only.
    #[arg(env = "PAVED_DESTINATION")]
    pub destination: String,

    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// `promote --env ENV REF`
#[derive(Debug, Clone, ClapArgs)]
pub struct PromoteArgs {
    /// The environment to promote into (from `[promote] environments`).
    #[arg(long, env = "PAVED_ENV", value_name = "ENV")]
    pub env: String,

    /// The image to promote (usually from the previous environment).
    #[arg(env = "PAVED_REF")]
    pub reference: String,

    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// `history [REF] [--env ENV]`
#[derive(Debug, Clone, ClapArgs)]
pub struct HistoryArgs {
    /// The image whose records to list.
    #[arg(env = "PAVED_REF", required_unless_present = "env")]
    pub reference: Option<String>,

    /// List the records of this environment instead (newest last).
    #[arg(long, env = "PAVED_ENV", value_name = "ENV")]
    pub env: Option<String>,
}

/// `rollback --env ENV`
#[derive(Debug, Clone, ClapArgs)]
pub struct RollbackArgs {
    /// The environment to roll back.
    #[arg(long, env = "PAVED_ENV", value_name = "ENV")]
    pub env: String,

    /// Roll back to this digest (one the environment's records name) instead of the digest
    /// before the current one.
    #[arg(long, env = "PAVED_TO", value_name = "DIGEST")]
    pub to: Option<String>,

    /// Print what would happen; change nothing.
    #[arg(long, env = "PAVED_DRY_RUN")]
    pub dry_run: bool,
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
