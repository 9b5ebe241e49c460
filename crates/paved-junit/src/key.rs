//! Test identity: how the parts of a [`TestId`] are normalised, and the stable 64-bit key of an
//! id that paved-quarantine's store is keyed by.
//!
//! The key is part of the store format: changing [`test_key`] (or [`KeyHasher`]) needs a
//! migration of every stored history.

use crate::model::TestId;

/// Trim and collapse internal whitespace runs to one space.
pub fn normalize(part: &str) -> String {
    if is_normal(part) {
        return part.to_owned();
    }
    part.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `normalize` would return `part` unchanged (checked without allocating; ASCII only, as
/// other whitespace is left to `split_whitespace`).
fn is_normal(part: &str) -> bool {
    // One pass: any byte at or below a space other than a lone inner space, or any non-ASCII
    // byte, sends the text to `normalize` (which is then exact about what to change).
    let b = part.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut space = false;
    for &c in b {
        if c <= b' ' {
            if c != b' ' || space {
                return false;
            }
            space = true;
        } else if c >= 0x80 {
            return false;
        } else {
            space = false;
        }
    }
    true
}

/// The stable key of a test identity: a 64-bit hash of (suite, classname, name, variant),
/// stored as a signed integer for SQL. It is part of the store format: changing it needs a
/// migration. Eight bytes per step with a multiply-xorshift mix and a murmur3 finaliser per
/// part (a byte-at-a-time hash was a fifth of the ingest time on large reports).
pub fn test_key(id: &TestId) -> i64 {
    key_of([&id.suite, &id.classname, &id.name, &id.variant])
}

/// [`test_key`] of the parts (suite, classname, name, variant), already normalised.
fn key_of(parts: [&str; 4]) -> i64 {
    let mut h = KeyHasher::new();
    for part in parts {
        h.part(part.as_bytes());
    }
    h.finish()
}

/// [`test_key`] a part at a time, so that the state after a suite's name can be kept and
/// reused for each of its test cases (the ingest fast path hashes the parts of a
/// [`CaseRef`](crate::CaseRef) as the parser hands them on).
///
/// Feeding the four parts (suite, classname, name, variant) to [`KeyHasher::part`] in order and
/// calling [`KeyHasher::finish`] gives [`test_key`] of that id.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher(u64);

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher::new()
    }
}

impl KeyHasher {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    /// The state before any part.
    pub fn new() -> KeyHasher {
        KeyHasher(0x7061_7665_642d_7174)
    }

    /// Add the next part of the id (already normalised).
    pub fn part(&mut self, bytes: &[u8]) {
        fn fmix(mut h: u64) -> u64 {
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
            h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
            h ^ (h >> 33)
        }
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h ^ v).wrapping_mul(Self::K);
            h ^= h >> 32;
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(Self::K);
        // The length separates parts: ("ab", "c") and ("a", "bc") differ.
        self.0 = fmix(h ^ (bytes.len() as u64));
    }

    /// The key of the parts added so far.
    pub fn finish(self) -> i64 {
        self.0.cast_signed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_normalised() {
        assert_eq!(normalize("  a   b\tc "), "a b c");
        assert_eq!(normalize("plain"), "plain");
    }
}
