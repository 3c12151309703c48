//! The park/unpark state machine of one coroutine.
//!
//! Every wake-up in fibra (I/O readiness, timers, channels, locks, join) ends
//! in [`ParkState::unpark`]. The states:
//!
//! ```text
//!             unpark (caller enqueues)
//!   IDLE ───────────────────────────────▶ SCHEDULED
//!    ▲                                        │ worker picks it
//!    │ after_park: no notification            ▼
//!    └──────────────────────────────────── RUNNING ──unpark──▶ NOTIFIED
//!                                            ▲                    │
//!                                            └── park consumes ───┘
//! ```
//!
//! A coroutine parks in two steps: it first tries to consume a pending
//! notification (`try_consume`); if there is none it suspends, and only after
//! its stack is no longer in use does the worker move RUNNING → IDLE
//! (`after_park`). If an unpark slipped in between, that CAS fails, the state
//! is NOTIFIED, and the worker resumes the coroutine at once. So an unpark is
//! never lost and a coroutine is never resumed by two threads. Every
//! transition is a read-modify-write with acquire/release ordering, so what
//! the unparker wrote before `unpark` is visible to the coroutine after it
//! wakes. A model test under loom (`RUSTFLAGS="--cfg loom"`) checks this.

#[cfg(loom)]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU8, Ordering};

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// The state of one coroutine; see the module docs.
pub(crate) struct ParkState(AtomicU8);

impl ParkState {
    /// A new coroutine, about to be pushed to a run queue.
    pub(crate) fn new_scheduled() -> ParkState {
        ParkState(AtomicU8::new(SCHEDULED))
    }

    /// Wakes the coroutine. Returns `true` when the caller must push it to a
    /// run queue (it was parked); `false` when it is already runnable,
    /// running (the next park returns at once) or finished.
    pub(crate) fn unpark(&self) -> bool {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let (next, enqueue) = match cur {
                IDLE => (SCHEDULED, true),
                RUNNING => (NOTIFIED, false),
                DONE => return false,
                // SCHEDULED or NOTIFIED: it will run and re-check anyway; the
                // same-value CAS still orders our writes before its run.
                other => (other, false),
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return enqueue,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A worker took the coroutine from a run queue. Returns `false` (and
    /// changes nothing) unless the coroutine was SCHEDULED: only the one
    /// thread that makes this transition may resume the coroutine.
    pub(crate) fn start_run(&self) -> bool {
        self.0
            .compare_exchange(SCHEDULED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Called by the coroutine before suspending to park: consumes a pending
    /// notification and returns `true` if there was one (do not suspend).
    pub(crate) fn try_consume(&self) -> bool {
        // A plain load first: the common case (no pending unpark) needs no
        // locked instruction. If an unpark lands right after it, the
        // worker's `after_park` CAS fails and resumes us at once.
        self.0.load(Ordering::Relaxed) == NOTIFIED
            && self
                .0
                .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Called by the worker once the coroutine has suspended to park.
    /// Returns `true` if it is now parked; `false` if an unpark arrived in
    /// the meantime and it must be resumed again right away.
    pub(crate) fn after_park(&self) -> bool {
        match self
            .0
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(actual) => {
                debug_assert_eq!(actual, NOTIFIED);
                self.0.store(RUNNING, Ordering::Relaxed);
                false
            }
        }
    }

    /// Called by the worker once the coroutine has yielded: it is runnable
    /// and goes back to a queue.
    pub(crate) fn after_yield(&self) {
        self.0.swap(SCHEDULED, Ordering::AcqRel);
    }

    /// The coroutine returned; later unparks are no-ops.
    pub(crate) fn finish(&self) {
        self.0.swap(DONE, Ordering::AcqRel);
    }
}

#[cfg(all(test, loom))]
mod model {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// One coroutine parks while another thread unparks it: exactly one side
    /// ends up responsible for running it, in every interleaving.
    #[test]
    fn no_lost_or_double_wakeup() {
        loom::model(|| {
            let st = Arc::new(ParkState::new_scheduled());
            let flag = Arc::new(AtomicUsize::new(0));
            assert!(st.start_run());
            let (st2, flag2) = (st.clone(), flag.clone());
            let waker = thread::spawn(move || {
                flag2.store(1, Ordering::Relaxed);
                st2.unpark()
            });
            // The coroutine side: check the condition, then park.
            let parked = if flag.load(Ordering::Relaxed) == 1 || st.try_consume() {
                false
            } else {
                st.after_park()
            };
            let enqueued = waker.join().unwrap();
            // Parked and nobody enqueued it would be a lost wake-up; enqueued
            // while it kept running would be a double resume.
            assert_eq!(parked, enqueued);
            if parked {
                assert!(st.start_run());
                assert_eq!(flag.load(Ordering::Relaxed), 1);
            }
        });
    }

    /// Two unparkers race against one park: the coroutine is enqueued at
    /// most once.
    #[test]
    fn two_unparkers_enqueue_once() {
        loom::model(|| {
            let st = Arc::new(ParkState::new_scheduled());
            assert!(st.start_run());
            let a = {
                let st = st.clone();
                thread::spawn(move || st.unpark())
            };
            let b = {
                let st = st.clone();
                thread::spawn(move || st.unpark())
            };
            let parked = !st.try_consume() && st.after_park();
            let n = a.join().unwrap() as usize + b.join().unwrap() as usize;
            assert_eq!(n, parked as usize);
        });
    }
}
