//! The scheduler: workers with their own run queues, reactor and timers.
//!
//! **Thread affinity.** A coroutine may be stolen by another worker only
//! before its first run: its closure is `Send` and nothing of it is on a
//! stack yet. The worker that first resumes it becomes its *home* for life
//! (`Task::home`), and every later wake-up queues it there. So safe code in a
//! coroutine never observes a change of thread, and a `thread_local!` borrow,
//! an `Rc` or a std `MutexGuard` held across a blocking call is at worst a
//! logic error on one thread, never undefined behaviour. `run_task` asserts
//! the rule before every resume. The only way out is the `unsafe`
//! [`crate::coroutine::Builder::migratable`], whose caller promises that the
//! coroutine holds nothing thread-affine across a blocking call.
//!
//! **Queues.** Each worker owns a FIFO deque that holds only *unstarted* (or
//! migratable) coroutines, which idle workers may steal; a private queue of
//! its started coroutines, which nobody else touches; a LIFO slot, so a
//! message hand-off runs the receiver next on the same core (at most
//! [`LIFO_STREAK`] times in a row while other work waits); and an inbox
//! where other threads queue its coroutines when they wake them. Spawns from
//! outside any worker go to a global injector.
//!
//! **Reactor and timers, one per worker.** Each worker has its own mio
//! `Poll` and timer wheel. A socket is registered lazily with the poll of
//! the worker whose coroutine first waits on it (see [`crate::io`]), and a
//! timer goes into the wheel of the worker that arms it: both are, almost
//! always, the home of the coroutine that waits, so readiness and expiry
//! wake it on its own worker with no cross-thread traffic. A socket shared
//! by coroutines on two workers still works: its readiness is dispatched on
//! the worker it is registered with, and the other coroutine is queued to its
//! home's inbox.
//!
//! **Idle workers** spin briefly (only while another worker runs coroutines
//! that may hand them work), then block in their own poll with the next
//! timer as timeout. A thread that queues work for a parked worker writes
//! that worker's waker ([`crate::parking`] holds the hand-off); a futex-priced
//! wake-up is paid only when the target is really asleep. Stealable work
//! wakes one parked worker, and only when nobody is already searching.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::io::{Sources, WAKER_TOKEN};
use crate::monitor::{self, RunClock};
use crate::parking::Parking;
use crate::sys::coroutine::{Coroutine, Suspend};
use crate::sys::stack::{self, StackCache};
use crate::task::{Task, TaskRef, Unparker, NO_HOME};
use crate::time::{Key, Wheel};

const LIFO_STREAK: u32 = 3;
const MAINTENANCE_TICK: u32 = 61;
/// Rounds of a short pause-spin an idle worker looks for work in before it
/// blocks in its poll (about 1 µs each here).
const SPIN_ROUNDS: u32 = 8;
const STACK_CACHE: usize = 64;
/// Most coroutines moved from the inbox to the private queue at once.
const INBOX_BATCH: usize = 256;

/// Runtime settings, fixed at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    /// Threshold of the long-run monitor (`None`: no monitor).
    pub(crate) long_run: Option<Duration>,
    pub(crate) stack_size: usize,
    pub(crate) pinned: bool,
    pub(crate) thread_name: String,
}

/// The part of a worker other threads may touch.
pub(crate) struct WorkerShared {
    stealer: Stealer<TaskRef>,
    /// Coroutines homed here, woken by other threads.
    inbox: Injector<TaskRef>,
    parking: Parking,
    /// Tick at which the worker's current poll times out (u64::MAX: none).
    poll_due: AtomicU64,
    waker: mio::Waker,
    registry: mio::Registry,
    sources: Sources,
    timers: Mutex<Wheel>,
    clock: RunClock,
}

impl WorkerShared {
    /// Wakes the worker if it is parked in its poll.
    fn notify(&self) -> bool {
        if self.parking.claim() {
            let _ = self.waker.wake();
            true
        } else {
            false
        }
    }
}

