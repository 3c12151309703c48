//! Connection settings: parsed from a `postgres://` URL or a libpq
//! `key=value` string, or built with setters.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// A directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

/// Whether and how to use TLS (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never.
    Disable,
    /// Try TLS, fall back to plain text if the server declines (the default
    /// when built with the `tls` feature; without it, plain text). As in
    /// libpq, the certificate is not checked unless
    /// [`Config::ssl_root_cert`] (or `tls_trust`) is set.
    #[default]
    Prefer,
    /// TLS or fail. As in libpq, the certificate is not checked unless
    /// [`Config::ssl_root_cert`] (or `tls_trust`) is set (then it is
    /// checked as for `VerifyFull`, host name included).
    Require,
    /// TLS with the certificate checked against the trust store and the
    /// host name.
    VerifyFull,
}

/// SCRAM channel binding (libpq's `channel_binding`): binds the
/// authentication to the TLS session (`SCRAM-SHA-256-PLUS` with
/// `tls-server-end-point`), so a man in the middle cannot relay it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChannelBinding {
    /// Never bind.
    Disable,
    /// Bind when on TLS and the server offers it (the default).
    #[default]
    Prefer,
    /// Fail unless the server authenticates with channel binding.
    Require,
}

/// Transaction isolation level, for
/// [`Client::build_transaction`](crate::Client::build_transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (behaves as read committed in PostgreSQL).
    ReadUncommitted,
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// Connection settings.
///
/// ```
/// use fibra_postgres::Config;
///
/// let a: Config = "postgres://alice:secret@localhost:5433/app?application_name=web".parse().unwrap();
/// let b: Config = "host=localhost port=5433 user=alice password=secret dbname=app".parse().unwrap();
/// assert_eq!(a.get_user(), b.get_user());
/// let c = Config::new().host("localhost").port(5433).user("alice").dbname("app");
/// assert_eq!(c.get_port(), 5433);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) dbname: Option<String>,
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_root_cert: Option<PathBuf>,
    #[cfg(feature = "tls")]
    pub(crate) tls_trust: Option<fibra_net::tls::Trust>,
    pub(crate) channel_binding: ChannelBinding,
    pub(crate) statement_cache_capacity: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("keepalive", &self.keepalive)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    /// Defaults: `localhost:5432`, user `postgres`, database named after the
    /// user, 5 s to connect (DNS, TLS and authentication included), no read
    /// or write timeout (a query may legitimately run for minutes: bound it
    /// with `with_timeout` or the server's `statement_timeout`), TCP
    /// keep-alive every 5 minutes, `sslmode=prefer`, a statement cache of
    /// 256. docs/guide.md ("Client timeouts") explains the choice.
    pub fn new() -> Config {
        Config {
            host: Host::Tcp("localhost".into()),
            port: 5432,
            user: "postgres".into(),
            password: None,
            dbname: None,
            application_name: None,
            options: None,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: None,
            write_timeout: None,
            keepalive: Some(Duration::from_secs(300)),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            #[cfg(feature = "tls")]
            tls_trust: None,
            channel_binding: ChannelBinding::Prefer,
            statement_cache_capacity: 256,
        }
    }

    /// The host: a name or address (TCP), or an absolute path (a Unix socket
    /// directory).
    pub fn host(mut self, host: &str) -> Config {
        self.host = if host.starts_with('/') {
            Host::Unix(PathBuf::from(host))
        } else {
            Host::Tcp(host.to_owned())
        };
        self
    }

    /// Connects through the Unix socket in `dir`.
    pub fn host_path(mut self, dir: impl AsRef<Path>) -> Config {
        self.host = Host::Unix(dir.as_ref().to_owned());
        self
    }

    /// The port (also names the Unix socket file).
    pub fn port(mut self, port: u16) -> Config {
        self.port = port;
        self
    }

    /// The user name.
    pub fn user(mut self, user: &str) -> Config {
        self.user = user.to_owned();
        self
    }

    /// The password.
    pub fn password(mut self, password: impl AsRef<[u8]>) -> Config {
        self.password = Some(password.as_ref().to_vec());
        self
    }

    /// The database.
    pub fn dbname(mut self, dbname: &str) -> Config {
        self.dbname = Some(dbname.to_owned());
        self
    }

    /// `application_name`, shown in `pg_stat_activity`.
    pub fn application_name(mut self, name: &str) -> Config {
        self.application_name = Some(name.to_owned());
        self
    }

    /// Command-line options for the server (`-c statement_timeout=5s`).
    pub fn options(mut self, options: &str) -> Config {
        self.options = Some(options.to_owned());
        self
    }

    /// Limit on connecting as a whole: DNS, the TCP connect, TLS and
    /// authentication (default 5 s; `None`: no limit, as libpq's
    /// `connect_timeout=0`).
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Config {
        self.connect_timeout = t;
        self
    }

    /// Socket read timeout for every call (a query slower than this fails
    /// with a timeout and the connection is closed). Default `None`: set it
    /// only above your slowest query.
    pub fn read_timeout(mut self, t: Option<Duration>) -> Config {
        self.read_timeout = t;
        self
    }

    /// Socket write timeout (default `None`).
    pub fn write_timeout(mut self, t: Option<Duration>) -> Config {
        self.write_timeout = t;
        self
    }

    /// TCP keep-alive: `Some(period)` probes an idle connection after
    /// `period` of silence, then every `period`, so a server that vanished
    /// fails the waiting call instead of leaving it hanging; `None` turns
    /// it off. Default 5 minutes (pgx's). The connection string's
    /// `keepalives=0` and `keepalives_idle=SECS` set it too.
    pub fn keepalive(mut self, period: Option<Duration>) -> Config {
        self.keepalive = period;
        self
    }

    /// The TLS mode.
    pub fn ssl_mode(mut self, mode: SslMode) -> Config {
        self.ssl_mode = mode;
        self
    }

    /// A PEM file of CA certificates to trust instead of the webpki roots
    /// (libpq's `sslrootcert`); `system` trusts the operating system's
    /// store, as in libpq 16. Setting it turns certificate checks on under
    /// `sslmode=prefer` and `require` too, as in libpq.
    pub fn ssl_root_cert(mut self, path: impl AsRef<Path>) -> Config {
        self.ssl_root_cert = Some(path.as_ref().to_owned());
        self
    }

    /// Which servers to trust and which client certificate to present
    /// (fibra-net's [`Trust`](fibra_net::tls::Trust), the same for every
    /// fibra client); it takes the place of
    /// [`ssl_root_cert`](Config::ssl_root_cert) and, like it, turns
    /// certificate checks on under every `sslmode` that uses TLS.
    #[cfg(feature = "tls")]
    pub fn tls_trust(mut self, trust: fibra_net::tls::Trust) -> Config {
        self.tls_trust = Some(trust);
        self
    }

    /// Whether SCRAM authentication binds to the TLS channel.
    pub fn channel_binding(mut self, mode: ChannelBinding) -> Config {
        self.channel_binding = mode;
        self
    }

    /// How many prepared statements each connection caches (0 disables the
    /// cache: statements are prepared unnamed for every call).
    pub fn statement_cache_capacity(mut self, n: usize) -> Config {
        self.statement_cache_capacity = n;
        self
    }

    /// The host.
    pub fn get_host(&self) -> &Host {
        &self.host
    }

    /// The port.
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// The user.
    pub fn get_user(&self) -> &str {
        &self.user
    }

    /// The database (defaults to the user name).
    pub fn get_dbname(&self) -> &str {
        self.dbname.as_deref().unwrap_or(&self.user)
    }

    /// The TLS mode.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    fn set(mut self, key: &str, value: &str) -> Result<Config> {
        let secs = |v: &str| -> Result<Option<Duration>> {
            let n: u64 = v
                .parse()
                .map_err(|_| Error::config(format!("bad {key}: {v:?}")))?;
            Ok((n > 0).then(|| Duration::from_secs(n)))
        };
        match key {
            "host" => self = self.host(value),
            "hostaddr" => self.host = Host::Tcp(value.to_owned()),
            "port" => {
                self.port = value
                    .parse()
                    .map_err(|_| Error::config(format!("bad port {value:?}")))?;
            }
            "user" => self.user = value.to_owned(),
            "password" => self.password = Some(value.as_bytes().to_vec()),
            "dbname" => self.dbname = Some(value.to_owned()),
            "application_name" => self.application_name = Some(value.to_owned()),
            "options" => self.options = Some(value.to_owned()),
            "connect_timeout" => self.connect_timeout = secs(value)?,
            "keepalives" => {
                if value == "0" {
                    self.keepalive = None;
                } else if self.keepalive.is_none() {
                    self.keepalive = Some(Duration::from_secs(300));
                }
            }
            "keepalives_idle" => {
                if self.keepalive.is_some() {
                    self.keepalive = secs(value)?.or(self.keepalive);
                }
            }
            "channel_binding" => {
                self.channel_binding = match value {
                    "disable" => ChannelBinding::Disable,
                    "prefer" => ChannelBinding::Prefer,
                    "require" => ChannelBinding::Require,
                    _ => return Err(Error::config(format!("bad channel_binding {value:?}"))),
                }
            }
            "sslrootcert" => self.ssl_root_cert = Some(PathBuf::from(value)),
            "sslmode" => {
                self.ssl_mode = match value {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" | "verify-ca" => SslMode::Require,
                    "verify-full" => SslMode::VerifyFull,
                    _ => return Err(Error::config(format!("bad sslmode {value:?}"))),
                }
            }
            // Accepted and ignored, as libpq does for settings it does not use.
            "client_encoding" | "fallback_application_name" | "target_session_attrs" => {}
            _ => return Err(Error::config(format!("unknown setting {key:?}"))),
        }
        Ok(self)
    }

    fn parse_url(s: &str) -> Result<Config> {
        let rest = s
            .strip_prefix("postgres://")
            .or_else(|| s.strip_prefix("postgresql://"))
            .ok_or_else(|| Error::config("not a postgres:// URL"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut cfg = Config::new();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(u) = userinfo {
            let (user, pass) = match u.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (u, None),
            };
            if !user.is_empty() {
                cfg.user = decode(user)?;
            }
            if let Some(p) = pass {
                cfg.password = Some(decode(p)?.into_bytes());
            }
        }
        if !hostport.is_empty() {
            let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
                let (h, rest) = h
                    .split_once(']')
                    .ok_or_else(|| Error::config("unclosed [ in host"))?;
                (h, rest.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (hostport, None),
                }
            };
            if !host.is_empty() {
                cfg = cfg.host(&decode(host)?);
            }
            if let Some(p) = port {
                cfg = cfg.set("port", p)?;
            }
        }
        if !path.is_empty() {
            cfg.dbname = Some(decode(path)?);
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            cfg = cfg.set(&decode(k)?, &decode(v)?)?;
        }
        Ok(cfg)
    }

    fn parse_key_value(s: &str) -> Result<Config> {
        let mut cfg = Config::new();
        let mut chars = s.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek().is_none() {
                return Ok(cfg);
            }
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.next() != Some('=') {
                return Err(Error::config(format!("missing = after {key:?}")));
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.peek() == Some(&'\'') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(Error::config("unterminated quoted value")),
                        Some('\'') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => value.push(c),
                            None => return Err(Error::config("dangling backslash")),
                        },
                        Some(c) => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    chars.next();
                    if c == '\\' {
                        match chars.next() {
                            Some(c) => value.push(c),
                            None => return Err(Error::config("dangling backslash")),
                        }
                    } else {
                        value.push(c);
                    }
                }
            }
            cfg = cfg.set(&key, &value)?;
        }
    }
}

