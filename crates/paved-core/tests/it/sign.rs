//! paved_core::sign against published vectors and against securesystemslib, the DSSE reference
//! implementation's library (fixtures in tests/fixtures/sign, made by `sslib.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use paved_core::error::Diagnostic;
use paved_core::exit::Category;
use paved_core::sign::*;
use serde_json::json;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sign")
}

fn sslib(name: &str) -> PathBuf {
    fixtures().join("sslib").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn message(err: &SignError) -> String {
    format!("{err}\nhint: {}", err.hint().unwrap_or_default())
}

/// The SPKI prefix of an Ed25519 key (RFC 8410), then the 32 key bytes.
const ED25519_SPKI_PREFIX: &str = "302a300506032b6570032100";
/// The SPKI prefix of a P-256 key (RFC 5480), then the uncompressed point.
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

const ALGS: [&str; 2] = ["ed25519", "ecdsa-p256"];

#[test]
fn pae_is_the_dsse_spec_example() {
    // protocol.md, "Test Vectors".
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    // An empty body still ends with the separating space.
    assert_eq!(pae("t", b""), b"DSSEv1 1 t 0 ".to_vec());
}

#[test]
fn the_dsse_spec_p256_example_verifies() {
    // protocol.md: X and Y in decimal, here as the uncompressed point in hex; the signature is
    // fixed-length r‖s.
    let point = "0467cd390f77aa359cb08c2235f652270493a9ed832b0abcc01f70954c0390d2380c782bd54e269125a44f4433aff1432ce94e12bca73aa67ac80cea12608ddf74";
    let spki = unhex(&format!("{P256_SPKI_PREFIX}{point}"));
    let key = PublicKey::from_spki_der(&spki, "protocol.md").unwrap();
    assert_eq!(key.algorithm(), Algorithm::EcdsaP256);
    assert_eq!(key.spki_der(), &spki[..]);
    let envelope = Envelope::from_json(
        br#"{"payload": "aGVsbG8gd29ybGQ=",
             "payloadType": "http://example.com/HelloWorld",
             "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#,
        "protocol.md",
    )
    .unwrap();
    assert_eq!(envelope.payload, b"hello world");
    assert_eq!(envelope.signatures[0].sig.len(), 64);
    let trusted = [key];
    let verified = envelope
        .verify(
            &trusted,
            Some("http://example.com/HelloWorld"),
            "protocol.md",
        )
        .unwrap();
    assert_eq!(verified.key().key_id(), trusted[0].key_id());
}

#[test]
fn the_dsse_test_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_str(&read(&fixtures().join("dsse-vectors.json"))).unwrap();
    let key = |name: &str| {
        let public = vectors["keys"][name]["public"].as_str().unwrap();
        PublicKey::from_spki_der(&unhex(&format!("{ED25519_SPKI_PREFIX}{public}")), name).unwrap()
    };
    let cases = vectors["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let envelope = Envelope::from_json(case["envelope"].to_string().as_bytes(), id).unwrap();
        let trusted: Vec<PublicKey> = case["trustedKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| key(k.as_str().unwrap()))
            .collect();
        let supported: Vec<&str> = case["supportedPayloadTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let expected_type = if supported.contains(&envelope.payload_type.as_str()) {
            envelope.payload_type.as_str()
        } else {
            supported[0]
        };
        let threshold = case["threshold"].as_u64().unwrap() as usize;
        let outcome = envelope.verify(&trusted, Some(expected_type), id);
        let accepted = matches!(&outcome, Ok(v) if v.keys.len() >= threshold);
        let expect = case["expect"].as_str().unwrap();
        assert_eq!(accepted, expect == "accept", "{id}: {outcome:?}");
        if expect == "accept" {
            assert_eq!(
                pae(&envelope.payload_type, &envelope.payload),
                unhex(case["pae"].as_str().unwrap()),
                "{id}"
            );
        } else {
            let err = outcome.err().map(|e| e.category());
            assert!(
                err.is_none() || err == Some(Category::Refused),
                "{id}: refused as a decided no"
            );
        }
    }
}

#[test]
fn ed25519_signing_is_deterministic_and_matches_the_vectors() {
    // RFC 8032 TEST 1 seed as PKCS#8 v1, the form OpenSSL writes.
    let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let der = unhex(&format!("302e020100300506032b657004220420{seed}"));
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    let key = PrivateKey::from_pem(&pem, "rfc8032-test-1").unwrap();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, payload, &key).unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&envelope.signatures[0].sig),
        "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
    );
    assert_eq!(
        envelope.signatures[0].keyid.as_deref(),
        Some(key.key_id().as_str())
    );
}

