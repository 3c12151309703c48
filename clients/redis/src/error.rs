//! The crate's one error type and the server's error replies.

use std::fmt;
use std::io;

use fibra_runtime::pool::PoolError;

use crate::proto::ProtocolError;

/// An error reply from the server (`-ERR …`, `-WRONGTYPE …`, `-MOVED …`),
/// split into its code (the first word) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    line: String,
    code_len: usize,
}

/// What kind of error reply the server sent, from [`ServerError::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// `ERR`: the generic error (unknown command, syntax, wrong arity, …).
    Generic,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `MOVED`: cluster redirect; see [`ServerError::redirect`].
    Moved,
    /// `ASK`: cluster redirect for one command.
    Ask,
    /// `NOSCRIPT`: EVALSHA of a script the server does not have.
    NoScript,
    /// `NOAUTH`: authentication required.
    NoAuth,
    /// `WRONGPASS`: bad user name or password.
    WrongPass,
    /// `NOPERM`: the ACL user may not run the command.
    NoPerm,
    /// `EXECABORT`: EXEC of a transaction with a command that failed to queue.
    ExecAbort,
    /// `BUSY`: a script is running.
    Busy,
    /// `LOADING`: the server is loading its data set.
    Loading,
    /// `READONLY`: write to a replica.
    ReadOnly,
    /// `TRYAGAIN`: cluster resharding in progress.
    TryAgain,
    /// `CLUSTERDOWN`.
    ClusterDown,
    /// `CROSSSLOT`: keys in different cluster slots.
    CrossSlot,
    /// `NOPROTO`: the protocol version asked for in HELLO is not supported.
    NoProto,
    /// Any other code.
    Other,
}

impl ServerError {
    /// Wraps an error line as the server sent it (without the `-`).
    pub fn new(line: impl Into<String>) -> ServerError {
        let line = line.into();
        let first = line.split(' ').next().unwrap_or("");
        let is_code = !first.is_empty()
            && first
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
        let code_len = if is_code { first.len() } else { 0 };
        ServerError { line, code_len }
    }

    /// The error code, such as `ERR` or `WRONGTYPE`; empty when the line
    /// does not start with one.
    pub fn code(&self) -> &str {
        &self.line[..self.code_len]
    }

    /// The text after the code.
    pub fn message(&self) -> &str {
        self.line[self.code_len..].trim_start()
    }

    /// The whole line, code and message.
    pub fn as_str(&self) -> &str {
        &self.line
    }

    /// The code, classified.
    pub fn kind(&self) -> ServerErrorKind {
        use ServerErrorKind::*;
        match self.code() {
            "ERR" => Generic,
            "WRONGTYPE" => WrongType,
            "MOVED" => Moved,
            "ASK" => Ask,
            "NOSCRIPT" => NoScript,
            "NOAUTH" => NoAuth,
            "WRONGPASS" => WrongPass,
            "NOPERM" => NoPerm,
            "EXECABORT" => ExecAbort,
            "BUSY" => Busy,
            "LOADING" => Loading,
            "READONLY" => ReadOnly,
            "TRYAGAIN" => TryAgain,
            "CLUSTERDOWN" => ClusterDown,
            "CROSSSLOT" => CrossSlot,
            "NOPROTO" => NoProto,
            _ => Other,
        }
    }

