//! `require` verifies (issue #19, "Verify, don't count"): cosign signatures (the
//! `sha256-<hex>.sig` tag and OCI 1.1 referrers) and in-toto attestations in DSSE envelopes
//! (`.att` and referrers), each signed by a key of `signature-keys`, with the SLSA provenance's
//! builder and source and an SBOM predicate checked. Existence alone never satisfies.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use paved_core::sign::{Algorithm, Envelope, PrivateKey, Statement, Subject};
use paved_promote::digest::Digest;
use paved_testkit::registry::Registry;
use serde_json::{Value, json};

use crate::common::*;

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const BUILDER: &str = "https://github.com/acme/build/.github/workflows/build.yml@refs/heads/main";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A layer to push: media type, bytes, annotations (or `Value::Null`).
type Layer = (&'static str, Vec<u8>, Value);

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": Digest::of(bytes).as_str(), "size": bytes.len()})
}

fn put_manifest(host: &str, repo: &str, reference: &str, manifest: &[u8], media_type: &str) {
    let r = paved_core::http::Client::default()
        .put(format!("http://{host}/v2/{repo}/manifests/{reference}"))
        .bytes(manifest.to_vec(), media_type.to_owned())
        .send()
        .unwrap();
    assert!(r.is_success(), "{}", r.text());
}

/// An OCI manifest with `layers` (media type, bytes, annotations), uploaded; returns its bytes.
fn artifact(
    host: &str,
    repo: &str,
    artifact_type: Option<&str>,
    layers: &[Layer],
    subject: Option<&Fixture>,
) -> Vec<u8> {
    let config = b"{}".to_vec();
    upload_blob(host, repo, &config);
    let mut descs = Vec::new();
    for (media_type, bytes, annotations) in layers {
        upload_blob(host, repo, bytes);
        let mut d = descriptor(media_type, bytes);
        if !annotations.is_null() {
            d["annotations"] = annotations.clone();
        }
        descs.push(d);
    }
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.empty.v1+json", &config),
        "layers": descs,
    });
    if let Some(t) = artifact_type {
        m["artifactType"] = json!(t);
    }
    if let Some(s) = subject {
        m["subject"] = json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": s.digest.as_str(),
            "size": s.bytes.len(),
        });
    }
    serde_json::to_vec(&m).unwrap()
}

/// A cosign `.sig` (or `.att`) tag for `image`.
fn push_tag(host: &str, repo: &str, image: &Fixture, suffix: &str, layers: &[Layer]) {
    let m = artifact(host, repo, None, layers, None);
    put_manifest(
        host,
        repo,
        &format!("{}{suffix}", image.digest.fallback_tag()),
        &m,
        OCI_MANIFEST,
    );
}

/// Referrers of `image`, as a registry without the referrers API keeps them (the manifests by
/// digest, listed in the `sha256-<hex>` index).
fn push_referrers(host: &str, repo: &str, image: &Fixture, referrers: &[(&str, Vec<Layer>)]) {
    let mut entries = Vec::new();
    for (artifact_type, layers) in referrers {
        let m = artifact(host, repo, Some(artifact_type), layers, Some(image));
        let d = Digest::of(&m);
        put_manifest(host, repo, d.as_str(), &m, OCI_MANIFEST);
        let mut e = descriptor(OCI_MANIFEST, &m);
        e["artifactType"] = json!(artifact_type);
        entries.push(e);
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    put_manifest(
        host,
        repo,
        &image.digest.fallback_tag(),
        &index,
        "application/vnd.oci.image.index.v1+json",
    );
}

fn simple_signing(host: &str, repo: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": format!("{host}/{repo}")},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// A `.sig` layer: the payload and cosign's signature annotation over it.
fn sig_layer(payload: Vec<u8>, key: &PrivateKey) -> Layer {
    let sig = b64(&key.sign(&payload).unwrap());
    (
        SIMPLE_SIGNING,
        payload,
        json!({"dev.cosignproject.cosign/signature": sig}),
    )
}

fn attestation(
    image: &Fixture,
    predicate_type: &str,
    predicate: Value,
    key: &PrivateKey,
) -> Envelope {
    Statement::new(
        vec![Subject::sha256("app", image.digest.hex())],
        predicate_type,
        predicate,
    )
    .sign(key)
    .unwrap()
}

fn att_layer(envelope: &Envelope, predicate_type: &str) -> Layer {
    (
        DSSE,
        envelope.to_json().into_bytes(),
        json!({"predicateType": predicate_type}),
    )
}

fn slsa_v1(builder: &str, repository: &str, git_ref: &str) -> Value {
    json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {"ref": git_ref, "repository": repository, "path": ".github/workflows/build.yml"}},
            "resolvedDependencies": [{"uri": format!("git+{repository}@{git_ref}"), "digest": {"gitCommit": "a".repeat(40)}}],
        },
        "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "1"}},
    })
}

