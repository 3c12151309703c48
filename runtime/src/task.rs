//! Coroutine records, the current-coroutine accessors, and parking.
//!
//! Thread-locals here are read only through `#[inline(never)]` functions: a
//! coroutine opted in with `Builder::migratable` may suspend on one worker
//! and resume on another, and LLVM is free to cache a thread-local's address
//! across what it sees as a plain call.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::scheduler::{self, Shared};
use crate::sys::coroutine::{self as coro, Suspend};

/// Values of `coroutine_local!` keys, by key address.
pub(crate) type LocalMap = HashMap<usize, Box<dyn Any + Send>>;

/// One coroutine as the scheduler sees it.
pub(crate) struct Task {
    pub(crate) id: u64,
    pub(crate) name: Option<Arc<str>>,
    /// The coroutine and its park state.
    pub(crate) slot: coro::Slot,
    pub(crate) rt: Arc<Shared>,
    /// The worker the coroutine lives on, [`NO_HOME`] until its first run
    /// (set at spawn for a pinned one). Written once, by the worker that
    /// first resumes it, before that resume; every later wake-up reads it
    /// after the park state's acquire, so it never reads a stale `NO_HOME`
    /// for a started coroutine. A migratable coroutine never gets one.
    home: AtomicUsize,
    /// Spawned pinned: never stolen, even before it starts.
    pub(crate) pinned: bool,
    /// Opted in (unsafely) to resume on any worker; see
    /// `coroutine::Builder::migratable`.
    pub(crate) migratable: bool,
    pub(crate) canceled: AtomicBool,
    /// Deadline of the innermost `with_timeout` scope, as [`to_nanos`].
    pub(crate) scope_deadline: AtomicU64,
    pub(crate) shield_depth: AtomicU32,
    pub(crate) stack_size: usize,
    pub(crate) locals: Mutex<LocalMap>,
    /// What the coroutine is doing now, for the long-run monitor's report
    /// (the HTTP router sets the matched route); see [`set_label`].
    pub(crate) label: Mutex<Option<Arc<str>>>,
}

pub(crate) type TaskRef = Arc<Task>;

/// [`Task::home`] of a coroutine that has not started (or may migrate).
pub(crate) const NO_HOME: usize = usize::MAX;

impl Task {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        name: Option<Arc<str>>,
        slot: coro::Slot,
        rt: Arc<Shared>,
        home: usize,
        pinned: bool,
        migratable: bool,
        stack_size: usize,
    ) -> Task {
        Task {
            id,
            name,
            slot,
            rt,
            home: AtomicUsize::new(home),
            pinned,
            migratable,
            canceled: AtomicBool::new(false),
            scope_deadline: AtomicU64::new(NO_DEADLINE),
            shield_depth: AtomicU32::new(0),
            stack_size,
            locals: Mutex::new(LocalMap::default()),
            label: Mutex::new(None),
        }
    }

    /// The worker this coroutine lives on, or [`NO_HOME`].
    pub(crate) fn home(&self) -> usize {
        self.home.load(Ordering::Relaxed)
    }

    /// Called by the worker that first resumes the coroutine.
    pub(crate) fn set_home(&self, worker: usize) {
        debug_assert_eq!(self.home(), NO_HOME, "a coroutine's home is set once");
        self.home.store(worker, Ordering::Relaxed);
    }
}

thread_local! {
    static THREAD_DEADLINE: std::cell::Cell<u64> = const { std::cell::Cell::new(NO_DEADLINE) };
}

/// Runs `f` on the coroutine running on this thread, without cloning it.
pub(crate) fn with_current_task<R>(f: impl FnOnce(&Task) -> R) -> Option<R> {
    crate::sys::current::with(f)
}

/// The coroutine running on this thread, if any.
pub(crate) fn current_task() -> Option<TaskRef> {
    crate::sys::current::task()
}

/// Wakes a parked coroutine or OS thread.
///
/// Cloneable and `Send + Sync`. An unpark that arrives before the target
/// parks makes that park return at once, so no wake-up is lost. Parks may
/// also return spuriously: callers always re-check their condition.
#[derive(Clone)]
pub struct Unparker(UnparkTarget);

#[derive(Clone)]
enum UnparkTarget {
    Task(TaskRef),
    Thread(std::thread::Thread),
}

impl Unparker {
    /// Makes the target runnable (or its next park return at once).
    pub fn unpark(&self) {
        match &self.0 {
            UnparkTarget::Task(t) => {
                if t.slot.unpark() {
                    scheduler::schedule(t.clone());
                }
            }
            UnparkTarget::Thread(th) => th.unpark(),
        }
    }

