//! The selection engine behind [`select!`](crate::select) and every
//! blocking channel operation.
//!
//! A blocked operation is an entry in a channel's waiter list pointing at a
//! [`Token`] and a value slot, both in the blocked operation's own frame, so
//! blocking allocates nothing. A select registers one token with all its
//! cases; the first party to move the token from `WAITING` to a case index
//! (one CAS) owns it, so exactly one case completes. The claiming party
//! moves the value through the entry's slot while holding that channel's
//! lock, sets `done`, and unparks the owner after releasing the lock. The
//! owner never trusts a slot before `done`, and never leaves its frame
//! while an entry still points into it. A waiter that gives up (timeout,
//! cancel) CASes its token to `ABORTED`; if that fails, a case already
//! completed and the operation returns its result, so no value is lost.

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::sync::waiter::Wait;
use crate::task::{current_unparker, Unparker};

const WAITING: usize = usize::MAX;
const ABORTED: usize = usize::MAX - 1;

/// The shared claim of one blocked select or channel operation.
///
/// A token lives in the blocked operation's own stack frame (no allocation
/// per blocking call); channels' waiter lists point at it. INVARIANT, the
/// protocol that keeps those pointers valid: the owner returns from its
/// blocking call only after every entry pointing at its token is gone from
/// every list (removed by the claimer of its case, dropped by a channel
/// that found it dead, or removed by the owner's own `unregister`, each
/// under that channel's lock) and, if the token was claimed, after the
/// claimer's [`Token::complete`] (the claimer's last access).
#[doc(hidden)]
pub struct Token {
    state: AtomicUsize,
    done: AtomicBool,
    /// Set by the owner before the token is shared; taken by the one
    /// claimer in [`Token::complete`].
    unparker: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `state` and `done` are atomics; `unparker` is written by the
// owner before any other thread can reach the token, and afterwards only
// by the single thread whose `try_claim` succeeded (see `complete`).
unsafe impl Sync for Token {}

impl Token {
    /// A token for the calling coroutine (or thread), not yet shared.
    pub(crate) fn new() -> Token {
        Token {
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            unparker: UnsafeCell::new(Some(current_unparker())),
        }
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

    /// Publishes the completed hand-off and returns the owner's unparker,
    /// to be woken by the caller (preferably after it released its locks).
    /// After this call the token may be gone: the caller must not touch it
    /// again.
    ///
    /// # Safety
    /// The caller's [`try_claim`](Token::try_claim) on this token succeeded,
    /// and this is its only call of `complete`.
    pub(crate) unsafe fn complete(&self) -> Option<Unparker> {
        // SAFETY: by the contract, the caller is the token's one claimer,
        // the only thread that touches `unparker` once the token is shared.
        let unparker = unsafe { (*self.unparker.get()).take() };
        self.done.store(true, Ordering::Release);
        unparker
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

    /// Ends the wait for good, on the owner's way out: aborts the token if
    /// nobody claimed it, or waits (spinning: the claimer is inside a short
    /// lock-held section) until the claimer has completed. Returns `true`
    /// when the token ended up aborted, so the owner must remove its
    /// entries itself.
    pub(crate) fn settle(&self) -> bool {
        // A plain load first: after a completed wait (the common case) the
        // token is claimed, and no locked instruction is needed.
        match self.state.load(Ordering::Acquire) {
            WAITING if self.abort() || self.state.load(Ordering::Acquire) == ABORTED => {
                return true;
            }
            ABORTED => return true,
            _ => {}
        }
        while !self.done.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        false
    }

    /// Parks until a case claims the token and completes (`Ok(case)`), or
    /// until `wait` gives up and the token is aborted (`Err`). After an
    /// `Err`, no claimer can ever claim the token; the caller must still
    /// remove its entries.
    pub(crate) fn wait(&self, wait: Wait) -> io::Result<usize> {
        loop {
            if let Some(k) = self.claimed() {
                self.wait_done();
                return Ok(k);
            }
            if let Err(e) = wait.park() {
                if self.abort() {
                    return Err(e);
                }
            }
        }
    }
}

/// Wakes what [`Token::complete`] returned.
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
    ///
    /// The case must not move until it is unregistered or completed: its
    /// entry points into it.
    fn register(&mut self, token: &Token, case: usize) -> Registered;
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
        let fired = token.wait(wait);
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
