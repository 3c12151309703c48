//! [`Trust`]: the one way fibra's TLS clients are told which servers to
//! trust and which certificate to present.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{certs_from_pem, pem_error, provider, tls_error, TlsConnector};

#[derive(Clone, PartialEq, Eq)]
enum Roots {
    Webpki,
    System,
    Pem(Arc<[u8]>),
    PemFile(PathBuf),
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::Webpki => f.write_str("Webpki"),
            Roots::System => f.write_str("System"),
            Roots::Pem(p) => write!(f, "Pem({} bytes)", p.len()),
            Roots::PemFile(p) => write!(f, "PemFile({})", p.display()),
        }
    }
}

type Built = Result<TlsConnector, (io::ErrorKind, String)>;

/// Which servers a TLS client trusts, and the certificate it presents
/// (mutual TLS). Every fibra client takes one (`rediss://`, `tls://`,
/// `sslmode=verify-full`), and [`TlsConnector`]s are built from it.
///
/// Root certificates come from any mix of sources: Mozilla's root store
/// (webpki-roots, the default), the operating system's store (through
/// rustls-native-certs), PEM bytes, a PEM file (read when the connector is
/// first built); or a caller's own rustls [`ClientConfig`] replaces all of
/// it. The connector is built once and shared by clones of a `Trust`.
///
/// ```no_run
/// use fibra_net::tls::Trust;
///
/// # fn f(ca: &[u8], cert: &[u8], key: &[u8]) -> std::io::Result<()> {
/// let private = Trust::pem(ca);                     // only this CA
/// let both = Trust::system().add_pem(ca);           // the OS's roots and this CA
/// let mtls = Trust::pem(ca).identity_pem(cert, key); // and a client certificate
/// let connector = mtls.connector()?;
/// # drop((private, both, connector)); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Trust {
    roots: Vec<Roots>,
    identity: Option<Arc<(Vec<u8>, Vec<u8>)>>,
    verify: bool,
    custom: Option<Arc<ClientConfig>>,
    built: Arc<OnceLock<Built>>,
}

impl PartialEq for Trust {
    /// The same settings (a caller's rustls configuration: the same one).
    fn eq(&self, other: &Trust) -> bool {
        self.roots == other.roots
            && self.identity == other.identity
            && self.verify == other.verify
            && match (&self.custom, &other.custom) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }
}

impl Eq for Trust {}

