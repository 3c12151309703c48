//! The crate's one error type.

use std::fmt;
use std::io;

use crate::proto::Fields;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error reported by the server (`ErrorResponse`): every field it sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbError {
    /// `ERROR`, `FATAL`, `PANIC` (or a notice's `WARNING`, `NOTICE`, …).
    pub severity: String,
    /// The SQLSTATE code, e.g. `23505` for a unique violation.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// Detail, if any.
    pub detail: Option<String>,
    /// A hint, if any.
    pub hint: Option<String>,
    /// 1-based character position of the error in the query text.
    pub position: Option<u32>,
    /// Context (call stack of PL functions…).
    pub where_: Option<String>,
    /// Schema name.
    pub schema: Option<String>,
    /// Table name.
    pub table: Option<String>,
    /// Column name.
    pub column: Option<String>,
    /// Data type name.
    pub datatype: Option<String>,
    /// Constraint name.
    pub constraint: Option<String>,
}

impl DbError {
    pub(crate) fn from_fields(f: &Fields<'_>) -> DbError {
        let s = |c| f.get(c).map(str::to_owned);
        DbError {
            severity: f.get(b'V').or(f.get(b'S')).unwrap_or("ERROR").to_owned(),
            code: f.get(b'C').unwrap_or("XX000").to_owned(),
            message: f.get(b'M').unwrap_or("").to_owned(),
            detail: s(b'D'),
            hint: s(b'H'),
            position: f.get(b'P').and_then(|p| p.parse().ok()),
            where_: s(b'W'),
            schema: s(b's'),
            table: s(b't'),
            column: s(b'c'),
            datatype: s(b'd'),
            constraint: s(b'n'),
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(d) = &self.detail {
            write!(f, " (detail: {d})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

/// Common SQLSTATE codes, for comparing with [`Error::code`].
pub mod sqlstate {
    /// `23505`.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// `23503`.
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    /// `23502`.
    pub const NOT_NULL_VIOLATION: &str = "23502";
    /// `42P01`.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// `42601`.
    pub const SYNTAX_ERROR: &str = "42601";
    /// `40001`.
    pub const SERIALIZATION_FAILURE: &str = "40001";
    /// `40P01`.
    pub const DEADLOCK_DETECTED: &str = "40P01";
    /// `57014`: canceled by a cancel request or `statement_timeout`.
    pub const QUERY_CANCELED: &str = "57014";
    /// `57P01`: the server is shutting down (or the backend was terminated).
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    /// `28P01`.
    pub const INVALID_PASSWORD: &str = "28P01";
    /// `25P02`: commands ignored until the end of the transaction block.
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    /// `22P02`.
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
}

/// What went wrong, as [`Error::kind`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket error that is none of the three below (refused,
    /// unreachable, …); [`Error::io_error`] has it.
    Io,
    /// A deadline passed: a socket timeout, a `with_timeout` scope, the
    /// connect timeout, or a pool checkout timeout.
    Timeout,
    /// The calling coroutine was canceled (during a call or a pool wait).
    Canceled,
    /// The server returned an error; see [`Error::db_error`].
    Db,
    /// The connection is gone: closed or reset by the server, or broken by
    /// an earlier error so that it can no longer be used.
    Closed,
    /// A malformed or unexpected message from the server.
    Protocol,
    /// A bad connection string or setting.
    Config,
    /// Authentication could not proceed (unsupported method, bad SCRAM
    /// exchange, missing password).
    Auth,
    /// A Rust value could not be converted to or from a SQL value (wrong
    /// type, wrong parameter count, NULL into a non-`Option`).
    Conversion,
    /// `query_one` got no row or several, or a column does not exist.
    RowCount,
    /// A pool checkout failed for another reason than a timeout or a
    /// cancellation.
    Pool,
    /// TLS was required but is unavailable or failed.
    Tls,
}

/// The error type of every fallible operation in this crate.
pub struct Error {
    kind: ErrorKind,
    message: String,
    db: Option<Box<DbError>>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            db: None,
            source: None,
        }
    }

    pub(crate) fn db(e: Box<DbError>) -> Error {
        Error {
            kind: ErrorKind::Db,
            message: String::new(),
            db: Some(e),
            source: None,
        }
    }

    pub(crate) fn io(e: io::Error) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: String::new(),
            db: None,
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn with_source(
        mut self,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(e));
        self
    }

    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed, "connection closed")
    }

    pub(crate) fn protocol(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, m)
    }

    pub(crate) fn conversion(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conversion, m)
    }

    pub(crate) fn config(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, m)
    }

    /// What kind of error this is (classified as docs/conventions.md
    /// says: a socket timeout is `Timeout`, a disconnect is `Closed`).
    pub fn kind(&self) -> ErrorKind {
        match (self.kind, self.io_error()) {
            (ErrorKind::Io, Some(e)) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            (ErrorKind::Io, Some(e)) if fibra_runtime::is_canceled(e) => ErrorKind::Canceled,
            (ErrorKind::Io, Some(e)) if fibra_net::is_disconnect(e) => ErrorKind::Closed,
            (kind, _) => kind,
        }
    }

    /// The server's error fields, if the server reported this error.
    pub fn db_error(&self) -> Option<&DbError> {
        self.db.as_deref()
    }

    /// The SQLSTATE code, if the server reported this error (compare with
    /// the constants in [`sqlstate`]).
    pub fn code(&self) -> Option<&str> {
        self.db.as_ref().map(|d| d.code.as_str())
    }

    /// The underlying I/O error, if any.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref().and_then(|s| s.downcast_ref())
    }

    /// Whether the server reported this error.
    pub fn is_db(&self) -> bool {
        self.kind == ErrorKind::Db
    }

    /// Whether a deadline passed (socket timeout, `with_timeout` scope or
    /// pool checkout timeout).
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the calling coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        self.kind() == ErrorKind::Canceled
    }

    /// Whether the connection is gone: closed by the server, reset, or
    /// unusable after an earlier error. The pool discards such connections.
    pub fn is_closed(&self) -> bool {
        match self.kind() {
            ErrorKind::Closed => true,
            ErrorKind::Db => self
                .db
                .as_ref()
                .is_some_and(|d| d.severity == "FATAL" || d.severity == "PANIC"),
            _ => false,
        }
    }

    /// Whether a Rust value did not fit a SQL type (or vice versa).
    pub fn is_conversion(&self) -> bool {
        self.kind == ErrorKind::Conversion
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if !self.message.is_empty() {
            d.field("message", &self.message);
        }
        if let Some(db) = &self.db {
            d.field("db", db);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.db {
            return write!(f, "db error: {db}");
        }
        match (&self.message.is_empty(), &self.source) {
            (false, Some(s)) => write!(f, "{}: {s}", self.message),
            (false, None) => f.write_str(&self.message),
            (true, Some(s)) => write!(f, "{s}"),
            (true, None) => write!(f, "{:?}", self.kind),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if let Some(db) = &self.db {
            return Some(&**db);
        }
        self.source
            .as_ref()
            .map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::io(e)
    }
}

impl From<crate::proto::ProtoError> for Error {
    fn from(e: crate::proto::ProtoError) -> Error {
        Error::protocol(e.0)
    }
}

impl From<fibra_runtime::pool::PoolError<Error>> for Error {
    fn from(e: fibra_runtime::pool::PoolError<Error>) -> Error {
        use fibra_runtime::pool::PoolError;
        match e {
            PoolError::Connect(e) => e,
            PoolError::TimedOut => Error::new(
                ErrorKind::Timeout,
                "timed out waiting for a pooled connection",
            ),
            PoolError::Canceled => Error::new(
                ErrorKind::Canceled,
                "canceled while waiting for a pooled connection",
            ),
            _ => Error::new(ErrorKind::Pool, "pool checkout failed"),
        }
    }
}
