//! `TcpListener` and its builder.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{each_addr, ToSocketAddrs};
use crate::evented::{is_resource_exhaustion, pause_before_retry, Evented};
use crate::tcp::TcpStream;

/// How long `incoming()` waits before accepting again after the process ran
/// out of file descriptors.
const EXHAUSTION_BACKOFF: Duration = Duration::from_millis(5);

/// A TCP socket server, listening for connections: [`std::net::TcpListener`]
/// whose [`accept`](TcpListener::accept) parks only the calling coroutine.
///
/// Several coroutines may accept on one listener (through `&TcpListener` or
/// a [`try_clone`](TcpListener::try_clone)); each connection goes to one of
/// them.
///
/// ```no_run
/// use std::io::{Read, Write};
///
/// fibra_runtime::run(|| {
///     let listener = fibra_net::TcpListener::bind("127.0.0.1:8080").unwrap();
///     for conn in listener.incoming() {
///         let mut conn = conn.unwrap();
///         fibra_runtime::spawn(move || {
///             let mut buf = [0; 1024];
///             while let Ok(n @ 1..) = conn.read(&mut buf) {
///                 if conn.write_all(&buf[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Arc<Evented<mio::net::TcpListener>>,
}

impl TcpListener {
    /// Binds to the first address of `addr` that works (each is tried in
    /// order), with `SO_REUSEADDR` on and a backlog of 1024. Port 0 picks a
    /// free port; see [`local_addr`](TcpListener::local_addr).
    ///
    /// # Errors
    /// The last address's error (`AddrInUse`, `AddrNotAvailable`, …), or a
    /// resolution error.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListenerBuilder::new().bind(addr)
    }

    /// A builder for a listener with chosen socket options.
    pub fn builder() -> TcpListenerBuilder {
        TcpListenerBuilder::new()
    }

    /// Takes over a std listener, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpListener::from_std(listener))
    }

    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Arc::new(Evented::new(listener)?),
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    /// Honours the current `with_timeout` scope and cancellation.
    ///
    /// # Errors
    /// The `accept` error (`EMFILE` when out of descriptors: see
    /// [`incoming`](TcpListener::incoming), which retries), `TimedOut` past
    /// a scope deadline, a canceled error, and `NotConnected` once the
    /// listener is [closed](TcpListener::close) (at once for an `accept`
    /// already waiting).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(None, |l| l.accept())?;
        Ok((TcpStream::from_mio(stream)?, addr))
    }

    /// An iterator over accepted connections, like std's, but sturdier:
    /// running out of file descriptors (`EMFILE`, `ENFILE`) or kernel
    /// memory logs a warning, waits a few milliseconds and accepts again
    /// instead of failing or spinning, and a connection aborted before it
    /// was accepted is skipped. Other errors are yielded. It ends (`None`)
    /// once the listener is [closed](TcpListener::close), so an accept loop
    /// `for conn in listener.incoming()` ends when another coroutine closes
    /// the listener.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// [`accept`](TcpListener::accept) with `incoming()`'s retries.
    fn accept_retrying(&self) -> io::Result<TcpStream> {
        let mut exhausted = false;
        loop {
            match self.accept() {
                Ok((stream, _)) => return Ok(stream),
                Err(e) if is_resource_exhaustion(&e) => {
                    if !exhausted {
                        tracing::warn!(
                            error = %e,
                            local_addr = ?self.local_addr().ok(),
                            "accept failed for lack of resources; retrying every {:?}",
                            EXHAUSTION_BACKOFF
                        );
                        exhausted = true;
                    }
                    pause_before_retry(None, EXHAUSTION_BACKOFF)?;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the listener for every handle and coroutine, like Go's
    /// `ln.Close()`: it stops listening at once (new connections are
    /// refused and the port can be bound again, by a listener with
    /// `SO_REUSEADDR`, the default), every `accept` waiting on it returns
    /// an error of kind [`NotConnected`](io::ErrorKind::NotConnected) right
    /// away, and so does every later one; [`incoming`](TcpListener::incoming)
    /// ends. Connections already accepted are not affected. The descriptor
    /// is released when the last handle drops. Closing twice does nothing.
    ///
    /// ```no_run
    /// use std::io;
    ///
    /// fibra_runtime::run(|| {
    ///     let listener = fibra_net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let closer = listener.try_clone().unwrap();
    ///     let server = fibra_runtime::spawn(move || {
    ///         for conn in listener.incoming() {
    ///             drop(conn); // handle it
    ///         }
    ///         // The loop ends once the listener is closed.
    ///         listener.accept().unwrap_err().kind()
    ///     });
    ///     fibra_runtime::sleep(std::time::Duration::from_millis(10));
    ///     closer.close().unwrap();
    ///     assert_eq!(server.join().unwrap(), io::ErrorKind::NotConnected);
    /// });
    /// ```
    ///
    /// # Errors
    /// Whatever `shutdown` or `epoll_ctl` reports; the listener is closed
    /// anyway.
    pub fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    /// Whether [`close`](TcpListener::close) was called on this listener
    /// (through any handle).
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

    /// Sets `IP_TTL` for connections accepted from now on.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.io().set_ttl(ttl)
    }

    /// The `IP_TTL` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.io().ttl()
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }

    /// Another handle to the same listener (the registration is shared,
    /// the descriptor is not duplicated).
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: self.inner.clone(),
        })
    }

    /// Hands the socket back as a blocking std listener.
    ///
    /// # Errors
    /// `Other` while clones of this handle still exist, or whatever
    /// `epoll_ctl`/`fcntl` reports.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let ev = Arc::try_unwrap(self.inner).map_err(|_| crate::shared_handle())?;
        let listener: std::net::TcpListener = ev.into_inner()?.into();
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}

