//! The client transport's stream: one type over TCP, Unix sockets and
//! (feature `tls`) TLS over TCP, so that protocol crates hold no stream
//! enum of their own.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{TcpStream, UnixStream};

/// A client connection over TCP, a Unix socket, or (feature `tls`) TLS over
/// TCP: what every fibra client talks to its server through.
///
/// Open one with [`Dialer::dial`](crate::Dialer::dial) and `Stream::from`,
/// or [`Stream::connect_unix`]; upgrade a TCP stream to TLS with
/// [`upgrade_tls`](Stream::upgrade_tls). `Read` and `Write` take
/// `&mut self` (a TLS session is one state machine); to read in one
/// coroutine while others write, [`split`](Stream::split) it.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use fibra_net::{Dialer, Stream};
///
/// fibra_runtime::run(|| {
///     let mut s = Stream::from(Dialer::new().dial(("127.0.0.1", 6379)).unwrap());
///     s.write_all(b"PING\r\n").unwrap();
///     let mut pong = [0; 7];
///     s.read_exact(&mut pong).unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct Stream {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream<TcpStream>>),
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Stream {
        Stream { kind: Kind::Tcp(s) }
    }
}

impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Stream {
        Stream {
            kind: Kind::Unix(s),
        }
    }
}

#[cfg(feature = "tls")]
impl From<crate::tls::TlsStream<TcpStream>> for Stream {
    fn from(s: crate::tls::TlsStream<TcpStream>) -> Stream {
        Stream {
            kind: Kind::Tls(Box::new(s)),
        }
    }
}

fn not_tcp() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a Unix socket has no IP address",
    )
}

impl Stream {
    /// Connects to the Unix socket at `path`.
    ///
    /// # Errors
    /// As [`UnixStream::connect`].
    pub fn connect_unix<P: AsRef<Path>>(path: P) -> io::Result<Stream> {
        UnixStream::connect(path).map(Stream::from)
    }

    /// The TCP connection (under TLS too), or `None` for a Unix socket.
    /// Reading or writing it directly corrupts a TLS session.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match &self.kind {
            Kind::Tcp(s) => Some(s),
            Kind::Unix(_) => None,
            #[cfg(feature = "tls")]
            Kind::Tls(s) => Some(s.get_ref()),
        }
    }

    /// The Unix socket, or `None` for TCP and TLS.
    pub fn unix(&self) -> Option<&UnixStream> {
        match &self.kind {
            Kind::Unix(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Kind::Tls(_) = self.kind {
            return true;
        }
        false
    }

    /// Runs the TLS handshake over this TCP stream for `server_name` (a DNS
    /// name or an IP literal, checked against the certificate) and returns
    /// the encrypted stream. Read nothing through a buffer before calling
    /// it: bytes a buffer already holds were not protected by TLS.
    ///
    /// # Errors
    /// `InvalidInput` for a Unix socket, an already encrypted stream or an
    /// invalid name; as [`TlsConnector::connect`](crate::tls::TlsConnector::connect).
    #[cfg(feature = "tls")]
    pub fn upgrade_tls(
        self,
        connector: &crate::tls::TlsConnector,
        server_name: &str,
    ) -> io::Result<Stream> {
        match self.kind {
            Kind::Tcp(tcp) => connector.connect(server_name, tcp).map(Stream::from),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS goes over a plain TCP stream only",
            )),
        }
    }

    /// The certificate chain the server presented (leaf first), on a TLS
    /// stream.
    #[cfg(feature = "tls")]
    pub fn peer_certificates(
        &self,
    ) -> Option<&[crate::tls::rustls::pki_types::CertificateDer<'static>]> {
        match &self.kind {
            Kind::Tls(s) => s.peer_certificates(),
            _ => None,
        }
    }

    /// The server's address.
    ///
    /// # Errors
    /// `Unsupported` for a Unix socket (see [`unix`](Stream::unix));
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().ok_or_else(not_tcp)?.peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// `Unsupported` for a Unix socket; what `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().ok_or_else(not_tcp)?.local_addr()
    }

    /// Sets the read timeout (`None`: wait for ever); an expired one fails
    /// the read with `TimedOut`. Under TLS it bounds each socket read.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.kind {
            Kind::Unix(s) => s.set_read_timeout(timeout),
            _ => self.tcp().ok_or_else(not_tcp)?.set_read_timeout(timeout),
        }
    }

    /// Sets the write timeout (`None`: wait for ever).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.kind {
            Kind::Unix(s) => s.set_write_timeout(timeout),
            _ => self.tcp().ok_or_else(not_tcp)?.set_write_timeout(timeout),
        }
    }

    /// The read timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        match &self.kind {
            Kind::Unix(s) => s.read_timeout(),
            _ => self.tcp().ok_or_else(not_tcp)?.read_timeout(),
        }
    }

    /// The write timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        match &self.kind {
            Kind::Unix(s) => s.write_timeout(),
            _ => self.tcp().ok_or_else(not_tcp)?.write_timeout(),
        }
    }

    /// Shuts the socket down (under TLS, without `close_notify`): blocked
    /// reads on any handle return end of file.
    ///
    /// # Errors
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match &self.kind {
            Kind::Unix(s) => s.shutdown(how),
            _ => self.tcp().ok_or_else(not_tcp)?.shutdown(how),
        }
    }

    /// Asks to be told when the server hangs up; see
    /// [`TcpStream::on_hangup`].
    ///
    /// # Errors
    /// What `epoll_ctl` reports.
    pub fn on_hangup(&self, hook: Option<fibra_runtime::io::HangupHook>) -> io::Result<bool> {
        match &self.kind {
            Kind::Unix(s) => s.on_hangup(hook),
            _ => self.tcp().ok_or_else(not_tcp)?.on_hangup(hook),
        }
    }

    /// Splits the stream into a reading half and a cloneable writing half,
    /// so that one coroutine reads while others write (a TLS session
    /// through [`TlsStream::split`](crate::tls::TlsStream::split)).
    ///
    /// # Errors
    /// None for TCP and TLS; the `Result` leaves room for a stream that
    /// cannot be shared.
    pub fn split(self) -> io::Result<(ReadHalf, WriteHalf)> {
        let (r, w) = match self.kind {
            Kind::Tcp(s) => {
                let w = s.try_clone()?;
                (ReadKind::Tcp(s), WriteKind::Tcp(w))
            }
            Kind::Unix(s) => {
                let w = s.try_clone()?;
                (ReadKind::Unix(s), WriteKind::Unix(w))
            }
            #[cfg(feature = "tls")]
            Kind::Tls(s) => {
                let (r, w) = s.split();
                (ReadKind::Tls(r), WriteKind::Tls(w))
            }
        };
        Ok((ReadHalf { kind: r }, WriteHalf { kind: Arc::new(w) }))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Tcp(s) => s.read(buf),
            Kind::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Tcp(s) => s.write(buf),
            Kind::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Tcp(s) => s.write_vectored(bufs),
            Kind::Unix(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.write_vectored(bufs),
        }
    }

    /// Sends what TLS still holds (a no-op for plain sockets).
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.kind {
            #[cfg(feature = "tls")]
            Kind::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

#[derive(Debug)]
enum ReadKind {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsReadHalf),
}

