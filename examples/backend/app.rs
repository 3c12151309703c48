//! The service put together: connections to every server, the router with
//! its middleware, and start/shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use fibra::http::middleware::{middleware_fn, Cors, HandlerExt, Logger, Recover, RequestId};
use fibra::http::{Error, Handler, Request, Response, Router, Server, ShutdownHandle, StaticFiles};
use fibra::JoinHandle;

use crate::cache::Cache;
use crate::config::Config;
use crate::events::Events;
use crate::ratelimit::RateLimiter;
use crate::store::Store;
use crate::title::TitleFetcher;
use crate::{api, live};

/// Everything a handler can reach.
pub struct App {
    /// The configuration it started with.
    pub config: Config,
    /// Links in PostgreSQL.
    pub store: Store,
    /// The Memcached read-through cache.
    pub cache: Cache,
    /// Per-IP limits in Redis.
    pub limiter: RateLimiter,
    /// NATS, and the live subscribers.
    pub events: Events,
    /// The outgoing HTTP client.
    pub titles: TitleFetcher,
    /// When it started.
    pub started: Instant,
}

/// A handler function over the shared [`App`].
type AppFn = fn(&Arc<App>, &mut Request, &mut Response) -> Result<(), Error>;

/// Binds `f` to `app` as a [`Handler`].
fn bind(app: &Arc<App>, f: AppFn) -> impl Handler {
    let app = app.clone();
    move |req: &mut Request, resp: &mut Response| f(&app, req, resp)
}

/// The routes and middleware.
///
/// # Errors
/// The static directory does not exist.
fn router(app: &Arc<App>) -> io::Result<Router> {
    let files = StaticFiles::new(&app.config.static_dir)?;
    let mut router = Router::new();
    router
        .middleware(Logger::new())
        .middleware(RequestId::new())
        .middleware(Recover::new())
        .middleware(
            Cors::new()
                .allow_any_origin()
                .allow_methods(["GET", "POST", "DELETE"])
                .allow_headers(["content-type"])
                .expose_headers([
                    "x-cache",
                    "x-cache-node",
                    "x-request-id",
                    "x-ratelimit-remaining",
                ]),
        );
    let limited = {
        let app = app.clone();
        move || {
            let app = app.clone();
            middleware_fn(move |req, resp, next| app.limiter.handle(req, resp, next))
        }
    };

    router.get("/", files.clone());
    router.get("/static/*path", files);
    router.get("/healthz", bind(app, api::health));
    router.get("/:code", bind(app, api::redirect));
    router.group("/api", |g| {
        g.get("/links", bind(app, api::list));
        g.post("/links", bind(app, api::create).with(limited()));
        g.get("/links/:code", bind(app, api::show));
        g.delete("/links/:code", bind(app, api::delete).with(limited()));
        g.get("/stats", bind(app, api::stats));
        g.get("/events/ws", bind(app, live::websocket));
        g.get("/events/sse", bind(app, live::sse));
    });
    Ok(router)
}

/// A started service; see [`start`].
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    app: Arc<App>,
    shutdown: ShutdownHandle,
    server: JoinHandle<io::Result<()>>,
}

/// Connects to PostgreSQL (applying migrations), Memcached, Redis and NATS,
/// binds the listener and serves in a coroutine of its own.
///
/// # Errors
/// A message naming what could not be reached or set up.
pub fn start(config: Config) -> Result<Running, String> {
    let store = Store::open(&config.pg_url, config.pg_pool_size)
        .map_err(|e| format!("postgres at {}: {e}", config.pg_url))?;
    let cache = Cache::new(&config.memcached, &config.namespace, config.cache_ttl)?;
    let limiter = RateLimiter::new(
        &config.redis_url,
        &config.namespace,
        config.rate_limit,
        config.rate_window,
    )?;
    limiter
        .ping()
        .map_err(|e| format!("redis at {}: {e}", config.redis_url))?;
    let events = Events::start(&config.nats_url, &config.namespace)
        .map_err(|e| format!("nats at {}: {e}", config.nats_url))?;
    let titles = TitleFetcher::new(config.title_timeout)?;
    let server = Server::bind(config.addr.as_str())
        .map_err(|e| format!("listen on {}: {e}", config.addr))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(App {
        config,
        store,
        cache,
        limiter,
        events,
        titles,
        started: Instant::now(),
    });
    let router =
        router(&app).map_err(|e| format!("static files in {}: {e}", app.config.static_dir))?;
    let shutdown = server.shutdown_handle();
    let server = fibra::spawn(move || server.serve(router));
    Ok(Running {
        addr,
        app,
        shutdown,
        server,
    })
}

impl Running {
    /// The shared state (for tests and stats).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Graceful shutdown: ends the live streams (WebSocket clients get a
    /// `1001 going away`), stops accepting, lets requests in flight finish
    /// within the configured grace, then closes NATS.
    ///
    /// # Errors
    /// The server's.
    pub fn shutdown(self) -> io::Result<()> {
        self.app.events.hub.close();
        self.shutdown.shutdown(self.app.config.grace);
        let served = self
            .server
            .join()
            .map_err(|_| io::Error::other("the server coroutine panicked"))?;
        self.app.events.close();
        served
    }
}
