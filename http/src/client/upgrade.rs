//! A connection after `101 Switching Protocols`, on either side: the
//! transport (TCP, Unix socket or TLS) with the bytes already read past the
//! head, as one `Read + Write` object or as a reading and a writing half
//! for two coroutines.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use fibra_net::{TcpStream, UnixStream};
use fibra_runtime::pool::PooledConn;

use super::conn::{HostManager, Stream};

/// An owned connection that switched protocols (hyper's `Upgraded`): on
/// the client side from
/// [`client::Response::upgrade`](super::Response::upgrade) (Go's `101`
/// response body), on the server side the argument of
/// [`Response::upgrade`](crate::Response::upgrade)'s callback (Go's
/// `Hijack`). Reads return the bytes the peer sent after the head first,
/// then the socket's. Over TLS the session goes on.
///
/// [`Upgraded::split`] gives a reading half for one coroutine and a
/// writing half for others, so a protocol can read and write at once.
/// Dropping it closes the connection.
pub struct Upgraded {
    io: Io,
    read_ahead: ReadAhead,
}

/// The transport: whole (a client connection, a plain server one), or
/// already split (a server's TLS connection, split after its handshake).
enum Io {
    Whole(Stream),
    #[cfg(feature = "tls")]
    Halves(ReadInner, WriteInner),
}

/// Bytes read from the socket before the switch, not yet handed out.
#[derive(Default)]
struct ReadAhead {
    buf: Vec<u8>,
    pos: usize,
}

impl ReadAhead {
    /// Copies pending bytes into `out`; `None` when there are none.
    fn read(&mut self, out: &mut [u8]) -> Option<usize> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() || out.is_empty() {
            return None;
        }
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf = Vec::new();
            self.pos = 0;
        }
        Some(n)
    }

    fn len(&self) -> usize {
        self.buf.len() - self.pos
    }
}

fn no_ip_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a Unix socket connection has no IP address",
    )
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection already handed over",
    )
}

impl Upgraded {
    /// Takes the connection of a switched response out of its pool (whose
    /// slot is freed: the connection is never pooled again).
    pub(crate) fn detach(mut conn: PooledConn<HostManager>) -> Upgraded {
        let (stream, buf) = conn.detach();
        conn.discard();
        Upgraded {
            io: Io::Whole(stream),
            read_ahead: ReadAhead { buf, pos: 0 },
        }
    }

    /// A server's side of a switched connection: the socket and the bytes
    /// read after the request head.
    pub(crate) fn from_tcp(stream: TcpStream, read_ahead: Vec<u8>) -> Upgraded {
        Upgraded {
            io: Io::Whole(Stream::Tcp(stream)),
            read_ahead: ReadAhead {
                buf: read_ahead,
                pos: 0,
            },
        }
    }

    /// A server's side of a switched TLS connection: the halves of its
    /// session and the bytes read after the request head.
    #[cfg(feature = "tls")]
    pub(crate) fn from_tls_halves(
        read: fibra_net::tls::TlsReadHalf,
        write: fibra_net::tls::TlsWriteHalf,
        read_ahead: Vec<u8>,
    ) -> Upgraded {
        Upgraded {
            io: Io::Halves(ReadInner::Tls(read), WriteInner::Tls(write)),
            read_ahead: ReadAhead {
                buf: read_ahead,
                pos: 0,
            },
        }
    }

    /// How many bytes read past the `101` head are still waiting to be
    /// read.
    pub fn read_ahead_len(&self) -> usize {
        self.read_ahead.len()
    }

    /// The peer's address (for a proxied connection, the proxy's).
    ///
    /// # Errors
    /// The socket's error; `Unsupported` over a Unix socket.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.io {
            Io::Whole(Stream::Tcp(s)) => s.peer_addr(),
            Io::Whole(Stream::Unix(_)) => Err(no_ip_address()),
            #[cfg(feature = "tls")]
            Io::Whole(Stream::Tls(s)) => s.get_ref().peer_addr(),
            Io::Whole(Stream::Detached) => Err(gone()),
            #[cfg(feature = "tls")]
            Io::Halves(r, _) => r.peer_addr(),
        }
    }

    /// Splits the connection into a reading half (which gets the bytes
    /// read ahead) and a writing half, each usable from its own coroutine:
    /// a reader blocked in `read` holds up no writer. Over TLS both share
    /// the session (see [`fibra_net::tls::TlsStream::split`]).
    pub fn split(self) -> (UpgradedReadHalf, UpgradedWriteHalf) {
        let stream = match self.io {
            Io::Whole(s) => s,
            #[cfg(feature = "tls")]
            Io::Halves(read, write) => {
                return (
                    UpgradedReadHalf {
                        inner: read,
                        read_ahead: self.read_ahead,
                    },
                    UpgradedWriteHalf { inner: write },
                )
            }
        };
        let (read, write) = match stream {
            Stream::Tcp(s) => {
                let s = Arc::new(s);
                (ReadInner::Tcp(s.clone()), WriteInner::Tcp(s))
            }
            Stream::Unix(s) => {
                let s = Arc::new(s);
                (ReadInner::Unix(s.clone()), WriteInner::Unix(s))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let (r, w) = (*s).split();
                (ReadInner::Tls(r), WriteInner::Tls(w))
            }
            Stream::Detached => (ReadInner::Detached, WriteInner::Detached),
        };
        (
            UpgradedReadHalf {
                inner: read,
                read_ahead: self.read_ahead,
            },
            UpgradedWriteHalf { inner: write },
        )
    }
}

