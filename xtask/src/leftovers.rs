//! After the suite: no server a test started may still run.
//!
//! paved-testkit names every server's temp dir and watcher with a marker (`MARKER` in
//! `crates/paved-testkit/src/process.rs`); a process whose command line holds it once the tests
//! are over is a leak. The check lists and kills them, then fails, so a leak is fixed, not piled up.

use std::process::Command;

/// Kept equal to `paved_testkit::process::MARKER` (xtask does not link the testkit).
const MARKER: &str = "paved-testkit-";

pub fn check() -> Result<(), String> {
    let left = find();
    if left.is_empty() {
        eprintln!("    no test server left running");
        return Ok(());
    }
    let mut list = String::new();
    for (pid, cmdline) in &left {
        list.push_str(&format!("\n      {pid} {cmdline}"));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    Err(format!(
        "{} test server process(es) outlived the tests (now killed):{list}\n    \
         a test started a server that was not stopped: start servers through paved-testkit \
         (`Registry`, `Postgres`, `process::Guarded`), which stop them when the test process ends",
        left.len()
    ))
}

/// Processes (other than this one) whose command line holds the marker.
fn find() -> Vec<(u32, String)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(MARKER) {
            found.push((pid, cmdline.trim_end().to_owned()));
        }
    }
    found
}
