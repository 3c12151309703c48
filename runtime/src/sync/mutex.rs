//! [`Mutex`]: std's mutual-exclusion lock, parking coroutines.

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::raw::RawLock;
use super::waiter::Wait;

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
pub struct Mutex<T: ?Sized> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, so sharing
// the mutex moves `T` between threads but never shares it: `T: Send`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex is owning the `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the coroutine (or blocking the OS thread) until the
    /// lock is free. Ignores cancellation and `with_timeout` scopes (see the
    /// type's docs); [`lock_cancelable`](Mutex::lock_cancelable) honours
    /// them.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if !self.raw.try_write() {
            self.lock_contended();
        }
        MutexGuard { mutex: self }
    }

    /// [`Mutex::lock`] once the lock was found taken.
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        self.raw
            .lock(true, Wait::Forever)
            .expect("an unbounded wait cannot fail");
    }

    /// Locks if that needs no waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_write().then(|| MutexGuard { mutex: self })
    }

    /// Locks, waiting at most `timeout`; `None` if it did not get the lock
    /// in time. Ignores cancellation and `with_timeout` scopes.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.raw
            .lock(true, Wait::Until(Instant::now() + timeout))
            .ok()
            .map(|()| MutexGuard { mutex: self })
    }

    /// Locks, honouring cancellation and the `with_timeout` scope deadline.
    ///
    /// # Errors
    /// `TimedOut` when the scope deadline passes first; an
    /// [`is_canceled`](crate::is_canceled) error when the coroutine is
    /// canceled while waiting. The lock is not held after an error.
    pub fn lock_cancelable(&self) -> io::Result<MutexGuard<'_, T>> {
        self.raw.lock(true, Wait::Interruptible(None))?;
        Ok(MutexGuard { mutex: self })
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
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
/// INVARIANT: while a guard exists, its mutex's lock word holds `WRITER`
/// on the guard's behalf, so no other reference to the data exists.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
}

// SAFETY: a shared guard gives out only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for [`super::Condvar`]).
    pub(super) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Mutex<T> {
    pub(super) fn raw(&self) -> &RawLock {
        &self.raw
    }

    /// Re-creates a guard after [`super::Condvar`] relocked the raw lock.
    pub(super) fn guard_after_relock(&self) -> MutexGuard<'_, T> {
        MutexGuard { mutex: self }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock (type invariant).
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively (type invariant) and
        // `&mut self` makes this the only borrow through it.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock_write();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
