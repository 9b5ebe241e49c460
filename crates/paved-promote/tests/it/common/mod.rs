//! Fixtures: images made by the test, written as an OCI layout and pushed with skopeo.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use paved_promote::digest::Digest;
use serde_json::json;

pub const SBOM_TYPE: &str = "application/vnd.example.sbom+json";

/// A tiny deterministic PRNG (xorshift) so layers are random-looking and distinct per seed.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An image written into a layout.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub dir: PathBuf,
    pub tag: String,
    /// The index (or manifest) digest and bytes.
    pub digest: Digest,
    pub bytes: Vec<u8>,
    /// Child manifest digests.
    pub children: Vec<Digest>,
    /// The referrer (SBOM artifact) digest, if made.
    pub referrer: Option<Digest>,
}

fn put_blob(dir: &Path, bytes: &[u8]) -> serde_json::Value {
    let d = Digest::of(bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    json!(d.as_str())
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": Digest::of(bytes).as_str(), "size": bytes.len()})
}

fn add_index_entry(dir: &Path, entry: serde_json::Value) {
    let path = dir.join("index.json");
    let mut index: serde_json::Value = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).unwrap(),
        Err(_) => {
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
        }
    };
    index["manifests"].as_array_mut().unwrap().push(entry);
    std::fs::write(&path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
}

/// Write a 2-platform index (`layers` layers of `layer_size` bytes per platform, seeded by
/// `seed`) tagged `tag`, plus an SBOM referrer and its `sha256-<hex>` referrers index when
/// `referrer` is set.
pub fn make_image(
    dir: &Path,
    tag: &str,
    seed: u64,
    layers: usize,
    layer_size: usize,
    referrer: bool,
) -> Fixture {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut children = Vec::new();
    let mut child_descs = Vec::new();
    for (p, arch) in ["amd64", "arm64"].iter().enumerate() {
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in 0..layers {
            let bytes = random_bytes(seed * 1000 + (p * 100 + l) as u64 + 1, layer_size);
            put_blob(dir, &bytes);
            diff_ids.push(Digest::of(&bytes).to_string());
            layer_descs.push(descriptor("application/vnd.oci.image.layer.v1.tar", &bytes));
        }
        let config = serde_json::to_vec(&json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {}, "created": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        put_blob(dir, &config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": layer_descs,
        }))
        .unwrap();
        put_blob(dir, &manifest);
        children.push(Digest::of(&manifest));
        let mut d = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
        d["platform"] = json!({"architecture": arch, "os": "linux"});
        child_descs.push(d);
    }
    // Pretty-printed with odd spacing on purpose: a re-serialising copier would change the digest.
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": child_descs,
        "annotations": {"fixture.seed": seed.to_string()},
    }))
    .unwrap();
    put_blob(dir, &index);
    let mut entry = descriptor("application/vnd.oci.image.index.v1+json", &index);
    entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    add_index_entry(dir, entry);
    let digest = Digest::of(&index);
    let mut referrer_digest = None;
    if referrer {
        let empty = b"{}";
        put_blob(dir, empty);
        let sbom = serde_json::to_vec(&json!({"sbom": "fixture", "seed": seed})).unwrap();
        put_blob(dir, &sbom);
        let artifact = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": SBOM_TYPE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::of(empty).as_str(), "size": 2},
            "layers": [descriptor(SBOM_TYPE, &sbom)],
            "subject": descriptor("application/vnd.oci.image.index.v1+json", &index),
        }))
        .unwrap();
        put_blob(dir, &artifact);
        let mut d = descriptor("application/vnd.oci.image.manifest.v1+json", &artifact);
        d["artifactType"] = json!(SBOM_TYPE);
        let referrers = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [d],
        }))
        .unwrap();
        put_blob(dir, &referrers);
        let mut entry = descriptor("application/vnd.oci.image.index.v1+json", &referrers);
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": digest.fallback_tag()});
        add_index_entry(dir, entry);
        referrer_digest = Some(Digest::of(&artifact));
    }
    Fixture {
        dir: dir.to_owned(),
        tag: tag.to_owned(),
        digest,
        bytes: index,
        children,
        referrer: referrer_digest,
    }
}

