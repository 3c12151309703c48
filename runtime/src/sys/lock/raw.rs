//! `RawLock`: the lock word and waiter queue behind
//! [`crate::sync::Mutex`] and [`crate::sync::RwLock`]. Private to
//! [`super`]: only a guard made there may unlock it.
//!
//! The word holds `WRITER`, `QUEUED` (the queue is non-empty), `WOKEN`
//! (the front writer was woken to compete for the lock) and a reader count
//! in units of `READER`. Uncontended paths touch only the word: one CAS to lock (`0 -> WRITER`, or `+READER` while neither
//! `WRITER` nor `QUEUED` is set) and one to unlock while no other bit is
//! set. Everything else happens under the queue's std mutex, which is held
//! only for short sections and never across a park.
//!
//! Writers work like Go's `sync.Mutex`, in two modes:
//!
//! - **Normal mode.** A writer that finds the lock free takes it, even if
//!   others are queued: a running coroutine that re-locks right after
//!   unlocking keeps going instead of paying a context switch per lock
//!   (the convoy a strict hand-off causes). An unlock with a writer at the
//!   queue's front wakes it to compete (`WOKEN`: one at a time); it keeps
//!   its place at the front, and if it loses it waits again.
//! - **Starvation mode.** Once the front writer has waited [`STARVATION`],
//!   unlock hands the lock straight to it (the word is updated on its
//!   behalf, so newcomers cannot barge). Queued waiters are thus served in
//!   arrival order and none waits much longer than `STARVATION` plus the
//!   holders ahead of it, even behind a holder that never parks (a woken
//!   waiter may sit in that holder's worker's run queue until it does).
//!
//! Readers are always served by hand-off: the last holder grants the lock
//! to the queue's front (every reader up to the next queued writer), and
//! `QUEUED` stops new readers from overtaking a queued writer. A waiter
//! that gives up (timeout, cancel) removes itself and re-runs the release,
//! so nothing behind it is stranded; if it was granted before it could
//! remove itself, it keeps the lock.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::waiter::{lock, Wait};
use crate::task::{current_unparker, Unparker};

const WRITER: usize = 1;
const QUEUED: usize = 2;
const WOKEN: usize = 4;
const READER: usize = 8;

/// How long a queued writer competes with newcomers before unlock hands
/// the lock straight to it (Go's `starvationThresholdNs`).
const STARVATION: Duration = Duration::from_millis(1);

/// While a woken writer is on its way, an unlock only clears `WRITER`,
/// except every this many times, when it takes the queue lock and checks
/// whether the front writer is starving (it may be stuck in the run queue
/// of a worker whose coroutine never parks).
const STARVATION_CHECK_EVERY: u32 = 64;

/// Spins on a taken lock before queueing: the holder, running on another
/// worker, is often about to release.
const SPINS: u32 = 16;

/// [`Waiter::state`]: still waiting.
const PARKED: u8 = 0;
/// [`Waiter::state`]: the lock was handed over; the waiter holds it.
const GRANTED: u8 = 1;
/// [`Waiter::state`]: taken off the queue and woken to compete, with
/// `WOKEN` set on its behalf.
const RETRY: u8 = 2;

/// One parked locker.
struct Waiter {
    state: AtomicU8,
    unparker: Unparker,
}

impl Waiter {
    fn notify(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.unparker.unpark();
    }
}

struct Queued {
    waiter: Arc<Waiter>,
    write: bool,
    /// When the waiter first queued.
    since: Instant,
}

/// A lock word and its queue of parked lockers.
///
/// INVARIANT: `WRITER` is set in `state` exactly while one holder has the
/// lock for writing, and then the reader count is zero; otherwise the count
/// is the number of read holders. A lock is taken only by a successful CAS
/// on `state` (by the locker, or by `grant_locked` on a queued locker's
/// behalf, which then sees `GRANTED`) and released only by `unlock_write`
/// or `unlock_read`, which [`super`] calls from its guards' `Drop` alone.
pub(super) struct RawLock {
    state: AtomicUsize,
    /// Unlocks that skipped the queue while `WOKEN` was set; a heuristic
    /// count (plain load and store), see [`STARVATION_CHECK_EVERY`].
    passes: AtomicU32,
    queue: std::sync::Mutex<VecDeque<Queued>>,
}

