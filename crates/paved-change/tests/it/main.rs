//! paved-change's integration tests, in one binary so the suite links once per crate.

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_paved-change");

/// Real repositories from paved-testkit, run against this crate's binary. Each test module uses
/// its own part of it.
#[allow(dead_code)]
mod common {
    use std::path::{Path, PathBuf};

    pub use paved_testkit::repo::Run;
    #[allow(unused_imports)]
    pub use paved_testkit::repo::git_cmd;

    /// paved-testkit's [`paved_testkit::repo::TestRepo`], which runs this crate's binary.
    pub struct TestRepo(paved_testkit::repo::TestRepo);

    impl TestRepo {
        pub fn new() -> Self {
            TestRepo(paved_testkit::repo::TestRepo::new())
        }

        /// Run the tool under test here.
        pub fn paved(&self, args: &[&str]) -> Run {
            self.paved_env(args, &[])
        }

        pub fn paved_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
            self.0.run(crate::BIN, args, env)
        }
    }

    impl std::ops::Deref for TestRepo {
        type Target = paved_testkit::repo::TestRepo;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    pub fn bin() -> PathBuf {
        PathBuf::from(crate::BIN)
    }

    pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        paved_testkit::repo::run(crate::BIN, dir, args, env)
    }
}

mod backends;
mod change;
mod hostile;
mod support;
