//! The [`Diagnostic`] trait: what every paved error knows besides its message.
//!
//! It depends on nothing but the exit categories, so that any module's error type (the HTTP
//! client's, the tools') can implement it without reaching back into [`crate::error`], and the
//! shared `main` wrapper in [`crate::cli`] can print any of them.

use crate::exit::Category;

/// An error a user can act on: it knows its exit category and, where there is one, the next step.
pub trait Diagnostic: std::error::Error {
    /// Which exit code this error maps to.
    fn category(&self) -> Category;
    /// What to do next, shown under the error as `hint:`.
    fn hint(&self) -> Option<String> {
        None
    }
}
