//! Runtimes, their builder, the global runtime, spawning and joining.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use crate::scheduler::{self, Config, Shared};
use crate::sys::stack;
use crate::task::{self, Coroutine, TaskRef, Unparker};

/// Default usable stack size of a coroutine: 512 KiB of address space, of
/// which only the pages actually touched become resident (a parked
/// coroutine typically touches one or two). docs/architecture.md records
/// the measurement behind the figure (flate2 compression needs 298 KiB in a
/// debug build).
pub const DEFAULT_STACK_SIZE: usize = 512 * 1024;

/// Default threshold of [`Builder::long_run_warning`]: 10 ms.
pub const DEFAULT_LONG_RUN: Duration = Duration::from_millis(10);

/// Configures and starts a [`Runtime`].
///
/// ```no_run
/// let rt = fibra_runtime::runtime::Builder::new().workers(2).build().unwrap();
/// assert_eq!(rt.block_on(|| 6 * 7), 42);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    workers: Option<usize>,
    long_run: Option<Duration>,
    stack_size: usize,
    pinned: bool,
    thread_name: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per available core, [`DEFAULT_STACK_SIZE`],
    /// work stealing on, threads named `fibra-worker-N`.
    pub fn new() -> Builder {
        Builder {
            workers: None,
            long_run: Some(DEFAULT_LONG_RUN),
            stack_size: DEFAULT_STACK_SIZE,
            pinned: false,
            thread_name: "fibra-worker".into(),
        }
    }

    /// Number of worker threads (at least 1).
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = Some(n.max(1));
        self
    }

    /// Default stack size of coroutines spawned on this runtime, in bytes
    /// (rounded up to whole pages, at least 16 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Turns work stealing off for the whole runtime: each worker runs its own
    /// scheduler and every coroutine stays on the worker it was spawned on
    /// (spawns from outside are spread round-robin). Without it, idle
    /// workers steal coroutines that have not started yet; a started
    /// coroutine stays on its worker either way.
    pub fn pinned(mut self, pinned: bool) -> Builder {
        self.pinned = pinned;
        self
    }

    /// How long a coroutine may hold its worker without blocking before the
    /// runtime's monitor reports it (a `tracing` warning naming the
    /// coroutine, counted by [`Runtime::long_runs`]) and wakes an idle worker
    /// to take the unstarted coroutines queued behind it. fibra does not
    /// preempt: a coroutine that computes for long stalls every coroutine
    /// living on its worker, so such loops should call
    /// [`crate::yield_now`] or run in [`crate::blocking`]. Default
    /// [`DEFAULT_LONG_RUN`]; `None` runs no monitor thread.
    pub fn long_run_warning(mut self, threshold: Option<Duration>) -> Builder {
        self.long_run = threshold.map(|t| t.max(Duration::from_millis(1)));
        self
    }

    /// Prefix of the worker threads' names.
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    /// If the reactor cannot be created or a thread cannot be spawned.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = self
            .workers
            .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        let config = Config {
            workers,
            long_run: self.long_run,
            stack_size: stack::round_size(self.stack_size),
            pinned: self.pinned,
            thread_name: self.thread_name,
        };
        let (shared, parts) = Shared::new(config)?;
        let mut threads = Vec::with_capacity(workers);
        for (i, part) in parts.into_iter().enumerate() {
            let sh = shared.clone();
            let t = thread::Builder::new()
                .name(format!("{}-{i}", shared.config.thread_name))
                .spawn(move || sh.run_worker(i, part));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shutdown(&shared, threads);
                    return Err(e);
                }
            }
        }
        Ok(Runtime {
            shared,
            threads: Mutex::new(threads),
        })
    }
}