/// State shared by the workers of one runtime.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Unstarted coroutines spawned from outside the runtime's workers.
    injector: Injector<TaskRef>,
    workers: Box<[WorkerShared]>,
    num_searching: AtomicUsize,
    /// Workers inside `idle` (searching or parked): `workers - num_idle`
    /// are running coroutines and may queue work.
    num_idle: AtomicUsize,
    pub(crate) shutdown: AtomicBool,
    next_home: AtomicUsize,
    pub(crate) live: AtomicUsize,
    /// Runs the long-run monitor flagged (see [`crate::monitor`]).
    pub(crate) long_runs: AtomicU64,
}

/// Per-worker state, reachable only from its own thread.
struct Local {
    index: usize,
    shared: Arc<Shared>,
    deque: Worker<TaskRef>,
    private: RefCell<VecDeque<TaskRef>>,
    lifo: Cell<Option<TaskRef>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    stacks: RefCell<StackCache>,
    fired: RefCell<Vec<Unparker>>,
    rng: Cell<u64>,
    poll: RefCell<mio::Poll>,
    events: RefCell<mio::Events>,
}

/// What a worker thread needs to start: its deque and its poll.
pub(crate) struct WorkerParts {
    deque: Worker<TaskRef>,
    poll: mio::Poll,
}

thread_local! {
    static LOCAL: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

#[inline(never)]
fn local() -> Option<Rc<Local>> {
    LOCAL.with(|l| l.borrow().clone())
}

/// The runtime of the calling worker thread, if it is one.
#[inline(never)]
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    LOCAL.with(|l| l.borrow().as_ref().map(|l| l.shared.clone()))
}

/// The index of the calling thread among `rt`'s workers, if it is one.
#[inline(never)]
pub(crate) fn current_worker(rt: &Arc<Shared>) -> Option<usize> {
    LOCAL.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|l| Arc::ptr_eq(&l.shared, rt))
            .map(|l| l.index)
    })
}

/// The calling worker's runtime, or the global runtime.
pub(crate) fn current_or_global() -> Arc<Shared> {
    current_shared().unwrap_or_else(|| crate::runtime::global().shared.clone())
}

/// Makes an unparked coroutine runnable, on its home worker if it has one.
pub(crate) fn schedule(task: TaskRef) {
    let home = task.home();
    if let Some(l) = local() {
        if Arc::ptr_eq(&l.shared, &task.rt) && (home == NO_HOME || home == l.index) {
            l.push_lifo(task);
            return;
        }
    }
    let rt = task.rt.clone();
    rt.push_remote(task, home);
}

