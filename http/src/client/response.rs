//! The response and its streaming body.

use std::fmt;
use std::io::{self, Read};
use std::time::Instant;

use fibra_runtime::pool::PooledConn;
use http::header::{self, HeaderMap};
use http::{StatusCode, Uri, Version};

use super::conn::{with_optional_deadline, HostManager};
use super::error::{Error, ErrorKind, Result};
use super::upgrade::Upgraded;
use crate::proto::{BodyDecoder, ResponseBodyFraming};

/// Bytes read from a body left unread before the connection is given up:
/// draining more than this costs more than a new connection.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Where the raw (still encoded) body bytes come from.
pub(crate) struct RawBody {
    conn: Option<PooledConn<HostManager>>,
    decoder: Option<BodyDecoder>,
    keep_alive: bool,
    deadline: Option<Instant>,
    read_limit: usize,
    done: bool,
}

impl RawBody {
    pub(crate) fn new(
        conn: PooledConn<HostManager>,
        framing: ResponseBodyFraming,
        keep_alive: bool,
        deadline: Option<Instant>,
    ) -> RawBody {
        let (decoder, keep_alive) = match framing {
            ResponseBodyFraming::Framed(f) => (Some(BodyDecoder::new(f)), keep_alive),
            ResponseBodyFraming::UntilClose => (None, false),
        };
        let mut body = RawBody {
            conn: Some(conn),
            decoder,
            keep_alive,
            deadline,
            read_limit: 64 * 1024,
            done: false,
        };
        if body.decoder.as_ref().is_some_and(BodyDecoder::is_done) {
            // No body: the connection is free now (or broken by extra bytes).
            let _ = body.finish();
        }
        body
    }

    /// The body of a `101 Switching Protocols` answer: none. The
    /// connection waits for [`Response::upgrade`]; it is closed if the
    /// response is dropped instead.
    pub(crate) fn switched(conn: PooledConn<HostManager>) -> RawBody {
        RawBody {
            conn: Some(conn),
            decoder: None,
            keep_alive: false,
            deadline: None,
            read_limit: 0,
            done: true,
        }
    }

    /// The connection of a [`RawBody::switched`] body.
    fn take_switched(&mut self) -> Option<PooledConn<HostManager>> {
        if self.done {
            self.conn.take()
        } else {
            None
        }
    }

    /// The body is complete: hands the connection back, unless the server
    /// sent more than it declared or it cannot be reused.
    fn finish(&mut self) -> Result<()> {
        self.done = true;
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let extra = !conn.buffered().is_empty();
        conn.served += 1;
        // Whether the pool keeps it idle (`max_idle_per_host`) is decided by
        // the pool under its lock when the connection is dropped back.
        let keep = self.keep_alive && !extra && !conn.broken;
        if keep {
            drop(conn);
        } else {
            conn.discard();
        }
        if extra {
            return Err(Error::new(
                ErrorKind::Body,
                "server sent more data than the response framing declared",
            ));
        }
        Ok(())
    }

    fn fail(&mut self, e: Error) -> io::Error {
        self.done = true;
        if let Some(c) = self.conn.take() {
            c.discard();
        }
        e.into()
    }

    /// Reads everything left, up to `limit` bytes, so the connection can be
    /// reused; gives the connection up when the body is longer.
    pub(crate) fn drain(&mut self, limit: usize) {
        let mut sink = [0u8; 8 * 1024];
        let mut total = 0;
        while !self.done && total < limit {
            match self.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        if !self.done {
            if let Some(c) = self.conn.take() {
                c.discard();
            }
            self.done = true;
        }
    }
}

impl Read for RawBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            let Some(conn) = self.conn.as_mut() else {
                self.done = true;
                return Ok(0);
            };
            if !conn.buffered().is_empty() {
                let (consumed, n, finished) = match self.decoder.as_mut() {
                    Some(d) => match d.decode(conn.buffered(), out.len()) {
                        Ok((consumed, data)) => {
                            out[..data.len()].copy_from_slice(data);
                            (consumed, data.len(), d.is_done())
                        }
                        Err(e) => {
                            let e = Error::new(ErrorKind::Body, "malformed response body")
                                .with_source(e);
                            return Err(self.fail(e));
                        }
                    },
                    None => {
                        let data = conn.buffered();
                        let n = data.len().min(out.len());
                        out[..n].copy_from_slice(&data[..n]);
                        (n, n, false)
                    }
                };
                conn.consume(consumed);
                if finished {
                    self.finish().map_err(io::Error::from)?;
                }
                if n > 0 {
                    return Ok(n);
                }
                continue;
            }
            let limit = self.read_limit;
            let got = with_optional_deadline(self.deadline, || conn.fill(limit));
            match got {
                Ok(0) if self.decoder.is_none() => {
                    // Delimited by close: this is the end.
                    self.finish().map_err(io::Error::from)?;
                    return Ok(0);
                }
                Ok(0) => {
                    let missing = match self.decoder.as_ref().and_then(BodyDecoder::remaining_hint)
                    {
                        Some(n) => format!("{n} bytes short of Content-Length"),
                        None => "chunked body without its last chunk".to_owned(),
                    };
                    let e = Error::io(
                        ErrorKind::Body,
                        format!("connection closed before the end of the body ({missing})"),
                        io::ErrorKind::UnexpectedEof.into(),
                    );
                    return Err(self.fail(e));
                }
                Ok(_) => {}
                Err(e) => {
                    let e = Error::io(ErrorKind::Body, "reading the response body failed", e);
                    return Err(self.fail(e));
                }
            }
        }
    }
}