    /// Whether both wake the same coroutine or thread.
    pub fn will_unpark(&self, other: &Unparker) -> bool {
        match (&self.0, &other.0) {
            (UnparkTarget::Task(a), UnparkTarget::Task(b)) => Arc::ptr_eq(a, b),
            (UnparkTarget::Thread(a), UnparkTarget::Thread(b)) => a.id() == b.id(),
            _ => false,
        }
    }

    pub(crate) fn for_task(t: TaskRef) -> Unparker {
        Unparker(UnparkTarget::Task(t))
    }

    pub(crate) fn task(&self) -> Option<&TaskRef> {
        match &self.0 {
            UnparkTarget::Task(t) => Some(t),
            UnparkTarget::Thread(_) => None,
        }
    }
}

impl std::fmt::Debug for Unparker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            UnparkTarget::Task(t) => write!(f, "Unparker(coroutine {})", t.id),
            UnparkTarget::Thread(t) => write!(f, "Unparker(thread {:?})", t.id()),
        }
    }
}

/// An [`Unparker`] for the calling coroutine, or for the calling OS thread
/// when called outside a coroutine.
pub fn current_unparker() -> Unparker {
    match current_task() {
        Some(t) => Unparker(UnparkTarget::Task(t)),
        None => Unparker(UnparkTarget::Thread(std::thread::current())),
    }
}

/// Blocks the calling coroutine (or OS thread) until it is unparked.
///
/// May return spuriously; wrap it in a loop that re-checks the condition.
/// Ignores cancellation and deadlines; see [`park_deadline`] for a wait that
/// honours them.
pub fn park() {
    // Borrow the current task instead of cloning its Arc: this is the hot
    // path of every hand-off.
    match with_current_task(|t| t.slot.try_consume()) {
        Some(true) => {}
        Some(false) => suspend_traced(Suspend::Park),
        None => std::thread::park(),
    }
}

fn park_task(t: &Task) {
    if t.slot.try_consume() {
        return;
    }
    suspend_traced(Suspend::Park);
}

/// Suspends the running coroutine, carrying its entered tracing spans along.
fn suspend_traced(why: Suspend) {
    let spans = crate::trace::exit_all();
    coro::suspend(why);
    crate::trace::reenter(spans);
}

/// Lets other coroutines run, then continues; on an OS thread, yields the
/// thread.
pub fn yield_now() {
    if with_current_task(|_| ()).is_some() {
        suspend_traced(Suspend::Yield);
    } else {
        std::thread::yield_now();
    }
}

/// The one blocking wait everything else is built on.
///
/// Parks until unparked (possibly spuriously: `Ok(())`), until `deadline` or
/// the innermost [`with_timeout`] scope's deadline passes (`TimedOut`), or
/// until the coroutine is canceled (an `Other` error wrapping [`Canceled`]).
///
/// # Errors
/// `TimedOut` after the deadline; an [`is_canceled`] error after `cancel()`.
pub fn park_deadline(deadline: Option<Instant>) -> io::Result<()> {
    let deadline = effective_deadline(deadline);
    check_interrupts(deadline)?;
    match current_task() {
        Some(t) => {
            let timer = deadline.map(|d| crate::time::Timer::new(d, Unparker::for_task(t.clone())));
            park_task(&t);
            // A timer still armed means the deadline has not been reached
            // (timers never fire early): skip the clock read. A late-firing
            // timer only makes this an early `Ok`, which callers treat as a
            // spurious wake-up and the next call turns into `TimedOut`.
            let still_armed = timer.is_some_and(crate::time::Timer::cancel);
            if still_armed || deadline.is_none() {
                return check_interrupts(None);
            }
        }
        None => match deadline {
            Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        },
    }
    check_interrupts(deadline)
}

/// `Err` if the caller is canceled (and not shielded) or past `deadline`.
///
/// # Errors
/// As [`park_deadline`].
pub fn check_interrupts(deadline: Option<Instant>) -> io::Result<()> {
    if is_current_canceled() {
        return Err(canceled_error());
    }
    if let Some(d) = deadline {
        if Instant::now() >= d {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline elapsed"));
        }
    }
    Ok(())
}

fn is_current_canceled() -> bool {
    with_current_task(|t| {
        t.canceled.load(Ordering::Acquire) && t.shield_depth.load(Ordering::Relaxed) == 0
    })
    .unwrap_or(false)
}

/// The error a blocking call returns once its coroutine is canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canceled;

