//! Request bodies and the request builder.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Method;

use super::error::{Error, ErrorKind, Result};
use super::response::Response;
use super::target::{base64, Target};
use super::Client;

/// A request body: nothing, bytes in memory, or a reader streamed to the
/// server (chunked, unless its length is given).
///
/// Bytes can be sent again (on a redirect that keeps the body, or on a
/// retry after a stale pooled connection); a reader can be sent once.
pub struct Body {
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Empty,
    Bytes(Arc<[u8]>),
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body streamed from `reader` with `Transfer-Encoding: chunked`.
    pub fn from_reader(reader: impl Read + Send + 'static) -> Body {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: None,
            },
        }
    }

    /// A body of exactly `len` bytes streamed from `reader`, sent with
    /// `Content-Length`. A reader that ends early fails the request.
    pub fn sized(reader: impl Read + Send + 'static, len: u64) -> Body {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: Some(len),
            },
        }
    }

    /// The length, when known.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Bytes(b) => Some(b.len() as u64),
            BodyKind::Reader { len, .. } => *len,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// A copy for sending again, if the body can be replayed.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            BodyKind::Empty => Some(Body::empty()),
            BodyKind::Bytes(b) => Some(Body {
                kind: BodyKind::Bytes(b.clone()),
            }),
            BodyKind::Reader { .. } => None,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::Empty"),
            BodyKind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            BodyKind::Reader { len, .. } => write!(f, "Body::Reader(len: {len:?})"),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body {
            kind: BodyKind::Bytes(v.into()),
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(s.into_bytes())
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(s.as_bytes())
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body {
            kind: BodyKind::Bytes(s.into()),
        }
    }
}

/// A request ready to send: from [`RequestBuilder::build`], run with
/// [`Client::execute`].
#[derive(Debug)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeout: Option<Duration>,
}

impl Request {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &http::Uri {
        &self.target.uri
    }

    /// The header fields set on this request (the client adds `Host`,
    /// framing and its defaults when sending).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }
}

/// Builds a request; from [`Client::get`], [`Client::post`],
/// [`Client::request`] and the like. Errors (a bad URL or header) are kept
/// and returned by [`RequestBuilder::send`].
#[must_use = "a RequestBuilder does nothing until sent"]
pub struct RequestBuilder {
    client: Client,
    request: Result<Request>,
    query: Vec<(String, String)>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> RequestBuilder {
        let request = Target::parse(url).map(|target| Request {
            method,
            target,
            headers: HeaderMap::new(),
            body: Body::empty(),
            timeout: None,
        });
        RequestBuilder {
            client,
            request,
            query: Vec::new(),
        }
    }

    fn map(mut self, f: impl FnOnce(&mut Request) -> Result<()>) -> RequestBuilder {
        if let Ok(req) = &mut self.request {
            if let Err(e) = f(req) {
                self.request = Err(e);
            }
        }
        self
    }

    /// Adds a header field (keeping earlier values of the same name).
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.map(|req| {
            let bad =
                |e: http::Error| Error::new(ErrorKind::Builder, "invalid header").with_source(e);
            let name = name.try_into().map_err(|e| bad(e.into()))?;
            let value = value.try_into().map_err(|e| bad(e.into()))?;
            req.headers.append(name, value);
            Ok(())
        })
    }

    /// Adds every field of `headers`, replacing fields of the same names.
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.map(|req| {
            let mut last = None;
            for (name, value) in headers {
                let name = match name {
                    Some(n) => {
                        req.headers.remove(&n);
                        last = Some(n.clone());
                        n
                    }
                    None => last.clone().expect("HeaderMap yields a name first"),
                };
                req.headers.append(name, value);
            }
            Ok(())
        })
    }

    /// Appends `pairs` to the URL's query string, form-urlencoded.
    pub fn query<K: ToString, V: ToString>(mut self, pairs: &[(K, V)]) -> RequestBuilder {
        self.query
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Sets the body.
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        self.map(|req| {
            req.body = body.into();
            Ok(())
        })
    }

    /// Sets a form body (`application/x-www-form-urlencoded`).
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> RequestBuilder {
        let mut s = String::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            super::target::form_encode(k.as_ref(), &mut s);
            s.push('=');
            super::target::form_encode(v.as_ref(), &mut s);
        }
        self.map(|req| {
            req.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            req.body = s.into();
            Ok(())
        })
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> RequestBuilder {
        let bytes = serde_json::to_vec(value);
        self.map(|req| {
            let bytes = bytes
                .map_err(|e| Error::new(ErrorKind::Builder, "cannot encode JSON").with_source(e))?;
            req.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            req.body = bytes.into();
            Ok(())
        })
    }

    /// Asks the server to switch to `protocol` (`Connection: Upgrade`,
    /// `Upgrade: protocol`, e.g. `websocket`). A `101 Switching Protocols`
    /// answer is taken over with [`Response::upgrade`]. Through an HTTP
    /// proxy, such a request to an `http://` URL goes through a `CONNECT`
    /// tunnel (a proxy forwarding requests would not pass the upgrade on).
    /// Setting the `Upgrade` header by hand does the same.
    pub fn upgrade(self, protocol: &str) -> RequestBuilder {
        self.header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, protocol)
    }

    /// Sends `Authorization: Basic` with `user` and `password`.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> RequestBuilder {
        let creds = format!("{user}:{}", password.unwrap_or_default());
        let value = format!("Basic {}", base64(creds.as_bytes()));
        self.header(header::AUTHORIZATION, value)
    }

    /// Sends `Authorization: Bearer token`.
    pub fn bearer_auth(self, token: &str) -> RequestBuilder {
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// A deadline for this request, from sending it to the end of the
    /// response body; overrides the client's [`timeout`](super::ClientBuilder::timeout).
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.map(|req| {
            req.timeout = Some(timeout);
            Ok(())
        })
    }

    /// The request, without sending it.
    ///
    /// # Errors
    /// [`Error::is_builder`] for an invalid URL, header or body.
    pub fn build(self) -> Result<Request> {
        let mut req = self.request?;
        if !self.query.is_empty() {
            let uri = super::target::append_query(&req.target.uri, &self.query)?;
            req.target = Target::from_uri(uri)?;
        }
        Ok(req)
    }

    /// Sends the request and returns the response once its head arrived;
    /// the body is read from the [`Response`].
    ///
    /// # Errors
    /// See [`Client::execute`].
    pub fn send(self) -> Result<Response> {
        let client = self.client.clone();
        client.execute(self.build()?)
    }
}
