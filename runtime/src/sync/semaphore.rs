//! [`Semaphore`]: counting semaphore with permit guards.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::waiter::{lock, Wait, Waiter};

/// A counting semaphore: at most `permits` holders at a time, for
/// bounding concurrency (connections, in-flight requests).
///
/// Fairness is strict FIFO: a waiter is served before any later caller,
/// and [`try_acquire`](Semaphore::try_acquire) fails while anybody waits.
/// Waiting is cancel-aware: [`acquire`](Semaphore::acquire) returns the
/// canceled error on `cancel()` and `TimedOut` at a `with_timeout` scope's
/// deadline, since a semaphore usually guards work that a canceled request
/// should give up.
pub struct Semaphore {
    state: std::sync::Mutex<State>,
}

struct State {
    permits: usize,
    waiters: VecDeque<Arc<Waiter>>,
}

impl State {
    /// Hands free permits to the queue's front, oldest first.
    fn grant(&mut self) {
        while self.permits > 0 {
            match self.waiters.pop_front() {
                Some(w) => {
                    self.permits -= 1;
                    w.grant();
                }
                None => break,
            }
        }
    }
}

/// One permit of a [`Semaphore`]; released on drop.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: std::sync::Mutex::new(State {
                permits,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Takes a permit, parking until one is free.
    ///
    /// # Errors
    /// `TimedOut` at the `with_timeout` scope deadline; an
    /// [`is_canceled`](crate::is_canceled) error if the coroutine is
    /// canceled while waiting. No permit is held after an error.
    pub fn acquire(&self) -> io::Result<SemaphorePermit<'_>> {
        self.acquire_wait(Wait::Interruptible(None))
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`acquire`](Semaphore::acquire), with `TimedOut` also after
    /// `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> io::Result<SemaphorePermit<'_>> {
        self.acquire_wait(Wait::Interruptible(Some(Instant::now() + timeout)))
    }

    /// Takes a permit if one is free and nobody waits ahead.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut st = lock(&self.state);
        if st.permits > 0 && st.waiters.is_empty() {
            st.permits -= 1;
            Some(SemaphorePermit { sem: self })
        } else {
            None
        }
    }

    /// Adds `n` permits (waking waiters).
    pub fn add_permits(&self, n: usize) {
        let mut st = lock(&self.state);
        st.permits += n;
        st.grant();
    }

    /// Free permits now (a snapshot).
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    fn acquire_wait(&self, wait: Wait) -> io::Result<SemaphorePermit<'_>> {
        let waiter = {
            let mut st = lock(&self.state);
            if st.permits > 0 && st.waiters.is_empty() {
                st.permits -= 1;
                return Ok(SemaphorePermit { sem: self });
            }
            let w = Waiter::new();
            st.waiters.push_back(w.clone());
            w
        };
        loop {
            if waiter.is_granted() {
                return Ok(SemaphorePermit { sem: self });
            }
            if let Err(e) = wait.park() {
                let mut st = lock(&self.state);
                if waiter.is_granted() {
                    // Granted while giving up: keep it rather than lose it.
                    return Ok(SemaphorePermit { sem: self });
                }
                st.waiters.retain(|w| !Arc::ptr_eq(w, &waiter));
                return Err(e);
            }
        }
    }
}

impl SemaphorePermit<'_> {
    /// Drops the permit without returning it: the semaphore has one fewer.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