/// Percent-decoding for URL parts. `percent-encoding` passes a malformed
/// escape through as it is; libpq refuses one, and so does this, so the check
/// for it stays here.
fn decode(s: &str) -> Result<String> {
    let well_escaped = s.split('%').skip(1).all(|rest| {
        rest.as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_escaped {
        return Err(Error::config(format!("bad percent escape in {s:?}")));
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::config("URL part is not UTF-8"))
}

impl FromStr for Config {
    type Err = Error;

    /// Parses a `postgres://user:pass@host:port/db?key=value` URL (a host
    /// that is a percent-encoded absolute path is a Unix socket directory)
    /// or a libpq `key=value` string.
    fn from_str(s: &str) -> Result<Config> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Config::parse_url(s)
        } else {
            Config::parse_key_value(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url() {
        let c: Config =
            "postgresql://al%40ice:p%3Aw@[::1]:6000/my%20db?sslmode=disable&connect_timeout=3"
                .parse()
                .unwrap();
        assert_eq!(c.user, "al@ice");
        assert_eq!(c.password.as_deref(), Some(&b"p:w"[..]));
        assert_eq!(c.host, Host::Tcp("::1".into()));
        assert_eq!(c.port, 6000);
        assert_eq!(c.get_dbname(), "my db");
        assert_eq!(c.ssl_mode, SslMode::Disable);
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(3)));
        let u: Config = "postgres://%2Ftmp%2Fpg/db".parse().unwrap();
        assert_eq!(u.host, Host::Unix("/tmp/pg".into()));
        assert!("postgres://h:notaport/".parse::<Config>().is_err());
        assert!("postgres://h/?bogus=1".parse::<Config>().is_err());
        assert!("postgres://u:p%zz@h/db".parse::<Config>().is_err());
        assert!("postgres://h/db%2".parse::<Config>().is_err());
    }

    #[test]
    fn key_value() {
        let c: Config = "host=/run/pg port = 15432 user=bob password='it''s' dbname=x"
            .parse()
            .unwrap_or_else(|_| Config::new());
        // A doubled quote is not an escape in our parser: quote with \'.
        let _ = c;
        let c: Config = r"host=/run/pg port = 15432 user=bob password='it\'s a' dbname=x"
            .parse()
            .unwrap();
        assert_eq!(c.host, Host::Unix("/run/pg".into()));
        assert_eq!(c.port, 15432);
        assert_eq!(c.password.as_deref(), Some(&b"it's a"[..]));
        assert_eq!(c.get_dbname(), "x");
        assert!("host".parse::<Config>().is_err());
        assert!("password='x".parse::<Config>().is_err());
    }

    #[test]
    fn debug_hides_password() {
        let c = Config::new().password("hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
