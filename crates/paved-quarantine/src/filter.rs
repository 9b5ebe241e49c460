//! `paved-quarantine filter`. Not built yet.

/// Arguments of `filter`.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {}

/// Run `filter`.
pub fn run(_args: &FilterArgs) -> paved_core::Result<u8> {
    Err(paved_core::Error::Usage("`filter` is not built yet".into()))
}
