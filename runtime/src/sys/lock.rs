//! The data cells behind [`crate::sync::Mutex`] and [`crate::sync::RwLock`]:
//! a [`RawLock`] and the `UnsafeCell` it guards, with guards as the only
//! way in.
//!
//! Contract: every reference to the data that outlives a method call comes
//! from a guard, and a guard is made only here, right after `RawLock`
//! granted the matching lock; it releases that lock in its `Drop` and
//! nowhere else. `RawLock` is private to this module, so no code outside it
//! can unlock a lock some guard holds, nor make a guard for a lock it does
//! not hold. A guard may be dropped on another thread than the one that
//! made it: `RawLock` does not care which thread unlocks.
//!
//! [`MutexCell`] only ever locks for writing; [`RwCell`] also shares the
//! data between readers, hence its stricter `Sync` bound.

mod raw;

use std::cell::UnsafeCell;
use std::io;
use std::ops::{Deref, DerefMut};

use self::raw::RawLock;
use crate::sync::waiter::Wait;

/// A value behind a writer-only lock.
///
/// INVARIANT: `data` is reached only through `&mut self` or through a
/// [`MutexCellGuard`], and such a guard exists only while `raw` holds
/// `WRITER` on its behalf, so at most one guard exists at a time.
pub(crate) struct MutexCell<T: ?Sized> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: the cell hands out its `T` to one guard at a time (the type
// invariant), so sharing the cell between threads moves the `T` between
// them but never shares it: `T: Send` is enough, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for MutexCell<T> {}
// SAFETY: owning the cell is owning the `T`; `RawLock` is `Send`.
unsafe impl<T: ?Sized + Send> Send for MutexCell<T> {}

impl<T> MutexCell<T> {
    /// A new unlocked cell holding `value`.
    pub(crate) const fn new(value: T) -> MutexCell<T> {
        MutexCell {
            raw: RawLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the cell, returning the value.
    pub(crate) fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> MutexCell<T> {
    /// Locks if that needs no waiting.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<MutexCellGuard<'_, T>> {
        self.raw.try_write().then(|| MutexCellGuard { cell: self })
    }

    /// Locks, waiting as `wait` says.
    ///
    /// # Errors
    /// Whatever `wait` returns once it gives up (never for `Wait::Forever`).
    #[inline]
    pub(crate) fn lock(&self, wait: Wait) -> io::Result<MutexCellGuard<'_, T>> {
        self.raw.lock(true, wait)?;
        Ok(MutexCellGuard { cell: self })
    }

    /// The value, through exclusive access (no locking needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// Holds a [`MutexCell`] locked; unlocks on drop.
///
/// INVARIANT: while the guard exists, `cell.raw` holds `WRITER` on its
/// behalf (it is made only by `MutexCell::try_lock`/`lock` once `RawLock`
/// granted that), so no other reference to the data exists.
pub(crate) struct MutexCellGuard<'a, T: ?Sized> {
    cell: &'a MutexCell<T>,
}

// SAFETY: a shared guard gives out only `&T`: `T: Sync`. (It is `Send`
// when `MutexCell<T>` is `Sync`, i.e. `T: Send`: the lock may be released
// on any thread.)
unsafe impl<T: ?Sized + Sync> Sync for MutexCellGuard<'_, T> {}

impl<'a, T: ?Sized> MutexCellGuard<'a, T> {
    /// The cell this guard locks, to lock it again once the guard is gone.
    pub(crate) fn cell(&self) -> &'a MutexCell<T> {
        self.cell
    }
}

impl<T: ?Sized> Deref for MutexCellGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock (type invariant), so no
        // `&mut T` exists but through this guard, which `&self` borrows.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexCellGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock (type invariant), so it is
        // the only way to the data, and `&mut self` makes this borrow the
        // only one through it.
        unsafe { &mut *self.cell.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexCellGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.cell.raw.unlock_write();
    }
}

