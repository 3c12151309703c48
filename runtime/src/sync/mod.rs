//! Synchronisation primitives that park coroutines instead of blocking
//! worker threads: [`Mutex`], [`RwLock`], [`Condvar`] (shaped like std's),
//! [`Semaphore`], [`WaitGroup`] (Go's), [`Barrier`] and [`OnceCell`].
//!
//! All of them also work from plain OS threads, where waiting blocks the
//! thread. Common choices, stated once:
//!
//! - **No poisoning.** A panic while holding a guard just releases it.
//! - **Fairness.** Queued waiters are served in arrival order. The
//!   semaphore and readers are served by direct hand-off; a queued writer
//!   competes with newcomers (as in Go's `sync.Mutex`) until it has waited
//!   1 ms, then gets the lock by hand-off, so nobody starves. The
//!   uncontended path of a lock is a single CAS each way.
//! - **Cancellation.** Methods with a std/Go namesake that returns no
//!   `Result` keep its signature and, like it, ignore `cancel()` and
//!   `with_timeout` scopes (`Mutex::lock`, `RwLock::read`/`write`,
//!   `Condvar::wait`, `WaitGroup::wait`, `Barrier::wait`,
//!   `OnceCell::get_or_init`): each returns something (a guard, "all
//!   done", a value) that an early return would fake. Each has a
//!   `*_cancelable` twin that honours both and returns `io::Result`; use
//!   the twin wherever the waiter may be canceled. [`Semaphore::acquire`]
//!   already returns `io::Result` and is cancel-aware itself. The bounded
//!   `*_timeout` waits ignore both. docs/runtime.md has the table.

mod barrier;
mod condvar;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
pub(crate) mod waiter;
mod waitgroup;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::OnceCell;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
