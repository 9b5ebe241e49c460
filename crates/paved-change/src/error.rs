//! Errors of paved-change, mapped onto paved's exit codes.

use std::path::PathBuf;

use paved_core::error::Diagnostic;
use paved_core::exit::Category;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong opening, waiting on, closing or checking a change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the shared pieces (git, config, files, HTTP).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// From the forge clients (GitHub, GitLab).
    #[error(transparent)]
    Forge(#[from] paved_forge::Error),

    /// A bad flag value, config value or input.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    /// A bundle or record file that cannot be read or is not a paved change bundle.
    #[error("`{}` is not a readable change bundle: {message}", path.display())]
    BadBundle { path: PathBuf, message: String },

    /// A backend answered in a way its documentation does not describe.
    #[error("{0}")]
    Backend(String),

    /// A decided "no": the backend refused the change (e.g. required status checks failed).
    #[error("{message}")]
    Refused {
        message: String,
        hint: Option<String>,
    },

    /// The DORA store (PostgreSQL) failed.
    #[error("the DORA store `{store}` failed")]
    Store {
        /// The store's URL, without credentials.
        store: String,
        /// The database's own error, kept so its causes are printed too.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// `wait` ran out of time.
    #[error("change `{id}` was not approved within {waited}; it is still `{state}`")]
    Timeout {
        id: String,
        waited: String,
        state: String,
    },
}

impl Error {
    /// A failure of the store `store`.
    pub fn store(store: &str, err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Store {
            store: store.to_owned(),
            source: err.into(),
        }
    }

    /// A usage error with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl From<paved_core::sign::SignError> for Error {
    fn from(e: paved_core::sign::SignError) -> Self {
        Error::Core(e.into())
    }
}

impl From<paved_core::http::HttpError> for Error {
    fn from(e: paved_core::http::HttpError) -> Self {
        Error::Core(e.into())
    }
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Core(e) => e.category(),
            Error::Forge(e) => e.category(),
            Error::Usage { .. } | Error::BadBundle { .. } => Category::Usage,
            Error::Backend(_) | Error::Timeout { .. } | Error::Store { .. } => Category::External,
            Error::Refused { .. } => Category::Refused,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Core(e) => e.hint(),
            Error::Forge(e) => e.hint(),
            Error::Usage { hint, .. } | Error::Refused { hint, .. } => hint.clone(),
            Error::BadBundle { .. } => Some(
                "pass the JSON file `paved-change open` wrote (see docs/change-bundle.md)".into(),
            ),
            Error::Backend(_) => Some(
                "re-run the job; if it keeps failing, check the backend URL and report this message"
                    .into(),
            ),
            Error::Store { .. } => Some(
                "check that the PostgreSQL server in `--store` is reachable and that the user may create tables there (the first run creates them)"
                    .into(),
            ),
            Error::Timeout { .. } => Some(
                "ask an approver to decide, then re-run `paved-change wait`; or raise `--timeout`"
                    .into(),
            ),
        }
    }
}
