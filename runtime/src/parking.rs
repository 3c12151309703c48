//! The hand-off between a worker about to block in its poll and a thread
//! that queues work for it.
//!
//! A worker with nothing to run *announces* that it is about to block, then
//! looks at its queues once more, and blocks only if they are still empty.
//! A thread that queues work for that worker (its inbox, or stealable work
//! any idle worker may take) first queues, then *claims* the worker: if the
//! worker had announced, exactly one claimant wins and must write the
//! worker's waker. Both sides put a `SeqCst` fence between their write and
//! their read (Dekker's pattern), so at least one of them sees the other:
//! either the worker finds the work before blocking, or the claimant finds
//! the announcement and wakes it. A wake-up is never lost, and the waker (a
//! syscall, and a futex-priced thread wake-up on these machines) is written
//! only for a worker that is really parked.
//!
//! A model test under loom (`RUSTFLAGS="--cfg loom"`) checks the hand-off.

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, Ordering};

/// Whether one worker is parked in (or about to enter) its poll.
pub(crate) struct Parking {
    parked: AtomicBool,
}

impl Parking {
    pub(crate) fn new() -> Parking {
        Parking {
            parked: AtomicBool::new(false),
        }
    }

    /// The worker is about to block. Afterwards it must re-check every queue
    /// a claimant may have filled, and block only if all are empty.
    pub(crate) fn announce(&self) {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The worker stops parking (it woke up, or found work after
    /// announcing). Returns `true` if it withdrew its own announcement,
    /// `false` if a claimant took it first (and so wrote the waker: the next
    /// poll may return at once, which is harmless).
    pub(crate) fn withdraw(&self) -> bool {
        self.parked.swap(false, Ordering::AcqRel)
    }

    /// Called after queueing work the worker would run: `true` if the worker
    /// was parked and this caller won the right (and duty) to wake it.
    pub(crate) fn claim(&self) -> bool {
        fence(Ordering::SeqCst);
        self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::AcqRel)
    }

    /// A relaxed look, for choosing which worker to claim.
    pub(crate) fn is_parked(&self) -> bool {
        self.parked.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, loom))]
mod model {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// A worker parks while another thread queues work for it: the worker
    /// either sees the work or is woken, in every interleaving; and exactly
    /// one side clears the announcement.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let p = Arc::new(Parking::new());
            let queue = Arc::new(AtomicUsize::new(0));
            let (p2, q2) = (p.clone(), queue.clone());
            let pusher = thread::spawn(move || {
                q2.fetch_add(1, Ordering::Relaxed);
                p2.claim()
            });
            p.announce();
            let blocked = queue.load(Ordering::Relaxed) == 0;
            let withdrew_before = if blocked { false } else { p.withdraw() };
            let woke_it = pusher.join().unwrap();
            if blocked {
                // It blocks in its poll: somebody must write its waker.
                assert!(woke_it, "lost wake-up");
                assert!(!p.withdraw(), "claimed announcement left set");
            } else {
                // It found the work: at most one side cleared the flag.
                assert!(withdrew_before != woke_it);
            }
        });
    }

    /// Two claimants race for one parked worker: exactly one writes the
    /// waker.
    #[test]
    fn one_claimant_wins() {
        loom::model(|| {
            let p = Arc::new(Parking::new());
            p.announce();
            let a = {
                let p = p.clone();
                thread::spawn(move || p.claim())
            };
            let b = {
                let p = p.clone();
                thread::spawn(move || p.claim())
            };
            let n = a.join().unwrap() as usize + b.join().unwrap() as usize;
            assert_eq!(n, 1);
            assert!(!p.withdraw());
        });
    }
}
