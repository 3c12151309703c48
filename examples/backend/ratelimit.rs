//! Rate limiting per client IP in Redis: a fixed window counter,
//! `INCR key` and `EXPIRE key window` in one MULTI/EXEC round trip, the
//! key naming the IP and the window. Every instance of the service shares
//! the counters, so the limit holds behind a load balancer too.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fibra::http::middleware::Next;
use fibra::http::{Error, Request, Response, StatusCode};
use fibra::redis::{cmd, pipe, Manager, Pool};

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests left in this window.
    pub remaining: u64,
    /// Seconds until the window ends.
    pub reset: u64,
}

/// A per-IP limit of `limit` requests per `window`.
pub struct RateLimiter {
    pool: Pool,
    namespace: String,
    limit: u64,
    window: u64,
    rejected: AtomicU64,
}

impl RateLimiter {
    /// A limiter on the Redis at `url`.
    ///
    /// # Errors
    /// A malformed URL.
    pub fn new(
        url: &str,
        namespace: &str,
        limit: u64,
        window: Duration,
    ) -> Result<RateLimiter, String> {
        let manager = Manager::from_url(url).map_err(|e| format!("redis: {e}"))?;
        let pool = Pool::builder()
            .max_size(16)
            .checkout_timeout(Some(Duration::from_secs(1)))
            .build(manager);
        Ok(RateLimiter {
            pool,
            namespace: namespace.to_owned(),
            limit,
            window: window.as_secs().max(1),
            rejected: AtomicU64::new(0),
        })
    }

    /// Checks that Redis answers.
    ///
    /// # Errors
    /// Redis's.
    pub fn ping(&self) -> fibra::redis::Result<()> {
        self.pool.get()?.ping()
    }

    /// Counts one request from `ip`.
    ///
    /// # Errors
    /// Redis's.
    pub fn check(&self, ip: IpAddr) -> fibra::redis::Result<Decision> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let slot = now / self.window;
        let key = format!("{}:ratelimit:{ip}:{slot}", self.namespace);
        let mut conn = self.pool.get()?;
        let (count, _): (u64, bool) = pipe()
            .atomic()
            .cmd(cmd("INCR").arg(&key))
            .cmd(cmd("EXPIRE").arg(&key).arg(self.window))
            .query(&mut conn)?;
        let allowed = count <= self.limit;
        if !allowed {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Decision {
            allowed,
            remaining: self.limit.saturating_sub(count),
            reset: (slot + 1) * self.window - now,
        })
    }

    /// Requests answered `429` so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The middleware: `429 Too Many Requests` past the limit, with
    /// `Retry-After`; `X-RateLimit-*` headers on every answer. When Redis
    /// fails the request goes through (fail open) and the error is logged.
    pub fn handle(
        &self,
        req: &mut Request,
        resp: &mut Response,
        next: Next<'_>,
    ) -> Result<(), Error> {
        let decision = match self.check(req.remote_addr().ip()) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; letting the request through");
                return next.run(req, resp);
            }
        };
        resp.header("x-ratelimit-limit", &self.limit.to_string())?
            .header("x-ratelimit-remaining", &decision.remaining.to_string())?
            .header("x-ratelimit-reset", &decision.reset.to_string())?;
        if !decision.allowed {
            resp.status(StatusCode::TOO_MANY_REQUESTS)
                .header("retry-after", &decision.reset.max(1).to_string())?
                .header("content-type", "application/json")?
                .body(r#"{"error":"rate limit exceeded, try again later"}"#);
            return Ok(());
        }
        next.run(req, resp)
    }
}
