//! paved-changelog's integration tests, in one binary so the suite links once per crate.

paved_testkit::tool_tests!(env!("CARGO_BIN_EXE_paved-changelog"));

mod agree;
mod changelog;
mod hostile;
mod publish;
