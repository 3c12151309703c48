//! [`Condvar`]: std's condition variable over [`super::Mutex`].

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::waiter::{lock, Wait, Waiter};
use crate::sys::lock::MutexCell;

/// A condition variable shaped like [`std::sync::Condvar`], used with
/// [`super::Mutex`]; waiting parks the coroutine.
///
/// Waiters are woken in FIFO order. A wait registers itself before it
/// unlocks the mutex, so a notification sent by anybody holding the mutex
/// after the wait began is never lost. As with std, wake-ups may also be
/// spurious from the caller's point of view (another waiter may have
/// consumed the state first): wait in a loop or use
/// [`wait_while`](Condvar::wait_while).
///
/// **Cancellation.** [`wait`](Condvar::wait) and
/// [`wait_while`](Condvar::wait_while) ignore cancellation and
/// `with_timeout` scopes, like std's: they must hand back the guard, and a
/// wait that returned early on cancel would look like a spurious wake-up,
/// turning the usual `while !ready { g = cv.wait(g) }` loop into a busy
/// loop. [`wait_cancelable`](Condvar::wait_cancelable) and
/// [`wait_while_cancelable`](Condvar::wait_while_cancelable) honour both
/// and return `io::Result`; use them where the waiter may be canceled:
///
/// ```
/// use fibra_runtime::sync::{Condvar, Mutex};
///
/// fn wait_ready(m: &Mutex<bool>, cv: &Condvar) -> std::io::Result<()> {
///     let _ready = cv.wait_while_cancelable(m.lock(), |ready| !*ready)?;
///     Ok(())
/// }
/// # let (m, cv) = (Mutex::new(true), Condvar::new());
/// # wait_ready(&m, &cv).unwrap();
/// ```
#[derive(Default)]
pub struct Condvar {
    waiters: std::sync::Mutex<VecDeque<Arc<Waiter>>>,
}

/// Whether a timed wait on a [`Condvar`] returned because of its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait timed out without a notification.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A new condition variable.
    pub const fn new() -> Condvar {
        Condvar {
            waiters: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Unlocks the guard's mutex, parks until notified, relocks. Ignores
    /// cancellation and `with_timeout` scopes (see the type's docs).
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_inner(guard, Wait::Forever).0
    }

    /// [`wait`](Condvar::wait), honouring cancellation and the
    /// `with_timeout` scope deadline while waiting for the notification.
    /// Relocking after a notification waits like [`super::Mutex::lock`].
    ///
    /// # Errors
    /// An [`is_canceled`](crate::is_canceled) error after `cancel()`;
    /// `TimedOut` at the scope deadline. The mutex is not held after an
    /// error. A notification that raced with the interruption wins: the
    /// call then returns the relocked guard.
    pub fn wait_cancelable<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
    ) -> io::Result<MutexGuard<'a, T>> {
        let (mutex, r) = self.unlock_and_park(guard, Wait::Interruptible(None));
        r?;
        Ok(MutexGuard::relock(mutex))
    }

    /// [`wait_while`](Condvar::wait_while), honouring cancellation and the
    /// scope deadline like [`wait_cancelable`](Condvar::wait_cancelable).
    ///
    /// # Errors
    /// As [`wait_cancelable`](Condvar::wait_cancelable); the mutex is not
    /// held after an error.
    pub fn wait_while_cancelable<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> io::Result<MutexGuard<'a, T>> {
        while condition(&mut guard) {
            guard = self.wait_cancelable(guard)?;
        }
        Ok(guard)
    }

    /// Waits while `condition` holds, re-checking after every wake-up.
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// [`wait`](Condvar::wait) for at most `timeout`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let (g, timed_out) = self.wait_inner(guard, Wait::Until(Instant::now() + timeout));
        (g, WaitTimeoutResult(timed_out))
    }

    /// [`wait_while`](Condvar::wait_while) for at most `timeout` in total.
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now() + timeout;
        while condition(&mut guard) {
            let (g, timed_out) = self.wait_inner(guard, Wait::Until(deadline));
            guard = g;
            if timed_out {
                let still = condition(&mut guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Wakes the longest-waiting waiter, if any.
    pub fn notify_one(&self) {
        if let Some(w) = lock(&self.waiters).pop_front() {
            w.grant();
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let all = std::mem::take(&mut *lock(&self.waiters));
        for w in all {
            w.grant();
        }
    }

    fn wait_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        wait: Wait,
    ) -> (MutexGuard<'a, T>, bool) {
        let (mutex, r) = self.unlock_and_park(guard, wait);
        (MutexGuard::relock(mutex), r.is_err())
    }

    /// Queues a waiter, unlocks the guard's mutex and parks until notified
    /// (`Ok`) or until `wait` gives up (its error; the waiter has left the
    /// queue). Returns the mutex, unlocked.
    fn unlock_and_park<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        wait: Wait,
    ) -> (&'a MutexCell<T>, io::Result<()>) {
        let mutex = guard.mutex();
        let waiter = Waiter::new();
        lock(&self.waiters).push_back(waiter.clone());
        drop(guard);
        while !waiter.is_granted() {
            if let Err(e) = wait.park() {
                let mut q = lock(&self.waiters);
                // A notification that raced with the timeout counts.
                if !waiter.is_granted() {
                    q.retain(|w| !Arc::ptr_eq(w, &waiter));
                    return (mutex, Err(e));
                }
                break;
            }
        }
        (mutex, Ok(()))
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
