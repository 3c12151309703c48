//! A generic blocking connection pool, shared by the HTTP client and the
//! database clients.
//!
//! A [`Manage`] implementation says how to open a connection and how to
//! tell a dead one; [`Pool::get`] hands out a [`PooledConn`] guard that
//! returns the connection when dropped. Checkout parks only the calling
//! coroutine and honours deadlines and cancellation ([`crate::park_deadline`],
//! so [`crate::with_timeout`] scopes apply). Waiters are served first come,
//! first served: a returned connection, or a slot freed by a discarded one, goes
//! to the oldest waiter, never to a newcomer. Connections are opened outside
//! the pool's lock, and user hooks never run under it. The checkout timeout
//! bounds opening a connection too: `Manage::connect` runs in a
//! [`crate::with_deadline`] scope.
//!
//! ```
//! use fibra_runtime::pool::{Manage, Pool};
//! use std::io;
//!
//! struct Numbers;
//! impl Manage for Numbers {
//!     type Conn = u32;
//!     type Error = io::Error;
//!     fn connect(&self) -> io::Result<u32> {
//!         Ok(7)
//!     }
//! }
//!
//! let pool = Pool::builder().max_size(4).build(Numbers);
//! let conn = pool.get().unwrap();
//! assert_eq!(*conn, 7);
//! assert_eq!(pool.stats().in_use, 1);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::coroutine::Coroutine;
use crate::task::{self, Unparker};

/// How a [`Pool`] opens and checks its connections.
pub trait Manage: Send + Sync + 'static {
    /// The connection type.
    type Conn: Send + 'static;
    /// What a failed [`Manage::connect`] returns.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection. Runs outside the pool's lock and may block
    /// (parking the calling coroutine), inside a `with_deadline` scope set
    /// to the checkout's deadline: blocking calls that honour scopes (all
    /// of fibra's socket calls and DNS) stop there.
    ///
    /// # Errors
    /// Whatever prevented the connection; [`Pool::get`] returns it as
    /// [`PoolError::Connect`].
    fn connect(&self) -> Result<Self::Conn, Self::Error>;

    /// Health check run on an idle connection before it is handed out, when
    /// [`Builder::test_on_checkout`] is on (e.g. a `PING`). `false`
    /// discards the connection. The default says every connection is valid.
    fn is_valid(&self, conn: &mut Self::Conn) -> bool {
        let _ = conn;
        true
    }

    /// Cheap check run when a connection comes back: `true` discards it
    /// instead of keeping it idle (e.g. after an I/O error or a protocol
    /// desync). Must not block. The default says no connection breaks.
    fn has_broken(&self, conn: &mut Self::Conn) -> bool {
        let _ = conn;
        false
    }
}

/// Why [`Pool::get`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError<E> {
    /// Opening a new connection failed.
    Connect(E),
    /// The checkout deadline (or an enclosing `with_timeout` scope) passed
    /// before a connection was free.
    TimedOut,
    /// The calling coroutine was canceled while waiting.
    Canceled,
}

impl<E> PoolError<E> {
    /// Whether the checkout deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PoolError::TimedOut)
    }

    /// Whether the waiting coroutine was canceled.
    pub fn is_canceled(&self) -> bool {
        matches!(self, PoolError::Canceled)
    }

    fn from_wait(e: &io::Error) -> PoolError<E> {
        if task::is_canceled(e) {
            PoolError::Canceled
        } else {
            PoolError::TimedOut
        }
    }
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "cannot open a pooled connection: {e}"),
            PoolError::TimedOut => f.write_str("timed out waiting for a pooled connection"),
            PoolError::Canceled => f.write_str("canceled while waiting for a pooled connection"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PoolError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Connect(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<PoolError<E>> for io::Error {
    /// `TimedOut`, the runtime's canceled error (see [`crate::is_canceled`]),
    /// or `Other` wrapping the connect error.
    fn from(e: PoolError<E>) -> io::Error {
        match e {
            PoolError::Connect(e) => io::Error::other(e),
            PoolError::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for a pooled connection",
            ),
            PoolError::Canceled => task::Canceled.into(),
        }
    }
}

/// A snapshot of a pool's counters, from [`Pool::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections checked out now.
    pub in_use: usize,
    /// Connections idle in the pool now.
    pub idle: usize,
    /// Connections open or being opened now (never above `max_size`).
    pub total: usize,
    /// Coroutines waiting for a connection now.
    pub waiting: usize,
    /// Checkouts so far that had to wait.
    pub waits: u64,
    /// Checkouts so far that failed with [`PoolError::TimedOut`].
    pub timeouts: u64,
    /// Connections opened so far.
    pub created: u64,
    /// Connections closed so far: broken, failing the health check, expired,
    /// or [`PooledConn::discard`]ed.
    pub discarded: u64,
}

