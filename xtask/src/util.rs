//! Small helpers: running commands loudly, finding the workspace root.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Print a step heading, run `cmd`, fail with its status.
pub fn step(title: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {title}\n    $ {}", describe(cmd));
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{title}: could not start `{}`: {e}", describe(cmd)))?;
    eprintln!("    ({title}: {:.1}s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{title} failed ({status}); rerun `{}` to see why",
            describe(cmd)
        ))
    }
}

/// True when `program --version` runs.
pub fn have(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // PATH is left alone: build scripts (ring's) rerun when it changes, so a different PATH here
    // than in the `cargo xtask` that built this binary would rebuild the TLS stack every step.
    // Tests find installed tools through paved-testkit; lint-ci and e2e use full paths.
    c.current_dir(root());
    c
}
