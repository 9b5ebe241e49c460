//! paved-version's integration tests, in one binary so the suite links once per crate.

paved_testkit::tool_tests!(env!("CARGO_BIN_EXE_paved-version"));

mod calibrate;
mod hostile;
mod snapshots;
mod verdicts;
mod version;
mod workspace;
