//! Error types of the channel operations.

use std::fmt;
use std::io;

/// Why a blocking receive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The channel is closed and its buffer is drained.
    Disconnected,
    /// The deadline (the operation's own or the `with_timeout` scope's)
    /// passed first.
    Timeout,
    /// The receiving coroutine was canceled while waiting.
    Canceled,
}

/// The same error for `recv_timeout`/`recv_deadline`, named like
/// crossbeam's and std's.
pub type RecvTimeoutError = RecvError;

/// Why a blocking send failed; every variant gives the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendError<T> {
    /// The channel is closed, or every receiver is gone.
    Disconnected(T),
    /// The deadline (the operation's own or the `with_timeout` scope's)
    /// passed first.
    Timeout(T),
    /// The sending coroutine was canceled while waiting.
    Canceled(T),
}

/// The same error for `send_timeout`/`send_deadline`.
pub type SendTimeoutError<T> = SendError<T>;

/// Why a non-blocking send failed; gives the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full (or, for a rendezvous channel, no receiver waits).
    Full(T),
    /// The channel is closed, or every receiver is gone.
    Disconnected(T),
}

/// Why a non-blocking receive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered and no sender waits.
    Empty,
    /// The channel is closed and its buffer is drained.
    Disconnected,
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Disconnected(v) | SendError::Timeout(v) | SendError::Canceled(v) => v,
        }
    }

    /// Whether the channel was closed (or had no receivers).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendError::Disconnected(_))
    }

    /// Whether a deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendError::Timeout(_))
    }

    /// Whether the sender was canceled.
    pub fn is_canceled(&self) -> bool {
        matches!(self, SendError::Canceled(_))
    }

    pub(crate) fn from_io(e: &io::Error, v: T) -> SendError<T> {
        if crate::is_canceled(e) {
            SendError::Canceled(v)
        } else {
            SendError::Timeout(v)
        }
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }
}

impl RecvError {
    pub(crate) fn from_io(e: &io::Error) -> RecvError {
        if crate::is_canceled(e) {
            RecvError::Canceled
        } else {
            RecvError::Timeout
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvError::Disconnected => "receiving on a closed channel",
            RecvError::Timeout => "timed out receiving on a channel",
            RecvError::Canceled => "canceled while receiving on a channel",
        })
    }
}

impl std::error::Error for RecvError {}

impl From<RecvError> for io::Error {
    fn from(e: RecvError) -> io::Error {
        match e {
            RecvError::Disconnected => io::Error::new(io::ErrorKind::BrokenPipe, e),
            RecvError::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            RecvError::Canceled => crate::Canceled.into(),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Disconnected(_) => "Disconnected(..)",
            SendError::Timeout(_) => "Timeout(..)",
            SendError::Canceled(_) => "Canceled(..)",
        })
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Disconnected(_) => "sending on a closed channel",
            SendError::Timeout(_) => "timed out sending on a channel",
            SendError::Canceled(_) => "canceled while sending on a channel",
        })
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Disconnected(_) => "Disconnected(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "sending on a full channel",
            TrySendError::Disconnected(_) => "sending on a closed channel",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "receiving on an empty channel",
            TryRecvError::Disconnected => "receiving on a closed channel",
        })
    }
}

impl std::error::Error for TryRecvError {}
