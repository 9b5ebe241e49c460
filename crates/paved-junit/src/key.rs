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

/// The key of each [`CaseRef`](crate::CaseRef) of one variant, reusing the hash of the suite and
/// the classname while they stay the same (a suite's test cases mostly share both). The ingest
/// fast path and [`Tally`](crate::Tally) both key their cases with it.
#[derive(Debug, Clone)]
pub struct CaseKeyer {
    variant: String,
    suite: Option<(Vec<u8>, KeyHasher)>,
    class: Option<(Vec<u8>, KeyHasher)>,
}

impl CaseKeyer {
    /// Keys for test cases of `variant`.
    pub fn new(variant: &str) -> CaseKeyer {
        CaseKeyer {
            variant: variant.to_owned(),
            suite: None,
            class: None,
        }
    }

    /// The variant the keys are for.
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// [`test_key`] of `case`'s id under this variant, as a `u64`.
    pub fn key(&mut self, case: &crate::CaseRef<'_>) -> u64 {
        let mut h = match (&self.suite, &self.class) {
            (Some((suite, _)), Some((class, h)))
                if suite == case.suite && class == case.classname =>
            {
                *h
            }
            _ => {
                let suite = match &self.suite {
                    Some((name, h)) if name == case.suite => *h,
                    _ => {
                        let mut h = KeyHasher::new();
                        h.part(case.suite);
                        self.suite = Some((case.suite.to_vec(), h));
                        h
                    }
                };
                let mut h = suite;
                h.part(case.classname);
                self.class = Some((case.classname.to_vec(), h));
                h
            }
        };
        h.part(case.name);
        h.part(self.variant.as_bytes());
        h.finish().cast_unsigned()
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
