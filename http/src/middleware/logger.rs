//! Request logging.

use std::time::Instant;

use super::{Middleware, Next};
use crate::{Error, Request, Response};

/// Logs each request through `tracing` when it is done: method, path,
/// matched route, status and duration (Go's `handlers.LoggingHandler`, chi's
/// `middleware.Logger`).
///
/// Requests answered with a `5xx` (or whose handler failed after sending
/// the head) are logged at `WARN`, the others at `INFO`, with the target
/// `fibra_http::access`. Put it first among global middleware so that the
/// duration covers the other middleware too.
#[derive(Debug, Clone, Default)]
pub struct Logger {
    _private: (),
}

impl Logger {
    /// The logger.
    pub fn new() -> Logger {
        Logger::default()
    }
}

impl Middleware for Logger {
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        let start = Instant::now();
        let result = next.run(req, resp);
        let micros = start.elapsed().as_micros() as u64;
        let status = match &result {
            Ok(()) => resp.status_code(),
            Err(e) if !resp.head_sent() => e.status(),
            Err(_) => resp.status_code(),
        };
        let method = req.method().as_str();
        let path = req.path();
        let route = req.route().unwrap_or("-");
        let error = result.as_ref().err().map(|e| e.to_string());
        if status.is_server_error() || (result.is_err() && resp.head_sent()) {
            tracing::warn!(
                target: "fibra_http::access",
                method,
                path,
                route,
                status = status.as_u16(),
                micros,
                error,
                "request"
            );
        } else {
            tracing::info!(
                target: "fibra_http::access",
                method,
                path,
                route,
                status = status.as_u16(),
                micros,
                error,
                "request"
            );
        }
        result
    }
}
