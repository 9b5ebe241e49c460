//! `paved-promote copy` against real registries (Debian docker-registry), fixtures pushed with skopeo.

use crate::common::*;
use paved_testkit::registry::Registry;

#[test]
fn within_one_registry_mounts_every_blob_and_keeps_bytes() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let fx = make_image(&work.path().join("layout"), "v1", 1, 3, 4096, true);
    push(&fx, &reg.host(), "team/src", None);
    let host = reg.host();

    let out = promote(
        &[
            "copy",
            &format!("{host}/team/src:v1"),
            &format!("{host}/team/dst:v1"),
            "--json",
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}\n{}", stderr(&out), reg.log());
    let report = json(&out);
    assert_eq!(report["digest"], fx.digest.as_str());
    assert_eq!(report["bytes_uploaded"], 0, "{report}");
    assert_eq!(report["blobs_uploaded"], 0, "{report}");
    // 2 configs + 6 layers + the SBOM's empty config and layer.
    assert_eq!(report["blobs_mounted"], 10, "{report}");
    assert_eq!(report["referrers"].as_array().unwrap().len(), 1, "{report}");

    let raw = inspect_raw(&format!("docker://{host}/team/dst:v1"), None);
    assert_eq!(raw, fx.bytes, "the index bytes changed");
    for child in &fx.children {
        let src = inspect_raw(&format!("docker://{host}/team/src@{child}"), None);
        let dst = inspect_raw(&format!("docker://{host}/team/dst@{child}"), None);
        assert_eq!(src, dst);
    }
    // The referrer travelled, listed under the tag-schema fallback (docker-registry 2.8 has no
    // referrers API).
    let referrers = inspect_raw(
        &format!("docker://{host}/team/dst:{}", fx.digest.fallback_tag()),
        None,
    );
    let referrers: serde_json::Value = serde_json::from_slice(&referrers).unwrap();
    assert_eq!(
        referrers["manifests"][0]["digest"],
        fx.referrer.as_ref().unwrap().as_str()
    );
    assert_eq!(referrers["manifests"][0]["artifactType"], SBOM_TYPE);

    // Again: the same digest under the same tag is a no-op success.
    let again = promote(
        &[
            "copy",
            &format!("{host}/team/src:v1"),
            &format!("{host}/team/dst:v1"),
        ],
        work.path(),
        &[],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already points at"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        fx.digest.as_str()
    );
}

#[test]
fn across_registries_streams_blobs_and_skips_existing_ones() {
    let work = tempfile::tempdir().unwrap();
    let a = Registry::start();
    let b = Registry::start();
    let fx = make_image(&work.path().join("layout"), "v1", 2, 3, 50_000, true);
    push(&fx, &a.host(), "app", None);

    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", a.host()),
            &format!("{}/prod/app:1.0.0", b.host()),
            "--json",
            "--jobs",
            "3",
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["blobs_uploaded"], 10, "{report}");
    assert_eq!(report["blobs_mounted"], 0);
    assert_eq!(
        inspect_raw(&format!("docker://{}/prod/app:1.0.0", b.host()), None),
        fx.bytes
    );
    let sbom = inspect_raw(
        &format!(
            "docker://{}/prod/app@{}",
            b.host(),
            fx.referrer.as_ref().unwrap()
        ),
        None,
    );
    assert_eq!(Some(paved_promote::digest::Digest::of(&sbom)), fx.referrer);

    // A second image sharing nothing but pushed to another repo of B: existing blobs are skipped
    // when copying the same image again under a new tag... in a new repository, by chunks.
    let out = promote(
        &[
            "copy",
            &format!("{}/app@{}", a.host(), fx.digest),
            &format!("{}/prod/app:again", b.host()),
            "--json",
        ],
        work.path(),
        &[],
    );
    let report = json(&out);
    assert_eq!(report["blobs_skipped"], 10, "{report}");
    assert_eq!(report["bytes_uploaded"], 0, "{report}");

    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", a.host()),
            &format!("{}/chunked:v1", b.host()),
            "--json",
            "--chunk-size",
            "20000",
            "--no-referrers",
        ],
        work.path(),
        &[],
    );
    let report = json(&out);
    assert_eq!(report["blobs_uploaded"], 8, "{report}");
    assert_eq!(
        inspect_raw(&format!("docker://{}/chunked:v1", b.host()), None),
        fx.bytes
    );
}

