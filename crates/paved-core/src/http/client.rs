//! [`Client`]: the ureq agent built from an [`HttpConfig`], and where every request starts.

use std::fmt;
use std::sync::Arc;

use super::config::HttpConfig;
use super::method::Method;
use super::request::RequestBuilder;

/// The HTTP client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    config: Arc<HttpConfig>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new(HttpConfig::default())
    }
}

impl Client {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Self {
        let mut builder = ureq::Agent::config_builder();
        if !config.proxy_from_env {
            builder = builder.proxy(None);
        }
        let agent = builder
            .http_status_as_error(false)
            .user_agent(config.user_agent.as_str())
            .timeout_resolve(Some(config.connect_timeout))
            .timeout_connect(Some(config.connect_timeout))
            .timeout_recv_response(Some(config.read_timeout))
            .timeout_per_read(Some(config.read_timeout))
            .timeout_per_write(Some(config.read_timeout))
            // Redirects are followed by the request itself, which keeps credentials on their
            // origin (see `RequestBuilder::send`): ureq would keep a token header on any host.
            .max_redirects(0)
            .build()
            .new_agent();
        Client {
            agent,
            config: Arc::new(config),
        }
    }

    /// A client configured from the `PAVED_HTTP_*` variables (see [`HttpConfig::from_env`]).
    pub fn from_env() -> crate::Result<Self> {
        Ok(Client::new(HttpConfig::from_env()?))
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Start a request.
    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder::new(&self.agent, &self.config, method, url.into())
    }

    /// Start a `GET`.
    pub fn get(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Get, url)
    }

    /// Start a `HEAD`.
    pub fn head(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Head, url)
    }

    /// Start a `POST`.
    pub fn post(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Post, url)
    }

    /// Start a `PUT`.
    pub fn put(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Put, url)
    }

    /// Start a `PATCH`.
    pub fn patch(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Patch, url)
    }

    /// Start a `DELETE`.
    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        self.request(Method::Delete, url)
    }
}
