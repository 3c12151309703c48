//! The request a handler receives.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::chan::Receiver;

use http::header::{self, HeaderMap};
use http::{Extensions, Method, StatusCode, Uri, Version};

use super::io::Input;
use super::lifecycle::{is_disconnect, Lifecycle};
use crate::proto::{BodyDecoder, RequestHead};
use crate::urlencoded;
use crate::Error;

/// An HTTP request: the head as `http` crate types, and a body read lazily
/// from the connection.
///
/// The body is not read before the handler runs. Read it with
/// [`Request::body`] (streaming, [`Read`]), [`Request::read_body_to_vec`],
/// [`Request::form`] or `json()`. What the handler leaves unread is
/// discarded by the server (up to a limit, past which the connection is
/// closed), so it is never taken for the next request.
#[derive(Debug)]
pub struct Request {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    remote_addr: SocketAddr,
    extensions: Extensions,
    /// Path parameters set by the router: names and decoded values.
    params: Vec<(Box<str>, String)>,
    /// The matched route template, set by the router.
    route: Option<std::sync::Arc<str>>,
    pub(crate) body: BodyState,
    max_body: usize,
}

/// The request body's read state; owns the connection's input while the
/// handler runs.
#[derive(Debug)]
pub(crate) struct BodyState {
    pub(crate) input: Input,
    pub(crate) decoder: BodyDecoder,
    /// `Expect: 100-continue` was sent and `100 Continue` was not (yet).
    pub(crate) continue_pending: bool,
    pub(crate) read_timeout: Duration,
    /// An overall deadline for the body (set while draining it).
    pub(crate) deadline: Option<Instant>,
    /// A read failed (malformed chunk, timeout, reset): the rest of the
    /// stream cannot be trusted.
    pub(crate) failed: bool,
    /// The request's lifecycle, told when the body ends (the connection can
    /// be watched from then on) or the client leaves in the middle of it.
    pub(crate) life: Arc<Lifecycle>,
}

impl BodyState {
    /// Reads body bytes into `out` (0 at the end of the body).
    pub(crate) fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.next_piece(out.len(), |data| out[..data.len()].copy_from_slice(data))
    }

    /// Hands the next decoded piece of the body, at most `max` bytes, to
    /// `take` (straight from the connection's buffer, without a copy);
    /// returns its length (0 at the end of the body).
    fn next_piece(&mut self, max: usize, take: impl FnOnce(&[u8])) -> io::Result<usize> {
        if max == 0 || self.decoder.is_done() {
            return Ok(0);
        }
        let r = self.next_piece_inner(max, take);
        match &r {
            Err(e) => {
                self.failed = true;
                if is_disconnect(e) {
                    self.life.client_gone();
                }
            }
            Ok(_) if self.decoder.is_done() => self.watch_if_quiet(),
            Ok(_) => {}
        }
        r
    }

    /// Whether everything left of this request's body is already buffered
    /// and nothing follows it: the handler's reads will not touch the
    /// socket, so the connection can be watched for the client leaving.
    pub(crate) fn socket_quiet(&self) -> bool {
        !self.failed && self.decoder.remaining_hint() == Some(self.input.pending().len() as u64)
    }

    /// Tells the lifecycle when the socket can be watched.
    fn watch_if_quiet(&self) {
        if self.socket_quiet() {
            self.life.body_quiet();
        }
    }

    fn next_piece_inner(&mut self, max: usize, take: impl FnOnce(&[u8])) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("request body failed earlier"));
        }
        if self.continue_pending {
            self.continue_pending = false;
            self.input
                .stream
                .tcp()
                .set_write_timeout(Some(self.read_timeout))?;
            (&*self.input.stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        loop {
            let (used, data) = self
                .decoder
                .decode(self.input.pending(), max)
                .map_err(|e| io::Error::from(Error::new(StatusCode::BAD_REQUEST, e.to_string())))?;
            let len = data.len();
            if len > 0 {
                take(data);
                self.input.consume(used);
                return Ok(len);
            }
            self.input.consume(used);
            if self.decoder.is_done() {
                return Ok(0);
            }
            let mut deadline = Instant::now() + self.read_timeout;
            if let Some(d) = self.deadline {
                deadline = deadline.min(d);
            }
            if self.input.fill(Some(deadline))? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside the request body",
                ));
            }
        }
    }

    /// Discards the rest of the body if it is at most `limit` bytes away.
    /// Returns whether the connection is still usable.
    pub(crate) fn drain(&mut self, limit: usize) -> bool {
        if self.failed {
            return false;
        }
        if self.decoder.is_done() {
            return true;
        }
        self.drain_rest(limit)
    }

    #[inline(never)]
    fn drain_rest(&mut self, limit: usize) -> bool {
        if self.continue_pending {
            // The client may be waiting for `100 Continue` or may send the
            // body anyway: only closing is safe.
            return false;
        }
        if self
            .decoder
            .remaining_hint()
            .is_some_and(|n| n > limit as u64)
        {
            return false;
        }
        // A client dribbling the rest gets one read timeout in total.
        self.deadline = Some(Instant::now() + self.read_timeout);
        let mut total = 0usize;
        while total <= limit {
            match self.next_piece(limit + 1 - total, |_| {}) {
                Ok(0) => return true,
                Ok(n) => total += n,
                Err(_) => return false,
            }
        }
        false
    }
}

