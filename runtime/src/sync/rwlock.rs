//! [`RwLock`]: std's reader-writer lock, parking coroutines.

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::raw::RawLock;
use super::waiter::Wait;

/// A reader-writer lock shaped like [`std::sync::RwLock`] whose waiters
/// park their coroutine.
///
/// Fast paths are one CAS to lock and one to unlock while nobody waits.
/// Fairness once anybody waits: a queued writer stops new readers from
/// entering, and a release lets the front of the queue on: all readers up
/// to the next writer by hand-off; a writer, as for [`super::Mutex`], by
/// waking it to compete with newcomers, and by hand-off once it has waited
/// 1 ms. So neither readers nor writers starve. No poisoning, for the reasons given on
/// [`super::Mutex`]. [`read`](RwLock::read) and [`write`](RwLock::write)
/// ignore cancellation and `with_timeout` scopes, like std's and for the
/// reasons given on [`super::Mutex`]; the `_cancelable` variants honour
/// both and are the ones to use where the wait can be long.
pub struct RwLock<T: ?Sized> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (`T: Sync`), a writer gets
// `&mut T` on whichever thread it runs (`T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: owning the lock is owning the `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading, parking until no writer holds or waits
    /// ahead. Ignores cancellation and `with_timeout` scopes.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw
            .lock(false, Wait::Forever)
            .expect("an unbounded wait cannot fail");
        RwLockReadGuard { lock: self }
    }

    /// Locks for exclusive writing, parking until it is free. Ignores
    /// cancellation and `with_timeout` scopes.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw
            .lock(true, Wait::Forever)
            .expect("an unbounded wait cannot fail");
        RwLockWriteGuard { lock: self }
    }

    /// Read-locks if that needs no waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwLockReadGuard { lock: self })
    }

    /// Write-locks if that needs no waiting.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw
            .try_write()
            .then(|| RwLockWriteGuard { lock: self })
    }

    /// Read-locks, waiting at most `timeout`; `None` on timeout.
    pub fn read_timeout(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        let wait = Wait::Until(Instant::now() + timeout);
        self.raw
            .lock(false, wait)
            .ok()
            .map(|()| RwLockReadGuard { lock: self })
    }

    /// Write-locks, waiting at most `timeout`; `None` on timeout.
    pub fn write_timeout(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        let wait = Wait::Until(Instant::now() + timeout);
        self.raw
            .lock(true, wait)
            .ok()
            .map(|()| RwLockWriteGuard { lock: self })
    }

    /// Read-locks, honouring cancellation and the scope deadline.
    ///
    /// # Errors
    /// `TimedOut` at the scope deadline; a canceled error on `cancel()`.
    pub fn read_cancelable(&self) -> io::Result<RwLockReadGuard<'_, T>> {
        self.raw.lock(false, Wait::Interruptible(None))?;
        Ok(RwLockReadGuard { lock: self })
    }

    /// Write-locks, honouring cancellation and the scope deadline.
    ///
    /// # Errors
    /// `TimedOut` at the scope deadline; a canceled error on `cancel()`.
    pub fn write_cancelable(&self) -> io::Result<RwLockWriteGuard<'_, T>> {
        self.raw.lock(true, Wait::Interruptible(None))?;
        Ok(RwLockWriteGuard { lock: self })
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("RwLock").field("data", &&*g).finish(),
            None => f.debug_struct("RwLock").field("data", &"<locked>").finish(),
        }
    }
}

/// Shared read access to an [`RwLock`]; unlocks on drop.
///
/// INVARIANT: the lock word counts this guard among its readers, so no
/// writer exists while it lives.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: a shared read guard gives out only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Exclusive write access to an [`RwLock`]; unlocks on drop.
///
/// INVARIANT: the lock word holds `WRITER` for this guard, so no other
/// reference to the data exists while it lives.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: a shared write guard gives out only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held (type invariant): no writer exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock_read();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held (type invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held exclusively (type invariant) and
        // `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock_write();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
