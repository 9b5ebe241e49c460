//! `cargo xtask bench promote`: paved-promote against `skopeo copy --all --preserve-digests`.
//!
//! A 10-layer image of about 200 MB (random, incompressible layers) is pushed with skopeo to a
//! throwaway `docker-registry`, then promoted:
//! - within one registry (another repository: blobs are mounted), and
//! - across two registries (every blob is streamed),
//!
//! by both tools, each run into a fresh repository (and, across registries, a fresh registry, so
//! that neither tool can reuse blobs from an earlier run). Reported: median times, the time
//! ratio, and the blob bytes paved-promote uploaded. Targets: 0 bytes and <= 0.5x skopeo within
//! one registry; <= 1.0x skopeo across registries.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paved_promote::digest::Digest;

use crate::util::root;

const RUNS: usize = 5;
const LAYERS: usize = 10;
const LAYER_BYTES: usize = 20 * 1000 * 1000;

struct Registry {
    child: Child,
    host: String,
    _dir: PathBuf,
}

impl Registry {
    fn start(dir: &Path) -> Result<Registry, String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).map_err(|e| e.to_string())?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("could not start docker-registry (run `cargo xtask tools`): {e}")
            })?;
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                return Err("docker-registry did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Registry {
            child,
            host: format!("127.0.0.1:{port}"),
            _dir: dir.to_owned(),
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_layer(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(LAYER_BYTES + 8);
    while out.len() < LAYER_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(LAYER_BYTES);
    out
}

/// An OCI layout with one 10-layer image tagged `v1`.
fn build_layout(dir: &Path) -> Result<(), String> {
    if dir.join("index.json").is_file() {
        return Ok(());
    }
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
    let put = |bytes: &[u8]| -> Result<String, String> {
        let d = Digest::of(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).map_err(|e| e.to_string())?;
        Ok(d.to_string())
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..LAYERS {
        let d = put(&random_layer(i as u64 + 1))?;
        layers.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{LAYER_BYTES}}}"#
        ));
        diff_ids.push(format!("\"{d}\""));
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}},"config":{{}}}}"#,
        diff_ids.join(",")
    );
    let config_digest = put(config.as_bytes())?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        layers.join(",")
    );
    let manifest_digest = put(manifest.as_bytes())?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| e.to_string())?;
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
        manifest.len()
    );
    std::fs::write(dir.join("index.json"), index).map_err(|e| e.to_string())
}

fn skopeo(src: &str, dst: &str) -> Command {
    let mut c = Command::new("skopeo");
    c.args([
        "--insecure-policy",
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "-q",
        src,
        dst,
    ]);
    c
}

fn timed(cmd: &mut Command) -> Result<(Duration, String), String> {
    let start = Instant::now();
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            crate::util::describe(cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn paved(bin: &Path, src: &str, dst: &str) -> Command {
    let mut c = Command::new(bin);
    c.args(["copy", src, dst, "--json"])
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI");
    c
}

/// `"bytes_uploaded": N` from the JSON report.
fn bytes_uploaded(json: &str) -> u64 {
    json.split("\"bytes_uploaded\":")
        .nth(1)
        .and_then(|s| s.trim_start().split([',', '\n', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(u64::MAX)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run() -> Result<(), String> {
    crate::util::step(
        "build release binary",
        crate::util::cargo().args(["build", "--release", "--locked", "-p", "paved-promote"]),
    )?;
    let bin = root().join("target/release/paved-promote");
    let work = root().join("target/bench/promote");
    let layout = work.join("layout");
    build_layout(&layout)?;
    let a = Registry::start(&work.join("registry-a"))?;
    let mut push = skopeo(
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{}/src:v1", a.host),
    );
    timed(&mut push)?;
    let src = format!("{}/src:v1", a.host);

    // Within one registry.
    let (mut skopeo_within, mut paved_within, mut within_bytes) = (Vec::new(), Vec::new(), 0);
    for i in 0..RUNS {
        let (t, _) = timed(&mut skopeo(
            &format!("docker://{src}"),
            &format!("docker://{}/skopeo-{i}:v1", a.host),
        ))?;
        skopeo_within.push(t);
        let (t, out) = timed(&mut paved(&bin, &src, &format!("{}/paved-{i}:v1", a.host)))?;
        paved_within.push(t);
        within_bytes = within_bytes.max(bytes_uploaded(&out));
    }
    // Across registries: a fresh destination registry per run and tool.
    let (mut skopeo_across, mut paved_across, mut across_bytes) = (Vec::new(), Vec::new(), 0);
    for i in 0..RUNS {
        let b = Registry::start(&work.join(format!("registry-b-skopeo-{i}")))?;
        let (t, _) = timed(&mut skopeo(
            &format!("docker://{src}"),
            &format!("docker://{}/app:v1", b.host),
        ))?;
        skopeo_across.push(t);
        drop(b);
        let c = Registry::start(&work.join(format!("registry-b-paved-{i}")))?;
        let (t, out) = timed(&mut paved(&bin, &src, &format!("{}/app:v1", c.host)))?;
        paved_across.push(t);
        across_bytes = across_bytes.max(bytes_uploaded(&out));
        drop(c);
        let _ = std::fs::remove_dir_all(work.join(format!("registry-b-skopeo-{i}")));
        let _ = std::fs::remove_dir_all(work.join(format!("registry-b-paved-{i}")));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (sw, pw) = (median(skopeo_within), median(paved_within));
    let (sa, pa) = (median(skopeo_across), median(paved_across));
    let rw = pw.as_secs_f64() / sw.as_secs_f64();
    let ra = pa.as_secs_f64() / sa.as_secs_f64();
    let verdict = |ok: bool| if ok { "ok" } else { "OVER TARGET" };
    println!(
        "\npaved-promote copy, {LAYERS} layers x {} MB = {} MB; median of {RUNS} runs",
        LAYER_BYTES / 1_000_000,
        LAYERS * LAYER_BYTES / 1_000_000
    );
    println!(
        "  within one registry   skopeo {:>8.1} ms   paved {:>8.1} ms   ratio {rw:.2}x (target <= 0.50x) {}",
        ms(sw),
        ms(pw),
        verdict(rw <= 0.5)
    );
    println!(
        "                        paved blob bytes uploaded: {within_bytes} (target 0) {}",
        verdict(within_bytes == 0)
    );
    println!(
        "  across registries     skopeo {:>8.1} ms   paved {:>8.1} ms   ratio {ra:.2}x (target <= 1.00x) {}",
        ms(sa),
        ms(pa),
        verdict(ra <= 1.0)
    );
    println!("                        paved blob bytes uploaded: {across_bytes}");
    Ok(())
}
