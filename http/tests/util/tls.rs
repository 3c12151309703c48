//! Helpers for the server-TLS tests: the throwaway certificates, TLS
//! client connections over std sockets (from plain test threads), a
//! handshake that reports which certificate the server presented, and curl.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fibra_net::tls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use fibra_net::tls::rustls::crypto::{self, CryptoProvider};
use fibra_net::tls::rustls::pki_types::pem::PemObject;
use fibra_net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use fibra_net::tls::rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use fibra_net::tls::{certs_from_pem, TlsConnector, TlsStream};

/// fibra-net's test CA and its localhost certificate (what the client
/// HTTPS tests use).
pub const NET_CA: &[u8] = include_bytes!("../../../net/tests/data/ca.pem");
pub const NET_CERT: &[u8] = include_bytes!("../../../net/tests/data/localhost.pem");
pub const NET_KEY: &[u8] = include_bytes!("../../../net/tests/data/localhost.key");

/// http/tests/data (made by its `generate` script): a second CA with
/// certificates for a.test, b.test and localhost, and a client CA with a
/// client certificate.
pub const CA: &[u8] = include_bytes!("../data/ca.pem");
pub const A_CERT: &[u8] = include_bytes!("../data/a.test.pem");
pub const A_KEY: &[u8] = include_bytes!("../data/a.test.key");
pub const B_CERT: &[u8] = include_bytes!("../data/b.test.pem");
pub const B_KEY: &[u8] = include_bytes!("../data/b.test.key");
pub const LOCALHOST_CERT: &[u8] = include_bytes!("../data/localhost.pem");
pub const LOCALHOST_KEY: &[u8] = include_bytes!("../data/localhost.key");
pub const CLIENT_CA: &[u8] = include_bytes!("../data/client-ca.pem");
pub const CLIENT_CERT: &[u8] = include_bytes!("../data/client.pem");
pub const CLIENT_KEY: &[u8] = include_bytes!("../data/client.key");
pub const OTHER_CLIENT_CERT: &[u8] = include_bytes!("../data/other-client.pem");
pub const OTHER_CLIENT_KEY: &[u8] = include_bytes!("../data/other-client.key");

/// The path of a file in http/tests/data (for curl and Python).
pub fn data_path(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The path of a file in net/tests/data.
pub fn net_data_path(name: &str) -> String {
    format!("{}/../net/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The first certificate of a PEM document.
pub fn leaf(pem: &[u8]) -> CertificateDer<'static> {
    certs_from_pem(pem).unwrap().remove(0)
}

/// The server TLS settings with fibra-net's localhost certificate.
pub fn localhost_tls() -> fibra_http::tls::Config {
    fibra_http::tls::Config::from_pem(NET_CERT, NET_KEY).unwrap()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// A client configuration trusting `ca`, optionally with a client
/// certificate, offering `http/1.1` through ALPN as browsers do.
pub fn client_config(ca: &[u8], identity: Option<(&[u8], &[u8])>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in certs_from_pem(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                certs_from_pem(cert).unwrap(),
                PrivateKeyDer::from_pem_slice(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection to `addr` for `name`, trusting `ca`.
pub fn tls_connect(addr: SocketAddr, name: &str, ca: &[u8]) -> TlsStream<TcpStream> {
    tls_connect_with(addr, name, client_config(ca, None)).expect("TLS handshake")
}

/// A TLS connection to `addr` for `name` with a client configuration.
///
/// # Errors
/// The handshake's.
pub fn tls_connect_with(
    addr: SocketAddr,
    name: &str,
    config: Arc<ClientConfig>,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    TlsConnector::from_config(config).connect(name, tcp)
}

/// Accepts any server certificate and remembers the leaf.
#[derive(Debug)]
struct Recorder {
    seen: Arc<Mutex<Option<CertificateDer<'static>>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, fibra_net::tls::rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, fibra_net::tls::rustls::Error> {
        crypto::verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, fibra_net::tls::rustls::Error> {
        crypto::verify_tls13_signature(
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

/// Connects with `name` as the SNI name (an IP address sends none) and
/// returns the connection and the certificate the server presented (any
/// certificate is accepted: the caller compares it).
pub fn presented_certificate(
    addr: SocketAddr,
    name: &str,
) -> (TlsStream<TcpStream>, CertificateDer<'static>) {
    let seen = Arc::new(Mutex::new(None));
    let provider = provider();
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recorder {
            seen: seen.clone(),
            provider,
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let stream = tls_connect_with(addr, name, Arc::new(config)).expect("TLS handshake");
    let cert = seen.lock().unwrap().take().expect("a server certificate");
    (stream, cert)
}

/// Whether curl is installed (`missing_peer` otherwise).
pub fn have_curl() -> bool {
    let found = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        super::missing_peer("`curl` is not installed");
    }
    found
}

/// Runs curl (silent, errors shown, 10 s at most) with `args`, feeding
/// `stdin` (for `--data-binary @-`).
pub fn curl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// Runs curl with `args` and asserts it succeeded; returns its output.
#[track_caller]
pub fn curl_ok(args: &[&str], stdin: &[u8]) -> String {
    let out = curl(args, stdin);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
