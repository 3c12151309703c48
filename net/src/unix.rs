//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//! Abstract-namespace addresses are not offered.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::evented::{is_resource_exhaustion, pause_before_retry, Evented, Timeouts};

/// How long to wait before retrying a connect refused with `EAGAIN` (the
/// listener's backlog is full; no readiness event announces room in it).
const CONNECT_RETRY: Duration = Duration::from_millis(1);

/// A Unix stream socket server: [`std::os::unix::net::UnixListener`] whose
/// `accept` parks only the calling coroutine.
///
/// Binding creates the socket file; it is not removed when the listener is
/// dropped (as with std).
#[derive(Debug)]
pub struct UnixListener {
    inner: Arc<Evented<mio::net::UnixListener>>,
}

impl UnixListener {
    /// Binds to `path`.
    ///
    /// # Errors
    /// `AddrInUse` if the file exists, or whatever `bind`/`listen` report.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Arc::new(Evented::new(mio::net::UnixListener::bind(path)?)?),
        })
    }

    /// Takes over a std listener, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: Arc::new(Evented::new(mio::net::UnixListener::from_std(listener))?),
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// The `accept` error, `TimedOut` past a scope deadline, a canceled
    /// error, `NotConnected` once the listener is
    /// [closed](UnixListener::close).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(None, |l| l.accept())?;
        Ok((UnixStream::from_mio(stream)?, addr))
    }

    /// An iterator over connections that waits out descriptor exhaustion,
    /// as [`TcpListener::incoming`](crate::TcpListener::incoming) does, and
    /// ends once the listener is [closed](UnixListener::close).
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// Closes the listener for every handle and coroutine, as
    /// [`TcpListener::close`](crate::TcpListener::close) does: new
    /// connections are refused, every waiting and later `accept` returns
    /// `NotConnected`, `incoming` ends. The socket file stays (remove it
    /// to bind the path again).
    ///
    /// # Errors
    /// Whatever `shutdown` or `epoll_ctl` reports; the listener is closed
    /// anyway.
    pub fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    /// Whether [`close`](UnixListener::close) was called (through any
    /// handle).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The address this listener is bound to.
    ///
    /// # Errors
    /// Whatever `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().local_addr()
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }

    /// Another handle to the same listener.
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: self.inner.clone(),
        })
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}

/// The iterator of [`UnixListener::incoming`]; returns `None` only once
/// the listener is closed.
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        let mut exhausted = false;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => return Some(Ok(stream)),
                Err(e) if is_resource_exhaustion(&e) => {
                    if !exhausted {
                        tracing::warn!(error = %e, "unix accept failed for lack of resources; retrying");
                        exhausted = true;
                    }
                    if let Err(e) = pause_before_retry(None, Duration::from_millis(5)) {
                        return Some(Err(e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(_) if self.listener.is_closed() => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A Unix stream socket: [`std::os::unix::net::UnixStream`] that parks only
/// the calling coroutine. `Read` and `Write` are implemented for
/// `UnixStream` and `&UnixStream`; timeouts, closing and the absence of
/// `set_nonblocking` are as on [`TcpStream`](crate::TcpStream).
#[derive(Debug)]
pub struct UnixStream {
    inner: Arc<Evented<mio::net::UnixStream>>,
    timeouts: Timeouts,
}

impl UnixStream {
    /// Connects to the listener at `path`. When its backlog is full the
    /// connect is retried every millisecond, within the current
    /// `with_timeout` scope.
    ///
    /// # Errors
    /// `NotFound` without a socket file, `ConnectionRefused` when nobody
    /// listens on it, `TimedOut`, a canceled error.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        loop {
            match mio::net::UnixStream::connect(path) {
                Ok(s) => {
                    let stream = UnixStream::from_mio(s)?;
                    // A connect that is still in progress completes when the
                    // socket turns writable.
                    stream.inner.write_with(None, |s| match s.take_error()? {
                        Some(e) => Err(e),
                        None => Ok(()),
                    })?;
                    return Ok(stream);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    pause_before_retry(None, CONNECT_RETRY)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connected pair, like `socketpair(2)`.
    ///
    /// # Errors
    /// Whatever `socketpair` or the reactor reports.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Arc::new(Evented::new(stream)?),
            timeouts: Timeouts::new(),
        })
    }

    /// Takes over a std stream, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// Hands the socket back as a blocking std stream.
    ///
    /// # Errors
    /// `Other` while clones still exist, or whatever `epoll_ctl`/`fcntl`
    /// reports.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let ev = Arc::try_unwrap(self.inner).map_err(|_| crate::shared_handle())?;
        let stream: std::os::unix::net::UnixStream = ev.into_inner()?.into();
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// Another handle to the same connection (shared registration, own
    /// timeouts starting from this handle's).
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: self.inner.clone(),
            timeouts: self.timeouts.snapshot(),
        })
    }

    /// The local address.
    ///
    /// # Errors
    /// Whatever `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// Whatever `getpeername` reports.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().peer_addr()
    }

    /// Shuts down reading, writing or both; waiters on this connection
    /// wake up.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io().shutdown(how)
    }

    /// Asks to be told when the peer hangs up, as
    /// [`TcpStream::on_hangup`](crate::TcpStream::on_hangup).
    ///
    /// # Errors
    /// What `epoll_ctl` reports if the socket has to join the poll first.
    pub fn on_hangup(&self, hook: Option<fibra_runtime::io::HangupHook>) -> io::Result<bool> {
        self.inner.on_hangup(hook)
    }

    /// Sets the read timeout; see [`TcpStream`](crate::TcpStream).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_read(timeout)
    }

    /// Sets the write timeout; see [`TcpStream`](crate::TcpStream).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_write(timeout)
    }

    /// The read timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.read())
    }

    /// The write timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.write())
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }
}

