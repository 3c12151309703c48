//! rustls client settings: certificate checks as `sslmode` says, and the
//! server's certificate captured for SCRAM channel binding.

use std::sync::{Arc, Mutex};

use fibra_net::tls::rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, ErrorKind, Result};

/// The server's end-entity certificate, once the handshake saw it.
pub(crate) type Captured = Arc<Mutex<Option<Vec<u8>>>>;

/// Checks the certificate with `inner` (or not at all: encryption
/// without authentication, libpq's `prefer`/`require`; the handshake
/// signature is still checked) and remembers it.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    captured: Captured,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(v) = &self.inner {
            v.verify_server_cert(end_entity, intermediates, name, ocsp, now)?;
        }
        *self.captured.lock().unwrap_or_else(|e| e.into_inner()) = Some(end_entity.to_vec());
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

fn tls_err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e)
}

/// `roots`: `None` skips certificate checks; `Some(None)` uses the
/// webpki roots; `Some(Some(pem))` trusts the given CAs.
pub(crate) fn config(roots: Option<Option<&[u8]>>) -> Result<(Arc<ClientConfig>, Captured)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = match roots {
        None => None,
        Some(pem) => {
            let mut store = RootCertStore::empty();
            match pem {
                Some(pem) => {
                    for cert in fibra_net::tls::certs_from_pem(pem)? {
                        store.add(cert).map_err(tls_err)?;
                    }
                }
                None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(tls_err)?;
            Some(v)
        }
    };
    let captured = Captured::default();
    let verifier = Verifier {
        inner,
        provider: provider.clone(),
        captured: captured.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((Arc::new(config), captured))
}
