//! paved-change's integration tests, in one binary so the suite links once per crate.

paved_testkit::tool_tests!(env!("CARGO_BIN_EXE_paved-change"));

mod approvals;
mod backends;
mod change;
mod dora;
mod hostile;
mod signed;
mod snow_change;
mod support;
mod verify;
