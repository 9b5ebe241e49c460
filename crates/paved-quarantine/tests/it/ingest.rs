//! `ingest` of hostile input through the real binary: a 1 GB `<system-out>` in bounded memory,
//! an entity bomb, a non-JUnit file, an empty file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PAVED_") {
            c.env_remove(k);
        }
    }
    for k in ["GITHUB_ACTIONS", "GITLAB_CI"] {
        c.env_remove(k);
    }
    c
}

/// The peak resident set (VmHWM, KiB) of a running process, or `None` once it has exited.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn one_gigabyte_system_out_is_streamed_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.xml");
    {
        let mut f =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file).unwrap());
        f.write_all(b"<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"big\">\n<testcase classname=\"c\" name=\"before\"/>\n<testcase classname=\"c\" name=\"noisy\"><system-out>").unwrap();
        let line = "2026-11-22T10:00:00Z DEBUG connection pool &lt;idle&gt; checked out 42 &amp; returned\n";
        let chunk = line.repeat((1 << 20) / line.len());
        let mut written = 0usize;
        while written < 1 << 30 {
            f.write_all(chunk.as_bytes()).unwrap();
            written += chunk.len();
        }
        f.write_all(b"</system-out><failure message=\"pool exhausted\"/></testcase>\n<testcase classname=\"c\" name=\"after\"/>\n</testsuite></testsuites>\n").unwrap();
    }
    let store = dir.path().join("q.db");
    let mut child = bin()
        .current_dir(dir.path())
        .args([
            "ingest", "--json", "--commit", "c1", "--run-id", "1", "--store",
        ])
        .arg(&store)
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kb) = vm_hwm(child.id()) {
            peak = peak.max(kb);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tests"], 3);
    assert!(peak > 0, "never sampled the child's memory");
    // A buffered system-out would need over 1 GB; streaming needs a read buffer.
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB for a 1 GB system-out"
    );
    let mut s = paved_quarantine::store::Store::open(Some(&store.display().to_string())).unwrap();
    let h = s.history(&Default::default()).unwrap();
    let noisy = h.tests.iter().position(|t| t.name == "noisy").unwrap();
    let o = h.outcomes.iter().find(|o| o.test == noisy).unwrap();
    assert!(o.outcome.is_failure());
}

fn ingest_err(dir: &Path, name: &str, content: &[u8]) -> String {
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    let out = bin()
        .current_dir(dir)
        .args(["ingest", "--commit", "c1", "--run-id", "1"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{name}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn hostile_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut bomb = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        bomb.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    bomb.push_str("]><testsuite name=\"&lol9;\"><testcase name=\"x\"/></testsuite>");
    let e = ingest_err(dir.path(), "bomb.xml", bomb.as_bytes());
    assert!(e.contains("bomb.xml") && e.contains("entities"), "{e}");
    let e = ingest_err(dir.path(), "empty.xml", b"");
    assert!(e.contains("empty.xml") && e.contains("empty"), "{e}");
    let e = ingest_err(dir.path(), "pom.xml", b"<project><x/></project>");
    assert!(
        e.contains("pom.xml") && e.contains("not a JUnit XML report"),
        "{e}"
    );
    let e = ingest_err(
        dir.path(),
        "cut.xml",
        b"<testsuite name=\"a\"><testcase name=\"x\"><failure>",
    );
    assert!(e.contains("cut.xml") && e.contains("truncated"), "{e}");
    insta::assert_snapshot!(
        "error_not_junit",
        e.replace(&dir.path().display().to_string(), "[TMP]")
    );
    let out = bin()
        .current_dir(dir.path())
        .args(["ingest", "--commit", "c1", "--run-id", "1", "reports/*.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matched no files"));
    // Nothing was stored by any of them.
    let mut s = paved_quarantine::store::Store::open(Some(
        &dir.path()
            .join(".paved/quarantine.db")
            .display()
            .to_string(),
    ))
    .unwrap();
    assert!(s.history(&Default::default()).unwrap().outcomes.is_empty());
}