impl Shared {
    /// Builds the shared state and each worker's deque and poll.
    pub(crate) fn new(config: Config) -> io::Result<(Arc<Shared>, Vec<WorkerParts>)> {
        let n = config.workers;
        let mut parts = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let deque = Worker::new_fifo();
            let poll = mio::Poll::new()?;
            let registry = poll.registry().try_clone()?;
            let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
            workers.push(WorkerShared {
                stealer: deque.stealer(),
                inbox: Injector::new(),
                parking: Parking::new(),
                poll_due: AtomicU64::new(u64::MAX),
                waker,
                registry,
                sources: Sources::new(),
                timers: Mutex::new(Wheel::new(Instant::now())),
                clock: RunClock::new(),
            });
            parts.push(WorkerParts { deque, poll });
        }
        let shared = Arc::new(Shared {
            config,
            injector: Injector::new(),
            workers: workers.into_boxed_slice(),
            num_searching: AtomicUsize::new(0),
            num_idle: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            next_home: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            long_runs: AtomicU64::new(0),
        });
        if let Some(threshold) = shared.config.long_run {
            monitor::spawn(&shared, threshold)?;
        }
        Ok((shared, parts))
    }

    /// Runs worker `index` on the calling thread until shutdown.
    pub(crate) fn run_worker(self: Arc<Shared>, index: usize, parts: WorkerParts) {
        crate::sys::overflow::install_on_this_thread();
        let local = Rc::new(Local {
            index,
            shared: self,
            deque: parts.deque,
            private: RefCell::new(VecDeque::new()),
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            stacks: RefCell::new(StackCache::new(STACK_CACHE)),
            fired: RefCell::new(Vec::new()),
            rng: Cell::new(0x2545_F491_4F6C_DD1D ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9)),
            poll: RefCell::new(parts.poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
        });
        LOCAL.with(|l| *l.borrow_mut() = Some(local.clone()));
        local.run();
        LOCAL.with(|l| l.borrow_mut().take());
    }

    /// A worker to give work that belongs to no worker in particular (a
    /// socket first waited on, or a timer armed, by a plain thread).
    fn any_worker(&self) -> usize {
        self.next_home.fetch_add(1, Ordering::Relaxed) % self.config.workers
    }

    /// The worker whose reactor and wheel serve the caller: the calling
    /// worker, else `hint` (a coroutine's home), else any.
    pub(crate) fn reactor_for(self: &Arc<Shared>, hint: usize) -> usize {
        match current_worker(self) {
            Some(i) => i,
            None if hint != NO_HOME => hint,
            None => self.any_worker(),
        }
    }

    /// Worker `i`'s registry and source table (see [`crate::io`]).
    pub(crate) fn reactor(&self, i: usize) -> (&mio::Registry, &Sources) {
        let w = &self.workers[i];
        (&w.registry, &w.sources)
    }

    /// Creates a coroutine and queues it.
    pub(crate) fn spawn(
        self: &Arc<Shared>,
        name: Option<Arc<str>>,
        stack_size: Option<usize>,
        pinned: bool,
        migratable: bool,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<TaskRef> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let size = stack_size.map_or(self.config.stack_size, stack::round_size);
        let here = local().filter(|l| Arc::ptr_eq(&l.shared, self));
        let stack = match &here {
            Some(l) => l.stacks.borrow_mut().get(size)?,
            None => stack::get_global(size)?,
        };
        let pinned = pinned || self.config.pinned;
        let home = if pinned {
            match &here {
                Some(l) => l.index,
                None => self.any_worker(),
            }
        } else {
            NO_HOME
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let coro = Coroutine::new(stack, id, name.clone(), body);
        let task = Arc::new(Task::new(
            id,
            name,
            crate::sys::coroutine::Slot::new(coro),
            self.clone(),
            home,
            pinned,
            migratable && !pinned,
            size,
        ));
        self.live.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(id, name = task.name.as_deref(), stack = size, "spawn");
        match here {
            Some(l) if home == NO_HOME || home == l.index => l.push_lifo(task.clone()),
            _ => self.push_remote(task.clone(), home),
        }
        Ok(task)
    }

    /// Queues a task from outside its worker (another thread or runtime).
    fn push_remote(&self, task: TaskRef, home: usize) {
        if home == NO_HOME {
            self.injector.push(task);
            self.notify_work(None);
        } else {
            let w = &self.workers[home];
            w.inbox.push(task);
            w.notify();
        }
    }

    /// Someone queued stealable work: make sure a worker will look at it.
    /// `me` is the calling worker, which needs no waking.
    fn notify_work(&self, me: Option<usize>) {
        fence(Ordering::SeqCst);
        if self.num_searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        let n = self.workers.len();
        let start = me.map_or(0, |i| i + 1);
        for k in 0..n {
            let i = (start + k) % n;
            if Some(i) != me && self.workers[i].parking.is_parked() && self.workers[i].notify() {
                return;
            }
        }
    }

    /// Every worker's resume counter, for the monitor.
    pub(crate) fn run_clocks(&self) -> impl ExactSizeIterator<Item = &RunClock> {
        self.workers.iter().map(|w| &w.clock)
    }

    /// Worker `held` is held by one coroutine: if coroutines that have not
    /// started are waiting where another worker may take them, wake one.
    pub(crate) fn rebalance_from(&self, held: usize) {
        if !self.workers[held].stealer.is_empty() || !self.injector.is_empty() {
            self.notify_work(Some(held));
        }
    }

    /// Wakes every worker (shutdown).
    pub(crate) fn wake_all(&self) {
        for w in self.workers.iter() {
            let _ = w.waker.wake();
        }
    }

    /// Arms a timer in the wheel of the worker that serves the caller.
    pub(crate) fn add_timer(
        self: &Arc<Shared>,
        deadline: Instant,
        unparker: Unparker,
    ) -> Option<(usize, Key)> {
        let here = current_worker(self);
        // On a worker: its own wheel, with no home lookup on this hot path.
        let wi = here.unwrap_or_else(|| {
            let home = unparker
                .task()
                .filter(|t| Arc::ptr_eq(&t.rt, self))
                .map_or(NO_HOME, |t| t.home());
            self.reactor_for(home)
        });
        let w = &self.workers[wi];
        let (res, tick) = {
            let mut wheel = w.timers.lock().unwrap_or_else(|e| e.into_inner());
            let tick = wheel.tick_ceil(deadline);
            (wheel.insert(tick, unparker), tick)
        };
        match res {
            Ok(key) => {
                // The calling worker is running, not polling: it computes its
                // timeout afresh before it next blocks. Another worker may be
                // blocked with a later timeout: wake it to re-arm.
                if here != Some(wi) {
                    fence(Ordering::SeqCst);
                    if w.parking.is_parked() && tick < w.poll_due.load(Ordering::SeqCst) {
                        let _ = w.waker.wake();
                    }
                }
                Some((wi, key))
            }
            Err(unparker) => {
                unparker.unpark();
                None
            }
        }
    }

    pub(crate) fn cancel_timer(&self, worker: usize, key: Key) -> bool {
        self.workers[worker]
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel(key)
    }

    fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty()
            || (!self.config.pinned && self.workers.iter().any(|w| !w.stealer.is_empty()))
    }

    /// Drops every queued coroutine and timer (runtime shutdown), breaking
    /// the task → runtime reference cycle.
    pub(crate) fn drain(&self) {
        while !matches!(self.injector.steal(), Steal::Empty) {}
        for w in self.workers.iter() {
            while !matches!(w.inbox.steal(), Steal::Empty) {}
            while !matches!(w.stealer.steal(), Steal::Empty) {}
            w.timers.lock().unwrap_or_else(|e| e.into_inner()).clear();
            w.sources.close_all();
        }
    }
}

