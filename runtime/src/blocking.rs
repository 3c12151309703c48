//! The blocking pool: thread-blocking work runs on separate OS threads while
//! only the calling coroutine parks.
//!
//! One pool serves the whole process. It grows on demand up to
//! [`MAX_THREADS`] and an idle thread exits after [`KEEP_ALIVE`]. Jobs queue
//! FIFO when every thread is busy.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::task::{self, Unparker};

/// Most threads the pool runs at once.
pub const MAX_THREADS: usize = 512;
/// How long an idle pool thread waits for work before exiting.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    cv: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    cv: Condvar::new(),
};

fn submit(job: Job) {
    let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    st.queue.push_back(job);
    if st.idle > 0 {
        POOL.cv.notify_one();
        return;
    }
    if st.threads < MAX_THREADS {
        st.threads += 1;
        let spawned = thread::Builder::new()
            .name("fibra-blocking".into())
            .spawn(pool_thread);
        if spawned.is_err() {
            st.threads -= 1;
            // Queued anyway: an existing thread picks it up when it frees.
            if st.threads == 0 {
                let job = st.queue.pop_back().expect("job just pushed");
                drop(st);
                job();
            }
        }
    }
}

fn pool_thread() {
    let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job();
            st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        st.idle += 1;
        let (guard, res) = POOL
            .cv
            .wait_timeout(st, KEEP_ALIVE)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if res.timed_out() && st.queue.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}

/// Runs `f` on the blocking pool and parks the calling coroutine until it
/// returns. Use it for calls that block the thread: `getaddrinfo`, file I/O,
/// heavy CPU work. Outside a coroutine, `f` simply runs on the caller's
/// thread.
///
/// The wait is not cancelable: `f` has already started and its result
/// must be handed back.
///
/// # Panics
/// Re-raises a panic of `f` in the caller.
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if !task::in_coroutine() {
        return f();
    }
    struct Slot<R> {
        value: Mutex<Option<thread::Result<R>>>,
        done: AtomicBool,
        waiter: Unparker,
    }
    let slot = Arc::new(Slot {
        value: Mutex::new(None),
        done: AtomicBool::new(false),
        waiter: task::current_unparker(),
    });
    let s = slot.clone();
    submit(Box::new(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        *s.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        s.done.store(true, Ordering::Release);
        s.waiter.unpark();
    }));
    while !slot.done.load(Ordering::Acquire) {
        task::park();
    }
    let r = slot
        .value
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("blocking result set before done");
    match r {
        Ok(v) => v,
        Err(p) => panic::resume_unwind(p),
    }
}
