//! Decoding text from a report: the five XML escapes and character references, never entities
//! (see the crate's `# Safety`), and the id parts the parser hands on as bytes.

use std::borrow::Cow;

use crate::fast::is_plain_id;
use crate::key::normalize;

/// Decode the five XML escapes and character references; anything else (an entity this parser
/// will not expand) is kept as written.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // Look for the `;` among the next bytes: `;` is ASCII, so where it is found is a char
        // boundary, while a cut at a fixed length could fall inside `€` and panic.
        let Some(end) = tail.as_bytes()[..tail.len().min(12)]
            .iter()
            .position(|&b| b == b';')
        else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..end];
        let decoded = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An id part of a [`CaseRef`](crate::CaseRef) as a string (it is UTF-8 already; nothing is
/// replaced).
pub fn text(part: &[u8]) -> String {
    String::from_utf8_lossy(part).into_owned()
}

/// An attribute that is part of a test id: unescaped and normalised, as UTF-8 bytes (see
/// [`CaseRef`](crate::CaseRef)); borrowed when neither changes anything (the common case).
pub(crate) fn id_text<'a>(raw: &Cow<'a, [u8]>) -> Cow<'a, [u8]> {
    match *raw {
        // Plain ASCII is UTF-8 as it is: no need to validate it again.
        Cow::Borrowed(b) if is_plain_id(b) => Cow::Borrowed(b),
        _ => Cow::Owned(normalize(&unescape(&String::from_utf8_lossy(raw))).into_bytes()),
    }
}

/// Any other attribute: unescaped, borrowed when there is nothing to unescape.
pub(crate) fn plain_text<'a>(raw: &Cow<'a, [u8]>) -> Cow<'a, str> {
    if let Cow::Borrowed(b) = *raw
        && memchr::memchr(b'&', b).is_none()
        && let Ok(s) = std::str::from_utf8(b)
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(unescape(&String::from_utf8_lossy(raw)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_entity_cut_inside_a_multibyte_character_is_kept_as_text() {
        let euros = "&quot\u{20ac}\u{20ac}\u{20ac}";
        assert_eq!(super::unescape(euros), euros);
        let long = "&\u{20ac}\u{20ac}\u{20ac}\u{20ac};";
        assert_eq!(super::unescape(long), long);
        assert_eq!(super::unescape("a&amp;\u{20ac}&lt;"), "a&\u{20ac}<");
    }

    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp;&#10;&#x41;&lol9;"),
            "a <b> &\nA&lol9;"
        );
    }
}
