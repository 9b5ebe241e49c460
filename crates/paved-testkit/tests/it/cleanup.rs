//! Every server the testkit starts stops with the test process, even when the test never drops
//! it (a leaked `Arc`, a panic on another thread, a killed process).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use paved_testkit::postgres::Postgres;
use paved_testkit::process::group_alive;
use paved_testkit::registry::Registry;

const LEAK_FILE: &str = "PAVED_TESTKIT_LEAK_FILE";

/// Not a test of its own: run by `leaked_servers_stop_with_the_test_process` in a child process.
/// It starts a registry and a PostgreSQL cluster, records their process groups and ports, and
/// forgets them, as a test that leaks its handles would.
#[test]
#[ignore = "run by leaked_servers_stop_with_the_test_process in a child process"]
fn leak_servers_on_purpose() {
    let Some(file) = std::env::var_os(LEAK_FILE) else {
        return;
    };
    let registry = Registry::start();
    let pg = Postgres::start();
    let record = format!(
        "{} {}\n{} {}\n",
        registry.process_group().unwrap(),
        registry.port(),
        pg.process_group(),
        pg.port()
    );
    std::fs::write(file, record).unwrap();
    std::mem::forget(registry);
    std::mem::forget(pg);
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn leaked_servers_stop_with_the_test_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaked");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cleanup::leak_servers_on_purpose",
            "--ignored",
            "--test-threads=1",
        ])
        .env(LEAK_FILE, &file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the leaking child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let servers = read_servers(&file);
    assert_eq!(servers.len(), 2, "the child ran no server: {servers:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    for (pgid, port) in servers {
        while (group_alive(pgid) || accepts(port)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !group_alive(pgid),
            "process group {pgid} (port {port}) outlived its test process"
        );
        assert!(
            !accepts(port),
            "port {port} still accepts after its test ended"
        );
    }
}

fn read_servers(file: &Path) -> Vec<(u32, u16)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (g, p) = l.split_once(' ').unwrap();
            (g.parse().unwrap(), p.parse().unwrap())
        })
        .collect()
}

#[test]
fn a_dropped_registry_stops_at_once() {
    let registry = Registry::start();
    let pgid = registry.process_group().unwrap();
    let port = registry.port();
    assert!(accepts(port));
    drop(registry);
    assert!(!group_alive(pgid), "the registry's group survived its drop");
    assert!(!accepts(port));
}
