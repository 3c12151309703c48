//! The MPMC channel: [`Sender`], [`Receiver`] and their select cases.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::select::{select_wait, Fired, Registered, SelectCase, Token};
use crate::sync::waiter::{lock, Wait};

/// Where a blocked operation's value travels: a waiting sender's value, or
/// the value handed to a waiting receiver.
type Slot<T> = Arc<std::sync::Mutex<Option<T>>>;

/// One blocked operation in a channel's waiter list.
struct Entry<T> {
    token: Arc<Token>,
    case: usize,
    slot: Slot<T>,
}

struct Inner<T> {
    queue: VecDeque<T>,
    /// `usize::MAX` for unbounded, `0` for rendezvous.
    cap: usize,
    /// Closed by `close()` or by the last sender's drop.
    closed: bool,
    /// Every receiver is gone: sends fail.
    no_receivers: bool,
    senders: VecDeque<Entry<T>>,
    receivers: VecDeque<Entry<T>>,
}

/// Pops the first entry whose token we can claim, skipping entries of
/// `own` (a select may send and receive on one channel) and dropping dead
/// ones.
fn claim<T>(list: &mut VecDeque<Entry<T>>, own: Option<&Arc<Token>>) -> Option<Entry<T>> {
    let mut i = 0;
    while i < list.len() {
        let e = &list[i];
        if own.is_some_and(|o| Arc::ptr_eq(o, &e.token)) {
            i += 1;
        } else if e.token.try_claim(e.case) {
            return list.remove(i);
        } else {
            list.remove(i);
        }
    }
    None
}

fn has_live<T>(list: &VecDeque<Entry<T>>, own: &Arc<Token>) -> bool {
    list.iter()
        .any(|e| !Arc::ptr_eq(own, &e.token) && e.token.is_waiting())
}

/// Wakes every entry of `list` with whatever its slot holds (nothing for a
/// receiver: closed; its own value for a sender: failed).
fn release_all<T>(list: &mut VecDeque<Entry<T>>) {
    for e in list.drain(..) {
        if e.token.try_claim(e.case) {
            e.token.finish();
        }
    }
}

impl<T> Inner<T> {
    fn send_ready(&self, own: &Arc<Token>) -> bool {
        self.closed
            || self.no_receivers
            || self.queue.len() < self.cap
            || has_live(&self.receivers, own)
    }

    fn recv_ready(&self, own: &Arc<Token>) -> bool {
        !self.queue.is_empty() || self.closed || has_live(&self.senders, own)
    }

    fn try_send(&mut self, v: T, own: Option<&Arc<Token>>) -> Result<(), TrySendError<T>> {
        if self.closed || self.no_receivers {
            return Err(TrySendError::Disconnected(v));
        }
        if let Some(e) = claim(&mut self.receivers, own) {
            *lock(&e.slot) = Some(v);
            e.token.finish();
            return Ok(());
        }
        if self.queue.len() < self.cap {
            self.queue.push_back(v);
            Ok(())
        } else {
            Err(TrySendError::Full(v))
        }
    }

    fn try_recv(&mut self, own: Option<&Arc<Token>>) -> Result<T, TryRecvError> {
        if let Some(v) = self.queue.pop_front() {
            // A slot freed up: move the oldest blocked sender's value in.
            if let Some(e) = claim(&mut self.senders, own) {
                let sent = lock(&e.slot)
                    .take()
                    .expect("a waiting sender holds a value");
                self.queue.push_back(sent);
                e.token.finish();
            }
            return Ok(v);
        }
        if let Some(e) = claim(&mut self.senders, own) {
            let v = lock(&e.slot)
                .take()
                .expect("a waiting sender holds a value");
            e.token.finish();
            return Ok(v);
        }
        if self.closed {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    fn close(&mut self) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        release_all(&mut self.receivers);
        release_all(&mut self.senders);
        true
    }
}

struct Chan<T> {
    inner: std::sync::Mutex<Inner<T>>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

impl<T> Chan<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        lock(&self.inner)
    }
}

fn new_chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        inner: std::sync::Mutex::new(Inner {
            queue: VecDeque::new(),
            cap,
            closed: false,
            no_receivers: false,
            senders: VecDeque::new(),
            receivers: VecDeque::new(),
        }),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel buffering up to `cap` values; `cap == 0` makes a rendezvous
/// channel (Go's unbuffered channel), where each send waits for a receiver
/// to take the value.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new_chan(cap)
}

/// A channel with an unlimited buffer: sends never wait.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new_chan(usize::MAX)
}

