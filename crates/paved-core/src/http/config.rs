//! [`HttpConfig`]: timeouts, the retry policy, limits and the clock of a [`Client`](super::Client),
//! with its defaults and the `PAVED_HTTP_*` overrides.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::env::{ENV_CONNECT_TIMEOUT, ENV_MAX_ATTEMPTS, ENV_MAX_WAIT, ENV_TIMEOUT};
use super::retry::{Clock, RetryHook, RetryNotice, SystemClock};

/// The `User-Agent` every paved request sends.
pub const USER_AGENT: &str = concat!("paved/", env!("CARGO_PKG_VERSION"));

/// Default for [`HttpConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default for [`HttpConfig::read_timeout`].
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`HttpConfig::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default for [`HttpConfig::base_delay`].
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Default for [`HttpConfig::max_delay`].
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
/// Default for [`HttpConfig::max_wait`].
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);
/// Default for [`HttpConfig::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Timeouts, retry policy and limits of a [`Client`](super::Client).
#[derive(Clone)]
pub struct HttpConfig {
    /// Longest time to resolve the host and establish a connection (TLS included).
    pub connect_timeout: Duration,
    /// Longest wait for the response to start, and for any single read or write after that.
    pub read_timeout: Duration,
    /// How many times a request is sent before giving up (at least 1).
    pub max_attempts: u32,
    /// The first backoff step; attempt `n` waits a random time in `[0, base_delay * 2^(n-1)]`.
    pub base_delay: Duration,
    /// Cap on one backoff step.
    pub max_delay: Duration,
    /// Cap on one wait the server asks for (`Retry-After`, a rate-limit reset). A longer request
    /// is not slept through: the request fails with [`HttpError::RateLimited`](super::HttpError::RateLimited) at once.
    pub max_wait: Duration,
    /// Largest response body read into memory.
    pub max_response_bytes: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Use the proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (honouring `NO_PROXY`), as
    /// CI runners behind a corporate proxy need.
    pub proxy_from_env: bool,
    /// The clock used for waiting and for reading reset times.
    pub clock: Arc<dyn Clock>,
    /// Called before each retry; by default a warning line on stderr. `None` is silent.
    pub on_retry: Option<RetryHook>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_wait: DEFAULT_MAX_WAIT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: USER_AGENT.to_owned(),
            proxy_from_env: true,
            clock: Arc::new(SystemClock),
            on_retry: Some(Arc::new(|notice: &RetryNotice| {
                crate::cli::warn(&notice.to_string());
            })),
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("max_wait", &self.max_wait)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("user_agent", &self.user_agent)
            .field("proxy_from_env", &self.proxy_from_env)
            .field("clock", &self.clock)
            .field("on_retry", &self.on_retry.as_ref().map(|_| "hook"))
            .finish()
    }
}

impl HttpConfig {
    /// The defaults, overridden by `PAVED_HTTP_CONNECT_TIMEOUT`, `PAVED_HTTP_TIMEOUT` (the read
    /// timeout), `PAVED_HTTP_MAX_WAIT` (seconds) and `PAVED_HTTP_MAX_ATTEMPTS`.
    pub fn from_env() -> crate::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`HttpConfig::from_env`] with a lookup function instead of the process environment.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> crate::Result<Self> {
        let mut config = HttpConfig::default();
        let number = |name: &str| -> crate::Result<Option<u64>> {
            match env(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                    crate::Error::Usage(format!(
                        "`{name}` is `{v}`, which is not a whole number; set it to a number such as `30`, or unset it"
                    ))
                }),
            }
        };
        if let Some(s) = number(ENV_CONNECT_TIMEOUT)? {
            config.connect_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = number(ENV_TIMEOUT)? {
            config.read_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(s) = number(ENV_MAX_WAIT)? {
            config.max_wait = Duration::from_secs(s);
        }
        if let Some(n) = number(ENV_MAX_ATTEMPTS)? {
            config.max_attempts = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;
    use crate::exit::Category;

    #[test]
    fn config_from_env() {
        let env = |k: &str| match k {
            ENV_TIMEOUT => Some("5".to_owned()),
            ENV_MAX_ATTEMPTS => Some("2".to_owned()),
            _ => None,
        };
        let config = HttpConfig::from_lookup(env).unwrap();
        assert_eq!(config.read_timeout, Duration::from_secs(5));
        assert_eq!(config.max_attempts, 2);
        assert_eq!(config.max_wait, DEFAULT_MAX_WAIT);
        let err = HttpConfig::from_lookup(|k| (k == ENV_MAX_WAIT).then(|| "soon".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains(ENV_MAX_WAIT), "{err}");
        assert_eq!(err.category(), Category::Usage);
    }
}
