//! The socket a server connection reads and writes (plain TCP; TLS over
//! TCP is to come as a second variant).
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
}

impl Transport {
    /// The TCP socket (under TLS, the one carrying the session): for
    /// timeouts, shutdown and the hang-up hook. Reading or writing it
    /// directly would corrupt a TLS session.
    #[inline]
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Tcp(s) => s,
        }
    }

    /// Ends the sending direction.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        self.tcp().shutdown(Shutdown::Write)
    }

    /// The connection for an upgrade callback, with the bytes read after
    /// the request.
    pub(crate) fn into_upgraded(self, read_ahead: Vec<u8>) -> Upgraded {
        match self {
            Transport::Tcp(s) => Upgraded::from_tcp(s, read_ahead),
        }
    }
}

impl Read for &Transport {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Transport::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Transport {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Transport::Tcp(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
