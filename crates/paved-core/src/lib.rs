//! Shared pieces of paved.
//!
//! Every paved tool is a small binary over a library; the parts they have in common live here, one
//! module per concern, so that there is exactly one retry loop, one `$GITHUB_OUTPUT` writer, one
//! tag-template parser and one set of exit codes in the whole suite.
//!
//! - [`git`]: reading history through gix (tags, rev-walks, commit decoding, path filters) and the
//!   few operations that shell out to `git` (fetch/deepen, push).
//! - [`release`]: the release range (base tags, the commits since them) and the next version of
//!   each package; paved-version, paved-changelog and paved-change all compute it here.
//! - [`conventional`]: classifying commit messages as Conventional Commits, reverts or unparsed.
//! - [`semver_rules`]: bump levels, the type → bump map, and next-version arithmetic.
//! - [`workspace`]: which `[[version.package]]` depends on which, from the Cargo and npm
//!   manifests (the dependencies [`release::plan_with_dependencies`] propagates releases along).
//! - [`tag`]: tag templates such as `v{version}` or `{name}@{version}`.
//! - [`config`]: `paved.toml`, with unknown keys rejected.
//! - [`ci`]: the CI sink: GitHub outputs, step summary, annotations and masks; GitLab dotenv;
//!   JSON on stdout.
//! - [`fs`]: atomic file writes.
//! - [`http`]: the one HTTP client: ureq over rustls, timeouts, retries with backoff and jitter,
//!   rate limits, auth that never leaks into errors, `Link` pagination.
//! - [`redact`]: how URLs appear in anything printed (no userinfo, query or fragment).
//! - [`sign`]: keys (PEM, Ed25519 and ECDSA P-256), DSSE envelopes, in-toto statements and plain
//!   signature checks, for promotion records, attestations and evidence bundles.
//! - [`exit`] and [`error`]: exit codes and the error type every tool maps onto them.
//! - [`flags`]: `--repo`, `--config`, `--json`, `--dotenv`, declared once for every tool.
//! - [`cli`]: the shared `main` wrapper that prints errors and picks the exit code.

pub mod ci;
pub mod cli;
pub mod config;
pub mod conventional;
mod diagnostic;
pub mod error;
pub mod exit;
pub mod flags;
pub mod fs;
pub mod git;
pub mod http;
pub mod redact;
pub mod release;
pub mod semver_rules;
pub mod sign;
pub mod tag;
pub mod workspace;

pub use error::{Error, Result};
