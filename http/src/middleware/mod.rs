//! Middleware: code that runs around handlers, before and after them.
//!
//! A [`Middleware`] receives the request, the response and [`Next`], the
//! rest of the chain. It may change the request, call `next.run(req, resp)`
//! and then look at or change the response, or answer by itself without
//! calling `next` (short-circuit):
//!
//! ```
//! use fibra_http::middleware::{middleware_fn, Middleware};
//! use fibra_http::StatusCode;
//!
//! let auth = middleware_fn(|req, resp, next| {
//!     if req.header("authorization").is_none() {
//!         resp.status(StatusCode::UNAUTHORIZED).text("log in first\n");
//!         return Ok(());
//!     }
//!     next.run(req, resp)?;
//!     resp.header("x-authenticated", "yes")?;
//!     Ok(())
//! });
//! # fn check(_: impl Middleware) {}
//! # check(auth);
//! ```
//!
//! Middleware attaches at three levels of a [`Router`](crate::Router):
//! globally ([`Router::middleware`](crate::Router::middleware), run for
//! every request, 404s included), per group
//! ([`Group::middleware`](crate::Group::middleware)) and per route
//! ([`HandlerExt::with`]). A request passes through them in that order:
//! global, then group (outer groups first), then route, then the handler;
//! the responses come back in the reverse order.
//!
//! The reference middleware: [`Logger`], [`Recover`], [`Cors`],
//! [`RequestId`] and [`Gzip`].

mod cors;
mod gzip;
mod logger;
mod recover;
mod request_id;

use std::fmt;
use std::sync::Arc;

pub use cors::Cors;
pub use gzip::Gzip;
pub use logger::Logger;
pub use recover::Recover;
pub use request_id::RequestId;

use crate::{Error, Handler, Request, Response};

/// Code that wraps a handler: Go's `func(http.Handler) http.Handler`, as a
/// trait object.
///
/// Implemented for every `Fn(&mut Request, &mut Response, Next<'_>) ->
/// Result<(), Error>` that is `Send + Sync + 'static`; wrap a closure in
/// [`middleware_fn`] so its argument types are inferred.
pub trait Middleware: Send + Sync + 'static {
    /// Handles a request, usually by calling [`Next::run`] once, with code
    /// before and after it. Not calling it answers the request here.
    ///
    /// # Errors
    /// An `Err` travels back through the outer middleware to the server,
    /// which answers with [`Error::status`] if the response head was not
    /// sent yet. Returning the `Err` of [`Next::run`] unchanged passes the
    /// handler's error on.
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error>;
}

impl<F> Middleware for F
where
    F: Fn(&mut Request, &mut Response, Next<'_>) -> Result<(), Error> + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        self(req, resp, next)
    }
}

/// Returns `f` unchanged; it only lets Rust infer a closure's argument
/// types as a [`Middleware`] (the counterpart of
/// [`handler_fn`](crate::handler_fn)).
pub fn middleware_fn<F>(f: F) -> F
where
    F: Fn(&mut Request, &mut Response, Next<'_>) -> Result<(), Error> + Send + Sync + 'static,
{
    f
}

/// A shared middleware, as the router stores it.
pub(crate) type Shared = Arc<dyn Middleware>;

/// The endpoint at the end of a chain.
type Endpoint<'a> = dyn Fn(&mut Request, &mut Response) -> Result<(), Error> + 'a;

/// The rest of a middleware chain, ending in the handler; see
/// [`Middleware::handle`].
pub struct Next<'a> {
    chain: &'a [Shared],
    endpoint: &'a Endpoint<'a>,
}

impl<'a> Next<'a> {
    pub(crate) fn new(chain: &'a [Shared], endpoint: &'a Endpoint<'a>) -> Next<'a> {
        Next { chain, endpoint }
    }

    /// Runs the rest of the chain and the handler.
    ///
    /// # Errors
    /// What the next middleware or the handler returns.
    pub fn run(self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        match self.chain.split_first() {
            Some((first, rest)) => first.handle(
                req,
                resp,
                Next {
                    chain: rest,
                    endpoint: self.endpoint,
                },
            ),
            None => (self.endpoint)(req, resp),
        }
    }
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("middleware_left", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Turns a handler's error into the response the server would have sent
/// for it (its status and message as plain text; only the reason phrase for
/// a `5xx`), so that middleware can still add headers to it. Returns
/// `Ok(())` when it did, and the error unchanged when the response head was
/// already sent.
///
/// # Errors
/// `result`'s error when the head was already sent.
pub fn error_into_response(resp: &mut Response, result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(e) if !resp.head_sent() => {
            tracing::debug!(error = %e, "fibra-http: handler error");
            resp.reset_to_error(e.status(), e.message());
            Ok(())
        }
        other => other,
    }
}

/// Adds `token` to the `Vary` header unless it is listed already.
pub(crate) fn add_vary(headers: &mut http::HeaderMap, token: &'static str) {
    let listed = headers
        .get_all(http::header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token) || t.trim() == "*");
    if !listed {
        headers.append(http::header::VARY, http::HeaderValue::from_static(token));
    }
}

/// A handler with route-level middleware, from [`HandlerExt::with`].
pub struct Wrapped<H> {
    handler: H,
    chain: Vec<Shared>,
}

impl<H: Handler> Wrapped<H> {
    /// Adds `middleware` inside the ones added before:
    /// `h.with(a).with(b)` runs `a`, then `b`, then `h`.
    pub fn with(mut self, middleware: impl Middleware) -> Wrapped<H> {
        self.chain.push(Arc::new(middleware));
        self
    }
}

impl<H: Handler> Handler for Wrapped<H> {
    fn call(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        let endpoint = |req: &mut Request, resp: &mut Response| self.handler.call(req, resp);
        Next::new(&self.chain, &endpoint).run(req, resp)
    }
}

impl<H> fmt::Debug for Wrapped<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrapped")
            .field("middleware", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Route-level middleware for any [`Handler`].
///
/// ```
/// use fibra_http::middleware::{middleware_fn, HandlerExt};
/// use fibra_http::{handler_fn, Router};
///
/// let audit = middleware_fn(|req, resp, next| {
///     tracing::info!(path = req.path(), "admin access");
///     next.run(req, resp)
/// });
/// let mut router = Router::new();
/// let admin = handler_fn(|_, resp| {
///     resp.text("admin");
///     Ok(())
/// });
/// router.get("/admin", admin.with(audit));
/// ```
pub trait HandlerExt: Handler + Sized {
    /// This handler behind `middleware`.
    fn with(self, middleware: impl Middleware) -> Wrapped<Self> {
        Wrapped {
            handler: self,
            chain: vec![Arc::new(middleware)],
        }
    }
}

impl<H: Handler> HandlerExt for H {}
