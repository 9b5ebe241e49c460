//! Process exit codes shared by every paved tool.
//!
//! These are part of the public contract: pipelines branch on them.

/// Success, including "nothing to release".
pub const OK: u8 = 0;
/// A decided "no": a gate failed, a policy refused, an approval was rejected, a tag exists elsewhere.
pub const REFUSED: u8 = 1;
/// Usage, configuration or input error: a bad flag, an unreadable file, malformed config.
pub const USAGE: u8 = 2;
/// The environment or an external system failed after retries: git, network, API, registry, timeout.
pub const EXTERNAL: u8 = 3;

/// What kind of failure an error is; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// See [`REFUSED`].
    Refused,
    /// See [`USAGE`].
    Usage,
    /// See [`EXTERNAL`].
    External,
}

impl Category {
    /// The exit code for this category.
    pub fn code(self) -> u8 {
        match self {
            Category::Refused => REFUSED,
            Category::Usage => USAGE,
            Category::External => EXTERNAL,
        }
    }
}
