//! The server side of the opening handshake.

use std::sync::Arc;

use http::{Method, StatusCode, Version};

use super::conn::{Config, WebSocket};
use super::deflate::accept_offer;
use super::frame::Role;
use super::handshake::{accept_key, base64_decoded_len, has_token};
use crate::{Error, Request, Response};

type OriginCheck = dyn Fn(Option<&str>, &Request) -> bool + Send + Sync;

/// Options for accepting WebSocket upgrades: subprotocols, an origin check
/// and the connection [`Config`]. Build once, use from a handler.
#[derive(Clone, Default)]
pub struct Upgrade {
    config: Config,
    protocols: Vec<String>,
    origin: Option<Arc<OriginCheck>>,
}

impl std::fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade")
            .field("config", &self.config)
            .field("protocols", &self.protocols)
            .field("origin_check", &self.origin.is_some())
            .finish()
    }
}

impl Upgrade {
    /// Default options: no subprotocols, any origin, [`Config::default`].
    pub fn new() -> Upgrade {
        Upgrade::default()
    }

    /// The connection's limits and timers.
    pub fn config(mut self, config: Config) -> Upgrade {
        self.config = config;
        self
    }

    /// The subprotocols this server speaks, most preferred first. The first
    /// of them the client offers is selected; if none is, the handshake
    /// goes on without a subprotocol.
    pub fn protocols<I, S>(mut self, protocols: I) -> Upgrade
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// A check of the `Origin` header (absent for non-browser clients):
    /// returning `false` refuses the upgrade with `403 Forbidden`.
    pub fn check_origin(
        mut self,
        f: impl Fn(Option<&str>, &Request) -> bool + Send + Sync + 'static,
    ) -> Upgrade {
        self.origin = Some(Arc::new(f));
        self
    }

    /// Validates `req` as a WebSocket upgrade and answers it with `101`;
    /// after the handler returns, `f` runs in the connection's coroutine
    /// with the [`WebSocket`]. Copy out of `req` what `f` needs (headers,
    /// path parameters) before calling this.
    ///
    /// # Errors
    /// `400` for a request that is not a valid upgrade, `403` when the
    /// origin check refuses: return the error from the handler. (Another
    /// protocol version is answered `426` with `Sec-WebSocket-Version: 13`
    /// directly, returning `Ok`.)
    pub fn accept(
        &self,
        req: &Request,
        resp: &mut Response,
        f: impl FnOnce(WebSocket) + Send + 'static,
    ) -> Result<(), Error> {
        if req.method() != Method::GET || req.version() < Version::HTTP_11 {
            return Err(Error::bad_request(
                "websocket upgrade must be GET over HTTP/1.1",
            ));
        }
        let h = req.headers();
        let strs = |name: &str| {
            h.get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        if !has_token(strs("upgrade").into_iter(), "websocket") {
            return Err(Error::bad_request("missing Upgrade: websocket"));
        }
        if !has_token(strs("connection").into_iter(), "upgrade") {
            return Err(Error::bad_request("missing Connection: upgrade"));
        }
        if req.header("sec-websocket-version").map(str::trim) != Some("13") {
            // Answered here: an error response would drop the header.
            resp.status(StatusCode::UPGRADE_REQUIRED)
                .header("sec-websocket-version", "13")?
                .text("unsupported websocket version\n");
            return Ok(());
        }
        let key = req
            .header("sec-websocket-key")
            .map(str::trim)
            .filter(|k| base64_decoded_len(k) == Some(16))
            .ok_or_else(|| Error::bad_request("missing or invalid Sec-WebSocket-Key"))?;
        if let Some(check) = &self.origin {
            if !check(req.header("origin"), req) {
                return Err(Error::new(StatusCode::FORBIDDEN, "origin not allowed"));
            }
        }
        let offered: Vec<String> = strs("sec-websocket-protocol")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let protocol = self
            .protocols
            .iter()
            .find(|p| offered.iter().any(|o| o == *p))
            .cloned();
        let deflate = if self.config.compression {
            accept_offer(strs("sec-websocket-extensions").into_iter())
        } else {
            None
        };
        resp.header("upgrade", "websocket")?;
        resp.header("connection", "Upgrade")?;
        resp.header("sec-websocket-accept", &accept_key(key))?;
        if let Some(p) = &protocol {
            resp.header("sec-websocket-protocol", p)?;
        }
        if let Some((_, answer)) = &deflate {
            resp.header("sec-websocket-extensions", answer)?;
        }
        let config = self.config.clone();
        let params = deflate.map(|(p, _)| p);
        resp.upgrade(move |up| f(WebSocket::new(up, Role::Server, config, protocol, params)));
        Ok(())
    }
}

/// Answers a WebSocket upgrade request with default options; `f` runs with
/// the [`WebSocket`] once the handler returns. Use from any handler:
/// `ws::upgrade(req, resp, |ws| ...)`; see [`Upgrade::accept`] for options.
///
/// # Errors
/// As [`Upgrade::accept`].
pub fn upgrade(
    req: &Request,
    resp: &mut Response,
    f: impl FnOnce(WebSocket) + Send + 'static,
) -> Result<(), Error> {
    Upgrade::new().accept(req, resp, f)
}
