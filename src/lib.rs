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

/// The Rust blocks of README.md and docs/*.md, compiled (and, unless
/// marked `no_run`, run) by `cargo test --doc`, so the pages cannot drift
/// from the API. rustdoc reads an unlabeled fence as Rust: label every other
/// block (`sh`, `text`, `toml`, `go`, ...). A new page gets a struct here.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/README.md")]
    struct Index;
    // Section 8 uses `Request::json`; section 0 has the reader turn on
    // the `json` feature.
    #[cfg(feature = "json")]
    #[doc = include_str!("../docs/guide.md")]
    struct Guide;
    #[doc = include_str!("../docs/porting-from-go.md")]
    struct PortingFromGo;
    #[doc = include_str!("../docs/runtime.md")]
    struct Runtime;
    #[doc = include_str!("../docs/net.md")]
    struct Net;
    #[doc = include_str!("../docs/http.md")]
    struct Http;
    #[doc = include_str!("../docs/redis.md")]
    struct Redis;
    #[doc = include_str!("../docs/postgres.md")]
    struct Postgres;
    #[doc = include_str!("../docs/memcache.md")]
    struct Memcache;
    #[doc = include_str!("../docs/nats.md")]
    struct Nats;
    #[doc = include_str!("../docs/scaling.md")]
    struct Scaling;
    #[doc = include_str!("../docs/architecture.md")]
    struct Architecture;
    #[doc = include_str!("../docs/testing.md")]
    struct Testing;
    #[doc = include_str!("../docs/benchmarks.md")]
    struct Benchmarks;
    #[doc = include_str!("../docs/conventions.md")]
    struct Conventions;
}
