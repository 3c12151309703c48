//! fibra-http: an HTTP/1.1 server written as plain blocking code on fibra's
//! coroutines. Each connection runs in its own coroutine; a handler reads
//! the request body and writes the response with ordinary `Read`/`Write`,
//! and a blocked socket parks only that coroutine.
//!
//! ```no_run
//! use fibra_http::{handler_fn, Server};
//!
//! fn main() -> std::io::Result<()> {
//!     fibra_runtime::run(|| {
//!         let server = Server::bind("127.0.0.1:8080")?;
//!         server.serve(handler_fn(|req, resp| {
//!             let name = req.query_param("name").unwrap_or_else(|| "world".into());
//!             resp.text(format!("hello, {name}\n"));
//!             Ok(())
//!         }))
//!     })
//! }
//! ```
//!
//! The pieces: [`Server`] with its [`Config`] and [`ShutdownHandle`],
//! serving plain HTTP or HTTPS (the `tls` module, feature `tls`: SNI,
//! client certificates, certificate reload);
//! [`Handler`], implemented for functions and closures `Fn(&mut Request,
//! &mut Response) -> Result<(), Error>` (wrap a closure in [`handler_fn`] so
//! its argument types are inferred); [`Request`] (head as `http` crate types, lazy
//! [`Body`]); [`Response`] (buffered, or streamed with
//! [`Response::writer`], or handed over with [`Response::upgrade`]);
//! [`Router`], a [`Handler`] routing by method and path (parameters,
//! groups, 404/405, trailing-slash redirects) over the radix tree of
//! [`router`]; [`middleware`] (global, per group, per route) with logging,
//! panic recovery, CORS, request ids and gzip; [`StaticFiles`] for serving
//! a directory; and [`proto`], the sans-I/O codec underneath.
//!
//! HTTP/1.0 and 1.1 with keep-alive and pipelining, `HEAD`,
//! `Expect: 100-continue`, chunked bodies both ways, graceful shutdown, and
//! refusal of ambiguous framing (request smuggling), oversized heads and
//! slow clients.

#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod middleware;
pub mod proto;
pub mod router;
mod routing;
mod server;
pub mod sse;
mod static_files;
mod urlencoded;
pub mod ws;

pub use client::{delete, get, head, post, put, Client, ClientBuilder};
pub use error::Error;
pub use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri, Version};
pub use routing::{Group, Router};
#[cfg(feature = "tls")]
pub use server::tls;
pub use server::{
    handler_fn, Body, BodyWriter, Config, Handler, Request, Response, Server, ShutdownHandle,
    Upgraded,
};
pub use static_files::StaticFiles;
