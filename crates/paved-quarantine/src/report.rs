//! `paved-quarantine report`. Not built yet.

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

/// Run `report`.
pub fn run(_args: &ReportArgs) -> paved_core::Result<u8> {
    Err(paved_core::Error::Usage("`report` is not built yet".into()))
}
