//! Keys, signatures, DSSE envelopes and in-toto statements: what paved-promote needs to sign
//! promotion records and check cosign signatures and attestations, and what paved-change needs
//! to sign its evidence bundles. See `docs/signing.md` for the formats and a walk-through.
//!
//! - [`PrivateKey`] / [`PublicKey`]: PEM keys (PKCS#8, SEC1 for P-256, SPKI), Ed25519 and ECDSA
//!   P-256 through `ring`; [`KeyId`] is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo.
//! - [`Envelope`], [`pae`]: DSSE v1; [`Envelope::verify`] says which trusted key verified.
//! - [`Statement`]: in-toto Statement v1, signed as payloadType [`IN_TOTO_PAYLOAD_TYPE`].
//! - [`verify_blob`]: a plain signature over bytes, as cosign's simple signing stores it.
//!
//! Everything fails with a [`SignError`] that names the key file or envelope.
//!
//! ```
//! use paved_core::sign::{Algorithm, Envelope, PrivateKey, PublicKey, Statement, Subject};
//!
//! # fn main() -> Result<(), paved_core::sign::SignError> {
//! // A real signer loads its key: `PrivateKey::load("signing-key.pem".as_ref())?`.
//! let key = PrivateKey::from_pem(&PrivateKey::generate(Algorithm::Ed25519)?, "generated")?;
//! let statement = Statement::new(
//!     vec![Subject::sha256("registry.example/app", &"9f".repeat(32))],
//!     "https://paved.dev/promotion/v1",
//!     serde_json::json!({ "from": "staging", "to": "production" }),
//! );
//! let json = statement.sign(&key)?.to_json();
//!
//! // A verifier loads trusted keys: `PublicKey::load("signing-key.pub.pem".as_ref())?`.
//! let trusted = [PublicKey::from_pem(&key.public_key().to_pem(), "signing-key.pub.pem")?];
//! let envelope = Envelope::from_json(json.as_bytes(), "record.json")?;
//! let (read, verified) = Statement::verify(&envelope, &trusted, "record.json")?;
//! assert_eq!(read, statement);
//! assert_eq!(verified.key().key_id(), key.key_id());
//!
//! // A changed payload is refused.
//! let mut changed = envelope.clone();
//! changed.payload.push(b' ');
//! assert!(Statement::verify(&changed, &trusted, "record.json").is_err());
//! # Ok(())
//! # }
//! ```

mod der;
mod dsse;
mod error;
mod key;
mod statement;

use base64::Engine as _;

pub use dsse::{Envelope, EnvelopeSignature, Verified, pae};
pub use error::SignError;
pub use key::{Algorithm, KeyId, PrivateKey, PublicKey};
pub use statement::{IN_TOTO_PAYLOAD_TYPE, STATEMENT_V0_1, STATEMENT_V1, Statement, Subject};

/// Verify a base64 signature over `payload` with any of `trusted` and return the key that
/// verified. This is cosign's simple signing: the `dev.cosignproject.cosign/signature`
/// annotation of a `.sig` layer is base64 of an ECDSA (ASN.1 DER) or Ed25519 signature over the
/// layer's bytes. `origin` names the signature in errors.
pub fn verify_blob<'k>(
    payload: &[u8],
    signature_b64: &str,
    trusted: &'k [PublicKey],
    origin: &str,
) -> Result<&'k PublicKey, SignError> {
    let sig = b64_decode(signature_b64.trim()).map_err(|e| SignError::BadEnvelope {
        origin: origin.into(),
        reason: format!("the signature is not base64: {e}"),
    })?;
    if trusted.is_empty() {
        return Err(SignError::NotVerified {
            origin: origin.into(),
            reason: "no trusted keys were given".into(),
        });
    }
    trusted
        .iter()
        .find(|k| k.verify(payload, &sig))
        .ok_or_else(|| SignError::NotVerified {
            origin: origin.into(),
            reason: format!(
                "the signature does not verify with any of the {} trusted keys",
                trusted.len()
            ),
        })
}

/// Standard, padded base64, as DSSE signers conventionally write.
fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard or URL-safe base64, padding optional: DSSE verifiers must accept either alphabet.
fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    if text.contains(['-', '_']) {
        GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(text)
    } else {
        GeneralPurpose::new(&alphabet::STANDARD, config).decode(text)
    }
}
