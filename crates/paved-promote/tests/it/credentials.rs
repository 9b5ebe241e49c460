//! Credentials stay with the registry they belong to: the generic env pair, per-host env,
//! docker config.json `auths`, and docker credential helpers (`credHelpers`, `credsStore`),
//! against the real registry with htpasswd auth.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use paved_testkit::http::{FakeResponse, FakeServer};
use paved_testkit::registry::Registry;

use crate::common::*;

/// A source registry that asks for Basic credentials and records what it was sent.
fn asking_source() -> FakeServer {
    let server = FakeServer::start();
    let challenge = || {
        FakeResponse::text(401, "unauthorized")
            .header("WWW-Authenticate", r#"Basic realm="Registry Realm""#)
    };
    server.route("GET", "/v2/").respond(challenge());
    server
        .route("GET", "/v2/app/manifests/v1")
        .respond(challenge());
    server
        .route("HEAD", "/v2/app/manifests/v1")
        .respond(challenge());
    server
}

/// `PAVED_REGISTRY_USERNAME`/`_PASSWORD` belong to the registry written to; a source on another
/// registry that asks for credentials gets none of them, and the error says whose they are.
#[test]
fn the_generic_env_pair_is_not_offered_to_a_source_elsewhere() {
    let work = tempfile::tempdir().unwrap();
    let dst = Registry::start_with_htpasswd("ci", "dst-s3cret-pw");
    let source = asking_source();
    let src_host = source.addr().to_string();
    let out = promote(
        &[
            "copy",
            &format!("{src_host}/app:v1"),
            &format!("{}/app:v1", dst.host()),
        ],
        work.path(),
        &[
            ("PAVED_REGISTRY_USERNAME", "ci"),
            ("PAVED_REGISTRY_PASSWORD", "dst-s3cret-pw"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("belong to `{}` only", dst.host())),
        "{}",
        stderr(&out)
    );
    assert!(!source.requests().is_empty());
    for request in source.requests() {
        assert_eq!(
            request.header("authorization"),
            None,
            "{} {} carried credentials",
            request.method,
            request.path
        );
    }
}

/// The same pair with `PAVED_REGISTRY_HOST` naming the source goes to the source only; the
/// destination then needs its own.
#[test]
fn per_host_env_credentials_for_source_and_destination() {
    let work = tempfile::tempdir().unwrap();
    let src = Registry::start_with_htpasswd("reader", "src-pw");
    let dst = Registry::start_with_htpasswd("ci", "dst-pw");
    let fx = make_image(&work.path().join("layout"), "v1", 61, 1, 1500, false);
    push(&fx, &src.host(), "app", Some("reader:src-pw"));
    let key = |host: &str| {
        host.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    let (user, pass) = (
        format!("PAVED_REGISTRY_{}_USERNAME", key(&dst.host())),
        format!("PAVED_REGISTRY_{}_PASSWORD", key(&dst.host())),
    );
    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", src.host()),
            &format!("{}/app:v1", dst.host()),
        ],
        work.path(),
        &[
            ("PAVED_REGISTRY_HOST", src.host().as_str()),
            ("PAVED_REGISTRY_USERNAME", "reader"),
            ("PAVED_REGISTRY_PASSWORD", "src-pw"),
            (user.as_str(), "ci"),
            (pass.as_str(), "dst-pw"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inspect_raw(
            &format!("docker://{}/app:v1", dst.host()),
            Some("ci:dst-pw")
        ),
        fx.bytes
    );
}

/// Write `docker-credential-<name>` into `bin`: it records its arguments and stdin in
/// `<bin>/<name>.log` and answers with `answer` (or fails with `fail`).
fn fake_helper(bin: &Path, name: &str, answer: &str, fail: Option<&str>) {
    std::fs::create_dir_all(bin).unwrap();
    let log = bin.join(format!("{name}.log"));
    let tail = match fail {
        Some(message) => format!("echo '{message}'\nexit 1\n"),
        None => format!("cat <<'JSON'\n{answer}\nJSON\n"),
    };
    let script = format!(
        "#!/bin/sh\nprintf '%s ' \"$@\" >> '{log}'\ncat >> '{log}'\necho >> '{log}'\n{tail}",
        log = log.display()
    );
    let path = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn with_path(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `credHelpers` names a helper for the host; `credsStore` is the default for the rest. Each is
/// run with `get` and the registry on stdin, and its `{Username, Secret}` is used.
#[test]
fn docker_credential_helpers_are_run_for_their_registry() {
    let work = tempfile::tempdir().unwrap();
    let src = Registry::start_with_htpasswd("reader", "helper-src-pw");
    let dst = Registry::start_with_htpasswd("ci", "helper-dst-pw");
    let fx = make_image(&work.path().join("layout"), "v1", 62, 1, 1500, false);
    push(&fx, &src.host(), "app", Some("reader:helper-src-pw"));
    let bin = work.path().join("bin");
    fake_helper(
        &bin,
        "paved-host",
        r#"{"ServerURL": "x", "Username": "reader", "Secret": "helper-src-pw"}"#,
        None,
    );
    fake_helper(
        &bin,
        "paved-store",
        r#"{"ServerURL": "x", "Username": "ci", "Secret": "helper-dst-pw"}"#,
        None,
    );
    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths": {{"{src}": {{}}}}, "credHelpers": {{"{src}": "paved-host"}}, "credsStore": "paved-store"}}"#,
            src = src.host()
        ),
    )
    .unwrap();
    let path = with_path(&bin);
    let env = [
        ("DOCKER_CONFIG", docker.to_str().unwrap()),
        ("PATH", path.as_str()),
        ("GITHUB_ACTIONS", "true"),
    ];
    let out = promote(
        &[
            "copy",
            &format!("{}/app:v1", src.host()),
            &format!("{}/app:v1", dst.host()),
        ],
        work.path(),
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        inspect_raw(
            &format!("docker://{}/app:v1", dst.host()),
            Some("ci:helper-dst-pw")
        ),
        fx.bytes
    );
    let host_log = std::fs::read_to_string(bin.join("paved-host.log")).unwrap();
    let store_log = std::fs::read_to_string(bin.join("paved-store.log")).unwrap();
    assert_eq!(
        host_log.trim(),
        format!("get {}", src.host()),
        "run once, for its host"
    );
    assert_eq!(store_log.trim(), format!("get {}", dst.host()));
    let err = stderr(&out);
    assert!(err.contains("::add-mask::helper-src-pw"), "{err}");
    assert!(err.contains("::add-mask::helper-dst-pw"), "{err}");
}

/// A helper that has nothing for the registry means anonymous (and a clear error when the
/// registry insists); a helper that is not installed is a config error naming it.
#[test]
fn a_helper_without_credentials_or_missing_is_explained() {
    let work = tempfile::tempdir().unwrap();
    let dst = Registry::start_with_htpasswd("ci", "pw-none");
    let fx = make_image(&work.path().join("layout"), "v1", 63, 1, 1000, false);
    let bin = work.path().join("bin");
    fake_helper(
        &bin,
        "empty",
        "",
        Some("credentials not found in native keychain"),
    );
    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let path = with_path(&bin);
    let src = format!("oci:{}:v1", fx.dir.display());
    let dst_ref = format!("{}/app:v1", dst.host());
    for (store, code, says) in [
        ("empty", 3, "asks for credentials and none were found"),
        ("not-installed", 2, "`docker-credential-not-installed`"),
    ] {
        std::fs::write(
            docker.join("config.json"),
            format!(r#"{{"credsStore": "{store}"}}"#),
        )
        .unwrap();
        let out = promote(
            &["copy", &src, &dst_ref],
            work.path(),
            &[
                ("DOCKER_CONFIG", docker.to_str().unwrap()),
                ("PATH", path.as_str()),
            ],
        );
        assert_eq!(out.status.code(), Some(code), "{store}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{store}: {}", stderr(&out));
    }
}
