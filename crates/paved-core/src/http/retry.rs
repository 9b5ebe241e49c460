//! When and how long to wait before trying again: the [`Clock`], which answers are worth
//! another attempt (`408`, `429`, `5xx`, rate limits), the wait a server asks for, and backoff
//! with full jitter otherwise. The loop itself is [`RequestBuilder::send`](super::RequestBuilder::send).

use std::fmt::{self, Display};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::date::parse_retry_after;
use super::method::Method;
use super::response::Response;
use super::text::{human_duration, status_text};

/// How long GitHub asks clients to wait after a secondary rate limit that names no time.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Slack added to a rate-limit reset time, for clock skew between us and the server.
const RESET_SLACK: Duration = Duration::from_secs(1);

/// Time as the retry loop sees it. Tests swap in `paved_testkit::http::FakeClock` so that a
/// one-hour rate-limit reset takes no time at all.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time (compared with `x-ratelimit-reset` and HTTP dates).
    fn now(&self) -> SystemTime;
    /// Block for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// What the client tells the user before it waits and tries again.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// The request's method.
    pub method: Method,
    /// The request's URL, without its query string.
    pub url: String,
    /// What went wrong, e.g. `502 Bad Gateway` or `connection refused`.
    pub reason: String,
    /// The attempt that just failed (1-based).
    pub attempt: u32,
    /// The most attempts that will be made.
    pub max_attempts: u32,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
}

impl Display for RetryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{} {}`: {}; retrying in {} (attempt {} of {})",
            self.method,
            self.url,
            self.reason,
            human_duration(self.wait),
            self.attempt + 1,
            self.max_attempts
        )
    }
}

/// A hook called before every retry.
pub type RetryHook = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

pub(super) struct RetrySignal {
    pub(super) reason: String,
    /// The wait the server asked for, if it named one.
    pub(super) wait: Option<Duration>,
    pub(super) rate_limited: bool,
}

/// Whether a response is worth retrying, and after how long.
pub(super) fn retry_signal(response: &Response, now: SystemTime) -> Option<RetrySignal> {
    let status = response.status;
    let retry_after = response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, now));
    let reason = status_text(status);
    match status {
        403 | 429 => {
            let remaining = response
                .header("x-ratelimit-remaining")
                .or_else(|| response.header("ratelimit-remaining"))
                .map(str::trim);
            let reset = response
                .header("x-ratelimit-reset")
                .or_else(|| response.header("ratelimit-reset"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            let wait = if retry_after.is_some() {
                retry_after
            } else if remaining == Some("0") {
                let reset = reset.map(|r| UNIX_EPOCH + Duration::from_secs(r));
                Some(
                    reset
                        .and_then(|r| r.duration_since(now).ok())
                        .unwrap_or_default()
                        + RESET_SLACK,
                )
            } else if status == 403 && mentions_rate_limit(response) {
                Some(SECONDARY_LIMIT_WAIT)
            } else if status == 429 {
                None
            } else {
                // A plain 403: the token lacks permission. Retrying will not help.
                return None;
            };
            Some(RetrySignal {
                reason: format!("{reason} (rate limited)"),
                wait,
                rate_limited: true,
            })
        }
        408 | 500 | 502..=599 => Some(RetrySignal {
            reason,
            wait: retry_after,
            rate_limited: false,
        }),
        _ => None,
    }
}

fn mentions_rate_limit(response: &Response) -> bool {
    let text = String::from_utf8_lossy(&response.body).to_ascii_lowercase();
    text.contains("rate limit")
}

/// The wait before attempt `attempt + 1` when the server named none: a uniformly random time in
/// `[0, min(base_delay * 2^(attempt-1), max_delay)]`.
pub(super) fn backoff(base_delay: Duration, max_delay: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let ceiling = base_delay
        .checked_mul(factor)
        .unwrap_or(max_delay)
        .min(max_delay);
    // Full jitter: a uniformly random wait in [0, ceiling], so that many jobs retrying the
    // same outage do not all come back at the same instant.
    let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if ceiling_nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random_u64() % (ceiling_nanos + 1))
}

fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        // No OS randomness: the clock's low bits are jitter enough.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..40 {
            let wait = backoff(base, max, attempt);
            assert!(wait <= max, "{wait:?} on attempt {attempt}");
            let ceiling = base.saturating_mul(1 << attempt.min(20).saturating_sub(1));
            assert!(wait <= ceiling, "{wait:?} on attempt {attempt}");
        }
        assert_eq!(backoff(Duration::ZERO, max, 3), Duration::ZERO);
    }
}
