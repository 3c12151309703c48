//! Connection settings and `redis://` / `rediss://` URLs.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::proto::Limits;

/// The RESP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2: what every server speaks.
    Resp2,
    /// RESP3 through `HELLO 3`, falling back to RESP2 on servers without
    /// HELLO (before Redis 6). The default.
    #[default]
    Resp3,
}

/// Where and how to connect.
///
/// From a URL: `redis://[[user]:password@]host[:port][/db][?protocol=resp2&client_name=NAME]`;
/// `rediss://` for TLS (feature `tls`). The port defaults to 6379, the
/// database to 0; user and password are percent-decoded; IPv6 hosts go in
/// brackets.
///
/// ```
/// let info = fibra_redis::ConnectionInfo::from_url("redis://app:s%40cret@localhost:6380/2").unwrap();
/// assert_eq!(info.host(), "localhost");
/// assert_eq!(info.port(), 6380);
/// assert_eq!(info.db(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    pub(crate) db: i64,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) client_name: Option<String>,
    pub(crate) protocol: Protocol,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) limits: Limits,
    #[cfg(feature = "tls")]
    pub(crate) tls_trust: fibra_net::tls::Trust,
}

/// Percent-decodes a URL part. `percent-encoding` passes a malformed escape
/// through as it is; a connection URL with one is refused instead, so the
/// check for it stays here.
fn percent_decode(s: &str) -> Result<String> {
    if !well_escaped(s) {
        return Err(Error::config("bad percent escape in URL"));
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::config("URL credentials are not UTF-8"))
}

