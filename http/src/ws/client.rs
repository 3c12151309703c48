//! The client side: the upgrade request, sent by a [`Client`], and the
//! check of the answer.

use std::time::Duration;

use http::header::{self, HeaderMap};
use http::{HeaderName, HeaderValue, StatusCode, Uri};

use super::conn::{Config, Error, WebSocket};
use super::deflate::{check_answer, CLIENT_OFFER};
use super::frame::Role;
use super::handshake::{accept_key, base64_encode, has_token};
use crate::client::{self, default_client, Client};

/// Options for opening WebSocket connections: extra request headers,
/// subprotocols, a handshake timeout, the connection [`Config`], and the
/// HTTP [`Client`] that sends the upgrade request (its proxies, TLS trust
/// for `wss://`, connect and header timeouts, Unix socket).
#[derive(Debug, Clone, Default)]
pub struct Connector {
    headers: Vec<(HeaderName, HeaderValue)>,
    protocols: Vec<String>,
    config: Config,
    timeout: Option<Duration>,
    client: Option<Client>,
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

/// A failed upgrade request: a bad URL or answer is a handshake error,
/// anything else (connecting, TLS, timeouts, cancellation) an I/O error of
/// the kind underneath.
fn request_err(e: client::Error) -> Error {
    if e.is_builder() || e.is_response() || e.is_redirect() {
        handshake_err(e.status(), e.to_string())
    } else {
        Error::Io(e.into_io())
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

    /// The TLS client configuration for `wss://` (default: the client's,
    /// which trusts the Mozilla root store); e.g.
    /// `TlsConnector::with_root_pem` for a private CA. It applies to the
    /// connector's own client: a client given with [`Connector::client`]
    /// keeps its TLS settings (set them with
    /// [`ClientBuilder::tls_connector`](crate::ClientBuilder::tls_connector)).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, connector: fibra_net::tls::TlsConnector) -> Connector {
        self.tls = Some(connector);
        self
    }

    /// The HTTP client that sends the upgrade request, with its proxies
    /// (a `ws://` URL goes through a `CONNECT` tunnel), TLS settings,
    /// connect, TLS handshake and response-header timeouts, redirects and
    /// Unix socket. The connection leaves the client's pool once upgraded.
    /// Without one, connectors share a default client (proxies from
    /// `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, loopback excluded).
    pub fn client(mut self, client: Client) -> Connector {
        self.client = Some(client);
        self
    }

    /// Connects to `url` (`ws://`, or `wss://` over TLS with the `tls`
    /// feature, on by default) and performs the opening handshake.
    ///
    /// # Errors
    /// [`Error::Handshake`] for a bad URL or an answer that is not a valid
    /// `101` upgrade (with the status if there was one); [`Error::Io`] for
    /// connection errors (`TimedOut` past the timeout or one of the
    /// client's, the kind of the failure underneath otherwise:
    /// `ConnectionRefused`, `InvalidData` for an untrusted or misnamed
    /// certificate).
    pub fn connect(&self, url: &str) -> Result<WebSocket, Error> {
        match self.timeout {
            Some(t) => fibra_runtime::with_timeout(t, || self.connect_inner(url)),
            None => self.connect_inner(url),
        }
    }

    /// The client to send the request with.
    fn http_client(&self) -> Result<Client, Error> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Client::builder()
                .tls_connector(tls.clone())
                .build()
                .map_err(request_err);
        }
        Ok(default_client().clone())
    }

    fn connect_inner(&self, url: &str) -> Result<WebSocket, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|_| handshake_err(None, format!("invalid URL {url:?}")))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => "http",
            Some(s) if s.eq_ignore_ascii_case("wss") => "https",
            _ => return Err(handshake_err(None, "URL scheme must be ws:// or wss://")),
        };
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| handshake_err(None, "URL without a host"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let http_url = format!("{scheme}://{authority}{path}");

        // A fresh random nonce per handshake (RFC 6455 section 4.1).
        let nonce: [u8; 16] = rand::random();
        let key = base64_encode(&nonce);
        let mut req = self
            .http_client()?
            .get(&http_url)
            .upgrade("websocket")
            .header("sec-websocket-key", key.as_str())
            .header("sec-websocket-version", "13");
        if !self.protocols.is_empty() {
            req = req.header("sec-websocket-protocol", self.protocols.join(", "));
        }
        if self.config.compression {
            req = req.header("sec-websocket-extensions", CLIENT_OFFER);
        }
        for (name, value) in &self.headers {
            req = req.header(name.clone(), value.clone());
        }
        let resp = req.send().map_err(request_err)?;
        let status = resp.status();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(handshake_err(
                Some(status),
                "server did not switch protocols",
            ));
        }
        let (protocol, deflate) = self.check_answer(resp.headers(), &key)?;
        let conn = resp.upgrade().map_err(request_err)?;
        Ok(WebSocket::new(
            conn,
            Role::Client,
            self.config.clone(),
            protocol,
            deflate,
        ))
    }

    /// Checks a `101` answer's fields; the subprotocol and the
    /// permessage-deflate parameters agreed.
    fn check_answer(
        &self,
        headers: &HeaderMap,
        key: &str,
    ) -> Result<(Option<String>, Option<super::DeflateParams>), Error> {
        let status = Some(StatusCode::SWITCHING_PROTOCOLS);
        let values = |name: header::HeaderName| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        if !has_token(values(header::UPGRADE).into_iter(), "websocket")
            || !has_token(values(header::CONNECTION).into_iter(), "upgrade")
        {
            return Err(handshake_err(
                status,
                "missing Upgrade/Connection in the answer",
            ));
        }
        if values(header::SEC_WEBSOCKET_ACCEPT)
            .first()
            .map(|v| v.trim())
            != Some(&accept_key(key))
        {
            return Err(handshake_err(status, "wrong Sec-WebSocket-Accept"));
        }
        let protocol = match values(header::SEC_WEBSOCKET_PROTOCOL).as_slice() {
            [] => None,
            [p] if self.protocols.iter().any(|o| o == p.trim()) => Some(p.trim().to_string()),
            _ => {
                return Err(handshake_err(
                    status,
                    "server chose a subprotocol not offered",
                ))
            }
        };
        let exts = values(header::SEC_WEBSOCKET_EXTENSIONS).join(", ");
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
        Ok((protocol, deflate))
    }
}