impl std::fmt::Display for Canceled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("coroutine canceled")
    }
}

impl std::error::Error for Canceled {}

/// The `io::Error` of a canceled call: kind `Other`, with [`Canceled`]
/// inside.
///
/// Not `Interrupted`: std's `read_exact`, `read_to_end`, `write_all` and
/// `io::copy` retry an `Interrupted` error (it means `EINTR` there), so a
/// canceled read inside them would either spin (the cancel is sticky, the
/// next read fails the same way) or, on a reader that remembers it failed,
/// end in a short `Ok` that looks like the end of the data.
impl From<Canceled> for io::Error {
    fn from(c: Canceled) -> io::Error {
        io::Error::other(c)
    }
}

fn canceled_error() -> io::Error {
    Canceled.into()
}

/// Whether `e` is the error of a canceled blocking call.
pub fn is_canceled(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Canceled>())
}

const NO_DEADLINE: u64 = u64::MAX;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn to_nanos(d: Instant) -> u64 {
    let n = d.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(n).unwrap_or(NO_DEADLINE - 1)
}

fn from_nanos(n: u64) -> Option<Instant> {
    (n != NO_DEADLINE).then(|| epoch() + Duration::from_nanos(n))
}

/// The deadline of the innermost [`with_timeout`] scope, if any.
pub fn scope_deadline() -> Option<Instant> {
    let n = with_current_task(|t| t.scope_deadline.load(Ordering::Relaxed))
        .unwrap_or_else(|| THREAD_DEADLINE.with(|c| c.get()));
    from_nanos(n)
}

/// The earlier of `deadline` and the current scope's deadline.
pub fn effective_deadline(deadline: Option<Instant>) -> Option<Instant> {
    match (deadline, scope_deadline()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Runs `f` with a deadline `timeout` from now: every blocking call inside
/// it that returns a `Result` (socket waits, [`park_deadline`], channel
/// `send`/`recv`, pool checkout, `Semaphore::acquire`, the `*_cancelable`
/// twins such as `JoinHandle::join_cancelable`) fails with `TimedOut` once
/// the deadline passes, and [`sleep`] returns early. The calls that return
/// no `Result`, like std's and Go's (`Mutex::lock`, `JoinHandle::join`,
/// `WaitGroup::wait`, [`blocking`](crate::blocking()), …), ignore it;
/// docs/runtime.md lists each call. Scopes nest; the earliest deadline
/// wins. Go's `context.WithTimeout`, without passing a context.
pub fn with_timeout<R>(timeout: Duration, f: impl FnOnce() -> R) -> R {
    with_deadline(Instant::now() + timeout, f)
}

/// [`with_timeout`] with an absolute deadline.
pub fn with_deadline<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    let new = to_nanos(deadline);
    let task = current_task();
    let prev = match &task {
        Some(t) => t.scope_deadline.fetch_min(new, Ordering::Relaxed),
        None => THREAD_DEADLINE.with(|c| {
            let p = c.get();
            c.set(p.min(new));
            p
        }),
    };
    struct Restore(Option<TaskRef>, u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            match &self.0 {
                Some(t) => t.scope_deadline.store(self.1, Ordering::Relaxed),
                None => THREAD_DEADLINE.with(|c| c.set(self.1)),
            }
        }
    }
    let _restore = Restore(task, prev);
    f()
}