#[test]
fn securesystemslib_keys_load_with_the_same_key_id() {
    for alg in ALGS {
        let private = PrivateKey::load(&sslib(&format!("{alg}.key.pem"))).unwrap();
        let public = PublicKey::load(&sslib(&format!("{alg}.pub.pem"))).unwrap();
        let keyid = read(&sslib(&format!("{alg}.keyid")));
        assert_eq!(private.key_id().as_str(), keyid.trim(), "{alg}");
        assert_eq!(public.key_id(), private.key_id(), "{alg}");
        assert_eq!(private.public_key(), &public, "{alg}");
        // The PEM paved writes is the file cryptography wrote.
        assert_eq!(
            public.to_pem(),
            read(&sslib(&format!("{alg}.pub.pem"))),
            "{alg}"
        );
        assert!(
            !format!("{private:?}").contains("signer"),
            "Debug hides the key"
        );
    }
    let algs = [Algorithm::Ed25519, Algorithm::EcdsaP256];
    for (alg, expected) in ALGS.iter().zip(algs) {
        let key = PublicKey::load(&sslib(&format!("{alg}.pub.pem"))).unwrap();
        assert_eq!(key.algorithm(), expected);
    }
}

#[test]
fn sec1_keys_load_as_openssl_writes_them() {
    let pkcs8 = PrivateKey::load(&sslib("ecdsa-p256.key.pem")).unwrap();
    let sec1_text = read(&sslib("ecdsa-p256.sec1.pem"));
    assert!(sec1_text.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let sec1 = PrivateKey::from_pem(&sec1_text, "sec1.pem").unwrap();
    assert_eq!(sec1.key_id(), pkcs8.key_id());
    // `openssl ecparam -name prime256v1 -genkey` puts the curve's parameters first.
    let with_params = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{sec1_text}"
    );
    let key = PrivateKey::from_pem(&with_params, "ecparam.pem").unwrap();
    assert_eq!(key.key_id(), pkcs8.key_id());
    // A signature made from the SEC1 key verifies with the public key file.
    let sig = key.sign(b"bytes").unwrap();
    assert!(
        PublicKey::load(&sslib("ecdsa-p256.pub.pem"))
            .unwrap()
            .verify(b"bytes", &sig)
    );
}

#[test]
fn paved_verifies_envelopes_securesystemslib_signed() {
    for alg in ALGS {
        let path = sslib(&format!("{alg}.envelope.json"));
        let origin = path.display().to_string();
        let envelope = Envelope::from_json(read(&path).as_bytes(), &origin).unwrap();
        let trusted = [
            PublicKey::load(&sslib("ed25519.pub.pem")).unwrap(),
            PublicKey::load(&sslib("ecdsa-p256.pub.pem")).unwrap(),
        ];
        let (statement, verified) = Statement::verify(&envelope, &trusted, &origin).unwrap();
        assert_eq!(verified.keys.len(), 1, "{alg}");
        assert_eq!(
            verified.key().key_id().as_str(),
            read(&sslib(&format!("{alg}.keyid"))).trim(),
            "{alg}"
        );
        assert_eq!(statement.statement_type, STATEMENT_V1);
        assert_eq!(statement.predicate_type, "https://paved.dev/promotion/v1");
        assert_eq!(statement.subject[0].name, "registry.example/app");
        assert_eq!(statement.subject[0].sha256_hex().unwrap().len(), 64);
        assert_eq!(statement.predicate["signer"], "securesystemslib");
    }
}

