//! A small reader for the zip archives CI artifacts come in: the central directory (zip64
//! included), stored and deflated members, each read as a stream with its declared size and
//! CRC-32 checked. Member names are only ever data: nothing here creates a path from them.
//!
//! Refused with a reason, never a panic: an archive whose end record, central directory or
//! local headers point outside the file; members whose data overlap (the trick of
//! non-recursive zip bombs); multi-disk archives. Per member: encryption, methods other than
//! stored and deflate, and data that inflates past the size the directory declares.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;

/// Why an archive cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("it is not a zip archive ({0})")]
    NotZip(&'static str),
    #[error("the zip archive is corrupt: {0}")]
    Corrupt(String),
    #[error("it could not be read")]
    Io(#[source] io::Error),
}

/// Why one member cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("it is encrypted")]
    Encrypted,
    #[error("it uses compression method {0}; only stored (0) and deflate (8) are read")]
    Method(u16),
    #[error("it declares {size} bytes uncompressed, more than the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("it is corrupt: {0}")]
    Corrupt(String),
    #[error("it could not be read or written")]
    Io(#[source] io::Error),
}

/// One file in the archive, as its central directory describes it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The name as stored (lossy UTF-8); never used as a path.
    pub name: String,
    /// The declared uncompressed size.
    pub size: u64,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    local_offset: u64,
}

impl Member {
    /// A directory entry.
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/') || self.name.ends_with('\\')
    }

    /// Whether the name climbs out of the archive (`..`), is absolute, or holds a NUL: no
    /// honest artifact uploader writes one.
    pub fn has_unsafe_name(&self) -> bool {
        let name = self.name.replace('\\', "/");
        name.starts_with('/')
            || name.contains('\0')
            || name.as_bytes().get(1) == Some(&b':')
            || name.split('/').any(|part| part == "..")
    }
}

/// An open archive.
#[derive(Debug)]
pub struct Archive {
    file: File,
    /// Where the central directory starts: member data must end before it.
    cd_start: u64,
    members: Vec<Member>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

fn corrupt(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt(what.into())
}

fn read_at(file: &mut File, offset: u64, len: usize) -> Result<Vec<u8>, ArchiveError> {
    file.seek(SeekFrom::Start(offset))
        .map_err(ArchiveError::Io)?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupt("a record runs past the end of the file")
        } else {
            ArchiveError::Io(e)
        }
    })?;
    Ok(buf)
}

