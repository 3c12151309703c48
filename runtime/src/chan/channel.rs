//! The MPMC channel: [`Sender`], [`Receiver`] and their select cases.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::select::{wake, Registered, SelectCase, Token};
use crate::sync::waiter::{lock, Wait};
use crate::sys::handoff::{Claimed, Entry, Slot};
use crate::task::Unparker;

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
fn claim<T>(list: &mut VecDeque<Entry<T>>, own: Option<&Token>) -> Option<Claimed<T>> {
    while let Some(e) = list.front() {
        if own.is_some_and(|o| e.is(o)) {
            return claim_after_own(list, own);
        }
        let e = list.pop_front().expect("front exists");
        if let Some(claimed) = e.try_claim() {
            return Some(claimed);
        }
    }
    None
}

/// [`claim`]'s slow path once the front is the caller's own entry.
fn claim_after_own<T>(list: &mut VecDeque<Entry<T>>, own: Option<&Token>) -> Option<Claimed<T>> {
    let mut i = 0;
    while i < list.len() {
        if own.is_some_and(|o| list[i].is(o)) {
            i += 1;
        } else if let Some(claimed) = list.remove(i).and_then(Entry::try_claim) {
            return Some(claimed);
        }
    }
    None
}

fn has_live<T>(list: &VecDeque<Entry<T>>, own: &Token) -> bool {
    list.iter().any(|e| !e.is(own) && e.is_waiting())
}

/// Completes every entry of `list` with whatever its slot holds (nothing
/// for a receiver: closed; its own value for a sender: failed) and returns
/// whom to wake.
fn release_all<T>(list: &mut VecDeque<Entry<T>>) -> Vec<Unparker> {
    let mut wakes = Vec::new();
    for e in list.drain(..) {
        if let Some(claimed) = e.try_claim() {
            wakes.extend(claimed.release());
        }
    }
    wakes
}

impl<T> Inner<T> {
    fn send_ready(&self, own: &Token) -> bool {
        self.closed
            || self.no_receivers
            || self.queue.len() < self.cap
            || has_live(&self.receivers, own)
    }

    fn recv_ready(&self, own: &Token) -> bool {
        !self.queue.is_empty() || self.closed || has_live(&self.senders, own)
    }

    /// Sends without waiting; `Ok` carries whom to wake once the lock is
    /// released.
    fn try_send(&mut self, v: T, own: Option<&Token>) -> Result<Option<Unparker>, TrySendError<T>> {
        if self.closed || self.no_receivers {
            return Err(TrySendError::Disconnected(v));
        }
        if let Some(e) = claim(&mut self.receivers, own) {
            return Ok(e.hand_over(v));
        }
        if self.queue.len() < self.cap {
            self.queue.push_back(v);
            Ok(None)
        } else {
            Err(TrySendError::Full(v))
        }
    }

