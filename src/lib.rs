//! fibra: network services in plain blocking Rust on stackful coroutines.
//!
//! This facade re-exports the fibra crates. See the README and docs/ for the
//! guide.
//!
//! ```no_run
//! let v = fibra::run(|| {
//!     let h = fibra::spawn(|| 21);
//!     h.join().unwrap() * 2
//! });
//! assert_eq!(v, 42);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use fibra_runtime::{
    blocking, blocking_cancelable, chan, check_interrupts, coroutine, coroutine_local,
    current_unparker, effective_deadline, go, in_coroutine, io, is_canceled, park, park_deadline,
    pool, run, runtime, scope_deadline, select, shield, signal, sleep, sleep_cancelable,
    sleep_until, sleep_until_cancelable, spawn, sync, time, with_deadline, with_timeout, yield_now,
    Canceled, JoinHandle, LocalKey, Unparker,
};

pub use fibra_http as http;
pub use fibra_memcache as memcache;
pub use fibra_nats as nats;
pub use fibra_net as net;
pub use fibra_postgres as postgres;
pub use fibra_redis as redis;