fn cyclonedx() -> Value {
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []})
}

struct Setup {
    work: tempfile::TempDir,
    _reg: Registry,
    host: String,
    key: PrivateKey,
}

fn setup(require: &str) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    let keys = work.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let pem = PrivateKey::generate(Algorithm::EcdsaP256).unwrap();
    let key = PrivateKey::from_pem(&pem, "cosign").unwrap();
    std::fs::write(keys.join("cosign.pub"), key.public_key().to_pem()).unwrap();
    write_config(work.path(), &host, require, "keys/cosign.pub");
    Setup {
        work,
        _reg: reg,
        host,
        key,
    }
}

fn write_config(dir: &Path, host: &str, require: &str, key: &str) {
    let provenance = if require.contains("provenance") {
        format!(
            "[promote.env.prod.provenance]\nbuilder-id = \"{BUILDER}\"\nsource-repository = \"https://github.com/acme/app\"\nsource-ref = \"refs/heads/main\"\n"
        )
    } else {
        String::new()
    };
    std::fs::write(
        dir.join("paved.toml"),
        format!(
            "[promote]\nenvironments = [\"prod\"]\n[promote.env.prod]\nrepository = \"{host}/prod/app\"\nrequire = {require}\nsignature-keys = [\"{key}\"]\n{provenance}"
        ),
    )
    .unwrap();
}

impl Setup {
    fn image(&self, seed: u64) -> Fixture {
        let fx = make_image(
            &self.work.path().join(format!("img{seed}")),
            &format!("{seed}.0.0"),
            seed,
            1,
            700,
            false,
        );
        push(&fx, &self.host, "build/app", None);
        fx
    }

    fn promote(&self, image: &Fixture) -> std::process::Output {
        promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("{}/build/app:{}", self.host, image.tag),
            ],
            self.work.path(),
            &[],
        )
    }

    fn other_key(&self) -> PrivateKey {
        PrivateKey::from_pem(
            &PrivateKey::generate(Algorithm::EcdsaP256).unwrap(),
            "other",
        )
        .unwrap()
    }
}

fn refused(out: &std::process::Output, check: &str, why: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("check `require:{check}` failed")),
        "{err}"
    );
    for w in why {
        assert!(err.contains(w), "expected `{w}` in:\n{err}");
    }
}

/// The valid case: a cosign signature in the `.sig` tag, SLSA provenance as a referrer and a
/// CycloneDX SBOM in the `.att` tag, all signed by the listed key, pass; the signature and
/// attestations travel with the image.
#[test]
fn verified_signature_provenance_and_sbom_pass() {
    let s = setup(r#"["signature", "provenance", "sbom"]"#);
    let img = s.image(60);
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".sig",
        &[sig_layer(
            simple_signing(&s.host, "build/app", img.digest.as_str()),
            &s.key,
        )],
    );
    let prov = attestation(
        &img,
        "https://slsa.dev/provenance/v1",
        slsa_v1(BUILDER, "https://github.com/acme/app", "refs/heads/main"),
        &s.key,
    );
    push_referrers(
        &s.host,
        "build/app",
        &img,
        &[(
            "application/vnd.in-toto+json",
            vec![att_layer(&prov, "https://slsa.dev/provenance/v1")],
        )],
    );
    let sbom = attestation(&img, "https://cyclonedx.org/bom", cyclonedx(), &s.key);
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".att",
        &[att_layer(&sbom, "https://cyclonedx.org/bom")],
    );
    let out = s.promote(&img);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let id = &s.key.key_id().as_str()[..16];
    assert!(
        err.contains(&format!("signature: cosign signature signed by {id}")),
        "{err}"
    );
    assert!(
        err.contains("provenance: https://slsa.dev/provenance/v1"),
        "{err}"
    );
    assert!(err.contains("sbom: https://cyclonedx.org/bom"), "{err}");
    let sig_tag = format!(
        "docker://{}/prod/app:{}.sig",
        s.host,
        img.digest.fallback_tag()
    );
    assert!(!inspect_raw(&sig_tag, None).is_empty());
}