impl RawLock {
    pub(super) const fn new() -> RawLock {
        RawLock {
            state: AtomicUsize::new(0),
            passes: AtomicU32::new(0),
            queue: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    #[inline]
    pub(super) fn try_write(&self) -> bool {
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            || self.try_write_barging()
    }

    /// Takes a free lock for writing even though others are queued (normal
    /// mode; in starvation mode the lock is never free while a writer
    /// waits, as unlock hands it over).
    fn try_write_barging(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & WRITER == 0 && s < READER {
            match self.state.compare_exchange_weak(
                s,
                s | WRITER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
        false
    }

    pub(super) fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | QUEUED) != 0 || s > usize::MAX - 2 * READER {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    fn try_lock(&self, write: bool) -> bool {
        if write {
            self.try_write()
        } else {
            self.try_read()
        }
    }

    /// Locks for writing (`write`) or reading, waiting as `wait` says.
    ///
    /// # Errors
    /// Whatever `wait` returns once it gives up (TimedOut, Canceled).
    #[inline]
    pub(super) fn lock(&self, write: bool, wait: Wait) -> io::Result<()> {
        if self.try_lock(write) {
            return Ok(());
        }
        self.lock_slow(write, wait)
    }

    /// [`RawLock::lock`] once the first attempt failed: spin, then queue.
    #[cold]
    fn lock_slow(&self, write: bool, wait: Wait) -> io::Result<()> {
        for _ in 0..SPINS {
            std::hint::spin_loop();
            if self.try_lock(write) {
                return Ok(());
            }
        }
        let waiter = Arc::new(Waiter {
            state: AtomicU8::new(PARKED),
            unparker: current_unparker(),
        });
        if self.enqueue(&waiter, write) {
            return Ok(());
        }
        loop {
            match waiter.state.load(Ordering::Acquire) {
                GRANTED => return Ok(()),
                RETRY => {
                    if self.compete(&waiter) {
                        return Ok(());
                    }
                    continue;
                }
                _ => {}
            }
            if let Err(e) = wait.park() {
                return self.give_up(&waiter, e);
            }
        }
    }

    /// Under the queue lock, takes the lock if that is allowed now (`true`)
    /// or queues `waiter` at the back.
    fn enqueue(&self, waiter: &Arc<Waiter>, write: bool) -> bool {
        let mut q = lock(&self.queue);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // Writers may barge in normal mode; readers take the lock only
            // when nobody is queued ahead of them.
            let (next, acquire) = if write && s & WRITER == 0 && s < READER {
                (s | WRITER, true)
            } else if !write && s & WRITER == 0 && q.is_empty() {
                (s + READER, true)
            } else {
                (s | QUEUED, false)
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if acquire => return true,
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        q.push_back(Queued {
            waiter: waiter.clone(),
            write,
            since: Instant::now(),
        });
        false
    }

    /// A queued writer woken to compete (`RETRY`, with `WOKEN` set on its
    /// behalf) tries for the lock: `true` if it got it (by winning, or by a
    /// hand-off that came meanwhile). Either way it gives up `WOKEN`; a
    /// loser stays at its place in the queue and waits again.
    fn compete(&self, waiter: &Arc<Waiter>) -> bool {
        let mut won = false;
        for _ in 0..SPINS {
            let s = self.state.load(Ordering::Relaxed);
            if s & WRITER == 0
                && s < READER
                && self
                    .state
                    .compare_exchange_weak(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                won = true;
                break;
            }
            std::hint::spin_loop();
        }
        let mut q = lock(&self.queue);
        if waiter.state.load(Ordering::Acquire) == GRANTED {
            return true;
        }
        waiter.state.store(PARKED, Ordering::Relaxed);
        self.state.fetch_and(!WOKEN, Ordering::AcqRel);
        if won {
            q.retain(|w| !Arc::ptr_eq(&w.waiter, waiter));
            if q.is_empty() {
                self.state.fetch_and(!QUEUED, Ordering::Release);
            }
            return true;
        }
        // Lost: the winner's unlock comes back to the queue (`QUEUED` is
        // set); if the lock was released meanwhile, let the front on now.
        let wake = self.release_locked(&mut q);
        drop(q);
        notify_retry(wake);
        false
    }

    /// The wait was interrupted: keep a lock granted meanwhile, or leave
    /// the queue (handing on `WOKEN`) so nobody behind is stranded.
    fn give_up(&self, waiter: &Arc<Waiter>, e: io::Error) -> io::Result<()> {
        let mut q = lock(&self.queue);
        match waiter.state.load(Ordering::Acquire) {
            GRANTED => return Ok(()),
            RETRY => {
                self.state.fetch_and(!WOKEN, Ordering::AcqRel);
            }
            _ => {}
        }
        q.retain(|w| !Arc::ptr_eq(&w.waiter, waiter));
        let wake = self.release_locked(&mut q);
        drop(q);
        notify_retry(wake);
        Err(e)
    }

    #[inline]
    pub(super) fn unlock_write(&self) {
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_write_slow();
        }
    }

    /// [`RawLock::unlock_write`] with waiters queued or woken.
    #[cold]
    fn unlock_write_slow(&self) {
        let s = self.state.load(Ordering::Relaxed);
        if s & WOKEN != 0 {
            // The woken writer will take the lock or, losing, re-run the
            // release itself (it clears `WOKEN` first, which fails this CAS).
            let passes = self.passes.load(Ordering::Relaxed).wrapping_add(1);
            self.passes.store(passes, Ordering::Relaxed);
            if passes % STARVATION_CHECK_EVERY != 0
                && self
                    .state
                    .compare_exchange(s, s & !WRITER, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        let mut q = lock(&self.queue);
        self.state.fetch_and(!WRITER, Ordering::Release);
        let wake = self.release_locked(&mut q);
        drop(q);
        notify_retry(wake);
    }

    pub(super) fn unlock_read(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // The last reader out with a queue behind it must hand off.
            if s & QUEUED != 0 && s < 2 * READER {
                break;
            }
            match self.state.compare_exchange_weak(
                s,
                s - READER,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        let mut q = lock(&self.queue);
        self.state.fetch_sub(READER, Ordering::Release);
        let wake = self.release_locked(&mut q);
        drop(q);
        notify_retry(wake);
    }

    /// With the queue locked, after the lock may have become free: lets
    /// the queue's front on. A reader front, or a writer that has waited
    /// [`STARVATION`], gets the lock by hand-off; another writer is woken to
    /// compete (returned, to be woken once the queue lock is released),
    /// unless one already is (`WOKEN`).
    fn release_locked(&self, q: &mut VecDeque<Queued>) -> Option<Arc<Waiter>> {
        let Some(front) = q.front() else {
            self.state.fetch_and(!QUEUED, Ordering::Release);
            return None;
        };
        let s = self.state.load(Ordering::Relaxed);
        if s & WRITER != 0 || (front.write && s >= READER) {
            // Held: its holder's unlock comes back here.
            return None;
        }
        if !front.write || front.since.elapsed() >= STARVATION {
            self.grant_locked(q);
            return None;
        }
        if s & WOKEN != 0 {
            return None;
        }
        self.state.fetch_or(WOKEN, Ordering::AcqRel);
        front.waiter.state.store(RETRY, Ordering::Release);
        Some(front.waiter.clone())
    }

    /// Grants the lock to the queue's front while it is compatible with
    /// the current holders, then keeps `QUEUED` in step with the queue.
    fn grant_locked(&self, q: &mut VecDeque<Queued>) {
        while let Some(front) = q.front() {
            let mut s = self.state.load(Ordering::Relaxed);
            let granted = loop {
                let next = if front.write {
                    if s & WRITER != 0 || s >= READER {
                        break false;
                    }
                    s | WRITER
                } else {
                    if s & WRITER != 0 {
                        break false;
                    }
                    s + READER
                };
                match self
                    .state
                    .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break true,
                    Err(actual) => s = actual,
                }
            };
            if !granted {
                break;
            }
            let front = q.pop_front().expect("front exists");
            if front.waiter.state.load(Ordering::Relaxed) == RETRY {
                // A woken writer gets the lock by hand-off after all.
                self.state.fetch_and(!WOKEN, Ordering::AcqRel);
            }
            front.waiter.notify(GRANTED);
            if front.write {
                break;
            }
        }
        if q.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Release);
        }
    }
}

/// Wakes a writer that [`RawLock::release_locked`] took off the queue.
fn notify_retry(waiter: Option<Arc<Waiter>>) {
    if let Some(w) = waiter {
        w.unparker.unpark();
    }
}
