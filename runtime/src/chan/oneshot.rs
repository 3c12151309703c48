//! [`oneshot`]: a channel for exactly one value.

use std::fmt;
use std::time::Duration;

use super::channel::{bounded, AsReceiver, Receiver, Sender};
use super::error::{RecvError, TryRecvError, TrySendError};

/// A channel for one value: a reply slot for a request. The sender is
/// consumed by [`send`](OneshotSender::send), which never waits; dropping
/// the sender unsent makes the receiver see [`RecvError::Disconnected`].
/// A [`OneshotReceiver`] can be used in a `recv` arm of
/// [`select!`](crate::select).
pub fn oneshot<T>() -> (OneshotSender<T>, OneshotReceiver<T>) {
    let (tx, rx) = bounded(1);
    (OneshotSender { tx }, OneshotReceiver { rx })
}

/// The sending half of a [`oneshot`] channel.
pub struct OneshotSender<T> {
    tx: Sender<T>,
}

/// The receiving half of a [`oneshot`] channel.
pub struct OneshotReceiver<T> {
    rx: Receiver<T>,
}

impl<T> OneshotSender<T> {
    /// Sends the value without waiting.
    ///
    /// # Errors
    /// Gives the value back if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        self.tx.try_send(value).map_err(TrySendError::into_inner)
    }

    /// Whether the receiver is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T> OneshotReceiver<T> {
    /// Parks until the value arrives.
    ///
    /// # Errors
    /// `Disconnected` if the sender dropped unsent (or the value was
    /// already received); `Timeout`/`Canceled` as for
    /// [`Receiver::recv`].
    pub fn recv(&self) -> Result<T, RecvError> {
        self.rx.recv()
    }

    /// [`recv`](OneshotReceiver::recv) waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`recv`](OneshotReceiver::recv).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.rx.recv_timeout(timeout)
    }

    /// The value if it has arrived.
    ///
    /// # Errors
    /// `Empty` if not yet; `Disconnected` if it never will.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }
}

impl<T> AsReceiver for OneshotReceiver<T> {
    type Item = T;
    fn as_receiver(&self) -> &Receiver<T> {
        &self.rx
    }
}

impl<T> fmt::Debug for OneshotSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneshotSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for OneshotReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneshotReceiver").finish_non_exhaustive()
    }
}
