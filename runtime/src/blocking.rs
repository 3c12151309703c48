//! The blocking pool: thread-blocking work runs on separate OS threads while
//! only the calling coroutine parks.
//!
//! One pool serves the whole process. It grows on demand up to
//! [`MAX_THREADS`] and an idle thread exits after [`KEEP_ALIVE`]. Jobs queue
//! FIFO when every thread is busy.

use std::collections::VecDeque;
use std::io;
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
/// The wait ignores cancellation and `with_timeout` scopes: the signature
/// promises `f`'s value, which only exists once `f` has finished. Code that
/// may be canceled (a request handler) should use [`blocking_cancelable`],
/// which returns at once when interrupted.
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
    let job = Call::start(f);
    while !job.is_done() {
        task::park();
    }
    job.take()
}

/// [`blocking`], honouring cancellation and the `with_timeout` scope.
///
/// When the caller is canceled or the scope's deadline passes, it returns
/// at once with the error; `f` cannot be stopped (it runs on an OS thread),
/// so it finishes on the pool and its value is dropped there. Outside a
/// coroutine and without a scope deadline nothing can interrupt the call,
/// and `f` runs on the caller's thread.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let text = fibra_runtime::blocking_cancelable(|| std::fs::read_to_string("/etc/hostname"))??;
/// # let _ = text; Ok(())
/// # }
/// ```
///
/// # Errors
/// An [`is_canceled`](crate::is_canceled) error after `cancel()`;
/// `TimedOut` at the scope deadline. `f`'s own errors arrive inside `Ok`.
///
/// # Panics
/// Re-raises a panic of `f` in the caller (if it is still waiting).
pub fn blocking_cancelable<F, R>(f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if !task::in_coroutine() && task::scope_deadline().is_none() {
        return Ok(f());
    }
    task::check_interrupts(task::effective_deadline(None))?;
    let job = Call::start(f);
    while !job.is_done() {
        if let Err(e) = task::park_deadline(None) {
            // Done meanwhile: the value is here, take it after all.
            if job.give_up() {
                break;
            }
            return Err(e);
        }
    }
    Ok(job.take())
}

/// One call's hand-off between the pool thread and the caller.
struct Call<R> {
    value: Mutex<Option<thread::Result<R>>>,
    done: AtomicBool,
    /// Whom to wake; `None` once the caller has stopped waiting.
    waiter: Mutex<Option<Unparker>>,
}

impl<R: Send + 'static> Call<R> {
    /// Submits `f` to the pool, to wake the calling coroutine or thread.
    fn start<F>(f: F) -> Arc<Call<R>>
    where
        F: FnOnce() -> R + Send + 'static,
    {
        let job = Arc::new(Call {
            value: Mutex::new(None),
            done: AtomicBool::new(false),
            waiter: Mutex::new(Some(task::current_unparker())),
        });
        let j = job.clone();
        submit(Box::new(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            // A caller that gave up has dropped its `Arc`: the value is
            // dropped here, on the pool thread, with the last reference.
            *j.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            j.done.store(true, Ordering::Release);
            let waiter = j.waiter.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = waiter {
                w.unpark();
            }
        }));
        job
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Stops waiting, so the pool thread wakes nobody; `true` if the job
    /// finished meanwhile.
    fn give_up(&self) -> bool {
        self.waiter.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.is_done()
    }

    /// The value of a finished job; re-raises its panic.
    fn take(&self) -> R {
        let r = self
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
}
