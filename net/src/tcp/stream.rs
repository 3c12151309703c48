//! `TcpStream`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{SockRef, TcpKeepalive};

use crate::addr::{each_addr, ToSocketAddrs};
use crate::evented::{deadline_in, zero_timeout, Evented, Timeouts};

/// A TCP connection: [`std::net::TcpStream`] whose reads, writes and
/// connects park only the calling coroutine.
///
/// `Read` and `Write` are implemented for both `TcpStream` and
/// `&TcpStream`, so one coroutine can read while another writes, through a
/// shared reference or a [`try_clone`](TcpStream::try_clone).
///
/// # Timeouts
/// [`set_read_timeout`](TcpStream::set_read_timeout) and
/// [`set_write_timeout`](TcpStream::set_write_timeout) behave like std's,
/// with two differences: an expired timeout is reported as
/// [`io::ErrorKind::TimedOut`] (std on Unix reports `WouldBlock`, the raw
/// `EAGAIN` of `SO_RCVTIMEO`), and the timeouts belong to the handle, not
/// to the socket, so clones made by `try_clone` can have their own. Every
/// blocking call also honours the innermost
/// [`fibra_runtime::with_timeout`] scope (the earlier deadline wins) and
/// cancellation of its coroutine.
///
/// # Non-blocking mode
/// There is no `set_nonblocking`: the descriptor is always non-blocking
/// underneath, and the runtime parks the coroutine instead of the thread.
/// Put a bound on a call with a timeout or a `with_timeout` scope instead.
///
/// # Closing
/// The socket closes when the last handle to it is dropped. To wake a
/// coroutine blocked in `read` on a clone, call
/// [`shutdown`](TcpStream::shutdown) from another handle: the read returns
/// end of file.
///
/// ```no_run
/// use std::io::{Read, Write};
///
/// fibra_runtime::run(|| {
///     let mut stream = fibra_net::TcpStream::connect("127.0.0.1:7").unwrap();
///     stream.write_all(b"ping").unwrap();
///     let mut buf = [0; 4];
///     stream.read_exact(&mut buf).unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: Arc<Evented<mio::net::TcpStream>>,
    timeouts: Timeouts,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in order (like Go's
    /// dialer) until one accepts. Parks only the calling coroutine, also
    /// while a host name is resolved.
    ///
    /// # Errors
    /// The last address's error (`ConnectionRefused`, `TimedOut`, …), a
    /// resolution error, or a canceled error.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_addr(a, None))
    }

    /// Connects to one address, giving up after `timeout`.
    ///
    /// # Errors
    /// `InvalidInput` for a zero timeout (as std), `TimedOut` once it
    /// passes, or the connection's error.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(zero_timeout());
        }
        TcpStream::connect_addr(*addr, deadline_in(Some(timeout)))
    }

    fn connect_addr(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // The connect is in flight: it is done when the socket turns
        // writable with either a pending error or a peer address.
        stream.inner.write_with(deadline, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })?;
        Ok(stream)
    }

    pub(crate) fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Evented::new(stream)?),
            timeouts: Timeouts::new(),
        })
    }

    /// Takes over a connected std stream, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Hands the socket back as a blocking std stream.
    ///
    /// # Errors
    /// `Other` while clones of this handle still exist (they would be left
    /// with a blocking descriptor), or whatever `epoll_ctl`/`fcntl` reports.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let ev = Arc::try_unwrap(self.inner).map_err(|_| crate::shared_handle())?;
        let stream: std::net::TcpStream = ev.into_inner()?.into();
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    /// Another handle to the same connection. It shares the socket and its
    /// reactor registration (no `dup`), and starts with this handle's
    /// timeouts, which it can then change on its own.
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
            timeouts: self.timeouts.snapshot(),
        })
    }

    /// The remote address.
    ///
    /// # Errors
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// Whatever `getsockname` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().local_addr()
    }

    /// Shuts down reading, writing or both. `Shutdown::Write` sends FIN:
    /// the peer reads end of file and can still send data back. Coroutines
    /// blocked on this connection wake up (a read returns `Ok(0)`).
    ///
    /// # Errors
    /// `NotConnected` if the connection is already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io().shutdown(how)
    }

    /// Asks to be told when the peer hangs up (closes its side or resets
    /// the connection), without reading and without a coroutine waiting:
    /// the reactor calls `hook` once, on a worker thread, so it must not
    /// block (set a flag, close a channel, cancel a coroutine). Data that
    /// arrives does not call it. `None` removes a hook not yet called.
    ///
    /// Returns `Ok(true)`, without storing the hook, when a hang-up has
    /// already been seen. This is how fibra's HTTP server notices that a
    /// client left while its handler is busy (Go's `r.Context().Done()`),
    /// for the cost of storing the hook.
    ///
    /// # Errors
    /// What `epoll_ctl` reports if the socket has to join the poll first.
    pub fn on_hangup(&self, hook: Option<fibra_runtime::io::HangupHook>) -> io::Result<bool> {
        self.inner.on_hangup(hook)
    }

    /// Reads without consuming: the next `read` returns the same bytes.
    /// Waits like `read`, with the read timeout.
    ///
    /// # Errors
    /// As [`Read::read`](std::io::Read::read).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.peek(buf))
    }

    /// Sets the read timeout: a read (or peek) that waits longer fails with
    /// `TimedOut`. `None` waits forever.
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_read(timeout)
    }

    /// Sets the write timeout: a write that waits longer fails with
    /// `TimedOut`. `None` waits forever.
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

    /// Sets `TCP_NODELAY` (Nagle's algorithm off when `true`).
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.io().set_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.io().nodelay()
    }

    /// Sets `IP_TTL`.
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

    /// TCP keep-alive, as Go's `SetKeepAlive`/`SetKeepAlivePeriod`:
    /// `Some(period)` turns it on, with the first probe after `period` of
    /// silence and then one every `period`; `None` turns it off.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_keepalive(&self, period: Option<Duration>) -> io::Result<()> {
        let sock = SockRef::from(self.inner.io());
        match period {
            None => sock.set_keepalive(false),
            Some(p) => sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(p).with_interval(p)),
        }
    }

    /// The keep-alive idle period, or `None` when keep-alive is off.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        let sock = SockRef::from(self.inner.io());
        if sock.keepalive()? {
            Ok(Some(sock.keepalive_time()?))
        } else {
            Ok(None)
        }
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes close reset the
    /// connection (RST) instead of the orderly FIN.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.inner.io()).set_linger(linger)
    }

    /// The `SO_LINGER` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.inner.io()).linger()
    }

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }
}

crate::impl_stream_io!(TcpStream);

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}
