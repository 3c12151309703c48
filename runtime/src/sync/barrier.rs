//! [`Barrier`]: std's barrier, parking coroutines.

use std::fmt;
use std::io;
use std::sync::Arc;

use super::waiter::{lock, Wait, Waiter};

/// Lets `n` parties wait for each other, like [`std::sync::Barrier`]; the
/// waiting parks coroutines. Reusable: after each release a new round
/// starts.
///
/// [`wait`](Barrier::wait) ignores cancellation and `with_timeout` scopes,
/// like std's: its result says the round was passed, which a wait cut short
/// could not honestly say. [`wait_cancelable`](Barrier::wait_cancelable)
/// honours both; a party that gives up withdraws its arrival, so the round
/// still needs `n` parties and nobody is released early.
pub struct Barrier {
    n: usize,
    state: std::sync::Mutex<State>,
}

struct State {
    arrived: usize,
    waiters: Vec<Arc<Waiter>>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one party of each round: the last to arrive.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` behaves like `1`, as in std).
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: std::sync::Mutex::new(State {
                arrived: 0,
                waiters: Vec::new(),
            }),
        }
    }

    /// Parks until `n` parties have called `wait` in this round. Ignores
    /// cancellation and `with_timeout` scopes (see the type's docs).
    pub fn wait(&self) -> BarrierWaitResult {
        self.wait_inner(Wait::Forever)
            .expect("an unbounded wait cannot fail")
    }

    /// [`wait`](Barrier::wait), honouring cancellation and the
    /// `with_timeout` scope deadline.
    ///
    /// # Errors
    /// An [`is_canceled`](crate::is_canceled) error after `cancel()`;
    /// `TimedOut` at the scope deadline. The caller's arrival is withdrawn
    /// then. A release that raced with the interruption wins (`Ok`).
    pub fn wait_cancelable(&self) -> io::Result<BarrierWaitResult> {
        self.wait_inner(Wait::Interruptible(None))
    }

    fn wait_inner(&self, wait: Wait) -> io::Result<BarrierWaitResult> {
        let waiter = {
            let mut st = lock(&self.state);
            st.arrived += 1;
            if st.arrived >= self.n {
                st.arrived = 0;
                let all = std::mem::take(&mut st.waiters);
                drop(st);
                for w in all {
                    w.grant();
                }
                return Ok(BarrierWaitResult(true));
            }
            let w = Waiter::new();
            st.waiters.push(w.clone());
            w
        };
        while !waiter.is_granted() {
            if let Err(e) = wait.park() {
                let mut st = lock(&self.state);
                if waiter.is_granted() {
                    break;
                }
                // Still queued, so still counted in this round's arrivals.
                st.waiters.retain(|w| !Arc::ptr_eq(w, &waiter));
                st.arrived -= 1;
                return Err(e);
            }
        }
        Ok(BarrierWaitResult(false))
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
