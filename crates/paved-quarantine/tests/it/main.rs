//! paved-quarantine's integration tests, in one binary so the suite links once per crate.

mod analyze;
mod collect;
mod collect_gitlab;
mod filter;
mod gate;
mod gate_comment;
mod hostile;
mod ingest;
mod junit;
mod list;
mod propose;
mod report;
mod reruns;
mod simulator;
mod source;
mod store;
mod update;
mod update_store;
