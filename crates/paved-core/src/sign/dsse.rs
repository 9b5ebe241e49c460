//! DSSE envelopes (Dead Simple Signing Envelope, v1): the pre-authentication encoding, signing,
//! and verification against a set of trusted keys.

use serde::{Deserialize, Serialize};

use super::error::SignError;
use super::key::{PrivateKey, PublicKey};
use super::{b64_decode, b64_encode};

/// The DSSE pre-authentication encoding that signatures cover:
/// `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths as decimal byte counts.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope, decoded: JSON `{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`
/// with `payload` and `sig` in base64 (standard or URL-safe, padded or not, when read; standard
/// and padded when written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEnvelope", into = "RawEnvelope")]
pub struct Envelope {
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// What the payload is, e.g. `application/vnd.in-toto+json`; covered by the signatures.
    pub payload_type: String,
    /// The signatures, in envelope order.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// An unauthenticated hint naming the key. paved writes the key's [`super::KeyId`]; when
    /// verifying, a keyid that names a trusted key narrows the check to that key.
    pub keyid: Option<String>,
    /// The signature bytes over [`pae`].
    pub sig: Vec<u8>,
}

/// The outcome of a successful [`Envelope::verify`] (only `verify` makes one, so `keys` is
/// never empty).
#[derive(Debug)]
#[non_exhaustive]
pub struct Verified<'k> {
    /// The distinct trusted keys whose signatures verified, in the order of `trusted`; never
    /// empty. Compare its length with a threshold when a policy needs several signers.
    pub keys: Vec<&'k PublicKey>,
}

impl<'k> Verified<'k> {
    /// The first trusted key that verified.
    pub fn key(&self) -> &'k PublicKey {
        self.keys[0]
    }
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename = "DSSE envelope", rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Serialize, Deserialize, Clone)]
struct RawSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    sig: String,
}

impl TryFrom<RawEnvelope> for Envelope {
    type Error = String;

    fn try_from(raw: RawEnvelope) -> Result<Envelope, String> {
        let payload =
            b64_decode(&raw.payload).map_err(|e| format!("`payload` is not base64: {e}"))?;
        let signatures = raw
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let sig = b64_decode(&s.sig)
                    .map_err(|e| format!("`signatures[{i}].sig` is not base64: {e}"))?;
                Ok(EnvelopeSignature {
                    keyid: s.keyid.filter(|k| !k.is_empty()),
                    sig,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Envelope {
            payload,
            payload_type: raw.payload_type,
            signatures,
        })
    }
}

impl From<Envelope> for RawEnvelope {
    fn from(e: Envelope) -> RawEnvelope {
        RawEnvelope {
            payload: b64_encode(&e.payload),
            payload_type: e.payload_type,
            signatures: e
                .signatures
                .into_iter()
                .map(|s| RawSignature {
                    keyid: s.keyid,
                    sig: b64_encode(&s.sig),
                })
                .collect(),
        }
    }
}

impl Envelope {
    /// A new envelope over `payload`, signed by `key` (the signature's keyid is the key's id).
    pub fn sign(
        payload_type: &str,
        payload: &[u8],
        key: &PrivateKey,
    ) -> Result<Envelope, SignError> {
        let mut envelope = Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_owned(),
            signatures: Vec::new(),
        };
        envelope.add_signature(key)?;
        Ok(envelope)
    }

    /// Add `key`'s signature (for a second signer).
    pub fn add_signature(&mut self, key: &PrivateKey) -> Result<(), SignError> {
        let sig = key.sign(&pae(&self.payload_type, &self.payload))?;
        self.signatures.push(EnvelopeSignature {
            keyid: Some(key.key_id().as_str().to_owned()),
            sig,
        });
        Ok(())
    }

    /// Parse envelope JSON; `origin` names it in errors (a file, or an image reference).
    pub fn from_json(json: &[u8], origin: &str) -> Result<Envelope, SignError> {
        let bad = |reason: String| SignError::BadEnvelope {
            origin: origin.into(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if !value.is_object() {
            return Err(bad("it is not a JSON object".into()));
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// The envelope as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// Check the envelope against `trusted` keys, and its payload type against `payload_type`
    /// when given. Succeeds when at least one signature verifies with a trusted key; a
    /// signature whose keyid names a trusted key is checked against that key only (DSSE allows a
    /// verifier to narrow by keyid; it never widens trust). Fails with every signature's reason.
    pub fn verify<'k>(
        &self,
        trusted: &'k [PublicKey],
        payload_type: Option<&str>,
        origin: &str,
    ) -> Result<Verified<'k>, SignError> {
        if let Some(expected) = payload_type
            && self.payload_type != expected
        {
            return Err(SignError::PayloadType {
                origin: origin.into(),
                expected: expected.into(),
                found: self.payload_type.clone(),
            });
        }
        let not_verified = |reason: String| SignError::NotVerified {
            origin: origin.into(),
            reason,
        };
        if self.signatures.is_empty() {
            return Err(not_verified("the envelope has no signatures".into()));
        }
        if trusted.is_empty() {
            return Err(not_verified("no trusted keys were given".into()));
        }
        let message = pae(&self.payload_type, &self.payload);
        let mut keys: Vec<&'k PublicKey> = Vec::new();
        let mut reasons = Vec::new();
        for (i, s) in self.signatures.iter().enumerate() {
            let named: Vec<&PublicKey> = match &s.keyid {
                Some(id) => trusted
                    .iter()
                    .filter(|k| k.key_id().as_str() == id)
                    .collect(),
                None => Vec::new(),
            };
            let (candidates, narrowed) = if named.is_empty() {
                (trusted.iter().collect::<Vec<_>>(), false)
            } else {
                (named, true)
            };
            match candidates.into_iter().find(|k| k.verify(&message, &s.sig)) {
                Some(k) => {
                    if !keys.iter().any(|seen| seen.key_id() == k.key_id()) {
                        keys.push(k);
                    }
                }
                None => {
                    let label = match &s.keyid {
                        Some(id) => format!("signature {} (keyid `{id}`)", i + 1),
                        None => format!("signature {}", i + 1),
                    };
                    reasons.push(if narrowed {
                        format!("{label} does not verify with the trusted key it names")
                    } else {
                        format!(
                            "{label} does not verify with any of the {} trusted keys",
                            trusted.len()
                        )
                    });
                }
            }
        }
        if keys.is_empty() {
            return Err(not_verified(reasons.join("; ")));
        }
        // Keep the order of `trusted`, so the result does not depend on signature order.
        keys.sort_by_key(|k| trusted.iter().position(|t| t.key_id() == k.key_id()));
        Ok(Verified { keys })
    }
}
