//! Errors of paved-forge, mapped onto paved's exit codes through [`Diagnostic`].

use std::path::PathBuf;

use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::http::HttpError;

/// Result alias for paved-forge.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to a forge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API request failed (after retries); the message names the request and the status.
    #[error(transparent)]
    Http(#[from] HttpError),

    /// From the shared pieces (HTTP settings from the environment, git).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// An operation that writes needs a token and none is set.
    #[error("{operation} needs a token, and {variables} is not set")]
    MissingToken {
        /// What was being done, e.g. "creating the GitHub release `v1.2.0`".
        operation: String,
        /// The variable(s) to set, already in backticks, e.g. "`GITHUB_TOKEN`".
        variables: String,
        /// How to set it in CI.
        hint: String,
    },

    /// A configuration value (usually an environment variable) is missing or malformed.
    #[error("{message}")]
    Config {
        /// What is wrong, naming the variable.
        message: String,
        /// What to do.
        hint: String,
    },

    /// The caller asked for something this forge cannot do.
    #[error("{message}")]
    Unsupported {
        /// What cannot be done, and why.
        message: String,
        /// What to do instead.
        hint: String,
    },

    /// An asset to upload cannot be used.
    #[error("cannot upload `{}`: {message}", path.display())]
    Asset {
        /// The file.
        path: PathBuf,
        /// Why not.
        message: String,
    },

    /// The forge answered in a way its documentation does not describe.
    #[error("{message}")]
    Unexpected {
        /// What was expected and what came instead, naming the request.
        message: String,
    },
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Http(e) => e.category(),
            Error::Core(e) => e.category(),
            Error::MissingToken { .. }
            | Error::Config { .. }
            | Error::Unsupported { .. }
            | Error::Asset { .. } => Category::Usage,
            Error::Unexpected { .. } => Category::External,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Http(e) => e.hint(),
            Error::Core(e) => e.hint(),
            Error::MissingToken { hint, .. }
            | Error::Config { hint, .. }
            | Error::Unsupported { hint, .. } => Some(hint.clone()),
            Error::Asset { .. } => Some("check the path; assets must be regular files".into()),
            Error::Unexpected { .. } => Some(
                "re-run the job; if it keeps failing, check the API URL and report it with this message".into(),
            ),
        }
    }
}