impl Drop for RawBody {
    fn drop(&mut self) {
        if self.done {
            // A switched connection nobody took over.
            if let Some(c) = self.conn.take() {
                c.discard();
            }
            return;
        }
        if self.conn.is_none() {
            return;
        }
        // Finish from what is already buffered, without waiting; otherwise
        // the connection is in an unknown place and is closed.
        let complete = match (self.decoder.as_mut(), self.conn.as_mut()) {
            (Some(d), Some(conn)) => loop {
                if d.is_done() {
                    break true;
                }
                match d.decode(conn.buffered(), usize::MAX) {
                    Ok((0, _)) | Err(_) => break false,
                    Ok((n, _)) => conn.consume(n),
                }
            },
            _ => false,
        };
        if complete {
            let _ = self.finish();
        } else if let Some(c) = self.conn.take() {
            c.discard();
        }
    }
}

/// The body after content decoding.
enum Decoded {
    Plain(RawBody),
    Gzip(Box<flate2::read::GzDecoder<RawBody>>),
    Deflate(Box<flate2::read::ZlibDecoder<RawBody>>),
}

impl Decoded {
    fn raw(&mut self) -> &mut RawBody {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.get_mut(),
            Decoded::Deflate(d) => d.get_mut(),
        }
    }
}

impl Read for Decoded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let r = match self {
            Decoded::Plain(r) => return r.read(out),
            Decoded::Gzip(d) => d.read(out),
            Decoded::Deflate(d) => d.read(out),
        };
        match r {
            Ok(0) if !out.is_empty() => {
                // The compressed stream ended: the raw body must end too.
                let raw = self.raw();
                let mut rest = [0u8; 64];
                match raw.read(&mut rest)? {
                    0 => Ok(0),
                    _ => {
                        let e = Error::new(
                            ErrorKind::Decode,
                            "data after the end of the compressed body",
                        );
                        Err(raw.fail(e))
                    }
                }
            }
            Ok(n) => Ok(n),
            Err(e) if e.get_ref().is_some_and(|i| i.is::<Error>()) => Err(e),
            Err(e) => {
                let e = Error::io(ErrorKind::Decode, "cannot decompress the response body", e);
                Err(self.raw().fail(e))
            }
        }
    }
}

