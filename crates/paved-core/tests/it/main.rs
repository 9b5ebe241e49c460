//! paved-core's integration tests: one binary (see ARCHITECTURE.md, "Tests").

mod http;
mod sign;