/// A signature made by a real tool outside paved: Python `cryptography` signs a cosign
/// simple-signing payload (ECDSA P-256, DER), found as an OCI 1.1 referrer.
#[test]
fn a_signature_made_by_python_cryptography_verifies_as_a_referrer() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(61);
    let python = tools_python("cryptography");
    let out_dir = s.work.path().join("py");
    let script = fixture("cosign_sign.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([img.digest.as_str(), &format!("{}/build/app", s.host)])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        out_dir.join("cosign.pub"),
        s.work.path().join("keys/python.pub"),
    )
    .unwrap();
    write_config(
        s.work.path(),
        &s.host,
        r#"["signature"]"#,
        "keys/python.pub",
    );
    let payload = std::fs::read(out_dir.join("payload.json")).unwrap();
    let sig = std::fs::read_to_string(out_dir.join("signature.b64")).unwrap();
    push_referrers(
        &s.host,
        "build/app",
        &img,
        &[(
            "application/vnd.dev.cosign.artifact.sig.v1+json",
            vec![(
                SIMPLE_SIGNING,
                payload,
                json!({"dev.cosignproject.cosign/signature": sig}),
            )],
        )],
    );
    let out = s.promote(&img);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The issue's case: random JSON labelled as a sigstore bundle does not count as a signature.
#[test]
fn a_referrer_of_the_right_type_without_a_valid_signature_does_not_satisfy() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(62);
    push_referrers(
        &s.host,
        "build/app",
        &img,
        &[(
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            vec![(
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                br#"{"hello": "world"}"#.to_vec(),
                Value::Null,
            )],
        )],
    );
    refused(
        &s.promote(&img),
        "signature",
        &["sigstore bundle", "no DSSE envelope"],
    );
}

/// A valid signature, by a key the policy does not list.
#[test]
fn a_signature_by_the_wrong_key_is_refused() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(63);
    let payload = simple_signing(&s.host, "build/app", img.digest.as_str());
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".sig",
        &[sig_layer(payload, &s.other_key())],
    );
    refused(&s.promote(&img), "signature", &[".sig", "does not verify"]);
}

/// A signature by the right key over a payload that names another digest.
#[test]
fn a_signature_over_another_digest_is_refused() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(64);
    let other = Digest::of(b"another image");
    let payload = simple_signing(&s.host, "build/app", other.as_str());
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".sig",
        &[sig_layer(payload, &s.key)],
    );
    refused(
        &s.promote(&img),
        "signature",
        &[&format!("names {other}"), img.digest.as_str()],
    );
}

/// A payload changed after signing.
#[test]
fn a_tampered_signature_payload_is_refused() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(65);
    let payload = simple_signing(&s.host, "build/app", img.digest.as_str());
    let (t, _, annotations) = sig_layer(payload.clone(), &s.key);
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace(
            "cosign container image signature",
            "cosign container image signaturE",
        )
        .into_bytes();
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".sig",
        &[(t, tampered, annotations)],
    );
    refused(&s.promote(&img), "signature", &["does not verify"]);
}

/// No SBOM attestation: refused, though a verified provenance is there.
#[test]
fn a_missing_sbom_is_refused() {
    let s = setup(r#"["sbom"]"#);
    let img = s.image(66);
    let prov = attestation(
        &img,
        "https://slsa.dev/provenance/v1",
        slsa_v1(BUILDER, "https://github.com/acme/app", "refs/heads/main"),
        &s.key,
    );
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".att",
        &[att_layer(&prov, "https://slsa.dev/provenance/v1")],
    );
    refused(
        &s.promote(&img),
        "sbom",
        &["no CycloneDX or SPDX", "`.sbom` tag", "cosign attest"],
    );
}

