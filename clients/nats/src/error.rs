//! The crate's one error type.

use std::fmt;
use std::io;

use crate::proto::ProtocolError;

/// What went wrong, from [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket error that is not a timeout, a cancellation or a
    /// disconnect ([`Error::io_error`] has it).
    Io,
    /// A deadline passed (request, flush, fetch, connect).
    Timeout,
    /// The server sent bytes that are not NATS.
    Protocol,
    /// The server sent `-ERR` (authorization, permissions, …).
    Server,
    /// The connection is gone: the client was closed (or is draining and
    /// refuses new work), or the server closed or reset the connection.
    Closed,
    /// The payload (with headers) exceeds the server's `max_payload`.
    MaxPayload,
    /// A request found no subscriber (status 503 from the server).
    NoResponders,
    /// The buffer for publishes made while disconnected is full.
    BufferFull,
    /// A subject, queue group, URL or option is not acceptable.
    InvalidInput,
    /// Headers were used but the server does not support them.
    HeadersNotSupported,
    /// A JetStream API error ([`Error::code`] has the server's code).
    JetStream,
    /// The coroutine was canceled.
    Canceled,
}

/// An error of the NATS client: its [`kind`](Error::kind), a message, and
/// the underlying `io::Error` or server error code where there is one.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<u64>,
    source: Option<io::Error>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            code: None,
            source: None,
        }
    }

    pub(crate) fn with_code(mut self, code: u64) -> Error {
        self.code = Some(code);
        self
    }

    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed, "connection closed")
    }

    pub(crate) fn timeout(what: &str) -> Error {
        Error::new(ErrorKind::Timeout, format!("{what} timed out"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True for deadlines passed.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// True once the client is closed, or when the server closed or reset
    /// the connection.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }

    /// True when the calling coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        self.kind == ErrorKind::Canceled
    }

    /// True when a request found no responders.
    pub fn is_no_responders(&self) -> bool {
        self.kind == ErrorKind::NoResponders
    }

    /// The JetStream API error code (`err_code`, e.g. 10058 "stream name
    /// already in use"), or the HTTP-like status of a JetStream error.
    pub fn code(&self) -> Option<u64> {
        self.code
    }

    /// The underlying socket error.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(c) = self.code {
            write!(f, " (code {c})")?;
        }
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        let kind = if fibra_runtime::is_canceled(&e) {
            ErrorKind::Canceled
        } else if e.kind() == io::ErrorKind::TimedOut {
            ErrorKind::Timeout
        } else if fibra_net::is_disconnect(&e) {
            ErrorKind::Closed
        } else {
            ErrorKind::Io
        };
        Error {
            kind,
            message: "I/O error".into(),
            code: None,
            source: Some(e),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::new(ErrorKind::Protocol, e.0)
    }
}
