//! An HTTP/1.1 client in plain blocking code: connection pooling per
//! origin, HTTPS (rustls, feature `tls`), redirects, gzip/deflate,
//! streaming bodies both ways, proxies, Unix sockets, and protocol
//! switches ([`RequestBuilder::upgrade`], [`Response::upgrade`]), on which
//! the WebSocket and SSE clients are built.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn main() -> Result<(), fibra_http::client::Error> {
//!     // One-liners share a default client (and its pool).
//!     let page = fibra_http::get("http://example.com/")?.text()?;
//!
//!     // A configured client; clones share the pool.
//!     let client = fibra_http::Client::builder()
//!         .timeout(Duration::from_secs(10))
//!         .max_idle_per_host(8)
//!         .build()?;
//!     let resp = client
//!         .post("http://example.com/upload")
//!         .header("x-trace", "1")
//!         .query(&[("lang", "en")])
//!         .body("hello")
//!         .send()?;
//!     println!("{} {}", resp.status(), page.len());
//!     Ok(())
//! }
//! ```
//!
//! Each call parks only the calling coroutine (or blocks the calling thread
//! outside the runtime). Timeouts are deadlines in the runtime's sense, so
//! an enclosing [`fibra_runtime::with_timeout`] scope also bounds a request,
//! and canceling the coroutine ends it with [`Error::is_canceled`].
//!
//! URLs are `http://`, `https://`, or `http+unix://%2Fpath%2Fto.sock/path`
//! for a server on a Unix socket (see [`unix_socket_host`], or
//! [`ClientBuilder::unix_socket`] to send every request to one socket).

mod config;
mod conn;
mod error;
mod exec;
mod proxy;
mod request;
mod response;
mod target;
mod upgrade;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use fibra_runtime::pool::Pool;
use http::{HeaderMap, Method};

pub use error::{Error, ErrorKind, Result};
pub use proxy::Proxy;
pub use request::{Body, Request, RequestBuilder};
pub use response::Response;
pub use target::unix_socket_host;
pub use upgrade::{Upgraded, UpgradedReadHalf, UpgradedWriteHalf};

use config::Config;
use conn::{HostManager, PoolKey};
use proxy::Proxies;

struct Shared {
    config: Arc<Config>,
    pools: Mutex<HashMap<PoolKey, Pool<HostManager>>>,
}

/// An HTTP client. Cheap to clone: clones share the settings and the
/// connection pools (one per scheme, host, port and proxy).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings (see [`ClientBuilder::new`]),
    /// proxies taken from the environment.
    pub fn new() -> Client {
        Client::from_config(ClientBuilder::new().finish_config())
    }

    /// A [`ClientBuilder`] to configure a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    fn from_config(config: Config) -> Client {
        Client {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                pools: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A request with `method` to `url`.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A `GET` request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `HEAD` request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A `POST` request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `PATCH` request.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A `DELETE` request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Connections open now to all origins, idle or in use.
    pub fn open_connections(&self) -> usize {
        let pools = self.shared.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.values().map(|p| p.stats().total).sum()
    }

    /// Idle pooled connections now, to all origins.
    pub fn idle_connections(&self) -> usize {
        let pools = self.shared.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.values().map(|p| p.stats().idle).sum()
    }
}

