//! Errors of paved-promote.

use std::path::PathBuf;

use paved_core::error::Diagnostic;
use paved_core::exit::Category;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong promoting an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the shared pieces (config, files, stdout).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// A registry request failed after retries.
    #[error(transparent)]
    Http(#[from] paved_core::http::HttpError),

    /// A bad flag, reference or config value.
    #[error("{0}")]
    Usage(String),

    /// A bad input or config value, with the fix.
    #[error("{message}")]
    Input {
        /// What is wrong, with what.
        message: String,
        /// How to fix it.
        hint: String,
    },

    /// A decided "no": immutability or a promotion policy check.
    #[error("{message}")]
    Refused {
        /// What was refused and why.
        message: String,
        /// What to do next.
        hint: Option<String>,
    },

    /// The registry answered something the protocol does not allow (a digest mismatch, a
    /// missing `Location`), or refused our credentials.
    #[error("{message}")]
    Registry {
        /// What happened, to which registry.
        message: String,
        /// What to do next.
        hint: Option<String>,
    },

    /// Something that should exist is not there (an image, a tag, a blob): exit 3.
    #[error("{message}")]
    NotFound {
        /// What is missing.
        message: String,
        /// What to do next.
        hint: Option<String>,
    },

    /// A local file paved-promote reads (an OCI layout's `index.json` or blob, the ledger) is
    /// damaged.
    #[error("`{}`: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
        /// How to repair it.
        hint: String,
    },

    /// A local file (layout, ledger, temp file) could not be read or written.
    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        /// What we tried.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
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

    /// A damaged file in the OCI layout at `layout`.
    pub(crate) fn corrupt_layout(
        layout: &std::path::Path,
        path: impl Into<PathBuf>,
        message: impl Into<String>,
    ) -> Self {
        Error::BadFile {
            path: path.into(),
            message: message.into(),
            hint: format!(
                "the OCI layout `{}` is damaged: restore it from where it came from, or recreate it \
                 (for example `skopeo copy docker://IMAGE oci:{}`)",
                layout.display(),
                layout.display()
            ),
        }
    }

    pub(crate) fn registry(message: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Registry {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Core(e) => e.category(),
            Error::Http(e) => e.category(),
            Error::Usage(_) | Error::Input { .. } | Error::BadFile { .. } => Category::Usage,
            // The help's "3 registry or network failure": the registry does not have it.
            Error::NotFound { .. } => Category::External,
            Error::Refused { .. } => Category::Refused,
            Error::Registry { .. } => Category::External,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Category::Usage
            }
            Error::Io { .. } => Category::External,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Core(e) => e.hint(),
            Error::Http(e) => e.hint(),
            Error::Usage(_) => Some("see `paved-promote --help`".into()),
            Error::Refused { hint, .. }
            | Error::Registry { hint, .. }
            | Error::NotFound { hint, .. } => hint.clone(),
            Error::BadFile { hint, .. } | Error::Input { hint, .. } => Some(hint.clone()),
            Error::Io { .. } => Some("check the path and its permissions".into()),
        }
    }
}