impl Archive {
    /// Read the central directory of `file`.
    pub fn open(mut file: File) -> Result<Archive, ArchiveError> {
        let len = file.metadata().map_err(ArchiveError::Io)?.len();
        if len < 22 {
            return Err(ArchiveError::NotZip("too short to hold a zip end record"));
        }
        let tail_len = len.min(22 + 0xFFFF);
        let tail = read_at(
            &mut file,
            len - tail_len,
            usize::try_from(tail_len).unwrap_or(0),
        )?;
        let at = (0..=tail.len() - 22)
            .rev()
            .find(|&i| u32_at(&tail, i) == EOCD_SIG)
            .ok_or(ArchiveError::NotZip("no end-of-central-directory record"))?;
        let eocd_pos = len - tail_len + at as u64;
        let e = &tail[at..];
        if u16_at(e, 4) != 0 || u16_at(e, 6) != 0 {
            return Err(corrupt("it spans several disks"));
        }
        let mut entries = u64::from(u16_at(e, 10));
        let mut cd_size = u64::from(u32_at(e, 12));
        let mut cd_offset = u64::from(u32_at(e, 16));
        let mut cd_end_limit = eocd_pos;
        if at >= 20 && u32_at(&tail, at - 20) == EOCD64_LOCATOR_SIG {
            let record = u64_at(&tail, at - 20 + 8);
            if record.checked_add(56).is_none_or(|end| end > eocd_pos - 20) {
                return Err(corrupt("the zip64 end record lies outside the file"));
            }
            let r = read_at(&mut file, record, 56)?;
            if u32_at(&r, 0) != EOCD64_SIG {
                return Err(corrupt("the zip64 locator points at no zip64 end record"));
            }
            entries = u64_at(&r, 32);
            cd_size = u64_at(&r, 40);
            cd_offset = u64_at(&r, 48);
            cd_end_limit = record;
        }
        cd_offset
            .checked_add(cd_size)
            .filter(|&end| end <= cd_end_limit)
            .ok_or_else(|| corrupt("the central directory lies outside the file"))?;
        // A central directory entry takes at least 46 bytes.
        if entries > cd_size / 46 {
            return Err(corrupt(format!(
                "it declares {entries} members in a {cd_size}-byte central directory"
            )));
        }
        let cd = read_at(
            &mut file,
            cd_offset,
            usize::try_from(cd_size).map_err(|_| corrupt("the central directory is too large"))?,
        )?;
        let mut members = Vec::with_capacity(usize::try_from(entries).unwrap_or(0));
        let mut i = 0usize;
        for _ in 0..entries {
            if i + 46 > cd.len() || u32_at(&cd, i) != CENTRAL_SIG {
                return Err(corrupt("a central directory entry is malformed"));
            }
            let flags = u16_at(&cd, i + 8);
            let method = u16_at(&cd, i + 10);
            let crc = u32_at(&cd, i + 16);
            let mut compressed = u64::from(u32_at(&cd, i + 20));
            let mut size = u64::from(u32_at(&cd, i + 24));
            let name_len = usize::from(u16_at(&cd, i + 28));
            let extra_len = usize::from(u16_at(&cd, i + 30));
            let comment_len = usize::from(u16_at(&cd, i + 32));
            let mut local_offset = u64::from(u32_at(&cd, i + 42));
            let end = i + 46 + name_len + extra_len + comment_len;
            if end > cd.len() {
                return Err(corrupt("a central directory entry runs past the directory"));
            }
            let name = String::from_utf8_lossy(&cd[i + 46..i + 46 + name_len]).into_owned();
            // Zip64: the extra field holds, in this order, whichever of the three values are
            // saturated in the fixed fields.
            let mut extra = &cd[i + 46 + name_len..i + 46 + name_len + extra_len];
            while extra.len() >= 4 {
                let id = u16_at(extra, 0);
                let n = usize::from(u16_at(extra, 2));
                let body = extra.get(4..4 + n).unwrap_or(&[]);
                if id == 1 {
                    let mut fields = body.chunks_exact(8).map(|c| u64_at(c, 0));
                    for value in [&mut size, &mut compressed, &mut local_offset] {
                        if *value == u64::from(u32::MAX)
                            && let Some(v) = fields.next()
                        {
                            *value = v;
                        }
                    }
                }
                extra = extra.get(4 + n..).unwrap_or(&[]);
            }
            members.push(Member {
                name,
                size,
                flags,
                method,
                crc,
                compressed,
                local_offset,
            });
            i = end;
        }
        // Member data may not overlap: overlapping members are how a small zip claims
        // gigabytes without recursion.
        let mut spans: Vec<(u64, u64)> = members
            .iter()
            .map(|m| {
                (
                    m.local_offset,
                    m.local_offset.saturating_add(30 + m.compressed),
                )
            })
            .collect();
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(corrupt(
                "members overlap each other (a zip bomb, or a broken archive)",
            ));
        }
        if spans.last().is_some_and(|s| s.1 > cd_offset) {
            return Err(corrupt("a member's data runs into the central directory"));
        }
        Ok(Archive {
            file,
            cd_start: cd_offset,
            members,
        })
    }

    /// The members, in directory order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Decompress member `index` into `out`, refusing it before reading when its declared size
    /// is over `limit`, and stopping as soon as it inflates past its declared size. Returns the
    /// bytes written.
    pub fn extract(
        &mut self,
        index: usize,
        out: &mut impl Write,
        limit: u64,
    ) -> Result<u64, MemberError> {
        let m = self.members[index].clone();
        if m.flags & 1 != 0 {
            return Err(MemberError::Encrypted);
        }
        if m.method != 0 && m.method != 8 {
            return Err(MemberError::Method(m.method));
        }
        if m.size > limit {
            return Err(MemberError::TooLarge {
                size: m.size,
                limit,
            });
        }
        let local = read_at(&mut self.file, m.local_offset, 30).map_err(|e| match e {
            ArchiveError::Io(e) => MemberError::Io(e),
            other => MemberError::Corrupt(other.to_string()),
        })?;
        if u32_at(&local, 0) != LOCAL_SIG {
            return Err(MemberError::Corrupt("its local header is missing".into()));
        }
        let data =
            m.local_offset + 30 + u64::from(u16_at(&local, 26)) + u64::from(u16_at(&local, 28));
        if data.saturating_add(m.compressed) > self.cd_start {
            return Err(MemberError::Corrupt(
                "its data runs into the central directory".into(),
            ));
        }
        self.file
            .seek(SeekFrom::Start(data))
            .map_err(MemberError::Io)?;
        let raw = (&mut self.file).take(m.compressed);
        let mut reader: Box<dyn Read + '_> = if m.method == 8 {
            Box::new(flate2::read::DeflateDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let mut crc = flate2::Crc::new();
        let mut written = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::InvalidInput
                        || e.kind() == io::ErrorKind::InvalidData
                        || e.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    return Err(MemberError::Corrupt(format!(
                        "its data does not inflate ({e})"
                    )));
                }
                Err(e) => return Err(MemberError::Io(e)),
            };
            written += n as u64;
            if written > m.size {
                return Err(MemberError::Corrupt(format!(
                    "it inflates past the {} bytes it declares (a zip bomb, or a broken archive)",
                    m.size
                )));
            }
            crc.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(MemberError::Io)?;
        }
        if written != m.size {
            return Err(MemberError::Corrupt(format!(
                "it holds {written} bytes, not the {} it declares",
                m.size
            )));
        }
        if crc.sum() != m.crc {
            return Err(MemberError::Corrupt("its CRC-32 does not match".into()));
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le16(v: &mut Vec<u8>, x: u16) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn le32(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn le64(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    /// A one-member zip64 archive as APPNOTE 4.3.14-4.3.16 and 4.5.3 lay it out: every size
    /// and offset saturated in the fixed fields and given in the zip64 extra field and records.
    fn zip64(name: &str, data: &[u8]) -> Vec<u8> {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (crc, len) = (crc.sum(), data.len() as u64);
        let mut z = Vec::new();
        le32(&mut z, LOCAL_SIG);
        for x in [45, 0, 0, 0, 0] {
            le16(&mut z, x);
        }
        le32(&mut z, crc);
        le32(&mut z, u32::MAX);
        le32(&mut z, u32::MAX);
        le16(&mut z, name.len() as u16);
        le16(&mut z, 20);
        z.extend_from_slice(name.as_bytes());
        le16(&mut z, 1);
        le16(&mut z, 16);
        le64(&mut z, len);
        le64(&mut z, len);
        z.extend_from_slice(data);
        let cd_offset = z.len() as u64;
        le32(&mut z, CENTRAL_SIG);
        for x in [45, 45, 0, 0, 0, 0] {
            le16(&mut z, x);
        }
        le32(&mut z, crc);
        le32(&mut z, u32::MAX);
        le32(&mut z, u32::MAX);
        le16(&mut z, name.len() as u16);
        le16(&mut z, 28);
        for x in [0, 0, 0] {
            le16(&mut z, x);
        }
        le32(&mut z, 0);
        le32(&mut z, u32::MAX);
        z.extend_from_slice(name.as_bytes());
        le16(&mut z, 1);
        le16(&mut z, 24);
        le64(&mut z, len);
        le64(&mut z, len);
        le64(&mut z, 0);
        let cd_size = z.len() as u64 - cd_offset;
        let record = z.len() as u64;
        le32(&mut z, EOCD64_SIG);
        le64(&mut z, 44);
        le16(&mut z, 45);
        le16(&mut z, 45);
        le32(&mut z, 0);
        le32(&mut z, 0);
        le64(&mut z, 1);
        le64(&mut z, 1);
        le64(&mut z, cd_size);
        le64(&mut z, cd_offset);
        le32(&mut z, EOCD64_LOCATOR_SIG);
        le32(&mut z, 0);
        le64(&mut z, record);
        le32(&mut z, 1);
        le32(&mut z, EOCD_SIG);
        for x in [0, 0, u16::MAX, u16::MAX] {
            le16(&mut z, x);
        }
        le32(&mut z, u32::MAX);
        le32(&mut z, u32::MAX);
        le16(&mut z, 0);
        z
    }

    fn open(bytes: &[u8]) -> Result<Archive, ArchiveError> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        Archive::open(file)
    }

    #[test]
    fn a_zip64_archive_is_read_from_its_zip64_records() {
        let data = b"<testsuite name=\"s\"><testcase name=\"t\"/></testsuite>";
        let mut archive = open(&zip64("r.xml", data)).unwrap();
        assert_eq!(archive.members().len(), 1);
        assert_eq!(archive.members()[0].name, "r.xml");
        assert_eq!(archive.members()[0].size, data.len() as u64);
        let mut out = Vec::new();
        archive.extract(0, &mut out, 1 << 20).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_zip64_member_declaring_exabytes_is_refused_before_reading() {
        let mut z = zip64("r.xml", b"<testsuite/>");
        // The uncompressed size in the central directory's zip64 extra field.
        let at = z.len() - 22 - 20 - 56 - 24;
        z[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
        let mut archive = open(&z).unwrap();
        let err = archive.extract(0, &mut Vec::new(), 1 << 20).unwrap_err();
        assert!(matches!(err, MemberError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn garbage_and_lies_are_errors_not_panics() {
        for bytes in [
            &b""[..],
            b"PK\x05\x06",
            b"not a zip at all, but long enough to hold an end record",
            // An end record claiming a directory past the end of the file.
            b"PK\x05\x06\0\0\0\0\x01\0\x01\0\xff\xff\0\0\xff\xff\0\0\0\0",
        ] {
            assert!(open(bytes).is_err(), "{bytes:?}");
        }
        let z = zip64("r.xml", b"<testsuite/>");
        for cut in [10, z.len() / 2, z.len() - 30] {
            let _ = open(&z[..cut]).map(|mut a| {
                let _ = a.extract(0, &mut Vec::new(), 1 << 20);
            });
        }
        // Every byte of the archive set to 0xFF and to 0x00 in turn: an error or a read, never
        // a panic or an unbounded allocation.
        for at in 0..z.len() {
            for value in [0xFF, 0x00] {
                let mut bad = z.clone();
                bad[at] = value;
                if let Ok(mut a) = open(&bad) {
                    for i in 0..a.members().len() {
                        let _ = a.extract(i, &mut Vec::new(), 1 << 20);
                    }
                }
            }
        }
    }

    #[test]
    fn unsafe_names() {
        let m = |name: &str| Member {
            name: name.into(),
            size: 0,
            flags: 0,
            method: 0,
            crc: 0,
            compressed: 0,
            local_offset: 0,
        };
        for bad in [
            "../x.xml",
            "a/../../x.xml",
            "/etc/x.xml",
            "\\x.xml",
            "a\\..\\x.xml",
            "C:/x.xml",
            "a\0.xml",
        ] {
            assert!(m(bad).has_unsafe_name(), "{bad}");
        }
        for good in ["x.xml", "reports/x.xml", "a..b.xml", "..x/y.xml"] {
            assert!(!m(good).has_unsafe_name(), "{good}");
        }
    }
}
