//! fibra-redis: a Redis client in plain blocking Rust for fibra coroutines.
//!
//! Every call parks only the calling coroutine while it waits for the
//! server (and blocks the thread when called outside a coroutine). The
//! wire format lives in the sans-I/O [`proto`] module (RESP2 and RESP3);
//! the rest is blocking code over [`fibra_net::TcpStream`].
//!
//! ```no_run
//! use fibra_redis::{cmd, Connection};
//!
//! fn main() -> fibra_redis::Result<()> {
//!     fibra_runtime::run(|| {
//!         let mut conn = Connection::connect("redis://127.0.0.1:6379/0")?;
//!         conn.set("greeting", "hello")?;
//!         let v: Option<String> = conn.get("greeting")?;
//!         assert_eq!(v.as_deref(), Some("hello"));
//!         let n: i64 = cmd("INCRBY").arg("visits").arg(2).query(&mut conn)?;
//!         println!("{n} visits");
//!         Ok(())
//!     })
//! }
//! ```
//!
//! The pieces:
//! - [`Connection`]: `HELLO 3` negotiation with fallback to RESP2, AUTH
//!   (password or ACL user), `CLIENT SETNAME`, `SELECT`, from a
//!   [`ConnectionInfo`] or a `redis://` / `rediss://` URL (TLS with the
//!   `tls` feature); typed helpers for strings, counters, keys and expiry,
//!   hashes, lists, sets and sorted sets.
//! - [`cmd`] builds any command; [`ToRedisArgs`] and [`FromRedis`] convert
//!   arguments and replies.
//! - [`pipe`]: pipelines (one write, one read of N replies), atomic with
//!   MULTI/EXEC, and [`Connection::transaction`] for WATCH-based retries.
//! - [`PubSub`]: SUBSCRIBE/PSUBSCRIBE, messages by call, iterator or
//!   channel.
//! - [`Script`]: EVALSHA with load-on-NOSCRIPT.
//! - [`Connection::scan`] and friends: SCAN cursors as iterators.
//! - [`Pool`]: the runtime's connection pool with a [`Manager`] that drops
//!   broken connections.
//!
//! # Errors
//! One [`Error`] type. An error reply (`-ERR`, `-WRONGTYPE`, `-MOVED`, …)
//! is [`ErrorKind::Server`] with the [`ServerError`] inside and leaves the
//! connection usable; socket errors, timeouts in the middle of a reply and
//! protocol errors break the connection ([`Connection::is_broken`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cmd;
mod commands;
mod conn;
mod error;
mod info;
mod pool;
pub mod proto;
mod pubsub;
mod scan;
mod script;
mod transaction;
mod types;

pub use cmd::{cmd, pipe, Cmd, Pipeline};
pub use conn::Connection;
pub use error::{Error, ErrorKind, Result, ServerError, ServerErrorKind};
pub use info::{ConnectionInfo, Protocol};
pub use pool::{Manager, Pool, PooledConnection};
pub use proto::Value;
pub use pubsub::{Messages, Msg, PubSub};
pub use scan::{ScanIter, ScanOptions};
pub use script::{Script, ScriptCall};
pub use types::{FromRedis, ToRedisArgs};
