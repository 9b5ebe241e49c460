//! `[promote]`: settings for paved-promote.

use serde::Deserialize;

/// `[promote]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PromoteConfig {}
