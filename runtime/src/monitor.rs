//! The long-run monitor: notices a coroutine that holds its worker without
//! blocking, says so, and gets the work queued behind it moving.
//!
//! fibra has no preemption, and a started coroutine never leaves its worker
//! (thread affinity), so a coroutine that computes for 100 ms without a
//! blocking call holds its worker, and every coroutine living there, for
//! 100 ms. Go preempts such a goroutine; fibra cannot, but it can make the
//! problem visible and keep the rest of the runtime going.
//!
//! Each worker counts its resumes in [`RunClock`]: odd while a coroutine
//! runs, even between runs; two plain stores per resume, no clock read. One
//! monitor thread per runtime samples the counts every half threshold. A
//! count that is odd and has not moved for a whole threshold means one
//! coroutine has held the worker that long: the monitor logs a `tracing`
//! warning naming the coroutine's id and the worker, counts it
//! (`Runtime::long_runs`), and wakes a parked worker if coroutines that have
//! not started yet are queued where they could be stolen (the held worker's
//! deque or the injector). When the coroutine finally gives the worker back,
//! the worker logs how long it held it, with its name and what it said it
//! was doing ([`crate::coroutine::set_label`]; the HTTP router labels each
//! request with its method and route).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::scheduler::Shared;

/// A worker's resume counter and what the monitor found.
pub(crate) struct RunClock {
    /// Odd while a coroutine runs; bumped before and after every resume.
    resumes: AtomicU64,
    /// The id of the coroutine resumed last.
    task: AtomicU64,
    /// Set by the monitor when the current run passed the threshold; the
    /// worker reports and clears it when the run ends.
    flagged: AtomicBool,
    /// When the flagged run was first seen running; touched only when a
    /// run is flagged and when it is reported.
    since: Mutex<Option<Instant>>,
}

impl RunClock {
    pub(crate) fn new() -> RunClock {
        RunClock {
            resumes: AtomicU64::new(0),
            task: AtomicU64::new(0),
            flagged: AtomicBool::new(false),
            since: Mutex::new(None),
        }
    }

    /// The worker is about to resume coroutine `id`. Only the worker writes
    /// `resumes`, so a load and a store do (no locked instruction).
    #[inline]
    pub(crate) fn start(&self, id: u64) {
        self.task.store(id, Ordering::Relaxed);
        let n = self.resumes.load(Ordering::Relaxed);
        self.resumes.store(n.wrapping_add(1), Ordering::Release);
    }

    /// The coroutine gave the worker back. Returns whether the monitor
    /// flagged this run (the caller then reports it).
    #[inline]
    pub(crate) fn stop(&self) -> bool {
        let n = self.resumes.load(Ordering::Relaxed);
        self.resumes.store(n.wrapping_add(1), Ordering::Release);
        self.flagged.load(Ordering::Relaxed) && self.flagged.swap(false, Ordering::AcqRel)
    }
}

/// Starts the monitor thread of `shared` (it ends with the runtime).
pub(crate) fn spawn(shared: &Arc<Shared>, threshold: Duration) -> std::io::Result<()> {
    let weak = Arc::downgrade(shared);
    let name = format!("{}-monitor", shared.config.thread_name);
    thread::Builder::new()
        .name(name)
        .spawn(move || run(weak, threshold))
        .map(drop)
}

fn run(weak: Weak<Shared>, threshold: Duration) {
    let interval = (threshold / 2).max(Duration::from_millis(1));
    let mut last: Vec<(u64, Instant)> = Vec::new();
    loop {
        thread::sleep(interval);
        let Some(shared) = weak.upgrade() else { return };
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let clocks = shared.run_clocks();
        last.resize(clocks.len(), (0, now));
        for (i, clock) in clocks.enumerate() {
            let n = clock.resumes.load(Ordering::Acquire);
            let (seen, at) = last[i];
            if n != seen || n % 2 == 0 {
                last[i] = (n, now);
                continue;
            }
            let held = now - at;
            if held >= threshold && !clock.flagged.load(Ordering::Relaxed) {
                *clock.since.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
                clock.flagged.store(true, Ordering::Release);
                shared.long_runs.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    coroutine = clock.task.load(Ordering::Relaxed),
                    worker = i,
                    held_ms = held.as_millis() as u64,
                    "a coroutine has held its worker without blocking; the coroutines \
                     living on that worker wait. Call fibra::yield_now() in long loops \
                     or move the work to fibra::blocking()"
                );
                shared.rebalance_from(i);
            }
        }
    }
}

/// What the worker logs when a flagged run ends.
pub(crate) fn report_end(
    worker: usize,
    id: u64,
    name: Option<&str>,
    label: Option<&str>,
    clock: &RunClock,
) {
    let since = clock.since.lock().unwrap_or_else(|e| e.into_inner()).take();
    let held_ms = since.map_or(0, |t| t.elapsed().as_millis() as u64);
    tracing::warn!(
        coroutine = id,
        name,
        doing = label,
        worker,
        held_ms,
        "a coroutine that held its worker without blocking has given it back"
    );
}
