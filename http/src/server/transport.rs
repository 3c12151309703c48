//! The socket a server connection reads and writes: plain TCP, or TLS over
//! TCP.
//!
//! One enum, dispatched statically, so the plain path pays one branch per
//! socket call and no allocation or indirection of its own. Both variants
//! are read and written through `&Transport`, as `&TcpStream` is: the
//! connection's input and output each hold the same `Arc<Transport>`, and
//! the TCP socket underneath stays reachable for its timeouts, shutdown and
//! hang-up hook (the lifecycle's client-gone watch works over TLS too).

use std::io::{self, Read, Write};
use std::net::Shutdown;

use fibra_net::TcpStream;

use crate::client::Upgraded;

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    /// Boxed: a plain connection's allocation stays as small as before.
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsTransport>),
}

impl Transport {
    /// The TCP socket (under TLS, the one carrying the session): for
    /// timeouts, shutdown and the hang-up hook. Reading or writing it
    /// directly would corrupt a TLS session.
    #[inline]
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.tcp(),
        }
    }

    /// Ends the sending direction: over TLS, `close_notify` first (so the
    /// client can tell the end of the stream from a truncation), then the
    /// TCP half-close.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Transport::Tls(t) = self {
            t.close_notify()?;
        }
        self.tcp().shutdown(Shutdown::Write)
    }

    /// The TLS session's state (`None` on plain TCP).
    #[cfg(feature = "tls")]
    pub(crate) fn tls_state(&self) -> Option<&super::tls::ConnectionState> {
        match self {
            Transport::Tcp(_) => None,
            Transport::Tls(t) => Some(t.state()),
        }
    }

    /// The connection for an upgrade callback, with the bytes read after
    /// the request.
    pub(crate) fn into_upgraded(self, read_ahead: Vec<u8>) -> Upgraded {
        match self {
            Transport::Tcp(s) => Upgraded::from_tcp(s, read_ahead),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.into_upgraded(read_ahead),
        }
    }
}

impl Read for &Transport {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Transport::Tcp(s) => (&*s).read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for &Transport {
    /// Over TLS the whole buffer is sealed and sent, as `write_all`.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Transport::Tcp(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
