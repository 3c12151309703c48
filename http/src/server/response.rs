//! The response a handler fills in.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use std::io::{self, Write};
use std::sync::Arc;

use super::io::{Output, FLUSH_THRESHOLD};
use super::lifecycle::Lifecycle;
use crate::client::Upgraded;
use crate::proto::{encode_chunk, encode_last_chunk, encode_response_head, ResponseFraming};
use crate::Error;

/// The callback of [`Response::upgrade`].
pub(crate) type UpgradeFn = Box<dyn FnOnce(Upgraded) + Send + 'static>;

/// Where the response is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Status, headers and body are buffered; nothing sent.
    Buffering,
    /// The head was encoded; the body streams with this framing.
    Streaming {
        framing: ResponseFraming,
        written: u64,
    },
}

/// An HTTP response under construction.
///
/// By default the response is buffered: set [`Response::status`],
/// [`Response::header`] and [`Response::body`], and the server writes it
/// with a `Content-Length` after the handler returns. For a streamed body
/// call [`Response::writer`]: the head is sent first, then the body with
/// chunked encoding (unless a `Content-Length` header was set; on HTTP/1.0
/// the body ends when the connection closes).
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    pub(crate) out: Output,
    version: Version,
    is_head: bool,
    /// Whether the connection may stay open after this response.
    pub(crate) keep_alive: bool,
    pub(crate) phase: Phase,
    pub(crate) upgrade: Option<UpgradeFn>,
    /// The request's lifecycle (client gone, shutdown), for streams.
    pub(crate) life: Arc<Lifecycle>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn new(
        out: Output,
        version: Version,
        is_head: bool,
        keep_alive: bool,
        life: Arc<Lifecycle>,
    ) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Vec::new(),
            out,
            version,
            is_head,
            keep_alive,
            phase: Phase::Buffering,
            upgrade: None,
            life,
        }
    }

    /// Sets the status code (default `200 OK`).
    pub fn status(&mut self, status: StatusCode) -> &mut Response {
        self.status = status;
        self
    }

    /// The status code set so far.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Sets header `name` to `value`, replacing earlier values (Go's
    /// `Header().Set`).
    ///
    /// # Errors
    /// When the head was already sent, when `name` is not a valid header
    /// name, or when `value` contains CR, LF, NUL or another control byte
    /// (which would let a value split the response).
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Response, Error> {
        let (name, value) = self.check_header(name, value)?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Adds a value for header `name`, keeping earlier ones (Go's
    /// `Header().Add`), e.g. for `Set-Cookie`.
    ///
    /// # Errors
    /// As [`Response::header`].
    pub fn append_header(&mut self, name: &str, value: &str) -> Result<&mut Response, Error> {
        let (name, value) = self.check_header(name, value)?;
        self.headers.append(name, value);
        Ok(self)
    }

    fn check_header(&self, name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
        if self.head_sent() {
            return Err(Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response head already sent",
            ));
        }
        let name = HeaderName::from_bytes(name.as_bytes())?;
        // `HeaderValue` refuses CR, LF, NUL and other controls but HTAB.
        let value = HeaderValue::from_str(value)?;
        Ok((name, value))
    }

    /// The headers set so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Mutable access to the headers (typed `http` values cannot hold CR or
    /// LF). Changes after the head was sent have no effect.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Sets the buffered body, replacing what was set before.
    pub fn body(&mut self, body: impl Into<Vec<u8>>) -> &mut Response {
        self.body = body.into();
        self
    }

    /// The buffered body set so far (empty once streaming started).
    pub fn buffered_body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the buffered body out, leaving it empty (for middleware that
    /// transforms it, then sets it back with [`Response::body`]).
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Whether this answers a `HEAD` request (the server sends no body).
    pub fn is_head(&self) -> bool {
        self.is_head
    }

    /// Sets a `text/plain; charset=utf-8` body.
    pub fn text(&mut self, body: impl Into<String>) -> &mut Response {
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        self.body(body.into())
    }

    /// Serializes `value` as the JSON body, with `Content-Type:
    /// application/json`.
    ///
    /// # Errors
    /// When `value` cannot be serialized.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Response, Error> {
        let body = serde_json::to_vec(value)?;
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(self.body(body))
    }

    /// Whether the head has been encoded for sending (the status and headers
    /// can no longer change).
    pub fn head_sent(&self) -> bool {
        self.phase != Phase::Buffering
    }

    /// Starts streaming the body: sends the head (with what was set by
    /// [`Response::body`] as the first piece of the body) and returns a
    /// writer for the rest. Framing: the `Content-Length` header if set,
    /// else chunked on HTTP/1.1, else the connection closes at the end.
    /// [`Write::flush`] pushes what was written to the client (for server
    /// events); otherwise bytes are batched.
    pub fn writer(&mut self) -> BodyWriter<'_> {
        if self.phase == Phase::Buffering {
            self.honour_connection_close();
            let declared = self
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let framing = if no_body_status(self.status) {
                ResponseFraming::NoBody
            } else if let Some(n) = declared {
                ResponseFraming::Length(n)
            } else if self.version == Version::HTTP_11 {
                ResponseFraming::Chunked
            } else {
                self.keep_alive = false;
                ResponseFraming::CloseDelimited
            };
            encode_response_head(
                self.version,
                self.status,
                &self.headers,
                framing,
                self.keep_alive,
                &mut self.out.buf,
            );
            self.phase = Phase::Streaming {
                framing,
                written: 0,
            };
            let first = std::mem::take(&mut self.body);
            let mut w = BodyWriter { resp: self };
            if let Err(e) = w.write_all(&first) {
                tracing::debug!(error = %e, "fibra-http: first body piece refused");
            }
            return w;
        }
        BodyWriter { resp: self }
    }

    /// Switches protocols: after the handler returns, the server writes this
    /// response as `101 Switching Protocols` (set the `Upgrade` and
    /// `Connection: upgrade` headers yourself) and calls `f` in the
    /// connection's coroutine with the connection (plain or TLS), which
    /// first returns the bytes the client sent after the request. The HTTP
    /// server is then done with it.
    pub fn upgrade(&mut self, f: impl FnOnce(Upgraded) + Send + 'static) -> &mut Response {
        self.status = StatusCode::SWITCHING_PROTOCOLS;
        self.upgrade = Some(Box::new(f));
        self
    }

    /// A handler's own `Connection: close` closes the connection.
    fn honour_connection_close(&mut self) {
        let close = self
            .headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if close {
            self.keep_alive = false;
        }
    }

    /// Replaces an unsent response with an error response.
    pub(crate) fn reset_to_error(&mut self, status: StatusCode, message: &str) {
        debug_assert!(!self.head_sent());
        self.status = status;
        self.headers.clear();
        self.upgrade = None;
        let text = if status.is_server_error() || message.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            message.to_string()
        };
        self.text(text + "\n");
    }

    /// Encodes what is still unsent into the output buffer: a buffered
    /// response whole, or the end of a streamed one. Returns whether the
    /// connection can serve another request.
    pub(crate) fn finish(&mut self) -> bool {
        match self.phase {
            Phase::Buffering => {
                self.honour_connection_close();
                let framing = if no_body_status(self.status) {
                    ResponseFraming::NoBody
                } else if self.is_head && self.body.is_empty() {
                    // A HEAD handler may declare the length it would send.
                    match self
                        .headers
                        .get(header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        Some(n) => ResponseFraming::Length(n),
                        None => ResponseFraming::Length(0),
                    }
                } else {
                    ResponseFraming::Length(self.body.len() as u64)
                };
                encode_response_head(
                    self.version,
                    self.status,
                    &self.headers,
                    framing,
                    self.keep_alive,
                    &mut self.out.buf,
                );
                if !self.is_head && framing != ResponseFraming::NoBody {
                    self.out.buf.extend_from_slice(&self.body);
                }
                self.body = Vec::new();
                self.phase = Phase::Streaming {
                    framing,
                    written: 0,
                };
                self.keep_alive
            }
            Phase::Streaming { framing, written } => match framing {
                ResponseFraming::Chunked => {
                    if !self.is_head {
                        encode_last_chunk(&mut self.out.buf);
                    }
                    self.keep_alive
                }
                // A short body leaves the client waiting: close instead.
                ResponseFraming::Length(n) => self.keep_alive && (written == n || self.is_head),
                ResponseFraming::NoBody => self.keep_alive,
                ResponseFraming::CloseDelimited => false,
            },
        }
    }
}

