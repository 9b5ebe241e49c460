//! paved-testkit's own tests, in one binary.

mod cleanup;
