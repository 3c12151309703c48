//! One connection: blocking request/reply over a fibra socket.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use fibra_net::{Buffered, Stream};

use crate::cmd::{cmd, Cmd};
use crate::error::{Error, ErrorKind, Result, ServerErrorKind};
use crate::info::{ConnectionInfo, Protocol};
use crate::proto::{self, Decoded, Limits, Scanner, Value};

const READ_CHUNK: usize = 16 << 10;

/// A connection to one Redis server.
///
/// Calls block the calling coroutine (or thread) until the reply is in.
/// An error reply from the server leaves the connection usable; a socket
/// error, a timeout in the middle of a reply or a protocol error breaks it
/// ([`Connection::is_broken`]), after which every call fails with
/// [`ErrorKind::Closed`] and a [`Pool`](crate::Pool) drops it.
pub struct Connection {
    conn: Buffered<Stream>,
    scanner: Scanner,
    limits: Limits,
    protocol: Protocol,
    broken: bool,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.conn.get_ref().peer_addr().ok())
            .field("protocol", &self.protocol)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Connection {
    /// Connects to a `redis://` or `rediss://` URL.
    ///
    /// # Errors
    /// As [`ConnectionInfo::from_url`] and [`Connection::connect_with`].
    pub fn connect(url: &str) -> Result<Connection> {
        Connection::connect_with(&ConnectionInfo::from_url(url)?)
    }

    /// Connects, negotiates the protocol (`HELLO 3`, or RESP2 when the
    /// server has no HELLO), authenticates, names the connection and
    /// selects the database, as `info` says.
    ///
    /// # Errors
    /// Socket errors (refused, timed out), TLS errors, and the server's
    /// errors for `AUTH` (`WRONGPASS`), `SELECT` and `CLIENT SETNAME`.
    ///
    /// The connect timeout ([`ConnectionInfo::with_connect_timeout`]) bounds
    /// all of it, DNS and the handshake included.
    pub fn connect_with(info: &ConnectionInfo) -> Result<Connection> {
        match info.connect_timeout {
            Some(t) => fibra_runtime::with_timeout(t, || Connection::start(info)),
            None => Connection::start(info),
        }
    }

    fn start(info: &ConnectionInfo) -> Result<Connection> {
        // The connect timeout is the enclosing scope (Connection::connect),
        // which the dialler shares out over DNS and every address.
        let dialer = fibra_net::Dialer::new().keepalive(info.keepalive);
        let mut stream = Stream::from(dialer.dial((info.host.as_str(), info.port))?);
        stream.set_read_timeout(info.read_timeout)?;
        stream.set_write_timeout(info.write_timeout)?;
        if info.tls {
            stream = Connection::tls(info, stream)?;
        }
        let mut conn = Connection {
            conn: Buffered::with_capacity(READ_CHUNK, stream).max_buffer(info.limits.max_reply_len),
            scanner: Scanner::new(),
            limits: info.limits,
            protocol: Protocol::Resp2,
            broken: false,
            read_timeout: info.read_timeout,
        };
        conn.handshake(info)?;
        Ok(conn)
    }

    #[cfg(feature = "tls")]
    fn tls(info: &ConnectionInfo, stream: Stream) -> Result<Stream> {
        let connector = info.tls_trust.connector()?;
        Ok(stream.upgrade_tls(&connector, &info.host)?)
    }

    #[cfg(not(feature = "tls"))]
    fn tls(_: &ConnectionInfo, _: Stream) -> Result<Stream> {
        Err(Error::config("TLS needs fibra-redis's `tls` feature"))
    }

    fn handshake(&mut self, info: &ConnectionInfo) -> Result<()> {
        let mut need_auth = info.password.is_some();
        let mut need_name = info.client_name.is_some();
        if info.protocol == Protocol::Resp3 {
            let mut hello = cmd("HELLO").arg(3);
            if let Some(p) = &info.password {
                hello = hello
                    .arg("AUTH")
                    .arg(info.username.as_deref().unwrap_or("default"))
                    .arg(p);
            }
            if let Some(n) = &info.client_name {
                hello = hello.arg("SETNAME").arg(n);
            }
            match self.request(&hello) {
                Ok(_) => {
                    self.protocol = Protocol::Resp3;
                    need_auth = false;
                    need_name = false;
                }
                // No HELLO (before Redis 6) or no RESP3: stay on RESP2.
                Err(e)
                    if matches!(
                        e.server_error().map(|s| s.kind()),
                        Some(ServerErrorKind::Generic | ServerErrorKind::NoProto)
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        if need_auth {
            let mut auth = cmd("AUTH");
            if let Some(u) = &info.username {
                auth = auth.arg(u);
            }
            auth.arg(info.password.as_deref()).execute(self)?;
        }
        if need_name {
            cmd("CLIENT")
                .arg("SETNAME")
                .arg(info.client_name.as_deref())
                .execute(self)?;
        }
        if info.db != 0 {
            cmd("SELECT").arg(info.db).execute(self)?;
        }
        Ok(())
    }

    /// The protocol version in use after the handshake.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether a socket, timeout or protocol error has left the connection
    /// unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The server's address.
    ///
    /// # Errors
    /// The socket's error.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        Ok(self.conn.get_ref().peer_addr()?)
    }

    /// Bounds each socket read; see [`ConnectionInfo::with_read_timeout`].
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) -> Result<()> {
        self.conn.get_ref().set_read_timeout(t)?;
        self.read_timeout = t;
        Ok(())
    }

    /// Bounds each socket write.
    ///
    /// # Errors
    /// `InvalidInput` for a zero duration, as std.
    pub fn set_write_timeout(&mut self, t: Option<Duration>) -> Result<()> {
        Ok(self.conn.get_ref().set_write_timeout(t)?)
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Sends a command and returns its reply; an error reply becomes
    /// `Err`.
    ///
    /// # Errors
    /// The server's error reply (the connection stays usable); socket and
    /// protocol errors (the connection breaks).
    pub fn request(&mut self, c: &Cmd) -> Result<Value> {
        self.check()?;
        c.encode(self.conn.write_buf());
        let r = self.conn.flush();
        self.io(r)?;
        let reply = match c.block_timeout() {
            Some(block) => self.read_reply_blocking(block),
            None => self.read_reply(),
        };
        match reply? {
            Value::Error(e) => Err(e.into()),
            v => Ok(v),
        }
    }

    /// Sends `c` and converts its reply: `conn.query(&cmd("GET").arg("k"))`.
    ///
    /// # Errors
    /// As [`Connection::request`], plus conversion errors.
    pub fn query<T: crate::FromRedis>(&mut self, c: &Cmd) -> Result<T> {
        T::from_redis(self.request(c)?)
    }

    /// Reads the reply of a blocking command that the server may hold for
    /// `block` (`None`: for ever): the read timeout, if any, is stretched
    /// to `block` plus itself (go-redis adds 10 s; this adds the read
    /// timeout, 3 s by default), or lifted for an endless block.
    fn read_reply_blocking(&mut self, block: Option<Duration>) -> Result<Value> {
        let Some(base) = self.read_timeout else {
            return self.read_reply();
        };
        let stretched = block.map(|b| b + base);
        self.conn.get_ref().set_read_timeout(stretched)?;
        let r = self.read_reply();
        self.conn.get_ref().set_read_timeout(Some(base))?;
        r
    }

    fn check(&self) -> Result<()> {
        if self.broken {
            return Err(Error::simple(
                ErrorKind::Closed,
                "connection broken by an earlier error",
            ));
        }
        Ok(())
    }

    fn io<T>(&mut self, r: io::Result<T>) -> Result<T> {
        r.map_err(|e| {
            self.broken = true;
            e.into()
        })
    }

    /// Writes raw, already encoded commands.
    pub(crate) fn write_raw(&mut self, wire: &[u8]) -> Result<()> {
        self.check()?;
        let r = self.conn.send(wire);
        self.io(r)
    }

    /// Reads one reply (error replies included, as values), skipping RESP3
    /// push messages, which a plain connection has no use for.
    pub(crate) fn read_reply(&mut self) -> Result<Value> {
        loop {
            match self.read_value(false)? {
                Some(Value::Push(_)) => continue,
                Some(v) => return Ok(v),
                None => return Err(Error::protocol("no reply")),
            }
        }
    }

    /// Reads one value. With `idle_ok`, a read timeout while nothing of a
    /// value has arrived yet returns `None` and leaves the connection
    /// usable (a subscriber waiting for messages); any other failure breaks
    /// it.
    pub(crate) fn read_value(&mut self, idle_ok: bool) -> Result<Option<Value>> {
        self.check()?;
        if !self.conn.buffered().is_empty() {
            match proto::decode(self.conn.buffered(), &self.limits) {
                Ok(Decoded::Complete(v, n)) => {
                    self.conn.consume(n);
                    return Ok(Some(v));
                }
                Ok(Decoded::Partial) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e.into());
                }
            }
        }
        // The reply is incomplete: read until the scanner says it is all
        // here, then decode it once.
        self.scanner = Scanner::new();
        loop {
            let idle = self.conn.buffered().is_empty();
            if let Err(e) = self.fill() {
                if idle_ok && idle && e.is_timeout() {
                    self.broken = false;
                    return Ok(None);
                }
                return Err(e);
            }
            let buf = self.conn.buffered();
            let scanned = self.scanner.scan(buf, &self.limits);
            match scanned {
                Ok(Some(len)) => {
                    let d = proto::decode(&buf[..len], &self.limits);
                    return match d {
                        Ok(Decoded::Complete(v, n)) => {
                            self.conn.consume(n);
                            Ok(Some(v))
                        }
                        Ok(Decoded::Partial) => {
                            self.broken = true;
                            Err(Error::protocol("reply framing disagrees with decoder"))
                        }
                        Err(e) => {
                            self.broken = true;
                            Err(e.into())
                        }
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(e.into());
                }
            }
        }
    }

    /// Reads more of the reply; any failure breaks the connection.
    fn fill(&mut self) -> Result<()> {
        match self.conn.fill() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                self.broken = true;
                Err(Error::protocol(format!(
                    "reply exceeds the max_reply_len limit of {} bytes",
                    self.limits.max_reply_len
                )))
            }
            Err(e) => self.io(Err(e)),
        }
    }

    /// `PING`.
    ///
    /// # Errors
    /// Socket errors.
    pub fn ping(&mut self) -> Result<()> {
        cmd("PING").execute(self)
    }

    /// `SELECT db`: switches this connection's database.
    ///
    /// # Errors
    /// The server's error for a database out of range.
    pub fn select(&mut self, db: i64) -> Result<()> {
        cmd("SELECT").arg(db).execute(self)
    }

    /// `AUTH [user] password`.
    ///
    /// # Errors
    /// `WRONGPASS` ([`ServerErrorKind::WrongPass`]) for bad credentials.
    pub fn auth(&mut self, user: Option<&str>, password: &str) -> Result<()> {
        cmd("AUTH").arg(user).arg(password).execute(self)
    }

    /// `CLIENT SETNAME name`.
    ///
    /// # Errors
    /// The server's error for a name with spaces.
    pub fn set_client_name(&mut self, name: &str) -> Result<()> {
        cmd("CLIENT").arg("SETNAME").arg(name).execute(self)
    }
}
