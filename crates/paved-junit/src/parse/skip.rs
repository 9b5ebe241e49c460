//! Skipping what the parser does not read: small subtrees event by event, captured output and
//! failure bodies by scanning the raw bytes for their end tag.

use std::io::BufRead;
use std::path::Path;

use quick_xml::events::Event;

use super::{Parser, bad};

/// How much of a failure body is looked at for a message when there is no `message` attribute.
pub(super) const CAPTURE_LIMIT: usize = 4096;

impl<R: BufRead> Parser<'_, R> {
    /// Skip an element's subtree event by event (small elements such as `<properties>`).
    pub(super) fn skip_subtree(&mut self, name: &[u8]) -> paved_core::Result<()> {
        let mut buf = std::mem::take(&mut self.subtree_buf);
        let result = self.skip_subtree_with(name, &mut buf);
        self.subtree_buf = buf;
        result
    }

    fn skip_subtree_with(&mut self, name: &[u8], buf: &mut Vec<u8>) -> paved_core::Result<()> {
        let mut depth = 1usize;
        loop {
            buf.clear();
            let event = match self.reader.read_event_into(buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(&e)),
            };
            match event {
                Event::Start(e) => {
                    let child = e.local_name().as_ref().to_vec();
                    if matches!(child.as_slice(), b"system-out" | b"system-err") {
                        self.skip_raw(&child, None)?;
                    } else {
                        depth += 1;
                    }
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Event::Eof => {
                    return Err(self.truncated(&String::from_utf8_lossy(name)));
                }
                _ => {}
            }
        }
    }

    /// Skip the body of `<name>` up to and including `</name>` by scanning raw bytes, without
    /// building events: a gigabyte of output costs one read buffer. With `capture`, keep the
    /// first [`CAPTURE_LIMIT`] bytes of the body.
    pub(super) fn skip_raw(
        &mut self,
        name: &[u8],
        mut capture: Option<&mut Vec<u8>>,
    ) -> paved_core::Result<()> {
        // One searcher per element name, built once (output elements are skipped by the
        // hundred thousand in a large report).
        let at = match self.finders.iter().position(|(n, _)| n.as_slice() == name) {
            Some(i) => i,
            None => {
                let mut needle = Vec::with_capacity(name.len() + 2);
                needle.extend_from_slice(b"</");
                needle.extend_from_slice(name);
                let finder = memchr::memmem::Finder::new(&needle).into_owned();
                self.finders.push((name.to_vec(), finder));
                self.finders.len() - 1
            }
        };
        let Parser {
            reader,
            finders,
            path,
            ..
        } = self;
        let path: &Path = path;
        let finder = &finders[at].1;
        let needle = finder.needle();
        let keep = needle.len() - 1;
        let mut carry: Vec<u8> = Vec::new();
        let mut stream = reader.stream();
        loop {
            let chunk = stream
                .fill_buf()
                .map_err(|e| bad(path, format!("could not read it: {e}")))?;
            if chunk.is_empty() {
                let name = String::from_utf8_lossy(name).into_owned();
                return Err(bad(
                    path,
                    format!(
                        "the XML ends inside `<{name}>` (truncated file? the test run may have been killed while writing it)"
                    ),
                ));
            }
            // A needle split across two reads: look at the seam first.
            let mut found_at = None;
            if !carry.is_empty() {
                let take = keep.min(chunk.len());
                let mut seam = carry.clone();
                seam.extend_from_slice(&chunk[..take]);
                if let Some(p) = finder.find(&seam) {
                    found_at = Some(p + needle.len() - carry.len());
                }
            }
            let found_at = found_at.or_else(|| {
                finder.find(chunk).map(|p| {
                    if let Some(c) = capture.as_deref_mut() {
                        let room = CAPTURE_LIMIT.saturating_sub(c.len());
                        c.extend_from_slice(&chunk[..p.min(room)]);
                    }
                    p + needle.len()
                })
            });
            match found_at {
                Some(end) => {
                    stream.consume(end);
                    // The rest of the end tag: optional whitespace, then `>`.
                    let mut closed = false;
                    let mut is_end = true;
                    while !closed {
                        let rest = stream
                            .fill_buf()
                            .map_err(|e| bad(path, format!("could not read it: {e}")))?;
                        if rest.is_empty() {
                            let name = String::from_utf8_lossy(name).into_owned();
                            return Err(bad(
                                path,
                                format!("the XML ends inside `</{name}>` (truncated file?)"),
                            ));
                        }
                        let mut used = 0;
                        for &b in rest {
                            used += 1;
                            if b == b'>' {
                                closed = true;
                                break;
                            }
                            if !b.is_ascii_whitespace() {
                                is_end = false;
                                closed = true;
                                break;
                            }
                        }
                        stream.consume(used);
                    }
                    if is_end {
                        return Ok(());
                    }
                    carry.clear();
                }
                None => {
                    if let Some(c) = capture.as_deref_mut() {
                        let room = CAPTURE_LIMIT.saturating_sub(c.len());
                        c.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    let len = chunk.len();
                    carry.extend_from_slice(chunk);
                    if carry.len() > keep {
                        carry.drain(..carry.len() - keep);
                    }
                    stream.consume(len);
                }
            }
        }
    }
}
