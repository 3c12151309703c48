//! HTTPS for the server (feature `tls`): what the server presents and
//! requires ([`Config`]: certificates chosen by server name, client
//! certificates), what a handler learns about a connection
//! ([`ConnectionState`], from [`Request::tls`](crate::Request::tls)) and
//! certificate reload without a restart ([`Reloader`]).
//!
//! ```no_run
//! use fibra_http::{tls, Server};
//!
//! fibra_runtime::run(|| -> std::io::Result<()> {
//!     let config = tls::Config::new(tls::Identity::from_pem_files("cert.pem", "key.pem")?)
//!         .sni("api.example.com", tls::Identity::from_pem_files("api.pem", "api.key")?);
//!     let server = Server::bind_tls("0.0.0.0:8443", config)?;
//!     let reloader = server.tls_reloader().expect("a TLS server");
//!     // Later, e.g. on SIGHUP: new handshakes use the new certificate.
//!     // reloader.reload(tls::Config::new(tls::Identity::from_pem_files("cert.pem", "key.pem")?));
//!     # drop(reloader);
//!     server.serve(fibra_http::handler_fn(|req, resp| {
//!         let name = req.tls().and_then(|t| t.server_name()).unwrap_or("-");
//!         resp.text(format!("hello over TLS to {name}\n"));
//!         Ok(())
//!     }))
//! })
//! .unwrap();
//! ```
//!
//! The handshake runs in the connection's own coroutine, bounded by
//! [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout),
//! so a slow or silent client holds neither the accept loop nor a worker.
//! A failed handshake is logged at debug level and closes only its
//! connection. ALPN offers `http/1.1`.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use fibra_net::tls::{TlsAcceptor, TlsReadHalf, TlsWriteHalf};
use fibra_net::TcpStream;
use fibra_runtime::sync::Mutex;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::client::Upgraded;

/// The rustls crate, for [`Config::from_rustls`] and
/// [`ClientAuth::from_verifier`], and for the certificate type of
/// [`ConnectionState::peer_certificates`].
pub use fibra_net::tls::rustls;

/// The ALPN name of HTTP/1.1.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The protocols the server offers through ALPN, most preferred first.
/// HTTP/2 will add `h2` in front, and an arm where the connection reads
/// the outcome ([`ConnectionState::alpn_protocol`]).
fn alpn_protocols() -> Vec<Vec<u8>> {
    vec![ALPN_HTTP1.to_vec()]
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads a file on the blocking pool, naming it in the error.
fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let owned: PathBuf = path.to_owned();
    fibra_runtime::blocking(move || std::fs::read(&owned))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// A certificate chain with its private key: what the server presents to
/// clients (Go's `tls.Certificate`).
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl Identity {
    /// An identity from a PEM certificate chain (leaf first) and a PEM
    /// private key (PKCS#8, SEC1 or PKCS#1; RSA, ECDSA or Ed25519).
    ///
    /// # Errors
    /// `InvalidData` for malformed PEM, no certificate, an unsupported key,
    /// or a key that does not belong to the leaf certificate.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Identity> {
        let chain = fibra_net::tls::certs_from_pem(cert_chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| invalid(format!("bad key PEM: {e}")))?;
        let key = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| invalid(format!("unusable certificate or key: {e}")))?;
        Ok(Identity { key: Arc::new(key) })
    }

    /// [`Identity::from_pem`] from two files, read on the blocking pool.
    ///
    /// # Errors
    /// The files' read errors (naming the file), and those of
    /// [`Identity::from_pem`].
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> io::Result<Identity> {
        let chain = read_file(cert_chain_path.as_ref())?;
        let key = read_file(key_path.as_ref())?;
        Identity::from_pem(&chain, &key)
    }

    /// The certificate chain, leaf first (DER).
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("chain_len", &self.key.cert.len())
            .finish_non_exhaustive()
    }
}

/// Client certificates (mutual TLS): which clients the server asks for a
/// certificate and which certificates it accepts. The certificate a client
/// presented reaches the handler as
/// [`ConnectionState::peer_certificates`].
#[derive(Clone)]
pub struct ClientAuth {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientAuth {
    /// Every client must present a certificate issued by one of the CAs in
    /// `roots_pem`; a handshake without one fails (Go's
    /// `RequireAndVerifyClientCert`).
    ///
    /// # Errors
    /// `InvalidData` for malformed PEM or a certificate that cannot be a
    /// trust anchor.
    pub fn required(roots_pem: &[u8]) -> io::Result<ClientAuth> {
        ClientAuth::webpki(roots_pem, false)
    }

    /// Clients may present a certificate; one that does must be issued by
    /// one of the CAs in `roots_pem` (Go's `VerifyClientCertIfGiven`). The
    /// handler tells them apart by
    /// [`ConnectionState::peer_certificates`].
    ///
    /// # Errors
    /// As [`ClientAuth::required`].
    pub fn optional(roots_pem: &[u8]) -> io::Result<ClientAuth> {
        ClientAuth::webpki(roots_pem, true)
    }

