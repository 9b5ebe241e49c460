//! `[quarantine]`: settings for paved-quarantine.

use serde::Deserialize;

/// `[quarantine]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct QuarantineConfig {}