/// A value behind a reader-writer lock.
///
/// INVARIANT: `data` is reached only through `&mut self` or through a
/// guard; a [`RwCellWriteGuard`] exists only while `raw` holds `WRITER` on
/// its behalf, a [`RwCellReadGuard`] only while `raw` counts it among its
/// readers, and `RawLock` never grants both at once.
pub(crate) struct RwCell<T: ?Sized> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (`T: Sync`); a writer gets
// `&mut T` on whichever thread it runs (`T: Send`). As `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwCell<T> {}
// SAFETY: owning the cell is owning the `T`; `RawLock` is `Send`.
unsafe impl<T: ?Sized + Send> Send for RwCell<T> {}

impl<T> RwCell<T> {
    /// A new unlocked cell holding `value`.
    pub(crate) const fn new(value: T) -> RwCell<T> {
        RwCell {
            raw: RawLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the cell, returning the value.
    pub(crate) fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwCell<T> {
    /// Read-locks if that needs no waiting.
    pub(crate) fn try_read(&self) -> Option<RwCellReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwCellReadGuard { cell: self })
    }

    /// Write-locks if that needs no waiting.
    pub(crate) fn try_write(&self) -> Option<RwCellWriteGuard<'_, T>> {
        self.raw
            .try_write()
            .then(|| RwCellWriteGuard { cell: self })
    }

    /// Read-locks, waiting as `wait` says.
    ///
    /// # Errors
    /// Whatever `wait` returns once it gives up (never for `Wait::Forever`).
    pub(crate) fn read(&self, wait: Wait) -> io::Result<RwCellReadGuard<'_, T>> {
        self.raw.lock(false, wait)?;
        Ok(RwCellReadGuard { cell: self })
    }

    /// Write-locks, waiting as `wait` says.
    ///
    /// # Errors
    /// Whatever `wait` returns once it gives up (never for `Wait::Forever`).
    pub(crate) fn write(&self, wait: Wait) -> io::Result<RwCellWriteGuard<'_, T>> {
        self.raw.lock(true, wait)?;
        Ok(RwCellWriteGuard { cell: self })
    }

    /// The value, through exclusive access (no locking needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// Shared read access to an [`RwCell`]; unlocks on drop.
///
/// INVARIANT: `cell.raw` counts this guard among its readers (it is made
/// only once `RawLock` granted a read lock), so no writer exists while it
/// lives.
pub(crate) struct RwCellReadGuard<'a, T: ?Sized> {
    cell: &'a RwCell<T>,
}

// SAFETY: a shared read guard gives out only `&T`: `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for RwCellReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwCellReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held (type invariant): no write guard, the
        // only source of `&mut T`, exists.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T: ?Sized> Drop for RwCellReadGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.raw.unlock_read();
    }
}

/// Exclusive write access to an [`RwCell`]; unlocks on drop.
///
/// INVARIANT: `cell.raw` holds `WRITER` for this guard (it is made only
/// once `RawLock` granted the write lock), so no other guard exists while
/// it lives.
pub(crate) struct RwCellWriteGuard<'a, T: ?Sized> {
    cell: &'a RwCell<T>,
}

// SAFETY: a shared write guard gives out only `&T`: `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for RwCellWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwCellWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held (type invariant), so no other guard
        // exists and `&self` borrows this one.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwCellWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held (type invariant), so this guard is
        // the only way to the data, and `&mut self` makes this the only
        // borrow through it.
        unsafe { &mut *self.cell.data.get() }
    }
}

impl<T: ?Sized> Drop for RwCellWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.raw.unlock_write();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

    fn send<T: Send>() {}
    fn sync<T: Sync>() {}

    /// The auto traits std's locks have, which the cells' bounds must give.
    #[test]
    fn send_and_sync_as_std() {
        // `Cell` is `Send` but not `Sync`: a mutex still shares it.
        send::<Mutex<Cell<i32>>>();
        sync::<Mutex<Cell<i32>>>();
        send::<MutexGuard<'static, Cell<i32>>>();
        sync::<MutexGuard<'static, i32>>();
        send::<RwLock<Cell<i32>>>();
        sync::<RwLock<i32>>();
        send::<RwLockReadGuard<'static, i32>>();
        sync::<RwLockReadGuard<'static, i32>>();
        send::<RwLockWriteGuard<'static, i32>>();
        sync::<RwLockWriteGuard<'static, i32>>();
    }
}
