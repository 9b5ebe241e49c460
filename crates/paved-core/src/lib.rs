//! Shared pieces of paved.
//!
//! Every paved tool is a small binary over a library; the parts they have in common live here, one
//! module per concern, so that there is exactly one retry loop, one `$GITHUB_OUTPUT` writer, one
//! tag-template parser and one set of exit codes in the whole suite.
//!
//! - [`git`]: reading history through gix (tags, rev-walks, commit decoding, path filters) and the
//!   few operations that shell out to `git` (fetch/deepen, push).
//! - [`conventional`]: classifying commit messages as Conventional Commits, reverts or unparsed.
//! - [`semver_rules`]: bump levels, the type → bump map, and next-version arithmetic.
//! - [`tag`]: tag templates such as `v{version}` or `{name}@{version}`.
//! - [`config`]: `paved.toml`, with unknown keys rejected.
//! - [`ci`]: the CI sink: GitHub outputs, step summary, annotations and masks; GitLab dotenv;
//!   JSON on stdout.
//! - [`fs`]: atomic file writes.
//! - [`http`]: the one HTTP client: ureq over rustls, timeouts, retries with backoff and jitter,
//!   rate limits, auth that never leaks into errors, `Link` pagination.
//! - `testing` (cargo feature `testing`, for tests only): a scripted fake HTTP server and a fake
//!   clock, so API clients are tested against local servers in milliseconds.
//! - [`exit`] and [`error`]: exit codes and the error type every tool maps onto them.
//! - [`cli`]: the shared `main` wrapper that prints errors and picks the exit code.

pub mod ci;
pub mod cli;
pub mod config;
pub mod conventional;
pub mod error;
pub mod exit;
pub mod fs;
pub mod git;
pub mod http;
pub mod semver_rules;
pub mod tag;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};
