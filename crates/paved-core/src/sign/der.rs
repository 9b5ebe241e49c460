//! PEM armour and the few DER structures a key file holds (SPKI, PKCS#8, SEC1), read strictly.
//!
//! Only what keys need: definite lengths, single-byte tags, no indefinite forms. Anything else is
//! refused with a reason the caller puts into its error.

use base64::Engine as _;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block.
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
    /// The block had RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): a legacy encrypted key.
    pub headers: bool,
}

/// Every PEM block in `text`, in order. Text outside blocks (comments, `openssl` headers) is
/// ignored, as OpenSSL does.
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        let mut headers = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.starts_with("-----") {
                return Err(format!(
                    "the `{label}` block ends with `{line}`, not `{end}`"
                ));
            }
            if line.contains(':') {
                headers = true;
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("the `{label}` block has no `{end}` line"));
        }
        let der = if headers {
            Vec::new()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| format!("the `{label}` block is not valid base64 ({e})"))?
        };
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
            headers,
        });
    }
    Ok(blocks)
}

/// `label` with `der` as PEM, 64 columns.
pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const CONTEXT_0: u8 = 0xa0;
pub(crate) const CONTEXT_1: u8 = 0xa1;

/// id-Ed25519, 1.3.101.112.
pub(crate) const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// id-ecPublicKey, 1.2.840.10045.2.1.
pub(crate) const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 (secp256r1, NIST P-256), 1.2.840.10045.3.1.7.
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A reader over DER bytes.
pub(crate) struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element's tag and contents.
    pub fn any(&mut self) -> Result<(u8, &'a [u8]), String> {
        let (&tag, rest) = self.rest.split_first().ok_or("the DER ends early")?;
        let (&first, mut rest) = rest.split_first().ok_or("the DER ends early")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("the DER has a length it cannot read".into());
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err("the DER is cut short".into());
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok((tag, value))
    }

    /// The next element, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        match self.any()? {
            (t, v) if t == tag => Ok(v),
            (t, _) => Err(format!(
                "expected {what} (tag 0x{tag:02x}), found tag 0x{t:02x}"
            )),
        }
    }

    /// Fail when bytes are left over.
    pub fn end(&self, what: &str) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} unexpected bytes after {what}", self.rest.len()))
        }
    }
}

/// An AlgorithmIdentifier's OID and (for EC keys) the curve OID.
pub(crate) fn algorithm_identifier(der: &[u8]) -> Result<(&[u8], Option<&[u8]>), String> {
    let mut alg = Der::new(der);
    let oid = alg.expect(OID, "an algorithm OID")?;
    let param = match alg.peek_tag() {
        Some(OID) => Some(alg.expect(OID, "a curve OID")?),
        Some(0x05) => {
            alg.any()?; // NULL parameters
            None
        }
        _ => None,
    };
    alg.end("the algorithm identifier")?;
    Ok((oid, param))
}

/// DER of a whole element: tag, length and `contents`.
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// Dotted form of a DER OID body, for messages.
pub(crate) fn oid_text(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < 8 {
                let first = (acc / 40).min(2);
                parts.push(first);
                parts.push(acc - first * 40);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_text_reads_the_known_oids() {
        assert_eq!(oid_text(OID_ED25519), "1.3.101.112");
        assert_eq!(oid_text(OID_EC_PUBLIC_KEY), "1.2.840.10045.2.1");
        assert_eq!(oid_text(OID_P256), "1.2.840.10045.3.1.7");
    }

    #[test]
    fn encode_and_read_long_lengths() {
        let body = vec![7u8; 300];
        let der = encode(OCTET_STRING, &body);
        assert_eq!(&der[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Der::new(&der);
        assert_eq!(r.expect(OCTET_STRING, "x").unwrap(), &body[..]);
        r.end("x").unwrap();
    }

    #[test]
    fn cut_der_is_an_error_not_a_panic() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x00],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
        ] {
            assert!(Der::new(bad).any().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pem_round_trip_and_errors() {
        let pem = to_pem("PUBLIC KEY", &[1, 2, 3]);
        let blocks = pem_blocks(&format!("comment\n{pem}")).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "PUBLIC KEY");
        assert_eq!(blocks[0].der, vec![1, 2, 3]);
        assert!(
            pem_blocks("-----BEGIN X-----\nAQID\n")
                .err()
                .unwrap()
                .contains("no `-----END X-----`")
        );
        assert!(
            pem_blocks("-----BEGIN X-----\n!!\n-----END X-----\n")
                .err()
                .unwrap()
                .contains("base64")
        );
    }
}
