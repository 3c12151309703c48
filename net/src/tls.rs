//! TLS over fibra streams with rustls (feature `tls`, ring provider).
//!
//! Because fibra streams are blocking-looking, TLS is rustls's plain
//! blocking stream over a [`TcpStream`](crate::TcpStream) (or any
//! `Read + Write`): the coroutine parks inside the socket calls, and the
//! socket's timeouts and `with_timeout` scopes bound each TLS read and
//! write.
//!
//! Which servers a client trusts (Mozilla's roots, the system's, a
//! private CA, a client certificate for mutual TLS) is one [`Trust`] value,
//! from which a [`TlsConnector`] is built.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use fibra_net::tls::TlsConnector;
//!
//! fibra_runtime::run(|| {
//!     let tcp = fibra_net::TcpStream::connect("example.com:443").unwrap();
//!     let mut tls = TlsConnector::new().unwrap().connect("example.com", tcp).unwrap();
//!     tls.write_all(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n").unwrap();
//!     let mut page = Vec::new();
//!     tls.read_to_end(&mut page).unwrap();
//! });
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

mod split;
mod trust;

pub use split::{TlsReadHalf, TlsWriteHalf};
pub use trust::Trust;

/// The rustls crate, for building a custom [`ClientConfig`] or
/// [`ServerConfig`] (client certificates, ALPN, session caches, …).
pub use rustls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn pem_error(what: &str, e: rustls::pki_types::pem::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad {what} PEM: {e}"))
}

/// Parses every certificate in a PEM document.
///
/// # Errors
/// `InvalidData` for malformed PEM or a document without certificates.
pub fn certs_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", e))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in PEM",
        ));
    }
    Ok(certs)
}

/// Makes TLS client connections.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    /// A connector trusting the Mozilla root store (webpki-roots), TLS 1.2
    /// and 1.3: `Trust::webpki().connector()`.
    ///
    /// # Errors
    /// If rustls rejects the protocol versions (it does not today).
    pub fn new() -> io::Result<TlsConnector> {
        Trust::webpki().connector()
    }

    /// A connector trusting only the certificates in `pem` (for a private
    /// CA, or tests): `Trust::pem(pem).connector()`.
    ///
    /// # Errors
    /// `InvalidData` for malformed PEM or a certificate rustls refuses as a
    /// trust anchor.
    pub fn with_root_pem(pem: &[u8]) -> io::Result<TlsConnector> {
        Trust::pem(pem).connector()
    }

    /// A connector with a configuration built by hand.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector { config }
    }

    /// Runs the handshake over `stream` for `server_name` (a DNS name or an
    /// IP literal, checked against the certificate) and returns the
    /// encrypted stream.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid name; `InvalidData` when the handshake
    /// fails (untrusted certificate, wrong name, protocol error); the
    /// stream's own errors (`TimedOut`, `ConnectionReset`, …).
    pub fn connect<S: Read + Write>(
        &self,
        server_name: &str,
        stream: S,
    ) -> io::Result<TlsStream<S>> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(self.config.clone(), name).map_err(tls_error)?;
        let mut s = rustls::StreamOwned::new(conn, stream);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(TlsStream {
            side: Side::Client(s),
        })
    }
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

/// Accepts TLS connections on the server side.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
}

impl TlsAcceptor {
    /// An acceptor presenting the certificate chain in `cert_chain_pem`
    /// (leaf first) with the private key in `key_pem` (PKCS#8, SEC1 or
    /// PKCS#1), without client authentication.
    ///
    /// # Errors
    /// `InvalidData` for malformed PEM or a key that does not match.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsAcceptor> {
        let certs = certs_from_pem(cert_chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_error("key", e))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(tls_error)?;
        Ok(TlsAcceptor::from_config(Arc::new(config)))
    }

    /// An acceptor with a configuration built by hand.
    pub fn from_config(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor { config }
    }

    /// Runs the server side of the handshake over `stream`.
    ///
    /// # Errors
    /// `InvalidData` when the handshake fails; the stream's own errors.
    pub fn accept<S: Read + Write>(&self, stream: S) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(self.config.clone()).map_err(tls_error)?;
        let mut s = rustls::StreamOwned::new(conn, stream);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(TlsStream {
            side: Side::Server(s),
        })
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

