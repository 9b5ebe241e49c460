//! Signing keys and trusted public keys: PEM in, `ring` inside, a key id out.
//!
//! A key id is the lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo, the bytes
//! `openssl pkey -pubout -outform DER` writes. It is the same whether it is computed from the
//! private key or from the public key file, so a verifier can pick the key a signature names.

use std::fmt;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair as _};

use super::der::{self, Der};
use super::error::SignError;

/// The signature algorithms paved signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519; signatures are the raw 64 bytes.
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256; signatures are ASN.1 DER (fixed-length `r‖s` is
    /// accepted when verifying).
    EcdsaP256,
}

impl Algorithm {
    /// `ed25519` or `ecdsa-p256`, as messages and docs name them.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256 => "ecdsa-p256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lowercase hex SHA-256 of a key's DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    fn of_spki(spki: &[u8]) -> KeyId {
        let digest = ring::digest::digest(&ring::digest::SHA256, spki);
        KeyId(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public key that verifies signatures (a trusted key from policy, or a signer's own).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    /// Ed25519: the 32-byte key; P-256: the 65-byte uncompressed point.
    raw: Vec<u8>,
    spki: Vec<u8>,
    key_id: KeyId,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id.0)
            .finish()
    }
}

impl PublicKey {
    /// Read a PEM `PUBLIC KEY` (SPKI) file.
    pub fn load(path: &Path) -> Result<PublicKey, SignError> {
        let text = read_text(path)?;
        PublicKey::from_pem(&text, &path.display().to_string())
    }