/// A set of worker threads running coroutines, with its reactor and timers.
///
/// Dropping a runtime stops its workers once their current coroutine
/// parks or finishes; coroutines still parked then are not resumed again
/// (their stacks are leaked rather than unwound on a foreign thread).
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl Runtime {
    /// Spawns a coroutine on this runtime.
    ///
    /// # Panics
    /// If no stack can be mapped (see [`crate::coroutine::Builder::spawn`]
    /// for the fallible form).
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(&self.shared, SpawnOptions::default(), f).expect("fibra: cannot spawn coroutine")
    }

    /// Runs `f` as a coroutine on this runtime and blocks the calling thread
    /// (or parks the calling coroutine) until it returns its value.
    ///
    /// # Panics
    /// Re-raises a panic of `f` in the caller.
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(p) => panic::resume_unwind(p),
        }
    }

    /// Number of coroutines spawned on this runtime that have not finished.
    pub fn live_coroutines(&self) -> usize {
        self.shared.live.load(Ordering::Relaxed)
    }

    /// How many times the long-run monitor has seen a coroutine hold its
    /// worker past the threshold (see [`Builder::long_run_warning`]).
    pub fn long_runs(&self) -> u64 {
        self.shared.long_runs.load(Ordering::Relaxed)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.config.workers
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        shutdown(&self.shared, threads);
    }
}

fn shutdown(shared: &Arc<Shared>, threads: Vec<thread::JoinHandle<()>>) {
    shared.shutdown.store(true, Ordering::SeqCst);
    shared.wake_all();
    let me = thread::current().id();
    for t in threads {
        if t.thread().id() != me {
            let _ = t.join();
        }
    }
    shared.drain();
}

/// The global runtime, started with default settings on first use.
pub fn global() -> &'static Runtime {
    static GLOBAL: OnceLock<Runtime> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        Builder::new()
            .build()
            .expect("fibra: cannot start the global runtime")
    })
}

/// Runs `f` as the root coroutine of the global runtime and returns its
/// value; the calling thread blocks until then. The usual `main` of a
/// fibra program.
///
/// ```no_run
/// let answer = fibra_runtime::run(|| {
///     let h = fibra_runtime::spawn(|| 40);
///     h.join().unwrap() + 2
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics
/// Re-raises a panic of `f`.
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    global().block_on(f)
}

/// Spawns a coroutine, like [`std::thread::spawn`]: on the caller's runtime
/// when called from a coroutine, otherwise on the global runtime.
///
/// # Panics
/// If no stack can be mapped; see [`crate::coroutine::Builder::spawn`].
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    crate::coroutine::Builder::new()
        .spawn(f)
        .expect("fibra: cannot spawn coroutine")
}

/// What `coroutine::Builder` passes to [`spawn_on`].
#[derive(Debug, Default, Clone)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) pinned: bool,
    /// Set only through the `unsafe` `Builder::migratable`.
    pub(crate) migratable: bool,
}

pub(crate) fn spawn_on<F, T>(
    rt: &Arc<Shared>,
    opts: SpawnOptions,
    f: F,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let packet = Arc::new(Packet {
        result: Mutex::new(None),
        done: AtomicBool::new(false),
        waiter: Mutex::new(None),
    });
    let p = packet.clone();
    let body = move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        if r.is_err() {
            let me = task::current();
            tracing::debug!(
                id = me.as_ref().map(Coroutine::id),
                name = me.as_ref().and_then(Coroutine::name),
                "coroutine panicked"
            );
        }
        // Coroutine-local values are dropped inside the coroutine, where their
        // destructors may still block.
        // A destructor may touch another key and create a new value: repeat
        // a few rounds so those are dropped here too.
        for _ in 0..8 {
            let locals = task::with_current_task(|t| {
                std::mem::take(&mut *t.locals.lock().unwrap_or_else(|e| e.into_inner()))
            });
            match locals {
                Some(map) if !map.is_empty() => drop(map),
                _ => break,
            }
        }
        p.complete(r);
    };
    let task = rt.spawn(
        opts.name,
        opts.stack_size,
        opts.pinned,
        opts.migratable,
        body,
    )?;
    Ok(JoinHandle { packet, task })
}

struct Packet<T> {
    result: Mutex<Option<thread::Result<T>>>,
    done: AtomicBool,
    /// The one coroutine or thread in `join` (a handle joins at most once).
    waiter: Mutex<Option<Unparker>>,
}

