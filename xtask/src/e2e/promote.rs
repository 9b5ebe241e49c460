//! Promotion end to end: a consumer calls `promote.yml` (GitHub, under act) and includes the
//! `promote` component (GitLab, under gitlab-ci-local) to promote an image by digest between the
//! repositories of a real `docker-registry` started here, with its policy in the consumer's
//! `paved.toml`. The image is built here as an OCI layout and pushed by skopeo. Each forge runs
//! the refusal first (`prod` before the digest reached `staging`: the policy's
//! `previous-environment` check fails the run) and then the promotion into `staging`, which must
//! leave the same digest in the staging repository and a line in the ledger.

use std::path::Path;
use std::process::Command;

use paved_promote::digest::Digest;
use paved_testkit::registry::Registry;
use serde_json::json;

use super::{capture, consumer, expect, git, must_fail, write};

/// What the policy says when `prod` is asked for a digest `staging` never had.
const REFUSAL: &str = "check `previous-environment` failed";

/// The consumer's policy: `staging` first, then `prod`, which trusts staging's unsigned records
/// (the e2e signs nothing).
fn config(host: &str) -> String {
    format!(
        "[promote]\nenvironments = [\"staging\", \"prod\"]\n\n[promote.env.staging]\nrepository = \"{host}/staging/app\"\n\n[promote.env.prod]\nrepository = \"{host}/prod/app\"\nallow-unsigned-records = true\n"
    )
}

/// A one-platform image as an OCI layout in `dir` (tag `1.0.0`), pushed by skopeo to
/// `<host>/build/app:1.0.0`, digests preserved. Returns its manifest's digest.
fn seed_image(dir: &Path, host: &str, salt: &str) -> Result<Digest, String> {
    let blobs = dir.join("blobs/sha256");
    let put = |bytes: &[u8]| -> Result<serde_json::Value, String> {
        let digest = Digest::of(bytes);
        let hex = digest.as_str().trim_start_matches("sha256:").to_owned();
        std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
        std::fs::write(blobs.join(hex), bytes).map_err(|e| e.to_string())?;
        Ok(json!({"digest": digest.as_str(), "size": bytes.len()}))
    };
    let layer = put(format!("paved e2e layer {salt}\n").as_bytes())?;
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }))
    .map_err(|e| e.to_string())?;
    let config = put(&config)?;
    let mut config_desc = config.clone();
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer_desc = layer.clone();
    layer_desc["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    }))
    .map_err(|e| e.to_string())?;
    let mut entry = put(&manifest)?;
    entry["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    entry["annotations"] = json!({"org.opencontainers.image.ref.name": "1.0.0"});
    write(
        &dir.join("index.json"),
        &json!({"schemaVersion": 2, "manifests": [entry]}).to_string(),
    )?;
    write(&dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut copy = Command::new("skopeo");
    copy.args([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "-q",
    ])
    .arg(format!("oci:{}:1.0.0", dir.display()))
    .arg(format!("docker://{host}/build/app:1.0.0"));
    capture("skopeo: push the image to promote", &mut copy)?;
    Ok(Digest::of(&manifest))
}

/// The digest `reference` has in the registry (skopeo, not paved, reads it).
fn registry_digest(reference: &str) -> Result<String, String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{reference}"))
        .output()
        .map_err(|e| format!("skopeo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Digest::of(&out.stdout).as_str().to_owned())
}

/// The promotion landed: the staging repository serves the digest, and the ledger has a line
/// for it and the environment.
fn expect_promoted(host: &str, digest: &Digest, ledger: &Path, what: &str) -> Result<(), String> {
    let arrived = registry_digest(&format!("{host}/staging/app@{}", digest.as_str()))?;
    if arrived != digest.as_str() {
        return Err(format!(
            "{what}: staging serves {arrived}, not the promoted {}",
            digest.as_str()
        ));
    }
    let lines = std::fs::read_to_string(ledger)
        .map_err(|e| format!("{what}: no ledger at {}: {e}", ledger.display()))?;
    let recorded = lines.lines().any(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .map(|v| {
                let text = v.to_string();
                text.contains(digest.as_str()) && text.contains("\"staging\"")
            })
            .unwrap_or(false)
    });
    if !recorded {
        return Err(format!(
            "{what}: the ledger has no record of {} in staging:\n{lines}",
            digest.as_str()
        ));
    }
    Ok(())
}

/// The consumer's workflow calling promote.yml for `image` into `environment`.
fn github_workflow(version: &str, image: &str, environment: &str, ledger: &Path) -> String {
    format!(
        "name: promote\non: push\npermissions: {{}}\njobs:\n  promote:\n    uses: paved-dev/paved/.github/workflows/promote.yml@v{version}\n    permissions:\n      contents: read\n      packages: write\n    with:\n      image: {image}\n      environment: {environment}\n      ledger: {}\n",
        ledger.display()
    )
}

/// promote.yml under act: refused into prod, then promoted into staging.
pub fn github(tmp: &Path, paved: &Path, bin_dir: &Path, version: &str) -> Result<(), String> {
    let registry = Registry::start();
    let host = registry.host();
    let digest = seed_image(&tmp.join("github-promote-image"), &host, "github")?;
    let image = format!("{host}/build/app@{}", digest.as_str());
    let ledger = tmp.join("github-promote-ledger.jsonl");
    let repo = tmp.join("github-promote-consumer");
    consumer(&repo, "https://github.com/acme/app.git")?;
    write(&repo.join("paved.toml"), &config(&host))?;
    for environment in ["staging", "prod"] {
        write(
            &repo.join(format!(".github/workflows/promote-{environment}.yml")),
            &github_workflow(version, &image, environment, &ledger),
        )?;
    }
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "ci: promote with paved"])?;
    let act = |environment: &str| {
        let mut c = Command::new(crate::tools::venv_bin().join("act"));
        c.current_dir(&repo)
            .args(["push", "-W"])
            .arg(format!(".github/workflows/promote-{environment}.yml"))
            .args(["-P", "ubuntu-latest=-self-hosted", "--local-repository"])
            .arg(format!("paved-dev/paved@v{version}={}", paved.display()))
            .arg("--env")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .env("HOME", tmp.join("home"));
        c
    };
    must_fail(
        "act: promote.yml into prod before staging",
        &mut act("prod"),
        REFUSAL,
    )?;
    let out = capture("act: promote.yml into staging", &mut act("staging"))?;
    expect(&out, digest.as_str(), "act promote")?;
    expect_promoted(&host, &digest, &ledger, "act promote")
}

