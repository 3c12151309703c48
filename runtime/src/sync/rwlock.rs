//! [`RwLock`]: std's reader-writer lock, parking coroutines.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::waiter::Wait;
use crate::sys::lock::{RwCell, RwCellReadGuard, RwCellWriteGuard};

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
///
/// `RwLock<T>` is `Sync` when `T: Send + Sync` and `Send` when `T: Send`,
/// like std's.
pub struct RwLock<T: ?Sized> {
    cell: RwCell<T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            cell: RwCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading, parking until no writer holds or waits
    /// ahead. Ignores cancellation and `with_timeout` scopes.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let guard = self
            .cell
            .read(Wait::Forever)
            .expect("an unbounded wait cannot fail");
        RwLockReadGuard { guard }
    }

    /// Locks for exclusive writing, parking until it is free. Ignores
    /// cancellation and `with_timeout` scopes.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let guard = self
            .cell
            .write(Wait::Forever)
            .expect("an unbounded wait cannot fail");
        RwLockWriteGuard { guard }
    }

    /// Read-locks if that needs no waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.cell.try_read().map(|guard| RwLockReadGuard { guard })
    }

    /// Write-locks if that needs no waiting.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.cell
            .try_write()
            .map(|guard| RwLockWriteGuard { guard })
    }

    /// Read-locks, waiting at most `timeout`; `None` on timeout.
    pub fn read_timeout(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        let wait = Wait::Until(Instant::now() + timeout);
        self.cell
            .read(wait)
            .ok()
            .map(|guard| RwLockReadGuard { guard })
    }

    /// Write-locks, waiting at most `timeout`; `None` on timeout.
    pub fn write_timeout(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        let wait = Wait::Until(Instant::now() + timeout);
        self.cell
            .write(wait)
            .ok()
            .map(|guard| RwLockWriteGuard { guard })
    }

    /// Read-locks, honouring cancellation and the scope deadline.
    ///
    /// # Errors
    /// `TimedOut` at the scope deadline; a canceled error on `cancel()`.
    pub fn read_cancelable(&self) -> io::Result<RwLockReadGuard<'_, T>> {
        let guard = self.cell.read(Wait::Interruptible(None))?;
        Ok(RwLockReadGuard { guard })
    }

    /// Write-locks, honouring cancellation and the scope deadline.
    ///
    /// # Errors
    /// `TimedOut` at the scope deadline; a canceled error on `cancel()`.
    pub fn write_cancelable(&self) -> io::Result<RwLockWriteGuard<'_, T>> {
        let guard = self.cell.write(Wait::Interruptible(None))?;
        Ok(RwLockWriteGuard { guard })
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
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
/// `Sync` when `T: Sync`; `Send` when `T: Send + Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    guard: RwCellReadGuard<'a, T>,
}

/// Exclusive write access to an [`RwLock`]; unlocks on drop.
///
/// `Sync` when `T: Sync`; `Send` when `T: Send + Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    guard: RwCellWriteGuard<'a, T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
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
