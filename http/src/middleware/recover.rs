//! Panic recovery.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use http::StatusCode;

use super::{Middleware, Next};
use crate::{Error, Request, Response};

type OnPanic = dyn Fn(&mut Request, &mut Response, &str) -> Result<(), Error> + Send + Sync;

/// Catches a panic in the rest of the chain, logs it at `ERROR` and answers
/// `500 Internal Server Error`, or what [`Recover::on_panic`] writes.
///
/// The server catches handler panics too (answering `500` and closing the
/// connection); this middleware lets an application choose the response
/// (a JSON error, say) and keeps the connection open. When the panic
/// happens after the response head was sent, the response cannot be
/// replaced: the connection is closed.
pub struct Recover {
    on_panic: Option<Box<OnPanic>>,
}

impl Recover {
    /// Recovery answering `500` with the reason phrase as plain text.
    pub fn new() -> Recover {
        Recover { on_panic: None }
    }

    /// Writes the response for a panic with `f`, which gets the panic
    /// message and a response reset to an empty `500`.
    pub fn on_panic(
        mut self,
        f: impl Fn(&mut Request, &mut Response, &str) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Recover {
        self.on_panic = Some(Box::new(f));
        self
    }
}

impl Default for Recover {
    fn default() -> Recover {
        Recover::new()
    }
}

impl fmt::Debug for Recover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recover")
            .field("on_panic", &self.on_panic.is_some())
            .finish()
    }
}

impl Middleware for Recover {
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        let panic = match panic::catch_unwind(AssertUnwindSafe(|| next.run(req, resp))) {
            Ok(result) => return result,
            Err(panic) => panic,
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        tracing::error!(
            method = %req.method(),
            uri = %req.uri(),
            panic = %message,
            "fibra-http: handler panicked (recovered)"
        );
        if resp.head_sent() {
            return Err(Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "handler panicked after sending the response head",
            ));
        }
        resp.reset_to_error(StatusCode::INTERNAL_SERVER_ERROR, "");
        match &self.on_panic {
            Some(f) => {
                resp.headers_mut().clear();
                resp.body(Vec::new());
                f(req, resp, &message)
            }
            None => Ok(()),
        }
    }
}
