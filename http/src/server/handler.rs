//! The handler trait.

use super::{Request, Response};
use crate::Error;

/// Something that answers requests: Go's `http.Handler`.
///
/// Implemented for every `Fn(&mut Request, &mut Response) -> Result<(),
/// Error>` that is `Send + Sync + 'static`. It is called from each
/// connection's coroutine, so it may block (read the body, call a database)
/// without holding up other connections.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request by filling in `resp`.
    ///
    /// # Errors
    /// An `Err` is answered with its [`Error::status`] if the response head
    /// was not sent yet; otherwise the connection is closed.
    fn call(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error>;
}

impl<F> Handler for F
where
    F: Fn(&mut Request, &mut Response) -> Result<(), Error> + Send + Sync + 'static,
{
    fn call(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        self(req, resp)
    }
}

/// Returns `f` unchanged; it only lets Rust infer a closure's argument
/// types, which it cannot do through the [`Handler`] bound alone (Go's
/// `http.HandlerFunc`):
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use fibra_http::{handler_fn, Server};
///
/// let server = Server::bind("127.0.0.1:8080")?;
/// server.serve(handler_fn(|req, resp| {
///     resp.text(format!("you asked for {}\n", req.path()));
///     Ok(())
/// }))
/// # }
/// ```
pub fn handler_fn<F>(f: F) -> F
where
    F: Fn(&mut Request, &mut Response) -> Result<(), Error> + Send + Sync + 'static,
{
    f
}
