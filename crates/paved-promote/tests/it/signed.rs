//! Signed promotion records (issue #19, "Signed promotion records"): every record is an in-toto
//! Statement in a DSSE envelope signed with the promoter's key, and the previous-environment
//! and soak checks trust only records signed by a key `[promote.env.<previous>] trusted-keys`
//! lists, for a digest that is really in the previous environment's repository.

use std::path::Path;

use paved_core::sign::{Algorithm, Envelope, PrivateKey, PublicKey, Statement, Subject};
use paved_testkit::registry::Registry;

use crate::common::*;

/// Write `keys/<name>.pem` and `keys/<name>.pub` under `dir` (a fresh key of `algorithm`).
fn make_key(dir: &Path, name: &str, algorithm: Algorithm) -> PrivateKey {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let pem = PrivateKey::generate(algorithm).unwrap();
    let key = PrivateKey::from_pem(&pem, name).unwrap();
    std::fs::write(keys.join(format!("{name}.pem")), &pem).unwrap();
    std::fs::write(keys.join(format!("{name}.pub")), key.public_key().to_pem()).unwrap();
    key
}

struct Setup {
    work: tempfile::TempDir,
    reg: Registry,
    host: String,
    dev: PrivateKey,
    staging: PrivateKey,
    image: Fixture,
}

fn signed_config(host: &str, soak: &str) -> String {
    format!(
        r#"
[promote]
environments = ["dev", "staging", "prod"]

[promote.env.dev]
repository = "{host}/dev/app"
trusted-keys = ["keys/dev.pub"]

[promote.env.staging]
repository = "{host}/staging/app"
trusted-keys = ["keys/staging.pub"]

[promote.env.prod]
repository = "{host}/prod/app"
current-tag = "live"
soak = "{soak}"
"#
    )
}

fn setup(soak: &str) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(work.path().join("paved.toml"), signed_config(&host, soak)).unwrap();
    let dev = make_key(work.path(), "dev", Algorithm::Ed25519);
    let staging = make_key(work.path(), "staging", Algorithm::EcdsaP256);
    let image = make_image(&work.path().join("v1"), "1.0.0", 90, 1, 900, false);
    push(&image, &host, "build/app", None);
    Setup {
        work,
        reg,
        host,
        dev,
        staging,
        image,
    }
}

impl Setup {
    fn run(&self, args: &[&str]) -> std::process::Output {
        promote(args, self.work.path(), &[])
    }

    fn promote_signed(&self, env: &str, from: &str, key: &str) -> std::process::Output {
        self.run(&[
            "promote",
            "--env",
            env,
            &format!("{}/{from}:1.0.0", self.host),
            "--signing-key",
            &format!("keys/{key}.pem"),
            "--ledger=ledger.jsonl",
        ])
    }

