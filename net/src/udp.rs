//! `UdpSocket`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use crate::addr::{each_addr, no_addresses, ToSocketAddrs};
use crate::evented::{Evented, Timeouts};

/// A UDP socket: [`std::net::UdpSocket`] whose sends and receives park only
/// the calling coroutine.
///
/// Timeouts behave as on [`TcpStream`](crate::TcpStream): per handle,
/// reported as `TimedOut`, combined with `with_timeout` scopes. There is no
/// `set_nonblocking`, for the reason given there.
///
/// ```no_run
/// fibra_runtime::run(|| {
///     let socket = fibra_net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     socket.send_to(b"ping", "127.0.0.1:9999").unwrap();
///     let mut buf = [0; 1500];
///     let (n, from) = socket.recv_from(&mut buf).unwrap();
///     println!("{n} bytes from {from}");
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: Arc<Evented<mio::net::UdpSocket>>,
    timeouts: Timeouts,
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// # Errors
    /// The last address's error, or a resolution error.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| UdpSocket::from_mio(mio::net::UdpSocket::bind(a)?))
    }

    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Arc::new(Evented::new(socket)?),
            timeouts: Timeouts::new(),
        })
    }

    /// Takes over a std socket, switching it to non-blocking mode.
    ///
    /// # Errors
    /// If the mode cannot be set or the reactor refuses the descriptor.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    /// Hands the socket back as a blocking std socket.
    ///
    /// # Errors
    /// `Other` while clones still exist, or whatever `epoll_ctl`/`fcntl`
    /// reports.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let ev = Arc::try_unwrap(self.inner).map_err(|_| crate::shared_handle())?;
        let socket: std::net::UdpSocket = ev.into_inner()?.into();
        socket.set_nonblocking(false)?;
        Ok(socket)
    }

    /// Another handle to the same socket (shared registration, own
    /// timeouts starting from this handle's).
    ///
    /// # Errors
    /// None today; the `Result` mirrors std.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: self.inner.clone(),
            timeouts: self.timeouts.snapshot(),
        })
    }

    /// Sends `buf` to the first address `target` resolves to.
    ///
    /// # Errors
    /// A resolution error, the send's error, `TimedOut` past the write
    /// timeout.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = *target.to_socket_addrs()?.first().ok_or_else(no_addresses)?;
        self.inner
            .write_with(self.timeouts.write_deadline(), |s| s.send_to(buf, target))
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Errors
    /// The receive's error, `TimedOut` past the read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](UdpSocket::recv_from), leaving the datagram queued.
    ///
    /// # Errors
    /// As `recv_from`.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.peek_from(buf))
    }

    /// Sets the default peer for [`send`](UdpSocket::send) and filters
    /// received datagrams to it; the first address that works is used.
    ///
    /// # Errors
    /// The last address's error, or a resolution error.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.io().connect(a))
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](UdpSocket::connect); the send's
    /// error (`ConnectionRefused` after an ICMP port unreachable);
    /// `TimedOut`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .write_with(self.timeouts.write_deadline(), |s| s.send(buf))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// As [`send`](UdpSocket::send).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.recv(buf))
    }

    /// Like [`recv`](UdpSocket::recv), leaving the datagram queued.
    ///
    /// # Errors
    /// As `recv`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read_with(self.timeouts.read_deadline(), |s| s.peek(buf))
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
    /// `NotConnected` without [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io().peer_addr()
    }

    /// Sets the read timeout (receives and peeks).
    ///
    /// # Errors
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.timeouts.set_read(timeout)
    }

    /// Sets the write timeout (sends).
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

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.io().set_broadcast(on)
    }

    /// The `SO_BROADCAST` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.io().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.io().set_multicast_loop_v4(on)
    }

    /// The `IP_MULTICAST_LOOP` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.io().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.io().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.io().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.io().set_multicast_loop_v6(on)
    }

    /// The `IPV6_MULTICAST_LOOP` value.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.io().multicast_loop_v6()
    }

    /// Joins IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`UNSPECIFIED` lets the system choose).
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.io().join_multicast_v4(multiaddr, interface)
    }

    /// Joins IPv6 multicast group `multiaddr` on interface index
    /// `interface` (0 lets the system choose).
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.io().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.io().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// Whatever `setsockopt` reports.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.io().leave_multicast_v6(multiaddr, interface)
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

    /// Takes the pending `SO_ERROR`, if any.
    ///
    /// # Errors
    /// Whatever `getsockopt` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io().take_error()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.io().as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.io().as_raw_fd()
    }
}