/// Runs `f` shielded from cancellation: blocking calls inside it do not
/// return [`Canceled`] (deadlines still apply). Use it for cleanup that must
/// finish, such as sending a protocol's goodbye message.
/// On a plain OS thread (which cannot be canceled) it just runs `f`.
pub fn shield<R>(f: impl FnOnce() -> R) -> R {
    let task = current_task();
    if let Some(t) = &task {
        t.shield_depth.fetch_add(1, Ordering::Relaxed);
    }
    struct Restore(Option<TaskRef>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(t) = &self.0 {
                t.shield_depth.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    let _restore = Restore(task);
    f()
}

/// Sleeps for `dur`: parks only the calling coroutine (or sleeps the OS
/// thread outside the runtime).
///
/// Returns early when the coroutine is canceled or the current
/// [`with_timeout`] scope's deadline passes, so a canceled handler stops at
/// once instead of finishing its nap. Returning early cannot mislead the
/// caller: a sleep promises nothing but time. [`sleep_cancelable`] is the
/// same wait and says why it ended; after a plain `sleep`,
/// [`check_interrupts`]`(None)` tells a cancel, and a loop whose only
/// blocking call is `sleep` must ask one of them, or it spins once canceled.
pub fn sleep(dur: Duration) {
    let _ = sleep_cancelable(dur);
}

/// Sleeps until `deadline`; returns early like [`sleep`].
pub fn sleep_until(deadline: Instant) {
    let _ = sleep_until_cancelable(deadline);
}

/// [`sleep`], reporting an interruption.
///
/// # Errors
/// An [`is_canceled`] error if the coroutine is canceled before `dur` has
/// passed; `TimedOut` if the current scope's deadline comes first. `Ok` once
/// `dur` has passed (also when a scope deadline passed at the same time).
pub fn sleep_cancelable(dur: Duration) -> io::Result<()> {
    sleep_inner(Instant::now().checked_add(dur))
}

/// [`sleep_until`], reporting an interruption.
///
/// # Errors
/// As [`sleep_cancelable`].
pub fn sleep_until_cancelable(deadline: Instant) -> io::Result<()> {
    sleep_inner(Some(deadline))
}

/// Sleeps until `deadline` (`None`: a duration too long to represent).
fn sleep_inner(deadline: Option<Instant>) -> io::Result<()> {
    loop {
        let r = if in_coroutine() {
            park_deadline(deadline)
        } else {
            sleep_thread(deadline)
        };
        match r {
            // A spurious wake-up, or a timer that fired a hair early.
            Ok(()) => {}
            // The sleep's own deadline is reached: that is success, even if
            // a scope deadline passed at the same time.
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut
                    && deadline.is_some_and(|d| Instant::now() >= d) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`park_deadline`] for a sleeping OS thread: `std::thread::sleep`, so
/// the thread's park token (which other waits rely on) is left alone. A
/// thread cannot be canceled; only the scope deadline can cut it short.
fn sleep_thread(deadline: Option<Instant>) -> io::Result<()> {
    let deadline = effective_deadline(deadline);
    check_interrupts(deadline)?;
    match deadline {
        Some(d) => std::thread::sleep(d.saturating_duration_since(Instant::now())),
        None => std::thread::sleep(Duration::from_secs(3600)),
    }
    check_interrupts(deadline)
}

impl Task {
    pub(crate) fn label(&self) -> Option<Arc<str>> {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Says what the current coroutine is doing now, in a word or two (the
/// HTTP router sets `"GET /users/:id"` for each request it routes). The
/// long-run monitor names it, with the coroutine's name, when the
/// coroutine holds its worker too long. A cheap call: setting the label it
/// already has (the same `Arc`) only compares pointers. Outside a
/// coroutine it does nothing.
pub fn set_label(label: &Arc<str>) {
    with_current_task(|t| {
        let mut slot = t.label.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, label)) {
            *slot = Some(label.clone());
        }
    });
}

/// Identity of a coroutine, like [`std::thread::Thread`].
#[derive(Clone)]
pub struct Coroutine {
    task: TaskRef,
}

impl Coroutine {
    pub(crate) fn new(task: TaskRef) -> Coroutine {
        Coroutine { task }
    }

    /// A process-unique id, never reused.
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// The name given at spawn, if any.
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// What the coroutine said it is doing, through [`set_label`].
    pub fn label(&self) -> Option<Arc<str>> {
        self.task.label()
    }

    /// Usable stack size in bytes.
    pub fn stack_size(&self) -> usize {
        self.task.stack_size
    }

    /// Whether it was spawned pinned: it runs on the worker it was spawned
    /// on and is never stolen, even before it starts. (Every coroutine that
    /// is not migratable stays on the worker of its first run.)
    pub fn is_pinned(&self) -> bool {
        self.task.pinned
    }

    /// An [`Unparker`] for this coroutine.
    pub fn unparker(&self) -> Unparker {
        Unparker::for_task(self.task.clone())
    }

    /// Requests cancellation: the coroutine's current or next blocking call
    /// that honours cancellation returns a [`Canceled`] error.
    pub fn cancel(&self) {
        self.task.canceled.store(true, Ordering::Release);
        self.unparker().unpark();
    }

    /// Whether [`Coroutine::cancel`] was called.
    pub fn is_canceled(&self) -> bool {
        self.task.canceled.load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.task.id)
            .field("name", &self.task.name)
            .finish()
    }
}

/// The calling coroutine, or `None` on a plain OS thread.
pub fn current() -> Option<Coroutine> {
    current_task().map(Coroutine::new)
}

/// Whether the caller runs inside a fibra coroutine.
pub fn in_coroutine() -> bool {
    coro::in_coroutine()
}
