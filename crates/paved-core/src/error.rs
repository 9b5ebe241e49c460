//! The error type of paved-core, and the [`Diagnostic`] trait every tool's error implements so the
//! shared `main` wrapper can pick an exit code and print a hint.

use std::path::PathBuf;

pub use crate::diagnostic::Diagnostic;
use crate::exit::Category;

/// Result alias for paved-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised by the shared pieces.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No repository where one was expected.
    #[error("`{path}` is not inside a git repository: {message}")]
    NotARepo { path: PathBuf, message: String },

    /// Reading or writing the repository failed.
    #[error("git: could not {action}: {message}")]
    Git { action: String, message: String },

    /// A `git` subprocess failed.
    #[error("`git {args}` failed{status}: {stderr}")]
    GitCommand {
        args: String,
        status: String,
        stderr: String,
    },

    /// History is cut off by a shallow clone and could not be deepened.
    #[error(
        "the clone is shallow and the history needed to compute the release is missing ({detail})"
    )]
    Shallow { detail: String },

    /// `paved.toml` (or `--config`) could not be read or is invalid.
    #[error("invalid config `{path}`: {message}")]
    Config { path: PathBuf, message: String },

    /// A user-supplied value is invalid.
    #[error("{0}")]
    Usage(String),

    /// A file could not be read or written.
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file exists but its contents are not what was expected.
    #[error("`{path}`: {message}")]
    BadFile { path: PathBuf, message: String },

    /// A package manifest (Cargo.toml, package.json) whose dependencies could not be read.
    #[error("could not read the dependencies in `{path}`: {message}")]
    Manifest { path: String, message: String },

    /// Writing the result to stdout failed (a closed pipe is treated as success by [`crate::cli`]).
    #[error("could not write to stdout: {0}")]
    Stdout(#[source] std::io::Error),

    /// An HTTP request failed (see [`crate::http::HttpError`]).
    #[error(transparent)]
    Http(#[from] crate::http::error::HttpError),

    /// A decided refusal, e.g. a tag already points at another commit.
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
    },

    /// The operating system gave no random bytes (for a temp file name or an output delimiter).
    #[error("no random bytes from the operating system for {purpose}")]
    NoRandomness {
        purpose: &'static str,
        #[source]
        source: getrandom::Error,
    },

    /// `--package` names a package that is not configured.
    #[error("package `{name}` is not configured in `[[version.package]]`{known}")]
    UnknownPackage { name: String, known: String },

    /// A key, signature, envelope or statement (see [`crate::sign::SignError`]).
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
}

impl Error {
    pub(crate) fn git(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Git {
            action: action.into(),
            message: err.to_string(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::NotARepo { .. }
            | Error::Config { .. }
            | Error::Usage(_)
            | Error::BadFile { .. }
            | Error::Manifest { .. } => Category::Usage,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Category::Usage
            }
            Error::Io { .. }
            | Error::Stdout(_)
            | Error::Git { .. }
            | Error::GitCommand { .. }
            | Error::Shallow { .. }
            | Error::NoRandomness { .. } => Category::External,
            Error::Refused { .. } => Category::Refused,
            Error::Http(e) => e.category(),
            Error::UnknownPackage { .. } => Category::Usage,
            Error::Sign(e) => e.category(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::NotARepo { .. } => Some("run paved inside a git checkout, or pass `--repo DIR`".into()),
            Error::Shallow { .. } => Some(
                "fetch the full history: `actions/checkout` with `fetch-depth: 0`, `GIT_DEPTH: 0` on GitLab, \
                 or `git fetch --unshallow --tags`; or let paved deepen it with `--fetch auto`"
                    .into(),
            ),
            Error::Config { .. } => Some("fix the file; every key is listed in the README's paved.toml reference".into()),
            Error::Manifest { .. } => Some(
                "fix the manifest: paved reads it to find which `[[version.package]]` depends on \
                 which; nothing was written"
                    .into(),
            ),
            Error::Refused { hint, .. } => hint.clone(),
            Error::Http(e) => e.hint(),
            Error::NoRandomness { .. } => Some(
                "the sandbox this runs in blocks the `getrandom` system call and `/dev/urandom`; allow one of them"
                    .into(),
            ),
            Error::UnknownPackage { .. } => {
                Some("add it to paved.toml, or drop `--package` to see every package".into())
            }
            Error::Sign(e) => e.hint(),
            _ => None,
        }
    }
}