    /// For `MOVED`/`ASK`: the slot and the `host:port` to go to.
    pub fn redirect(&self) -> Option<(u16, &str)> {
        if !matches!(self.kind(), ServerErrorKind::Moved | ServerErrorKind::Ask) {
            return None;
        }
        let mut it = self.message().split(' ');
        let slot = it.next()?.parse().ok()?;
        Some((slot, it.next()?))
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for ServerError {}

/// What went wrong, from [`Error::kind`].
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
    /// The connection is gone: closed or reset by the server, or broken by
    /// an earlier error so that it can no longer be used.
    Closed,
    /// The server answered with an error reply; the connection is fine.
    Server,
    /// The server sent something that is not RESP, or broke a limit; the
    /// connection is closed.
    Protocol,
    /// The reply could not be converted into the type asked for.
    Conversion,
    /// A bad URL or setting, detected before anything was sent.
    Config,
}

/// The error of every fallible call in this crate.
pub struct Error {
    repr: Repr,
}

enum Repr {
    Io(io::Error),
    Server(ServerError),
    Protocol(ProtocolError),
    Simple(ErrorKind, String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn conversion(msg: impl Into<String>) -> Error {
        Error::simple(ErrorKind::Conversion, msg)
    }

    pub(crate) fn config(msg: impl Into<String>) -> Error {
        Error::simple(ErrorKind::Config, msg)
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Error {
        Error::simple(ErrorKind::Protocol, msg)
    }

    pub(crate) fn simple(kind: ErrorKind, msg: impl Into<String>) -> Error {
        Error {
            repr: Repr::Simple(kind, msg.into()),
        }
    }

    /// What kind of error this is (classified as docs/conventions.md
    /// says: a socket timeout is `Timeout`, a disconnect is `Closed`).
    pub fn kind(&self) -> ErrorKind {
        match &self.repr {
            Repr::Io(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            Repr::Io(e) if fibra_runtime::is_canceled(e) => ErrorKind::Canceled,
            Repr::Io(e) if fibra_net::is_disconnect(e) => ErrorKind::Closed,
            Repr::Io(_) => ErrorKind::Io,
            Repr::Server(_) => ErrorKind::Server,
            Repr::Protocol(_) => ErrorKind::Protocol,
            Repr::Simple(k, _) => *k,
        }
    }

    /// The server's error reply, if that is what this is.
    pub fn server_error(&self) -> Option<&ServerError> {
        match &self.repr {
            Repr::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The server's error code (`ERR`, `WRONGTYPE`, `MOVED`, …).
    pub fn code(&self) -> Option<&str> {
        self.server_error().map(ServerError::code)
    }

    /// The underlying socket error.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.repr {
            Repr::Io(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a deadline passed: a socket timeout, a `with_timeout`
    /// scope, the connect timeout, or a pool checkout timeout.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        self.kind() == ErrorKind::Canceled
    }

    /// Whether the connection is gone: closed or reset by the server, or
    /// broken by an earlier error.
    pub fn is_closed(&self) -> bool {
        self.kind() == ErrorKind::Closed
    }

    /// Whether this is an error reply from the server (the connection
    /// stays usable).
    pub fn is_server_error(&self) -> bool {
        matches!(self.repr, Repr::Server(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Io(e) => write!(f, "redis: {e}"),
            Repr::Server(e) => write!(f, "redis server error: {e}"),
            Repr::Protocol(e) => write!(f, "redis: {e}"),
            Repr::Simple(_, m) => write!(f, "redis: {m}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Io(e) => f.debug_tuple("Io").field(e).finish(),
            Repr::Server(e) => f.debug_tuple("Server").field(&e.as_str()).finish(),
            Repr::Protocol(e) => f.debug_tuple("Protocol").field(e).finish(),
            Repr::Simple(k, m) => f.debug_tuple("Error").field(k).field(m).finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Io(e) => Some(e),
            Repr::Server(e) => Some(e),
            Repr::Protocol(e) => Some(e),
            Repr::Simple(..) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error { repr: Repr::Io(e) }
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Error {
        Error {
            repr: Repr::Server(e),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error {
            repr: Repr::Protocol(e),
        }
    }
}

impl From<PoolError<Error>> for Error {
    fn from(e: PoolError<Error>) -> Error {
        match e {
            PoolError::Connect(e) => e,
            PoolError::TimedOut => Error::simple(
                ErrorKind::Timeout,
                "timed out waiting for a pooled connection",
            ),
            PoolError::Canceled => Error::simple(
                ErrorKind::Canceled,
                "canceled while waiting for a pooled connection",
            ),
            _ => Error::simple(ErrorKind::Io, e.to_string()),
        }
    }
}

impl From<Error> for io::Error {
    /// The socket error itself, or `Other` wrapping the rest.
    fn from(e: Error) -> io::Error {
        match e.repr {
            Repr::Io(e) => e,
            _ => io::Error::other(e),
        }
    }
}