#[derive(Debug)]
enum WriteKind {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsWriteHalf),
}

/// The reading half of a [`Stream::split`] stream.
#[derive(Debug)]
pub struct ReadHalf {
    kind: ReadKind,
}

/// The writing half of a [`Stream::split`] stream. Clones share it;
/// `Write` is implemented for `&WriteHalf` too, so several coroutines can
/// write (each call goes out whole under TLS; over plain sockets, as for
/// `&TcpStream`, order whole messages yourself).
#[derive(Debug, Clone)]
pub struct WriteHalf {
    kind: Arc<WriteKind>,
}

impl ReadHalf {
    /// Sets the read timeout; see [`Stream::set_read_timeout`].
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.kind {
            ReadKind::Tcp(s) => s.set_read_timeout(timeout),
            ReadKind::Unix(s) => s.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            ReadKind::Tls(s) => s.get_ref().set_read_timeout(timeout),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.kind {
            ReadKind::Tcp(s) => s.read(buf),
            ReadKind::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            ReadKind::Tls(s) => s.read(buf),
        }
    }
}

impl WriteHalf {
    /// Shuts the socket down (both halves see it): the reading half's
    /// blocked read returns end of file. How a writer that gave up ends
    /// the connection.
    ///
    /// # Errors
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match &*self.kind {
            WriteKind::Tcp(s) => s.shutdown(how),
            WriteKind::Unix(s) => s.shutdown(how),
            #[cfg(feature = "tls")]
            WriteKind::Tls(s) => s.get_ref().shutdown(how),
        }
    }

    /// Sets the write timeout; see [`Stream::set_write_timeout`].
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &*self.kind {
            WriteKind::Tcp(s) => s.set_write_timeout(timeout),
            WriteKind::Unix(s) => s.set_write_timeout(timeout),
            #[cfg(feature = "tls")]
            WriteKind::Tls(s) => s.get_ref().set_write_timeout(timeout),
        }
    }
}

impl WriteHalf {
    /// Writes all of `buf`, as `write_all`; on failure also says how many
    /// bytes of it were taken, so that a caller who keeps the connection
    /// (or moves to another one) resends only the rest. Under TLS a
    /// failed write may have taken all of `buf`: its ciphertext then goes
    /// out first with the next write or flush.
    ///
    /// # Errors
    /// The socket's errors (`Interrupted` is retried), with the count.
    pub fn write_all_counted(&self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        let mut w = self;
        match &*self.kind {
            #[cfg(feature = "tls")]
            WriteKind::Tls(s) => s.write_all_counted(buf),
            _ => {
                while done < buf.len() {
                    match w.write(&buf[done..]) {
                        Ok(0) => return Err((done, io::ErrorKind::WriteZero.into())),
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err((done, e)),
                    }
                }
                Ok(())
            }
        }
    }
}

impl Write for &WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &*self.kind {
            WriteKind::Tcp(s) => (&*s).write(buf),
            WriteKind::Unix(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            WriteKind::Tls(s) => (&*s).write(buf),
        }
    }

    /// Sends what a failed TLS write left behind (a no-op for plain
    /// sockets).
    fn flush(&mut self) -> io::Result<()> {
        match &*self.kind {
            #[cfg(feature = "tls")]
            WriteKind::Tls(s) => (&*s).flush(),
            _ => Ok(()),
        }
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}