impl Default for Trust {
    /// [`Trust::webpki`].
    fn default() -> Trust {
        Trust::webpki()
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("roots", &self.roots)
            .field("identity", &self.identity.is_some())
            .field("verify", &self.verify)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

impl Trust {
    fn with_roots(roots: Vec<Roots>) -> Trust {
        Trust {
            roots,
            identity: None,
            verify: true,
            custom: None,
            built: Arc::default(),
        }
    }

    /// Trusts Mozilla's root store (webpki-roots), compiled in: the
    /// default.
    pub fn webpki() -> Trust {
        Trust::with_roots(vec![Roots::Webpki])
    }

    /// Trusts the operating system's root store, loaded when the connector
    /// is built (on Linux: `SSL_CERT_FILE`/`SSL_CERT_DIR`, or the
    /// distribution's bundle).
    pub fn system() -> Trust {
        Trust::with_roots(vec![Roots::System])
    }

    /// Trusts only the CA certificates in `pem` (a private CA, tests).
    pub fn pem(pem: impl Into<Vec<u8>>) -> Trust {
        Trust::with_roots(Vec::new()).add_pem(pem)
    }

    /// Trusts only the CA certificates in the PEM file at `path`, read
    /// when the connector is built.
    pub fn pem_file(path: impl Into<PathBuf>) -> Trust {
        Trust::with_roots(Vec::new()).add_pem_file(path)
    }

    /// Uses a rustls configuration built by hand; the other settings of
    /// this `Trust` are ignored.
    pub fn config(config: Arc<ClientConfig>) -> Trust {
        let mut t = Trust::with_roots(Vec::new());
        t.custom = Some(config);
        t
    }

    /// Encrypts without checking the server's certificate chain or name
    /// (the handshake signature is still checked): a man in the middle
    /// can read everything. Only for what libpq calls `sslmode=require`,
    /// and tests.
    pub fn danger_accept_any_certificate() -> Trust {
        let mut t = Trust::with_roots(Vec::new());
        t.verify = false;
        t
    }

    fn changed(mut self) -> Trust {
        self.built = Arc::default();
        self
    }

    /// Also trusts Mozilla's root store.
    pub fn add_webpki(mut self) -> Trust {
        self.roots.push(Roots::Webpki);
        self.changed()
    }

    /// Also trusts the operating system's root store.
    pub fn add_system(mut self) -> Trust {
        self.roots.push(Roots::System);
        self.changed()
    }

    /// Also trusts the CA certificates in `pem`.
    pub fn add_pem(mut self, pem: impl Into<Vec<u8>>) -> Trust {
        self.roots.push(Roots::Pem(pem.into().into()));
        self.changed()
    }

    /// Also trusts the CA certificates in the PEM file at `path`.
    pub fn add_pem_file(mut self, path: impl Into<PathBuf>) -> Trust {
        self.roots.push(Roots::PemFile(path.into()));
        self.changed()
    }

    /// Presents a client certificate (mutual TLS): the chain, leaf first,
    /// and its private key (PKCS#8, SEC1 or PKCS#1), both PEM.
    pub fn identity_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Trust {
        self.identity = Some(Arc::new((cert_chain_pem.into(), key_pem.into())));
        self.changed()
    }

    /// Whether certificates are checked (false only for
    /// [`danger_accept_any_certificate`](Trust::danger_accept_any_certificate)).
    pub fn verifies(&self) -> bool {
        self.verify || self.custom.is_some()
    }

    /// The connector for these settings, built on first use and shared by
    /// clones of this `Trust` (a failure is remembered too).
    ///
    /// # Errors
    /// `InvalidData` for malformed PEM, a certificate rustls refuses or a
    /// key that does not match the certificate; `NotFound` and the like for
    /// a PEM file that cannot be read; `InvalidInput` when no root
    /// certificate is left to trust.
    pub fn connector(&self) -> io::Result<TlsConnector> {
        self.built
            .get_or_init(|| self.build().map_err(|e| (e.kind(), e.to_string())))
            .clone()
            .map_err(|(kind, msg)| io::Error::new(kind, msg))
    }

    fn build(&self) -> io::Result<TlsConnector> {
        if let Some(c) = &self.custom {
            return Ok(TlsConnector::from_config(c.clone()));
        }
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let builder = if self.verify {
            builder.with_root_certificates(self.root_store()?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny { provider }))
        };
        let config = match &self.identity {
            Some(id) => {
                let certs = certs_from_pem(&id.0)?;
                let key = PrivateKeyDer::from_pem_slice(&id.1).map_err(|e| pem_error("key", e))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(tls_error)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConnector::from_config(Arc::new(config)))
    }

    fn root_store(&self) -> io::Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        for r in &self.roots {
            match r {
                Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                Roots::System => {
                    let found = rustls_native_certs::load_native_certs();
                    if found.certs.is_empty() {
                        let why = found
                            .errors
                            .first()
                            .map_or_else(|| "none found".to_owned(), ToString::to_string);
                        return Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("no system root certificates: {why}"),
                        ));
                    }
                    // A system bundle may hold certificates rustls refuses
                    // as trust anchors: skip those, as browsers do.
                    store.add_parsable_certificates(found.certs);
                }
                Roots::Pem(pem) => add_pem(&mut store, pem)?,
                Roots::PemFile(path) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    })?;
                    add_pem(&mut store, &pem)?;
                }
            }
        }
        if store.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no trusted root certificates",
            ));
        }
        Ok(store)
    }
}

fn add_pem(store: &mut RootCertStore, pem: &[u8]) -> io::Result<()> {
    for cert in certs_from_pem(pem)? {
        store.add(cert).map_err(tls_error)?;
    }
    Ok(())
}

/// Accepts any certificate; still checks that the server holds its key.
#[derive(Debug)]
struct AcceptAny {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