/// Whether every `%` in `s` starts a `%XX` escape.
fn well_escaped(s: &str) -> bool {
    s.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(300);

impl ConnectionInfo {
    /// Settings for `host:port` with the defaults: RESP3, database 0, no
    /// credentials, and go-redis's timeouts: 5 s to connect (DNS and
    /// handshake included), 3 s per socket read and per write, TCP
    /// keep-alive every 5 minutes. Blocking commands (`BLPOP`, `XREAD
    /// BLOCK`, …) stretch the read timeout by their own timeout, and a
    /// [`PubSub`](crate::PubSub) subscriber lifts it while it waits for
    /// messages. docs/guide.md ("Client timeouts") compares the clients.
    pub fn new(host: impl Into<String>, port: u16) -> ConnectionInfo {
        ConnectionInfo {
            host: host.into(),
            port,
            tls: false,
            db: 0,
            username: None,
            password: None,
            client_name: None,
            protocol: Protocol::Resp3,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            keepalive: Some(DEFAULT_KEEPALIVE),
            limits: Limits::default(),
            #[cfg(feature = "tls")]
            tls_trust: fibra_net::tls::Trust::default(),
        }
    }

    /// Parses a `redis://` or `rediss://` URL.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for another scheme, a bad port, database
    /// or query parameter, or `rediss://` without the `tls` feature.
    pub fn from_url(url: &str) -> Result<ConnectionInfo> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("redis://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("rediss://") {
            (true, r)
        } else {
            return Err(Error::config(format!(
                "not a redis:// or rediss:// URL: {url}"
            )));
        };
        if tls && !cfg!(feature = "tls") {
            return Err(Error::config("rediss:// needs fibra-redis's `tls` feature"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| Error::config("unclosed [ in URL host"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| Error::config(format!("bad port in URL: {p}")))?,
            None => 6379,
        };
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        let mut info = ConnectionInfo::new(host, port);
        info.tls = tls;
        if let Some(u) = userinfo {
            let (user, pass) = match u.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (u, None),
            };
            match pass {
                Some(p) => {
                    if !user.is_empty() {
                        info.username = Some(percent_decode(user)?);
                    }
                    info.password = Some(percent_decode(p)?);
                }
                // `redis://secret@host`: a bare password, as redis-cli takes it.
                None if !user.is_empty() => info.password = Some(percent_decode(user)?),
                None => {}
            }
        }
        if !path.is_empty() {
            info.db = path
                .parse()
                .map_err(|_| Error::config(format!("bad database in URL: {path}")))?;
        }
        for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = percent_decode(v)?;
            match k {
                "protocol" => {
                    info.protocol = match v.as_str() {
                        "resp2" | "2" => Protocol::Resp2,
                        "resp3" | "3" => Protocol::Resp3,
                        _ => return Err(Error::config(format!("bad protocol in URL: {v}"))),
                    }
                }
                "client_name" | "name" => info.client_name = Some(v),
                "db" => {
                    info.db = v
                        .parse()
                        .map_err(|_| Error::config(format!("bad database in URL: {v}")))?
                }
                _ => return Err(Error::config(format!("unknown URL parameter: {k}"))),
            }
        }
        Ok(info)
    }

    /// The server's host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database selected after connecting.
    pub fn db(&self) -> i64 {
        self.db
    }

    /// Whether the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The ACL user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Selects database `db` after connecting.
    #[must_use]
    pub fn with_db(mut self, db: i64) -> ConnectionInfo {
        self.db = db;
        self
    }

    /// Authenticates with a password (the `default` user, or `requirepass`).
    #[must_use]
    pub fn with_password(mut self, password: impl Into<String>) -> ConnectionInfo {
        self.password = Some(password.into());
        self
    }

    /// Authenticates as an ACL user.
    #[must_use]
    pub fn with_user(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> ConnectionInfo {
        self.username = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// Names the connection (`CLIENT SETNAME`).
    #[must_use]
    pub fn with_client_name(mut self, name: impl Into<String>) -> ConnectionInfo {
        self.client_name = Some(name.into());
        self
    }

    /// Chooses the protocol version.
    #[must_use]
    pub fn with_protocol(mut self, protocol: Protocol) -> ConnectionInfo {
        self.protocol = protocol;
        self
    }

    /// Bounds connecting as a whole: DNS, the TCP connect (all addresses
    /// tried), TLS and the handshake (`HELLO`, `AUTH`, `SELECT`). Default
    /// 5 s; `None` waits as long as the OS does.
    #[must_use]
    pub fn with_connect_timeout(mut self, t: Option<Duration>) -> ConnectionInfo {
        self.connect_timeout = t;
        self
    }

    /// Bounds each socket read (and so each reply); a reply that times out
    /// breaks the connection, since its bytes may still arrive. Default
    /// 3 s; `None` waits for ever. A blocking command's reply may take its
    /// own timeout longer.
    #[must_use]
    pub fn with_read_timeout(mut self, t: Option<Duration>) -> ConnectionInfo {
        self.read_timeout = t;
        self
    }

    /// Bounds each socket write. Default 3 s; `None` waits for ever.
    #[must_use]
    pub fn with_write_timeout(mut self, t: Option<Duration>) -> ConnectionInfo {
        self.write_timeout = t;
        self
    }

    /// TCP keep-alive: `Some(period)` probes an idle connection after
    /// `period` of silence, then every `period`, so a peer that vanished
    /// is noticed; `None` turns it off. Default 5 minutes (go-redis's).
    #[must_use]
    pub fn with_keepalive(mut self, period: Option<Duration>) -> ConnectionInfo {
        self.keepalive = period;
        self
    }

    /// Sets the decoder's limits on what the server may send.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> ConnectionInfo {
        self.limits = limits;
        self
    }

    /// Turns TLS on or off (as `rediss://` does).
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> ConnectionInfo {
        self.tls = tls;
        self
    }

    /// Which servers to trust and which client certificate to present
    /// (fibra-net's [`Trust`](fibra_net::tls::Trust): Mozilla's roots by
    /// default, or the system's, a private CA, a client certificate).
    /// Implies TLS.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls_trust(mut self, trust: fibra_net::tls::Trust) -> ConnectionInfo {
        self.tls = true;
        self.tls_trust = trust;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let i = ConnectionInfo::from_url("redis://localhost").unwrap();
        assert_eq!((i.host(), i.port(), i.db()), ("localhost", 6379, 0));
        let i =
            ConnectionInfo::from_url("redis://u:p%3Aw@[::1]:7000/3?protocol=resp2&client_name=x")
                .unwrap();
        assert_eq!((i.host(), i.port(), i.db()), ("::1", 7000, 3));
        assert_eq!(i.username(), Some("u"));
        assert_eq!(i.password.as_deref(), Some("p:w"));
        assert_eq!(i.protocol, Protocol::Resp2);
        assert_eq!(i.client_name.as_deref(), Some("x"));
        let i = ConnectionInfo::from_url("redis://:secret@h/").unwrap();
        assert_eq!(
            (i.username(), i.password.as_deref()),
            (None, Some("secret"))
        );
        assert!(ConnectionInfo::from_url("http://h").is_err());
        assert!(ConnectionInfo::from_url("redis://h:99999").is_err());
        assert!(ConnectionInfo::from_url("redis://h/x").is_err());
        assert!(ConnectionInfo::from_url("redis://h?bogus=1").is_err());
        assert!(ConnectionInfo::from_url("redis://u:p%zz@h").is_err());
        assert!(ConnectionInfo::from_url("redis://u:p%4@h").is_err());
        assert!(ConnectionInfo::from_url("redis://u:%ff@h").is_err());
        assert_eq!(
            ConnectionInfo::from_url("rediss://h").is_ok(),
            cfg!(feature = "tls")
        );
    }
}