#[test]
fn a_tag_on_another_digest_is_refused_naming_both() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    let one = make_image(&work.path().join("one"), "v1", 3, 1, 1000, false);
    let two = make_image(&work.path().join("two"), "v1", 4, 1, 1000, false);
    push(&one, &host, "src1", None);
    push(&two, &host, "src2", None);
    let ok = promote(
        &[
            "copy",
            &format!("{host}/src1:v1"),
            &format!("{host}/dst:v1"),
        ],
        work.path(),
        &[],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let refused = promote(
        &[
            "copy",
            &format!("{host}/src2:v1"),
            &format!("{host}/dst:v1"),
        ],
        work.path(),
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains(one.digest.as_str()) && err.contains(two.digest.as_str()),
        "{err}"
    );
    assert_eq!(
        inspect_raw(&format!("docker://{host}/dst:v1"), None),
        one.bytes
    );
}

#[test]
fn oci_layouts_are_read_and_written() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    let fx = make_image(&work.path().join("layout"), "v1", 5, 2, 3000, true);
    push(&fx, &host, "src", None);
    let out_dir = work.path().join("exported");
    let out = promote(
        &[
            "copy",
            &format!("{host}/src:v1"),
            &format!("oci:{}:release", out_dir.display()),
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // skopeo reads our layout and sees the same bytes.
    assert_eq!(
        inspect_raw(&format!("oci:{}:release", out_dir.display()), None),
        fx.bytes
    );
    // And from the layout (the embedded default) to a registry, referrers included.
    let out = promote(
        &[
            "copy",
            &format!("oci:{}:release", out_dir.display()),
            &format!("{host}/from-layout:v1"),
            "--json",
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["referrers"].as_array().unwrap().len(), 1);
    assert_eq!(
        inspect_raw(&format!("docker://{host}/from-layout:v1"), None),
        fx.bytes
    );

    let plan = promote(
        &[
            "copy",
            &format!("{host}/src:v1"),
            &format!("{host}/planned:v1"),
            "--dry-run",
        ],
        work.path(),
        &[],
    );
    assert!(plan.status.success());
    assert!(
        stderr(&plan).contains("mount (upload if refused)"),
        "{}",
        stderr(&plan)
    );
    let missing = promote(
        &[
            "copy",
            &format!("{host}/planned:v1"),
            &format!("{host}/x:v1"),
        ],
        work.path(),
        &[],
    );
    // Not there: exit 3, as the help defines it.
    assert_eq!(
        missing.status.code(),
        Some(3),
        "the dry run pushed something: {}",
        stderr(&missing)
    );
}

#[test]
fn htpasswd_registry_with_env_and_docker_config_credentials() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start_with_htpasswd("ci", "s3cret-pw");
    let host = reg.host();
    let fx = make_image(&work.path().join("layout"), "v1", 6, 1, 2000, false);
    push(&fx, &host, "src", Some("ci:s3cret-pw"));

    let anonymous = promote(
        &["copy", &format!("{host}/src:v1"), &format!("{host}/dst:v1")],
        work.path(),
        &[],
    );
    assert_eq!(anonymous.status.code(), Some(3), "{}", stderr(&anonymous));
    assert!(
        stderr(&anonymous).contains("PAVED_REGISTRY_USERNAME"),
        "{}",
        stderr(&anonymous)
    );

    let out = promote(
        &["copy", &format!("{host}/src:v1"), &format!("{host}/dst:v1")],
        work.path(),
        &[
            ("PAVED_REGISTRY_USERNAME", "ci"),
            ("PAVED_REGISTRY_PASSWORD", "s3cret-pw"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret-pw"));

    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    // base64("ci:s3cret-pw")
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "Y2k6czNjcmV0LXB3"}}}}}}"#),
    )
    .unwrap();
    let out = promote(
        &[
            "copy",
            &format!("{host}/src:v1"),
            &format!("{host}/dst2:v1"),
        ],
        work.path(),
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inspect_raw(&format!("docker://{host}/dst2:v1"), Some("ci:s3cret-pw")),
        fx.bytes
    );
}

