//! The crate's one error type.

use std::fmt;
use std::io;

use crate::proto::{KeyError, ProtoError};

/// What went wrong, from [`Error::kind`] (the classes of
/// docs/conventions.md, plus memcached's own answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket error that is not a timeout, a cancellation or a
    /// disconnect (refused, unreachable, …); [`Error::io_error`] has it.
    Io,
    /// A deadline passed: connect, read, write, pool checkout, or an
    /// enclosing `with_timeout` scope.
    Timeout,
    /// The calling coroutine was canceled.
    Canceled,
    /// The server closed or reset the connection.
    Closed,
    /// The key was refused before sending ([`Error::is_invalid_key`]).
    InvalidKey,
    /// The reply was not memcached's protocol or did not fit the command.
    Protocol,
    /// `ERROR`, `CLIENT_ERROR` or `SERVER_ERROR` ([`Error::server_message`]).
    Server,
    /// `NOT_FOUND`.
    NotFound,
    /// `NOT_STORED`.
    NotStored,
    /// `EXISTS`: a `cas` lost.
    Exists,
    /// The node is marked failing or dead, or no node is alive.
    Unavailable,
    /// A value did not (de)serialize.
    Json,
}

/// Everything that can go wrong in a memcached call. Ask it questions with
/// the `is_*` predicates; [`Error::server`] names the node involved.
pub struct Error {
    kind: Kind,
    server: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// Connect, read or write failed, or timed out (`io::ErrorKind::TimedOut`),
    /// or the coroutine was canceled.
    Io(io::Error),
    /// No free pooled connection before the checkout timeout.
    PoolTimeout,
    /// The key was refused before sending.
    Key(KeyError),
    /// The server answered something that is not memcached's protocol.
    Proto(ProtoError),
    /// An answer of the right shape but not the one the command expects.
    Unexpected(String),
    /// `ERROR`, `CLIENT_ERROR` or `SERVER_ERROR`.
    Server(ServerKind, String),
    /// `NOT_FOUND` (or a meta `NF`).
    NotFound,
    /// `NOT_STORED`.
    NotStored,
    /// `EXISTS`: a `cas` lost.
    Exists,
    /// The node is marked failing or dead, or no node is alive.
    Unavailable(&'static str),
    /// A value did not (de)serialize.
    #[cfg(feature = "json")]
    Json(serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    Error,
    Client,
    Server,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error { kind, server: None }
    }

    pub(crate) fn at(mut self, server: &str) -> Error {
        if self.server.is_none() {
            self.server = Some(server.to_string());
        }
        self
    }

    /// The node (`"host:port"`) the failed call went to, when it went to one.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match &self.kind {
            Kind::Io(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            Kind::Io(e) if fibra_runtime::is_canceled(e) => ErrorKind::Canceled,
            Kind::Io(e) if fibra_net::is_disconnect(e) => ErrorKind::Closed,
            Kind::Io(_) => ErrorKind::Io,
            Kind::PoolTimeout => ErrorKind::Timeout,
            Kind::Key(_) => ErrorKind::InvalidKey,
            Kind::Proto(_) | Kind::Unexpected(_) => ErrorKind::Protocol,
            Kind::Server(..) => ErrorKind::Server,
            Kind::NotFound => ErrorKind::NotFound,
            Kind::NotStored => ErrorKind::NotStored,
            Kind::Exists => ErrorKind::Exists,
            Kind::Unavailable(_) => ErrorKind::Unavailable,
            #[cfg(feature = "json")]
            Kind::Json(_) => ErrorKind::Json,
        }
    }

