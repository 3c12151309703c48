//! fibra-runtime: stackful coroutines on a work-stealing scheduler, a mio
//! reactor, timers and a blocking pool. Code written against it is plain
//! blocking Rust: a call that would block parks only its coroutine.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let total = fibra_runtime::run(|| {
//!     let handles: Vec<_> = (0..10u64)
//!         .map(|i| fibra_runtime::spawn(move || {
//!             fibra_runtime::sleep(Duration::from_millis(10));
//!             i * i
//!         }))
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(total, 285);
//! ```
//!
//! The pieces: [`spawn`]/[`JoinHandle`] (like `std::thread`), [`run`] for
//! `main`, [`runtime::Builder`] for a configured runtime,
//! [`coroutine::Builder`] for named, sized or pinned coroutines, [`park`] /
//! [`Unparker`] (the one wake-up primitive everything else is built on),
//! [`park_deadline`] (the one blocking wait, honouring deadlines and
//! cancellation), [`time::Timer`], [`io::Registration`] for sockets, and
//! [`blocking()`] for thread-blocking calls.
//!
//! Built on those: Go-style channels with [`select!`] and a oneshot
//! ([`chan`]); [`sync`] with `Mutex`, `RwLock`, `Condvar`, `Semaphore`,
//! `WaitGroup`, `Barrier` and `OnceCell`, all parking instead of blocking;
//! [`coroutine_local!`] in place of `thread_local!`; deadlines
//! ([`with_timeout`]) and cancellation (`JoinHandle::cancel`, [`shield`]);
//! the generic connection [`pool`] the clients share; [`time::Ticker`]
//! and [`signal::notify`] for Go's `time.NewTicker` and `signal.Notify`.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

// `unsafe` code lives in `sys` alone, and the compiler checks it: every
// other module forbids it. The one exception is the *declaration* of
// `coroutine::Builder::migratable`, an `unsafe fn` with no unsafe code in
// it, whose `unsafe` is the caller's promise (hence `deny` plus one
// `allow` there rather than `forbid`).
#[forbid(unsafe_code)]
mod blocking;
#[forbid(unsafe_code)]
pub mod chan;
#[deny(unsafe_code)]
pub mod coroutine;
#[forbid(unsafe_code)]
pub mod io;
#[forbid(unsafe_code)]
mod local;
#[forbid(unsafe_code)]
mod monitor;
#[forbid(unsafe_code)]
mod park;
#[forbid(unsafe_code)]
mod parking;
#[forbid(unsafe_code)]
pub mod pool;
#[forbid(unsafe_code)]
pub mod runtime;
#[forbid(unsafe_code)]
mod scheduler;
#[forbid(unsafe_code)]
pub mod signal;
#[forbid(unsafe_code)]
pub mod sync;
mod sys;
#[forbid(unsafe_code)]
mod task;
#[forbid(unsafe_code)]
mod ticker;
#[forbid(unsafe_code)]
pub mod time;
#[forbid(unsafe_code)]
mod trace;

pub use blocking::{blocking, blocking_cancelable};
pub use local::LocalKey;
pub use runtime::{run, spawn, JoinHandle};
pub use task::{
    check_interrupts, current_unparker, effective_deadline, in_coroutine, is_canceled, park,
    park_deadline, scope_deadline, shield, sleep, sleep_cancelable, sleep_until,
    sleep_until_cancelable, with_deadline, with_timeout, yield_now, Canceled, Unparker,
};

/// Spawns a coroutine running the given expression or block, like Go's `go`
/// statement: `go!(handle(conn))`. Returns the [`JoinHandle`].
#[macro_export]
macro_rules! go {
    ($($body:tt)*) => {
        $crate::spawn(move || { $($body)* })
    };
}