/// The iterator of [`TcpListener::incoming`]; returns `None` only once the
/// listener is closed.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        match self.listener.accept_retrying() {
            Err(_) if self.listener.is_closed() => None,
            r => Some(r),
        }
    }
}

/// Socket options for a [`TcpListener`], applied between `socket()` and
/// `listen()`, where they must be.
///
/// ```no_run
/// let listener = fibra_net::TcpListener::builder()
///     .backlog(4096)
///     .reuse_port(true)
///     .bind("0.0.0.0:8080")
///     .unwrap();
/// # drop(listener);
/// ```
#[derive(Debug, Clone)]
pub struct TcpListenerBuilder {
    backlog: u32,
    reuse_address: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
}

impl Default for TcpListenerBuilder {
    fn default() -> Self {
        TcpListenerBuilder::new()
    }
}

impl TcpListenerBuilder {
    /// Defaults: backlog 1024, `SO_REUSEADDR` on (as std does on Unix),
    /// `SO_REUSEPORT` off, `IPV6_V6ONLY` left at the system default.
    pub fn new() -> TcpListenerBuilder {
        TcpListenerBuilder {
            backlog: 1024,
            reuse_address: true,
            reuse_port: false,
            only_v6: None,
        }
    }

    /// Length of the queue of connections not yet accepted (the kernel caps
    /// it at `net.core.somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> TcpListenerBuilder {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR`: bind even while old connections linger in
    /// `TIME_WAIT`.
    pub fn reuse_address(mut self, on: bool) -> TcpListenerBuilder {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: let several listeners (in this or other processes)
    /// bind the same port; the kernel spreads connections among them.
    pub fn reuse_port(mut self, on: bool) -> TcpListenerBuilder {
        self.reuse_port = on;
        self
    }

    /// `IPV6_V6ONLY` for IPv6 addresses: `true` accepts IPv6 only, `false`
    /// also accepts IPv4-mapped connections. Ignored for IPv4 addresses.
    pub fn only_v6(mut self, on: bool) -> TcpListenerBuilder {
        self.only_v6 = Some(on);
        self
    }

    /// Creates the socket, sets the options, binds and listens, trying each
    /// address of `addr` in order.
    ///
    /// # Errors
    /// The last address's error, or a resolution error.
    pub fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| self.bind_one(a))
    }

    fn bind_one(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if let (SocketAddr::V6(_), Some(only)) = (addr, self.only_v6) {
            socket.set_only_v6(only)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(self.backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(socket.into()))
    }
}
