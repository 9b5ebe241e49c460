//! Errors of paved-quarantine's ingest, store, analyze and gate. The other subcommands return
//! `paved_core::Result`, which converts into [`Error::Core`].

use paved_core::error::Diagnostic;
use paved_core::exit::Category;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the shared pieces (files, config, JUnit input).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// The history store failed (connection, I/O, a query).
    #[error("history store `{store}`: {source}")]
    Store {
        store: String,
        /// The database's own error, kept so its causes are printed too.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The store was written by a newer paved-quarantine.
    #[error(
        "history store `{store}` has schema version {found}, newer than this paved-quarantine knows ({known})"
    )]
    NewerSchema {
        store: String,
        found: i64,
        known: i64,
    },

    /// A forge request failed (`collect`).
    #[error(transparent)]
    Forge(#[from] paved_forge::Error),

    /// A flag or value is invalid.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn store(
        store: &str,
        err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Store {
            store: store.to_owned(),
            source: err.into(),
        }
    }
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Core(e) => e.category(),
            Error::Forge(e) => e.category(),
            Error::Store { .. } => Category::External,
            Error::NewerSchema { .. } | Error::Usage(_) => Category::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Core(e) => e.hint(),
            Error::Forge(e) => e.hint(),
            Error::Store { .. } => Some(
                "check that the store is reachable and writable (`--store`, default `.paved/quarantine.db`); \
                 nothing from the failed file was stored, files ingested before it are kept"
                    .into(),
            ),
            Error::NewerSchema { .. } => {
                Some("upgrade paved-quarantine to the version that wrote the store".into())
            }
            Error::Usage(_) => None,
        }
    }
}
