//! Test helpers shared by paved's crates. Never a dependency of a shipped binary.
//!
//! Tests start real parts (PostgreSQL, an OCI registry, test runners). `cargo xtask ci` (or
//! `cargo xtask tools`) installs them: Debian packages system-wide, PyPI packages into
//! `target/tools/venv`, npm packages into `target/tools/npm`. [`tool`] looks in all of those, so a
//! plain `cargo nextest run` finds them too. A test that needs a missing part fails with the
//! reason; it never passes silently.

pub mod actions;
pub mod browser;
pub mod http;
pub mod postgres;
pub mod process;
pub mod registry;
pub mod repo;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .expect("paved-testkit lives in crates/")
        .to_owned()
}

/// Where `cargo xtask tools` installs PyPI and npm packages.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target").join("tools")
}

/// Directories searched after `PATH`.
fn extra_dirs() -> Vec<PathBuf> {
    let tools = tools_dir();
    let mut dirs = vec![
        tools.join("venv").join("bin"),
        tools.join("npm").join("node_modules").join(".bin"),
        PathBuf::from("/usr/sbin"),
        PathBuf::from("/usr/bin"),
    ];
    // PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not on PATH on Debian:
    // `pg_config --bindir` names them where it is installed, else any version under
    // /usr/lib/postgresql, newest first.
    if let Some(bindir) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    {
        dirs.push(bindir);
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs
}

/// Find an installed program, or say how to install it.
pub fn find_tool(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "`{name}` is not installed; run `cargo xtask tools` (or `cargo xtask ci`), which installs every part the tests start"
            )
        })
}

/// Like [`find_tool`], but fails the test with the reason.
#[track_caller]
pub fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|e| panic!("{e}"))
}

/// `PATH` with the tools directories appended, for child processes that look tools up themselves.
pub fn path_with_tools() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(extra_dirs()).collect();
    std::env::join_paths(dirs).expect("tool directories contain no path separators")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

/// Wait until something accepts connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "nothing listened on 127.0.0.1:{port} within {timeout:?}"
    ))
}

/// The `common` module every tool's integration tests use: paved-testkit's [`repo::TestRepo`]
/// bound to the binary under test. `paved_testkit::tool_tests!(env!("CARGO_BIN_EXE_paved-x"));`
/// at the top of `tests/it/main.rs`.
#[macro_export]
macro_rules! tool_tests {
    ($bin:expr) => {
        /// The binary under test.
        const BIN: &str = $bin;

        /// Real repositories from paved-testkit, run against this crate's binary. Each test module uses
        /// its own part of it.
        #[allow(dead_code)]
        mod common {
            use std::path::{Path, PathBuf};

            pub use $crate::repo::Run;
            #[allow(unused_imports)]
            pub use $crate::repo::git_cmd;

            /// paved-testkit's [`paved_testkit::repo::TestRepo`], which runs this crate's binary.
            pub struct TestRepo($crate::repo::TestRepo);

            impl TestRepo {
                pub fn new() -> Self {
                    TestRepo($crate::repo::TestRepo::new())
                }

                /// Run the tool under test here.
                pub fn paved(&self, args: &[&str]) -> Run {
                    self.paved_env(args, &[])
                }

                pub fn paved_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
                    self.0.run(super::BIN, args, env)
                }
            }

            impl std::ops::Deref for TestRepo {
                type Target = $crate::repo::TestRepo;
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }

            pub fn bin() -> PathBuf {
                PathBuf::from(super::BIN)
            }

            pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
                $crate::repo::run(super::BIN, dir, args, env)
            }
        }
    };
}