fn no_body_status(s: StatusCode) -> bool {
    s.is_informational() || s == StatusCode::NO_CONTENT || s == StatusCode::NOT_MODIFIED
}

/// A streamed response body; see [`Response::writer`].
#[derive(Debug)]
pub struct BodyWriter<'a> {
    resp: &'a mut Response,
}

impl BodyWriter<'_> {
    /// The request's lifecycle, for streams that end when the client
    /// leaves or the server shuts down.
    pub(crate) fn life(&self) -> &Arc<Lifecycle> {
        &self.resp.life
    }
}

impl Write for BodyWriter<'_> {
    /// Appends body bytes (chunk-encoded when chunked), writing to the
    /// socket once enough is batched. For `HEAD` requests and bodiless
    /// statuses the bytes are discarded.
    ///
    /// # Errors
    /// The socket's write errors; `InvalidInput` when writing more than the
    /// declared `Content-Length`.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let r = &mut *self.resp;
        let Phase::Streaming { framing, written } = &mut r.phase else {
            unreachable!("BodyWriter exists only once the head is encoded");
        };
        if data.is_empty() || r.is_head {
            return Ok(data.len());
        }
        match *framing {
            ResponseFraming::NoBody => return Ok(data.len()),
            ResponseFraming::Length(n) => {
                if *written + data.len() as u64 > n {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "response body longer than its Content-Length",
                    ));
                }
                r.out.buf.extend_from_slice(data);
            }
            ResponseFraming::Chunked => encode_chunk(data, &mut r.out.buf),
            ResponseFraming::CloseDelimited => r.out.buf.extend_from_slice(data),
        }
        *written += data.len() as u64;
        if r.out.buf.len() >= FLUSH_THRESHOLD {
            r.out.flush()?;
        }
        Ok(data.len())
    }

    /// Sends everything written so far to the client.
    ///
    /// # Errors
    /// The socket's write errors.
    fn flush(&mut self) -> io::Result<()> {
        self.resp.out.flush()
    }
}
