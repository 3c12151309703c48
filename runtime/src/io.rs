//! The reactor's side of sockets: the registration API that fibra-net builds
//! its sockets on.
//!
//! Each worker has its own mio `Poll` (see [`crate::scheduler`]). A source is
//! registered lazily, edge-triggered, with the poll of the worker whose
//! coroutine first has to wait on it: that is the coroutine's home, so its
//! readiness wakes it with no cross-thread traffic, and a socket that never
//! has to wait costs no `epoll_ctl` at all. (An accepted socket handed to a
//! new coroutine is registered where that coroutine runs, not where it was
//! accepted.) A socket registered on one worker that a coroutine of another
//! worker later waits on alone (a connection handed over, a pooled
//! connection) moves to that worker's poll. Registering after a `WouldBlock`
//! loses nothing: `EPOLL_CTL_ADD` of a ready descriptor reports it at once.
//!
//! Each source keeps a readiness word (the ready bits plus a counter bumped
//! on every event) and separate reader and writer waiter lists, so one
//! coroutine can read while another writes, even from another worker.
//! [`Registration::do_io`] is the single choke point every socket operation
//! goes through: try the syscall, and on `WouldBlock` clear the readiness
//! (only if no event arrived since it was read) and park until the next
//! event, the deadline, or cancellation.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Token};
use slab::Slab;

use crate::scheduler::{self, Shared};
use crate::task::{self, Unparker, NO_HOME};

const READABLE: usize = 1;
const WRITABLE: usize = 1 << 1;
const READ_CLOSED: usize = 1 << 2;
const WRITE_CLOSED: usize = 1 << 3;
const ERROR: usize = 1 << 4;
const READY_MASK: usize = 0x1f;
const TICK: usize = 1 << 5;

/// The token mio wakes the poll with (never a slab index).
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Which way a coroutine waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Waiting until the source can be read (or is closed, or has an error).
    Read,
    /// Waiting until the source can be written (or is closed, or has an error).
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// The coroutines waiting in one direction. Almost always there is at most
/// one (one reader, one writer), which needs no allocation.
#[derive(Default)]
struct Waiters {
    first: Option<Unparker>,
    rest: Vec<Unparker>,
}

impl Waiters {
    fn push(&mut self, w: Unparker) {
        if self.first.is_none() {
            self.first = Some(w);
        } else {
            self.rest.push(w);
        }
    }

    fn remove(&mut self, me: &Unparker) {
        if self.first.as_ref().is_some_and(|w| w.will_unpark(me)) {
            self.first = self.rest.pop();
        }
        self.rest.retain(|w| !w.will_unpark(me));
    }
}

/// Per-source state shared between the reactor and waiting coroutines.
pub(crate) struct IoSource {
    readiness: AtomicUsize,
    closed: AtomicBool,
    readers: Mutex<Waiters>,
    writers: Mutex<Waiters>,
    /// The worker in `poll`, or `NO_HOME` (a lock-free fast path for
    /// `register_here`).
    owner: AtomicUsize,
    /// The worker whose poll the descriptor is registered with, and its
    /// token there; `None` until the first wait.
    poll: Mutex<Option<(usize, Token)>>,
    /// Called once when the peer hangs up; see [`Registration::on_hangup`].
    hangup: Mutex<Option<HangupHook>>,
}

/// What [`Registration::on_hangup`] calls. Shared (`Arc`), so that a caller
/// watching one socket request after request stores the same hook each time
/// instead of allocating one per request.
pub type HangupHook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// The readiness bits that mean the peer hung up or the connection failed.
const HANGUP: usize = READ_CLOSED | ERROR;

impl IoSource {
    fn wake(&self, dir: Direction) {
        let list = match dir {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        };
        let (first, rest) = {
            let mut l = list.lock().unwrap_or_else(|e| e.into_inner());
            // `take` of an empty Vec moves no allocation; with waiters beyond
            // the first, the list is rare enough to reallocate.
            (l.first.take(), std::mem::take(&mut l.rest))
        };
        if let Some(w) = first {
            w.unpark();
        }
        for w in rest {
            w.unpark();
        }
    }

