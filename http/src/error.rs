//! The crate's one error type.

use std::borrow::Cow;
use std::io;

use http::StatusCode;

/// An HTTP error: the status code the client should see, a message, and
/// where it came from (an I/O error, a parse error...).
///
/// A handler returns `Err(Error)` the way a Go handler calls `http.Error`:
/// if the response head was not sent yet, the server answers with
/// [`Error::status`] and the message as a plain-text body (for a `5xx`
/// status, only the reason phrase, so internals do not leak).
#[derive(Debug)]
pub struct Error {
    status: StatusCode,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error answered with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            status,
            message: message.into(),
            source: None,
        }
    }

    /// A `400 Bad Request` with `message`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(StatusCode::BAD_REQUEST, message)
    }

    /// A `500 Internal Server Error` caused by `source`.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::new(StatusCode::INTERNAL_SERVER_ERROR, source.to_string()).with_source(source)
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// The status code the client gets for this error.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The underlying I/O error, if this came from one.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()?.downcast_ref::<io::Error>()
    }

    /// Whether a deadline or timeout expired (a socket timeout, or a
    /// request timeout).
    pub fn is_timeout(&self) -> bool {
        self.status == StatusCode::REQUEST_TIMEOUT
            || self
                .io_error()
                .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
    }

    /// Whether the peer closed or reset the connection.
    pub fn is_closed(&self) -> bool {
        self.io_error().is_some_and(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            )
        })
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    /// An I/O error becomes a `500`, except one that carries an [`Error`]
    /// (as the request body reader's errors do), which is unwrapped, and a
    /// timeout, which becomes `408`.
    fn from(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            return Error::new(StatusCode::INTERNAL_SERVER_ERROR, "I/O error");
        }
        let status = if e.kind() == io::ErrorKind::TimedOut {
            StatusCode::REQUEST_TIMEOUT
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Error::new(status, e.to_string()).with_source(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = if e.is_timeout() {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::InvalidData
        };
        io::Error::new(kind, e)
    }
}

impl From<http::Error> for Error {
    fn from(e: http::Error) -> Error {
        Error::internal(e)
    }
}

impl From<http::header::InvalidHeaderValue> for Error {
    fn from(e: http::header::InvalidHeaderValue) -> Error {
        Error::internal(e)
    }
}

impl From<http::header::InvalidHeaderName> for Error {
    fn from(e: http::header::InvalidHeaderName) -> Error {
        Error::internal(e)
    }
}

#[cfg(feature = "json")]
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::internal(e)
    }
}
