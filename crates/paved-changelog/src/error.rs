//! Errors of paved-changelog.

use paved_core::error::Diagnostic;
use paved_core::exit::Category;

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong making release notes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the shared pieces (git, config, files).
    #[error(transparent)]
    Core(#[from] paved_core::Error),

    /// GitHub or GitLab.
    #[error(transparent)]
    Forge(#[from] paved_forge::Error),

    /// The HTTP client could not be configured.
    #[error(transparent)]
    Http(#[from] paved_core::http::HttpError),

    /// A template failed to compile or render.
    #[error("template `{template}`: {message}")]
    Template { template: String, message: String },

    /// The rendering thread ended before the history walk did (a bug, not the input's fault).
    #[error("the renderer stopped before the history walk ended")]
    RendererStopped,

    /// Bad flags or values.
    #[error("{0}")]
    Usage(String),
}

impl Diagnostic for Error {
    fn category(&self) -> Category {
        match self {
            Error::Core(e) => e.category(),
            Error::Forge(e) => e.category(),
            Error::Http(e) => e.category(),
            Error::Template { .. } | Error::Usage(_) => Category::Usage,
            Error::RendererStopped => Category::External,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Core(e) => e.hint(),
            Error::Forge(e) => e.hint(),
            Error::Http(e) => e.hint(),
            Error::Template { .. } => Some(
                "fields the template can use are printed by `paved-changelog --context`; see the README's template reference"
                    .into(),
            ),
            Error::RendererStopped => Some(
                "this is a bug in paved-changelog: please report it with the command you ran".into(),
            ),
            _ => None,
        }
    }
}