/// The promote component under gitlab-ci-local: refused into prod, then promoted into staging.
pub fn gitlab(tmp: &Path, paved: &Path, bin_dir: &Path) -> Result<(), String> {
    let version = crate::dist::workspace_version()?;
    let registry = Registry::start();
    let host = registry.host();
    let digest = seed_image(&tmp.join("gitlab-promote-image"), &host, "gitlab")?;
    let image = format!("{host}/build/app@{}", digest.as_str());
    let ledger = tmp.join("gitlab-promote-ledger.jsonl");
    let repo = tmp.join("gitlab-promote-consumer");
    consumer(&repo, "https://gitlab.com/acme/app.git")?;
    super::copy_dir(
        &paved.join("templates"),
        &repo.join(format!(
            ".gitlab-ci-local/includes/gitlab.com/paved-dev/paved/{version}/templates"
        )),
    )?;
    write(&repo.join("paved.toml"), &config(&host))?;
    for environment in ["staging", "prod"] {
        write(
            &repo.join(format!(".gitlab-ci-{environment}.yml")),
            &format!(
                "include:\n  - component: $CI_SERVER_FQDN/paved-dev/paved/promote@{version}\n    inputs: {{ job-name: promote-{environment}, stage: deploy, command: promote, env: {environment}, reference: '{image}', ledger: '{}' }}\n",
                ledger.display()
            ),
        )?;
    }
    write(&repo.join(".gitignore"), ".gitlab-ci-local/\n")?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "ci: promote with paved"])?;
    let gcl = |environment: &str| {
        let mut c = Command::new(crate::tools::npm_bin().join("gitlab-ci-local"));
        c.current_dir(&repo)
            .args(["--force-shell-executor", "--shell-isolation"])
            .arg("--variable")
            .arg(format!("PAVED_BIN_DIR={}", bin_dir.display()))
            .arg("--file")
            .arg(format!(".gitlab-ci-{environment}.yml"))
            .env("HOME", tmp.join("home"));
        c
    };
    must_fail(
        "gitlab-ci-local: promote component into prod before staging",
        &mut gcl("prod"),
        REFUSAL,
    )?;
    let out = capture(
        "gitlab-ci-local: promote component into staging",
        &mut gcl("staging"),
    )?;
    expect(&out, digest.as_str(), "gitlab-ci-local promote")?;
    expect_promoted(&host, &digest, &ledger, "gitlab-ci-local promote")
}