    /// Promote into `staging` from a side config in which staging is the first environment
    /// (no checks): the record is a real paved record, signed by `key` (or unsigned).
    fn forge_staging_record(&self, key: Option<&str>) {
        let side = self.work.path().join("side");
        std::fs::create_dir_all(&side).unwrap();
        std::fs::write(
            side.join("paved.toml"),
            format!(
                "[promote]\nenvironments = [\"staging\"]\n[promote.env.staging]\nrepository = \"{}/staging/app\"\n",
                self.host
            ),
        )
        .unwrap();
        let mut args = vec![
            "promote".to_owned(),
            "--env".into(),
            "staging".into(),
            format!("{}/build/app:1.0.0", self.host),
        ];
        if let Some(k) = key {
            args.push("--signing-key".into());
            args.push(
                self.work
                    .path()
                    .join(format!("keys/{k}.pem"))
                    .display()
                    .to_string(),
            );
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = promote(&args, &side, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    fn prod(&self) -> std::process::Output {
        self.run(&[
            "promote",
            "--env",
            "prod",
            &format!("{}/staging/app:1.0.0", self.host),
            "--ledger=ledger.jsonl",
        ])
    }
}

fn refused_naming(out: &std::process::Output, check: &str, why: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("check `{check}` failed")), "{err}");
    for w in why {
        assert!(err.contains(w), "expected `{w}` in:\n{err}");
    }
}

/// The valid path: each promotion signs its record; prod trusts staging's signed record, and
/// the record in the registry and in the ledger is a DSSE envelope that verifies with the
/// staging key, as an in-toto Statement about the image digest.
#[test]
fn signed_records_pass_and_verify_with_the_environment_key() {
    let s = setup("0s");
    let out = s.promote_signed("dev", "build/app", "dev");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.promote_signed("staging", "dev/app", "staging");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.prod();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("signed by {}", &s.staging.key_id().as_str()[..16])),
        "{err}"
    );

    // The staging line of the ledger is an envelope signed by the staging key.
    let ledger = std::fs::read_to_string(s.work.path().join("ledger.jsonl")).unwrap();
    let lines: Vec<&str> = ledger.lines().collect();
    assert_eq!(lines.len(), 3, "{ledger}");
    let envelope = Envelope::from_json(lines[1].as_bytes(), "ledger line 2").unwrap();
    let trusted = [PublicKey::load(&s.work.path().join("keys/staging.pub")).unwrap()];
    let (statement, _) = Statement::verify(&envelope, &trusted, "ledger line 2").unwrap();
    assert_eq!(statement.predicate_type, "https://paved.dev/promotion/v1");
    assert_eq!(
        statement.subject[0].sha256_hex(),
        Some(s.image.digest.hex())
    );
    assert_eq!(statement.predicate["environment"], "staging");
    assert_eq!(statement.predicate["digest"], s.image.digest.as_str());

    // securesystemslib, a DSSE implementation outside paved, verifies the record with the
    // staging public key (paved-core's reference script).
    let envelope_file = s.work.path().join("staging-record.json");
    std::fs::write(&envelope_file, lines[1]).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../paved-core/tests/fixtures/sign/sslib.py");
    let out = std::process::Command::new(tools_python("securesystemslib.dsse"))
        .arg(script)
        .arg("verify")
        .arg(s.work.path().join("keys/staging.pub"))
        .arg(&envelope_file)
        .arg("application/vnd.in-toto+json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "securesystemslib refused the record: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        s.staging.key_id().as_str()
    );

    // History still reads the records (from the registry, decoded from their envelopes).
    let out = s.run(&[
        "history",
        &format!("{}/staging/app:1.0.0", s.host),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)[0]["environment"], "staging");
    drop(s.reg);
}

/// The issue's bypass: a record pushed to staging for an image that was never promoted there
/// through dev, unsigned, is ignored (and reported), so prod is refused.
#[test]
fn an_unsigned_record_is_ignored_and_reported() {
    let s = setup("0s");
    s.forge_staging_record(None);
    let out = s.prod();
    refused_naming(
        &out,
        "previous-environment",
        &["never promoted to `staging`"],
    );
    let err = stderr(&out);
    assert!(err.contains("ignored promotion record"), "{err}");
    assert!(err.contains("unsigned"), "{err}");
}

/// A record signed by a key no environment lists is ignored.
#[test]
fn a_record_signed_by_an_unlisted_key_is_ignored() {
    let s = setup("0s");
    make_key(s.work.path(), "rogue", Algorithm::EcdsaP256);
    s.forge_staging_record(Some("rogue"));
    let out = s.prod();
    refused_naming(
        &out,
        "previous-environment",
        &["ignored promotion record", "not signed by a trusted key"],
    );
}

/// A valid signature by the wrong key: dev's key (trusted for dev) does not vouch for staging.
#[test]
fn a_record_signed_by_another_environments_key_is_ignored() {
    let s = setup("0s");
    s.forge_staging_record(Some("dev"));
    let out = s.prod();
    refused_naming(
        &out,
        "previous-environment",
        &["ignored promotion record", "not signed by a trusted key"],
    );
}