pub fn skopeo(args: &[&str]) -> Output {
    let out = Command::new(paved_testkit::tool("skopeo"))
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Push the fixture (and its referrers index tag) to `host/repo` with skopeo.
pub fn push(fixture: &Fixture, host: &str, repo: &str, creds: Option<&str>) {
    let tag = &fixture.tag;
    let src = format!("oci:{}:{tag}", fixture.dir.display());
    let dst = format!("docker://{host}/{repo}:{tag}");
    let mut args = vec![
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "-q",
    ];
    if let Some(c) = creds {
        args.push("--dest-creds");
        args.push(c);
    }
    args.push(&src);
    args.push(&dst);
    skopeo(&args);
    // skopeo 1.9 cannot push an index whose child is an artifact (the referrers index), so the
    // referrer goes up over the plain Distribution API.
    if let Some(referrer) = &fixture.referrer {
        let http = paved_core::http::Client::default();
        let base = format!("http://{host}/v2/{repo}");
        let read =
            |d: &Digest| std::fs::read(fixture.dir.join("blobs/sha256").join(d.hex())).unwrap();
        let artifact = read(referrer);
        let view: serde_json::Value = serde_json::from_slice(&artifact).unwrap();
        for blob in [&view["config"], &view["layers"][0]] {
            let d = Digest::parse(blob["digest"].as_str().unwrap()).unwrap();
            let r = http.post(format!("{base}/blobs/uploads/")).send().unwrap();
            let location = r.header("location").unwrap().to_owned();
            let url = if location.starts_with('/') {
                format!("http://{host}{location}")
            } else {
                location
            };
            http.put(url)
                .query("digest", d.as_str())
                .bytes(read(&d), "application/octet-stream")
                .send()
                .unwrap();
        }
        http.put(format!("{base}/manifests/{referrer}"))
            .bytes(artifact, "application/vnd.oci.image.manifest.v1+json")
            .send()
            .unwrap();
        let tag = fixture.digest.fallback_tag();
        let index_digest = paved_promote::oci::layout::Layout::open(&fixture.dir)
            .unwrap()
            .resolve(&tag)
            .unwrap()
            .unwrap();
        http.put(format!("{base}/manifests/{tag}"))
            .bytes(
                read(&index_digest),
                "application/vnd.oci.image.index.v1+json",
            )
            .send()
            .unwrap();
    }
}

/// `skopeo inspect --raw` bytes.
pub fn inspect_raw(reference: &str, creds: Option<&str>) -> Vec<u8> {
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    if let Some(c) = creds {
        args.push("--creds");
        args.push(c);
    }
    args.push(reference);
    skopeo(&args).stdout
}

pub fn promote(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paved-promote"));
    cmd.args(args).current_dir(cwd);
    for var in [
        "PAVED_REGISTRY_USERNAME",
        "PAVED_REGISTRY_PASSWORD",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "CI",
        "DOCKER_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", cwd)
        .env("PAVED_HTTP_MAX_ATTEMPTS", "4")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run paved-promote")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// Upload `bytes` as a blob of `host/repo` over the plain Distribution API.
pub fn upload_blob(host: &str, repo: &str, bytes: &[u8]) -> Digest {
    let http = paved_core::http::Client::default();
    let d = Digest::of(bytes);
    let r = http
        .post(format!("http://{host}/v2/{repo}/blobs/uploads/"))
        .send()
        .unwrap();
    let location = r.header("location").unwrap().to_owned();
    let url = if location.starts_with('/') {
        format!("http://{host}{location}")
    } else {
        location
    };
    http.put(url)
        .query("digest", d.as_str())
        .bytes(bytes.to_vec(), "application/octet-stream")
        .send()
        .unwrap();
    d
}

/// Push a cosign-style tag-scheme artifact for `subject` under `sha256-<hex><suffix>` (as
/// cosign 2.x does by default): an OCI manifest whose layer is a simple-signing payload (or an
/// attestation) naming `subject`. Returns the manifest bytes.
pub fn push_cosign_tag(host: &str, repo: &str, subject: &Digest, suffix: &str) -> Vec<u8> {
    let (layer_type, payload) = match suffix {
        ".sig" => (
            "application/vnd.dev.cosign.simplesigning.v1+json",
            json!({"critical": {"identity": {"docker-reference": format!("{host}/{repo}")},
                "image": {"docker-manifest-digest": subject.as_str()},
                "type": "cosign container image signature"}, "optional": null}),
        ),
        _ => (
            "application/vnd.dsse.envelope.v1+json",
            json!({"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}),
        ),
    };
    let payload = serde_json::to_vec(&payload).unwrap();
    let config = serde_json::to_vec(&json!({"architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&payload).as_str()]}}))
    .unwrap();
    upload_blob(host, repo, &payload);
    upload_blob(host, repo, &config);
    let mut layer = descriptor(layer_type, &payload);
    layer["annotations"] = json!({"dev.cosignproject.cosign/signature": "MEUCIQDfixture"});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [layer],
    }))
    .unwrap();
    paved_core::http::Client::default()
        .put(format!(
            "http://{host}/v2/{repo}/manifests/{}{suffix}",
            subject.fallback_tag()
        ))
        .bytes(
            manifest.clone(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .unwrap();
    manifest
}

/// The tools venv's python, with `module` importable; fails naming `cargo xtask tools` when not.
pub fn tools_python(module: &str) -> PathBuf {
    let python = paved_testkit::tools_dir()
        .join("venv")
        .join("bin")
        .join("python");
    assert!(
        python.is_file(),
        "`{}` is missing: run `cargo xtask tools` (it installs securesystemslib and cryptography)",
        python.display()
    );
    let probe = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .expect("running the tools venv's python");
    assert!(
        probe.status.success(),
        "`{module}` is not installed in `{}`: run `cargo xtask tools`\n{}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

/// `tests/fixtures/NAME` of this crate.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