impl Local {
    fn run(&self) {
        while !self.shared.shutdown.load(Ordering::Acquire) {
            match self.next_task() {
                Some(t) => self.run_task(t),
                None => {
                    self.shared.num_idle.fetch_add(1, Ordering::SeqCst);
                    let found = self.idle();
                    self.shared.num_idle.fetch_sub(1, Ordering::SeqCst);
                    if let Some(t) = found {
                        self.run_task(t);
                    }
                }
            }
        }
        // Leave nothing behind in the local queues.
        self.lifo.take();
        self.private.borrow_mut().clear();
        while self.deque.pop().is_some() {}
    }

    fn me(&self) -> &WorkerShared {
        &self.shared.workers[self.index]
    }

    fn push_lifo(&self, task: TaskRef) {
        if let Some(prev) = self.lifo.replace(Some(task)) {
            self.push_back(prev);
        }
    }

    /// Appends to the back of this worker's queues: the private queue for a
    /// coroutine that lives here, the stealable deque otherwise.
    fn push_back(&self, task: TaskRef) {
        if task.home() == NO_HOME {
            self.deque.push(task);
            self.shared.notify_work(Some(self.index));
        } else {
            self.private.borrow_mut().push_back(task);
        }
    }

    fn next_task(&self) -> Option<TaskRef> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % MAINTENANCE_TICK == 0 {
            self.maintenance();
            if let Some(t) = self.pop_global() {
                return Some(t);
            }
        }
        if let Some(t) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(t);
            }
            if self.nothing_else_queued() {
                // Nobody to be fair to: keep the hand-off on this core.
                self.lifo_streak.set(1);
                return Some(t);
            }
            // Fairness: the LIFO task goes behind what is queued. This
            // worker pops next, so no other worker needs waking for it.
            if t.home() == NO_HOME {
                self.deque.push(t);
            } else {
                self.private.borrow_mut().push_back(t);
            }
        }
        self.lifo_streak.set(0);
        // Started coroutines (private) and unstarted ones (the deque) take
        // turns: with either queue first every time, a steady stream of
        // wake-ups on one side would starve the other (10,000 spawned
        // clients of which the first 6,000 kept waking never let the rest
        // start).
        let unstarted_first = tick & 1 == 0;
        if unstarted_first {
            if let Some(t) = self.deque.pop() {
                return Some(t);
            }
        }
        if let Some(t) = self.private.borrow_mut().pop_front() {
            return Some(t);
        }
        if !unstarted_first {
            if let Some(t) = self.deque.pop() {
                return Some(t);
            }
        }
        self.pop_global()
    }

    /// This worker's inbox, then the global injector.
    fn pop_global(&self) -> Option<TaskRef> {
        let sh = &self.shared;
        let inbox = &self.me().inbox;
        if !inbox.is_empty() {
            if let Some(t) = steal_one(|| inbox.steal()) {
                // Take the rest of what is there too (it all lives here), so
                // that coroutines woken by other threads are not served one
                // per maintenance tick while local work keeps coming.
                let mut private = self.private.borrow_mut();
                for _ in 0..INBOX_BATCH {
                    match steal_one(|| inbox.steal()) {
                        Some(more) => private.push_back(more),
                        None => break,
                    }
                }
                return Some(t);
            }
        }
        if sh.injector.is_empty() {
            return None;
        }
        if sh.config.pinned {
            steal_one(|| sh.injector.steal())
        } else {
            steal_one(|| sh.injector.steal_batch_and_pop(&self.deque))
        }
    }

    /// Looks everywhere except the local queues. Other workers' deques hold
    /// only coroutines that have not started, so stealing never moves a
    /// started coroutine.
    fn find_remote(&self) -> Option<TaskRef> {
        if let Some(t) = self.pop_global() {
            return Some(t);
        }
        let sh = &self.shared;
        if sh.config.pinned {
            return None;
        }
        let n = sh.workers.len();
        let start = (self.next_rand() as usize) % n;
        for k in 0..n {
            let i = (start + k) % n;
            if i == self.index {
                continue;
            }
            let stealer = &sh.workers[i].stealer;
            if let Some(t) = steal_one(|| stealer.steal_batch_and_pop(&self.deque)) {
                return Some(t);
            }
        }
        None
    }

    /// Whether a worker other than this one is running coroutines.
    fn others_running(&self) -> bool {
        self.shared.num_idle.load(Ordering::SeqCst) < self.shared.config.workers
    }

    fn nothing_else_queued(&self) -> bool {
        self.deque.is_empty()
            && self.private.borrow().is_empty()
            && self.me().inbox.is_empty()
            && self.shared.injector.is_empty()
    }

    fn has_work(&self) -> bool {
        !self.me().inbox.is_empty() || self.shared.has_stealable_work()
    }

    fn next_rand(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    fn run_task(&self, task: TaskRef) {
        let mut run = task.slot.begin();
        // Thread affinity (module docs): the first run makes this worker the
        // coroutine's home; any later run must happen here. A scheduler bug
        // that broke the rule would let safe code see a `!Send` value change
        // threads, so this is a hard check, not a debug one.
        let home = task.home();
        if home == NO_HOME {
            if !task.migratable {
                task.set_home(self.index);
            }
        } else {
            assert_eq!(
                home, self.index,
                "fibra: coroutine {} would resume on worker {} but lives on worker {}",
                task.id, self.index, home
            );
        }
        let entered = crate::sys::current::enter(&task);
        let clock = &self.me().clock;
        clock.start(task.id);
        let stack = loop {
            match run.resume() {
                Some(Suspend::Park) => match run.park() {
                    Ok(()) => break None,
                    Err(again) => run = again, // unparked meanwhile
                },
                Some(Suspend::Yield) => {
                    run.yield_now();
                    self.push_back(task.clone());
                    break None;
                }
                None => break Some(run.finish()),
            }
        };
        drop(entered);
        if clock.stop() {
            let label = task.label();
            monitor::report_end(
                self.index,
                task.id,
                task.name.as_deref(),
                label.as_deref(),
                clock,
            );
        }
        if let Some(stack) = stack {
            if let Some(stack) = stack {
                self.stacks.borrow_mut().put(stack);
            }
            self.shared.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Non-blocking poll and timer processing while coroutines keep this
    /// worker busy.
    fn maintenance(&self) {
        if self.me().sources.is_empty() {
            self.fire_timers();
        } else {
            self.turn(Some(Duration::ZERO));
        }
    }

    /// No local work: search, then block in this worker's poll.
    fn idle(&self) -> Option<TaskRef> {
        let sh = &self.shared;
        // Spinning pays only while another worker runs coroutines that may
        // hand this one work (a channel send, an unpark, a spawn). With every
        // other worker idle, work can come only from the reactor, a timer or
        // another thread, all of which write this worker's waker: spinning
        // then only takes CPU from the processes this one talks to.
        let searching = sh.num_searching.load(Ordering::SeqCst);
        if 2 * searching < sh.config.workers && self.others_running() {
            sh.num_searching.fetch_add(1, Ordering::SeqCst);
            let mut found = None;
            for round in 0..SPIN_ROUNDS {
                found = self.find_remote();
                if found.is_some() || !self.others_running() {
                    break;
                }
                // No `sched_yield` rounds: with a poll per worker, an idle
                // worker's own sockets are served only once it polls, and
                // most of its work arrives there, not through stealing. A
                // long search (32 rounds, half of them yields) made 40,000
                // sched_yield calls in 3 s of the HTTP benchmark and cost
                // 10-17% of its throughput.
                let _ = round;
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
            }
            let was_last = sh.num_searching.fetch_sub(1, Ordering::SeqCst) == 1;
            if found.is_some() {
                // The last searcher to find work hands the search on, so that
                // a burst of work spreads over the idle workers.
                if was_last && sh.has_stealable_work() {
                    sh.notify_work(Some(self.index));
                }
                return found;
            }
        }
        self.park();
        None
    }

    /// Blocks in this worker's poll until an event, its next timer, or a
    /// waker write (work queued for it, or shutdown).
    fn park(&self) {
        let sh = &self.shared;
        let me = self.me();
        me.parking.announce();
        let due = me
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_due();
        me.poll_due.store(due.unwrap_or(u64::MAX), Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_work() || sh.shutdown.load(Ordering::SeqCst) {
            me.parking.withdraw();
            me.poll_due.store(u64::MAX, Ordering::SeqCst);
            return;
        }
        let timeout = due.map(|tick| {
            let at = me
                .timers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .instant_of(tick);
            at.saturating_duration_since(Instant::now())
        });
        self.turn(timeout);
        me.parking.withdraw();
        me.poll_due.store(u64::MAX, Ordering::SeqCst);
    }

    /// One poll plus timer processing; wakes what became ready.
    fn turn(&self, timeout: Option<Duration>) {
        let mut poll = self.poll.borrow_mut();
        let mut events = self.events.borrow_mut();
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("fibra: reactor poll failed: {e}"),
        }
        drop(poll);
        if !events.is_empty() {
            self.me().sources.dispatch(&events);
        }
        drop(events);
        self.fire_timers();
    }

    /// Unparks the coroutines whose timers are due.
    fn fire_timers(&self) {
        let mut fired = self.fired.borrow_mut();
        {
            let mut w = self.me().timers.lock().unwrap_or_else(|e| e.into_inner());
            if w.len() > 0 {
                let now = w.tick_floor(Instant::now());
                w.advance(now, &mut fired);
            }
        }
        for u in fired.drain(..) {
            u.unpark();
        }
    }
}

fn steal_one(mut f: impl FnMut() -> Steal<TaskRef>) -> Option<TaskRef> {
    loop {
        match f() {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}