/// Settings of a pool.
#[derive(Debug, Clone)]
struct Config {
    max_size: usize,
    min_idle: usize,
    max_idle: usize,
    checkout_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    test_on_checkout: bool,
    reap_interval: Duration,
}

/// Configures a [`Pool`]; from [`Pool::builder`].
pub struct Builder<M> {
    config: Config,
    _manager: PhantomData<fn() -> M>,
}

impl<M> Clone for Builder<M> {
    fn clone(&self) -> Self {
        Builder {
            config: self.config.clone(),
            _manager: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl<M: Manage> Default for Builder<M> {
    fn default() -> Self {
        Builder::new()
    }
}

impl<M: Manage> Builder<M> {
    /// Defaults: at most 10 connections, none kept open when idle, a 30 s
    /// checkout timeout, no idle timeout, no lifetime limit, no health check
    /// on checkout, expired connections reaped every 30 s.
    pub fn new() -> Builder<M> {
        Builder {
            config: Config {
                max_size: 10,
                min_idle: 0,
                max_idle: usize::MAX,
                checkout_timeout: Some(Duration::from_secs(30)),
                idle_timeout: None,
                max_lifetime: None,
                test_on_checkout: false,
                reap_interval: Duration::from_secs(30),
            },
            _manager: PhantomData,
        }
    }

    /// Most connections open at once (at least 1).
    pub fn max_size(mut self, n: usize) -> Builder<M> {
        self.config.max_size = n.max(1);
        self
    }

    /// Idle connections the pool keeps open, opening new ones in the
    /// background (capped at `max_size`).
    pub fn min_idle(mut self, n: usize) -> Builder<M> {
        self.config.min_idle = n;
        self
    }

    /// Most idle connections the pool keeps: a connection that comes back
    /// while this many are idle (and nobody waits for one) is closed.
    /// Decided under the pool's lock, so concurrent check-ins cannot both
    /// slip under the limit. Default: no limit.
    pub fn max_idle(mut self, n: usize) -> Builder<M> {
        self.config.max_idle = n;
        self
    }

    /// How long [`Pool::get`] may take in all: waiting in line *and*
    /// opening a new connection. [`Manage::connect`] runs under this
    /// deadline as a `with_deadline` scope, so its DNS lookup, TCP connect
    /// and handshake stop at it, and a checkout that times out while
    /// connecting frees its slot. `None` waits forever (an enclosing
    /// `with_timeout` scope still applies). The background reaper's opens
    /// for `min_idle` are bounded by it too.
    pub fn checkout_timeout(mut self, timeout: Option<Duration>) -> Builder<M> {
        self.config.checkout_timeout = timeout;
        self
    }

    /// A connection idle for longer than this is closed, never handed out.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Builder<M> {
        self.config.idle_timeout = timeout;
        self
    }

    /// A connection open for longer than this is closed when it next comes
    /// back or is found idle.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Builder<M> {
        self.config.max_lifetime = lifetime;
        self
    }

    /// Runs [`Manage::is_valid`] on an idle connection before handing it out.
    pub fn test_on_checkout(mut self, test: bool) -> Builder<M> {
        self.config.test_on_checkout = test;
        self
    }

    /// How often the background reaper closes expired idle connections and
    /// tops the pool up to `min_idle` (at least 1 ms).
    pub fn reap_interval(mut self, interval: Duration) -> Builder<M> {
        self.config.reap_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Creates the pool. Connections are opened on demand; when `min_idle`,
    /// an idle timeout or a lifetime is set, a reaper coroutine named
    /// `fibra-pool-reaper` is spawned (on the caller's runtime, or the global
    /// one) and ends once the pool is dropped.
    pub fn build(self, manager: M) -> Pool<M> {
        let mut config = self.config;
        config.min_idle = config.min_idle.min(config.max_size);
        let needs_reaper =
            config.min_idle > 0 || config.idle_timeout.is_some() || config.max_lifetime.is_some();
        let interval = config.reap_interval;
        let shared = Arc::new(Shared {
            manager,
            config,
            state: Mutex::new(State {
                idle: VecDeque::new(),
                waiters: VecDeque::new(),
                total: 0,
                in_use: 0,
                waits: 0,
                timeouts: 0,
                created: 0,
                discarded: 0,
            }),
            reaper: Mutex::new(None),
        });
        if needs_reaper {
            let weak = Arc::downgrade(&shared);
            match crate::coroutine::Builder::new()
                .name("fibra-pool-reaper")
                .spawn(move || reap_loop(&weak, interval))
            {
                Ok(h) => *lock(&shared.reaper) = Some(h.coroutine()),
                Err(e) => tracing::warn!(error = %e, "fibra pool: cannot spawn the reaper"),
            }
        }
        Pool { shared }
    }
}

/// A pool of connections made by `M`; cheap to clone (clones share the
/// connections).
pub struct Pool<M: Manage> {
    shared: Arc<Shared<M>>,
}

impl<M: Manage> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

impl<M: Manage> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Shared<M: Manage> {
    manager: M,
    config: Config,
    state: Mutex<State<M::Conn>>,
    /// The reaper coroutine, canceled when the pool goes away.
    reaper: Mutex<Option<Coroutine>>,
}

impl<M: Manage> Drop for Shared<M> {
    fn drop(&mut self) {
        if let Some(r) = lock(&self.reaper).take() {
            r.cancel();
        }
    }
}

// INVARIANT: `total` counts idle, checked-out and being-opened connections
// and never exceeds `max_size`; `in_use` counts checked-out connections,
// including ones granted to a waiter that has not picked them up yet; a
// waiter exists only while `idle` is empty.
struct State<C> {
    /// Most recently returned at the back (handed out first).
    idle: VecDeque<Idle<C>>,
    /// Oldest at the front.
    waiters: VecDeque<Arc<Waiter<C>>>,
    total: usize,
    in_use: usize,
    waits: u64,
    timeouts: u64,
    created: u64,
    discarded: u64,
}

struct Conn<C> {
    raw: C,
    created: Instant,
}

struct Idle<C> {
    conn: Conn<C>,
    since: Instant,
}

/// What a checkout obtains: a connection, or the right to open one (a
/// slot already counted in `total`).
enum Grant<C> {
    Conn(Conn<C>),
    Slot,
}

struct Waiter<C> {
    unparker: Unparker,
    /// Set, under the pool lock, together with removal from the queue.
    grant: Mutex<Option<Grant<C>>>,
}

impl<C> Waiter<C> {
    fn take(&self) -> Option<Grant<C>> {
        lock(&self.grant).take()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<M: Manage> Shared<M> {
    fn state(&self) -> MutexGuard<'_, State<M::Conn>> {
        lock(&self.state)
    }

    fn past_lifetime(&self, conn: &Conn<M::Conn>, now: Instant) -> bool {
        self.config
            .max_lifetime
            .is_some_and(|t| now.saturating_duration_since(conn.created) >= t)
    }

    fn is_expired(&self, idle: &Idle<M::Conn>, now: Instant) -> bool {
        self.config
            .idle_timeout
            .is_some_and(|t| now.saturating_duration_since(idle.since) >= t)
            || self.past_lifetime(&idle.conn, now)
    }

    /// A slot counted in `total` is free: it goes to the oldest waiter (who
    /// will open a connection) or is given up. Returns whom to unpark once
    /// the lock is released.
    fn release_slot(st: &mut State<M::Conn>) -> Option<Unparker> {
        match st.waiters.pop_front() {
            Some(w) => {
                *lock(&w.grant) = Some(Grant::Slot);
                Some(w.unparker.clone())
            }
            None => {
                st.total -= 1;
                None
            }
        }
    }

    /// A usable connection not counted in `in_use`: to the oldest waiter, or
    /// idle.
    fn checkin(st: &mut State<M::Conn>, conn: Conn<M::Conn>, now: Instant) -> Option<Unparker> {
        match st.waiters.pop_front() {
            Some(w) => {
                st.in_use += 1;
                *lock(&w.grant) = Some(Grant::Conn(conn));
                Some(w.unparker.clone())
            }
            None => {
                st.idle.push_back(Idle { conn, since: now });
                None
            }
        }
    }

    /// A checked-out connection comes back; `keep == false` closes it.
    fn put(&self, conn: Conn<M::Conn>, keep: bool) {
        let now = Instant::now();
        let keep = keep && !self.past_lifetime(&conn, now);
        let mut st = self.state();
        st.in_use -= 1;
        let room = !st.waiters.is_empty() || st.idle.len() < self.config.max_idle;
        if keep && room {
            let wake = Self::checkin(&mut st, conn, now);
            drop(st);
            wake_up(wake);
        } else {
            st.discarded += 1;
            let wake = Self::release_slot(&mut st);
            drop(st);
            wake_up(wake);
            drop(conn); // its destructor may block: outside the lock
        }
    }

    /// Hands back what a waiter received too late (it timed out or was
    /// canceled in the meantime).
    fn give_back(&self, grant: Grant<M::Conn>) {
        match grant {
            Grant::Conn(c) => self.put(c, true),
            Grant::Slot => {
                let wake = Self::release_slot(&mut self.state());
                wake_up(wake);
            }
        }
    }

    /// Takes an idle connection or a free slot, waiting in line if neither
    /// is available.
    fn acquire(&self, deadline: Option<Instant>) -> Result<Grant<M::Conn>, PoolError<M::Error>> {
        let now = Instant::now();
        let mut expired = Vec::new();
        let mut st = self.state();
        while let Some(idle) = st.idle.pop_back() {
            if self.is_expired(&idle, now) {
                st.total -= 1;
                st.discarded += 1;
                expired.push(idle);
                continue;
            }
            st.in_use += 1;
            drop(st);
            drop(expired);
            return Ok(Grant::Conn(idle.conn));
        }
        if st.total < self.config.max_size {
            st.total += 1;
            drop(st);
            drop(expired);
            return Ok(Grant::Slot);
        }
        let me = Arc::new(Waiter {
            unparker: task::current_unparker(),
            grant: Mutex::new(None),
        });
        st.waiters.push_back(me.clone());
        st.waits += 1;
        drop(st);
        drop(expired);
        loop {
            if let Some(g) = me.take() {
                return Ok(g);
            }
            if let Err(e) = task::park_deadline(deadline) {
                let mut st = self.state();
                let late = me.take();
                if late.is_none() {
                    st.waiters.retain(|w| !Arc::ptr_eq(w, &me));
                }
                let err = PoolError::from_wait(&e);
                if err.is_timeout() {
                    st.timeouts += 1;
                }
                drop(st);
                if let Some(g) = late {
                    self.give_back(g);
                }
                return Err(err);
            }
        }
    }

    /// Opens a connection into a slot already counted in `total`, with
    /// `deadline` as the scope deadline of every blocking call inside
    /// [`Manage::connect`] (DNS, the TCP connect, a handshake), so a server
    /// that accepts and never answers cannot hold the caller, or the slot,
    /// past it. A failed connect frees the slot; one that failed because the
    /// deadline passed or the caller was canceled is reported as
    /// [`PoolError::TimedOut`]/[`PoolError::Canceled`], like a wait in line.
    fn open(&self, deadline: Option<Instant>) -> Result<Conn<M::Conn>, PoolError<M::Error>> {
        let r = match deadline {
            Some(d) => task::with_deadline(d, || self.manager.connect()),
            None => self.manager.connect(),
        };
        match r {
            Ok(raw) => Ok(Conn {
                raw,
                created: Instant::now(),
            }),
            Err(e) => {
                let err = match task::check_interrupts(deadline) {
                    Ok(()) => PoolError::Connect(e),
                    Err(w) => PoolError::from_wait(&w),
                };
                let wake = Self::release_slot(&mut self.state());
                wake_up(wake);
                Err(err)
            }
        }
    }

    /// Closes expired idle connections and opens new ones up to `min_idle`.
    fn reap(&self) {
        let now = Instant::now();
        let mut st = self.state();
        let mut expired = Vec::new();
        for idle in std::mem::take(&mut st.idle) {
            if self.is_expired(&idle, now) {
                expired.push(idle);
            } else {
                st.idle.push_back(idle);
            }
        }
        st.total -= expired.len();
        st.discarded += expired.len() as u64;
        let want = self
            .config
            .min_idle
            .saturating_sub(st.idle.len())
            .min(self.config.max_size - st.total);
        st.total += want;
        drop(st);
        drop(expired);
        // A background open is bounded like a checkout's, so a stalled
        // server cannot keep the slots it holds.
        let deadline = self.config.checkout_timeout.map(|t| Instant::now() + t);
        for opened in 0..want {
            match self.open(deadline) {
                Ok(conn) => {
                    let mut st = self.state();
                    st.created += 1;
                    let wake = Self::checkin(&mut st, conn, Instant::now());
                    drop(st);
                    wake_up(wake);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "fibra pool: cannot open an idle connection");
                    let mut st = self.state();
                    let wakes: Vec<_> = (opened + 1..want)
                        .filter_map(|_| Self::release_slot(&mut st))
                        .collect();
                    drop(st);
                    wakes.into_iter().for_each(|w| w.unpark());
                    break;
                }
            }
        }
    }
}

fn wake_up(w: Option<Unparker>) {
    if let Some(w) = w {
        w.unpark();
    }
}

fn reap_loop<M: Manage>(pool: &Weak<Shared<M>>, interval: Duration) {
    loop {
        match pool.upgrade() {
            Some(shared) => shared.reap(),
            None => return,
        }
        let next = Instant::now() + interval;
        loop {
            match task::park_deadline(Some(next)) {
                Ok(()) => continue,
                Err(e) if task::is_canceled(&e) => return,
                Err(_) => break,
            }
        }
    }
}

impl<M: Manage> Pool<M> {
    /// A pool with the default [`Builder`] settings.
    pub fn new(manager: M) -> Pool<M> {
        Builder::new().build(manager)
    }

    /// A [`Builder`] to configure a pool.
    pub fn builder() -> Builder<M> {
        Builder::new()
    }

    /// Checks out a connection: an idle one if any (the most recently
    /// returned), else a new one if the pool is below `max_size`, else waits
    /// in line for one to come back. Parks only the calling coroutine.
    ///
    /// The checkout timeout (and an enclosing `with_timeout` scope) covers
    /// the whole call, opening a connection included: [`Manage::connect`]
    /// runs inside a `with_deadline` scope set to it.
    ///
    /// # Errors
    /// [`PoolError::TimedOut`] after the checkout timeout or an enclosing
    /// `with_timeout` deadline, whether waiting in line or connecting;
    /// [`PoolError::Canceled`] if the coroutine is (or gets) canceled;
    /// [`PoolError::Connect`] if opening a connection fails before then.
    pub fn get(&self) -> Result<PooledConn<M>, PoolError<M::Error>> {
        self.get_deadline(None)
    }

    /// [`Pool::get`], waiting at most `timeout` (or the configured checkout
    /// timeout, if shorter).
    ///
    /// # Errors
    /// As [`Pool::get`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConn<M>, PoolError<M::Error>> {
        self.get_deadline(Some(Instant::now() + timeout))
    }

    fn get_deadline(
        &self,
        deadline: Option<Instant>,
    ) -> Result<PooledConn<M>, PoolError<M::Error>> {
        let sh = &self.shared;
        let limit = sh.config.checkout_timeout.map(|t| Instant::now() + t);
        let deadline = task::effective_deadline(match (deadline, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
        if let Err(e) = task::check_interrupts(deadline) {
            let err = PoolError::from_wait(&e);
            if err.is_timeout() {
                sh.state().timeouts += 1;
            }
            return Err(err);
        }
        loop {
            match sh.acquire(deadline)? {
                Grant::Conn(mut conn) => {
                    if sh.config.test_on_checkout && !sh.manager.is_valid(&mut conn.raw) {
                        sh.put(conn, false);
                        continue;
                    }
                    return Ok(self.guard(conn));
                }
                Grant::Slot => {
                    let conn = sh.open(deadline).inspect_err(|e| {
                        if e.is_timeout() {
                            sh.state().timeouts += 1;
                        }
                    })?;
                    let mut st = sh.state();
                    st.created += 1;
                    st.in_use += 1;
                    drop(st);
                    return Ok(self.guard(conn));
                }
            }
        }
    }

    fn guard(&self, conn: Conn<M::Conn>) -> PooledConn<M> {
        PooledConn {
            shared: self.shared.clone(),
            conn: Some(conn),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        let st = self.shared.state();
        Stats {
            in_use: st.in_use,
            idle: st.idle.len(),
            total: st.total,
            waiting: st.waiters.len(),
            waits: st.waits,
            timeouts: st.timeouts,
            created: st.created,
            discarded: st.discarded,
        }
    }

    /// Closes expired idle connections and opens new ones up to `min_idle`
    /// now, on the calling coroutine, instead of waiting for the reaper.
    /// Connect errors are logged at debug level and otherwise ignored.
    pub fn reap(&self) {
        self.shared.reap();
    }

    /// The configured maximum number of connections.
    pub fn max_size(&self) -> usize {
        self.shared.config.max_size
    }

    /// The connection manager.
    pub fn manager(&self) -> &M {
        &self.shared.manager
    }
}

/// A checked-out connection; derefs to `M::Conn` and goes back to the pool
/// when dropped (unless [`Manage::has_broken`] says it is broken or it
/// outlived `max_lifetime`, in which case it is closed).
pub struct PooledConn<M: Manage> {
    shared: Arc<Shared<M>>,
    // INVARIANT: `Some` until dropped or discarded.
    conn: Option<Conn<M::Conn>>,
}

impl<M: Manage> PooledConn<M> {
    /// Closes the connection instead of returning it (e.g. after an error
    /// that left it in an unknown state), freeing its slot for a new one.
    pub fn discard(mut self) {
        if let Some(c) = self.conn.take() {
            self.shared.put(c, false);
        }
    }

    /// When the connection was opened.
    pub fn created_at(&self) -> Instant {
        self.conn().created
    }

    fn conn(&self) -> &Conn<M::Conn> {
        self.conn
            .as_ref()
            .expect("fibra pool: connection already returned")
    }
}

impl<M: Manage> Deref for PooledConn<M> {
    type Target = M::Conn;

    fn deref(&self) -> &M::Conn {
        &self.conn().raw
    }
}

impl<M: Manage> DerefMut for PooledConn<M> {
    fn deref_mut(&mut self) -> &mut M::Conn {
        &mut self
            .conn
            .as_mut()
            .expect("fibra pool: connection already returned")
            .raw
    }
}

impl<M: Manage> Drop for PooledConn<M> {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let keep = !self.shared.manager.has_broken(&mut c.raw);
            self.shared.put(c, keep);
        }
    }
}

impl<M: Manage> fmt::Debug for PooledConn<M>
where
    M::Conn: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConn")
            .field("conn", &self.conn.as_ref().map(|c| &c.raw))
            .finish()
    }
}
