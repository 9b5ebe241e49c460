//! What can go wrong loading keys, signing and verifying.

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;
use crate::exit::Category;

/// Errors from [`crate::sign`]. Each names the key file or envelope it is about (`origin`: a path,
/// or whatever label the caller gave, such as an image reference).
///
/// Key, envelope and statement input errors exit 2; a signature that does not verify, or an
/// envelope of another payload type, is a decided "no" (exit 1); a failure of the system's random
/// generator exits 3.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key file could not be read.
    #[error("could not read key file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not PEM, or holds no key, or more than one.
    #[error("`{origin}` is not a PEM key: {reason}")]
    Pem { origin: String, reason: String },

    /// A private key was expected and the file holds something else, or the other way round.
    #[error("`{origin}` holds a `{found}` block where a {expected} was expected")]
    WrongBlock {
        origin: String,
        found: String,
        expected: &'static str,
    },

    /// cosign's password-protected key format, or an encrypted PKCS#8 or legacy OpenSSL key.
    #[error("`{origin}` is an encrypted private key (`{label}`), which paved cannot read")]
    Encrypted { origin: String, label: String },

    /// A well-formed key of an algorithm paved does not sign or verify with.
    #[error("`{origin}` is a {what} key; paved supports Ed25519 and ECDSA P-256")]
    UnsupportedKey { origin: String, what: String },

    /// The key's DER is malformed, or `ring` rejected it.
    #[error("`{origin}` is not a valid {kind} key: {reason}")]
    BadKey {
        origin: String,
        kind: &'static str,
        reason: String,
    },

    /// The envelope (or a signature) is not valid JSON, not the DSSE shape, or not base64.
    #[error("`{origin}` is not a valid DSSE envelope: {reason}")]
    BadEnvelope { origin: String, reason: String },

    /// The envelope carries a different payload type than the caller accepts.
    #[error("`{origin}` has payloadType `{found}`, expected `{expected}`")]
    PayloadType {
        origin: String,
        expected: String,
        found: String,
    },

    /// No signature verified with a trusted key (or fewer distinct keys than required).
    #[error("`{origin}` is not signed by a trusted key: {reason}")]
    NotVerified { origin: String, reason: String },

    /// The verified payload is not an in-toto Statement.
    #[error("`{origin}` does not carry a valid in-toto Statement: {reason}")]
    BadStatement { origin: String, reason: String },

    /// Signing or key generation failed in `ring` (the system random generator).
    #[error("could not {action}: the system random generator failed")]
    Crypto { action: &'static str },
}

impl Diagnostic for SignError {
    fn category(&self) -> Category {
        match self {
            SignError::Read { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                Category::External
            }
            SignError::Read { .. }
            | SignError::Pem { .. }
            | SignError::WrongBlock { .. }
            | SignError::Encrypted { .. }
            | SignError::UnsupportedKey { .. }
            | SignError::BadKey { .. }
            | SignError::BadEnvelope { .. }
            | SignError::BadStatement { .. } => Category::Usage,
            SignError::PayloadType { .. } | SignError::NotVerified { .. } => Category::Refused,
            SignError::Crypto { .. } => Category::External,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            SignError::Read { .. } => "check the path of the key file and that it is readable".into(),
            SignError::Pem { .. } => "give a PEM file with one `-----BEGIN PRIVATE KEY-----` (PKCS#8), \
                 `-----BEGIN EC PRIVATE KEY-----` (SEC1) or `-----BEGIN PUBLIC KEY-----` (SPKI) block"
                .into(),
            SignError::WrongBlock { expected, .. } => {
                format!("pass a {expected} file here; a private key signs, public keys verify")
            }
            SignError::Encrypted { .. } => "export an unencrypted PKCS#8 key \
                 (`openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem`; for a cosign key, create a \
                 new pair with `openssl genpkey -algorithm ed25519 -out key.pem`) and keep it in a CI \
                 secret instead of a password"
                .into(),
            SignError::UnsupportedKey { .. } => "create an Ed25519 key (`openssl genpkey -algorithm ed25519`) \
                 or a P-256 key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)"
                .into(),
            SignError::BadKey { .. } => "the file is damaged or not a key; export it again".into(),
            SignError::BadEnvelope { .. } => {
                "the envelope must be JSON `{\"payload\": base64, \"payloadType\": string, \
                 \"signatures\": [{\"keyid\": string, \"sig\": base64}]}`"
                    .into()
            }
            SignError::PayloadType { .. } => {
                "the envelope was made for another purpose; check which artifact was fetched".into()
            }
            SignError::NotVerified { .. } => "check that the signer's public key is among the trusted \
                 keys, and that the payload was not changed after signing"
                .into(),
            SignError::BadStatement { .. } => {
                "the signer produced something other than an in-toto Statement v1".into()
            }
            SignError::Crypto { .. } => return None,
        })
    }
}