/// Two promotions of different digests racing for one tag: the registry API has no
/// compare-and-swap, so both may pass the check, but the tag always ends on a digest whose
/// promotion reported success, and a promotion that exited 1 never owns the tag.
#[test]
fn racing_promotions_never_leave_the_tag_on_a_refused_digest() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    let one = make_image(&work.path().join("one"), "v1", 40, 1, 1000, false);
    let two = make_image(&work.path().join("two"), "v1", 41, 1, 1000, false);
    push(&one, &host, "a", None);
    push(&two, &host, "b", None);
    for round in 0..3 {
        let tag = format!("{host}/race:r{round}");
        let (t1, t2) = (tag.clone(), tag.clone());
        let (h1, h2) = (host.clone(), host.clone());
        let dir1 = work.path().to_owned();
        let dir2 = work.path().to_owned();
        let a =
            std::thread::spawn(move || promote(&["copy", &format!("{h1}/a:v1"), &t1], &dir1, &[]));
        let b =
            std::thread::spawn(move || promote(&["copy", &format!("{h2}/b:v1"), &t2], &dir2, &[]));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        for out in [&a, &b] {
            assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(out));
        }
        assert!(
            a.status.success() || b.status.success(),
            "both refused: {} / {}",
            stderr(&a),
            stderr(&b)
        );
        let now = inspect_raw(&format!("docker://{tag}"), None);
        let winner = if now == one.bytes { &a } else { &b };
        assert!(
            winner.status.success(),
            "the tag is on a refused digest: {}",
            stderr(winner)
        );
    }
}

/// cosign's default tag-scheme artifacts (`sha256-<hex>.sig`, `.att`, `.sbom`) travel with the
/// image, into another registry and into a layout, byte for byte; a re-run finds them in place.
#[test]
fn cosign_tag_scheme_artifacts_travel_with_the_image() {
    let work = tempfile::tempdir().unwrap();
    let src = Registry::start();
    let dst = Registry::start();
    let fx = make_image(&work.path().join("layout"), "v1", 64, 1, 1200, false);
    push(&fx, &src.host(), "app", None);
    let sig = push_cosign_tag(&src.host(), "app", &fx.digest, ".sig");
    let att = push_cosign_tag(&src.host(), "app", &fx.digest, ".att");
    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", src.host()),
            &format!("{}/app:v1", dst.host()),
            "--json",
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let tag = fx.digest.fallback_tag();
    assert_eq!(
        json(&out)["cosign_tags"],
        serde_json::json!([format!("{tag}.sig"), format!("{tag}.att")])
    );
    for (suffix, bytes) in [(".sig", &sig), (".att", &att)] {
        assert_eq!(
            &inspect_raw(&format!("docker://{}/app:{tag}{suffix}", dst.host()), None),
            bytes,
            "{suffix}"
        );
    }
    let layout = work.path().join("out");
    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", dst.host()),
            &format!("oci:{}:v1", layout.display()),
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let l = paved_promote::oci::layout::Layout::open(&layout).unwrap();
    assert_eq!(
        l.resolve(&format!("{tag}.sig")).unwrap(),
        Some(paved_promote::digest::Digest::of(&sig))
    );
    let again = promote(
        &[
            "copy",
            &format!("{}/app:v1", src.host()),
            &format!("{}/app:v1", dst.host()),
        ],
        work.path(),
        &[],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("kept the destination"),
        "{}",
        stderr(&again)
    );
}

/// A layer file in a local layout whose bytes no longer match its digest is named, by path,
/// before anything reaches the registry; nothing is tagged.
#[test]
fn a_corrupt_layer_in_a_local_layout_is_named_by_its_file() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let layout = work.path().join("layout");
    let _fx = make_image(&layout, "v1", 7, 2, 4096, false);
    // The biggest blob is a layer: flip its bytes.
    let blobs = layout.join("blobs/sha256");
    let victim = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let host = reg.host();
    let out = promote(
        &["copy", "oci:layout:v1", &format!("{host}/team/dst:v1")],
        work.path(),
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "the damaged file is named: {err}");
    assert!(err.contains("does not match its digest"), "{err}");
    let tag = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{host}/v2/team/dst/manifests/v1"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tag.stdout),
        "404",
        "nothing is tagged"
    );
}
