//! [`Barrier`]: std's barrier, parking coroutines.

use std::fmt;
use std::sync::Arc;

use super::waiter::{lock, Waiter};

/// Lets `n` parties wait for each other, like [`std::sync::Barrier`]; the
/// waiting parks coroutines. Reusable: after each release a new round
/// starts. Waits ignore cancellation (a party that left would strand the
/// others, as with std).
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

    /// Parks until `n` parties have called `wait` in this round.
    pub fn wait(&self) -> BarrierWaitResult {
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
                return BarrierWaitResult(true);
            }
            let w = Waiter::new();
            st.waiters.push(w.clone());
            w
        };
        while !waiter.is_granted() {
            crate::park();
        }
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