/// An HTTP response: status, headers, and a body read as a stream
/// (`impl Read`) or at once ([`Response::bytes`], [`Response::text`],
/// `json` with the `json` feature).
///
/// The connection goes back to the pool when the body has been read to the
/// end; dropping a response with unread body closes the connection (unless
/// the rest of the body is already buffered).
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Uri,
    body: Decoded,
    max_body: usize,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn new(
        status: StatusCode,
        version: Version,
        mut headers: HeaderMap,
        url: Uri,
        raw: RawBody,
        decompress: bool,
        max_body: usize,
    ) -> Response {
        let coding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        let coding = coding.filter(|_| !raw.done);
        let body = match coding.as_deref() {
            Some("gzip" | "x-gzip") if decompress => {
                Decoded::Gzip(Box::new(flate2::read::GzDecoder::new(raw)))
            }
            Some("deflate") if decompress => {
                Decoded::Deflate(Box::new(flate2::read::ZlibDecoder::new(raw)))
            }
            _ => Decoded::Plain(raw),
        };
        if !matches!(body, Decoded::Plain(_)) {
            headers.remove(header::CONTENT_ENCODING);
            headers.remove(header::CONTENT_LENGTH);
        }
        Response {
            status,
            version,
            headers,
            url,
            body,
            max_body,
        }
    }

    pub(crate) fn drain(&mut self) {
        self.body.raw().drain(DRAIN_LIMIT);
    }

    /// Lifts the request deadline from the body, for a stream meant to
    /// stay open (an event stream): the deadline then bounded only the
    /// wait for the head.
    pub(crate) fn without_body_deadline(mut self) -> Response {
        self.body.raw().deadline = None;
        self
    }

    /// Takes over the connection of a `101 Switching Protocols` answer:
    /// an owned, bidirectional [`Upgraded`] connection speaking the
    /// protocol the server switched to (`Upgrade` header), starting with
    /// any bytes the server sent right after the head. The connection
    /// leaves the client's pool for good. Ask for a switch with
    /// [`RequestBuilder::upgrade`](super::RequestBuilder::upgrade).
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = fibra_http::Client::new();
    /// let resp = client.get("http://127.0.0.1:8080/chat").upgrade("chat/1").send()?;
    /// let mut conn = resp.upgrade()?;
    /// conn.write_all(b"hello")?;
    /// let mut reply = [0u8; 5];
    /// conn.read_exact(&mut reply)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::is_status`] (with the status) when the response is not a
    /// `101`: the server refused the switch.
    pub fn upgrade(mut self) -> Result<Upgraded> {
        if self.status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::refused_status(
                self.status,
                format!("HTTP status {} instead of a protocol switch", self.status),
            )
            .with_url(&self.url));
        }
        let conn = self.body.raw().take_switched().ok_or_else(|| {
            Error::new(
                ErrorKind::Response,
                "the server switched protocols before the request body was sent",
            )
            .with_url(&self.url)
        })?;
        Ok(Upgraded::detach(conn))
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields. After gzip/deflate decoding, `Content-Encoding`
    /// and `Content-Length` are removed (they described the encoded body).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL of the final request, after redirects.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The `Content-Length`, if the server sent one (and the body was not
    /// decompressed).
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// `Err` with the status for a `4xx` or `5xx` response, like Go's
    /// `resp.StatusCode >= 400` check.
    ///
    /// # Errors
    /// An [`Error::is_status`] error carrying the status and URL.
    pub fn error_for_status(self) -> Result<Response> {
        if self.status.is_client_error() || self.status.is_server_error() {
            Err(
                Error::refused_status(self.status, format!("HTTP status {}", self.status))
                    .with_url(&self.url),
            )
        } else {
            Ok(self)
        }
    }

    /// The whole body, decoded, at most the client's
    /// [`max_body_bytes`](super::ClientBuilder::max_body_bytes).
    ///
    /// # Errors
    /// [`Error::is_body`] when the body is malformed, cut short or over the
    /// cap; [`Error::is_decode`] when decompression fails;
    /// [`Error::is_timeout`] when the request's deadline passes.
    pub fn bytes(self) -> Result<Vec<u8>> {
        let max = self.max_body;
        self.bytes_limited(max)
    }

    /// The whole body, failing once it passes `max` bytes (the connection
    /// is then closed).
    ///
    /// # Errors
    /// As [`Response::bytes`].
    pub fn bytes_limited(mut self, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.content_length().map_or(0, |n| {
            usize::try_from(n).unwrap_or(max).min(max).min(1 << 20)
        }));
        let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        (&mut self.body)
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| from_body_io(e).with_url(&self.url))?;
        if out.len() > max {
            let _ = self
                .body
                .raw()
                .fail(Error::new(ErrorKind::Body, "over the cap"));
            return Err(Error::new(
                ErrorKind::Body,
                format!("response body is larger than {max} bytes"),
            )
            .with_url(&self.url));
        }
        Ok(out)
    }

    /// The body as text. Invalid UTF-8 is replaced with U+FFFD, as browsers
    /// do.
    ///
    /// # Errors
    /// As [`Response::bytes`].
    pub fn text(self) -> Result<String> {
        let bytes = self.bytes()?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// As [`Response::bytes`]; [`Error::is_decode`] for invalid JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let url = self.url.clone();
        let bytes = self.bytes()?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Decode, "invalid JSON body")
                .with_source(e)
                .with_url(&url)
        })
    }
}

impl Read for Response {
    /// Reads the decoded body. Errors carry an [`Error`] inside the
    /// `io::Error` (see [`Error::is_body`] and friends).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// Unwraps an [`Error`] that travelled through `io::Read`.
pub(crate) fn from_body_io(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        if let Some(Ok(err)) = e.into_inner().map(|i| i.downcast::<Error>()) {
            return *err;
        }
        return Error::new(ErrorKind::Body, "reading the response body failed");
    }
    Error::io(ErrorKind::Body, "reading the response body failed", e)
}