    fn webpki(roots_pem: &[u8], optional: bool) -> io::Result<ClientAuth> {
        let mut roots = RootCertStore::empty();
        for cert in fibra_net::tls::certs_from_pem(roots_pem)? {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("bad client CA certificate: {e}")))?;
        }
        let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
        if optional {
            builder = builder.allow_unauthenticated();
        }
        let verifier = builder
            .build()
            .map_err(|e| invalid(format!("client certificate verifier: {e}")))?;
        Ok(ClientAuth { verifier })
    }

    /// A verifier of your own (revocation lists, other policies), from
    /// rustls.
    pub fn from_verifier(verifier: Arc<dyn ClientCertVerifier>) -> ClientAuth {
        ClientAuth { verifier }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("mandatory", &self.verifier.client_auth_mandatory())
            .finish_non_exhaustive()
    }
}

/// The server's TLS settings: a default [`Identity`], more identities
/// chosen by the name the client asks for (SNI), and optional client
/// certificates. Pass it to [`Server::bind_tls`](crate::Server::bind_tls)
/// or [`Server::tls`](crate::Server::tls), and to [`Reloader::reload`].
///
/// TLS 1.2 and 1.3 (rustls with the ring provider); ALPN offers
/// `http/1.1`; sessions are resumed (a resumed session keeps the client's
/// certificate chain, so the handler sees it either way).
#[derive(Clone, Debug)]
pub struct Config {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Built {
        default: Identity,
        /// Lower-case names, exact or `*.`-prefixed.
        names: Vec<(String, Identity)>,
        client_auth: Option<ClientAuth>,
    },
    Rustls(Arc<ServerConfig>),
}

impl Config {
    /// Presents `default` to every client (and, once [`Config::sni`] adds
    /// others, to clients asking for a name none of them is for, or for no
    /// name).
    pub fn new(default: Identity) -> Config {
        Config {
            kind: Kind::Built {
                default,
                names: Vec::new(),
                client_auth: None,
            },
        }
    }

    /// [`Config::new`] with an identity from PEM bytes
    /// ([`Identity::from_pem`]).
    ///
    /// # Errors
    /// As [`Identity::from_pem`].
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Config> {
        Ok(Config::new(Identity::from_pem(cert_chain_pem, key_pem)?))
    }

    /// [`Config::new`] with an identity from PEM files
    /// ([`Identity::from_pem_files`]).
    ///
    /// # Errors
    /// As [`Identity::from_pem_files`].
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> io::Result<Config> {
        Ok(Config::new(Identity::from_pem_files(
            cert_chain_path,
            key_path,
        )?))
    }

    /// Presents `identity` to clients that ask for `name` through SNI
    /// (compared without regard to case). A name `*.example.com` stands for
    /// one label in front of `example.com`; an exact name wins over it.
    /// Adding a name again replaces its identity.
    ///
    /// # Panics
    /// On a configuration from [`Config::from_rustls`] (set its
    /// `cert_resolver` instead).
    pub fn sni(mut self, name: &str, identity: Identity) -> Config {
        let Kind::Built { names, .. } = &mut self.kind else {
            panic!("fibra-http: tls::Config::sni on a configuration from from_rustls");
        };
        let name = name.to_ascii_lowercase();
        names.retain(|(n, _)| *n != name);
        names.push((name, identity));
        self
    }

    /// Asks clients for certificates; see [`ClientAuth`].
    ///
    /// # Panics
    /// On a configuration from [`Config::from_rustls`] (set its client
    /// verifier when building it).
    pub fn client_auth(mut self, auth: ClientAuth) -> Config {
        let Kind::Built { client_auth, .. } = &mut self.kind else {
            panic!("fibra-http: tls::Config::client_auth on a configuration from from_rustls");
        };
        *client_auth = Some(auth);
        self
    }

    /// A rustls configuration built by hand. Its ALPN list is replaced by
    /// the protocols the server speaks (`http/1.1`).
    pub fn from_rustls(mut config: ServerConfig) -> Config {
        config.alpn_protocols = alpn_protocols();
        Config {
            kind: Kind::Rustls(Arc::new(config)),
        }
    }