    /// Receives without waiting; `Ok` carries whom to wake once the lock is
    /// released.
    fn try_recv(&mut self, own: Option<&Token>) -> Result<(T, Option<Unparker>), TryRecvError> {
        if let Some(v) = self.queue.pop_front() {
            // A slot freed up: move the oldest blocked sender's value in.
            let mut woken = None;
            if let Some(e) = claim(&mut self.senders, own) {
                let (sent, u) = e.take_over();
                self.queue
                    .push_back(sent.expect("a waiting sender holds a value"));
                woken = u;
            }
            return Ok((v, woken));
        }
        if let Some(e) = claim(&mut self.senders, own) {
            let (sent, u) = e.take_over();
            return Ok((sent.expect("a waiting sender holds a value"), u));
        }
        if self.closed {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes; returns `None` if already closed, else whom to wake.
    fn close(&mut self) -> Option<Vec<Unparker>> {
        if self.closed {
            return None;
        }
        self.closed = true;
        let mut wakes = release_all(&mut self.receivers);
        wakes.extend(release_all(&mut self.senders));
        Some(wakes)
    }

    /// Removes `token`'s entries from `list`.
    fn remove(list: &mut VecDeque<Entry<T>>, token: &Token) {
        list.retain(|e| !e.is(token));
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

    /// Closes the channel and wakes everyone blocked on it; `false` if it
    /// was already closed.
    fn close(&self) -> bool {
        let wakes = self.lock().close();
        match wakes {
            None => false,
            Some(wakes) => {
                wakes.iter().for_each(Unparker::unpark);
                true
            }
        }
    }
}

/// A plain (non-select) send or receive blocked on a channel, with its
/// entry in the channel's `senders` (`sender`) or `receivers` list.
///
/// Dropping it ends the wait for good ([`Token::settle`]) and removes the
/// entry if no counterparty claimed it, so the entry never outlives the
/// frame it points into, even if a panic unwinds through the wait.
struct Blocked<'a, T> {
    chan: &'a Chan<T>,
    token: &'a Token,
    sender: bool,
}

impl<T> Drop for Blocked<'_, T> {
    fn drop(&mut self) {
        if self.token.settle() {
            let mut inner = self.chan.lock();
            let list = if self.sender {
                &mut inner.senders
            } else {
                &mut inner.receivers
            };
            Inner::remove(list, self.token);
        }
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
        let woken = self.chan.lock().try_send(value, None)?;
        wake(woken);
        Ok(())
    }

    /// The blocking send: one lock round to try and, failing that, to
    /// queue an entry pointing at this frame; no allocation.
    fn send_wait(&self, value: T, deadline: Option<Instant>) -> Result<(), SendError<T>> {
        let mut inner = self.chan.lock();
        let value = match inner.try_send(value, None) {
            Ok(woken) => {
                drop(inner);
                wake(woken);
                return Ok(());
            }
            Err(TrySendError::Disconnected(v)) => return Err(SendError::Disconnected(v)),
            Err(TrySendError::Full(v)) => v,
        };
        let token = pin!(Token::new());
        let token = token.into_ref();
        let slot = pin!(Slot::new(Some(value)));
        let slot = slot.into_ref();
        inner.senders.push_back(Entry::new(token, 0, slot));
        drop(inner);
        let waited = {
            let _blocked = Blocked {
                chan: &self.chan,
                token: token.get_ref(),
                sender: true,
            };
            token.wait(Wait::Interruptible(deadline))
        };
        // A receiver took the value out of the slot; a close or an
        // interruption left it there.
        match (waited, slot.take()) {
            (_, None) => Ok(()),
            (Ok(_), Some(v)) => Err(SendError::Disconnected(v)),
            (Err(e), Some(v)) => Err(SendError::from_io(&e, v)),
        }
    }

    /// Closes the channel, like Go's `close(ch)`: receivers get what is
    /// buffered, then [`RecvError::Disconnected`]; blocked and later sends
    /// fail with [`SendError::Disconnected`]. Returns `false` if it was
    /// already closed (closing twice is not an error, unlike Go).
    pub fn close(&self) -> bool {
        self.chan.close()
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
        let (v, woken) = self.chan.lock().try_recv(None)?;
        wake(woken);
        Ok(v)
    }

    /// The blocking receive: one lock round to try and, failing that, to
    /// queue an entry pointing at this frame; no allocation.
    fn recv_wait(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        let mut inner = self.chan.lock();
        match inner.try_recv(None) {
            Ok((v, woken)) => {
                drop(inner);
                wake(woken);
                return Ok(v);
            }
            Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        let token = pin!(Token::new());
        let token = token.into_ref();
        let slot = pin!(Slot::new(None));
        let slot = slot.into_ref();
        inner.receivers.push_back(Entry::new(token, 0, slot));
        drop(inner);
        let waited = {
            let _blocked = Blocked {
                chan: &self.chan,
                token: token.get_ref(),
                sender: false,
            };
            token.wait(Wait::Interruptible(deadline))
        };
        // A sender filled the slot; a close left it empty.
        match (waited, slot.take()) {
            (_, Some(v)) => Ok(v),
            (Ok(_), None) => Err(RecvError::Disconnected),
            (Err(e), None) => Err(RecvError::from_io(&e)),
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
            self.chan.close();
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
            let (dropped, wakes) = {
                let mut inner = self.chan.lock();
                inner.no_receivers = true;
                let wakes = release_all(&mut inner.senders);
                (std::mem::take(&mut inner.queue), wakes)
            };
            wakes.iter().for_each(Unparker::unpark);
            drop(dropped);
        }
    }
}

/// Channel identity, like comparing channels in Go: two handles are equal
/// when they belong to the same channel, so a channel can be a `HashMap`
/// key (Go's `map[chan T]V`). A [`Sender`] also equals the [`Receiver`]s of
/// its channel.
///
/// ```
/// use std::collections::HashMap;
/// use fibra_runtime::chan;
///
/// let (tx1, rx1) = chan::unbounded::<i32>();
/// let (tx2, _rx2) = chan::unbounded::<i32>();
/// let mut names = HashMap::new();
/// names.insert(tx1.clone(), "first");
/// names.insert(tx2, "second");
/// assert_eq!(names[&tx1], "first");
/// assert!(tx1 == rx1);
/// ```
///
/// Clippy's `mutable_key_type` lint flags such maps, because a channel has
/// interior mutability; the hash is the channel's identity, which never
/// changes, so allow the lint there or list `fibra_runtime::chan::Sender`
/// and `Receiver` under `ignore-interior-mutability` in `clippy.toml`.
impl<T> PartialEq for Sender<T> {
    fn eq(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Eq for Sender<T> {}

/// Hashes the channel's identity (its address), consistent with `Eq`.
impl<T> Hash for Sender<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.chan).hash(state);
    }
}

/// Channel identity, as for [`Sender`]: equal when both belong to the same
/// channel; usable as a `HashMap` key.
impl<T> PartialEq for Receiver<T> {
    fn eq(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Eq for Receiver<T> {}

/// Hashes the channel's identity; a sender and a receiver of one channel
/// hash alike.
impl<T> Hash for Receiver<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.chan).hash(state);
    }
}

