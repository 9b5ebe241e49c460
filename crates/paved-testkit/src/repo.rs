//! Real repositories built with the git CLI in temp dirs, and a runner for a paved binary with a
//! clean, deterministic environment. Each tool's test binary wraps [`run`] with its own binary
//! (`CARGO_BIN_EXE_<name>`).

use std::cell::Cell;
use std::path::Path;
use std::process::{Command, Output};

/// A git repository in a temp dir. Commit dates advance one minute per commit, so ids are stable.
#[derive(Debug)]
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    clock: Cell<i64>,
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRepo {
    pub fn new() -> Self {
        let repo = TestRepo {
            dir: tempfile::tempdir().unwrap(),
            clock: Cell::new(1_700_000_000),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn date(&self) -> String {
        let t = self.clock.get() + 60;
        self.clock.set(t);
        format!("@{t} +0000")
    }

    /// Run git with a fixed identity and the next timestamp; panics with git's stderr on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn git_output(&self, args: &[&str]) -> Output {
        let date = self.date();
        git_cmd(self.path())
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap()
    }

    /// An empty commit with `message`; returns its id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// A commit that changes `path` (relative), with `message`.
    pub fn commit_file(&self, path: &str, message: &str) -> String {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        let n = self.clock.get();
        std::fs::write(&full, format!("{path} {n}\n")).unwrap();
        self.git(&["add", path]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    /// A commit whose message is exactly `message` (bytes, no re-encoding by git) on top of HEAD,
    /// with an optional `encoding` header. `git commit` converts invalid UTF-8 itself, so this
    /// writes the object with `git hash-object --literally`.
    pub fn commit_raw(&self, message: &[u8], encoding: Option<&str>) -> String {
        let tree = self.git(&["rev-parse", "HEAD^{tree}"]);
        let parent = self.head();
        let t = self.clock.get() + 60;
        self.clock.set(t);
        let mut object = format!(
            "tree {tree}\nparent {parent}\nauthor Ada Lovelace <ada@example.com> {t} +0000\ncommitter Ada Lovelace <ada@example.com> {t} +0000\n"
        )
        .into_bytes();
        if let Some(e) = encoding {
            object.extend_from_slice(format!("encoding {e}\n").as_bytes());
        }
        object.push(b'\n');
        object.extend_from_slice(message);
        let file = self.path().join(".git/raw-commit");
        std::fs::write(&file, object).unwrap();
        let id = self.git(&[
            "hash-object",
            "--literally",
            "-w",
            "-t",
            "commit",
            file.to_str().unwrap(),
        ]);
        self.git(&["update-ref", "HEAD", &id]);
        id
    }

    pub fn write(&self, path: &str, contents: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).unwrap()
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("Release {name}")]);
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Run the binary `bin` here with a scrubbed environment (see [`run`]).
    pub fn run(&self, bin: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(bin, self.path(), args, env)
    }
}

/// A `git` command with no user or system config, and a fixed identity.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert success and return stdout trimmed.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout.trim()
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "expected success\nstderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.stdout))
    }
}

/// Run the binary `bin` in `dir` with a scrubbed environment: no CI variables leak in from the host.
pub fn run(bin: impl AsRef<Path>, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin.as_ref());
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("PAVED_")
            || k.starts_with("GITHUB_")
            || k.starts_with("GITLAB_")
            || k == "CI"
            || k.starts_with("GIT_")
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_COMMITTER_NAME", "Release Bot")
        .env("GIT_COMMITTER_EMAIL", "bot@example.com")
        .env("NO_COLOR", "1");
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
