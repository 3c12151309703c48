//! fibra-memcache: a Memcached client in plain blocking Rust. Each call
//! parks only its coroutine while the socket waits.
//!
//! ```no_run
//! use fibra_memcache::Client;
//!
//! fibra_runtime::run(|| {
//!     let mc = Client::new(["127.0.0.1:11211", "127.0.0.1:11212"]).unwrap();
//!     mc.set("greeting", b"hello", 0, 300).unwrap();
//!     let item = mc.get("greeting").unwrap().unwrap();
//!     assert_eq!(item.value, b"hello");
//!     let all = mc.get_multi(&["greeting", "missing"]).unwrap();
//!     assert!(all[1].is_none());
//!     match mc.add("greeting", b"again", 0, 0) {
//!         Err(e) if e.is_not_stored() => {} // already there
//!         other => panic!("{other:?}"),
//!     }
//! });
//! ```
//!
//! # Protocol
//! The client speaks the text protocol (as pymemcache does): `get`, `gets`,
//! `gat`, `gats`, `set`, `add`, `replace`, `append`, `prepend`, `cas`,
//! `delete`, `incr`, `decr`, `touch`, `flush_all`, `stats`, `version`.
//! Values are bytes (binary-safe), stored with 32-bit flags and an expiry.
//! Keys are checked before anything is sent: 1 to 250 bytes, no spaces or
//! control characters ([`proto::validate_key`]).
//!
//! Meta commands are used only where they save a round trip:
//! [`Client::incr_or_init`] is one `ma … N J D` where the text protocol
//! needs `incr`, `add` and maybe `incr` again. Everything else already takes
//! one round trip in the text protocol (multi-key `get` included), so the
//! client stays on it and works with any memcached.
//!
//! The wire format lives in [`proto`], sans I/O: encoders that append to a
//! `Vec<u8>` and a decoder from `&[u8]` to `Complete`/`Partial`.
//!
//! # Many servers
//! Keys are spread by rendezvous hashing that picks the same node as
//! pymemcache's `HashClient` (MurmurHash3 x86_32, seed 0, over
//! `"<host:port>-<key>"`; see [`hash`]), so Rust and Python services can
//! share one cluster. [`Client::get_multi`] takes one round trip per node,
//! all nodes in flight together. Each node has its own connection pool
//! ([`fibra_runtime::pool`]).
//!
//! Dead nodes are handled like pymemcache's: a network failure marks a node
//! *failing*; calls to it fail fast ([`Error::is_unavailable`]) until
//! `retry_timeout` passes, then it is tried again; after `retry_attempts`
//! failed retries it is *dead* and its keys go to their next node, until
//! `dead_timeout` passes and it is taken back. Unlike pymemcache, a call
//! that is not attempted returns an error, never a silent default.
//!
//! # Timeouts and errors
//! Connect, socket I/O and pool checkout each have a timeout (1 s by
//! default, see [`Builder`]); an enclosing [`fibra_runtime::with_timeout`]
//! applies too. Every failure is one [`Error`] with predicates:
//! [`Error::is_timeout`], [`Error::is_not_found`], [`Error::is_not_stored`],
//! [`Error::is_exists`], [`Error::is_server_error`], …
//!
//! With the `json` feature, [`Client::set_json`] and [`Client::get_json`]
//! store any serde value as JSON.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod conn;
mod error;
pub mod hash;
#[cfg(feature = "json")]
mod json;
pub mod proto;

pub use client::{Builder, Client, Item, Stats};
pub use error::{Error, ErrorKind};