/// The request body as a [`Read`]er; see [`Request::body`].
#[derive(Debug)]
pub struct Body<'a> {
    state: &'a mut BodyState,
}

impl Read for Body<'_> {
    /// Reads decoded body bytes; `Ok(0)` at the end of the body.
    ///
    /// # Errors
    /// `TimedOut` when no byte arrives within the server's read timeout,
    /// `UnexpectedEof` when the client closes early, `InvalidData` (wrapping
    /// an [`Error`] with status 400) on a malformed chunked body.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.state.read(buf)
    }
}

impl Request {
    pub(crate) fn new(
        head: RequestHead,
        remote_addr: SocketAddr,
        body: BodyState,
        max_body: usize,
    ) -> Request {
        Request {
            method: head.method,
            uri: head.uri,
            version: head.version,
            headers: head.headers,
            remote_addr,
            extensions: Extensions::new(),
            params: Vec::new(),
            route: None,
            body,
            max_body,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent (usually a path and query).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The path of the target, still percent-encoded.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, for middleware that rewrites them.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The value of header `name` if present and visible ASCII (the first one
    /// if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The raw query string, without `?`.
    pub fn raw_query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The query parameters, decoded, in order (a name may repeat).
    pub fn query(&self) -> Vec<(String, String)> {
        self.uri
            .query()
            .map(|q| urlencoded::parse_pairs(q.as_bytes()))
            .unwrap_or_default()
    }

    /// The first query parameter called `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    /// The value of cookie `name` from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|h| urlencoded::find_cookie(h, name))
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The TLS session the request came over (Go's `r.TLS`): the name the
    /// client asked for (SNI), the ALPN protocol and the client's
    /// certificates. `None` on plain HTTP.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&super::tls::ConnectionState> {
        self.body.input.stream.tls_state()
    }

    /// Values attached by middleware or the router (such as path
    /// parameters).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Mutable access to the extensions.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The path parameter `name` captured by the [`Router`](crate::Router)
    /// (`:name` or `*name` in the route), percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All path parameters as `(name, value)` pairs, in route order.
    pub fn params(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// The route template that matched, such as `/users/:id` (a
    /// low-cardinality label for logs and metrics); `None` before routing
    /// or when no route matched.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// Records the routing outcome.
    pub(crate) fn set_route(
        &mut self,
        route: std::sync::Arc<str>,
        params: Vec<(Box<str>, String)>,
    ) {
        self.route = Some(route);
        self.params = params;
    }

    /// The body, decoded from `Content-Length` or chunked framing, read from
    /// the connection as the handler reads it. The first read answers
    /// `Expect: 100-continue` with `100 Continue`.
    pub fn body(&mut self) -> Body<'_> {
        Body {
            state: &mut self.body,
        }
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// An [`Error`] with status `413` when the body is longer than `limit`
    /// (checked against `Content-Length` before reading), `408` on a read
    /// timeout, `400` on a malformed body, `500` on other I/O errors.
    pub fn read_body_to_vec(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let too_large = || Error::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        if self
            .body
            .decoder
            .remaining_hint()
            .is_some_and(|n| n > limit as u64)
        {
            return Err(too_large());
        }
        let mut out = Vec::new();
        loop {
            let room = limit - out.len();
            // One byte past the limit tells a too-long body apart.
            let n = self
                .body
                .next_piece(room.saturating_add(1), |data| out.extend_from_slice(data))?;
            if n == 0 {
                return Ok(out);
            }
            if out.len() > limit {
                return Err(too_large());
            }
        }
    }

    /// Whether the client has gone away: it closed or reset the connection
    /// (Go's `r.Context().Err() != nil`, for the client side).
    ///
    /// The server can tell only once the request body has been read (or
    /// when there is none): until then a closed connection shows up as an
    /// error from the body read, which also sets this. With
    /// [`crate::Config::cancel_on_disconnect`] on (the default) the
    /// handler's coroutine is also canceled then, so its blocking calls
    /// fail at once. A client that half-closes its side after sending the
    /// request counts as gone, as in Go.
    pub fn is_client_gone(&self) -> bool {
        self.body.life.is_client_gone()
    }

    /// A receiver that is closed when the client goes away (see
    /// [`Request::is_client_gone`]), when the server's graceful shutdown
    /// starts, or when the handler returns: Go's `r.Context().Done()`.
    /// Nothing is ever sent on it, so it works in `select!`:
    ///
    /// ```no_run
    /// use fibra_http::{handler_fn, Error};
    /// use fibra_runtime::{chan, select};
    ///
    /// let (_tx, jobs) = chan::bounded::<String>(1);
    /// let h = handler_fn(move |req, resp| {
    ///     let done = req.done();
    ///     select! {
    ///         recv(jobs) -> job => resp.text(job.unwrap_or_default()),
    ///         recv(done) -> _ => return Err(Error::new(
    ///             fibra_http::StatusCode::SERVICE_UNAVAILABLE, "gone or shutting down")),
    ///         interrupted(e) => return Err(Error::internal(e)),
    ///     };
    ///     Ok(())
    /// });
    /// # drop(h);
    /// ```
    pub fn done(&self) -> Receiver<()> {
        self.body.life.done()
    }

    /// Reads the whole body up to the server's `max_body_size`
    /// ([`crate::Config::max_body_size`]).
    ///
    /// # Errors
    /// As [`Request::read_body_to_vec`].
    pub fn body_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.read_body_to_vec(self.max_body)
    }

    /// Reads and decodes an `application/x-www-form-urlencoded` body (up to
    /// `max_body_size`) into name/value pairs, in order. Unlike Go's
    /// `ParseForm`, query parameters are not merged in; see
    /// [`Request::query`].
    ///
    /// # Errors
    /// `415` when the content type is not a URL-encoded form, else as
    /// [`Request::read_body_to_vec`].
    pub fn form(&mut self) -> Result<Vec<(String, String)>, Error> {
        let is_form = self
            .header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| {
                ct.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/x-www-form-urlencoded",
            ));
        }
        let body = self.body_bytes()?;
        Ok(urlencoded::parse_pairs(&body))
    }

    /// Reads the body (up to `max_body_size`) and parses it as JSON.
    ///
    /// # Errors
    /// `400` when the body is not valid JSON for `T`, else as
    /// [`Request::read_body_to_vec`].
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, Error> {
        let body = self.body_bytes()?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))
    }
}

impl Request {
    /// Gives the connection's input back to the server.
    pub(crate) fn into_input(self) -> Input {
        self.body.input
    }
}