/// Provenance from another builder, or another source ref, or an SBOM signed by another key.
#[test]
fn provenance_from_another_builder_or_ref_and_an_sbom_by_another_key_are_refused() {
    let s = setup(r#"["provenance"]"#);
    let img = s.image(67);
    let wrong_builder = attestation(
        &img,
        "https://slsa.dev/provenance/v1",
        slsa_v1(
            "https://evil.example/builder",
            "https://github.com/acme/app",
            "refs/heads/main",
        ),
        &s.key,
    );
    let wrong_ref = attestation(
        &img,
        "https://slsa.dev/provenance/v1",
        slsa_v1(BUILDER, "https://github.com/acme/app", "refs/heads/feature"),
        &s.key,
    );
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".att",
        &[
            att_layer(&wrong_builder, "https://slsa.dev/provenance/v1"),
            att_layer(&wrong_ref, "https://slsa.dev/provenance/v1"),
        ],
    );
    refused(
        &s.promote(&img),
        "provenance",
        &[
            "builder.id",
            "https://evil.example/builder",
            "refs/heads/feature",
        ],
    );

    write_config(s.work.path(), &s.host, r#"["sbom"]"#, "keys/cosign.pub");
    let img = s.image(68);
    let sbom = attestation(
        &img,
        "https://spdx.dev/Document",
        json!({"spdxVersion": "SPDX-2.3"}),
        &s.other_key(),
    );
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".att",
        &[att_layer(&sbom, "https://spdx.dev/Document")],
    );
    refused(&s.promote(&img), "sbom", &["not signed by a trusted key"]);
}

/// A key file that is not there, and a `require` entry paved cannot verify, are config errors.
#[test]
fn a_missing_key_file_or_an_unknown_requirement_is_a_config_error() {
    let s = setup(r#"["signature"]"#);
    let img = s.image(69);
    write_config(
        s.work.path(),
        &s.host,
        r#"["signature"]"#,
        "keys/absent.pub",
    );
    let out = s.promote(&img);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("keys/absent.pub"), "{}", stderr(&out));
    write_config(
        s.work.path(),
        &s.host,
        &format!("[\"{SBOM_TYPE}\"]"),
        "keys/cosign.pub",
    );
    let out = s.promote(&img);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot verify"), "{}", stderr(&out));
}

fn cosign_vector() -> (Vec<u8>, String, std::path::PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cosign");
    (
        std::fs::read(dir.join("busybox.payload.json")).unwrap(),
        std::fs::read_to_string(dir.join("busybox.sig.b64")).unwrap(),
        dir.join("cosign.pub"),
    )
}

/// A signature made by cosign itself (sigstore-rs's test vector, see
/// `tests/fixtures/cosign/README.md`) verifies for the digest it names.
#[test]
fn a_cosign_made_signature_verifies_for_its_digest() {
    let (payload, signature, key) = cosign_vector();
    let keys = [paved_core::sign::PublicKey::load(&key).unwrap()];
    let evidence = [paved_promote::verify::Evidence::Simple {
        origin: "busybox.sig".into(),
        payload: payload.clone(),
        signature: signature.clone(),
    }];
    let busybox =
        Digest::parse("sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b")
            .unwrap();
    let passed = paved_promote::verify::check(
        paved_promote::verify::Requirement::Signature,
        &evidence,
        &busybox,
        &keys,
        None,
    )
    .unwrap();
    assert!(passed.contains("cosign signature signed by"), "{passed}");
    // One changed byte and it no longer verifies.
    let mut changed = payload;
    changed[10] ^= 1;
    let evidence = [paved_promote::verify::Evidence::Simple {
        origin: "busybox.sig".into(),
        payload: changed,
        signature,
    }];
    let reasons = paved_promote::verify::check(
        paved_promote::verify::Requirement::Signature,
        &evidence,
        &busybox,
        &keys,
        None,
    )
    .unwrap_err();
    assert!(reasons[0].contains("does not verify"), "{reasons:?}");
}

/// The same real signature replayed onto another image (copied into its `.sig` tag) is refused:
/// it verifies with the listed key, but names another digest.
#[test]
fn a_cosign_signature_replayed_onto_another_image_is_refused() {
    let s = setup(r#"["signature"]"#);
    let (payload, signature, key) = cosign_vector();
    std::fs::copy(key, s.work.path().join("keys/busybox.pub")).unwrap();
    write_config(
        s.work.path(),
        &s.host,
        r#"["signature"]"#,
        "keys/busybox.pub",
    );
    let img = s.image(70);
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".sig",
        &[(
            SIMPLE_SIGNING,
            payload,
            json!({"dev.cosignproject.cosign/signature": signature.trim()}),
        )],
    );
    refused(
        &s.promote(&img),
        "signature",
        &[
            "names sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b",
            img.digest.as_str(),
        ],
    );
}