    /// Whether the server closed or reset the connection.
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }

    /// Whether a connect, read, write or pool checkout ran past its timeout
    /// (or an enclosing `with_timeout` deadline).
    pub fn is_timeout(&self) -> bool {
        match &self.kind {
            Kind::Io(e) => e.kind() == io::ErrorKind::TimedOut,
            Kind::PoolTimeout => true,
            _ => false,
        }
    }

    /// Whether the calling coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        matches!(&self.kind, Kind::Io(e) if fibra_runtime::is_canceled(e))
    }

    /// Whether the call failed on the network (including timeouts): the
    /// node may be down, and it counts towards marking it dead.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io(_))
    }

    /// Whether the key did not exist (`delete`, `touch`, `incr`/`decr`,
    /// `cas` on a missing key). `get` reports a miss as `Ok(None)` instead.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, Kind::NotFound)
    }

    /// Whether `add`/`replace`/`append`/`prepend` did not store because
    /// its condition failed (`NOT_STORED`).
    pub fn is_not_stored(&self) -> bool {
        matches!(self.kind, Kind::NotStored)
    }

    /// Whether a `cas` lost: the item changed since its `gets` (`EXISTS`).
    pub fn is_exists(&self) -> bool {
        matches!(self.kind, Kind::Exists)
    }

    /// Whether the server answered `SERVER_ERROR` (e.g. a value too large,
    /// out of memory, or `incr` on a non-number).
    pub fn is_server_error(&self) -> bool {
        matches!(self.kind, Kind::Server(ServerKind::Server, _))
    }

    /// Whether the server refused the request as malformed (`ERROR` or
    /// `CLIENT_ERROR`, e.g. `incr` on a value that is not a number).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.kind,
            Kind::Server(ServerKind::Client | ServerKind::Error, _)
        )
    }

    /// Whether the key was refused before anything was sent (empty, over
    /// 250 bytes, or holding a space or control character).
    pub fn is_invalid_key(&self) -> bool {
        matches!(self.kind, Kind::Key(_))
    }

    /// Whether the server's reply could not be parsed or did not fit the
    /// command (the connection was closed).
    pub fn is_protocol(&self) -> bool {
        matches!(self.kind, Kind::Proto(_) | Kind::Unexpected(_))
    }

    /// Whether the call was not attempted because its node is marked
    /// failing (within its retry timeout) or dead, or no node is alive.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, Kind::Unavailable(_))
    }

    /// The server's message for `ERROR`, `CLIENT_ERROR` and `SERVER_ERROR`.
    pub fn server_message(&self) -> Option<&str> {
        match &self.kind {
            Kind::Server(_, m) => Some(m),
            _ => None,
        }
    }

    /// The underlying I/O error, for network failures.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::new(Kind::Io(e))
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Error {
        Error::new(Kind::Key(e))
    }
}

impl From<ProtoError> for Error {
    fn from(e: ProtoError) -> Error {
        Error::new(Kind::Proto(e))
    }
}

#[cfg(feature = "json")]
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::new(Kind::Json(e))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("server", &self.server)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Io(e) => write!(f, "memcached I/O error: {e}")?,
            Kind::PoolTimeout => f.write_str("timed out waiting for a memcached connection")?,
            Kind::Key(e) => write!(f, "{e}")?,
            Kind::Proto(e) => write!(f, "{e}")?,
            Kind::Unexpected(what) => write!(f, "unexpected memcached reply: {what}")?,
            Kind::Server(ServerKind::Error, m) => write!(f, "memcached ERROR {m}")?,
            Kind::Server(ServerKind::Client, m) => write!(f, "memcached CLIENT_ERROR {m}")?,
            Kind::Server(ServerKind::Server, m) => write!(f, "memcached SERVER_ERROR {m}")?,
            Kind::NotFound => f.write_str("memcached: key not found")?,
            Kind::NotStored => f.write_str("memcached: not stored")?,
            Kind::Exists => f.write_str("memcached: item changed since it was read (cas)")?,
            Kind::Unavailable(why) => write!(f, "memcached server unavailable: {why}")?,
            #[cfg(feature = "json")]
            Kind::Json(e) => write!(f, "memcached value (de)serialization failed: {e}")?,
        }
        if let Some(s) = &self.server {
            write!(f, " (server {s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            Kind::Key(e) => Some(e),
            Kind::Proto(e) => Some(e),
            #[cfg(feature = "json")]
            Kind::Json(e) => Some(e),
            _ => None,
        }
    }
}