#[test]
fn cosign_style_blob_signatures_verify() {
    for alg in ALGS {
        let blob = std::fs::read(sslib(&format!("{alg}.blob"))).unwrap();
        let sig = read(&sslib(&format!("{alg}.blob.sig")));
        let trusted = [
            PublicKey::load(&sslib("ed25519.pub.pem")).unwrap(),
            PublicKey::load(&sslib("ecdsa-p256.pub.pem")).unwrap(),
        ];
        let key = verify_blob(&blob, &sig, &trusted, "app.sig").unwrap();
        assert_eq!(
            key.key_id().as_str(),
            read(&sslib(&format!("{alg}.keyid"))).trim()
        );
        let mut changed = blob.clone();
        changed[0] ^= 1;
        let err = verify_blob(&changed, &sig, &trusted, "app.sig").unwrap_err();
        assert_eq!(err.category(), Category::Refused);
        assert!(
            err.to_string()
                .contains("does not verify with any of the 2 trusted keys"),
            "{err}"
        );
        let err = verify_blob(&blob, "%%%", &trusted, "app.sig").unwrap_err();
        assert_eq!(err.category(), Category::Usage);
        assert!(err.to_string().contains("not base64"), "{err}");
    }
}

#[test]
fn paved_signs_and_verifies_its_own_envelopes() {
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let pem = PrivateKey::generate(alg).unwrap();
        let key = PrivateKey::from_pem(&pem, "generated").unwrap();
        assert_eq!(key.algorithm(), alg);
        let public = PublicKey::from_pem(&key.public_key().to_pem(), "generated.pub").unwrap();
        let statement = Statement::new(
            vec![Subject::sha256(
                "registry.example/app",
                "sha256:b48a9d0d4ab368e4799e9eec6cd9339afe003ac3059d6bfa0a4d0da5657a0569",
            )],
            "https://paved.dev/promotion/v1",
            json!({"from": "staging", "to": "production"}),
        );
        let envelope = statement.sign(&key).unwrap();
        let json = envelope.to_json();
        let back = Envelope::from_json(json.as_bytes(), "record.json").unwrap();
        assert_eq!(back, envelope);
        let trusted = [public];
        let (read_back, verified) = Statement::verify(&back, &trusted, "record.json").unwrap();
        assert_eq!(read_back, statement);
        assert_eq!(verified.key().key_id(), key.key_id());
        // A second signer adds a second distinct key.
        let other = PrivateKey::from_pem(&PrivateKey::generate(alg).unwrap(), "other").unwrap();
        let mut both = back.clone();
        both.add_signature(&other).unwrap();
        let trusted = [trusted[0].clone(), other.public_key().clone()];
        assert_eq!(both.verify(&trusted, None, "x").unwrap().keys.len(), 2);
    }
}