    /// Removes the hang-up hook, if one is stored.
    fn take_hangup(&self) -> Option<HangupHook> {
        self.hangup.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Whether the caller, already queued in `dir`'s list, is the only
    /// waiter in either direction.
    fn only_waiter(&self, dir: Direction) -> bool {
        let (mine, other) = match dir {
            Direction::Read => (&self.readers, &self.writers),
            Direction::Write => (&self.writers, &self.readers),
        };
        let alone = {
            let l = mine.lock().unwrap_or_else(|e| e.into_inner());
            l.rest.is_empty()
        };
        alone && {
            let l = other.lock().unwrap_or_else(|e| e.into_inner());
            l.first.is_none() && l.rest.is_empty()
        }
    }

    fn set_ready(&self, bits: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                Some(((r | bits) & READY_MASK) | ((r & !READY_MASK).wrapping_add(TICK)))
            });
        if bits & HANGUP != 0 {
            // Taken after the bits are set, under the lock `on_hangup`
            // checks them under: a hook is either seen here or told by
            // `on_hangup` that the hang-up already happened.
            if let Some(hook) = self.take_hangup() {
                hook();
            }
        }
        if bits & Direction::Read.mask() != 0 {
            self.wake(Direction::Read);
        }
        if bits & Direction::Write.mask() != 0 {
            self.wake(Direction::Write);
        }
    }

    /// Clears `dir`'s bits unless an event arrived after `seen` was read.
    fn clear(&self, seen: usize, dir: Direction) {
        let bits = match dir {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        };
        let _ = self.readiness.compare_exchange(
            seen,
            seen & !bits,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

/// The sources registered with one worker's poll, by token (slab index plus
/// a generation, so a stale event for a reused index is ignored).
pub(crate) struct Sources {
    /// Entries with the generation they were inserted with, and the last
    /// generation handed out.
    slab: Mutex<(Slab<Entry>, u32)>,
    count: AtomicUsize,
}

/// A slab entry: the generation in the entry's token, and the source.
type Entry = (u32, Arc<IoSource>);

impl Sources {
    pub(crate) fn new() -> Sources {
        Sources {
            slab: Mutex::new((Slab::new(), 0)),
            count: AtomicUsize::new(0),
        }
    }

    /// Whether no source is registered (a relaxed hint).
    pub(crate) fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    fn insert(&self, src: Arc<IoSource>) -> Token {
        let mut guard = self.slab.lock().unwrap_or_else(|e| e.into_inner());
        let (slab, gen) = &mut *guard;
        *gen = gen.wrapping_add(1);
        let index = slab.insert((*gen, src));
        self.count.store(slab.len(), Ordering::Relaxed);
        token_of(index, *gen)
    }

    fn remove(&self, token: Token) {
        let (index, gen) = split_token(token);
        let mut guard = self.slab.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0.get(index).is_some_and(|s| s.0 == gen) {
            guard.0.remove(index);
            self.count.store(guard.0.len(), Ordering::Relaxed);
        }
    }

    /// Applies a batch of events.
    pub(crate) fn dispatch(&self, events: &mio::Events) {
        let mut ready: Vec<(Arc<IoSource>, usize)> = Vec::new();
        {
            let guard = self.slab.lock().unwrap_or_else(|e| e.into_inner());
            for ev in events.iter() {
                if ev.token() == WAKER_TOKEN {
                    continue;
                }
                let (index, gen) = split_token(ev.token());
                let Some((_, src)) = guard.0.get(index).filter(|s| s.0 == gen) else {
                    continue;
                };
                let mut bits = 0;
                if ev.is_readable() {
                    bits |= READABLE;
                }
                if ev.is_writable() {
                    bits |= WRITABLE;
                }
                if ev.is_read_closed() {
                    bits |= READ_CLOSED;
                }
                if ev.is_write_closed() {
                    bits |= WRITE_CLOSED;
                }
                if ev.is_error() {
                    bits |= ERROR;
                }
                ready.push((src.clone(), bits));
            }
        }
        for (src, bits) in ready {
            src.set_ready(bits);
        }
    }

    /// Wakes every waiter (runtime shutdown) and forgets all sources.
    pub(crate) fn close_all(&self) {
        let all: Vec<_> = {
            let mut guard = self.slab.lock().unwrap_or_else(|e| e.into_inner());
            let all: Vec<_> = guard.0.drain().map(|(_, src)| src).collect();
            self.count.store(0, Ordering::Relaxed);
            all
        };
        for src in all {
            src.closed.store(true, Ordering::Release);
            src.set_ready(READY_MASK);
        }
    }
}

fn token_of(index: usize, gen: u32) -> Token {
    Token((index & 0xffff_ffff) | ((gen as usize) << 32))
}

fn split_token(t: Token) -> (usize, u32) {
    (t.0 & 0xffff_ffff, (t.0 >> 32) as u32)
}

/// A source registered with a runtime's reactor.
///
/// Create it with [`Registration::new`] right after creating a non-blocking
/// mio source, route every operation through [`Registration::do_io`], and
/// call [`Registration::deregister`] before closing the file descriptor.
/// Dropping it wakes any coroutine still waiting on it with an error.
///
/// The descriptor joins a poll only when a coroutine (or thread) first has to
/// wait on it, and then the poll of that coroutine's worker (module docs).
///
/// Readiness is a hint that only `WouldBlock` clears: a new registration
/// starts out readable and writable, so the first operation goes straight to
/// the syscall. `wait_readable`/`wait_writable` on a fresh registration
/// therefore return at once; call [`Registration::clear_readiness`] first to
/// wait for a real event.
pub struct Registration {
    rt: Arc<Shared>,
    src: Arc<IoSource>,
    fd: RawFd,
    interest: Interest,
}

impl Registration {
    /// Prepares `source` (already non-blocking) for reads and writes on the
    /// current runtime (or the global one on a plain thread).
    ///
    /// # Errors
    /// None today; the `Result` leaves room for a reactor that registers
    /// eagerly. A descriptor epoll refuses (a regular file) fails at its
    /// first wait instead.
    pub fn new<S: Source + AsRawFd + ?Sized>(source: &mut S) -> io::Result<Registration> {
        Self::with_interest(source, Interest::READABLE | Interest::WRITABLE)
    }

    /// Like [`Registration::new`] with a chosen interest.
    ///
    /// # Errors
    /// As [`Registration::new`].
    pub fn with_interest<S: Source + AsRawFd + ?Sized>(
        source: &mut S,
        interest: Interest,
    ) -> io::Result<Registration> {
        let src = Arc::new(IoSource {
            // Assume ready: the first operation goes straight to the syscall.
            readiness: AtomicUsize::new(READABLE | WRITABLE),
            closed: AtomicBool::new(false),
            readers: Mutex::new(Waiters::default()),
            writers: Mutex::new(Waiters::default()),
            owner: AtomicUsize::new(NO_HOME),
            poll: Mutex::new(None),
            hangup: Mutex::new(None),
        });
        Ok(Registration {
            rt: scheduler::current_or_global(),
            src,
            fd: source.as_raw_fd(),
            interest,
        })
    }

    /// Makes sure the descriptor is registered, preferably with the poll of
    /// the worker the calling coroutine lives on.
    ///
    /// Unregistered: it joins the poll of the worker serving the caller.
    /// Registered with another worker's poll while the caller is its only
    /// waiter: it moves (`EPOLL_CTL_DEL` there, `EPOLL_CTL_ADD` here), so a
    /// socket handed to a coroutine on another worker (a connection made by
    /// one coroutine and used by another, a pooled connection) is woken
    /// where its user lives instead of through a cross-thread wake-up on
    /// every event; the move costs two syscalls once. With another waiter
    /// present (a reader here, a writer there) it stays where it is and
    /// wakes the other side through its home's inbox. The ADD reports a
    /// descriptor that is already ready, so a move loses no event.
    fn register_here(&self, dir: Direction) -> io::Result<()> {
        let here = task::current_task()
            .filter(|t| Arc::ptr_eq(&t.rt, &self.rt))
            .map_or(NO_HOME, |t| t.home());
        let owner = self.src.owner.load(Ordering::Acquire);
        if owner != NO_HOME && (owner == here || here == NO_HOME) {
            return Ok(());
        }
        let mut poll = self.src.poll.lock().unwrap_or_else(|e| e.into_inner());
        if self.src.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some((worker, token)) = *poll {
            if worker == here || here == NO_HOME || !self.src.only_waiter(dir) {
                return Ok(());
            }
            let (registry, sources) = self.rt.reactor(worker);
            sources.remove(token);
            *poll = None;
            self.src.owner.store(NO_HOME, Ordering::Release);
            // Failing here leaves it unregistered; the ADD below tries anew.
            let _ = registry.deregister(&mut SourceFd(&self.fd));
        }
        let worker = self.rt.reactor_for(here);
        let (registry, sources) = self.rt.reactor(worker);
        let token = sources.insert(self.src.clone());
        if let Err(e) = registry.register(&mut SourceFd(&self.fd), token, self.interest) {
            sources.remove(token);
            return Err(e);
        }
        *poll = Some((worker, token));
        self.src.owner.store(worker, Ordering::Release);
        Ok(())
    }

    /// Runs `op` until it does not return `WouldBlock`, parking between
    /// attempts until the source is ready in direction `dir`.
    ///
    /// # Errors
    /// `op`'s own error; `TimedOut` once `deadline` (or the current
    /// `with_timeout` scope) passes; a canceled error if the coroutine is
    /// canceled; `NotConnected` if the registration was closed meanwhile.
    pub fn do_io<R>(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_loop(dir, deadline, op, |_| false)
    }

    /// [`Registration::do_io`] for byte streams: `op` moves at most `want`
    /// bytes and returns how many it moved. A short transfer (`0 < n < want`)
    /// means the socket buffer ran dry (read) or full (write), so readiness
    /// is cleared right away and the next call parks instead of making a
    /// syscall that would only return `WouldBlock`. An event that arrived
    /// meanwhile keeps the readiness set (the tick check), so none is lost.
    /// Only for stream sockets: a datagram may be short and still leave
    /// more queued.
    ///
    /// # Errors
    /// As [`Registration::do_io`].
    pub fn do_io_stream(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        want: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_loop(dir, deadline, op, |&n| n > 0 && n < want)
    }

    /// The loop behind `do_io` and `do_io_stream`: run `op` while the source
    /// looks ready, clear readiness on `WouldBlock` (or when `drained` says
    /// a success emptied or filled the socket), retry on EINTR, park
    /// otherwise.
    fn io_loop<R>(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        loop {
            let seen = self.src.readiness.load(Ordering::Acquire);
            if seen & dir.mask() != 0 {
                match op() {
                    Ok(r) => {
                        if drained(&r) {
                            self.src.clear(seen, dir);
                        }
                        return Ok(r);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.src.clear(seen, dir);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        continue; // EINTR: retry
                    }
                    Err(e) => return Err(e),
                }
            }
            self.wait(dir, deadline)?;
        }
    }

    /// Parks until the source is readable (or closed or errored).
    ///
    /// # Errors
    /// As [`Registration::do_io`].
    pub fn wait_readable(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.wait_ready(Direction::Read, deadline)
    }

    /// Parks until the source is writable (or closed or errored).
    ///
    /// # Errors
    /// As [`Registration::do_io`].
    pub fn wait_writable(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.wait_ready(Direction::Write, deadline)
    }

    fn wait_ready(&self, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            if self.src.readiness.load(Ordering::Acquire) & dir.mask() != 0 {
                return self.check_open();
            }
            self.wait(dir, deadline)?;
        }
    }

    /// Marks `dir` as not ready, e.g. after a zero-byte peek told nothing.
    pub fn clear_readiness(&self, dir: Direction) {
        let seen = self.src.readiness.load(Ordering::Acquire);
        self.src.clear(seen, dir);
    }

    fn check_open(&self) -> io::Result<()> {
        if self.src.closed.load(Ordering::Acquire) {
            Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "socket was closed while waiting on it",
            ))
        } else {
            Ok(())
        }
    }

    /// One park: registers as a waiter, re-checks, parks, unregisters.
    fn wait(&self, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
        self.check_open()?;
        let me = task::current_unparker();
        let list = match dir {
            Direction::Read => &self.src.readers,
            Direction::Write => &self.src.writers,
        };
        list.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(me.clone());
        // An event that landed between our readiness check and the push
        // would have found an empty list: look again before parking. A
        // registration made here reports a ready descriptor at once.
        let r = match self.register_here(dir) {
            Err(e) => Err(e),
            Ok(()) if self.src.readiness.load(Ordering::Acquire) & dir.mask() != 0 => Ok(()),
            Ok(()) => task::park_deadline(deadline),
        };
        list.lock().unwrap_or_else(|e| e.into_inner()).remove(&me);
        r?;
        self.check_open()
    }

    /// Removes `source` from the poll; call before closing its descriptor.
    /// Waiters are woken and see `NotConnected`.
    ///
    /// # Errors
    /// Whatever `epoll_ctl` reports.
    pub fn deregister<S: Source + AsRawFd + ?Sized>(&self, source: &mut S) -> io::Result<()> {
        debug_assert_eq!(source.as_raw_fd(), self.fd, "deregister of another source");
        self.close()
    }

    /// Closes the registration through a shared reference: removes the
    /// descriptor from the poll and wakes every coroutine waiting on it;
    /// they, and every later wait, see `NotConnected`. The descriptor stays
    /// open (its owner closes it). This is how a socket shared between
    /// coroutines is closed from one of them, like Go's `ln.Close()`
    /// unblocking an `Accept` elsewhere. Closing twice does nothing.
    ///
    /// # Errors
    /// Whatever `epoll_ctl` reports; the registration is closed anyway.
    pub fn close(&self) -> io::Result<()> {
        let mut poll = self.src.poll.lock().unwrap_or_else(|e| e.into_inner());
        // Registered through its descriptor (`register_here`), so
        // deregistered the same way: mio's own sources track which registry
        // they joined and would refuse.
        let r = match *poll {
            Some((worker, _)) => self
                .rt
                .reactor(worker)
                .0
                .deregister(&mut SourceFd(&self.fd)),
            None => Ok(()),
        };
        self.close_locked(&mut poll);
        r
    }

    fn close_locked(&self, poll: &mut Option<(usize, Token)>) {
        if !self.src.closed.swap(true, Ordering::AcqRel) {
            // Closing is not the peer hanging up.
            drop(self.src.take_hangup());
            if let Some((worker, token)) = poll.take() {
                self.rt.reactor(worker).1.remove(token);
                self.src.owner.store(NO_HOME, Ordering::Release);
            }
            self.src.set_ready(READY_MASK);
        }
    }

    /// Asks to be told when the peer hangs up (closes its side or resets
    /// the connection: `EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`), without
    /// reading: the reactor calls `hook` once, on a worker thread, while it
    /// dispatches events, so the hook must not block (set a flag, close a
    /// channel, cancel a coroutine). Data arriving does not call it. This is
    /// how a server notices that a client left while its handler is busy
    /// elsewhere, at no cost per request beyond storing the hook.
    ///
    /// Returns `Ok(true)`, without storing the hook, if a hang-up has
    /// already been seen. `None` removes a stored hook. Registers the
    /// descriptor (with the caller's worker) if no wait has yet. Closing
    /// the registration drops the hook uncalled.
    ///
    /// # Errors
    /// Whatever `epoll_ctl` reports when registering.
    pub fn on_hangup(&self, hook: Option<HangupHook>) -> io::Result<bool> {
        let Some(hook) = hook else {
            drop(self.src.take_hangup());
            return Ok(false);
        };
        if self.src.owner.load(Ordering::Acquire) == NO_HOME {
            self.register_here(Direction::Read)?;
        }
        let mut slot = self.src.hangup.lock().unwrap_or_else(|e| e.into_inner());
        if self.src.readiness.load(Ordering::Acquire) & HANGUP != 0
            || self.src.closed.load(Ordering::Acquire)
        {
            return Ok(true);
        }
        *slot = Some(hook);
        Ok(false)
    }

    /// Whether [`close`](Registration::close) or
    /// [`deregister`](Registration::deregister) was called (or the runtime
    /// shut down).
    pub fn is_closed(&self) -> bool {
        self.src.closed.load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut poll = self.src.poll.lock().unwrap_or_else(|e| e.into_inner());
        self.close_locked(&mut poll);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .field(
                "poll",
                &*self.src.poll.lock().unwrap_or_else(|e| e.into_inner()),
            )
            .finish()
    }
}
