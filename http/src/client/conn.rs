//! Connections: the transports (TCP, TLS, Unix socket), opening them
//! (through a proxy tunnel when configured), and the per-host pool manager.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::{TcpStream, UnixStream};
use fibra_runtime::pool::Manage;

use super::config::Config;
use super::error::{Error, ErrorKind, Result};
use super::proxy::Proxy;
use super::target::{Scheme, Target};
use crate::proto::parse_response_head;

/// An open transport.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<fibra_net::tls::TlsStream<TcpStream>>),
    /// Handed over to an [`Upgraded`](super::Upgraded) connection; the
    /// pool closes what is left.
    Detached,
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection handed over after a protocol switch",
    )
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
            Stream::Detached => Err(detached()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
            Stream::Detached => Err(detached()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            Stream::Detached => Ok(()),
        }
    }
}

/// Initial size of a connection's read buffer.
const READ_BUF: usize = 8 * 1024;

/// A client connection with its read buffer.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Responses completed on this connection.
    pub(crate) served: u64,
    /// Set when the connection must not go back to the pool.
    pub(crate) broken: bool,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            served: 0,
            broken: false,
        }
    }

    /// Bytes received and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Takes the transport and the bytes read ahead of the caller out,
    /// leaving a connection that can only be closed.
    pub(crate) fn detach(&mut self) -> (Stream, Vec<u8>) {
        let rest = self.buffered().to_vec();
        self.start = 0;
        self.end = 0;
        self.broken = true;
        (std::mem::replace(&mut self.stream, Stream::Detached), rest)
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes from the socket, keeping the buffered ones; the
    /// buffer grows up to `limit` bytes. Returns how many arrived (0 at end
    /// of stream).
    ///
    /// # Errors
    /// The socket's errors.
    pub(crate) fn fill(&mut self, limit: usize) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let want = (self.buf.len() * 2).min(limit.max(READ_BUF));
            if want <= self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "read buffer full",
                ));
            }
            self.buf.resize(want, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Whether an idle connection still looks usable: nothing unsolicited
    /// buffered or arriving, and no end of stream. Does not block.
    fn is_alive(&mut self) -> bool {
        if self.start != self.end {
            return false;
        }
        let mut byte = [0u8; 1];
        let probe = fibra_runtime::with_deadline(Instant::now(), || self.stream.read(&mut byte));
        matches!(probe, Err(e) if e.kind() == io::ErrorKind::TimedOut && !fibra_runtime::is_canceled(&e))
    }
}

/// What a pool is keyed by: the origin, and the proxy in between.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    scheme: Scheme,
    host: String,
    port: u16,
    unix_path: Option<PathBuf>,
    proxy: Option<(String, u16)>,
    /// Plain HTTP through a `CONNECT` tunnel rather than in absolute form
    /// (requests asking for a protocol upgrade, which a forwarding proxy
    /// would not pass on).
    tunnel: bool,
}

impl PoolKey {
    pub(crate) fn new(
        target: &Target,
        unix_path: Option<&PathBuf>,
        proxy: Option<&Proxy>,
        tunnel: bool,
    ) -> PoolKey {
        PoolKey {
            scheme: target.scheme,
            host: target.host.clone(),
            port: target.port,
            unix_path: unix_path.cloned(),
            proxy: proxy.map(|p| (p.host.clone(), p.port)),
            tunnel: tunnel && proxy.is_some() && target.scheme == Scheme::Http,
        }
    }
}

/// Opens connections to one pool key's origin.
pub(crate) struct HostManager {
    key: PoolKey,
    proxy: Option<Proxy>,
    config: Arc<Config>,
}

impl HostManager {
    pub(crate) fn new(key: PoolKey, proxy: Option<Proxy>, config: Arc<Config>) -> HostManager {
        HostManager { key, proxy, config }
    }

    fn connect_tcp(&self, host: &str, port: u16) -> Result<TcpStream> {
        let dialer = fibra_net::Dialer::new()
            .timeout(self.config.connect_timeout)
            .keepalive(self.config.tcp_keepalive);
        dialer.dial((host, port)).map_err(|e| {
            Error::io(
                ErrorKind::Connect,
                format!("cannot connect to {host}:{port}"),
                e,
            )
        })
    }