/// Whether the sender belongs to the receiver's channel.
impl<T> PartialEq<Receiver<T>> for Sender<T> {
    fn eq(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

/// Whether the receiver belongs to the sender's channel.
impl<T> PartialEq<Sender<T>> for Receiver<T> {
    fn eq(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
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
    /// Where a sender puts the value while this case waits; boxed (pinned)
    /// at the first registration, as the case itself may move.
    slot: Option<Pin<Box<Slot<T>>>>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive on `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvCase {
            rx,
            slot: None,
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

    fn set(&mut self, r: Result<(T, Option<Unparker>), TryRecvError>) -> bool {
        match r {
            Ok((v, woken)) => {
                wake(woken);
                self.result = Some(Ok(v));
            }
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

    fn register(&mut self, token: Pin<&Token>, case: usize) -> Registered {
        let mut inner = self.rx.chan.lock();
        if inner.recv_ready(token.get_ref()) {
            if !token.claim_own(case) {
                return Registered::Claimed;
            }
            let r = inner.try_recv(Some(token.get_ref()));
            drop(inner);
            return if self.set(r) {
                Registered::Done
            } else {
                Registered::Retry
            };
        }
        let slot = self
            .slot
            .get_or_insert_with(|| Box::pin(Slot::new(None)))
            .as_ref();
        inner.receivers.push_back(Entry::new(token, case, slot));
        Registered::Waiting
    }

    fn unregister(&mut self, token: &Token) {
        Inner::remove(&mut self.rx.chan.lock().receivers, token);
    }

    fn complete(&mut self) {
        let received = self.slot.as_ref().and_then(|slot| slot.take());
        self.result = Some(received.ok_or(RecvError::Disconnected));
    }
}

/// A send arm of a select.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    tx: &'a Sender<T>,
    /// The value while not registered (and after, if not sent).
    value: Option<T>,
    /// The value while this case waits, until a receiver takes it; boxed
    /// (pinned) at the first registration, as the case itself may move.
    slot: Option<Pin<Box<Slot<T>>>>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// A send of `value` on `tx`.
    pub fn new(tx: &'a Sender<T>, value: T) -> Self {
        SendCase {
            tx,
            value: Some(value),
            slot: None,
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

    fn set(&mut self, r: Result<Option<Unparker>, TrySendError<T>>) -> bool {
        match r {
            Ok(woken) => {
                wake(woken);
                self.result = Some(Ok(()));
            }
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

    fn register(&mut self, token: Pin<&Token>, case: usize) -> Registered {
        let mut inner = self.tx.chan.lock();
        if inner.send_ready(token.get_ref()) {
            if !token.claim_own(case) {
                return Registered::Claimed;
            }
            let v = self
                .value
                .take()
                .expect("an unsent send case holds its value");
            let r = inner.try_send(v, Some(token.get_ref()));
            drop(inner);
            return if self.set(r) {
                Registered::Done
            } else {
                Registered::Retry
            };
        }
        let slot = self
            .slot
            .get_or_insert_with(|| Box::pin(Slot::new(None)))
            .as_ref();
        slot.put(self.value.take());
        inner.senders.push_back(Entry::new(token, case, slot));
        Registered::Waiting
    }

    fn unregister(&mut self, token: &Token) {
        Inner::remove(&mut self.tx.chan.lock().senders, token);
        if let Some(v) = self.slot.as_ref().and_then(|slot| slot.take()) {
            self.value = Some(v);
        }
    }

    fn complete(&mut self) {
        // A receiver took the value out of the slot; a close left it there.
        let unsent = self
            .value
            .take()
            .or_else(|| self.slot.as_ref().and_then(|slot| slot.take()));
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
