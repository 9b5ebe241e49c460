//! A throwaway OCI registry: Debian's `docker-registry` (distribution v2) on a free loopback
//! port, with a temp storage directory and a generated `config.yml`; optionally with htpasswd
//! (bcrypt) authentication. Stopped (killed) on drop; [`Registry::restart`] keeps port and data.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::Guarded;

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    child: Option<Guarded>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start an open registry.
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// Start a registry that requires `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_htpasswd(user: &str, password: &str) -> Registry {
        Self::start_inner(Some((user, password)))
    }

    fn start_inner(auth: Option<(&str, &str)>) -> Registry {
        let dir = crate::process::server_dir().expect("temp dir for the registry");
        let port = crate::free_port();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("registry storage dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            data.display()
        );
        if let Some((user, password)) = auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{}\n", bcrypt(password)))
                .expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: paved-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), config).expect("write registry config");
        let mut registry = Registry {
            child: None,
            port,
            dir,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .expect("registry log");
        let config = self.dir.path().join("config.yml");
        let child = Guarded::spawn(
            &crate::tool("docker-registry"),
            &[OsStr::new("serve"), config.as_os_str()],
            Stdio::from(log.try_clone().expect("log handle")),
            Stdio::from(log),
        )
        .unwrap_or_else(|e| panic!("could not start docker-registry: {e}"));
        self.child = Some(child);
        if let Err(e) = crate::wait_for_port(self.port, Duration::from_secs(20)) {
            let log =
                std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
            panic!("docker-registry did not start: {e}\n{log}");
        }
    }

    /// `127.0.0.1:PORT`, as written in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The registry's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Stop the process (the data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.stop();
        }
    }

    /// Stop and start again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The process group of the running server ([`crate::process::group_alive`] tells whether it
    /// still runs).
    pub fn process_group(&self) -> Option<u32> {
        self.child.as_ref().map(Guarded::process_group)
    }

    /// The directory holding config and data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bcrypt hash of `password` for htpasswd files, made by libc's `crypt` through perl (Debian's
/// libxcrypt supports `$2b$`), so no htpasswd binary or bcrypt crate is needed.
pub fn bcrypt(password: &str) -> String {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(7);
    let salt: String = (0..22)
        .map(|i| char::from(ALPHABET[((seed >> (i % 20)) as usize + i * 7) % 64]))
        .collect();
    let out = Command::new(crate::tool("perl"))
        .args(["-e", "print crypt($ARGV[0], $ARGV[1])", password])
        .arg(format!("$2b$05${salt}"))
        .output()
        .expect("run perl for a bcrypt hash");
    let hash = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        hash.starts_with("$2b$"),
        "perl's crypt made no bcrypt hash (libxcrypt missing?): `{hash}`"
    );
    hash
}