/// Envelopes in the ledger file are verified as well: a changed payload, and a statement about
/// another digest, are both ignored with the reason.
#[test]
fn a_tampered_ledger_line_and_a_statement_about_another_digest_are_ignored() {
    let s = setup("0s");
    let predicate = serde_json::json!({
        "action": "promote",
        "digest": s.image.digest.as_str(),
        "source": "forged",
        "destination": format!("{}/staging/app:1.0.0", s.host),
        "environment": "staging",
        "time": "2020-01-01T00:00:00.000Z",
        "checks": [],
    });
    // The digest is in staging's repository (pushed there directly), so only the records decide.
    push(&s.image, &s.host, "staging/app", None);

    // Signed by the staging key, then its payload changed (the time moved).
    let statement = Statement::new(
        vec![Subject::sha256("staging/app", s.image.digest.hex())],
        "https://paved.dev/promotion/v1",
        predicate.clone(),
    );
    let mut tampered = statement.sign(&s.staging).unwrap();
    tampered.payload = String::from_utf8(tampered.payload)
        .unwrap()
        .replace("2020-01-01", "2019-01-01")
        .into_bytes();
    // Validly signed by the staging key, but the statement is about another digest.
    let other = paved_promote::digest::Digest::of(b"another image");
    let elsewhere = Statement::new(
        vec![Subject::sha256("staging/app", other.hex())],
        "https://paved.dev/promotion/v1",
        predicate,
    )
    .sign(&s.staging)
    .unwrap();
    std::fs::write(
        s.work.path().join("ledger.jsonl"),
        format!("{}\n{}\n", tampered.to_json(), elsewhere.to_json()),
    )
    .unwrap();
    let out = s.prod();
    refused_naming(
        &out,
        "previous-environment",
        &[
            "ledger.jsonl line 1",
            "not signed by a trusted key",
            "ledger.jsonl line 2",
            &format!("is about sha256:{}", other.hex()),
        ],
    );
}

/// A validly signed record for a digest that is not in the previous environment's repository
/// (the record was copied from elsewhere) does not satisfy `previous-environment`.
#[test]
fn a_signed_record_for_a_digest_missing_from_the_previous_repository_is_refused() {
    let s = setup("0s");
    let record = serde_json::json!({
        "action": "promote",
        "digest": s.image.digest.as_str(),
        "source": "elsewhere",
        "destination": format!("{}/staging/app:1.0.0", s.host),
        "environment": "staging",
        "time": "2020-01-01T00:00:00.000Z",
        "checks": [],
    });
    let envelope = Statement::new(
        vec![Subject::sha256("staging/app", s.image.digest.hex())],
        "https://paved.dev/promotion/v1",
        record,
    )
    .sign(&s.staging)
    .unwrap();
    std::fs::write(
        s.work.path().join("ledger.jsonl"),
        format!("{}\n", envelope.to_json()),
    )
    .unwrap();
    let out = s.run(&[
        "promote",
        "--env",
        "prod",
        &format!("{}/build/app:1.0.0", s.host),
        "--ledger=ledger.jsonl",
    ]);
    refused_naming(&out, "previous-environment", &["is not in", "/staging/app"]);
}

/// Soak counts from the first trusted record only.
#[test]
fn the_soak_is_counted_from_the_signed_record() {
    let s = setup("2h");
    assert!(s.promote_signed("dev", "build/app", "dev").status.success());
    let out = s.promote_signed("staging", "dev/app", "staging");
    assert!(out.status.success(), "{}", stderr(&out));
    // A forged, older, unsigned record (in the ledger file) must not shorten the soak.
    let forged = serde_json::json!({
        "action": "promote",
        "digest": s.image.digest.as_str(),
        "source": "forged",
        "destination": format!("{}/staging/app:1.0.0", s.host),
        "environment": "staging",
        "time": "2020-01-01T00:00:00.000Z",
    });
    let ledger = s.work.path().join("ledger.jsonl");
    let mut text = std::fs::read_to_string(&ledger).unwrap();
    text.push_str(&format!("{forged}\n"));
    std::fs::write(&ledger, text).unwrap();
    let out = s.prod();
    refused_naming(
        &out,
        "soak",
        &["requires 2h", "ledger.jsonl line 3: it is unsigned"],
    );
}