/// The sending half of a channel. Clone it for more senders; when the last
/// one drops, the channel closes.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a channel. Clone it for more receivers (each
/// value goes to one of them); when the last one drops, sends fail and the
/// buffer is dropped.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends, parking while the buffer is full (for a rendezvous channel:
    /// until a receiver takes the value).
    ///
    /// Honours cancellation and the `with_timeout` scope deadline, like
    /// every blocking I/O call.
    ///
    /// # Errors
    /// [`SendError::Disconnected`] once the channel is closed or has no
    /// receivers; `Timeout` at the scope deadline; `Canceled` on
    /// `cancel()`. The value comes back in every case.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_wait(value, None)
    }

    /// [`send`](Sender::send) waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`send`](Sender::send).
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.send_wait(value, Some(Instant::now() + timeout))
    }

    /// [`send`](Sender::send) waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`send`](Sender::send).
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendError<T>> {
        self.send_wait(value, Some(deadline))
    }

    /// Sends if that needs no waiting.
    ///
    /// # Errors
    /// [`TrySendError::Full`] when it would wait,
    /// [`TrySendError::Disconnected`] when closed; the value comes back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.lock().try_send(value, None)
    }

    fn send_wait(&self, value: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let value = match self.try_send(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(v)) => return Err(SendError::Disconnected(v)),
            Err(TrySendError::Full(v)) => v,
        };
        let mut case = SendCase::new(self, value);
        match select_wait(&mut [&mut case], false, Wait::Interruptible(deadline)) {
            Fired::Interrupted(e) => {
                let v = case.value.take().expect("an aborted send keeps its value");
                Err(SendError::from_io(&e, v))
            }
            _ => case.into_result(),
        }
    }

    /// Closes the channel, like Go's `close(ch)`: receivers get what is
    /// buffered, then [`RecvError::Disconnected`]; blocked and later sends
    /// fail with [`SendError::Disconnected`]. Returns `false` if it was
    /// already closed (closing twice is not an error, unlike Go).
    pub fn close(&self) -> bool {
        self.chan.lock().close()
    }

    /// Whether the channel is closed (or has no receivers left).
    pub fn is_closed(&self) -> bool {
        let inner = self.chan.lock();
        inner.closed || inner.no_receivers
    }

    /// Buffered values now.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size; `None` for unbounded.
    pub fn capacity(&self) -> Option<usize> {
        let cap = self.chan.lock().cap;
        (cap != usize::MAX).then_some(cap)
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives, parking until a value arrives. After a close it returns
    /// the buffered values, then [`RecvError::Disconnected`].
    ///
    /// Honours cancellation and the `with_timeout` scope deadline, like
    /// every blocking I/O call.
    ///
    /// # Errors
    /// `Disconnected` when closed and drained; `Timeout` at the scope
    /// deadline; `Canceled` on `cancel()`.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_wait(None)
    }

    /// [`recv`](Receiver::recv) waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`recv`](Receiver::recv).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_wait(Some(Instant::now() + timeout))
    }

    /// [`recv`](Receiver::recv) waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`recv`](Receiver::recv).
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.recv_wait(Some(deadline))
    }

    /// Receives if a value is ready.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when it would wait,
    /// [`TryRecvError::Disconnected`] when closed and drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.lock().try_recv(None)
    }

    fn recv_wait(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        match self.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        let mut case = RecvCase::new(self);
        match select_wait(&mut [&mut case], false, Wait::Interruptible(deadline)) {
            Fired::Interrupted(e) => Err(RecvError::from_io(&e)),
            _ => case.into_result(),
        }
    }

    /// An iterator over values as they arrive; it ends when the channel is
    /// closed and drained (or a receive fails: canceled, timed out).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values ready now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Whether the channel is closed (buffered values may remain).
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }

    /// Buffered values now.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size; `None` for unbounded.
    pub fn capacity(&self) -> Option<usize> {
        let cap = self.chan.lock().cap;
        (cap != usize::MAX).then_some(cap)
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.lock().close();
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            let dropped = {
                let mut inner = self.chan.lock();
                inner.no_receivers = true;
                release_all(&mut inner.senders);
                std::mem::take(&mut inner.queue)
            };
            drop(dropped);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Blocking iterator over a [`Receiver`]; see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]; see [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator over a [`Receiver`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

/// A receive arm of a select.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    rx: &'a Receiver<T>,
    slot: Slot<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive on `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvCase {
            rx,
            slot: Arc::default(),
            result: None,
        }
    }

    /// The received value, or `Disconnected`.
    ///
    /// # Panics
    /// If this case did not fire.
    pub fn into_result(self) -> Result<T, RecvError> {
        self.result.expect("this select case did not fire")
    }

    fn set(&mut self, r: Result<T, TryRecvError>) -> bool {
        match r {
            Ok(v) => self.result = Some(Ok(v)),
            Err(TryRecvError::Disconnected) => self.result = Some(Err(RecvError::Disconnected)),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }
}

impl<T> SelectCase for RecvCase<'_, T> {
    fn try_now(&mut self) -> bool {
        let r = self.rx.chan.lock().try_recv(None);
        self.set(r)
    }

    fn register(&mut self, token: &Arc<Token>, case: usize) -> Registered {
        let mut inner = self.rx.chan.lock();
        if inner.recv_ready(token) {
            if !token.try_claim(case) {
                return Registered::Claimed;
            }
            let r = inner.try_recv(Some(token));
            drop(inner);
            return if self.set(r) {
                Registered::Done
            } else {
                Registered::Retry
            };
        }
        inner.receivers.push_back(Entry {
            token: token.clone(),
            case,
            slot: self.slot.clone(),
        });
        Registered::Waiting
    }

    fn unregister(&mut self, token: &Arc<Token>) {
        let mut inner = self.rx.chan.lock();
        inner.receivers.retain(|e| !Arc::ptr_eq(&e.token, token));
    }

    fn complete(&mut self) {
        self.result = Some(lock(&self.slot).take().ok_or(RecvError::Disconnected));
    }
}

/// A send arm of a select.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    tx: &'a Sender<T>,
    /// The value while not registered (and after, if not sent).
    value: Option<T>,
    slot: Slot<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// A send of `value` on `tx`.
    pub fn new(tx: &'a Sender<T>, value: T) -> Self {
        SendCase {
            tx,
            value: Some(value),
            slot: Arc::default(),
            result: None,
        }
    }

    /// `Ok` if sent, or `Disconnected` with the value.
    ///
    /// # Panics
    /// If this case did not fire.
    pub fn into_result(self) -> Result<(), SendError<T>> {
        self.result.expect("this select case did not fire")
    }

    fn set(&mut self, r: Result<(), TrySendError<T>>) -> bool {
        match r {
            Ok(()) => self.result = Some(Ok(())),
            Err(TrySendError::Disconnected(v)) => {
                self.result = Some(Err(SendError::Disconnected(v)));
            }
            Err(TrySendError::Full(v)) => {
                self.value = Some(v);
                return false;
            }
        }
        true
    }
}

impl<T> SelectCase for SendCase<'_, T> {
    fn try_now(&mut self) -> bool {
        let v = self
            .value
            .take()
            .expect("an unsent send case holds its value");
        let r = self.tx.chan.lock().try_send(v, None);
        self.set(r)
    }

    fn register(&mut self, token: &Arc<Token>, case: usize) -> Registered {
        let mut inner = self.tx.chan.lock();
        if inner.send_ready(token) {
            if !token.try_claim(case) {
                return Registered::Claimed;
            }
            let v = self
                .value
                .take()
                .expect("an unsent send case holds its value");
            let r = inner.try_send(v, Some(token));
            drop(inner);
            return if self.set(r) {
                Registered::Done
            } else {
                Registered::Retry
            };
        }
        *lock(&self.slot) = self.value.take();
        inner.senders.push_back(Entry {
            token: token.clone(),
            case,
            slot: self.slot.clone(),
        });
        Registered::Waiting
    }

    fn unregister(&mut self, token: &Arc<Token>) {
        let mut inner = self.tx.chan.lock();
        inner.senders.retain(|e| !Arc::ptr_eq(&e.token, token));
        drop(inner);
        if let Some(v) = lock(&self.slot).take() {
            self.value = Some(v);
        }
    }

    fn complete(&mut self) {
        // A receiver took the value out of the slot; a close left it there.
        let unsent = self.value.take().or_else(|| lock(&self.slot).take());
        self.result = Some(match unsent {
            None => Ok(()),
            Some(v) => Err(SendError::Disconnected(v)),
        });
    }
}

/// Something a `recv` arm of [`select!`](crate::select) accepts: a
/// [`Receiver`], a reference to one, or a oneshot receiver.
#[doc(hidden)]
pub trait AsReceiver {
    type Item;
    fn as_receiver(&self) -> &Receiver<Self::Item>;
}

impl<T> AsReceiver for Receiver<T> {
    type Item = T;
    fn as_receiver(&self) -> &Receiver<T> {
        self
    }
}

impl<R: AsReceiver + ?Sized> AsReceiver for &R {
    type Item = R::Item;
    fn as_receiver(&self) -> &Receiver<R::Item> {
        (**self).as_receiver()
    }
}

/// Something a `send` arm of [`select!`](crate::select) accepts.
#[doc(hidden)]
pub trait AsSender {
    type Item;
    fn as_sender(&self) -> &Sender<Self::Item>;
}

impl<T> AsSender for Sender<T> {
    type Item = T;
    fn as_sender(&self) -> &Sender<T> {
        self
    }
}

impl<S: AsSender + ?Sized> AsSender for &S {
    type Item = S::Item;
    fn as_sender(&self) -> &Sender<S::Item> {
        (**self).as_sender()
    }
}
