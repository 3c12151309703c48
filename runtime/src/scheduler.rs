//! The work-stealing scheduler and the reactor/timer driver.
//!
//! Each worker thread owns a FIFO deque (stealable), a private queue for
//! pinned coroutines, and a LIFO slot. A coroutine woken on a worker goes to
//! that worker's LIFO slot, so a message hand-off runs the receiver next on
//! the same core; at most [`LIFO_STREAK`] LIFO runs happen in a row before the
//! queues get a turn. Every [`MAINTENANCE_TICK`] runs a worker looks at the
//! global injector first and polls the reactor without blocking, so I/O and
//! timers progress while all workers are busy.
//!
//! Idle workers search (steal) for a short while, then one of them becomes
//! the driver: it blocks in `epoll_wait` with the nearest timer as timeout.
//! The others sleep on their own condvar. A sleeping worker is woken only
//! when work is queued behind a busy worker and nobody is already searching
//! (a futex wake costs a hundred times a hand-off on these machines);
//! the driver is woken through a mio `Waker`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::io::{Sources, WAKER_TOKEN};
use crate::sys::coroutine::{Coroutine, Suspend};
use crate::sys::stack::{self, StackCache};
use crate::task::{Task, TaskRef, Unparker};
use crate::time::{Key, Wheel};

const LIFO_STREAK: u32 = 3;
const MAINTENANCE_TICK: u32 = 61;
const SPIN_ROUNDS: u32 = 32;
/// A sleeping worker checks whether the reactor is unattended this often.
const SLEEP_CHECK: Duration = Duration::from_millis(10);
const STACK_CACHE: usize = 64;

/// Runtime settings, fixed at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) pinned: bool,
    pub(crate) thread_name: String,
}

struct Sleeper {
    woken: Mutex<bool>,
    cv: Condvar,
}

struct Driver {
    poll: mio::Poll,
    events: mio::Events,
}

/// State shared by the workers of one runtime.
pub(crate) struct Shared {
    pub(crate) config: Config,
    injector: Injector<TaskRef>,
    stealers: Vec<Stealer<TaskRef>>,
    inboxes: Vec<Injector<TaskRef>>,
    sleepers: Vec<Sleeper>,
    idle: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    num_searching: AtomicUsize,
    /// Workers inside `idle` (searching, driving the reactor or asleep):
    /// `workers - num_idle` are running coroutines and may queue work.
    num_idle: AtomicUsize,
    driver: Mutex<Driver>,
    driver_polling: AtomicBool,
    /// Tick the driver's current poll wakes at (u64::MAX: none).
    driver_due: AtomicU64,
    pub(crate) registry: mio::Registry,
    waker: mio::Waker,
    pub(crate) sources: Sources,
    timers: Mutex<Wheel>,
    pub(crate) shutdown: AtomicBool,
    next_home: AtomicUsize,
    pub(crate) live: AtomicUsize,
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

/// The calling worker's runtime, or the global runtime.
pub(crate) fn current_or_global() -> Arc<Shared> {
    current_shared().unwrap_or_else(|| crate::runtime::global().shared.clone())
}

/// Makes an unparked coroutine runnable.
pub(crate) fn schedule(task: TaskRef) {
    if let Some(l) = local() {
        if Arc::ptr_eq(&l.shared, &task.rt) && task.pinned.is_none_or(|h| h == l.index) {
            l.push_lifo(task);
            return;
        }
    }
    let rt = task.rt.clone();
    rt.push_remote(task);
}

impl Shared {
    /// Builds the shared state and the workers' deques.
    pub(crate) fn new(config: Config) -> io::Result<(Arc<Shared>, Vec<Worker<TaskRef>>)> {
        let n = config.workers;
        let deques: Vec<Worker<TaskRef>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let shared = Arc::new(Shared {
            stealers: deques.iter().map(Worker::stealer).collect(),
            inboxes: (0..n).map(|_| Injector::new()).collect(),
            sleepers: (0..n)
                .map(|_| Sleeper {
                    woken: Mutex::new(false),
                    cv: Condvar::new(),
                })
                .collect(),
            config,
            injector: Injector::new(),
            idle: Mutex::new(Vec::with_capacity(n)),
            num_sleeping: AtomicUsize::new(0),
            num_searching: AtomicUsize::new(0),
            num_idle: AtomicUsize::new(0),
            driver: Mutex::new(Driver {
                poll,
                events: mio::Events::with_capacity(1024),
            }),
            driver_polling: AtomicBool::new(false),
            driver_due: AtomicU64::new(u64::MAX),
            registry,
            waker,
            sources: Sources::new(),
            timers: Mutex::new(Wheel::new(Instant::now())),
            shutdown: AtomicBool::new(false),
            next_home: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
        });
        Ok((shared, deques))
    }

