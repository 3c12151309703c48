//! [`Mutex`]: std's mutual-exclusion lock, parking coroutines.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::waiter::Wait;
use crate::sys::lock::{MutexCell, MutexCellGuard};

/// A mutual-exclusion lock shaped like [`std::sync::Mutex`] whose waiters
/// park their coroutine instead of blocking a thread.
///
/// - **Fast path:** one CAS to lock and one to unlock when nobody waits.
/// - **Fairness, as in Go's `sync.Mutex`:** after a short spin a locker
///   queues. Unlock wakes the oldest waiter, which then competes with
///   newcomers (a running coroutine that re-locks keeps going, rather than
///   paying a context switch per lock); a woken waiter that loses goes back
///   to the front of the queue. Once the oldest waiter has waited 1 ms,
///   unlock hands the lock straight to it (FIFO), so a waiter cannot be
///   starved by newcomers.
/// - **No poisoning** (like `parking_lot`): a panic while holding the guard
///   unlocks it. A poisoned flag forces every caller to unwrap a `Result`
///   for a case most programs treat as fatal anyway, and coroutines already
///   report panics through `join()`; keep invariants panic-safe or abort.
/// - **Cancellation:** [`lock`](Mutex::lock) waits until it gets the lock,
///   ignoring `cancel()` and `with_timeout` scopes, like Go's `sync.Mutex`
///   and std's: it must return a guard, a lock usually guards a short
///   critical section, and cleanup code of a canceled coroutine still needs
///   the lock. Where the wait can be long (a lock held across I/O), use
///   [`lock_cancelable`](Mutex::lock_cancelable), which honours both:
///   `let mut g = m.lock_cancelable()?;`.
///
/// ```
/// use std::sync::Arc;
/// use fibra_runtime::sync::Mutex;
///
/// let m = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..4).map(|_| {
///     let m = m.clone();
///     fibra_runtime::spawn(move || *m.lock() += 1)
/// }).collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock(), 4);
/// ```
///
/// `Mutex<T>` is `Send` and `Sync` when `T: Send`, like std's.
pub struct Mutex<T: ?Sized> {
    cell: MutexCell<T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            cell: MutexCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the coroutine (or blocking the OS thread) until the
    /// lock is free. Ignores cancellation and `with_timeout` scopes (see the
    /// type's docs); [`lock_cancelable`](Mutex::lock_cancelable) honours
    /// them.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        match self.cell.try_lock() {
            Some(guard) => MutexGuard { guard },
            None => MutexGuard::relock(&self.cell),
        }
    }

    /// Locks if that needs no waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.cell.try_lock().map(|guard| MutexGuard { guard })
    }

    /// Locks, waiting at most `timeout`; `None` if it did not get the lock
    /// in time. Ignores cancellation and `with_timeout` scopes.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.cell
            .lock(Wait::Until(Instant::now() + timeout))
            .ok()
            .map(|guard| MutexGuard { guard })
    }

    /// Locks, honouring cancellation and the `with_timeout` scope deadline.
    ///
    /// # Errors
    /// `TimedOut` when the scope deadline passes first; an
    /// [`is_canceled`](crate::is_canceled) error when the coroutine is
    /// canceled while waiting. The lock is not held after an error.
    pub fn lock_cancelable(&self) -> io::Result<MutexGuard<'_, T>> {
        let guard = self.cell.lock(Wait::Interruptible(None))?;
        Ok(MutexGuard { guard })
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.debug_struct("Mutex").field("data", &"<locked>").finish(),
        }
    }
}

/// Holds a [`Mutex`] locked; unlocks on drop.
///
/// `Sync` when `T: Sync`; `Send` when `T: Send` (the lock may be released
/// on another thread).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    guard: MutexCellGuard<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The lock this guard holds, for [`super::Condvar`] to lock again
    /// (with [`MutexGuard::relock`]) after it dropped the guard.
    pub(super) fn mutex(&self) -> &'a MutexCell<T> {
        self.guard.cell()
    }

    /// Locks `mutex`, parking until it is free and ignoring cancellation
    /// and `with_timeout` scopes, like [`Mutex::lock`] (whose slow path
    /// this is).
    #[cold]
    #[inline(never)]
    pub(super) fn relock(mutex: &'a MutexCell<T>) -> MutexGuard<'a, T> {
        let guard = mutex
            .lock(Wait::Forever)
            .expect("an unbounded wait cannot fail");
        MutexGuard { guard }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
