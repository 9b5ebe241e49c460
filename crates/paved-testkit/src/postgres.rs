//! A throwaway PostgreSQL cluster: `initdb` into a temp dir, the `postgres` server on a free
//! loopback port as a [`Guarded`] child (so it dies with the test process even when it is never
//! dropped), killed and deleted on drop.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::Guarded;

/// A running cluster. Connect with [`Postgres::url`].
#[derive(Debug)]
pub struct Postgres {
    // Declared before `dir`: the server stops before its data directory is deleted.
    server: Guarded,
    dir: tempfile::TempDir,
    port: u16,
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
        let postgres = crate::find_tool("postgres")?;
        let dir = crate::process::server_dir().map_err(|e| format!("temp dir: {e}"))?;
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
        let port_text = port.to_string();
        let sockets_text = sockets.display().to_string();
        let log = std::fs::File::create(dir.path().join("log")).map_err(|e| e.to_string())?;
        if let Some(user) = &as_user {
            let _ = Command::new("chown")
                .arg(user)
                .arg(dir.path().join("log"))
                .status();
        }
        let mut args: Vec<&OsStr> = Vec::new();
        let runuser = as_user.as_deref().map(|user| ["-u", user, "--"]);
        let program = match &runuser {
            Some(prefix) => {
                args.extend(prefix.iter().map(OsStr::new));
                args.push(postgres.as_os_str());
                std::path::PathBuf::from("runuser")
            }
            None => postgres.clone(),
        };
        args.extend(
            [
                "-D",
                data.to_str().ok_or("the temp dir is not UTF-8")?,
                "-p",
                &port_text,
                "-k",
                &sockets_text,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ]
            .map(OsStr::new),
        );
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let server = Guarded::spawn(&program, &args, Stdio::from(log), Stdio::from(err))
            .map_err(|e| format!("running {}: {e}", postgres.display()))?;
        let mut pg = Postgres { server, dir, port };
        if let Err(e) = crate::wait_for_port(port, Duration::from_secs(30)) {
            let log = std::fs::read_to_string(pg.dir.path().join("log")).unwrap_or_default();
            let exited = if pg.server.has_exited() {
                " (the server exited)"
            } else {
                ""
            };
            return Err(format!("postgres did not start{exited}: {e}\n{log}"));
        }
        // The port opens before the server accepts sessions ("the database system is starting
        // up"); `pg_isready` exits 0 only once it does.
        let isready = crate::find_tool("pg_isready")?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port_text, "-U", "paved"])
                .stdin(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            if pg.server.has_exited() || std::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(pg.dir.path().join("log")).unwrap_or_default();
                return Err(format!(
                    "postgres opened port {port} but did not accept sessions within 30 s\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(pg)
    }

    /// The server's process group (see [`crate::process::group_alive`]).
    pub fn process_group(&self) -> u32 {
        self.server.process_group()
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
