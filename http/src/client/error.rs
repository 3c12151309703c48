//! The client's error type.

use std::fmt;
use std::io;

use http::{StatusCode, Uri};

/// What went wrong, from [`Error::kind`]: the stage that failed, or the
/// event that ended it (a deadline, a cancellation). The `is_*` predicates
/// ask the same questions one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Invalid URL, header or request settings, found before sending.
    Builder,
    /// Could not connect (DNS, TCP, TLS handshake, proxy tunnel).
    Connect,
    /// A deadline passed (connect, handshake, pool wait, header, request).
    Timeout,
    /// The calling coroutine was canceled.
    Canceled,
    /// Sending the request failed.
    Request,
    /// The response head was malformed, or the connection broke before it.
    Response,
    /// The response body was malformed, cut short or over a size cap.
    Body,
    /// The body could not be decoded (gzip/deflate, UTF-8, JSON).
    Decode,
    /// Too many redirects, or a redirect that could not be followed.
    Redirect,
    /// A status the caller refused ([`Error::status`] has it).
    Status,
}

/// An HTTP client error: what failed, for which URL, and the underlying
/// cause.
///
/// Ask it questions with [`Error::is_timeout`], [`Error::is_connect`],
/// [`Error::is_body`] and the other predicates; [`std::error::Error::source`]
/// gives the I/O, TLS or parse error underneath.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    /// The refused status, for [`ErrorKind::Status`].
    status: Option<StatusCode>,
    message: String,
    url: Option<Uri>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                status: None,
                message: message.into(),
                url: None,
                source: None,
            }),
        }
    }

    /// An [`ErrorKind::Status`] error for a status the caller refused.
    pub(crate) fn refused_status(status: StatusCode, message: impl Into<String>) -> Error {
        let mut e = Error::new(ErrorKind::Status, message);
        e.inner.status = Some(status);
        e
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        self.inner.source = Some(source.into());
        self
    }

    /// An I/O error in the phase `kind`; a timeout or cancellation becomes
    /// that kind instead.
    pub(crate) fn io(kind: ErrorKind, message: impl Into<String>, e: io::Error) -> Error {
        let kind = if fibra_runtime::is_canceled(&e) {
            ErrorKind::Canceled
        } else if e.kind() == io::ErrorKind::TimedOut {
            ErrorKind::Timeout
        } else if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
            // An error of ours that travelled through `io::Read`.
            inner.inner.kind
        } else {
            kind
        };
        Error::new(kind, message).with_source(e)
    }

    pub(crate) fn with_url(mut self, url: &Uri) -> Error {
        if self.inner.url.is_none() {
            self.inner.url = Some(url.clone());
        }
        self
    }

    /// What kind of error this is (docs/conventions.md).
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The first I/O error in the source chain, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.sources().find_map(|e| e.downcast_ref::<io::Error>())
    }

    /// The URL of the request that failed, when known.
    pub fn url(&self) -> Option<&Uri> {
        self.inner.url.as_ref()
    }

    /// The status code, for an error made by
    /// [`Response::error_for_status`](super::Response::error_for_status).
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// Whether a deadline passed: connect, TLS handshake, waiting for a
    /// pooled connection, the response head, or the whole request.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// Whether the calling coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        self.inner.kind == ErrorKind::Canceled
    }

    /// Whether connecting failed (DNS, TCP, TLS handshake, proxy tunnel).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
    }

    /// Whether the request was invalid before anything was sent (bad URL,
    /// header or setting).
    pub fn is_builder(&self) -> bool {
        self.inner.kind == ErrorKind::Builder
    }

    /// Whether sending the request failed.
    pub fn is_request(&self) -> bool {
        self.inner.kind == ErrorKind::Request
    }

    /// Whether the response head was malformed, or the connection broke
    /// before it arrived.
    pub fn is_response(&self) -> bool {
        self.inner.kind == ErrorKind::Response
    }

    /// Whether the response body was malformed, cut short, longer than
    /// declared, or over a size cap.
    pub fn is_body(&self) -> bool {
        self.inner.kind == ErrorKind::Body
    }

    /// Whether decoding the body (gzip/deflate, UTF-8, JSON) failed.
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// Whether redirects could not be followed (too many, bad `Location`).
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == ErrorKind::Redirect
    }

    /// Whether this came from
    /// [`Response::error_for_status`](super::Response::error_for_status),
    /// or from [`Response::upgrade`](super::Response::upgrade) on a response
    /// that did not switch protocols.
    pub fn is_status(&self) -> bool {
        self.inner.kind == ErrorKind::Status
    }

    /// Whether the connection is gone: the peer closed or reset it
    /// ([`fibra_net::is_disconnect`] on an I/O error in the source chain).
    pub fn is_closed(&self) -> bool {
        self.sources()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .any(fibra_net::is_disconnect)
    }

    /// The source chain, outermost first.
    fn sources(&self) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> + '_ {
        let first = self
            .inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        std::iter::successors(first, |e| e.source())
    }

    /// The kinds of the I/O errors in the source chain, outermost first.
    fn io_kinds(&self) -> impl Iterator<Item = io::ErrorKind> + '_ {
        self.sources()
            .filter_map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind))
    }

    /// As an `io::Error` for APIs that speak `io::Result` (WebSocket,
    /// EventSource): `TimedOut` for a timeout, the runtime's error for a
    /// cancellation, otherwise the kind of the I/O error underneath
    /// (`ConnectionRefused`, `InvalidData` for a refused certificate, …),
    /// falling back to the mapping of `From<Error> for io::Error`. The
    /// [`Error`] rides inside.
    pub(crate) fn into_io(self) -> io::Error {
        let underlying = match self.inner.kind {
            ErrorKind::Timeout | ErrorKind::Canceled => None,
            _ => self.io_kinds().find(|k| *k != io::ErrorKind::Other),
        };
        match underlying {
            Some(kind) => io::Error::new(kind, self),
            None => self.into(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(u) = &self.inner.url {
            d.field("url", u);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(u) = &self.inner.url {
            write!(f, " ({u})")?;
        }
        if let Some(s) = &self.inner.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    /// `TimedOut` for a timeout, the runtime's canceled error for a
    /// cancellation, `InvalidData` otherwise; the [`Error`] rides inside.
    fn from(e: Error) -> io::Error {
        let kind = match e.inner.kind {
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Canceled => return fibra_runtime::Canceled.into(),
            ErrorKind::Connect => io::ErrorKind::ConnectionRefused,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_io_errors_follow_the_conventions() {
        let reset = Error::io(
            ErrorKind::Body,
            "reading the response body failed",
            io::ErrorKind::ConnectionReset.into(),
        );
        assert_eq!(reset.kind(), ErrorKind::Body);
        assert!(reset.is_closed());
        assert_eq!(
            reset.io_error().map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );

        let late = Error::io(ErrorKind::Body, "read", io::ErrorKind::TimedOut.into());
        assert_eq!(late.kind(), ErrorKind::Timeout);
        assert!(late.is_timeout() && !late.is_closed());

        let gone = Error::io(ErrorKind::Request, "send", fibra_runtime::Canceled.into());
        assert_eq!(gone.kind(), ErrorKind::Canceled);
        assert!(gone.is_canceled());

        let refused = Error::refused_status(StatusCode::IM_A_TEAPOT, "status");
        assert_eq!(refused.kind(), ErrorKind::Status);
        assert_eq!(refused.status(), Some(StatusCode::IM_A_TEAPOT));
        assert!(refused.io_error().is_none());
    }
}
