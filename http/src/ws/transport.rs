//! The byte stream under a WebSocket: plain TCP (`ws://`, and the server),
//! or a split TLS session (`wss://`), as a reading half for the
//! [`WebSocket`](super::WebSocket) and a shared writing half for its
//! senders.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use fibra_net::TcpStream;

/// The reading half.
pub(crate) enum ReadHalf {
    Tcp(Arc<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(fibra_net::tls::TlsReadHalf),
}

/// The writing half.
pub(crate) enum WriteHalf {
    Tcp(Arc<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(fibra_net::tls::TlsWriteHalf),
}

/// Both halves of a TCP connection.
pub(crate) fn tcp(stream: TcpStream) -> (ReadHalf, WriteHalf) {
    let stream = Arc::new(stream);
    (ReadHalf::Tcp(stream.clone()), WriteHalf::Tcp(stream))
}

/// Both halves of a TLS connection.
#[cfg(feature = "tls")]
pub(crate) fn tls(stream: fibra_net::tls::TlsStream<TcpStream>) -> (ReadHalf, WriteHalf) {
    let (r, w) = stream.split();
    (ReadHalf::Tls(r), WriteHalf::Tls(w))
}

impl ReadHalf {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            ReadHalf::Tcp(s) => s,
            #[cfg(feature = "tls")]
            ReadHalf::Tls(s) => s.get_ref(),
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Tcp(s) => (&**s).read(buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(s) => s.read(buf),
        }
    }

    /// Ends the connection in both directions (for TLS, after a
    /// `close_notify` when `graceful`).
    pub(crate) fn shutdown(&self, writer: &WriteHalf, graceful: bool) {
        #[cfg(feature = "tls")]
        if let (true, WriteHalf::Tls(w)) = (graceful, writer) {
            let _ = w.close_notify();
        }
        let _ = (writer, graceful);
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl WriteHalf {
    pub(crate) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(s) => (&**s).write_all(buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => (&*s).write_all(buf),
        }
    }
}
