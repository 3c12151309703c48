//! Connection options and server URLs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Event};
use crate::error::{Error, Result};

/// One server of the pool: `nats://[user:pass@|token@]host[:port]` or
/// `tls://…`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ServerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    /// Learned from INFO `connect_urls` rather than given by the user.
    pub implicit: bool,
    /// Failed connection attempts since the last success.
    pub attempts: usize,
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl ServerAddr {
    pub(crate) fn parse(url: &str) -> Result<ServerAddr> {
        let url = url.trim();
        let (tls, rest) = if let Some(r) = url.strip_prefix("nats://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("tls://") {
            (true, r)
        } else if url.contains("://") {
            return Err(Error::invalid(format!("unsupported URL scheme in {url:?}")));
        } else {
            (false, url)
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (user, pass, token) = match auth {
            None => (None, None, None),
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned()), None),
                None => (None, None, Some(a.to_owned())),
            },
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| Error::invalid(format!("bad IPv6 address in {url:?}")))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(Error::invalid(format!("no host in {url:?}")));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| Error::invalid(format!("bad port in {url:?}")))?,
            None => 4222,
        };
        Ok(ServerAddr {
            host: host.to_owned(),
            port,
            tls,
            user,
            pass,
            token,
            implicit: false,
            attempts: 0,
        })
    }

    pub(crate) fn display(&self) -> String {
        let scheme = if self.tls { "tls" } else { "nats" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn same_endpoint(&self, other: &ServerAddr) -> bool {
        self.port == other.port && self.host == other.host
    }
}

/// Called with each connection [`Event`], on a coroutine of its own.
pub type EventCallback = Arc<dyn Fn(Event) + Send + Sync>;

/// How to connect: identity, authentication, TLS, timeouts, reconnection
/// and buffering. Build it with the setters, then call
/// [`connect`](ConnectOptions::connect).
///
/// ```no_run
/// use std::time::Duration;
/// let client = fibra_nats::ConnectOptions::new()
///     .name("orders")
///     .user_and_password("alice", "secret")
///     .reconnect_wait(Duration::from_millis(500))
///     .connect("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
///     .unwrap();
/// # drop(client);
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) name: Option<String>,
    pub(crate) no_echo: bool,
    pub(crate) user: Option<String>,
    pub(crate) pass: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) nkey_seed: Option<String>,
    pub(crate) jwt: Option<String>,
    pub(crate) tls_required: bool,
    pub(crate) tls_handshake_first: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls_trust: fibra_net::tls::Trust,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) allow_reconnect: bool,
    pub(crate) max_reconnects: Option<usize>,
    pub(crate) reconnect_wait: Duration,
    pub(crate) reconnect_jitter: Duration,
    pub(crate) reconnect_buffer_size: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) max_pings_out: usize,
    pub(crate) no_randomize: bool,
    pub(crate) ignore_discovered_servers: bool,
    pub(crate) pending_msgs_limit: usize,
    pub(crate) pending_bytes_limit: usize,
    pub(crate) inbox_prefix: String,
    pub(crate) event_callback: Option<EventCallback>,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("name", &self.name)
            .field("no_echo", &self.no_echo)
            .field("user", &self.user)
            .field("tls_required", &self.tls_required)
            .field("allow_reconnect", &self.allow_reconnect)
            .field("max_reconnects", &self.max_reconnects)
            .field("reconnect_wait", &self.reconnect_wait)
            .finish_non_exhaustive()
    }
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            name: None,
            no_echo: false,
            user: None,
            pass: None,
            token: None,
            nkey_seed: None,
            jwt: None,
            tls_required: false,
            tls_handshake_first: false,
            #[cfg(feature = "tls")]
            tls_trust: fibra_net::tls::Trust::default(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            allow_reconnect: true,
            max_reconnects: Some(60),
            reconnect_wait: Duration::from_secs(2),
            reconnect_jitter: Duration::from_millis(100),
            reconnect_buffer_size: 8 << 20,
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            no_randomize: false,
            ignore_discovered_servers: false,
            pending_msgs_limit: 512 * 1024,
            pending_bytes_limit: 64 << 20,
            inbox_prefix: "_INBOX".to_owned(),
            event_callback: None,
        }
    }
}

impl ConnectOptions {
    /// The defaults (as nats.go's): 2 s connect timeout, reconnect every 2 s
    /// (±100 ms jitter) up to 60 times per server, 8 MiB reconnect buffer,
    /// PING every 2 minutes, 512 Ki messages / 64 MiB pending per
    /// subscription, servers tried in random order.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// The connection name shown by the server's monitoring.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Do not receive our own publishes on our own subscriptions.
    pub fn no_echo(mut self, on: bool) -> Self {
        self.no_echo = on;
        self
    }

    /// User/password authentication (also taken from `nats://u:p@host`).
    pub fn user_and_password(mut self, user: impl Into<String>, pass: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self.pass = Some(pass.into());
        self
    }

