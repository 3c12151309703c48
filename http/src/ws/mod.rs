//! WebSocket (RFC 6455) server and client, with permessage-deflate
//! (RFC 7692).
//!
//! On the server, answer an upgrade request from any handler with
//! [`upgrade`] (or [`Upgrade`] for subprotocols, an origin check and
//! [`Config`]); the callback runs in the connection's coroutine with a
//! [`WebSocket`]. As a client, [`connect`] (or [`Connector`]) opens one.
//!
//! ```no_run
//! use fibra_http::{handler_fn, ws, Server};
//!
//! fibra_runtime::run(|| {
//!     let server = Server::bind("127.0.0.1:8080")?;
//!     server.serve(handler_fn(|req, resp| {
//!         ws::upgrade(req, resp, |mut ws| {
//!             while let Ok(msg) = ws.recv() {
//!                 match msg {
//!                     ws::Message::Close(_) => break,
//!                     other => {
//!                         if ws.send(other).is_err() {
//!                             break;
//!                         }
//!                     }
//!                 }
//!             }
//!         })
//!     }))
//! })
//! .unwrap();
//! ```
//!
//! [`WebSocket::recv`] returns whole messages (text validated as UTF-8);
//! pings are answered and the close handshake completed inside `recv`.
//! [`WebSocket::sender`] gives a cloneable [`Sender`], so one coroutine can
//! read while others send. The wire format is in the sans-I/O [`frame`]
//! and [`message`] modules.

mod client;
mod conn;
mod deflate;
pub mod frame;
mod handshake;
pub mod message;
mod server;
mod utf8;

pub use client::{connect, Connector};
pub use conn::{Config, Error, Fragment, Message, Sender, WebSocket};
pub use deflate::DeflateParams;
pub use handshake::accept_key;
pub use server::{upgrade, Upgrade};
pub use utf8::Utf8Validator;

/// A close status code (RFC 6455 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page left).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    /// 1007: message data not consistent with its type (e.g. bad UTF-8).
    pub const INVALID_DATA: CloseCode = CloseCode(1007);
    /// 1008: the message violates a policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: an unexpected condition on the server.
    pub const INTERNAL: CloseCode = CloseCode(1011);
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, UTF-8, at most 123 bytes on the wire.
    pub reason: String,
}
