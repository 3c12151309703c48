//! The socket under a connection: fibra-net's [`Stream`] over TCP or a Unix
//! socket, upgraded to TLS after an `SSLRequest` as `sslmode` says.

use std::io::{Read, Write};

use fibra_net::Stream;

use crate::config::{Config, Host, SslMode};
use crate::error::{Error, ErrorKind, Result};
#[cfg(feature = "tls")]
use crate::proto;

/// Opens the socket and, where asked, TLS; returns the server's
/// certificate (DER) when TLS is on, for channel binding.
pub(crate) fn open(config: &Config) -> Result<(Stream, Option<Vec<u8>>)> {
    match &config.host {
        Host::Unix(dir) => {
            if matches!(config.ssl_mode, SslMode::Require | SslMode::VerifyFull) {
                return Err(Error::new(
                    ErrorKind::Tls,
                    "TLS over a Unix socket is not supported",
                ));
            }
            let path = dir.join(format!(".s.PGSQL.{}", config.port));
            Ok((Stream::connect_unix(path)?, None))
        }
        Host::Tcp(host) => {
            // The connect timeout is the enclosing scope (`connect_with`).
            let dialer = fibra_net::Dialer::new().keepalive(config.keepalive);
            let tcp = Stream::from(dialer.dial((host.as_str(), config.port))?);
            tls_upgrade(config, host, tcp)
        }
    }
}

/// Sends a cancel request for `process_id` on a connection of its own.
pub(crate) fn cancel(config: &Config, request: &[u8]) -> Result<()> {
    let (mut stream, _) = open(config)?;
    stream.write_all(request)?;
    stream.flush()?;
    // The server closes the connection once it has the request.
    let mut sink = [0u8; 16];
    while stream.read(&mut sink)? > 0 {}
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn tls_upgrade(config: &Config, _host: &str, tcp: Stream) -> Result<(Stream, Option<Vec<u8>>)> {
    match config.ssl_mode {
        SslMode::Disable | SslMode::Prefer => Ok((tcp, None)),
        _ => Err(Error::new(
            ErrorKind::Tls,
            "sslmode requires TLS but fibra-postgres was built without the `tls` feature",
        )),
    }
}

/// The trust `config` asks for. As libpq: `prefer` and `require` encrypt
/// without checking the certificate unless a root certificate (or a
/// `Trust`) is configured; `verify-full` always checks the chain and the
/// host name.
#[cfg(feature = "tls")]
fn trust(config: &Config) -> fibra_net::tls::Trust {
    use std::sync::OnceLock;

    use fibra_net::tls::Trust;
    // Built once per process, so that a pool's connections share them.
    static ACCEPT_ANY: OnceLock<Trust> = OnceLock::new();
    static WEBPKI: OnceLock<Trust> = OnceLock::new();
    if let Some(t) = &config.tls_trust {
        return t.clone();
    }
    match &config.ssl_root_cert {
        Some(path) if path.as_os_str() == "system" => Trust::system(),
        Some(path) => Trust::pem_file(path),
        None if config.ssl_mode == SslMode::VerifyFull => WEBPKI.get_or_init(Trust::webpki).clone(),
        None => ACCEPT_ANY
            .get_or_init(Trust::danger_accept_any_certificate)
            .clone(),
    }
}

#[cfg(feature = "tls")]
fn tls_upgrade(config: &Config, host: &str, mut tcp: Stream) -> Result<(Stream, Option<Vec<u8>>)> {
    if config.ssl_mode == SslMode::Disable {
        return Ok((tcp, None));
    }
    let mut req = Vec::new();
    proto::encode_ssl_request(&mut req);
    tcp.write_all(&req)?;
    // Exactly one byte: anything the server sent after it must go through
    // the TLS handshake, not be taken as if it had been encrypted.
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer)?;
    match answer[0] {
        b'S' => {
            let connector = trust(config)
                .connector()
                .map_err(|e| Error::new(ErrorKind::Tls, "TLS setup failed").with_source(e))?;
            let tls = tcp
                .upgrade_tls(&connector, host)
                .map_err(|e| Error::new(ErrorKind::Tls, "TLS handshake failed").with_source(e))?;
            let cert = tls
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec());
            Ok((tls, cert))
        }
        b'N' if config.ssl_mode == SslMode::Prefer => Ok((tcp, None)),
        b'N' => Err(Error::new(
            ErrorKind::Tls,
            "the server does not support TLS",
        )),
        _ => Err(Error::protocol("bad answer to SSLRequest")),
    }
}
