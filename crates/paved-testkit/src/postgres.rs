//! A throwaway PostgreSQL cluster: `initdb` into a temp dir, `pg_ctl start` on a free loopback
//! port, stopped (immediate mode) and deleted on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running cluster. Connect with [`Postgres::url`].
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    pg_ctl: PathBuf,
    port: u16,
    as_user: Option<String>,
}

/// PostgreSQL refuses to run as root; as root, run its binaries as the `postgres` user that the
/// Debian package creates.
fn server_user() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&uid.stdout).trim() == "0").then(|| "postgres".to_owned())
}

fn command(program: &std::path::Path, as_user: Option<&str>) -> Command {
    match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

impl Postgres {
    /// Start a cluster, or fail the test with the reason (missing binaries, initdb/start errors).
    #[track_caller]
    pub fn start() -> Postgres {
        Self::try_start().unwrap_or_else(|e| panic!("could not start PostgreSQL: {e}"))
    }

    /// Start a cluster.
    pub fn try_start() -> Result<Postgres, String> {
        let initdb = crate::find_tool("initdb")?;
        let pg_ctl = crate::find_tool("pg_ctl")?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let data = dir.path().join("data");
        let as_user = server_user();
        let sockets = dir.path().join("sock");
        std::fs::create_dir_all(&sockets).map_err(|e| e.to_string())?;
        if let Some(user) = &as_user {
            let ok = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!(
                    "running as root, and could not chown the cluster directory to `{user}`"
                ));
            }
        }
        let out = command(&initdb, as_user.as_deref())
            .args([
                "-A",
                "trust",
                "-U",
                "paved",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", initdb.display()))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = crate::free_port();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=50",
            sockets.display()
        );
        let out = command(&pg_ctl, as_user.as_deref())
            .arg("-D")
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(dir.path().join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", pg_ctl.display()))?;
        let pg = Postgres {
            dir,
            pg_ctl,
            port,
            as_user,
        };
        if !out.status.success() {
            let log = std::fs::read_to_string(pg.dir.path().join("log")).unwrap_or_default();
            return Err(format!(
                "pg_ctl start failed: {}{log}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        crate::wait_for_port(port, Duration::from_secs(30))?;
        Ok(pg)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the `postgres` database as the superuser `paved`.
    pub fn url(&self) -> String {
        format!("postgres://paved@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = command(&self.pg_ctl, self.as_user.as_deref())
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
