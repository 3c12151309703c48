//! Messages and subscriptions: the iterator form ([`Subscription`]) and
//! the callback form ([`Handler`]).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_runtime::chan::{Receiver, RecvError, TryRecvError};
use fibra_runtime::JoinHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::state::Shared;

/// A message received on a subscription (or the reply to a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published to.
    pub subject: String,
    /// Where to send a reply, if the publisher asked for one.
    pub reply: Option<String>,
    /// Headers, if it was published with them (or carries a status).
    pub headers: Option<HeaderMap>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Message {
    /// The status code the server put in the headers (503 for no
    /// responders, 404/408 for JetStream fetches, …).
    pub fn status(&self) -> Option<u16> {
        self.headers.as_ref().and_then(HeaderMap::status)
    }

    /// The payload as UTF-8 text, if it is.
    pub fn payload_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.payload).ok()
    }

    pub(crate) fn size(&self) -> usize {
        self.payload.len() + self.subject.len()
    }
}

/// Per-subscription counters shared between the reader and the consumer.
#[derive(Debug)]
pub(crate) struct SubCounters {
    pub pending_msgs: AtomicUsize,
    pub pending_bytes: AtomicUsize,
    pub limit_msgs: AtomicUsize,
    pub limit_bytes: AtomicUsize,
    pub dropped: AtomicU64,
    pub delivered: AtomicU64,
    /// 0: no auto-unsubscribe limit.
    pub max: AtomicU64,
    pub slow: AtomicBool,
}

impl SubCounters {
    pub(crate) fn new(limit_msgs: usize, limit_bytes: usize) -> SubCounters {
        SubCounters {
            pending_msgs: AtomicUsize::new(0),
            pending_bytes: AtomicUsize::new(0),
            limit_msgs: AtomicUsize::new(limit_msgs),
            limit_bytes: AtomicUsize::new(limit_bytes),
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            max: AtomicU64::new(0),
            slow: AtomicBool::new(false),
        }
    }

    fn taken(&self, m: &Message) {
        self.pending_msgs.fetch_sub(1, Ordering::Relaxed);
        self.pending_bytes.fetch_sub(m.size(), Ordering::Relaxed);
        if self.slow.load(Ordering::Relaxed) {
            self.slow.store(false, Ordering::Relaxed);
        }
    }
}

/// A subscription: the messages for one subject (and queue group), taken
/// by iterating or with [`next_timeout`](Subscription::next_timeout).
///
/// Iteration blocks the coroutine until a message arrives and ends once
/// the subscription is unsubscribed, drained or its auto-unsubscribe limit
/// is reached (after the buffered messages), or the client closes.
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    pub(crate) sid: u64,
    pub(crate) subject: String,
    pub(crate) rx: Receiver<Message>,
    pub(crate) counters: Arc<SubCounters>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) done: bool,
}

impl Subscription {
    /// The subscription id on the wire.
    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// The subject (possibly with wildcards) subscribed to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    fn took(&self, m: Message) -> Message {
        self.counters.taken(&m);
        m
    }

    /// Waits at most `timeout` for the next message.
    ///
    /// # Errors
    /// `Timeout` when none came; `Closed` once the subscription ended and
    /// its buffer is empty; `Canceled` if the coroutine was canceled.
    pub fn next_timeout(&self, timeout: Duration) -> Result<Message> {
        match self.rx.recv_timeout(timeout) {
            Ok(m) => Ok(self.took(m)),
            Err(RecvError::Timeout) => Err(Error::timeout("next message")),
            Err(RecvError::Disconnected) => {
                Err(Error::new(ErrorKind::Closed, "subscription ended"))
            }
            Err(RecvError::Canceled) => Err(Error::new(ErrorKind::Canceled, "canceled")),
        }
    }

    /// The next message if one is buffered, without waiting.
    pub fn try_next(&self) -> Option<Message> {
        match self.rx.try_recv() {
            Ok(m) => Some(self.took(m)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Blocks until the next message; `None` once the subscription ended
    /// and its buffer is empty.
    pub fn next_message(&self) -> Option<Message> {
        self.rx.recv().ok().map(|m| self.took(m))
    }

    /// An iterator over the messages that borrows the subscription.
    pub fn messages(&self) -> impl Iterator<Item = Message> + '_ {
        std::iter::from_fn(move || self.next_message())
    }

    /// Stops the subscription now; messages already buffered can still be
    /// taken.
    ///
    /// # Errors
    /// `Closed` if the client is closed (the subscription is gone anyway).
    pub fn unsubscribe(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        self.shared.unsubscribe(self.sid, None)
    }

    /// Ends the subscription automatically after `n` messages in total
    /// (counting those already delivered).
    ///
    /// # Errors
    /// `Closed` if the client is closed.
    pub fn unsubscribe_after(&mut self, n: u64) -> Result<()> {
        self.counters.max.store(n.max(1), Ordering::Relaxed);
        let delivered = self.counters.delivered.load(Ordering::Relaxed);
        if delivered >= n {
            return self.unsubscribe();
        }
        self.shared.unsubscribe(self.sid, Some(n))
    }

    /// Unsubscribes and waits (up to the request timeout) until the server
    /// confirms no more messages are on the way; the buffered ones can
    /// still be taken, after which iteration ends.
    ///
    /// # Errors
    /// `Timeout` if the server did not confirm in time; `Closed`.
    pub fn drain(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        self.shared.drain_sub(self.sid)
    }

    /// Sets the pending limits (messages, bytes) past which incoming
    /// messages are dropped and counted.
    pub fn set_pending_limits(&self, msgs: usize, bytes: usize) {
        self.counters
            .limit_msgs
            .store(msgs.max(1), Ordering::Relaxed);
        self.counters
            .limit_bytes
            .store(bytes.max(1), Ordering::Relaxed);
    }

    /// Messages and bytes received but not yet taken.
    pub fn pending(&self) -> (usize, usize) {
        (
            self.counters.pending_msgs.load(Ordering::Relaxed),
            self.counters.pending_bytes.load(Ordering::Relaxed),
        )
    }

    /// Messages dropped because the pending limits were reached.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Messages delivered to this subscription so far (including dropped).
    pub fn delivered(&self) -> u64 {
        self.counters.delivered.load(Ordering::Relaxed)
    }
}

impl Iterator for Subscription {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        self.next_message()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.shared.unsubscribe(self.sid, None);
        }
    }
}

/// A subscription whose messages a callback handles on a coroutine of its
/// own ([`Client::subscribe_fn`](crate::Client::subscribe_fn)). Dropping
/// the handler leaves the subscription running until the client closes.
#[derive(Debug)]
pub struct Handler {
    pub(crate) sid: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) join: JoinHandle<()>,
}

impl Handler {
    /// The subscription id on the wire.
    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// Unsubscribes; the callback still runs for buffered messages, then
    /// its coroutine ends.
    ///
    /// # Errors
    /// `Closed` if the client is closed.
    pub fn unsubscribe(&self) -> Result<()> {
        self.shared.unsubscribe(self.sid, None)
    }

    /// Drains the subscription and waits until the callback has handled
    /// every message that was on the way.
    ///
    /// # Errors
    /// `Timeout` if the server did not confirm the unsubscribe in time;
    /// `Closed`.
    pub fn drain(self) -> Result<()> {
        let r = self.shared.drain_sub(self.sid);
        let _ = self.join.join();
        r
    }
}
