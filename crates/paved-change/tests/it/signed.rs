//! Evidence with integrity: `open`/`wait`/`close --signing-key` write the bundle as a signed
//! in-toto statement next to it, `open` writes the evidence digest into the backend's record, and
//! `verify --trusted-key` refuses every change since signing, field by field. Cross-checked with
//! securesystemslib both ways.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::{Run, TestRepo};
use crate::support::{SYS_ID, TABLE, stateful_snow};
use paved_core::sign::{Algorithm, Envelope, PrivateKey, PublicKey, Statement};
use paved_testkit::http::{FakeResponse, FakeServer, RecordedRequest};
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
    verify_env(repo, bundle, keys, &[])
}

fn verify_env(
    repo: &TestRepo,
    bundle: &Path,
    keys: &[&Path],
    env: &[(&str, &str)],
) -> (Run, Value) {
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
    let run = repo.paved_env(&args, env);
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
    // Given the envelope, `verify` checks the bundle next to it.
    let (run, v) = verify(&repo, &envelope, &[&public]);
    assert_eq!(v["intact"], true, "{v} {}", run.stderr);
    assert!(run.stderr.contains(&format!("{id}.json")), "{}", run.stderr);
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

/// `wait` rewrites the bundle (the approval) and re-signs it; `--bundle FILE` gets its own
/// envelope next to it.
#[test]
fn wait_re_signs_and_the_bundle_copy_is_signed_too() {
    let repo = history();
    let (key, public) = key_pair(repo.path(), "signer", Algorithm::Ed25519);
    let copy = repo.path().join("out/evidence.json");
    let mut env = github_env();
    env.push(("PAVED_SIGNING_KEY", key.to_str().unwrap()));
    let b = repo
        .paved_env(
            &[
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--bundle",
                copy.to_str().unwrap(),
                "--json",
            ],
            &env,
        )
        .json();
    let id = b["id"].as_str().unwrap();
    let copy_envelope = repo.path().join("out/evidence.intoto.jsonl");
    assert!(copy_envelope.is_file());
    let (run, v) = verify(&repo, &copy, &[&public]);
    assert_eq!(v["intact"], true, "{v} {}", run.stderr);

    let bundle = repo.path().join(format!(".paved/changes/{id}.json"));
    let mut pending = read_json(&bundle);
    pending["record"]["state"] = json!("pending");
    pending["timestamps"]["approved_at"] = Value::Null;
    std::fs::write(&bundle, pending.to_string()).unwrap();
    // Edited by hand: the state is named.
    let (_, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(
        integrity_fields(&v),
        ["timestamps.approved_at", "record.state"],
        "{v}"
    );
    pending["record"]["state"] = json!("approved");
    std::fs::write(&bundle, pending.to_string()).unwrap();
    repo.paved_env(&["wait", id, "--timeout", "1s", "--interval", "1s"], &env)
        .ok();
    let after = read_json(&bundle);
    assert!(after["timestamps"]["approved_at"].is_string(), "{after}");
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(v["intact"], true, "wait re-signed: {v} {}", run.stderr);
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

/// `trusted-keys` under `[change]` stands in for `--trusted-key`; the flag replaces it.
#[test]
fn trusted_keys_come_from_paved_toml_too() {
    let repo = history();
    std::fs::create_dir_all(repo.path().join("keys")).unwrap();
    let (key, _) = key_pair(&repo.path().join("keys"), "release", Algorithm::Ed25519);
    let (_, wrong) = key_pair(repo.path(), "wrong", Algorithm::Ed25519);
    repo.write(
        "paved.toml",
        "[change]\ntrusted-keys = [\"keys/release.pub.pem\"]\n",
    );
    let (_, bundle, _) = signed_change(&repo, &key);
    let (run, v) = verify(&repo, &bundle, &[]);
    assert_eq!(v["signature"]["status"], "verified", "{}", run.stderr);
    assert_eq!(v["intact"], true, "{v}");
    let (_, v) = verify(&repo, &bundle, &[&wrong]);
    assert_eq!(v["signature"]["status"], "refused", "{v}");
    repo.write(
        "paved.toml",
        "[change]\ntrusted-keys = [\"keys/missing.pub.pem\"]\n",
    );
    let run = repo.paved(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("missing.pub.pem"), "{}", run.stderr);
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

/// ServiceNow: the digest rides in the description (read back by `verify`) and the work notes;
/// a re-run with other evidence records the new one; a record that holds another digest is
/// refused; an unreachable instance is reported, not refused.
#[test]
fn servicenow_records_the_evidence_digest_and_verify_reads_it_back() {
    let repo = history();
    let server = FakeServer::start();
    let store = stateful_snow(&server);
    let url = server.url();
    let (key, public) = key_pair(repo.path(), "signer", Algorithm::Ed25519);
    let mut env = github_env();
    env.extend([
        ("SERVICENOW_TOKEN", "sn-token-0123456789"),
        ("PAVED_SERVICENOW_URL", url.as_str()),
        ("PAVED_SIGNING_KEY", key.to_str().unwrap()),
    ]);
    let open = |digest: &str| {
        repo.paved_env(
            &[
                "--backend",
                "servicenow",
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--digest",
                digest,
                "--json",
            ],
            &env,
        )
        .json()
    };
    let b = open(DIGEST1);
    let digest = b["record"]["evidence_digest"].as_str().unwrap().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let created = server.requests_to("POST", TABLE)[0].json();
    let line = format!("paved evidence digest: {digest}");
    assert!(
        created["description"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{line}\n")),
        "{created}"
    );
    assert!(
        created["work_notes"].as_str().unwrap().starts_with(&line),
        "{created}"
    );

    let bundle = repo
        .path()
        .join(format!(".paved/changes/{}.json", b["id"].as_str().unwrap()));
    let (run, v) = verify_env(&repo, &bundle, &[&public], &env);
    assert_eq!(v["backend_digest"]["status"], "recorded", "{}", run.stderr);
    assert_eq!(v["backend_digest"]["digest"], digest.as_str());
    assert_eq!(v["intact"], true, "{v}");
    assert!(
        run.stderr
            .contains(&format!("servicenow CHG0030001 holds {digest}")),
        "{}",
        run.stderr
    );

    // A re-run whose evidence changed records the new digest on the same record.
    let other = format!("sha256:{}", "3".repeat(64));
    let again = open(&other);
    let new_digest = again["record"]["evidence_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_digest, digest);
    assert_eq!(server.requests_to("POST", TABLE).len(), 1, "one record");
    let patched = server.requests_to("PATCH", &format!("{TABLE}/{SYS_ID}"));
    assert!(
        patched.iter().any(|r| r.json()["work_notes"]
            .as_str()
            .is_some_and(|n| n.contains(&new_digest))),
        "the re-run notes the new digest"
    );
    let (_, v) = verify_env(&repo, &bundle, &[&public], &env);
    assert_eq!(v["intact"], true, "{v}");

    // The record holds another digest than the (validly signed) bundle: refused, naming it.
    {
        let mut guard = store.lock().unwrap();
        let rec = guard.as_mut().unwrap();
        let text = rec["description"]
            .as_str()
            .unwrap()
            .replace(&new_digest, &digest);
        rec["description"] = json!(text);
    }
    let (run, v) = verify_env(&repo, &bundle, &[&public], &env);
    assert_eq!(run.code, 1);
    assert_eq!(v["signature"]["status"], "verified");
    assert_eq!(integrity_fields(&v), ["record"], "{v}");
    assert!(run.stderr.contains(&format!("TAMPERED record: the backend's record servicenow CHG0030001 holds the evidence digest `{digest}`")), "{}", run.stderr);

    // Not configured here: said, not refused.
    let (run, v) = verify(&repo, &bundle, &[&public]);
    assert_eq!(
        v["backend_digest"]["status"], "not-checked",
        "{}",
        run.stderr
    );
    assert_eq!(v["intact"], true, "{v}");
    assert!(
        run.stderr
            .contains("backend-digest not checked: the servicenow backend is not configured here"),
        "{}",
        run.stderr
    );
}

/// A GitHub repository's deployments, following the REST API: list (by environment), create
/// (the payload kept as sent), read one, and statuses (newest first) that record what is posted.
struct GitHubFake {
    payload: Arc<Mutex<Value>>,
    statuses: Arc<Mutex<Vec<Value>>>,
    created: Arc<Mutex<bool>>,
}

const DEPLOYMENTS: &str = "/repos/acme/rocket/deployments";

fn github_fake(server: &FakeServer) -> GitHubFake {
    let fake = GitHubFake {
        payload: Arc::new(Mutex::new(Value::Null)),
        statuses: Arc::new(Mutex::new(Vec::new())),
        created: Arc::new(Mutex::new(false)),
    };
    let deployment = |payload: &Arc<Mutex<Value>>| {
        json!({ "id": 31, "sha": "f".repeat(40), "environment": "prod",
                "created_at": "2026-01-01T00:00:00Z", "payload": payload.lock().unwrap().clone() })
    };
    let (p, c) = (Arc::clone(&fake.payload), Arc::clone(&fake.created));
    server.route("GET", DEPLOYMENTS).respond_with(move |_| {
        let list = if *c.lock().unwrap() {
            vec![deployment(&p)]
        } else {
            vec![]
        };
        FakeResponse::json(200, json!(list))
    });
    let (p, c) = (Arc::clone(&fake.payload), Arc::clone(&fake.created));
    server
        .route("POST", DEPLOYMENTS)
        .respond_with(move |r: &RecordedRequest| {
            *p.lock().unwrap() = r.json()["payload"].clone();
            *c.lock().unwrap() = true;
            FakeResponse::json(201, deployment(&p))
        });
    let p = Arc::clone(&fake.payload);
    server
        .route("GET", &format!("{DEPLOYMENTS}/31"))
        .respond_with(move |_| FakeResponse::json(200, deployment(&p)));
    let st = Arc::clone(&fake.statuses);
    server
        .route("GET", &format!("{DEPLOYMENTS}/31/statuses"))
        .respond_with(move |_| {
            let mut list = st.lock().unwrap().clone();
            list.reverse();
            FakeResponse::json(200, json!(list))
        });
    let st = Arc::clone(&fake.statuses);
    server
        .route("POST", &format!("{DEPLOYMENTS}/31/statuses"))
        .respond_with(move |r: &RecordedRequest| {
            let body = r.json();
            let status = json!({ "state": body["state"], "description": body["description"] });
            st.lock().unwrap().push(status.clone());
            FakeResponse::json(201, status)
        });
    fake
}

/// GitHub: the deployment's payload and its first status carry the digest, a re-run whose
/// evidence changed adds a status with the new one, and `verify` reads it back. PagerDuty: the
/// change event's custom details (write-only: the Events API cannot be read).
#[test]
fn github_and_pagerduty_records_carry_the_evidence_digest_and_github_is_read_back() {
    let repo = history();
    let server = FakeServer::start();
    let fake = github_fake(&server);
    server
        .route("POST", "/v2/change/enqueue")
        .respond(FakeResponse::json(202, json!({ "status": "success" })));
    let url = server.url();
    let mut env = github_env();
    env.extend([
        ("GITHUB_API_URL", url.as_str()),
        ("GITHUB_TOKEN", "ghs_deploytoken123"),
        ("PAGERDUTY_ROUTING_KEY", "pdRoutingKey0123456789abcdefABCD"),
        ("PAVED_PAGERDUTY_URL", url.as_str()),
    ]);
    let open_gh = |digest: &str| {
        repo.paved_env(
            &[
                "--backend",
                "github",
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--digest",
                digest,
                "--json",
            ],
            &env,
        )
        .json()
    };
    let gh = open_gh(DIGEST1);
    let digest = gh["record"]["evidence_digest"].as_str().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"));
    let post = server.requests_to("POST", DEPLOYMENTS)[0].json();
    assert_eq!(
        post["payload"]["evidence_digest"],
        digest.as_str(),
        "{post}"
    );
    let first = fake.statuses.lock().unwrap()[0].clone();
    assert_eq!(first["state"], "queued");
    assert!(
        first["description"].as_str().unwrap().contains(&digest),
        "{first}"
    );
    assert!(
        first["description"].as_str().unwrap().len() <= 140,
        "{first}"
    );

    let bundle = repo.path().join(format!(
        ".paved/changes/{}.json",
        gh["id"].as_str().unwrap()
    ));
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(v["backend_digest"]["status"], "recorded", "{}", run.stderr);
    assert_eq!(v["backend_digest"]["digest"], digest.as_str());
    assert_eq!(v["intact"], true, "{v}");

    // A re-run ("Re-run jobs") whose evidence changed finds the deployment, cannot change its
    // payload, and records the new digest in a status of the state it is in.
    let other_artifact = format!("sha256:{}", "3".repeat(64));
    let again = open_gh(&other_artifact);
    let new_digest = again["record"]["evidence_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_digest, digest);
    assert_eq!(
        server.requests_to("POST", DEPLOYMENTS).len(),
        1,
        "one deployment"
    );
    let statuses = fake.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(statuses[1]["state"], "queued", "the state is kept");
    assert!(
        statuses[1]["description"]
            .as_str()
            .unwrap()
            .contains(&new_digest)
    );
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(
        v["backend_digest"]["digest"],
        new_digest.as_str(),
        "{}",
        run.stderr
    );
    assert_eq!(v["intact"], true, "{v}");
    // The same evidence again: nothing more is posted.
    open_gh(&other_artifact);
    assert_eq!(fake.statuses.lock().unwrap().len(), 2);

    // Another digest in the record: refused, naming it. (Without statuses, from the payload,
    // which GitHub returns as sent: here a string holding JSON.)
    fake.statuses.lock().unwrap().clear();
    *fake.payload.lock().unwrap() = json!(json!({ "evidence_digest": digest }).to_string());
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(run.code, 1);
    assert_eq!(integrity_fields(&v), ["record"], "{v}");
    assert!(
        run.stderr
            .contains(&format!("github 31 holds the evidence digest `{digest}`")),
        "{}",
        run.stderr
    );
    // A deployment without one (made by an older paved): not checked, not refused.
    *fake.payload.lock().unwrap() = json!({ "correlation_id": "x" });
    let (_, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(v["backend_digest"]["status"], "not-checked", "{v}");
    assert_eq!(v["intact"], true, "{v}");

    let pd = repo
        .paved_env(
            &[
                "--backend",
                "pagerduty",
                "open",
                "--env",
                "staging",
                "--version",
                "1.1.0",
                "--json",
            ],
            &env,
        )
        .json();
    let event = server.requests_to("POST", "/v2/change/enqueue")[0].json();
    assert_eq!(
        event["payload"]["custom_details"]["evidence_digest"], pd["record"]["evidence_digest"],
        "{event}"
    );
    assert!(pd["record"]["evidence_digest"].is_string());
}

/// A GitLab project's deployments and commit statuses, following the REST API v4: list, create
/// and read deployments (of one commit), and commit statuses that record what is posted and list
/// them by `name`.
struct GitLabFake {
    statuses: Arc<Mutex<Vec<Value>>>,
}

const GL_PROJECT: &str = "/projects/acme%2Frocket";

fn gitlab_fake(server: &FakeServer, sha: &str) -> GitLabFake {
    let fake = GitLabFake {
        statuses: Arc::new(Mutex::new(Vec::new())),
    };
    let created = Arc::new(Mutex::new(false));
    let deployment = json!({ "id": 41, "iid": 7, "sha": sha, "status": "running",
                             "created_at": "2026-01-01T00:00:00Z", "environment": {"name": "prod"} });
    let (c, d) = (Arc::clone(&created), deployment.clone());
    server
        .route("GET", &format!("{GL_PROJECT}/deployments"))
        .respond_with(move |r: &RecordedRequest| {
            // `status=success` asks for finished deployments; this one is still running.
            let finished = r.query_param("status").is_some();
            let list = if *c.lock().unwrap() && !finished {
                vec![d.clone()]
            } else {
                vec![]
            };
            FakeResponse::json(200, json!(list))
        });
    let (c, d) = (Arc::clone(&created), deployment.clone());
    server
        .route("POST", &format!("{GL_PROJECT}/deployments"))
        .respond_with(move |_| {
            *c.lock().unwrap() = true;
            FakeResponse::json(201, d.clone())
        });
    server
        .route("GET", &format!("{GL_PROJECT}/deployments/41"))
        .respond(FakeResponse::json(200, deployment));
    let st = Arc::clone(&fake.statuses);
    server
        .route("POST", &format!("{GL_PROJECT}/statuses/{sha}"))
        .respond_with(move |r: &RecordedRequest| {
            let body = r.json();
            let mut list = st.lock().unwrap();
            let status = json!({ "id": 100 + list.len(), "sha": r.path.rsplit('/').next().unwrap(),
                "ref": body["ref"], "status": body["state"], "name": body["name"],
                "description": body["description"], "target_url": body["target_url"] });
            list.push(status.clone());
            FakeResponse::json(201, status)
        });
    let st = Arc::clone(&fake.statuses);
    server
        .route(
            "GET",
            &format!("{GL_PROJECT}/repository/commits/{sha}/statuses"),
        )
        .respond_with(move |r: &RecordedRequest| {
            let name = r.query_param("name");
            let list: Vec<Value> = st
                .lock()
                .unwrap()
                .iter()
                .filter(|s| name.as_deref().is_none_or(|n| s["name"] == n))
                .cloned()
                .collect();
            FakeResponse::json(200, json!(list))
        });
    fake
}

/// GitLab: a deployment has no free-form field, so `open` records the digest as a commit status
/// on the deployed sha (`paved-change/evidence`), a re-run with other evidence posts a newer one,
/// and `verify` reads the newest back; another digest there is refused, naming the record.
#[test]
fn gitlab_records_the_evidence_digest_in_a_commit_status_and_verify_reads_it_back() {
    let repo = history();
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let server = FakeServer::start();
    let fake = gitlab_fake(&server, &sha);
    let url = server.url();
    let dotenv = repo.path().join("change.env");
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_API_V4_URL", url.as_str()),
        ("CI_PROJECT_PATH", "acme/rocket"),
        ("CI_PIPELINE_ID", "555"),
        ("CI_JOB_ID", "9001"),
        (
            "CI_JOB_URL",
            "https://gitlab.example/acme/rocket/-/jobs/9001",
        ),
        ("CI_COMMIT_REF_NAME", "main"),
        ("GITLAB_USER_LOGIN", "ada"),
        ("GITLAB_TOKEN", "glpat-deploytoken123"),
        ("PAVED_DOTENV", dotenv.to_str().unwrap()),
    ];
    let open_gl = |digest: &str| {
        repo.paved_env(
            &[
                "--backend",
                "gitlab",
                "open",
                "--env",
                "prod",
                "--version",
                "1.1.0",
                "--digest",
                digest,
                "--json",
            ],
            &env,
        )
        .json()
    };
    let gl = open_gl(DIGEST1);
    let digest = gl["record"]["evidence_digest"].as_str().unwrap().to_owned();
    let statuses = fake.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0]["name"], "paved-change/evidence");
    assert_eq!(statuses[0]["status"], "success");
    assert_eq!(statuses[0]["ref"], "main");
    assert_eq!(
        statuses[0]["target_url"],
        "https://gitlab.example/acme/rocket/-/jobs/9001"
    );
    assert_eq!(
        statuses[0]["description"],
        format!("paved evidence digest: {digest}").as_str()
    );

    let bundle = repo.path().join(format!(
        ".paved/changes/{}.json",
        gl["id"].as_str().unwrap()
    ));
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(v["backend_digest"]["status"], "recorded", "{}", run.stderr);
    assert_eq!(v["backend_digest"]["digest"], digest.as_str());
    assert_eq!(v["intact"], true, "{v}");

    // The same evidence again posts nothing; other evidence posts a newer status, which wins.
    open_gl(DIGEST1);
    assert_eq!(fake.statuses.lock().unwrap().len(), 1);
    let again = open_gl(&format!("sha256:{}", "3".repeat(64)));
    let new_digest = again["record"]["evidence_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_digest, digest);
    assert_eq!(fake.statuses.lock().unwrap().len(), 2);
    assert_eq!(
        server
            .requests_to("POST", &format!("{GL_PROJECT}/deployments"))
            .len(),
        1,
        "one deployment"
    );
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(
        v["backend_digest"]["digest"],
        new_digest.as_str(),
        "{}",
        run.stderr
    );
    assert_eq!(v["intact"], true, "{v}");

    // Tampered: the newest status names another digest than the bundle's evidence.
    fake.statuses.lock().unwrap().push(json!({ "id": 900, "sha": sha, "status": "success",
        "name": "paved-change/evidence", "description": format!("paved evidence digest: {digest}") }));
    let (run, v) = verify_env(&repo, &bundle, &[], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(integrity_fields(&v), ["record"], "{v}");
    assert!(
        run.stderr
            .contains(&format!("gitlab 7 holds the evidence digest `{digest}`")),
        "{}",
        run.stderr
    );
}

fn sslib_python() -> PathBuf {
    let python = paved_testkit::tools_dir()
        .join("venv")
        .join("bin")
        .join("python");
    assert!(
        python.is_file(),
        "`{}` is missing: run `cargo xtask tools`, which installs securesystemslib into it",
        python.display()
    );
    let probe = Command::new(&python)
        .args(["-c", "import securesystemslib.dsse, cryptography"])
        .output()
        .expect("running the tools venv's python");
    assert!(
        probe.status.success(),
        "securesystemslib is not installed in `{}`: run `cargo xtask tools`\n{}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

/// Run `sslib_change.py` with `args`: (success, stdout, stderr).
fn sslib(python: &Path, args: &[&str]) -> (bool, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sslib_change.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("running sslib_change.py");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A bundle paved signed verifies in securesystemslib (its predicate is the bundle, its subjects
/// the ones the format names), and one securesystemslib signed verifies in paved: for both
/// algorithms, with keys securesystemslib made (paved loads its PKCS#8 keys).
#[test]
fn signed_bundles_cross_check_with_securesystemslib() {
    let python = sslib_python();
    for (algorithm, name) in [
        (Algorithm::Ed25519, "ed25519"),
        (Algorithm::EcdsaP256, "ecdsa-p256"),
    ] {
        // paved signs (with a key securesystemslib made), securesystemslib verifies.
        let repo = history();
        let prefix = repo.path().join(format!("sslib-{name}"));
        let (ok, out, err) = sslib(&python, &["keygen", name, prefix.to_str().unwrap()]);
        assert!(ok, "keygen {name}: {out}{err}");
        let key = prefix.with_extension("pem");
        let public = repo.path().join(format!("sslib-{name}.pub.pem"));
        let (_, bundle, envelope) = signed_change(&repo, &key);
        let (ok, out, err) = sslib(
            &python,
            &[
                "verify",
                public.to_str().unwrap(),
                envelope.to_str().unwrap(),
            ],
        );
        assert!(
            ok,
            "{name}: securesystemslib refused paved's envelope: {out}{err}"
        );
        let predicate: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(predicate, read_json(&bundle), "{name}");
        // A key securesystemslib does not trust: it refuses too.
        let (_, other) = key_pair(repo.path(), "other", algorithm);
        let (ok, out, _) = sslib(
            &python,
            &[
                "verify",
                other.to_str().unwrap(),
                envelope.to_str().unwrap(),
            ],
        );
        assert!(
            !ok,
            "{name}: securesystemslib accepted the wrong key: {out}"
        );

        // securesystemslib signs (with a key it made: `cryptography` does not read the PKCS#8 v2
        // Ed25519 keys `ring` generates), paved verifies.
        let repo = history();
        let prefix = repo.path().join(format!("signer-{name}"));
        let (ok, out, err) = sslib(&python, &["keygen", name, prefix.to_str().unwrap()]);
        assert!(ok, "keygen {name}: {out}{err}");
        let key = prefix.with_extension("pem");
        let public = repo.path().join(format!("signer-{name}.pub.pem"));
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
                    "--json",
                ],
                &github_env(),
            )
            .json();
        let bundle = repo
            .path()
            .join(format!(".paved/changes/{}.json", b["id"].as_str().unwrap()));
        let envelope = repo.path().join(format!(
            ".paved/changes/{}.intoto.jsonl",
            b["id"].as_str().unwrap()
        ));
        let (ok, out, err) = sslib(
            &python,
            &[
                "sign",
                key.to_str().unwrap(),
                bundle.to_str().unwrap(),
                envelope.to_str().unwrap(),
            ],
        );
        assert!(ok, "{name}: {out}{err}");
        let (run, v) = verify(&repo, &bundle, &[&public]);
        assert_eq!(
            v["signature"]["status"], "verified",
            "{name}: {}",
            run.stderr
        );
        assert_eq!(v["intact"], true, "{name}: {v}");
        // And an edit after securesystemslib signed is named.
        let mut edited = read_json(&bundle);
        edited["ci"]["actor"] = json!("mallory");
        std::fs::write(&bundle, edited.to_string()).unwrap();
        let (_, v) = verify(&repo, &bundle, &[&public]);
        let mut named = integrity_fields(&v);
        named.sort();
        assert_eq!(named, ["ci.actor", "record.evidence_digest"], "{name}: {v}");
    }
}
