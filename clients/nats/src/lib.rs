//! fibra-nats: a NATS client in plain blocking Rust on fibra coroutines.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fibra_runtime::run(|| {
//!     let client = fibra_nats::connect("nats://127.0.0.1:4222").unwrap();
//!
//!     // A responder on its own coroutine.
//!     let responder = client.clone();
//!     let _svc = client
//!         .subscribe_fn("time", move |msg| {
//!             responder.respond(&msg, "noon").unwrap();
//!         })
//!         .unwrap();
//!     client.flush().unwrap();
//!
//!     let reply = client.request_timeout("time", "", Duration::from_secs(1)).unwrap();
//!     assert_eq!(reply.payload, b"noon");
//!
//!     // Pub/sub with an iterator.
//!     let sub = client.subscribe("events.>").unwrap();
//!     client.publish("events.a", "1").unwrap();
//!     let msg = sub.next_timeout(Duration::from_secs(1)).unwrap();
//!     assert_eq!(msg.subject, "events.a");
//! });
//! ```
//!
//! The pieces:
//! - [`connect`] / [`ConnectOptions`]: one or many `nats://` (or `tls://`)
//!   URLs, tried in random order; name, no-echo, user/password, token,
//!   nkey, JWT credentials files, TLS (feature `tls`), reconnect policy.
//! - [`Client`]: [`publish`](Client::publish) (and with headers or a reply
//!   subject), [`subscribe`](Client::subscribe) /
//!   [`queue_subscribe`](Client::queue_subscribe) returning a
//!   [`Subscription`] (an iterator), [`subscribe_fn`](Client::subscribe_fn)
//!   for a callback on its own coroutine, [`request`](Client::request) over
//!   one multiplexed inbox subscription, [`flush`](Client::flush),
//!   [`rtt`](Client::rtt), [`drain`](Client::drain),
//!   [`close`](Client::close), [`status`](Client::status) and
//!   [`events`](Client::events).
//! - Resilience: after losing the server the client walks the pool
//!   (including servers the cluster announced) with jittered back-off,
//!   re-subscribes, and sends the publishes it buffered meanwhile.
//! - Slow consumers: each subscription has pending limits (messages and
//!   bytes); past them messages are dropped and counted, and an
//!   [`Event::SlowConsumer`] is reported.
//! - [`jetstream`]: publish with acknowledgement, streams, durable pull
//!   consumers, and a small key-value bucket.
//! - [`proto`]: the sans-I/O wire codec.
//!
//! # Errors
//! One [`Error`] type with an [`ErrorKind`] and predicates
//! ([`is_timeout`](Error::is_timeout), [`is_closed`](Error::is_closed),
//! [`is_no_responders`](Error::is_no_responders)); JetStream errors carry
//! the server's error code ([`Error::code`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod conn;
mod error;
mod headers;
pub mod jetstream;
mod nkey;
mod options;
pub mod proto;
mod reader;
mod reconnect;
mod state;
mod subscription;
mod writer;

pub use client::{connect, Client, Event, Statistics, Status};
pub use conn::ServerInfo;
pub use error::{Error, ErrorKind, Result};
pub use headers::HeaderMap;
pub use nkey::KeyPair;
pub use options::{ConnectOptions, EventCallback};
pub use subscription::{Handler, Message, Subscription};
