//! Errors of paved-version.

use paved_core::error::Diagnostic;
use paved_core::exit::Category;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong computing or applying a version.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the shared pieces (git, config, files).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// A version file could not be updated.
    #[error("could not set the version in `{path}`: {message}")]
    VersionFile { path: String, message: String },

    /// `--push` without `--tag`, and similar.
    #[error("{0}")]
    Usage(String),
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Core(e) => e.category(),
            Error::VersionFile { .. } | Error::Usage(_) => Category::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Core(e) => e.hint(),
            Error::VersionFile { .. } => Some(
                "fix the file, or remove it from `files` in paved.toml; nothing was written".into(),
            ),
            Error::Usage(_) => None,
        }
    }
}
