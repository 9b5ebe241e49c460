//! `paved-quarantine update`. Not built yet.

/// Arguments of `update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {}

/// Run `update`.
pub fn run(_args: &UpdateArgs) -> paved_core::Result<u8> {
    Err(paved_core::Error::Usage("`update` is not built yet".into()))
}