/// cosign's newer bundle format as OCI 1.1 referrers: a sigstore bundle whose `dsseEnvelope`
/// is a signed `https://sigstore.dev/cosign/sign/v1` statement counts as the signature, and one
/// holding a SLSA provenance statement as the provenance; the same bundle about another digest
/// does not.
#[test]
fn sigstore_bundles_with_a_signed_dsse_envelope_satisfy_signature_and_provenance() {
    const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let s = setup(r#"["signature", "provenance"]"#);
    let bundle = |envelope: &Envelope| {
        let dsse: Value = serde_json::from_str(&envelope.to_json()).unwrap();
        serde_json::to_vec(&json!({
            "mediaType": BUNDLE,
            "verificationMaterial": {"publicKey": {"hint": s.key.key_id().as_str()}},
            "dsseEnvelope": dsse,
        }))
        .unwrap()
    };
    let img = s.image(71);
    let sign = attestation(
        &img,
        "https://sigstore.dev/cosign/sign/v1",
        json!({}),
        &s.key,
    );
    let prov = attestation(
        &img,
        "https://slsa.dev/provenance/v1",
        slsa_v1(
            BUILDER,
            "git+https://github.com/acme/app.git",
            "refs/heads/main",
        ),
        &s.key,
    );
    push_referrers(
        &s.host,
        "build/app",
        &img,
        &[
            (BUNDLE, vec![(BUNDLE, bundle(&sign), Value::Null)]),
            (BUNDLE, vec![(BUNDLE, bundle(&prov), Value::Null)]),
        ],
    );
    let out = s.promote(&img);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("signature: https://sigstore.dev/cosign/sign/v1 signed by"),
        "{err}"
    );

    // The same bundles on another image name the first image, not it.
    let other = s.image(72);
    push_referrers(
        &s.host,
        "build/app",
        &other,
        &[(BUNDLE, vec![(BUNDLE, bundle(&sign), Value::Null)])],
    );
    refused(
        &s.promote(&other),
        "signature",
        &["subjects do not include", other.digest.as_str()],
    );
}

/// Attestations made by securesystemslib (a real DSSE signer outside paved): SLSA provenance
/// and an SPDX SBOM in the `.att` tag, verified with the attester's key and checked against
/// `[promote.env.prod.provenance]`.
#[test]
fn attestations_made_by_securesystemslib_verify() {
    let s = setup(r#"["provenance", "sbom"]"#);
    let img = s.image(73);
    let python = tools_python("securesystemslib.dsse");
    let out_dir = s.work.path().join("sslib");
    let out = Command::new(&python)
        .arg(fixture("sslib_attest.py"))
        .args([
            img.digest.as_str(),
            BUILDER,
            "https://github.com/acme/app",
            "refs/heads/main",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        out_dir.join("attester.pub"),
        s.work.path().join("keys/attester.pub"),
    )
    .unwrap();
    write_config(
        s.work.path(),
        &s.host,
        r#"["provenance", "sbom"]"#,
        "keys/attester.pub",
    );
    let layer = |name: &str, predicate_type: &str| -> Layer {
        (
            DSSE,
            std::fs::read(out_dir.join(name)).unwrap(),
            json!({"predicateType": predicate_type}),
        )
    };
    push_tag(
        &s.host,
        "build/app",
        &img,
        ".att",
        &[
            layer("provenance.json", "https://slsa.dev/provenance/v1"),
            layer("sbom.json", "https://spdx.dev/Document"),
        ],
    );
    let dry_run = || {
        promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("{}/build/app:{}", s.host, img.tag),
                "--dry-run",
            ],
            s.work.path(),
            &[],
        )
    };
    let out = dry_run();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("sbom: https://spdx.dev/Document signed by"),
        "{err}"
    );

    // With a builder the policy does not name, the same provenance is refused.
    let config = std::fs::read_to_string(s.work.path().join("paved.toml")).unwrap();
    std::fs::write(
        s.work.path().join("paved.toml"),
        config.replace(BUILDER, "https://builder.example/other"),
    )
    .unwrap();
    refused(&dry_run(), "provenance", &["its builder.id is", BUILDER]);
}
