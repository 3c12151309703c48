//! A client's settings, shared by its clones and its pools.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderMap;

use super::error::Result;
use super::proxy::Proxies;

/// Settings; see the matching [`ClientBuilder`](super::ClientBuilder)
/// methods.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) tls_timeout: Option<Duration>,
    pub(crate) response_header_timeout: Option<Duration>,
    pub(crate) pool_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_connections_per_host: usize,
    pub(crate) max_redirects: usize,
    pub(crate) default_headers: HeaderMap,
    pub(crate) decompress: bool,
    pub(crate) expect_continue_threshold: Option<u64>,
    pub(crate) expect_continue_timeout: Duration,
    pub(crate) proxies: Proxies,
    pub(crate) unix_socket: Option<PathBuf>,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: usize,
    #[cfg(feature = "tls")]
    pub(crate) tls: tls::TlsSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: None,
            connect_timeout: Some(Duration::from_secs(30)),
            tcp_keepalive: Some(Duration::from_secs(30)),
            tls_timeout: Some(Duration::from_secs(10)),
            response_header_timeout: None,
            pool_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_host: 32,
            max_connections_per_host: 256,
            max_redirects: 10,
            default_headers: HeaderMap::new(),
            decompress: true,
            expect_continue_threshold: Some(1024 * 1024),
            expect_continue_timeout: Duration::from_secs(1),
            proxies: Proxies::default(),
            unix_socket: None,
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_body_bytes: 64 * 1024 * 1024,
            #[cfg(feature = "tls")]
            tls: tls::TlsSettings::default(),
        }
    }
}

impl Config {
    /// The TLS connector, built once per client.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(&self) -> Result<fibra_net::tls::TlsConnector> {
        self.tls.connector()
    }

    /// Checks settings that can fail (certificates) at build time.
    pub(crate) fn validate(&self) -> Result<()> {
        #[cfg(feature = "tls")]
        self.tls.connector().map(|_| ())?;
        Ok(())
    }
}

#[cfg(feature = "tls")]
pub(crate) mod tls {
    use std::sync::{Arc, OnceLock};

    use fibra_net::tls::rustls::pki_types::pem::PemObject;
    use fibra_net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use fibra_net::tls::rustls::{self, ClientConfig, RootCertStore};
    use fibra_net::tls::{certs_from_pem, TlsConnector};

    use crate::client::error::{Error, ErrorKind, Result};

    /// Where trust comes from, and the client's own certificate.
    #[derive(Clone, Default)]
    pub(crate) struct TlsSettings {
        pub(crate) extra_roots_pem: Vec<Vec<u8>>,
        pub(crate) no_built_in_roots: bool,
        pub(crate) platform_roots: bool,
        pub(crate) identity_pem: Option<(Vec<u8>, Vec<u8>)>,
        pub(crate) custom: Option<Arc<ClientConfig>>,
        pub(crate) connector: Option<TlsConnector>,
        pub(crate) built: Arc<OnceLock<std::result::Result<TlsConnector, String>>>,
    }

    impl std::fmt::Debug for TlsSettings {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TlsSettings")
                .field("extra_roots", &self.extra_roots_pem.len())
                .field("built_in_roots", &!self.no_built_in_roots)
                .field("platform_roots", &self.platform_roots)
                .field("identity", &self.identity_pem.is_some())
                .field(
                    "custom",
                    &(self.custom.is_some() || self.connector.is_some()),
                )
                .finish()
        }
    }

    fn bad(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Builder, msg)
    }

    /// The system's CA bundle: `SSL_CERT_FILE`, or the first bundle found
    /// at the usual Linux and BSD paths.
    fn platform_roots_pem() -> Option<Vec<u8>> {
        const PATHS: &[&str] = &[
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
            "/usr/local/share/certs/ca-root-nss.crt",
        ];
        if let Some(p) = std::env::var_os("SSL_CERT_FILE") {
            if let Ok(b) = std::fs::read(p) {
                return Some(b);
            }
        }
        PATHS.iter().find_map(|p| std::fs::read(p).ok())
    }

    impl TlsSettings {
        pub(crate) fn reset(&mut self) {
            self.built = Arc::new(OnceLock::new());
        }

        pub(crate) fn connector(&self) -> Result<TlsConnector> {
            self.built
                .get_or_init(|| self.build().map_err(|e| e.to_string()))
                .clone()
                .map_err(|e| bad(format!("TLS settings: {e}")))
        }

        fn build(&self) -> Result<TlsConnector> {
            if let Some(c) = &self.connector {
                return Ok(c.clone());
            }
            if let Some(c) = &self.custom {
                return Ok(TlsConnector::from_config(c.clone()));
            }
            let mut roots = RootCertStore::empty();
            if !self.no_built_in_roots {
                roots.extend(webpki_roots_list());
            }
            if self.platform_roots {
                let pem = platform_roots_pem().ok_or_else(|| bad("no system CA bundle found"))?;
                // A bundle may hold certificates rustls refuses: skip those.
                for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
                    let _ = roots.add(cert);
                }
            }
            for pem in &self.extra_roots_pem {
                for cert in certs_from_pem(pem).map_err(|e| bad(e.to_string()))? {
                    roots
                        .add(cert)
                        .map_err(|e| bad(format!("bad root certificate: {e}")))?;
                }
            }
            if roots.is_empty() {
                return Err(bad("no trusted root certificates"));
            }
            let builder = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots);
            let config = match &self.identity_pem {
                Some((chain, key)) => {
                    let certs = certs_from_pem(chain).map_err(|e| bad(e.to_string()))?;
                    let key = PrivateKeyDer::from_pem_slice(key)
                        .map_err(|e| bad(format!("bad client key: {e}")))?;
                    builder
                        .with_client_auth_cert(certs, key)
                        .map_err(|e| bad(format!("bad client certificate: {e}")))?
                }
                None => builder.with_no_client_auth(),
            };
            Ok(TlsConnector::from_config(Arc::new(config)))
        }
    }

    /// Mozilla's roots (webpki-roots), as `TlsConnector::new` trusts them.
    fn webpki_roots_list() -> Vec<rustls::pki_types::TrustAnchor<'static>> {
        static ROOTS: OnceLock<Vec<rustls::pki_types::TrustAnchor<'static>>> = OnceLock::new();
        ROOTS
            .get_or_init(|| webpki_roots::TLS_SERVER_ROOTS.to_vec())
            .clone()
    }
}
