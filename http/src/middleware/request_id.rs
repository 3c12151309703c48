//! Request ids.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};

use super::{error_into_response, Middleware, Next};
use crate::{Error, Request, Response};

/// The id stored in the request's extensions.
#[derive(Debug, Clone)]
struct Id(String);

/// Gives each request an id: the client's `X-Request-Id` when it is
/// reasonable (1 to 128 visible ASCII bytes), otherwise a new one (unique
/// within the process, unlikely to repeat across processes). The id is set
/// on the response (error responses too) and stored in the request's
/// extensions, where [`RequestId::get`] finds it for logs and outgoing
/// calls.
#[derive(Debug, Clone)]
pub struct RequestId {
    header: HeaderName,
    /// Random per-middleware prefix of generated ids.
    prefix: u64,
    counter: std::sync::Arc<AtomicU64>,
}

impl RequestId {
    /// Reads and writes `X-Request-Id`.
    pub fn new() -> RequestId {
        RequestId::with_header(HeaderName::from_static("x-request-id"))
    }

    /// Reads and writes the header `name` instead.
    pub fn with_header(name: HeaderName) -> RequestId {
        // `RandomState` is seeded from the OS's randomness.
        let prefix = RandomState::new().hash_one(std::process::id());
        RequestId {
            header: name,
            prefix,
            counter: std::sync::Arc::new(AtomicU64::new(0)),
        }
    }

    /// The id [`RequestId`] gave `req`, if it ran.
    pub fn get(req: &Request) -> Option<&str> {
        req.extensions().get::<Id>().map(|id| id.0.as_str())
    }

    fn generate(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n:08x}", self.prefix)
    }
}

impl Default for RequestId {
    fn default() -> RequestId {
        RequestId::new()
    }
}

fn acceptable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=128).contains(&b.len()) && b.iter().all(|c| c.is_ascii_graphic())
}

impl Middleware for RequestId {
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        let id = match req.headers().get(&self.header) {
            Some(v) if acceptable(v) => v.to_str().map(str::to_owned).ok(),
            _ => None,
        }
        .unwrap_or_else(|| self.generate());
        let value = HeaderValue::from_str(&id)?;
        req.extensions_mut().insert(Id(id));
        // Before the handler, for streamed responses; again after, as an
        // error response starts with no headers.
        resp.headers_mut()
            .insert(self.header.clone(), value.clone());
        let result = next.run(req, resp);
        let result = error_into_response(resp, result);
        if !resp.head_sent() {
            resp.headers_mut().insert(self.header.clone(), value);
        }
        result
    }
}