    /// Parse PEM text holding one `PUBLIC KEY` (SPKI) block; `origin` names it in errors.
    pub fn from_pem(pem: &str, origin: &str) -> Result<PublicKey, SignError> {
        let block = one_block(pem, origin)?;
        match block.label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&block.der, origin),
            "PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "RSA PRIVATE KEY"
            | "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
                Err(SignError::WrongBlock {
                    origin: origin.into(),
                    found: block.label,
                    expected: "public key (`-----BEGIN PUBLIC KEY-----`)",
                })
            }
            "CERTIFICATE" => Err(SignError::Pem {
                origin: origin.into(),
                reason: "it is a certificate; extract its key with `openssl x509 -pubkey -noout -in CERT`".into(),
            }),
            "RSA PUBLIC KEY" => Err(SignError::UnsupportedKey {
                origin: origin.into(),
                what: "RSA".into(),
            }),
            other => Err(SignError::Pem {
                origin: origin.into(),
                reason: format!("a `{other}` block is not a public key"),
            }),
        }
    }

    /// Parse a DER SubjectPublicKeyInfo; `origin` names it in errors.
    pub fn from_spki_der(spki: &[u8], origin: &str) -> Result<PublicKey, SignError> {
        let bad = |reason: String| SignError::BadKey {
            origin: origin.into(),
            kind: "public",
            reason,
        };
        let mut outer = Der::new(spki);
        let body = outer
            .expect(der::SEQUENCE, "a SubjectPublicKeyInfo")
            .map_err(bad)?;
        outer.end("the SubjectPublicKeyInfo").map_err(bad)?;
        let mut inner = Der::new(body);
        let alg = inner.expect(der::SEQUENCE, "an algorithm").map_err(bad)?;
        let bits = inner.expect(der::BIT_STRING, "the key bits").map_err(bad)?;
        inner.end("the key bits").map_err(bad)?;
        let (oid, param) = der::algorithm_identifier(alg).map_err(bad)?;
        let Some((0, raw)) = bits.split_first() else {
            return Err(bad("the key bit string is empty or has unused bits".into()));
        };
        let algorithm = key_algorithm(oid, param, origin)?;
        match algorithm {
            Algorithm::Ed25519 if raw.len() != 32 => {
                return Err(bad(format!(
                    "an Ed25519 key is 32 bytes, this one is {}",
                    raw.len()
                )));
            }
            Algorithm::EcdsaP256 if raw.len() == 33 && matches!(raw[0], 2 | 3) => {
                return Err(bad(
                    "the P-256 point is compressed; export it uncompressed (`openssl ec -pubin -conv_form uncompressed`)".into(),
                ));
            }
            Algorithm::EcdsaP256 if raw.len() != 65 || raw[0] != 4 => {
                return Err(bad(format!(
                    "a P-256 key is a 65-byte uncompressed point, this one is {} bytes",
                    raw.len()
                )));
            }
            _ => {}
        }
        Ok(PublicKey::from_raw(algorithm, raw))
    }

    fn from_raw(algorithm: Algorithm, raw: &[u8]) -> PublicKey {
        let alg_id = match algorithm {
            Algorithm::Ed25519 => der::encode(der::OID, der::OID_ED25519),
            Algorithm::EcdsaP256 => [
                der::encode(der::OID, der::OID_EC_PUBLIC_KEY),
                der::encode(der::OID, der::OID_P256),
            ]
            .concat(),
        };
        let mut bits = vec![0u8];
        bits.extend_from_slice(raw);
        let spki = der::encode(
            der::SEQUENCE,
            &[
                der::encode(der::SEQUENCE, &alg_id),
                der::encode(der::BIT_STRING, &bits),
            ]
            .concat(),
        );
        PublicKey {
            algorithm,
            raw: raw.to_vec(),
            key_id: KeyId::of_spki(&spki),
            spki,
        }
    }

    /// The key as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        der::to_pem("PUBLIC KEY", &self.spki)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// Lowercase hex SHA-256 of [`PublicKey::spki_der`].
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Ed25519 or ECDSA P-256.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` is this key's signature over `message`. ECDSA signatures may be ASN.1
    /// DER (what cosign and securesystemslib write) or fixed-length `r‖s` (64 bytes).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self.algorithm {
            Algorithm::Ed25519 => rsig::UnparsedPublicKey::new(&rsig::ED25519, &self.raw)
                .verify(message, signature)
                .is_ok(),
            Algorithm::EcdsaP256 => {
                rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_ASN1, &self.raw)
                    .verify(message, signature)
                    .is_ok()
                    || (signature.len() == 64
                        && rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, &self.raw)
                            .verify(message, signature)
                            .is_ok())
            }
        }
    }
}

enum Signer {
    Ed25519(rsig::Ed25519KeyPair),
    EcdsaP256(rsig::EcdsaKeyPair),
}

/// A private key that signs. Its `Debug` shows the algorithm and key id, never the key.
pub struct PrivateKey {
    signer: Signer,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.public.algorithm)
            .field("key_id", &self.public.key_id.0)
            .finish_non_exhaustive()
    }
}

/// PKCS#8 v1 of an Ed25519 key up to its 32-byte seed (RFC 8410 section 7).
const ED25519_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// Where the seed sits in ring's v2 document (`30 53 02 01 01 30 05 06 03 2b 65 70 04 22 04 20`).
const ED25519_V2_SEED: std::ops::Range<usize> = 16..48;

impl PrivateKey {
    /// Read a PEM private key file: PKCS#8 `PRIVATE KEY` (Ed25519 or P-256) or SEC1
    /// `EC PRIVATE KEY` (P-256, as `openssl ecparam -genkey` writes it). Encrypted keys, cosign's
    /// `ENCRYPTED SIGSTORE PRIVATE KEY` among them, are refused.
    pub fn load(path: &Path) -> Result<PrivateKey, SignError> {
        let text = read_text(path)?;
        PrivateKey::from_pem(&text, &path.display().to_string())
    }

    /// Parse PEM text holding one private key (see [`PrivateKey::load`]); `origin` names it in
    /// errors.
    pub fn from_pem(pem: &str, origin: &str) -> Result<PrivateKey, SignError> {
        let block = one_block(pem, origin)?;
        if block.headers {
            return Err(SignError::Encrypted {
                origin: origin.into(),
                label: block.label,
            });
        }
        match block.label.as_str() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8(&block.der, origin),
            "EC PRIVATE KEY" => PrivateKey::from_sec1(&block.der, origin),
            "ENCRYPTED PRIVATE KEY"
            | "ENCRYPTED SIGSTORE PRIVATE KEY"
            | "ENCRYPTED COSIGN PRIVATE KEY" => Err(SignError::Encrypted {
                origin: origin.into(),
                label: block.label,
            }),
            "RSA PRIVATE KEY" => Err(SignError::UnsupportedKey {
                origin: origin.into(),
                what: "RSA".into(),
            }),
            "OPENSSH PRIVATE KEY" => Err(SignError::Pem {
                origin: origin.into(),
                reason: "it is in OpenSSH's own format; convert a copy with `ssh-keygen -p -m PKCS8 -f COPY`".into(),
            }),
            "PUBLIC KEY" => Err(SignError::WrongBlock {
                origin: origin.into(),
                found: block.label,
                expected: "private key (`-----BEGIN PRIVATE KEY-----`)",
            }),
            other => Err(SignError::Pem {
                origin: origin.into(),
                reason: format!("a `{other}` block is not a private key"),
            }),
        }
    }

    /// Make a new key and return it as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for tests and
    /// for `docs/signing.md`'s walk-through. Production keys usually come from a KMS or `openssl`.
    pub fn generate(algorithm: Algorithm) -> Result<String, SignError> {
        let rng = SystemRandom::new();
        let failed = |_| SignError::Crypto {
            action: "generate a key",
        };
        let der = match algorithm {
            Algorithm::Ed25519 => {
                // ring writes the RFC 5958 v2 form (the seed, then the public key in `[1]`),
                // which Python `cryptography` refuses. Write RFC 8410's v1 form, as
                // `openssl genpkey` does: the same seed, without the public key.
                let v2 = rsig::Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?;
                let seed = v2.as_ref().get(ED25519_V2_SEED).ok_or(SignError::Crypto {
                    action: "generate a key",
                })?;
                let mut v1 = ED25519_V1_PREFIX.to_vec();
                v1.extend_from_slice(seed);
                v1
            }
            Algorithm::EcdsaP256 => {
                rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec()
            }
        };
        Ok(der::to_pem("PRIVATE KEY", &der))
    }

    fn from_pkcs8(pkcs8: &[u8], origin: &str) -> Result<PrivateKey, SignError> {
        let bad = |reason: String| SignError::BadKey {
            origin: origin.into(),
            kind: "PKCS#8 private",
            reason,
        };
        let mut outer = Der::new(pkcs8);
        let body = outer
            .expect(der::SEQUENCE, "a PrivateKeyInfo")
            .map_err(bad)?;
        outer.end("the PrivateKeyInfo").map_err(bad)?;
        let mut inner = Der::new(body);
        inner.expect(der::INTEGER, "the version").map_err(bad)?;
        let alg = inner.expect(der::SEQUENCE, "an algorithm").map_err(bad)?;
        let (oid, param) = der::algorithm_identifier(alg).map_err(bad)?;
        let rejected = |e: ring::error::KeyRejected| bad(format!("ring rejected it ({e})"));
        let signer = match key_algorithm(oid, param, origin)? {
            Algorithm::Ed25519 => Signer::Ed25519(
                // Version 1 PKCS#8 (no public key inside) is what OpenSSL and Python's
                // `cryptography` write; ring derives the public key.
                rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?,
            ),
            Algorithm::EcdsaP256 => Signer::EcdsaP256(
                rsig::EcdsaKeyPair::from_pkcs8(
                    &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(|e| {
                    bad(format!(
                        "ring rejected it ({e}); a P-256 key must carry its public key, as OpenSSL writes it"
                    ))
                })?,
            ),
        };
        Ok(PrivateKey::with_signer(signer))
    }

    fn from_sec1(sec1: &[u8], origin: &str) -> Result<PrivateKey, SignError> {
        let bad = |reason: String| SignError::BadKey {
            origin: origin.into(),
            kind: "SEC1 EC private",
            reason,
        };
        let mut outer = Der::new(sec1);
        let body = outer
            .expect(der::SEQUENCE, "an ECPrivateKey")
            .map_err(bad)?;
        outer.end("the ECPrivateKey").map_err(bad)?;
        let mut inner = Der::new(body);
        inner.expect(der::INTEGER, "the version").map_err(bad)?;
        inner
            .expect(der::OCTET_STRING, "the private key")
            .map_err(bad)?;
        let mut has_public = false;
        while !inner.is_empty() {
            let (tag, value) = inner.any().map_err(bad)?;
            match tag {
                der::CONTEXT_0 => {
                    let curve = Der::new(value).expect(der::OID, "the curve").map_err(bad)?;
                    if curve != der::OID_P256 {
                        return Err(SignError::UnsupportedKey {
                            origin: origin.into(),
                            what: format!("ECDSA {}", curve_name(curve)),
                        });
                    }
                }
                der::CONTEXT_1 => has_public = true,
                _ => {}
            }
        }
        if !has_public {
            return Err(bad(
                "it does not carry its public key; re-export it with `openssl pkcs8 -topk8 -nocrypt`".into(),
            ));
        }
        // ring reads P-256 keys from PKCS#8 only: wrap the SEC1 structure the way PKCS#8 does.
        let alg_id = [
            der::encode(der::OID, der::OID_EC_PUBLIC_KEY),
            der::encode(der::OID, der::OID_P256),
        ]
        .concat();
        let pkcs8 = der::encode(
            der::SEQUENCE,
            &[
                der::encode(der::INTEGER, &[0]),
                der::encode(der::SEQUENCE, &alg_id),
                der::encode(der::OCTET_STRING, sec1),
            ]
            .concat(),
        );
        let pair = rsig::EcdsaKeyPair::from_pkcs8(
            &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| bad(format!("ring rejected it ({e})")))?;
        Ok(PrivateKey::with_signer(Signer::EcdsaP256(pair)))
    }

    fn with_signer(signer: Signer) -> PrivateKey {
        let public = match &signer {
            Signer::Ed25519(k) => PublicKey::from_raw(Algorithm::Ed25519, k.public_key().as_ref()),
            Signer::EcdsaP256(k) => {
                PublicKey::from_raw(Algorithm::EcdsaP256, k.public_key().as_ref())
            }
        };
        PrivateKey { signer, public }
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the matching public key.
    pub fn key_id(&self) -> &KeyId {
        &self.public.key_id
    }

    /// Ed25519 or ECDSA P-256.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm
    }

    /// Sign `message`: Ed25519 gives 64 raw bytes, ECDSA P-256 (SHA-256) gives ASN.1 DER.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.signer {
            Signer::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
            Signer::EcdsaP256(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::Crypto { action: "sign" }),
        }
    }
}

fn read_text(path: &Path) -> Result<String, SignError> {
    let bytes = std::fs::read(path).map_err(|source| SignError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| SignError::Pem {
        origin: path.display().to_string(),
        reason: "it is not text (a DER file? convert it with `openssl pkey -inform DER`)".into(),
    })
}

/// The one key block in `pem` (`EC PARAMETERS` blocks, which `openssl ecparam -genkey` writes
/// before the key, are skipped).
fn one_block(pem: &str, origin: &str) -> Result<der::PemBlock, SignError> {
    let pem_err = |reason: String| SignError::Pem {
        origin: origin.into(),
        reason,
    };
    let mut blocks: Vec<der::PemBlock> = der::pem_blocks(pem)
        .map_err(pem_err)?
        .into_iter()
        .filter(|b| b.label != "EC PARAMETERS")
        .collect();
    match blocks.len() {
        0 => Err(pem_err("no `-----BEGIN …-----` block found".into())),
        1 => Ok(blocks.remove(0)),
        n => Err(pem_err(format!(
            "it holds {n} blocks ({}); put one key in each file",
            blocks
                .iter()
                .map(|b| format!("`{}`", b.label))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn key_algorithm(oid: &[u8], param: Option<&[u8]>, origin: &str) -> Result<Algorithm, SignError> {
    let unsupported = |what: String| SignError::UnsupportedKey {
        origin: origin.into(),
        what,
    };
    match (oid, param) {
        (der::OID_ED25519, None) => Ok(Algorithm::Ed25519),
        (der::OID_EC_PUBLIC_KEY, Some(der::OID_P256)) => Ok(Algorithm::EcdsaP256),
        (der::OID_EC_PUBLIC_KEY, Some(curve)) => {
            Err(unsupported(format!("ECDSA {}", curve_name(curve))))
        }
        (der::OID_EC_PUBLIC_KEY, None) => {
            Err(unsupported("ECDSA key without a named curve".into()))
        }
        ([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01], _) => {
            Err(unsupported("RSA".into()))
        }
        ([0x2b, 0x65, 0x71], _) => Err(unsupported("Ed448".into())),
        (other, _) => Err(unsupported(format!(
            "algorithm OID {}",
            der::oid_text(other)
        ))),
    }
}

fn curve_name(oid: &[u8]) -> String {
    match oid {
        [0x2b, 0x81, 0x04, 0x00, 0x22] => "P-384".into(),
        [0x2b, 0x81, 0x04, 0x00, 0x23] => "P-521".into(),
        [0x2b, 0x81, 0x04, 0x00, 0x0a] => "secp256k1".into(),
        other => format!("curve {}", der::oid_text(other)),
    }
}