impl Read for Upgraded {
    /// Reads the bytes read ahead first, then from the connection.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = self.read_ahead.read(buf) {
            return Ok(n);
        }
        match &mut self.io {
            Io::Whole(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Io::Halves(r, _) => r.read(buf),
        }
    }
}

impl Write for Upgraded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.io {
            Io::Whole(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Io::Halves(_, w) => (&*w).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.io {
            Io::Whole(s) => s.flush(),
            #[cfg(feature = "tls")]
            Io::Halves(..) => Ok(()),
        }
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.io {
            Io::Whole(Stream::Tcp(_)) => "tcp",
            Io::Whole(Stream::Unix(_)) => "unix",
            #[cfg(feature = "tls")]
            Io::Whole(Stream::Tls(_)) | Io::Halves(..) => "tls",
            Io::Whole(Stream::Detached) => "detached",
        };
        f.debug_struct("Upgraded")
            .field("transport", &transport)
            .field("read_ahead", &self.read_ahead.len())
            .finish()
    }
}

enum ReadInner {
    Tcp(Arc<TcpStream>),
    Unix(Arc<UnixStream>),
    #[cfg(feature = "tls")]
    Tls(fibra_net::tls::TlsReadHalf),
    Detached,
}

enum WriteInner {
    Tcp(Arc<TcpStream>),
    Unix(Arc<UnixStream>),
    #[cfg(feature = "tls")]
    Tls(fibra_net::tls::TlsWriteHalf),
    Detached,
}

/// The reading half of an [`Upgraded`] connection, from
/// [`Upgraded::split`].
pub struct UpgradedReadHalf {
    inner: ReadInner,
    read_ahead: ReadAhead,
}

/// The writing half of an [`Upgraded`] connection, from
/// [`Upgraded::split`]. `Write` is implemented for `&UpgradedWriteHalf`
/// too, so coroutines can share it behind an `Arc`; over TCP and Unix
/// sockets a `write` may send part of its buffer, so coroutines sharing it
/// order their whole messages themselves (a lock around `write_all`).
pub struct UpgradedWriteHalf {
    inner: WriteInner,
}

/// Shuts down a socket; `NotConnected` (the peer is already gone) is not
/// an error here.
fn shutdown_socket(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        r => r,
    }
}

impl ReadInner {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            ReadInner::Tcp(s) => s.peer_addr(),
            ReadInner::Unix(_) => Err(no_ip_address()),
            #[cfg(feature = "tls")]
            ReadInner::Tls(s) => s.get_ref().peer_addr(),
            ReadInner::Detached => Err(gone()),
        }
    }
}

impl Read for ReadInner {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadInner::Tcp(s) => (&**s).read(buf),
            ReadInner::Unix(s) => (&**s).read(buf),
            #[cfg(feature = "tls")]
            ReadInner::Tls(s) => s.read(buf),
            ReadInner::Detached => Err(gone()),
        }
    }
}

impl Write for &WriteInner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteInner::Tcp(s) => (&**s).write(buf),
            WriteInner::Unix(s) => (&**s).write(buf),
            #[cfg(feature = "tls")]
            WriteInner::Tls(s) => (&*s).write(buf),
            WriteInner::Detached => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl UpgradedReadHalf {
    /// The peer's address (for a proxied connection, the proxy's).
    ///
    /// # Errors
    /// The socket's error; `Unsupported` over a Unix socket.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Shuts down the socket underneath, as
    /// [`TcpStream::shutdown`](fibra_net::TcpStream::shutdown) (a reader
    /// blocked on the other half then sees end of stream). Over TLS this
    /// sends no `close_notify`: see [`UpgradedWriteHalf::close_notify`].
    ///
    /// # Errors
    /// The socket's error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        shutdown_socket(match &self.inner {
            ReadInner::Tcp(s) => s.shutdown(how),
            ReadInner::Unix(s) => s.shutdown(how),
            #[cfg(feature = "tls")]
            ReadInner::Tls(s) => s.get_ref().shutdown(how),
            ReadInner::Detached => Ok(()),
        })
    }
}

impl Read for UpgradedReadHalf {
    /// Reads the bytes read ahead first, then from the connection.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(n) = self.read_ahead.read(buf) {
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

impl UpgradedWriteHalf {
    /// Over TLS, sends `close_notify` (the peer's reads then end); later
    /// writes fail. Does nothing on a plain connection.
    ///
    /// # Errors
    /// The socket's write errors.
    pub fn close_notify(&self) -> io::Result<()> {
        match &self.inner {
            #[cfg(feature = "tls")]
            WriteInner::Tls(s) => s.close_notify(),
            _ => Ok(()),
        }
    }

    /// Shuts down the socket underneath, as
    /// [`UpgradedReadHalf::shutdown`].
    ///
    /// # Errors
    /// The socket's error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        shutdown_socket(match &self.inner {
            WriteInner::Tcp(s) => s.shutdown(how),
            WriteInner::Unix(s) => s.shutdown(how),
            #[cfg(feature = "tls")]
            WriteInner::Tls(s) => s.get_ref().shutdown(how),
            WriteInner::Detached => Ok(()),
        })
    }
}

impl Write for &UpgradedWriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.inner).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UpgradedWriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for UpgradedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedReadHalf")
            .field("read_ahead", &self.read_ahead.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UpgradedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedWriteHalf").finish_non_exhaustive()
    }
}
