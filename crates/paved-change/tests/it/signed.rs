//! Evidence with integrity: `open`/`wait`/`close --signing-key` write the bundle as a signed
//! in-toto statement next to it, `open` writes the evidence digest into the backend's record, and
//! `verify --trusted-key` refuses every change since signing, field by field. Cross-checked with
//! securesystemslib both ways.

use std::path::{Path, PathBuf};

use crate::common::{Run, TestRepo};
use paved_core::sign::{Algorithm, Envelope, PrivateKey, PublicKey, Statement};
use serde_json::{Value, json};

const DIGEST1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A key pair written as PEM files: (private, public).
fn key_pair(dir: &Path, name: &str, algorithm: Algorithm) -> (PathBuf, PathBuf) {
    let pem = PrivateKey::generate(algorithm).unwrap();
    let key = PrivateKey::from_pem(&pem, name).unwrap();
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    std::fs::write(&private, pem).unwrap();
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    (private, public)
}

fn github_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/rocket"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_ACTOR", "ada"),
    ]
}

fn history() -> TestRepo {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "git@github.com:acme/rocket.git"]);
    repo.commit_file("a.txt", "feat: first");
    repo.tag("v1.0.0");
    repo.commit_file("b.txt", "feat(api): export endpoint (#3)");
    repo
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `open` (and `close` with the key): the record and its envelope.
fn signed_change(repo: &TestRepo, key: &Path) -> (String, PathBuf, PathBuf) {
    let key = key.to_str().unwrap();
    let b = repo
        .paved_env(
            &[
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--digest",
                &format!("ghcr.io/acme/rocket@{DIGEST1}"),
                "--signing-key",
                key,
                "--json",
            ],
            &github_env(),
        )
        .json();
    let id = b["id"].as_str().unwrap().to_owned();
    repo.paved_env(
        &["close", &id, "--result", "success", "--signing-key", key],
        &github_env(),
    )
    .ok();
    let dir = repo.path().join(".paved/changes");
    (
        id.clone(),
        dir.join(format!("{id}.json")),
        dir.join(format!("{id}.intoto.jsonl")),
    )
}

fn verify(repo: &TestRepo, bundle: &Path, keys: &[&Path]) -> (Run, Value) {
    let mut args = vec![
        "verify".to_owned(),
        bundle.to_str().unwrap().to_owned(),
        "--json".into(),
    ];
    for k in keys {
        args.push("--trusted-key".into());
        args.push(k.to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = repo.paved_env(&args, &[]);
    let value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON ({e}):\n{}\n{}",
            run.stdout, run.stderr
        )
    });
    (run, value)
}

fn integrity_fields(v: &Value) -> Vec<String> {
    v["integrity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn open_and_close_sign_the_bundle_as_an_in_toto_statement() {
    let repo = history();
    let (key, public) = key_pair(repo.path(), "signer", Algorithm::Ed25519);
    let (id, bundle, envelope) = signed_change(&repo, &key);
    let plain = read_json(&bundle);
    assert_eq!(
        plain["record"]["state"], "closed",
        "close rewrote the bundle"
    );

    // A DSSE envelope of an in-toto statement v1, one line, verifying with the public key.
    let text = std::fs::read_to_string(&envelope).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let env = Envelope::from_json(text.as_bytes(), "envelope").unwrap();
    let trusted = [PublicKey::load(&public).unwrap()];
    let (statement, _) = Statement::verify(&env, &trusted, "envelope").unwrap();
    assert_eq!(statement.statement_type, "https://in-toto.io/Statement/v1");
    assert_eq!(statement.predicate_type, "https://paved.dev/change/v1");
    // The predicate is the bundle as the file holds it after `close`.
    assert_eq!(statement.predicate, plain);
    let subjects = serde_json::to_value(&statement.subject).unwrap();
    assert_eq!(
        subjects,
        json!([
            { "name": "ghcr.io/acme/rocket", "digest": { "sha256": &DIGEST1[7..] } },
            { "name": "acme/rocket", "digest": { "gitCommit": plain["commits"]["head"] } },
        ])
    );

    // `verify` checks it; the readers still read the plain file.
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(v["signature"]["status"], "verified", "{}", run.stderr);
    assert_eq!(v["intact"], true, "{v}");
    assert!(
        run.stderr.contains("verified with trusted key"),
        "{}",
        run.stderr
    );
    let dora = repo.paved(&["dora", "--json"]);
    assert_eq!(dora.json()["deployments"], 1, "{}", dora.stderr);
    assert!(
        !dora.stderr.contains("intoto"),
        "dora reads bundles only: {}",
        dora.stderr
    );
    // A re-run of `open` finds the same record and keeps signing it.
    let again = repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--digest",
            &format!("ghcr.io/acme/rocket@{DIGEST1}"),
            "--signing-key",
            key.to_str().unwrap(),
        ],
        &github_env(),
    );
    assert_eq!(again.ok(), id);
}