crate::impl_stream_io!(UnixStream);

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}

/// A Unix datagram socket: [`std::os::unix::net::UnixDatagram`] that parks
/// only the calling coroutine. Timeouts are as on
/// [`TcpStream`](crate::TcpStream).
#[derive(Debug)]
pub struct UnixDatagram {
    inner: Arc<Evented<mio::net::UnixDatagram>>,
    timeouts: Timeouts,
}

impl UnixDatagram {
    /// Creates a socket bound to `path`.
    ///
    /// # Errors
    /// `AddrInUse` if the file exists, or whatever `bind` reports.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// Creates a socket bound to no address.
    ///
    /// # Errors
    /// Whatever `socket` or the reactor reports.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair, like `socketpair(2)`.
    ///
    /// # Errors
    /// Whatever `socketpair` or the reactor reports.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Arc::new(Evented::new(socket)?),
            timeouts: Timeouts::new(),
        })
    }

    /// Takes over a std socket, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    /// Another handle to the same socket (shared registration, own
    /// timeouts starting from this handle's).
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: self.inner.clone(),
            timeouts: self.timeouts.snapshot(),
        })
    }

    /// Sets the default peer for [`send`](UnixDatagram::send).
    ///
    /// # Errors
    /// Whatever `connect` reports.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.io().connect(path)
    }

    /// Sends `buf` to the socket at `path`.
    ///
    /// # Errors
    /// The send's error, `TimedOut` past the write timeout.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner
            .write_with(self.timeouts.write_deadline(), |s| s.send_to(buf, path))
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Errors
    /// The receive's error, `TimedOut` past the read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without a peer; the send's error; `TimedOut`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .write_with(self.timeouts.write_deadline(), |s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The receive's error; `TimedOut`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.recv(buf))
    }

    /// The local address.
    ///
    /// # Errors
    /// Whatever `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// `NotConnected` without a peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().peer_addr()
    }

    /// Shuts down reading, writing or both.
    ///
    /// # Errors
    /// Whatever `shutdown` reports.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io().shutdown(how)
    }

    /// Sets the read timeout.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_read(timeout)
    }

    /// Sets the write timeout.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_write(timeout)
    }

    /// The read timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.read())
    }

    /// The write timeout.
    ///
    /// # Errors
    /// None; the `Result` mirrors std.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.timeouts.write())
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}
