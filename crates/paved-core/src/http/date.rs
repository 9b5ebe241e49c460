//! The dates HTTP and APIs use: `Retry-After` and IMF-fixdate, RFC 3339, and UTC formatting.
//!
//! The calendar arithmetic is jiff's; this module only says which forms paved accepts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimeParser;

/// Parse `Retry-After`: delay seconds, or an HTTP date (relative to `now`).
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Parse an HTTP date in the preferred IMF-fixdate form, `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// The day name is not checked against the date, and only `GMT` is accepted as the zone, as
/// RFC 9110 asks.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let (_day_name, rest) = value.trim().split_once(", ")?;
    if rest.strip_suffix("GMT")?.ends_with(char::is_whitespace) {
        let at = DateTimeParser::new().parse_timestamp(rest).ok()?;
        return Some(SystemTime::from(at)).filter(|t| *t >= UNIX_EPOCH);
    }
    None
}

/// Parse an RFC 3339 / ISO 8601 timestamp as APIs send them: `2024-05-01T12:00:00Z`,
/// `2024-05-01T14:00:00.123+02:00`. Fractions of a second are dropped. `None` for anything
/// without a time and an offset, and for times before 1970.
pub fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let at: Timestamp = value.trim().parse().ok()?;
    let secs = u64::try_from(at.as_second()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// `t` as RFC 3339 UTC in whole seconds, e.g. `2024-05-01T12:00:00Z`. Times before 1970 show as
/// the epoch.
pub fn format_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_second(secs)
        .unwrap_or(Timestamp::MAX)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: Option<SystemTime>) -> Option<u64> {
        t.map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn rfc3339() {
        let at = |s: &str| secs(parse_rfc3339(s));
        assert_eq!(at("1994-11-06T08:49:37Z"), Some(784_111_777));
        assert_eq!(at(" 1994-11-06T08:49:37Z\n"), Some(784_111_777));
        assert_eq!(at("1994-11-06T09:49:37.123+01:00"), Some(784_111_777));
        assert_eq!(at("1994-11-06T03:49:37-05:00"), Some(784_111_777));
        assert_eq!(at("1994-11-06 08:49:37z"), Some(784_111_777));
        assert_eq!(at("1994-11-06"), None);
        assert_eq!(at("1994-13-06T08:49:37Z"), None);
        assert_eq!(at("1994-11-06T08:49:37"), None);
        assert_eq!(at("é994-11-06T08:49:37Z"), None);
        assert_eq!(at("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn http_dates() {
        let at = |s: &str| secs(parse_http_date(s));
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(at("  Sun, 06 Nov 1994 08:49:37 GMT "), Some(784_111_777));
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 +0000"), None);
        assert_eq!(at("06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(at("Sun, 99 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37GMT"), None);
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn retry_after() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_700);
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(77))
        );
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(
            format_utc(UNIX_EPOCH + Duration::from_millis(784_111_777_999)),
            "1994-11-06T08:49:37Z"
        );
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }
}
