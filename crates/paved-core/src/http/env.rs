//! The environment variables that tune the client. [`HttpConfig::from_env`](super::HttpConfig::from_env)
//! reads them, and error hints name them, so they live apart from both.

/// Environment variables read by [`HttpConfig::from_env`](super::HttpConfig::from_env), all
/// whole seconds except the attempts.
pub const ENV_CONNECT_TIMEOUT: &str = "PAVED_HTTP_CONNECT_TIMEOUT";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_TIMEOUT: &str = "PAVED_HTTP_TIMEOUT";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_MAX_ATTEMPTS: &str = "PAVED_HTTP_MAX_ATTEMPTS";
/// See [`ENV_CONNECT_TIMEOUT`].
pub const ENV_MAX_WAIT: &str = "PAVED_HTTP_MAX_WAIT";