    /// Runs worker `index` on the calling thread until shutdown.
    pub(crate) fn run_worker(self: Arc<Shared>, index: usize, deque: Worker<TaskRef>) {
        crate::sys::overflow::install_on_this_thread();
        let local = Rc::new(Local {
            index,
            shared: self,
            deque,
            private: RefCell::new(VecDeque::new()),
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            stacks: RefCell::new(StackCache::new(STACK_CACHE)),
            fired: RefCell::new(Vec::new()),
            rng: Cell::new(0x2545_F491_4F6C_DD1D ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9)),
        });
        LOCAL.with(|l| *l.borrow_mut() = Some(local.clone()));
        local.run();
        LOCAL.with(|l| l.borrow_mut().take());
    }

    /// Creates a coroutine and queues it.
    pub(crate) fn spawn(
        self: &Arc<Shared>,
        name: Option<Arc<str>>,
        stack_size: Option<usize>,
        pinned: bool,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<TaskRef> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let size = stack_size.map_or(self.config.stack_size, stack::round_size);
        let here = local().filter(|l| Arc::ptr_eq(&l.shared, self));
        let stack = match &here {
            Some(l) => l.stacks.borrow_mut().get(size)?,
            None => stack::get_global(size)?,
        };
        let home = (pinned || self.config.pinned).then(|| match &here {
            Some(l) => l.index,
            None => self.next_home.fetch_add(1, Ordering::Relaxed) % self.config.workers,
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let coro = Coroutine::new(stack, id, name.clone(), body);
        let task = Arc::new(Task {
            id,
            name,
            slot: crate::sys::coroutine::Slot::new(coro),
            rt: self.clone(),
            pinned: home,
            canceled: AtomicBool::new(false),
            scope_deadline: AtomicU64::new(u64::MAX),
            shield_depth: std::sync::atomic::AtomicU32::new(0),
            stack_size: size,
            locals: Mutex::new(Default::default()),
        });
        self.live.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(id, name = task.name.as_deref(), stack = size, "spawn");
        match here {
            Some(l) if home.is_none_or(|h| h == l.index) => l.push_lifo(task.clone()),
            _ => self.push_remote(task.clone()),
        }
        Ok(task)
    }

    /// Queues a task from outside its worker (another thread or runtime).
    fn push_remote(&self, task: TaskRef) {
        match task.pinned {
            Some(h) => {
                self.inboxes[h].push(task);
                self.wake_worker(h);
            }
            None => {
                self.injector.push(task);
                self.notify_work();
            }
        }
    }

    /// Someone queued stealable work: make sure a worker will look at it.
    fn notify_work(&self) {
        fence(Ordering::SeqCst);
        if self.num_searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        if self.num_sleeping.load(Ordering::SeqCst) > 0 {
            let idx = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(i) = idx {
                self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                self.sleepers[i].wake();
                return;
            }
        }
        if self.driver_polling.load(Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Wakes one specific worker (its inbox has a pinned coroutine).
    fn wake_worker(&self, h: usize) {
        fence(Ordering::SeqCst);
        let removed = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            match idle.iter().position(|&i| i == h) {
                Some(pos) => {
                    idle.swap_remove(pos);
                    true
                }
                None => false,
            }
        };
        if removed {
            self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            self.sleepers[h].wake();
        } else if self.driver_polling.load(Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Wakes everything (shutdown).
    pub(crate) fn wake_all(&self) {
        let all: Vec<usize> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for i in all {
            self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
            self.sleepers[i].wake();
        }
        let _ = self.waker.wake();
    }

    pub(crate) fn add_timer(&self, deadline: Instant, unparker: Unparker) -> Option<Key> {
        let (res, tick) = {
            let mut w = self.timers.lock().unwrap_or_else(|e| e.into_inner());
            let tick = w.tick_ceil(deadline);
            (w.insert(tick, unparker), tick)
        };
        match res {
            Ok(key) => {
                fence(Ordering::SeqCst);
                if self.driver_polling.load(Ordering::SeqCst)
                    && tick < self.driver_due.load(Ordering::SeqCst)
                {
                    let _ = self.waker.wake();
                }
                Some(key)
            }
            Err(unparker) => {
                unparker.unpark();
                None
            }
        }
    }

    pub(crate) fn cancel_timer(&self, key: Key) -> bool {
        self.timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel(key)
    }

    fn has_stealable_work(&self) -> bool {
        !self.injector.is_empty()
            || (!self.config.pinned && self.stealers.iter().any(|s| !s.is_empty()))
    }

    /// Drops every queued coroutine and timer (runtime shutdown), breaking
    /// the task → runtime reference cycle.
    pub(crate) fn drain(&self) {
        while !matches!(self.injector.steal(), Steal::Empty) {}
        for inbox in &self.inboxes {
            while !matches!(inbox.steal(), Steal::Empty) {}
        }
        for s in &self.stealers {
            while !matches!(s.steal(), Steal::Empty) {}
        }
        self.timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.sources.close_all();
    }
}

impl Sleeper {
    fn wake(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_one();
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

    fn push_lifo(&self, task: TaskRef) {
        if let Some(prev) = self.lifo.replace(Some(task)) {
            self.push_back(prev);
        }
    }

    /// Appends to the back of this worker's queues (private if pinned).
    fn push_back(&self, task: TaskRef) {
        if task.pinned.is_some() {
            self.private.borrow_mut().push_back(task);
        } else {
            self.deque.push(task);
            self.shared.notify_work();
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
            if t.pinned.is_some() {
                self.private.borrow_mut().push_back(t);
            } else {
                self.deque.push(t);
            }
        }
        self.lifo_streak.set(0);
        if let Some(t) = self.private.borrow_mut().pop_front() {
            return Some(t);
        }
        if let Some(t) = self.deque.pop() {
            return Some(t);
        }
        self.pop_global()
    }

    fn pop_global(&self) -> Option<TaskRef> {
        let sh = &self.shared;
        let inbox = &sh.inboxes[self.index];
        if !inbox.is_empty() {
            if let Some(t) = steal_one(|| inbox.steal()) {
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

    /// Looks everywhere except the local queues.
    fn find_remote(&self) -> Option<TaskRef> {
        if let Some(t) = self.pop_global() {
            return Some(t);
        }
        let sh = &self.shared;
        if sh.config.pinned {
            return None;
        }
        let n = sh.stealers.len();
        let start = (self.next_rand() as usize) % n;
        for k in 0..n {
            let i = (start + k) % n;
            if i == self.index {
                continue;
            }
            if let Some(t) = steal_one(|| sh.stealers[i].steal_batch_and_pop(&self.deque)) {
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
            && self.shared.inboxes[self.index].is_empty()
            && self.shared.injector.is_empty()
    }

    fn has_work(&self) -> bool {
        !self.shared.inboxes[self.index].is_empty() || self.shared.has_stealable_work()
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
        let entered = crate::sys::current::enter(&task);
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
        if let Some(stack) = stack {
            if let Some(stack) = stack {
                self.stacks.borrow_mut().put(stack);
            }
            self.shared.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Non-blocking reactor poll and timer processing, if nobody drives.
    fn maintenance(&self) {
        if self.shared.sources.is_empty() {
            self.fire_timers();
        } else if let Ok(mut driver) = self.shared.driver.try_lock() {
            self.turn(&mut driver, Some(Duration::ZERO));
        }
    }

    /// No local work: search, then drive the reactor or sleep.
    fn idle(&self) -> Option<TaskRef> {
        let sh = &self.shared;
        // Spinning pays only while another worker runs coroutines that may
        // hand this one work (a channel send, an unpark, a spawn). With every
        // other worker idle, work can come only from the reactor, a timer or
        // another thread, all of which wake the driver or a sleeper: spinning
        // then only takes CPU from the processes this one talks to (with
        // one PostgreSQL client, two thirds of its CPU went to this loop).
        let searching = sh.num_searching.load(Ordering::SeqCst);
        if 2 * searching < sh.config.workers && self.others_running() {
            sh.num_searching.fetch_add(1, Ordering::SeqCst);
            let mut found = None;
            for round in 0..SPIN_ROUNDS {
                found = self.find_remote();
                if found.is_some() || !self.others_running() {
                    break;
                }
                if round < SPIN_ROUNDS / 2 {
                    for _ in 0..64 {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::yield_now();
                }
            }
            let was_last = sh.num_searching.fetch_sub(1, Ordering::SeqCst) == 1;
            if found.is_some() {
                // The last searcher to find work hands the search on, so that
                // a burst of work spreads over the idle workers.
                if was_last && sh.has_stealable_work() {
                    sh.notify_work();
                }
                return found;
            }
        }
        if let Ok(mut driver) = sh.driver.try_lock() {
            self.drive(&mut driver);
            return None;
        }
        self.sleep();
        None
    }

    /// Blocks in the reactor until an event, the next timer, or a wake-up.
    fn drive(&self, driver: &mut Driver) {
        let sh = &self.shared;
        let due = sh
            .timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_due();
        sh.driver_due
            .store(due.unwrap_or(u64::MAX), Ordering::SeqCst);
        sh.driver_polling.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_work() || sh.shutdown.load(Ordering::SeqCst) {
            sh.driver_polling.store(false, Ordering::SeqCst);
            return;
        }
        let timeout = due.map(|tick| {
            let at = sh
                .timers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .instant_of(tick);
            at.saturating_duration_since(Instant::now())
        });
        self.turn(driver, timeout);
        sh.driver_polling.store(false, Ordering::SeqCst);
        sh.driver_due.store(u64::MAX, Ordering::SeqCst);
    }

    /// One reactor poll plus timer processing; wakes what became ready.
    fn turn(&self, driver: &mut Driver, timeout: Option<Duration>) {
        let sh = &self.shared;
        let Driver { poll, events } = driver;
        match poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("fibra: reactor poll failed: {e}"),
        }
        sh.sources.dispatch(events);
        self.fire_timers();
    }

    /// Unparks the coroutines whose timers are due.
    fn fire_timers(&self) {
        let sh = &self.shared;
        let mut fired = self.fired.borrow_mut();
        {
            let mut w = sh.timers.lock().unwrap_or_else(|e| e.into_inner());
            if w.len() > 0 {
                let now = w.tick_floor(Instant::now());
                w.advance(now, &mut fired);
            }
        }
        for u in fired.drain(..) {
            u.unpark();
        }
    }

    fn sleep(&self) {
        let sh = &self.shared;
        {
            let mut idle = sh.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.push(self.index);
            sh.num_sleeping.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let me = &sh.sleepers[self.index];
        if self.has_work() || sh.shutdown.load(Ordering::SeqCst) {
            let mut idle = sh.idle.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(pos) = idle.iter().position(|&i| i == self.index) {
                idle.swap_remove(pos);
                sh.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            // A waker already took us off the list; consume its wake below.
        }
        let mut woken = me.woken.lock().unwrap_or_else(|e| e.into_inner());
        while !*woken {
            let (guard, res) = me
                .cv
                .wait_timeout(woken, SLEEP_CHECK)
                .unwrap_or_else(|e| e.into_inner());
            woken = guard;
            if res.timed_out() && !*woken {
                // Nobody may be driving the reactor (the driver went off to
                // run a long coroutine): take over if it is free.
                drop(woken);
                let mut idle = sh.idle.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(pos) = idle.iter().position(|&i| i == self.index) {
                    idle.swap_remove(pos);
                    sh.num_sleeping.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                drop(idle);
                woken = me.woken.lock().unwrap_or_else(|e| e.into_inner());
            }
        }
        *woken = false;
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