/// Configures a [`Client`]; from [`Client::builder`].
#[must_use]
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    env_proxies: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// The defaults: no overall timeout, 30 s to connect, 10 s for the TLS
    /// handshake, no response-header timeout, 30 s to wait for a pooled
    /// connection, idle connections closed after 90 s, at most 32 idle and
    /// 256 open connections per origin, 10 redirects, gzip/deflate
    /// decoding, `Expect: 100-continue` for bodies of 1 MiB or more (1 s
    /// wait), 64 KiB response heads, 64 MiB for [`Response::bytes`],
    /// proxies from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, and Mozilla's
    /// root certificates.
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            config: Config::default(),
            env_proxies: true,
        }
    }

    /// A deadline for each whole request, up to the end of its response
    /// body (`None`: none).
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.timeout = timeout.into();
        self
    }

    /// How long opening a TCP or Unix connection (DNS included) may take.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.connect_timeout = timeout.into();
        self
    }

    /// TCP keep-alive for new connections: the idle time before the first
    /// probe and the interval between probes (default 30 s, Go's
    /// `http.DefaultTransport`; `None`: off). It finds a peer that vanished
    /// without a FIN, such as a host that lost power, while a pooled
    /// connection sits idle or a stream waits.
    pub fn tcp_keepalive(mut self, period: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.tcp_keepalive = period.into();
        self
    }

    /// How long the TLS handshake may take.
    pub fn tls_handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.tls_timeout = timeout.into();
        self
    }

    /// How long to wait for the response head once the request is sent.
    pub fn response_header_timeout(
        mut self,
        timeout: impl Into<Option<Duration>>,
    ) -> ClientBuilder {
        self.config.response_header_timeout = timeout.into();
        self
    }

    /// How long a request waits for a connection when the origin already
    /// has [`max_connections_per_host`](ClientBuilder::max_connections_per_host)
    /// open.
    pub fn pool_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.pool_timeout = timeout.into();
        self
    }

    /// Idle pooled connections are closed after this long.
    pub fn pool_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> ClientBuilder {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// Most idle connections kept per origin; more are closed when they
    /// come back (0: no keep-alive reuse).
    pub fn max_idle_per_host(mut self, n: usize) -> ClientBuilder {
        self.config.max_idle_per_host = n;
        self
    }

    /// Most connections open at once per origin (at least 1); further
    /// requests wait for one to come back.
    pub fn max_connections_per_host(mut self, n: usize) -> ClientBuilder {
        self.config.max_connections_per_host = n.max(1);
        self
    }

    /// Most redirects followed; 0 returns `3xx` responses as they are.
    pub fn max_redirects(mut self, n: usize) -> ClientBuilder {
        self.config.max_redirects = n;
        self
    }

    /// Header fields sent with every request (a request's own fields of
    /// the same name win).
    pub fn default_headers(mut self, headers: HeaderMap) -> ClientBuilder {
        self.config.default_headers = headers;
        self
    }

    /// The `User-Agent` sent when a request has none.
    ///
    /// Invalid values are ignored.
    pub fn user_agent(mut self, agent: &str) -> ClientBuilder {
        if let Ok(v) = http::HeaderValue::from_str(agent) {
            self.config
                .default_headers
                .insert(http::header::USER_AGENT, v);
        }
        self
    }

    /// Whether to ask for and decode gzip/deflate responses (on by default).
    pub fn decompress(mut self, on: bool) -> ClientBuilder {
        self.config.decompress = on;
        self
    }

    /// Bodies of at least `bytes` are sent with `Expect: 100-continue`
    /// (`None`: only when the request sets the header).
    pub fn expect_continue_threshold(mut self, bytes: Option<u64>) -> ClientBuilder {
        self.config.expect_continue_threshold = bytes;
        self
    }

    /// How long to wait for `100 Continue` before sending the body anyway.
    pub fn expect_continue_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.config.expect_continue_timeout = timeout;
        self
    }

    /// Sends requests through `proxy` (instead of the environment's
    /// proxies). Call again to add proxies for other schemes.
    pub fn proxy(mut self, proxy: Proxy) -> ClientBuilder {
        if self.env_proxies {
            self.env_proxies = false;
            self.config.proxies.clear();
        }
        self.config.proxies.add(proxy);
        self
    }

    /// Uses no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> ClientBuilder {
        self.env_proxies = false;
        self.config.proxies.clear();
        self
    }

    /// Sends every request over the Unix socket at `path` (the URL's host
    /// is then only used for `Host`).
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> ClientBuilder {
        self.config.unix_socket = Some(path.into());
        self
    }

    /// Largest response head accepted, in bytes.
    pub fn max_response_header_bytes(mut self, n: usize) -> ClientBuilder {
        self.config.max_header_bytes = n.max(64);
        self
    }

    /// Most bytes [`Response::bytes`], `text` and `json` accept.
    pub fn max_body_bytes(mut self, n: usize) -> ClientBuilder {
        self.config.max_body_bytes = n;
        self
    }

    /// Also trusts the CA certificates in `pem`.
    #[cfg(feature = "tls")]
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> ClientBuilder {
        self.config.tls.extra_roots_pem.push(pem.to_vec());
        self.config.tls.reset();
        self
    }

    /// Whether to trust Mozilla's root certificates (webpki-roots; on by
    /// default).
    #[cfg(feature = "tls")]
    pub fn tls_built_in_roots(mut self, on: bool) -> ClientBuilder {
        self.config.tls.no_built_in_roots = !on;
        self.config.tls.reset();
        self
    }

    /// Whether to trust the operating system's CA bundle (`SSL_CERT_FILE`,
    /// or `/etc/ssl/certs/ca-certificates.crt` and the other usual paths).
    #[cfg(feature = "tls")]
    pub fn tls_platform_roots(mut self, on: bool) -> ClientBuilder {
        self.config.tls.platform_roots = on;
        self.config.tls.reset();
        self
    }

    /// Presents a client certificate: the chain (leaf first) and its
    /// private key, both PEM.
    #[cfg(feature = "tls")]
    pub fn identity_pem(mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> ClientBuilder {
        self.config.tls.identity_pem = Some((cert_chain_pem.to_vec(), key_pem.to_vec()));
        self.config.tls.reset();
        self
    }

    /// Uses the TLS configuration of `connector` (the other TLS settings
    /// are then ignored), e.g. one from
    /// [`TlsConnector::with_root_pem`](fibra_net::tls::TlsConnector::with_root_pem).
    #[cfg(feature = "tls")]
    pub fn tls_connector(mut self, connector: fibra_net::tls::TlsConnector) -> ClientBuilder {
        self.config.tls.connector = Some(connector);
        self.config.tls.custom = None;
        self.config.tls.reset();
        self
    }

    /// Uses a rustls configuration built by hand (the other TLS settings
    /// are then ignored).
    #[cfg(feature = "tls")]
    pub fn tls_config(
        mut self,
        config: Arc<fibra_net::tls::rustls::ClientConfig>,
    ) -> ClientBuilder {
        self.config.tls.custom = Some(config);
        self.config.tls.connector = None;
        self.config.tls.reset();
        self
    }

    fn finish_config(self) -> Config {
        let mut config = self.config;
        if self.env_proxies {
            config.proxies = Proxies::from_env(|k| std::env::var(k).ok());
        }
        config
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::is_builder`] when the TLS settings are invalid (malformed
    /// PEM, a key that does not match its certificate, no trusted roots).
    pub fn build(self) -> Result<Client> {
        let config = self.finish_config();
        config.validate()?;
        Ok(Client::from_config(config))
    }
}

/// The client behind the one-line helpers (and behind WebSocket and SSE
/// clients given none).
pub(crate) fn default_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(Client::new)
}

/// `GET url` with a shared default client.
///
/// # Errors
/// See [`Client::execute`].
pub fn get(url: &str) -> Result<Response> {
    default_client().get(url).send()
}

/// `HEAD url` with a shared default client.
///
/// # Errors
/// See [`Client::execute`].
pub fn head(url: &str) -> Result<Response> {
    default_client().head(url).send()
}

/// `POST url` with `body`, with a shared default client.
///
/// # Errors
/// See [`Client::execute`].
pub fn post(url: &str, body: impl Into<Body>) -> Result<Response> {
    default_client().post(url).body(body).send()
}

/// `PUT url` with `body`, with a shared default client.
///
/// # Errors
/// See [`Client::execute`].
pub fn put(url: &str, body: impl Into<Body>) -> Result<Response> {
    default_client().put(url).body(body).send()
}

/// `DELETE url` with a shared default client.
///
/// # Errors
/// See [`Client::execute`].
pub fn delete(url: &str) -> Result<Response> {
    default_client().delete(url).send()
}
