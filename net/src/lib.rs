//! fibra-net: sockets for fibra coroutines, mirroring [`std::net`] and
//! [`std::os::unix::net`].
//!
//! Every call that would block (connect, accept, read, write, receive, DNS
//! resolution) parks only the calling coroutine; the runtime's reactor
//! resumes it when the socket is ready. Called from a plain OS thread, the
//! same calls block that thread, as std's do.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use fibra_net::{TcpListener, TcpStream};
//!
//! fibra_runtime::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     fibra_runtime::spawn(move || {
//!         let (mut conn, _) = listener.accept().unwrap();
//!         let mut buf = [0; 5];
//!         conn.read_exact(&mut buf).unwrap();
//!         conn.write_all(&buf).unwrap();
//!     });
//!     let mut stream = TcpStream::connect(addr).unwrap();
//!     stream.write_all(b"hello").unwrap();
//!     let mut buf = [0; 5];
//!     stream.read_exact(&mut buf).unwrap();
//!     assert_eq!(&buf, b"hello");
//! });
//! ```
//!
//! The pieces: [`TcpListener`] (and [`TcpListenerBuilder`] for backlog,
//! `SO_REUSEADDR`, `SO_REUSEPORT`, `IPV6_V6ONLY`), [`TcpStream`],
//! [`UdpSocket`], [`UnixListener`], [`UnixStream`], [`UnixDatagram`],
//! [`lookup_host`] and the [`ToSocketAddrs`] trait (host names resolve on
//! the blocking pool).
//!
//! The client transport every fibra client is built on: [`Dialer`] (one
//! deadline over DNS and every address, Go's semantics), [`Stream`] (one
//! type over TCP, Unix sockets and TLS, with [`Stream::split`] into a
//! [`ReadHalf`] and a [`WriteHalf`]), [`Buffered`] (the read buffer a codec
//! decodes from, with its size limit, and batched writes) and
//! [`is_disconnect`] (the one list of errors that mean the peer is gone).
//! With the `tls` feature, the `tls` module adds rustls-based
//! `TlsConnector`/`TlsAcceptor`/`TlsStream` and `Trust`, the one way to say
//! which servers a client trusts.
//!
//! # Deadlines, cancellation, errors
//! Each socket mirrors std's `set_read_timeout`/`set_write_timeout`; every
//! blocking call also honours [`fibra_runtime::with_timeout`] scopes (the
//! earlier deadline wins) and fails with [`std::io::ErrorKind::TimedOut`]
//! when either passes. A canceled coroutine's blocking call returns an error
//! for which [`fibra_runtime::is_canceled`] is true. `WouldBlock` never
//! reaches the caller; other errors are the usual std kinds
//! (`ConnectionRefused`, `ConnectionReset`, `BrokenPipe`, …).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Implements `Read` and `Write` for `$ty` and `&$ty`, where `$ty` has an
/// `inner: Arc<Evented<S>>` whose `&S` is `Read + Write`, and `timeouts`.
macro_rules! impl_stream_io {
    ($ty:ident) => {
        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let want = buf.len();
                self.inner.stream_io(
                    fibra_runtime::io::Direction::Read,
                    self.timeouts.read_deadline(),
                    want,
                    |mut s| std::io::Read::read(&mut s, buf),
                )
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let want = bufs.iter().map(|b| b.len()).sum();
                self.inner.stream_io(
                    fibra_runtime::io::Direction::Read,
                    self.timeouts.read_deadline(),
                    want,
                    |mut s| std::io::Read::read_vectored(&mut s, bufs),
                )
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.stream_io(
                    fibra_runtime::io::Direction::Write,
                    self.timeouts.write_deadline(),
                    buf.len(),
                    |mut s| std::io::Write::write(&mut s, buf),
                )
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let want = bufs.iter().map(|b| b.len()).sum();
                self.inner.stream_io(
                    fibra_runtime::io::Direction::Write,
                    self.timeouts.write_deadline(),
                    want,
                    |mut s| std::io::Write::write_vectored(&mut s, bufs),
                )
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use impl_stream_io;

mod addr;
mod buffered;
mod dial;
mod evented;
mod stream;
mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod udp;
mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use buffered::Buffered;
pub use dial::{is_disconnect, Dialer};
pub use stream::{ReadHalf, Stream, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpListenerBuilder, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};

/// The error of `into_std` while other handles share the socket.
fn shared_handle() -> std::io::Error {
    std::io::Error::other("other handles (from try_clone) still share this socket")
}
