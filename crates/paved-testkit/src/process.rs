//! Servers that cannot outlive the test process.
//!
//! A `Drop` impl is not enough: a test that panics while another thread holds an `Arc` to the
//! server, or a test process killed by nextest's timeout, never drops it, and the server keeps
//! running after the suite (four `docker-registry` processes per `cargo xtask ci` run, before this
//! module). So every server a test starts runs as [`Guarded`]:
//!
//! - in a process group of its own, led by a small `sh` watcher, so one `kill` of the group stops
//!   the server and everything it forked (runuser, PostgreSQL's backends);
//! - the watcher polls the test process five times a second and kills the group as soon as the
//!   test process is gone, however it ended (no drop, SIGKILL, abort);
//! - dropping the guard kills the group at once.
//!
//! Every server's files live in a [`server_dir`] and the watcher is named [`MARKER`], so
//! `cargo xtask ci` can check after the suite that no process mentioning the marker is left.
//!
//! A parent-death signal (`PR_SET_PDEATHSIG`) would need `unsafe` and fires when the spawning
//! *thread* ends, which is too early for servers restarted from a proxy thread.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};

/// The word in the name of every server's temp dir and of every watcher: a process whose command
/// line contains it after the suite is a leak.
pub const MARKER: &str = "paved-testkit-";

/// A temp dir for a server's config, data and log, named with [`MARKER`].
pub fn server_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(MARKER).tempdir()
}

/// A server process (and whatever it forks) that dies with the test process at the latest.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
}

/// The watcher: run the server in the background, wait while both the test process and the server
/// live, then kill the whole group (itself included).
const WATCHER: &str = r#"watched="$1"; shift
"$@" &
server=$!
while kill -0 "$watched" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.2; done
kill -9 0"#;

impl Guarded {
    /// Start `program args…` under the watcher. stdin is closed; stdout and stderr are as given.
    pub fn spawn(
        program: &std::path::Path,
        args: &[&std::ffi::OsStr],
        stdout: Stdio,
        stderr: Stdio,
    ) -> std::io::Result<Guarded> {
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHER)
            .arg(format!("{MARKER}guard"))
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()?;
        Ok(Guarded { child })
    }

    /// The process group (the watcher's pid): `kill -0 -- -<pgid>` tells whether any of it runs.
    pub fn process_group(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server (or the watcher) has exited.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kill the server and everything in its group, reap the watcher, and return once no
    /// process of the group runs. SIGKILL is delivered asynchronously: the server may still be
    /// exiting when the watcher has been reaped, so wait (bounded) until it is gone too.
    pub fn stop(&mut self) {
        let pgid = self.child.id();
        kill_group(pgid);
        let _ = self.child.wait();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while group_alive(pgid) && std::time::Instant::now() < deadline {
            kill_group(pgid);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGKILL to every process in group `pgid`.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether any process of group `pgid` is still alive. Zombies do not count: a killed server
/// whose watcher died first waits for init to reap it, and it runs nothing meanwhile.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
        group == Some(pgid) && state != Some("Z") && state != Some("X")
    })
}
