//! Platform code: the only place in fibra-runtime that uses `unsafe`.
//!
//! Contract of this module:
//! - [`stack`]: mmapped coroutine stacks with a guard page below them, reused
//!   through a pool so that a spawn does not pay for `mmap`/`munmap`.
//! - [`coroutine`]: a `Send` wrapper around a corosensei coroutine plus the
//!   thread-local "current yielder" that lets code anywhere inside a coroutine
//!   suspend it. The wrapper may be moved between threads as a value (queued,
//!   stolen before it starts, dropped), but once started it is resumed only on
//!   the thread of its first run: the scheduler queues a started coroutine
//!   only on its home worker and asserts it before every resume, so `!Send`
//!   values on a suspended stack (a `thread_local!` borrow, an `Rc`, a std
//!   `MutexGuard`) never change threads. The `unsafe`
//!   `coroutine::Builder::migratable` is the only way to lift that, on the
//!   caller's promise. [`coroutine::Slot`] ties a coroutine to its park state
//!   so that one thread at a time resumes it.
//! - [`current`]: the task a worker is running, borrowed (not reference
//!   counted) through a thread-local pointer.
//! - [`handoff`]: the token, value slot and waiter-list entry through which a
//!   channel operation blocked in its own frame is completed by another.
//! - [`lock`]: the data cells of `sync::Mutex`/`RwLock`: the lock word and
//!   the `UnsafeCell` it guards, reachable only through guards made here.
//! - [`overflow`]: a SIGSEGV/SIGBUS handler on an alternate signal stack that
//!   turns a guard-page hit into a clear message naming the coroutine and its
//!   stack size, then aborts.
//!
//! Everything exported from here is a safe API; each `unsafe` block carries a
//! `// SAFETY:` comment that says why its preconditions hold.

pub(crate) mod coroutine;
pub(crate) mod current;
pub(crate) mod handoff;
pub(crate) mod lock;
pub(crate) mod overflow;
pub(crate) mod stack;
