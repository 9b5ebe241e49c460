//! paved-forge's integration tests, in one binary so the suite links once per crate.

mod comments;
mod deployments;
mod github;
mod gitlab;
mod issues;
mod pipelines;
mod proposals;
