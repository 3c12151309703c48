//! `RawLock`: the lock word and waiter queue behind [`super::Mutex`] and
//! [`super::RwLock`].
//!
//! The word holds `WRITER`, `QUEUED` (the queue is non-empty) and a reader
//! count in units of `READER`. Uncontended paths touch only the word: one
//! CAS to lock (`0 -> WRITER`, or `+READER` while neither `WRITER` nor
//! `QUEUED` is set) and one to unlock while `QUEUED` is clear. Everything
//! else happens under the queue's std mutex, which is held only for short
//! sections and never across a park.
//!
//! Hand-off: once a waiter is queued, a releasing holder does not unlock
//! for everybody; it grants the lock to the queue's front directly (a
//! writer, or every reader up to the next queued writer) by updating the
//! word on its behalf. So waiters are served FIFO and a waiter cannot be
//! starved by newcomers (`QUEUED` also stops new readers from overtaking a
//! queued writer). A waiter that gives up (timeout, cancel) removes itself
//! and re-runs the grant, so nothing behind it is stranded; if it was
//! granted before it could remove itself, it keeps the lock.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::waiter::{lock, Wait, Waiter};

const WRITER: usize = 1;
const QUEUED: usize = 2;
const READER: usize = 4;

struct Queued {
    waiter: Arc<Waiter>,
    write: bool,
}

pub(crate) struct RawLock {
    state: AtomicUsize,
    queue: std::sync::Mutex<VecDeque<Queued>>,
}

impl RawLock {
    pub(crate) const fn new() -> RawLock {
        RawLock {
            state: AtomicUsize::new(0),
            queue: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn try_write(&self) -> bool {
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | QUEUED) != 0 || s > usize::MAX - 2 * READER {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Locks for writing (`write`) or reading, waiting as `wait` says.
    ///
    /// # Errors
    /// Whatever `wait` returns once it gives up (TimedOut, Canceled).
    pub(crate) fn lock(&self, write: bool, wait: Wait) -> io::Result<()> {
        if if write {
            self.try_write()
        } else {
            self.try_read()
        } {
            return Ok(());
        }
        // Brief spin: the holder is often about to release.
        for _ in 0..16 {
            std::hint::spin_loop();
            if if write {
                self.try_write()
            } else {
                self.try_read()
            } {
                return Ok(());
            }
        }
        let waiter = Waiter::new();
        {
            let mut q = lock(&self.queue);
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                let free = if write {
                    s & !QUEUED == 0
                } else {
                    s & WRITER == 0
                };
                // Take the lock only when nobody is queued ahead of us.
                let (next, acquire) = if free && q.is_empty() {
                    (if write { s | WRITER } else { s + READER }, true)
                } else {
                    (s | QUEUED, false)
                };
                match self
                    .state
                    .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) if acquire => return Ok(()),
                    Ok(_) => break,
                    Err(actual) => s = actual,
                }
            }
            q.push_back(Queued {
                waiter: waiter.clone(),
                write,
            });
            // The lock may have been released between our failed try and
            // setting QUEUED; grant_locked hands it to the front if so.
            self.grant_locked(&mut q);
        }
        loop {
            if waiter.is_granted() {
                return Ok(());
            }
            if let Err(e) = wait.park() {
                let mut q = lock(&self.queue);
                if waiter.is_granted() {
                    return Ok(());
                }
                q.retain(|w| !Arc::ptr_eq(&w.waiter, &waiter));
                self.grant_locked(&mut q);
                return Err(e);
            }
        }
    }

    pub(crate) fn unlock_write(&self) {
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        let mut q = lock(&self.queue);
        self.state.fetch_and(!WRITER, Ordering::Release);
        self.grant_locked(&mut q);
    }

    pub(crate) fn unlock_read(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // The last reader out with a queue behind it must hand off.
            if s & QUEUED != 0 && s < 2 * READER {
                break;
            }
            match self.state.compare_exchange_weak(
                s,
                s - READER,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        let mut q = lock(&self.queue);
        self.state.fetch_sub(READER, Ordering::Release);
        self.grant_locked(&mut q);
    }

    /// Grants the lock to the queue's front while it is compatible with
    /// the current holders, then keeps `QUEUED` in step with the queue.
    fn grant_locked(&self, q: &mut VecDeque<Queued>) {
        while let Some(front) = q.front() {
            let mut s = self.state.load(Ordering::Relaxed);
            let granted = loop {
                let next = if front.write {
                    if s & !QUEUED != 0 {
                        break false;
                    }
                    s | WRITER
                } else {
                    if s & WRITER != 0 {
                        break false;
                    }
                    s + READER
                };
                match self
                    .state
                    .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break true,
                    Err(actual) => s = actual,
                }
            };
            if !granted {
                break;
            }
            let front = q.pop_front().expect("front exists");
            front.waiter.grant();
            if front.write {
                break;
            }
        }
        if q.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Release);
        }
    }
}
