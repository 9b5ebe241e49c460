//! in-toto Statements (v1): what a promotion record or an evidence bundle says about which
//! artifacts, carried as the payload of a DSSE envelope.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::dsse::{Envelope, Verified};
use super::error::SignError;
use super::key::{PrivateKey, PublicKey};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of the older v0.1 Statement, which cosign still writes for `attest`; it has the same
/// fields, so it is read too. paved writes v1.
pub const STATEMENT_V0_1: &str = "https://in-toto.io/Statement/v0.1";
/// The DSSE payloadType of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto Statement: subjects (artifacts by digest), a predicate type and the predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_V1`] (or [`STATEMENT_V0_1`] when read from an older signer).
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about.
    pub subject: Vec<Subject>,
    /// A URI naming the predicate's schema, e.g. `https://slsa.dev/provenance/v1`.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate, as JSON (absent predicates read as `null`).
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// One artifact: a name and its digests by algorithm (`sha256` → lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name, e.g. an image reference without tag.
    #[serde(default)]
    pub name: String,
    /// Digests by algorithm name.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with one `sha256` digest (`sha256:` prefix allowed and dropped).
    pub fn sha256(name: impl Into<String>, hex: &str) -> Subject {
        let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
        Subject {
            name: name.into(),
            digest: BTreeMap::from([("sha256".to_owned(), hex.to_owned())]),
        }
    }

    /// The `sha256` digest, if there is one.
    pub fn sha256_hex(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

impl Statement {
    /// A v1 statement.
    pub fn new(
        subject: Vec<Subject>,
        predicate_type: impl Into<String>,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            statement_type: STATEMENT_V1.to_owned(),
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// Parse and check a statement: a known `_type`, at least one subject, each with a digest,
    /// `sha256` digests as 64 lowercase hex characters, a predicate type.
    pub fn from_json(json: &[u8], origin: &str) -> Result<Statement, SignError> {
        let bad = |reason: String| SignError::BadStatement {
            origin: origin.into(),
            reason,
        };
        let statement: Statement = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if statement.statement_type != STATEMENT_V1 && statement.statement_type != STATEMENT_V0_1 {
            return Err(bad(format!(
                "`_type` is `{}`, expected `{STATEMENT_V1}`",
                statement.statement_type
            )));
        }
        if statement.subject.is_empty() {
            return Err(bad("`subject` is empty".into()));
        }
        for (i, s) in statement.subject.iter().enumerate() {
            if s.digest.is_empty() {
                return Err(bad(format!("`subject[{i}].digest` is empty")));
            }
            if let Some(hex) = s.sha256_hex()
                && (hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            {
                return Err(bad(format!(
                    "`subject[{i}].digest.sha256` is `{hex}`, not 64 lowercase hex characters"
                )));
            }
        }
        if statement.predicate_type.is_empty() {
            return Err(bad("`predicateType` is empty".into()));
        }
        Ok(statement)
    }

    /// The statement as JSON bytes (the DSSE payload).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serializes")
    }

    /// Sign the statement into a DSSE envelope of payloadType [`IN_TOTO_PAYLOAD_TYPE`].
    pub fn sign(&self, key: &PrivateKey) -> Result<Envelope, SignError> {
        Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &self.to_json(), key)
    }

    /// Verify `envelope` against `trusted` keys as an in-toto envelope, then read its statement.
    /// The statement is parsed only after a trusted signature verified.
    pub fn verify<'k>(
        envelope: &Envelope,
        trusted: &'k [PublicKey],
        origin: &str,
    ) -> Result<(Statement, Verified<'k>), SignError> {
        let verified = envelope.verify(trusted, Some(IN_TOTO_PAYLOAD_TYPE), origin)?;
        let statement = Statement::from_json(&envelope.payload, origin)?;
        Ok((statement, verified))
    }
}
