//! Configuration from environment variables, with the defaults of the
//! servers that `scripts/services start` runs on loopback.

use std::env;
use std::time::Duration;

/// Everything the service needs to know to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the HTTP server listens (`FIBRA_BACKEND_ADDR`, default
    /// `127.0.0.1:8080`; port 0 picks a free port).
    pub addr: String,
    /// Prefix of every Redis key, Memcached key and NATS subject
    /// (`FIBRA_BACKEND_NAMESPACE`, default `links`), so several deployments
    /// (or test runs) can share one set of servers.
    pub namespace: String,
    /// PostgreSQL connection string (`FIBRA_BACKEND_PG_URL`, else
    /// `FIBRA_POSTGRES_URL` from `scripts/services`).
    pub pg_url: String,
    /// Connections in the PostgreSQL pool (`FIBRA_BACKEND_PG_POOL`, default 16).
    pub pg_pool_size: usize,
    /// Memcached nodes (`FIBRA_MEMCACHED_URL`: `memcache://host:port`,
    /// comma-separated).
    pub memcached: Vec<String>,
    /// How long a link stays in Memcached (`FIBRA_BACKEND_CACHE_TTL`,
    /// seconds, default 300).
    pub cache_ttl: u32,
    /// Redis URL (`FIBRA_BACKEND_REDIS_URL`, or database 0 of
    /// `FIBRA_REDIS_URL`).
    pub redis_url: String,
    /// Writes allowed per client IP per window (`FIBRA_BACKEND_RATE_LIMIT`,
    /// default 30).
    pub rate_limit: u64,
    /// The rate-limit window (`FIBRA_BACKEND_RATE_WINDOW`, seconds, default 60).
    pub rate_window: Duration,
    /// NATS server URLs (`FIBRA_NATS_URL`, comma-separated).
    pub nats_url: String,
    /// Deadline for fetching a link's page title
    /// (`FIBRA_BACKEND_TITLE_TIMEOUT_MS`, default 3000).
    pub title_timeout: Duration,
    /// Directory of the web page (`FIBRA_BACKEND_STATIC_DIR`, default
    /// `examples/backend/static` in the source tree).
    pub static_dir: String,
    /// How long in-flight requests may finish after a shutdown signal
    /// (`FIBRA_BACKEND_GRACE_MS`, default 5000).
    pub grace: Duration,
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn var_or(name: &str, default: &str) -> String {
    var(name).unwrap_or_else(|| default.to_owned())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a valid number")),
    }
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    /// A message naming the variable that holds a malformed value.
    pub fn from_env() -> Result<Config, String> {
        let pg_url = var("FIBRA_BACKEND_PG_URL")
            .or_else(|| var("FIBRA_POSTGRES_URL"))
            .unwrap_or_else(|| "postgres://trust_user@127.0.0.1:15432/fibra".to_owned());
        let redis_url = var("FIBRA_BACKEND_REDIS_URL").unwrap_or_else(|| {
            let base = var_or("FIBRA_REDIS_URL", "redis://127.0.0.1:16379/");
            format!("{}/0", base.trim_end_matches('/'))
        });
        let memcached = var_or(
            "FIBRA_MEMCACHED_URL",
            "memcache://127.0.0.1:21211,memcache://127.0.0.1:21212,memcache://127.0.0.1:21213",
        )
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
        let namespace = var_or("FIBRA_BACKEND_NAMESPACE", "links");
        if namespace.is_empty()
            || !namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "FIBRA_BACKEND_NAMESPACE={namespace:?}: use letters, digits, '-' and '_'"
            ));
        }
        Ok(Config {
            addr: var_or("FIBRA_BACKEND_ADDR", "127.0.0.1:8080"),
            namespace,
            pg_url,
            pg_pool_size: number("FIBRA_BACKEND_PG_POOL", 16)?,
            memcached,
            cache_ttl: number("FIBRA_BACKEND_CACHE_TTL", 300)?,
            redis_url,
            rate_limit: number("FIBRA_BACKEND_RATE_LIMIT", 30)?,
            rate_window: Duration::from_secs(number("FIBRA_BACKEND_RATE_WINDOW", 60)?),
            nats_url: var_or("FIBRA_NATS_URL", "nats://127.0.0.1:14222"),
            title_timeout: Duration::from_millis(number("FIBRA_BACKEND_TITLE_TIMEOUT_MS", 3000)?),
            static_dir: var("FIBRA_BACKEND_STATIC_DIR").unwrap_or_else(|| {
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/backend/static").to_owned()
            }),
            grace: Duration::from_millis(number("FIBRA_BACKEND_GRACE_MS", 5000)?),
        })
    }
}
