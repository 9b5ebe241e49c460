//! paved-promote's integration tests, in one binary so the suite links once per crate.

mod common;
mod copy;
mod credentials;
mod faults;
mod hostile;
mod minor;
mod promote;
mod require;
mod signed;
mod snapshots;