impl<T> Packet<T> {
    fn complete(&self, r: thread::Result<T>) {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        self.done.store(true, Ordering::Release);
        let waiter = self.waiter.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = waiter {
            w.unpark();
        }
    }
}

/// An owned permission to join a coroutine, like [`std::thread::JoinHandle`].
/// Dropping it detaches the coroutine.
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    task: TaskRef,
}

impl<T> JoinHandle<T> {
    /// Waits for the coroutine to finish (parking only the caller) and
    /// returns its value, or the payload of its panic.
    ///
    /// Like std's `join`, the wait ignores cancellation and `with_timeout`
    /// scopes: `Err` means "it panicked", and a canceled coroutine often
    /// joins its children on its way out (`h.cancel(); h.join()`), which
    /// must not be cut short by its own cancellation. To stop waiting when
    /// canceled or at the scope deadline (Go's `select` on `done` and
    /// `ctx.Done()`), use [`join_cancelable`](JoinHandle::join_cancelable).
    ///
    /// # Errors
    /// `Err(payload)` if the coroutine panicked.
    pub fn join(self) -> Result<T, Box<dyn Any + Send + 'static>> {
        self.wait();
        self.take_result()
    }

    /// [`join`](JoinHandle::join), honouring the caller's cancellation and
    /// the `with_timeout` scope. The handle stays with the caller, who may
    /// then cancel the coroutine, wait again or drop the handle (detaching
    /// it).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// let mut h = fibra_runtime::spawn(|| fibra_runtime::sleep(Duration::from_secs(5)));
    /// match fibra_runtime::with_timeout(Duration::from_secs(1), || h.join_cancelable()) {
    ///     Ok(Ok(())) => println!("done"),
    ///     Ok(Err(panic)) => std::panic::resume_unwind(panic),
    ///     Err(e) => {
    ///         // Timed out (or we were canceled): stop the child too.
    ///         h.cancel();
    ///         println!("gave up: {e}");
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// The outer `Err` is an [`is_canceled`](crate::is_canceled) error
    /// after the caller's `cancel()`, or `TimedOut` at the scope deadline;
    /// the coroutine is still running then. The inner `Err` is its panic
    /// payload, as from `join`. A coroutine that already finished is joined
    /// even if the caller is canceled.
    ///
    /// # Panics
    /// If the value was already taken by an earlier successful call.
    pub fn join_cancelable(&mut self) -> io::Result<thread::Result<T>> {
        if !self.packet.done.load(Ordering::Acquire) {
            *self.packet.waiter.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(task::current_unparker());
            while !self.packet.done.load(Ordering::Acquire) {
                if let Err(e) = task::park_deadline(None) {
                    // Nobody to wake any more; finished meanwhile counts.
                    self.packet
                        .waiter
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take();
                    if !self.packet.done.load(Ordering::Acquire) {
                        return Err(e);
                    }
                }
            }
        }
        Ok(self.take_result())
    }

    fn take_result(&self) -> thread::Result<T> {
        self.packet
            .result
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("fibra: join result taken twice")
    }

    fn wait(&self) {
        if self.packet.done.load(Ordering::Acquire) {
            return;
        }
        *self.packet.waiter.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(task::current_unparker());
        // `done` is re-checked after registering, so a completion between the
        // first check and the registration is not missed.
        while !self.packet.done.load(Ordering::Acquire) {
            task::park();
        }
    }

    /// Whether the coroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.packet.done.load(Ordering::Acquire)
    }

    /// The coroutine's identity.
    pub fn coroutine(&self) -> Coroutine {
        Coroutine::new(self.task.clone())
    }

    /// Requests cancellation; see [`Coroutine::cancel`].
    pub fn cancel(&self) {
        self.coroutine().cancel();
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The current runtime's handle for spawning with options.
pub(crate) fn current_shared() -> Arc<Shared> {
    scheduler::current_or_global()
}