    /// Sends `CONNECT` through the proxy on `conn` and checks the answer.
    fn tunnel(&self, conn: &mut Conn, proxy: &Proxy) -> Result<()> {
        let authority = if self.key.host.contains(':') {
            format!("[{}]:{}", self.key.host, self.key.port)
        } else {
            format!("{}:{}", self.key.host, self.key.port)
        };
        let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = &proxy.auth {
            req.push_str("Proxy-Authorization: ");
            req.push_str(auth.to_str().unwrap_or_default());
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let fail = |e: io::Error| Error::io(ErrorKind::Connect, "proxy tunnel failed", e);
        let limit = self.config.max_header_bytes;
        with_optional_timeout(self.config.connect_timeout, || -> Result<()> {
            conn.stream.write_all(req.as_bytes()).map_err(fail)?;
            loop {
                match parse_response_head(conn.buffered(), limit, self.config.max_headers) {
                    Ok(Some((head, n))) => {
                        conn.consume(n);
                        if !head.status.is_success() {
                            return Err(Error::new(
                                ErrorKind::Connect,
                                format!("proxy refused CONNECT: {}", head.status),
                            ));
                        }
                        if !conn.buffered().is_empty() {
                            return Err(Error::new(
                                ErrorKind::Connect,
                                "proxy sent data after CONNECT",
                            ));
                        }
                        return Ok(());
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Err(
                            Error::new(ErrorKind::Connect, "bad proxy response").with_source(e)
                        )
                    }
                }
                if conn.fill(limit + 1).map_err(fail)? == 0 {
                    return Err(fail(io::ErrorKind::UnexpectedEof.into()));
                }
            }
        })
    }

    #[cfg(feature = "tls")]
    fn handshake(&self, conn: Conn) -> Result<Conn> {
        let tcp = match conn.stream {
            Stream::Tcp(t) => t,
            _ => return Err(Error::new(ErrorKind::Connect, "TLS needs a TCP connection")),
        };
        let connector = self.config.tls()?;
        let host = self.key.host.as_str();
        let tls = with_optional_timeout(self.config.tls_timeout, || connector.connect(host, tcp))
            .map_err(|e| {
            Error::io(
                ErrorKind::Connect,
                format!("TLS handshake with {host} failed"),
                e,
            )
        })?;
        Ok(Conn::new(Stream::Tls(Box::new(tls))))
    }

    #[cfg(not(feature = "tls"))]
    fn handshake(&self, _conn: Conn) -> Result<Conn> {
        Err(Error::new(
            ErrorKind::Builder,
            "https:// needs fibra-http's `tls` feature",
        ))
    }
}

impl Manage for HostManager {
    type Conn = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn> {
        if let Some(path) = &self.key.unix_path {
            let s =
                with_optional_timeout(self.config.connect_timeout, || UnixStream::connect(path))
                    .map_err(|e| {
                        Error::io(
                            ErrorKind::Connect,
                            format!("cannot connect to {}", path.display()),
                            e,
                        )
                    })?;
            return Ok(Conn::new(Stream::Unix(s)));
        }
        let (host, port) = match &self.proxy {
            Some(p) => (p.host.as_str(), p.port),
            None => (self.key.host.as_str(), self.key.port),
        };
        let mut conn = Conn::new(Stream::Tcp(self.connect_tcp(host, port)?));
        if self.key.scheme == Scheme::Https || self.key.tunnel {
            if let Some(p) = &self.proxy {
                self.tunnel(&mut conn, p)?;
            }
        }
        if self.key.scheme == Scheme::Https {
            conn = self.handshake(conn)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Conn) -> bool {
        conn.is_alive()
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

/// Runs `f` within a `timeout` scope, if one is set.
pub(crate) fn with_optional_timeout<R>(timeout: Option<Duration>, f: impl FnOnce() -> R) -> R {
    match timeout {
        Some(t) => fibra_runtime::with_timeout(t, f),
        None => f(),
    }
}

/// Runs `f` within a `deadline` scope, if one is set.
pub(crate) fn with_optional_deadline<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    match deadline {
        Some(d) => fibra_runtime::with_deadline(d, f),
        None => f(),
    }
}
