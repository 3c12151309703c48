//! The waiter record every sync primitive queues, and the two parking
//! helpers they share.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::task::{current_unparker, Unparker};

/// One parked coroutine (or thread) waiting for a grant.
///
/// The granting side sets `granted` (release) and then unparks; the waiting
/// side re-checks `granted` (acquire) after every park, so a grant is never
/// missed and spurious wake-ups are harmless.
pub(crate) struct Waiter {
    granted: AtomicBool,
    unparker: Unparker,
}

impl Waiter {
    /// A waiter for the calling coroutine or thread.
    pub(crate) fn new() -> Arc<Waiter> {
        Arc::new(Waiter {
            granted: AtomicBool::new(false),
            unparker: current_unparker(),
        })
    }

    /// Whether the waiter has been granted what it waits for.
    pub(crate) fn is_granted(&self) -> bool {
        self.granted.load(Ordering::Acquire)
    }

    /// Grants and wakes. Call at most once per waiter.
    pub(crate) fn grant(&self) {
        self.granted.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

/// How a primitive's blocking wait reacts to interruptions.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Waits until granted: ignores cancellation and `with_timeout` scopes.
    Forever,
    /// Waits until granted or the explicit deadline; ignores cancellation
    /// and `with_timeout` scopes.
    Until(Instant),
    /// [`crate::park_deadline`]: honours the deadline, the scope deadline
    /// and cancellation.
    Interruptible(Option<Instant>),
}

impl Wait {
    /// Parks once. `Err` (TimedOut or Canceled) means: stop waiting.
    pub(crate) fn park(self) -> io::Result<()> {
        match self {
            Wait::Forever => {
                crate::park();
                Ok(())
            }
            Wait::Until(d) => park_until(d),
            Wait::Interruptible(d) => match crate::effective_deadline(d) {
                // No deadline at all (the common case): the same checks as
                // `park_deadline`, without its timer bookkeeping and its
                // clone of the current coroutine's handle.
                None => {
                    crate::check_interrupts(None)?;
                    crate::park();
                    crate::check_interrupts(None)
                }
                Some(d) => crate::park_deadline(Some(d)),
            },
        }
    }
}

/// Parks until unparked or `deadline`, ignoring cancellation and scopes.
fn park_until(deadline: Instant) -> io::Result<()> {
    let now = Instant::now();
    if now < deadline {
        if crate::in_coroutine() {
            let _timer = crate::time::Timer::new(deadline, current_unparker());
            crate::park();
        } else {
            std::thread::park_timeout(deadline - now);
        }
    }
    if Instant::now() >= deadline {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline elapsed"));
    }
    Ok(())
}

/// Locks a std mutex used for a short internal critical section. Those
/// sections never panic while holding it, so poisoning cannot carry
/// information; it is ignored.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