/// Without trusted keys for the previous environment, a gate on its records cannot tell a real
/// record from a forged one: refused as a config error naming the key to add, unless the
/// environment opts in to unsigned records.
#[test]
fn a_previous_environment_without_trusted_keys_is_a_config_error() {
    let s = setup("0s");
    let config =
        signed_config(&s.host, "0s").replace("trusted-keys = [\"keys/staging.pub\"]\n", "");
    std::fs::write(s.work.path().join("paved.toml"), &config).unwrap();
    let out = s.prod();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[promote.env.staging]"), "{err}");
    assert!(err.contains("trusted-keys"), "{err}");
    assert!(err.contains("allow-unsigned-records"), "{err}");

    // Opted in: the unsigned record counts again (with a warning saying so).
    std::fs::write(
        s.work.path().join("paved.toml"),
        config.replace(
            "soak = \"0s\"",
            "soak = \"0s\"\nallow-unsigned-records = true",
        ),
    )
    .unwrap();
    s.forge_staging_record(None);
    let out = s.prod();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("unverified"), "{}", stderr(&out));

    // A listed key file that does not exist is a config error too.
    std::fs::write(
        s.work.path().join("paved.toml"),
        signed_config(&s.host, "0s").replace("keys/staging.pub", "keys/missing.pub"),
    )
    .unwrap();
    let out = s.prod();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keys/missing.pub"),
        "{}",
        stderr(&out)
    );
}

