//! The client side: connect, send the upgrade request, check the answer.

use std::io::{Read, Write};
use std::time::Duration;

use fibra_net::TcpStream;
use http::{HeaderName, HeaderValue, StatusCode, Uri};

use super::conn::{Config, Error, WebSocket};
use super::deflate::{check_answer, CLIENT_OFFER};
use super::frame::Role;
use super::handshake::{accept_key, base64_encode, has_token};
use super::transport::{self, ReadHalf, WriteHalf};

/// The largest handshake response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Options for opening WebSocket connections: extra request headers,
/// subprotocols, a handshake timeout, TLS trust for `wss://` and the
/// connection [`Config`].
#[derive(Debug, Clone, Default)]
pub struct Connector {
    headers: Vec<(HeaderName, HeaderValue)>,
    protocols: Vec<String>,
    config: Config,
    timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<fibra_net::tls::TlsConnector>,
}

/// Opens a WebSocket to a `ws://host[:port]/path` or
/// `wss://host[:port]/path` URL with default options.
///
/// # Errors
/// As [`Connector::connect`].
pub fn connect(url: &str) -> Result<WebSocket, Error> {
    Connector::new().connect(url)
}

fn handshake_err(status: Option<StatusCode>, message: impl Into<String>) -> Error {
    Error::Handshake {
        status,
        message: message.into(),
    }
}

impl Connector {
    /// Default options.
    pub fn new() -> Connector {
        Connector::default()
    }

    /// Adds a request header (e.g. `Authorization`, `Origin`, a cookie).
    ///
    /// # Errors
    /// An invalid name, or a value with CR, LF or other control bytes.
    pub fn header(mut self, name: &str, value: &str) -> Result<Connector, Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| handshake_err(None, "invalid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| handshake_err(None, "invalid header value"))?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// Subprotocols to offer, most preferred first.
    pub fn protocols<I, S>(mut self, protocols: I) -> Connector
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The connection's limits and timers (`compression: false` offers no
    /// permessage-deflate).
    pub fn config(mut self, config: Config) -> Connector {
        self.config = config;
        self
    }

    /// A deadline for connecting and the opening handshake.
    pub fn timeout(mut self, timeout: Duration) -> Connector {
        self.timeout = Some(timeout);
        self
    }

    /// The TLS client configuration for `wss://` (default:
    /// [`TlsConnector::new`](fibra_net::tls::TlsConnector::new), the
    /// Mozilla root store); e.g. `TlsConnector::with_root_pem` for a
    /// private CA.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, connector: fibra_net::tls::TlsConnector) -> Connector {
        self.tls = Some(connector);
        self
    }

    /// Connects to `url` (`ws://`, or `wss://` over TLS with the `tls`
    /// feature, on by default) and performs the opening handshake.
    ///
    /// # Errors
    /// [`Error::Handshake`] for a bad URL or an answer that is not a valid
    /// `101` upgrade (with the status if there was one); [`Error::Io`] for
    /// connection errors (`TimedOut` past the timeout) and TLS failures
    /// (`InvalidData` for an untrusted or misnamed certificate).
    pub fn connect(&self, url: &str) -> Result<WebSocket, Error> {
        match self.timeout {
            Some(t) => fibra_runtime::with_timeout(t, || self.connect_inner(url)),
            None => self.connect_inner(url),
        }
    }

    fn connect_inner(&self, url: &str) -> Result<WebSocket, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|_| handshake_err(None, format!("invalid URL {url:?}")))?;
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(handshake_err(None, "URL scheme must be ws:// or wss://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| handshake_err(None, "URL without a host"))?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let connect_host = host.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((connect_host, port))?;
        let _ = stream.set_nodelay(true);
        if !secure {
            return self.handshake(&uri, stream, transport::tcp);
        }
        #[cfg(feature = "tls")]
        {
            let connector = match &self.tls {
                Some(c) => c.clone(),
                None => fibra_net::tls::TlsConnector::new()?,
            };
            let tls = connector.connect(connect_host, stream)?;
            self.handshake(&uri, tls, transport::tls)
        }
        #[cfg(not(feature = "tls"))]
        Err(handshake_err(
            None,
            "wss:// needs fibra-http's `tls` feature",
        ))
    }

    /// The opening handshake over `stream`; `split` makes the connection's
    /// halves of it.
    fn handshake<S: Read + Write>(
        &self,
        uri: &Uri,
        mut stream: S,
        split: fn(S) -> (ReadHalf, WriteHalf),
    ) -> Result<WebSocket, Error> {
        let host = uri.host().unwrap_or_default();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());

        // A fresh random nonce per handshake (RFC 6455 section 4.1).
        let nonce: [u8; 16] = rand::random();
        let key = base64_encode(&nonce);
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            uri.authority().map_or(host, |a| a.as_str())
        )
        .into_bytes();
        if !self.protocols.is_empty() {
            req.extend_from_slice(
                format!("Sec-WebSocket-Protocol: {}\r\n", self.protocols.join(", ")).as_bytes(),
            );
        }
        if self.config.compression {
            req.extend_from_slice(
                format!("Sec-WebSocket-Extensions: {CLIENT_OFFER}\r\n").as_bytes(),
            );
        }
        for (name, value) in &self.headers {
            req.extend_from_slice(name.as_str().as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(value.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        stream.write_all(&req)?;

        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(handshake_err(
                    None,
                    "connection closed during the handshake",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            let used = match resp.parse(&buf) {
                Ok(httparse::Status::Complete(used)) => used,
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
                Ok(httparse::Status::Partial) => {
                    return Err(handshake_err(None, "handshake response head too large"))
                }
                Err(e) => return Err(handshake_err(None, format!("bad handshake response: {e}"))),
            };
            let status = StatusCode::from_u16(resp.code.unwrap_or(0)).ok();
            if resp.code != Some(101) {
                return Err(handshake_err(status, "server did not switch protocols"));
            }
            let values = |name: &str| {
                resp.headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case(name))
                    .filter_map(|h| std::str::from_utf8(h.value).ok())
                    .collect::<Vec<_>>()
            };
            if !has_token(values("upgrade").into_iter(), "websocket")
                || !has_token(values("connection").into_iter(), "upgrade")
            {
                return Err(handshake_err(
                    status,
                    "missing Upgrade/Connection in the answer",
                ));
            }
            if values("sec-websocket-accept").first().map(|v| v.trim()) != Some(&accept_key(&key)) {
                return Err(handshake_err(status, "wrong Sec-WebSocket-Accept"));
            }
            let protocol = match values("sec-websocket-protocol").as_slice() {
                [] => None,
                [p] if self.protocols.iter().any(|o| o == p.trim()) => Some(p.trim().to_string()),
                _ => {
                    return Err(handshake_err(
                        status,
                        "server chose a subprotocol not offered",
                    ))
                }
            };
            let exts = values("sec-websocket-extensions").join(", ");
            let deflate = if exts.trim().is_empty() {
                None
            } else if !self.config.compression {
                return Err(handshake_err(
                    status,
                    "server chose an extension not offered",
                ));
            } else {
                Some(check_answer(&exts).map_err(|m| handshake_err(status, m))?)
            };
            let rest = buf[used..].to_vec();
            return Ok(WebSocket::new(
                split(stream),
                rest,
                Role::Client,
                self.config.clone(),
                protocol,
                deflate,
            ));
        }
    }
}
