//! `[change]`: settings for paved-change.

use serde::Deserialize;

/// `[change]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChangeConfig {}