/// An environment that lists trusted keys expects its records signed by one of them: promoting
/// into it without `--signing-key`, or with another key, is refused before anything is copied.
#[test]
fn promoting_into_a_keyed_environment_needs_its_key() {
    let s = setup("0s");
    let out = s.run(&[
        "promote",
        "--env",
        "dev",
        &format!("{}/build/app:1.0.0", s.host),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--signing-key"), "{}", stderr(&out));
    let out = s.promote_signed("dev", "build/app", "staging");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("keys/dev.pub"), "{}", stderr(&out));
    // Nothing was copied: dev's repository does not have the image.
    let out = s.run(&["history", &format!("{}/dev/app:1.0.0", s.host)]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // With dev's key it goes through, and says which key signed.
    let out = s.run(&[
        "promote",
        "--env",
        "dev",
        &format!("{}/build/app:1.0.0", s.host),
        "--signing-key",
        "keys/dev.pem",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["signed_by"], s.dev.key_id().as_str());

    // A rollback writes a record too, so it needs the key as well.
    let out = s.run(&["rollback", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--signing-key"), "{}", stderr(&out));
}

/// A record already in staging that its keys do not verify (here an unsigned one, for the same
/// destination) does not make the real, signed promotion a "re-run" that records nothing.
#[test]
fn an_unverified_record_does_not_turn_a_signed_promotion_into_a_rerun() {
    let s = setup("0s");
    s.forge_staging_record(None);
    assert!(s.promote_signed("dev", "build/app", "dev").status.success());
    let out = s.promote_signed("staging", "dev/app", "staging");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("no new record"), "{}", stderr(&out));
    let out = s.prod();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// In an environment that lists `trusted-keys`, rollback walks back only through records
/// signed by them: a record someone pushed for another image (unsigned) neither becomes the
/// "current" deployment nor a target, and is named as ignored.
#[test]
fn rollback_in_a_keyed_environment_trusts_only_signed_records() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(
        work.path().join("paved.toml"),
        format!(
            "[promote]\nenvironments = [\"dev\"]\n[promote.env.dev]\nrepository = \"{host}/dev/app\"\ncurrent-tag = \"live\"\ntrusted-keys = [\"keys/dev.pub\"]\n"
        ),
    )
    .unwrap();
    make_key(work.path(), "dev", Algorithm::Ed25519);
    let mut images = Vec::new();
    for (i, tag) in ["1.0.0", "1.1.0", "6.6.6"].iter().enumerate() {
        let image = make_image(&work.path().join(tag), tag, 200 + i as u64, 1, 700, false);
        push(&image, &host, "build/app", None);
        images.push(image);
    }
    let run = |dir: &Path, args: &[&str]| promote(args, dir, &[]);
    for tag in ["1.0.0", "1.1.0"] {
        let out = run(
            work.path(),
            &[
                "promote",
                "--env",
                "dev",
                &format!("{host}/build/app:{tag}"),
                "--signing-key",
                "keys/dev.pem",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Someone with push access promotes 6.6.6 into dev without the key (a config of their own).
    let side = work.path().join("side");
    std::fs::create_dir_all(&side).unwrap();
    std::fs::write(
        side.join("paved.toml"),
        format!("[promote]\nenvironments = [\"dev\"]\n[promote.env.dev]\nrepository = \"{host}/dev/app\"\ncurrent-tag = \"live\"\n"),
    )
    .unwrap();
    let out = run(
        &side,
        &[
            "promote",
            "--env",
            "dev",
            &format!("{host}/build/app:6.6.6"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // The signed history is 1.0.0 then 1.1.0: rolling back goes to 1.0.0, not to 1.1.0.
    let out = run(
        work.path(),
        &[
            "rollback",
            "--env",
            "dev",
            "--signing-key",
            "keys/dev.pem",
            "--dry-run",
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(images[0].digest.as_str()),
        "rolls back to 1.0.0: {err}"
    );
    assert!(err.contains("ignored promotion record"), "{err}");
    // `history --env` says which records the environment's keys vouch for.
    let out = run(work.path(), &["history", "--env", "dev", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = json(&out);
    let status_of = |digest: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["digest"] == digest)
            .map(|r| r["signature"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert!(status_of(images[0].digest.as_str()).starts_with("signed by "));
    assert!(status_of(images[2].digest.as_str()).starts_with("NOT TRUSTED: "));
    // The unsigned image is no target either.
    let to = format!("--to={}", images[2].digest);
    let out = run(
        work.path(),
        &[
            "rollback",
            "--env",
            "dev",
            "--signing-key",
            "keys/dev.pem",
            &to,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// `copy --signing-key` signs the record it writes to the ledger, like `promote`.
#[test]
fn copy_with_a_signing_key_writes_a_signed_ledger_record() {
    let s = setup("0s");
    let out = s.run(&[
        "copy",
        &format!("{}/build/app:1.0.0", s.host),
        &format!("{}/mirror/app:1.0.0", s.host),
        "--signing-key",
        "keys/dev.pem",
        "--ledger=copy.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ledger = std::fs::read_to_string(s.work.path().join("copy.jsonl")).unwrap();
    let line = ledger.lines().next().expect("one record");
    let envelope = Envelope::from_json(line.as_bytes(), "copy.jsonl").unwrap();
    let trusted = [PublicKey::load(&s.work.path().join("keys/dev.pub")).unwrap()];
    let (statement, _) = Statement::verify(&envelope, &trusted, "copy.jsonl").unwrap();
    assert_eq!(
        statement.subject[0].sha256_hex(),
        Some(s.image.digest.hex())
    );
    assert_eq!(statement.predicate["digest"], s.image.digest.as_str());
    let wrong = [PublicKey::load(&s.work.path().join("keys/staging.pub")).unwrap()];
    assert!(Statement::verify(&envelope, &wrong, "copy.jsonl").is_err());
}