/// Every way an envelope can be broken, each refused with its reason and category.
#[test]
fn tampered_envelopes_are_refused_with_a_reason() {
    let ed = PublicKey::load(&sslib("ed25519.pub.pem")).unwrap();
    let ec = PublicKey::load(&sslib("ecdsa-p256.pub.pem")).unwrap();
    let paved_key =
        PrivateKey::from_pem(&PrivateKey::generate(Algorithm::Ed25519).unwrap(), "k").unwrap();
    let paved_envelope = Statement::new(
        vec![Subject::sha256("app", &"ab".repeat(32))],
        "https://paved.dev/promotion/v1",
        json!({}),
    )
    .sign(&paved_key)
    .unwrap();
    let mut originals = vec![(paved_key.public_key().clone(), paved_envelope)];
    for (alg, key) in [("ed25519", &ed), ("ecdsa-p256", &ec)] {
        let text = read(&sslib(&format!("{alg}.envelope.json")));
        originals.push((
            key.clone(),
            Envelope::from_json(text.as_bytes(), alg).unwrap(),
        ));
    }
    let stranger =
        PrivateKey::from_pem(&PrivateKey::generate(Algorithm::EcdsaP256).unwrap(), "s").unwrap();

    for (key, original) in &originals {
        let trusted = std::slice::from_ref(key);
        original
            .verify(trusted, Some(IN_TOTO_PAYLOAD_TYPE), "ok")
            .unwrap();
        let refused =
            |envelope: &Envelope, trusted: &[PublicKey], want: Option<&str>, reason: &str| {
                let err = envelope.verify(trusted, want, "record.json").unwrap_err();
                assert_eq!(err.category(), Category::Refused, "{err}");
                let text = err.to_string();
                assert!(text.contains("`record.json`"), "{text}");
                assert!(text.contains(reason), "expected {reason:?} in {text:?}");
            };

        let mut e = original.clone();
        e.payload.push(b' ');
        refused(&e, trusted, None, "does not verify");

        let mut e = original.clone();
        e.payload_type = "application/json".into();
        refused(&e, trusted, None, "does not verify");
        refused(
            &e,
            trusted,
            Some(IN_TOTO_PAYLOAD_TYPE),
            "has payloadType `application/json`, expected `application/vnd.in-toto+json`",
        );

        let mut e = original.clone();
        e.signatures.clear();
        refused(&e, trusted, None, "the envelope has no signatures");

        let mut e = original.clone();
        let last = e.signatures[0].sig.len() - 1;
        e.signatures[0].sig[last] ^= 0x01;
        refused(&e, trusted, None, "does not verify");

        let mut e = original.clone();
        e.signatures[0].sig.truncate(10);
        refused(&e, trusted, None, "does not verify");

        refused(
            original,
            std::slice::from_ref(stranger.public_key()),
            None,
            "does not verify with any of the 1 trusted keys",
        );
        refused(original, &[], None, "no trusted keys were given");

        // The keyid names another trusted key: only that key is tried.
        let mut e = original.clone();
        e.signatures[0].keyid = Some(stranger.key_id().as_str().to_owned());
        let both = [stranger.public_key().clone(), key.clone()];
        refused(
            &e,
            &both,
            None,
            "does not verify with the trusted key it names",
        );
        // A keyid no trusted key has is only a hint: every key is tried.
        let mut e = original.clone();
        e.signatures[0].keyid = Some("not-a-key-id".into());
        assert_eq!(e.verify(&both, None, "x").unwrap().key(), key);
    }

    // What a person reads when a record was changed after signing.
    let mut changed = originals[2].1.clone();
    changed.payload.push(b' ');
    let err = changed
        .verify(
            std::slice::from_ref(&originals[2].0),
            Some(IN_TOTO_PAYLOAD_TYPE),
            "promotion.json",
        )
        .unwrap_err();
    insta::assert_snapshot!(message(&err), @r"
    `promotion.json` is not signed by a trusted key: signature 1 (keyid `a808aae5d1180d6b2587c916aaaa227f73336221aabde1227d03e5198dd11417`) does not verify with the trusted key it names
    hint: check that the signer's public key is among the trusted keys, and that the payload was not changed after signing
    ");

    // Every prefix of a real envelope is refused, never a panic; so is every flipped bit of
    // its signatures.
    for (key, original) in &originals {
        let json = original.to_json();
        for cut in 0..json.len() {
            assert!(
                Envelope::from_json(&json.as_bytes()[..cut], "cut").is_err(),
                "cut at {cut}"
            );
        }
        for byte in 0..original.signatures[0].sig.len() {
            for bit in 0..8 {
                let mut e = original.clone();
                e.signatures[0].sig[byte] ^= 1 << bit;
                assert!(
                    e.verify(std::slice::from_ref(key), None, "x").is_err(),
                    "byte {byte} bit {bit}"
                );
            }
        }
    }

    // Malformed JSON and base64 are input errors naming the field.
    let bad = |json: &str, reason: &str| {
        let err = Envelope::from_json(json.as_bytes(), "record.json").unwrap_err();
        assert_eq!(err.category(), Category::Usage, "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("`record.json` is not a valid DSSE envelope"),
            "{text}"
        );
        assert!(text.contains(reason), "expected {reason:?} in {text:?}");
    };
    bad("", "EOF");
    bad("{", "EOF");
    bad("[]", "it is not a JSON object");
    bad(r#"["", "t", []]"#, "it is not a JSON object");
    bad(
        r#"{"payloadType":"t","signatures":[]}"#,
        "missing field `payload`",
    );
    bad(
        r#"{"payload":"","signatures":[]}"#,
        "missing field `payloadType`",
    );
    bad(
        r#"{"payload":"","payloadType":"t"}"#,
        "missing field `signatures`",
    );
    bad(
        r#"{"payload":"!!","payloadType":"t","signatures":[]}"#,
        "`payload` is not base64",
    );
    bad(
        r#"{"payload":"","payloadType":"t","signatures":[{"sig":"AA=="},{"sig":"***"}]}"#,
        "`signatures[1].sig` is not base64",
    );
    bad(
        r#"{"payload":"","payloadType":"t","signatures":[{"keyid":"x"}]}"#,
        "missing field `sig`",
    );
    bad(
        r#"{"payload":5,"payloadType":"t","signatures":[]}"#,
        "invalid type",
    );
}

#[test]
fn a_verified_payload_that_is_not_a_statement_is_refused() {
    let key =
        PrivateKey::from_pem(&PrivateKey::generate(Algorithm::Ed25519).unwrap(), "k").unwrap();
    let trusted = [key.public_key().clone()];
    for (payload, reason) in [
        (
            json!({"_type": "https://example.com/Other"}),
            "missing field `subject`",
        ),
        (
            json!({"_type": "https://example.com/Other", "subject": [], "predicateType": "p"}),
            "`_type` is `https://example.com/Other`",
        ),
        (
            json!({"_type": STATEMENT_V1, "subject": [], "predicateType": "p"}),
            "`subject` is empty",
        ),
        (
            json!({"_type": STATEMENT_V1, "subject": [{"name": "a", "digest": {}}], "predicateType": "p"}),
            "`subject[0].digest` is empty",
        ),
        (
            json!({"_type": STATEMENT_V1, "subject": [{"name": "a", "digest": {"sha256": "ABC"}}], "predicateType": "p"}),
            "`subject[0].digest.sha256` is `ABC`",
        ),
        (
            json!({"_type": STATEMENT_V1, "subject": [{"name": "a", "digest": {"sha256": "ab".repeat(32)}}], "predicateType": ""}),
            "`predicateType` is empty",
        ),
    ] {
        let envelope =
            Envelope::sign(IN_TOTO_PAYLOAD_TYPE, payload.to_string().as_bytes(), &key).unwrap();
        let err = Statement::verify(&envelope, &trusted, "att.json").unwrap_err();
        assert!(matches!(err, SignError::BadStatement { .. }), "{err}");
        assert!(
            err.to_string().contains(reason),
            "expected {reason:?} in {err}"
        );
    }
    // v0.1, which cosign writes, reads too.
    let v01 = json!({"_type": STATEMENT_V0_1, "subject": [{"name": "a", "digest": {"sha256": "ab".repeat(32)}}], "predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {}});
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, v01.to_string().as_bytes(), &key).unwrap();
    assert_eq!(
        Statement::verify(&envelope, &trusted, "att.json")
            .unwrap()
            .0
            .statement_type,
        STATEMENT_V0_1
    );
}

#[test]
fn encrypted_keys_are_refused_with_what_to_do() {
    let path = sslib("ed25519.encrypted.pem");
    let err = PrivateKey::load(&path).unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    assert!(matches!(err, SignError::Encrypted { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));

    // cosign's own format (scrypt + secretbox); the body here is not a real key, only the
    // armour matters.
    let cosign = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    let err = PrivateKey::from_pem(cosign, "cosign.key").unwrap_err();
    assert_eq!(err.category(), Category::Usage);
    insta::assert_snapshot!(message(&err), @r"
    `cosign.key` is an encrypted private key (`ENCRYPTED SIGSTORE PRIVATE KEY`), which paved cannot read
    hint: export an unencrypted PKCS#8 key (`openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem`; for a cosign key, create a new pair with `openssl genpkey -algorithm ed25519 -out key.pem`) and keep it in a CI secret instead of a password
    ");

    // Tools that return paved_core::Error keep the category and the hint.
    let core = paved_core::Error::from(err);
    assert_eq!(core.category(), Category::Usage);
    assert!(core.hint().unwrap().contains("unencrypted PKCS#8"));

    // A legacy OpenSSL encrypted key: headers inside the block.
    let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let err = PrivateKey::from_pem(legacy, "legacy.pem").unwrap_err();
    assert!(matches!(err, SignError::Encrypted { .. }), "{err}");
}

#[test]
fn bad_key_files_are_input_errors_naming_the_file() {
    let cases: Vec<(Result<(), SignError>, &str)> = vec![
        (
            PrivateKey::load(Path::new("/nonexistent/key.pem")).map(drop),
            "could not read key file `/nonexistent/key.pem`",
        ),
        (
            PrivateKey::from_pem("hello", "k.pem").map(drop),
            "`k.pem` is not a PEM key: no `-----BEGIN …-----` block found",
        ),
        (
            PrivateKey::from_pem(&read(&sslib("ed25519.pub.pem")), "k.pem").map(drop),
            "`k.pem` holds a `PUBLIC KEY` block where a private key",
        ),
        (
            PublicKey::from_pem(&read(&sslib("ed25519.key.pem")), "p.pem").map(drop),
            "`p.pem` holds a `PRIVATE KEY` block where a public key",
        ),
        (
            PrivateKey::load(&sslib("rsa.key.pem")).map(drop),
            "rsa.key.pem` is a RSA key; paved supports Ed25519 and ECDSA P-256",
        ),
        (
            PrivateKey::load(&sslib("p384.key.pem")).map(drop),
            "is a ECDSA P-384 key",
        ),
        (
            PublicKey::load(&sslib("p384.pub.pem")).map(drop),
            "is a ECDSA P-384 key",
        ),
        (
            PrivateKey::from_pem(
                &format!(
                    "{}{}",
                    read(&sslib("ed25519.key.pem")),
                    read(&sslib("ecdsa-p256.key.pem"))
                ),
                "two.pem",
            )
            .map(drop),
            "it holds 2 blocks (`PRIVATE KEY`, `PRIVATE KEY`); put one key in each file",
        ),
        (
            PrivateKey::from_pem(
                "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
                "cut.pem",
            )
            .map(drop),
            "`cut.pem` is not a valid PKCS#8 private key",
        ),
        (
            PublicKey::from_pem(
                "-----BEGIN PUBLIC KEY-----\nMAUGAytlcA==\n-----END PUBLIC KEY-----\n",
                "cut.pub",
            )
            .map(drop),
            "`cut.pub` is not a valid public key",
        ),
        (
            PublicKey::from_pem(
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
                "c.pem",
            )
            .map(drop),
            "it is a certificate; extract its key with `openssl x509 -pubkey",
        ),
    ];
    for (result, expected) in cases {
        let err = result.expect_err(expected);
        assert_eq!(err.category(), Category::Usage, "{err}");
        assert!(err.hint().is_some(), "{err}");
        assert!(
            err.to_string().contains(expected),
            "expected {expected:?} in {err}"
        );
    }
    // Every truncation of a real key is an error, never a panic.
    for label_file in [
        "ed25519.key.pem",
        "ecdsa-p256.key.pem",
        "ecdsa-p256.sec1.pem",
        "ecdsa-p256.pub.pem",
    ] {
        let text = read(&sslib(label_file));
        let block = paved_pem_body(&text);
        let label = text
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("-----BEGIN ")
            .trim_end_matches("-----")
            .to_owned();
        for cut in 0..block.len() {
            let pem = format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                base64::engine::general_purpose::STANDARD.encode(&block[..cut])
            );
            let failed = if label == "PUBLIC KEY" {
                PublicKey::from_pem(&pem, "cut").is_err()
            } else {
                PrivateKey::from_pem(&pem, "cut").is_err()
            };
            assert!(failed, "{label_file} cut at {cut} was accepted");
        }
    }
}

fn paved_pem_body(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
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

fn run_sslib(python: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(python)
        .arg(fixtures().join("sslib.py"))
        .args(args)
        .output()
        .expect("running sslib.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The cross-check run live: securesystemslib makes keys and envelopes that paved verifies, and
/// verifies envelopes paved signed, with its keys and with keys `ring` generated.
#[test]
fn securesystemslib_live() {
    let python = sslib_python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out) = run_sslib(&python, &["make", d.to_str().unwrap()]);
    assert!(ok, "sslib.py make failed:\n{out}");

    for alg in ALGS {
        // (a) securesystemslib signs, paved verifies.
        let public = PublicKey::load(&d.join(format!("{alg}.pub.pem"))).unwrap();
        let private = PrivateKey::load(&d.join(format!("{alg}.key.pem"))).unwrap();
        assert_eq!(
            public.key_id().as_str(),
            read(&d.join(format!("{alg}.keyid"))).trim()
        );
        let envelope = Envelope::from_json(
            read(&d.join(format!("{alg}.envelope.json"))).as_bytes(),
            alg,
        )
        .unwrap();
        let trusted = [public.clone()];
        let (statement, verified) = Statement::verify(&envelope, &trusted, alg).unwrap();
        assert_eq!(verified.key().key_id(), public.key_id());
        assert_eq!(statement.predicate["signer"], "securesystemslib");
        let blob = std::fs::read(d.join(format!("{alg}.blob"))).unwrap();
        verify_blob(
            &blob,
            &read(&d.join(format!("{alg}.blob.sig"))),
            &trusted,
            alg,
        )
        .unwrap();

        // (b) paved signs with securesystemslib's key, securesystemslib verifies.
        let statement = Statement::new(
            vec![Subject::sha256("registry.example/app", &"cd".repeat(32))],
            "https://paved.dev/promotion/v1",
            json!({"signer": "paved"}),
        );
        let signed = statement.sign(&private).unwrap();
        let path = d.join(format!("{alg}.paved.json"));
        std::fs::write(&path, signed.to_json()).unwrap();
        let pub_path = d.join(format!("{alg}.pub.pem"));
        let (ok, out) = run_sslib(
            &python,
            &[
                "verify",
                pub_path.to_str().unwrap(),
                path.to_str().unwrap(),
                IN_TOTO_PAYLOAD_TYPE,
            ],
        );
        assert!(
            ok,
            "securesystemslib refused paved's {alg} envelope:\n{out}"
        );
        assert_eq!(out.trim(), public.key_id().as_str());

        // The check is real: securesystemslib refuses a changed payload.
        let mut tampered = signed.clone();
        tampered.payload.push(b' ');
        std::fs::write(&path, tampered.to_json()).unwrap();
        let (ok, out) = run_sslib(
            &python,
            &[
                "verify",
                pub_path.to_str().unwrap(),
                path.to_str().unwrap(),
                IN_TOTO_PAYLOAD_TYPE,
            ],
        );
        assert!(!ok, "securesystemslib accepted a tampered envelope:\n{out}");
    }

    // (c) keys ring generated, in PKCS#8 as paved writes it, verify in securesystemslib too.
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let key = PrivateKey::from_pem(&PrivateKey::generate(alg).unwrap(), "generated").unwrap();
        let pub_path = d.join(format!("gen-{alg}.pub.pem"));
        std::fs::write(&pub_path, key.public_key().to_pem()).unwrap();
        let path = d.join(format!("gen-{alg}.json"));
        std::fs::write(
            &path,
            Envelope::sign("application/vnd.paved.test+json", b"{}", &key)
                .unwrap()
                .to_json(),
        )
        .unwrap();
        let (ok, out) = run_sslib(
            &python,
            &[
                "verify",
                pub_path.to_str().unwrap(),
                path.to_str().unwrap(),
                "application/vnd.paved.test+json",
            ],
        );
        assert!(
            ok,
            "securesystemslib refused paved's generated {alg} key:\n{out}"
        );
        assert_eq!(out.trim(), key.key_id().as_str());
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(paved_testkit::tool("openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Keys as the OpenSSL CLI makes them (PKCS#8 for both algorithms, SEC1 with its EC PARAMETERS
/// block from `ecparam -genkey`): paved loads them, its key id is the hash of the SPKI DER
/// OpenSSL writes, and signatures cross both ways.
#[test]
fn openssl_keys_and_signatures_cross_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]);
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            "sec1.pem",
        ],
    );
    assert!(read(&d.join("sec1.pem")).starts_with("-----BEGIN EC PARAMETERS-----"));
    std::fs::write(d.join("msg"), b"registry.example/app@sha256:0123").unwrap();

    for name in ["ed", "ec", "sec1"] {
        let key = PrivateKey::load(&d.join(format!("{name}.pem"))).unwrap();
        openssl(
            d,
            &[
                "pkey",
                "-in",
                &format!("{name}.pem"),
                "-pubout",
                "-out",
                &format!("{name}.pub"),
            ],
        );
        let spki = openssl(
            d,
            &[
                "pkey",
                "-in",
                &format!("{name}.pem"),
                "-pubout",
                "-outform",
                "DER",
            ],
        );
        assert_eq!(key.public_key().spki_der(), &spki[..], "{name}");
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.key_id().as_str(), hex, "{name}");
        let public = PublicKey::load(&d.join(format!("{name}.pub"))).unwrap();
        assert_eq!(public.key_id(), key.key_id(), "{name}");

        // paved signs, OpenSSL verifies.
        std::fs::write(
            d.join(format!("{name}.paved.sig")),
            key.sign(b"registry.example/app@sha256:0123").unwrap(),
        )
        .unwrap();
        let (sign, verify): (Vec<&str>, Vec<&str>) = if key.algorithm() == Algorithm::Ed25519 {
            (
                vec!["pkeyutl", "-sign", "-rawin", "-inkey"],
                vec!["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey"],
            )
        } else {
            (
                vec!["dgst", "-sha256", "-sign"],
                vec!["dgst", "-sha256", "-verify"],
            )
        };
        let pub_file = format!("{name}.pub");
        let paved_sig = format!("{name}.paved.sig");
        let mut args = verify.clone();
        args.push(&pub_file);
        if key.algorithm() == Algorithm::Ed25519 {
            args.extend(["-in", "msg", "-sigfile", &paved_sig]);
        } else {
            args.extend(["-signature", &paved_sig, "msg"]);
        }
        openssl(d, &args);

        // OpenSSL signs, paved verifies (a cosign-style base64 signature).
        let key_file = format!("{name}.pem");
        let openssl_sig = format!("{name}.openssl.sig");
        let mut args = sign.clone();
        args.push(&key_file);
        if key.algorithm() == Algorithm::Ed25519 {
            args.extend(["-in", "msg", "-out", &openssl_sig]);
        } else {
            args.extend(["-out", &openssl_sig, "msg"]);
        }
        openssl(d, &args);
        let sig = std::fs::read(d.join(&openssl_sig)).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
        let trusted = [public];
        let verified =
            verify_blob(b"registry.example/app@sha256:0123", &b64, &trusted, "sig").unwrap();
        assert_eq!(verified.key_id(), key.key_id(), "{name}");
        assert!(verify_blob(b"registry.example/app@sha256:0124", &b64, &trusted, "sig").is_err());
    }
}

/// Keys paved generates load in Python `cryptography` (what securesystemslib signs with) and in
/// OpenSSL, and sign what paved verifies: a key made here must be usable elsewhere.
#[test]
fn generated_keys_load_in_python_cryptography_and_openssl() {
    let python = sslib_python();
    let dir = tempfile::tempdir().unwrap();
    for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let pem = PrivateKey::generate(alg).unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, &pem).unwrap();
        let out = Command::new(&python)
            .args([
                "-c",
                "import sys; from cryptography.hazmat.primitives.serialization import load_pem_private_key as l; l(open(sys.argv[1],'rb').read(), None)",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{alg:?}: cryptography cannot load paved's key: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{alg:?}: openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Still paved's own key: it loads and signs what its public key verifies.
        let key = PrivateKey::from_pem(&pem, "generated").unwrap();
        let env = Envelope::sign("application/json", b"{}", &key).unwrap();
        env.verify(std::slice::from_ref(key.public_key()), None, "generated")
            .unwrap();
    }
}
