//! [`Condvar`]: std's condition variable over [`super::Mutex`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::waiter::{lock, Wait, Waiter};

/// A condition variable shaped like [`std::sync::Condvar`], used with
/// [`super::Mutex`]; waiting parks the coroutine.
///
/// Waiters are woken in FIFO order. A wait registers itself before it
/// unlocks the mutex, so a notification sent by anybody holding the mutex
/// after the wait began is never lost. As with std, wake-ups may also be
/// spurious from the caller's point of view (another waiter may have
/// consumed the state first): wait in a loop or use
/// [`wait_while`](Condvar::wait_while). Waits ignore cancellation and
/// `with_timeout` scopes, like std's; use a timeout to bound them.
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

    /// Unlocks the guard's mutex, parks until notified, relocks.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_inner(guard, Wait::Forever).0
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
        let mutex = guard.mutex();
        let waiter = Waiter::new();
        lock(&self.waiters).push_back(waiter.clone());
        drop(guard);
        let mut timed_out = false;
        while !waiter.is_granted() {
            if wait.park().is_err() {
                let mut q = lock(&self.waiters);
                // A notification that raced with the timeout counts.
                if !waiter.is_granted() {
                    q.retain(|w| !Arc::ptr_eq(w, &waiter));
                    timed_out = true;
                }
                break;
            }
        }
        (MutexGuard::relock(mutex), timed_out)
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
