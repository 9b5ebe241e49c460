//! One test case's attempts as the report spells them (a failure, reruns, flaky failures), and
//! the text kept of each: its time and the first line of its message.

use std::borrow::Cow;

use crate::escape::unescape;
use crate::model::{Attempt, Outcome};

/// The longest failure message kept, in characters.
const MESSAGE_LIMIT: usize = 300;

/// One `<testcase>` being read, by [`crate::fast`] or by quick-xml.
#[derive(Default)]
pub(crate) struct Case<'a> {
    /// Unescaped and normalised UTF-8; borrowed from the event when no work was needed.
    pub(crate) name: Cow<'a, [u8]>,
    pub(crate) classname: Cow<'a, [u8]>,
    pub(crate) file: Option<Cow<'a, str>>,
    /// The `time` attribute as written, read only when needed (most sinks never need it).
    pub(crate) time: Option<Cow<'a, [u8]>>,
    /// The `<failure>`/`<error>` (or `<skipped>`) of the last attempt.
    pub(crate) primary: Option<Attempt>,
    /// `<flakyFailure>`/`<flakyError>`: failed attempts before a final pass.
    pub(crate) flaky: Vec<Attempt>,
    /// `<rerunFailure>`/`<rerunError>`: failed attempts after the first failure.
    pub(crate) reruns: Vec<Attempt>,
}

impl Case<'_> {
    /// One attempt, passed: the common case, handed on without building a
    /// [`TestResult`](crate::TestResult).
    pub(crate) fn is_plain_pass(&self) -> bool {
        self.primary.is_none() && self.flaky.is_empty()
    }

    /// The attempts in order, taken out of the case.
    pub(crate) fn take_attempts(&mut self) -> Vec<Attempt> {
        let time = self.time.as_deref().and_then(parse_time_bytes);
        match self.primary.take() {
            Some(mut first) => {
                if first.time.is_none() && self.reruns.is_empty() {
                    first.time = time;
                }
                let mut v = Vec::with_capacity(1 + self.reruns.len());
                v.push(first);
                v.append(&mut self.reruns);
                v
            }
            None => {
                let mut v = std::mem::take(&mut self.flaky);
                v.push(Attempt {
                    outcome: Outcome::Passed,
                    message: None,
                    time,
                });
                v
            }
        }
    }
}

/// The `time` attribute as written, in seconds (see [`parse_time`]).
pub(crate) fn parse_time_bytes(raw: &[u8]) -> Option<f64> {
    parse_time(&String::from_utf8_lossy(raw))
}

/// `1,234.5` → 1234.5 (Surefire formats times with grouping separators).
pub(crate) fn parse_time(s: &str) -> Option<f64> {
    let t = s.trim().replace(',', "");
    t.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0)
}

pub(crate) fn first_line(s: &str) -> Option<String> {
    let line = s.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(if line.chars().count() > MESSAGE_LIMIT {
        let mut t: String = line.chars().take(MESSAGE_LIMIT).collect();
        t.push('…');
        t
    } else {
        line.to_owned()
    })
}

pub(crate) fn body_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim_start();
    let text = text.strip_prefix("<![CDATA[").unwrap_or(text);
    let text = text.split("]]>").next().unwrap_or(text);
    // Nested elements (Surefire's <stackTrace>) are left out of the message.
    let text = if text.trim_start().starts_with('<') {
        text.split_once('>').map_or("", |(_, rest)| rest)
    } else {
        text
    };
    first_line(&unescape(text.split('<').next().unwrap_or(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1,234.5"), Some(1234.5));
        assert_eq!(parse_time("NaN"), None);
        assert_eq!(parse_time(""), None);
    }
}