    /// The rustls configuration the handshakes use.
    fn server_config(&self) -> Arc<ServerConfig> {
        let (default, names, client_auth) = match &self.kind {
            Kind::Rustls(config) => return config.clone(),
            Kind::Built {
                default,
                names,
                client_auth,
            } => (default, names, client_auth),
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("fibra-http: the ring provider supports TLS 1.2 and 1.3");
        let builder = match client_auth {
            Some(auth) => builder.with_client_cert_verifier(auth.verifier.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (name, id) in names {
            match name.strip_prefix("*.") {
                Some(parent) => wildcard.insert(parent.to_string(), id.key.clone()),
                None => exact.insert(name.clone(), id.key.clone()),
            };
        }
        let mut config = builder.with_cert_resolver(Arc::new(SniResolver {
            exact,
            wildcard,
            default: default.key.clone(),
        }));
        config.alpn_protocols = alpn_protocols();
        Arc::new(config)
    }
}

/// Picks the identity for the name the client asked for.
#[derive(Debug)]
struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.parent` names, by `parent`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = hello.server_name() {
            let name = name.to_ascii_lowercase();
            if let Some(key) = self.exact.get(&name) {
                return Some(key.clone());
            }
            if let Some(key) = name
                .split_once('.')
                .and_then(|(_, parent)| self.wildcard.get(parent))
            {
                return Some(key.clone());
            }
        }
        Some(self.default.clone())
    }
}

/// What a handler can learn about its connection's TLS session (Go's
/// `r.TLS`); see [`Request::tls`](crate::Request::tls).
#[derive(Debug, Clone)]
pub struct ConnectionState {
    server_name: Option<String>,
    alpn_protocol: Option<Vec<u8>>,
    peer_certificates: Vec<CertificateDer<'static>>,
}

impl ConnectionState {
    /// The name the client asked for through SNI (none when it connected
    /// by IP address or sent no name).
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The protocol agreed through ALPN (`b"http/1.1"`), if the client
    /// offered any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn_protocol.as_deref()
    }

    /// The certificate chain the client presented and the server verified
    /// (DER, leaf first); empty without client authentication, or when the
    /// client presented none under [`ClientAuth::optional`].
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.peer_certificates
    }
}

/// Replaces a running server's TLS settings, from
/// [`Server::tls_reloader`](crate::Server::tls_reloader): handshakes that
/// start afterwards use the new [`Config`] (a renewed certificate, another
/// SNI name, new client CAs), while open connections keep the session they
/// have. Cloneable, usable from any coroutine or thread.
#[derive(Debug, Clone)]
pub struct Reloader {
    tls: Arc<ServerTls>,
}

impl Reloader {
    /// Uses `config` for new handshakes from now on.
    pub fn reload(&self, config: Config) {
        self.tls.set(&config);
    }
}

/// The server's current TLS acceptor, read once per accepted connection.
#[derive(Debug)]
pub(crate) struct ServerTls {
    current: RwLock<TlsAcceptor>,
}

impl ServerTls {
    pub(crate) fn new(config: &Config) -> ServerTls {
        ServerTls {
            current: RwLock::new(TlsAcceptor::from_config(config.server_config())),
        }
    }

    fn set(&self, config: &Config) {
        let acceptor = TlsAcceptor::from_config(config.server_config());
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = acceptor;
    }

    fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn reloader(self: &Arc<Self>) -> Reloader {
        Reloader { tls: self.clone() }
    }

    /// Runs the server side of a handshake over `tcp` in the calling
    /// (connection) coroutine, until `deadline`.
    ///
    /// # Errors
    /// `TimedOut` at the deadline, `InvalidData` for a failed handshake
    /// (not TLS, no common protocol, a refused client certificate), the
    /// socket's errors, or the canceled error (shutdown).
    pub(crate) fn handshake(&self, tcp: TcpStream, deadline: Instant) -> io::Result<TlsTransport> {
        let acceptor = self.acceptor();
        let tls = fibra_runtime::with_deadline(deadline, || acceptor.accept(tcp))?;
        let state = ConnectionState {
            server_name: tls.server_name().map(str::to_owned),
            alpn_protocol: tls.alpn_protocol().map(<[u8]>::to_vec),
            // rustls keeps the chain with a resumed session too.
            peer_certificates: tls.peer_certificates().map_or_else(Vec::new, <[_]>::to_vec),
        };
        let (read, write) = tls.split();
        Ok(TlsTransport {
            read: Mutex::new(read),
            write,
            state,
        })
    }
}

/// A TLS connection of the server, split so that the socket underneath
/// stays reachable without the session's lock (timeouts, the hang-up hook)
/// and an upgrade can hand a reading and a writing half to two coroutines.
pub(crate) struct TlsTransport {
    /// Read only by the connection's coroutine (and then by an upgrade's
    /// reader): never contended.
    read: Mutex<TlsReadHalf>,
    write: TlsWriteHalf,
    state: ConnectionState,
}

impl TlsTransport {
    pub(crate) fn tcp(&self) -> &TcpStream {
        self.write.get_ref()
    }

    pub(crate) fn state(&self) -> &ConnectionState {
        &self.state
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read.lock().read(buf)
    }

    /// Seals and sends all of `buf`.
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.write).write(buf)
    }

    pub(crate) fn close_notify(&self) -> io::Result<()> {
        self.write.close_notify()
    }

    pub(crate) fn into_upgraded(self, read_ahead: Vec<u8>) -> Upgraded {
        Upgraded::from_tls_halves(self.read.into_inner(), self.write, read_ahead)
    }
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("tcp", self.tcp())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