    /// Token authentication (also taken from `nats://token@host`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// NKey authentication: the seed (`SU…`) signs the server's nonce.
    /// Checked when connecting.
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.nkey_seed = Some(seed.into());
        self
    }

    /// JWT user credentials: the JWT and the seed that signs the nonce.
    pub fn jwt(mut self, jwt: impl Into<String>, seed: impl Into<String>) -> Self {
        self.jwt = Some(jwt.into());
        self.nkey_seed = Some(seed.into());
        self
    }

    /// Reads a `.creds` file (JWT and seed, as written by `nsc`).
    ///
    /// # Errors
    /// The file cannot be read, or lacks the JWT or seed block.
    pub fn credentials_file(self, path: impl AsRef<std::path::Path>) -> Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let (jwt, seed) = crate::nkey::parse_creds(&text)?;
        Ok(self.jwt(jwt, seed))
    }

    /// Require TLS even for `nats://` URLs (needs the `tls` feature).
    pub fn require_tls(mut self, on: bool) -> Self {
        self.tls_required = on;
        self
    }

    /// Start TLS before the server's INFO (servers configured with
    /// `handshake_first`, nats-server 2.10 and later).
    pub fn tls_handshake_first(mut self, on: bool) -> Self {
        self.tls_handshake_first = on;
        self.tls_required |= on;
        self
    }

    /// Trust the CA certificates in this PEM text instead of the web PKI
    /// roots: `tls_trust(Trust::pem(pem))`.
    #[cfg(feature = "tls")]
    pub fn tls_root_certificates_pem(self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_trust(fibra_net::tls::Trust::pem(pem))
    }

    /// Which servers to trust and which client certificate to present
    /// (fibra-net's [`Trust`](fibra_net::tls::Trust), the same for every
    /// fibra client; Mozilla's roots by default).
    #[cfg(feature = "tls")]
    pub fn tls_trust(mut self, trust: fibra_net::tls::Trust) -> Self {
        self.tls_trust = trust;
        self
    }

    /// How long one connection attempt (TCP, TLS, INFO/CONNECT/PONG) may take.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// The timeout of [`Client::request`].
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Whether to reconnect after losing the connection (default true).
    pub fn allow_reconnect(mut self, on: bool) -> Self {
        self.allow_reconnect = on;
        self
    }

    /// Attempts per server before it leaves the pool (`None`: forever).
    pub fn max_reconnects(mut self, n: Option<usize>) -> Self {
        self.max_reconnects = n;
        self
    }

    /// The pause after every server of the pool failed once.
    pub fn reconnect_wait(mut self, t: Duration) -> Self {
        self.reconnect_wait = t;
        self
    }

    /// Random extra pause, up to this much, added to `reconnect_wait`.
    pub fn reconnect_jitter(mut self, t: Duration) -> Self {
        self.reconnect_jitter = t;
        self
    }

    /// Bytes of publishes kept while disconnected (sent after reconnecting);
    /// publishing past it fails with `BufferFull`.
    pub fn reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.reconnect_buffer_size = bytes;
        self
    }

    /// The interval of keep-alive PINGs, and how many may go unanswered
    /// before the connection counts as stale and is dropped.
    pub fn ping_interval(mut self, t: Duration, max_outstanding: usize) -> Self {
        self.ping_interval = t;
        self.max_pings_out = max_outstanding.max(1);
        self
    }

    /// Try the servers in the given order instead of shuffling them.
    pub fn no_randomize(mut self, on: bool) -> Self {
        self.no_randomize = on;
        self
    }

    /// Ignore servers announced by the cluster (INFO `connect_urls`).
    pub fn ignore_discovered_servers(mut self, on: bool) -> Self {
        self.ignore_discovered_servers = on;
        self
    }

    /// Default pending limits of new subscriptions: messages and bytes
    /// received but not yet taken; past them messages are dropped and a
    /// [`Event::SlowConsumer`] is reported.
    pub fn pending_limits(mut self, msgs: usize, bytes: usize) -> Self {
        self.pending_msgs_limit = msgs.max(1);
        self.pending_bytes_limit = bytes.max(1);
        self
    }

    /// The prefix of reply subjects (default `_INBOX`).
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = prefix.into();
        self
    }

    /// Calls `f` with every connection event, on a coroutine of its own
    /// (events are also available from [`Client::events`]).
    pub fn event_callback(mut self, f: impl Fn(Event) + Send + Sync + 'static) -> Self {
        self.event_callback = Some(Arc::new(f));
        self
    }

    /// Connects to one of `urls` (comma-separated `nats://` or `tls://`
    /// URLs; the pool grows with servers the cluster announces).
    ///
    /// # Errors
    /// `InvalidInput` for a bad URL or seed; the last connection error when
    /// no server could be reached (`Io`, `Timeout`, `Server` for an
    /// authorization violation).
    pub fn connect(self, urls: &str) -> Result<Client> {
        Client::connect_with(urls, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let a = ServerAddr::parse("nats://u:p@example.com:4333").unwrap();
        assert_eq!(
            (
                a.host.as_str(),
                a.port,
                a.tls,
                a.user.as_deref(),
                a.pass.as_deref()
            ),
            ("example.com", 4333, false, Some("u"), Some("p"))
        );
        let a = ServerAddr::parse("tls://tok@[::1]").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.tls, a.token.as_deref()),
            ("::1", 4222, true, Some("tok"))
        );
        assert_eq!(a.display(), "tls://[::1]:4222");
        let a = ServerAddr::parse("127.0.0.1:5").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 5));
        assert!(ServerAddr::parse("http://x").is_err());
        assert!(ServerAddr::parse("nats://x:notaport").is_err());
        assert!(ServerAddr::parse("nats://").is_err());
    }
}