#[test]
fn without_a_key_verify_says_unsigned_and_a_trusted_key_refuses_it() {
    let repo = history();
    let b = repo
        .paved_env(
            &["open", "--env", "prod", "--version", "1.1.0", "--json"],
            &github_env(),
        )
        .json();
    let id = b["id"].as_str().unwrap();
    let bundle = repo.path().join(format!(".paved/changes/{id}.json"));
    assert!(
        !repo
            .path()
            .join(format!(".paved/changes/{id}.intoto.jsonl"))
            .exists()
    );
    let (run, v) = verify(&repo, &bundle, &[]);
    // As before: the local bundle lacks PR and test evidence, nothing else is refused.
    assert_eq!(run.code, 1);
    assert_eq!(v["complete"], false);
    assert_eq!(v["signature"]["status"], "unsigned");
    assert_eq!(v["intact"], true, "{v}");
    assert!(run.stderr.contains("unsigned"), "{}", run.stderr);
    let text = repo.paved(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(text.stdout, "incomplete\n");

    let (_, public) = key_pair(repo.path(), "trusted", Algorithm::Ed25519);
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(run.code, 1);
    assert_eq!(v["intact"], false);
    assert_eq!(integrity_fields(&v), ["signature"]);
    let text = repo.paved(&[
        "verify",
        bundle.to_str().unwrap(),
        "--trusted-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(text.stdout, "tampered\n");
    assert!(
        text.stderr
            .contains("TAMPERED signature: the bundle is unsigned"),
        "{}",
        text.stderr
    );
}

/// Each edit of the signed bundle, the signature removed, a wrong key, a changed envelope: each
/// refused (exit 1), naming the field.
#[test]
fn the_tamper_matrix_is_refused_field_by_field() {
    let repo = history();
    let (key, public) = key_pair(repo.path(), "signer", Algorithm::EcdsaP256);
    let (_, bundle, envelope) = signed_change(&repo, &key);
    let signed = read_json(&bundle);
    let other_sha = "0123456789abcdef0123456789abcdef01234567";
    let edits: Vec<(&str, Value, &[&str])> = vec![
        (
            "/version",
            json!("1.1.1"),
            &["record.evidence_digest", "version"],
        ),
        (
            "/environment",
            json!("staging"),
            &["record.evidence_digest", "environment"],
        ),
        (
            "/commits/head",
            json!(other_sha),
            &["record.evidence_digest", "commits.head"],
        ),
        (
            "/commits/list/0/author",
            json!("mallory"),
            &["record.evidence_digest", "commits.list[0].author"],
        ),
        (
            "/artifacts/0/digest",
            json!(format!("sha256:{}", "9".repeat(64))),
            &["record.evidence_digest", "artifacts[0].digest"],
        ),
        (
            "/ci/actor",
            json!("mallory"),
            &["record.evidence_digest", "ci.actor"],
        ),
        (
            "/timestamps/opened_at",
            json!("2020-01-01T00:00:00Z"),
            &["record.evidence_digest", "timestamps.opened_at"],
        ),
        (
            "/tests",
            json!({ "files": ["junit.xml"], "tests": 3, "passed": 3, "failed": 0, "skipped": 0, "flaky": 0 }),
            &["record.evidence_digest", "tests"],
        ),
        (
            "/changes/source",
            json!("github"),
            &["record.evidence_digest", "changes.source"],
        ),
        // The record's own part is outside the evidence digest, inside the signature.
        ("/record/result", json!("failure"), &["record.result"]),
        ("/record/notes", json!("all fine"), &["record.notes"]),
        (
            "/timestamps/closed_at",
            json!("2030-01-01T00:00:00Z"),
            &["timestamps.closed_at"],
        ),
        (
            "/record/evidence_digest",
            json!(format!("sha256:{}", "8".repeat(64))),
            &["record.evidence_digest"],
        ),
    ];
    for (pointer, value, fields) in edits {
        let mut b = signed.clone();
        *b.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        std::fs::write(&bundle, serde_json::to_string_pretty(&b).unwrap()).unwrap();
        let (run, v) = verify(&repo, &bundle, &[&public]);
        assert_eq!(run.code, 1, "{pointer}: {}", run.stderr);
        assert_eq!(v["signature"]["status"], "verified", "{pointer}");
        assert_eq!(v["intact"], false, "{pointer}");
        let mut named = integrity_fields(&v);
        named.sort();
        let mut want: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        want.sort();
        assert_eq!(named, want, "{pointer}: {v}");
        for f in fields {
            assert!(
                run.stderr.contains(&format!("TAMPERED {f}: ")),
                "{pointer}: {}",
                run.stderr
            );
        }
    }
    // An approver added where there was none: a key the file gained.
    let mut b = signed.clone();
    b["changes"]["pull_requests"] = json!([{ "number": 3, "url": "https://github.com/acme/rocket/pull/3",
        "title": "t", "author": "ada", "merged_by": "mallory", "merged_at": null,
        "approvers": ["mallory"], "commits": [] }]);
    std::fs::write(&bundle, serde_json::to_string_pretty(&b).unwrap()).unwrap();
    let (_, v) = verify(&repo, &bundle, &[&public]);
    assert!(
        integrity_fields(&v).contains(&"changes.pull_requests".to_owned()),
        "{v}"
    );

    // The untouched bundle verifies again.
    std::fs::write(&bundle, serde_json::to_string_pretty(&signed).unwrap()).unwrap();
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(v["intact"], true, "{v} {}", run.stderr);

    // A wrong key.
    let (_, wrong) = key_pair(repo.path(), "wrong", Algorithm::Ed25519);
    let (run, v) = verify(&repo, &bundle, &[&wrong]);
    assert_eq!(run.code, 1);
    assert_eq!(v["signature"]["status"], "refused");
    assert_eq!(integrity_fields(&v), ["signature"]);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    // One of two trusted keys is enough.
    let (_, v) = verify(&repo, &bundle, &[&wrong, &public]);
    assert_eq!(v["intact"], true);

    // The envelope's payload re-encoded with an edit, the signature kept.
    let original = std::fs::read_to_string(&envelope).unwrap();
    let mut env = Envelope::from_json(original.as_bytes(), "e").unwrap();
    let mut statement: Value = serde_json::from_slice(&env.payload).unwrap();
    statement["predicate"]["version"] = json!("9.9.9");
    env.payload = serde_json::to_vec(&statement).unwrap();
    std::fs::write(&envelope, env.to_json()).unwrap();
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(v["signature"]["status"], "refused", "{}", run.stderr);
    assert_eq!(integrity_fields(&v), ["signature"]);

    // The signature removed.
    let mut env = Envelope::from_json(original.as_bytes(), "e").unwrap();
    env.signatures.clear();
    std::fs::write(&envelope, env.to_json()).unwrap();
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(run.code, 1);
    assert_eq!(integrity_fields(&v), ["signature"]);
    assert!(run.stderr.contains("no signatures"), "{}", run.stderr);

    // The envelope removed.
    std::fs::remove_file(&envelope).unwrap();
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(run.code, 1);
    assert_eq!(v["signature"]["status"], "unsigned");
    assert_eq!(integrity_fields(&v), ["signature"]);

    // An unsigned rewrite of a signed bundle is named when it happens.
    std::fs::write(&envelope, &original).unwrap();
    let id = signed["id"].as_str().unwrap();
    let close = repo.paved_env(&["close", id, "--result", "failure"], &github_env());
    assert!(
        close
            .stderr
            .contains("was signed, and this change to it is not"),
        "{}",
        close.stderr
    );
    let (_, v) = verify(&repo, &bundle, &[&public]);
    let mut named = integrity_fields(&v);
    named.sort();
    assert_eq!(named, ["record.notes", "record.result"], "{v}");
}

#[test]
fn a_signing_key_that_is_not_a_key_is_an_input_error() {
    let repo = history();
    let (_, public) = key_pair(repo.path(), "k", Algorithm::Ed25519);
    let run = repo.paved_env(
        &[
            "open",
            "--env",
            "prod",
            "--version",
            "1.1.0",
            "--signing-key",
            public.to_str().unwrap(),
        ],
        &github_env(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("k.pub.pem"), "{}", run.stderr);
    let missing = repo.paved(&["verify", "x.json", "--trusted-key", "nope.pem"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("nope.pem"), "{}", missing.stderr);
}
