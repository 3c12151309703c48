//! The selection engine behind [`select!`](crate::select) and every
//! blocking channel operation.
//!
//! A blocked operation is an entry in a channel's waiter list pointing at a
//! [`Token`] and a value slot ([`crate::sys::handoff`], which keeps those
//! pointers valid). A plain send or receive keeps both in its own frame,
//! so it allocates nothing to block; a blocking select keeps its token in
//! its frame and boxes each case's slot once. A select registers one token
//! with all its cases; the first party to move the token from `WAITING` to
//! a case index (one CAS) owns it, so exactly one case completes. The
//! claiming party moves the value through the entry's slot while holding
//! that channel's lock, sets `done`, and unparks the owner after releasing
//! the lock. The owner never trusts a slot before `done`, and removes its
//! entries before it leaves. A waiter that gives up (timeout, cancel) CASes
//! its token to `ABORTED`; if that fails, a case already completed and the
//! operation returns its result, so no value is lost.

use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sync::waiter::Wait;
pub use crate::sys::handoff::Token;
use crate::task::Unparker;

/// Wakes whom a completed hand-off returned.
pub(crate) fn wake(unparker: Option<Unparker>) {
    if let Some(u) = unparker {
        u.unpark();
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
    fn register(&mut self, token: Pin<&Token>, case: usize) -> Registered;
    /// Removes this token's entries (and takes back an unsent value).
    fn unregister(&mut self, token: &Token);
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
        let token = pin!(Token::new());
        let token = token.into_ref();
        let mut registered = Vec::with_capacity(n);
        let mut outcome = Registered::Waiting;
        let mut ready = 0;
        for i in 0..n {
            let k = (start + i) % n;
            match cases[k].register(token, k) {
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
                cases[k].unregister(token.get_ref());
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
        let fired = token.wait(wait);
        return match fired {
            Ok(k) => {
                // The claimer already removed case `k`'s entry.
                for &j in registered.iter().filter(|&&j| j != k) {
                    cases[j].unregister(token.get_ref());
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