enum Side<S: Read + Write> {
    Client(rustls::StreamOwned<ClientConnection, S>),
    Server(rustls::StreamOwned<ServerConnection, S>),
}

/// An established TLS connection over `S` (usually a
/// [`TcpStream`](crate::TcpStream)), client or server side.
///
/// Both directions share rustls's state, so `Read` and `Write` take
/// `&mut self`; to read in one coroutine while others write, as with the
/// plain streams, [`split`](TlsStream::split) a TLS stream over a
/// [`TcpStream`](crate::TcpStream).
pub struct TlsStream<S: Read + Write> {
    side: Side<S>,
}

impl<S: Read + Write> TlsStream<S> {
    /// The underlying stream (for its address or timeouts).
    pub fn get_ref(&self) -> &S {
        match &self.side {
            Side::Client(s) => s.get_ref(),
            Side::Server(s) => s.get_ref(),
        }
    }

    /// The underlying stream, mutably. Reading or writing it directly
    /// corrupts the TLS session.
    pub fn get_mut(&mut self) -> &mut S {
        match &mut self.side {
            Side::Client(s) => s.get_mut(),
            Side::Server(s) => s.get_mut(),
        }
    }

    /// The protocol agreed through ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.side {
            Side::Client(s) => s.conn.alpn_protocol(),
            Side::Server(s) => s.conn.alpn_protocol(),
        }
    }

    /// The certificate chain the peer presented, leaf first (the server's
    /// on the client side; a client certificate, if any, on the server
    /// side).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match &self.side {
            Side::Client(s) => s.conn.peer_certificates(),
            Side::Server(s) => s.conn.peer_certificates(),
        }
    }

    /// The name the client asked for (SNI), on the server side.
    pub fn server_name(&self) -> Option<&str> {
        match &self.side {
            Side::Client(_) => None,
            Side::Server(s) => s.conn.server_name(),
        }
    }

    /// Sends TLS `close_notify`, telling the peer no more data follows
    /// (its reads then return end of file). The underlying stream stays
    /// open.
    ///
    /// # Errors
    /// The stream's write errors.
    pub fn close_notify(&mut self) -> io::Result<()> {
        match &mut self.side {
            Side::Client(s) => {
                s.conn.send_close_notify();
                while s.conn.wants_write() {
                    s.conn.write_tls(&mut s.sock)?;
                }
            }
            Side::Server(s) => {
                s.conn.send_close_notify();
                while s.conn.wants_write() {
                    s.conn.write_tls(&mut s.sock)?;
                }
            }
        }
        Ok(())
    }

    /// The underlying stream, dropping the TLS state.
    pub fn into_inner(self) -> S {
        match self.side {
            Side::Client(s) => s.sock,
            Side::Server(s) => s.sock,
        }
    }
}

impl TlsStream<crate::TcpStream> {
    /// Splits the connection into a reading half and a cloneable writing
    /// half, so one coroutine can read while others write: the session is
    /// shared behind a lock that no socket call holds, so a reader waiting
    /// for data never delays a writer, nor a writer waiting on a full
    /// socket the reader. Plaintext already received stays readable.
    pub fn split(self) -> (TlsReadHalf, TlsWriteHalf) {
        match self.side {
            Side::Client(s) => split::split(rustls::Connection::Client(s.conn), s.sock),
            Side::Server(s) => split::split(rustls::Connection::Server(s.conn), s.sock),
        }
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.side {
            Side::Client(s) => s.read(buf),
            Side::Server(s) => s.read(buf),
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.side {
            Side::Client(s) => s.write(buf),
            Side::Server(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.side {
            Side::Client(s) => s.write_vectored(bufs),
            Side::Server(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.side {
            Side::Client(s) => s.flush(),
            Side::Server(s) => s.flush(),
        }
    }
}

impl<S: Read + Write + std::fmt::Debug> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self.side {
            Side::Client(_) => "client",
            Side::Server(_) => "server",
        };
        f.debug_struct("TlsStream")
            .field("side", &side)
            .field("stream", self.get_ref())
            .finish()
    }
}
