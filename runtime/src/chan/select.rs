//! The selection engine behind [`select!`](crate::select) and every
//! blocking channel operation.
//!
//! A blocked operation is an entry in a channel's waiter list pointing at a
//! shared [`Token`]. A select registers one token with all its cases; the
//! first party to move the token from `WAITING` to a case index (one CAS)
//! owns it, so exactly one case completes. The claiming party moves the
//! value through the entry's slot while holding that channel's lock, sets
//! `done`, then unparks the owner. The owner never trusts a slot before
//! `done`. A waiter that gives up (timeout, cancel) CASes its token to
//! `ABORTED`; if that fails, a case already completed and the operation
//! returns its result, so no value is lost.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::waiter::Wait;
use crate::task::{current_unparker, Unparker};

const WAITING: usize = usize::MAX;
const ABORTED: usize = usize::MAX - 1;

/// The shared claim of one blocked select or channel operation.
#[doc(hidden)]
pub struct Token {
    state: AtomicUsize,
    done: AtomicBool,
    unparker: Unparker,
}

impl Token {
    fn new() -> Arc<Token> {
        Arc::new(Token {
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            unparker: current_unparker(),
        })
    }

    /// Claims the token for `case`; `false` if another case (or an abort)
    /// got there first.
    pub(crate) fn try_claim(&self, case: usize) -> bool {
        self.state
            .compare_exchange(WAITING, case, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Publishes the completed hand-off and wakes the owner.
    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Release);
        self.unparker.unpark();
    }

    fn claimed(&self) -> Option<usize> {
        let s = self.state.load(Ordering::Acquire);
        (s < ABORTED).then_some(s)
    }

    fn abort(&self) -> bool {
        self.state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Waits for the claimer to finish its (short, lock-held) hand-off.
    fn wait_done(&self) {
        while !self.done.load(Ordering::Acquire) {
            crate::park();
        }
    }
}

/// What registering a case found.
#[doc(hidden)]
pub enum Registered {
    /// An entry now waits in the channel.
    Waiting,
    /// The case was ready; it completed right away (token self-claimed).
    Done,
    /// The token was already claimed by another case: stop registering.
    Claimed,
    /// The case looked ready but the counterparty vanished; the token is
    /// spent, start over.
    Retry,
}

/// One arm of a select: a channel operation that can be tried, registered
/// and completed. Implemented by the channel's receive and send cases.
#[doc(hidden)]
pub trait SelectCase {
    /// Tries the operation without waiting; `true` if it completed.
    fn try_now(&mut self) -> bool;
    /// Under the channel lock: completes at once if ready (claiming
    /// `token` for `case` first), otherwise leaves an entry.
    fn register(&mut self, token: &Arc<Token>, case: usize) -> Registered;
    /// Removes this token's entries (and takes back an unsent value).
    fn unregister(&mut self, token: &Arc<Token>);
    /// After a counterparty claimed the token for this case and finished
    /// (it has removed this case's entry; `unregister` is not called).
    fn complete(&mut self);
}

/// The outcome of a select.
#[doc(hidden)]
#[derive(Debug)]
pub enum Fired {
    /// The case with this index completed.
    Case(usize),
    /// Nothing was ready and the select has a `default` arm.
    Default,
    /// The select's own timeout passed.
    Timeout,
    /// Canceled, or the `with_timeout` scope's deadline passed.
    Interrupted(io::Error),
}

/// A cheap, well-mixed random number for the fair start index.
fn random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
    let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs a select over `cases`: tries them from a random start, then (unless
/// `nonblocking`) registers with all of them and parks as `wait` says.
pub(crate) fn select_wait(
    cases: &mut [&mut dyn SelectCase],
    nonblocking: bool,
    wait: Wait,
) -> Fired {
    let n = cases.len();
    loop {
        let start = if n == 0 {
            0
        } else {
            (random() % n as u64) as usize
        };
        for i in 0..n {
            let k = (start + i) % n;
            if cases[k].try_now() {
                return Fired::Case(k);
            }
        }
        if nonblocking {
            return Fired::Default;
        }
        let token = Token::new();
        let mut registered = Vec::with_capacity(n);
        let mut outcome = Registered::Waiting;
        let mut ready = 0;
        for i in 0..n {
            let k = (start + i) % n;
            match cases[k].register(&token, k) {
                Registered::Waiting => registered.push(k),
                other => {
                    outcome = other;
                    ready = k;
                    break;
                }
            }
        }
        let unregister = |cases: &mut [&mut dyn SelectCase]| {
            for &k in &registered {
                cases[k].unregister(&token);
            }
        };
        match outcome {
            Registered::Retry => {
                unregister(cases);
                continue;
            }
            Registered::Done => {
                unregister(cases);
                return Fired::Case(ready);
            }
            // Claimed: the park loop below finds the claim at once.
            Registered::Claimed | Registered::Waiting => {}
        }
        // Parked until claimed, or until we give up and abort the token.
        let fired = loop {
            if let Some(k) = token.claimed() {
                token.wait_done();
                break Ok(k);
            }
            if let Err(e) = wait.park() {
                if token.abort() {
                    break Err(e);
                }
            }
        };
        return match fired {
            Ok(k) => {
                // The claimer already removed case `k`'s entry.
                for &j in registered.iter().filter(|&&j| j != k) {
                    cases[j].unregister(&token);
                }
                cases[k].complete();
                Fired::Case(k)
            }
            Err(e) => {
                unregister(cases);
                Fired::Interrupted(e)
            }
        };
    }
}

/// Entry point of [`select!`](crate::select).
#[doc(hidden)]
pub fn select(
    cases: &mut [&mut dyn SelectCase],
    nonblocking: bool,
    timeout: Option<Duration>,
    interruptible: bool,
) -> Fired {
    let deadline = timeout.map(|d| Instant::now() + d);
    let wait = match (interruptible, deadline) {
        (true, d) => Wait::Interruptible(d),
        (false, Some(d)) => Wait::Until(d),
        (false, None) => Wait::Forever,
    };
    match select_wait(cases, nonblocking, wait) {
        Fired::Interrupted(e)
            if e.kind() == io::ErrorKind::TimedOut
                && deadline.is_some_and(|d| Instant::now() >= d) =>
        {
            Fired::Timeout
        }
        Fired::Interrupted(e) if !interruptible => {
            debug_assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            Fired::Timeout
        }
        other => other,
    }
}
