//! The HTTP/1.1 server: one coroutine per connection.

mod conn;
mod handler;
mod io;
mod lifecycle;
mod request;
mod response;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fibra_net::{TcpListener, ToSocketAddrs};
use fibra_runtime::chan::{self, Receiver, Sender};
use fibra_runtime::coroutine::Coroutine;
use fibra_runtime::Unparker;

use lifecycle::Lifecycle;

pub use crate::client::Upgraded;
pub use handler::{handler_fn, Handler};
pub use request::{Body, Request};
pub use response::{BodyWriter, Response};

/// A server's TLS acceptor, handed to each connection: `None` for plain
/// HTTP.
#[cfg(feature = "tls")]
type TlsSetting = Option<Arc<tls::ServerTls>>;
#[cfg(not(feature = "tls"))]
type TlsSetting = ();

/// Server limits and timeouts. Start from `Config::default()` and change
/// fields: `Config { max_connections: 100, ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest request head, request line included (default 16 KiB): `431`.
    pub max_header_bytes: usize,
    /// Most header fields in a request (default 100): `431`.
    pub max_headers: usize,
    /// Longest request target (default 8 KiB): `414`.
    pub max_uri_len: usize,
    /// Largest body that [`Request::body_bytes`], [`Request::form`] and
    /// `Request::json` read into memory (default 10 MiB): `413`.
    pub max_body_size: usize,
    /// Time allowed to receive a request head once it started, or from
    /// accepting the connection (from the end of the TLS handshake, over
    /// TLS) to the first request (default 10 s): `408` and close.
    pub header_read_timeout: Duration,
    /// Time allowed for a TLS handshake, from accepting the connection
    /// (default 10 s, as Go's `ReadHeaderTimeout` bounds its handshake); a
    /// client slower than that is disconnected. Unused on plain HTTP.
    pub tls_handshake_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request
    /// (default 60 s).
    pub idle_timeout: Duration,
    /// Longest wait for the next byte of a request body (default 30 s).
    pub body_read_timeout: Duration,
    /// Longest wait for a write to the client to progress (default 30 s).
    pub write_timeout: Option<Duration>,
    /// Deadline for a handler, from when its request head was read
    /// (default none): every blocking call in the handler fails with
    /// `TimedOut` after it (see `fibra_runtime::with_timeout`).
    pub request_timeout: Option<Duration>,
    /// Requests served on one connection before it is closed (default
    /// none).
    pub max_requests_per_connection: Option<usize>,
    /// Most open connections (default 10,000). A new client at the limit
    /// makes the server close the keep-alive connection idle the longest
    /// (one that has served a request and waits for the next), as hyper
    /// does; when none is idle, it waits until one closes or goes idle,
    /// holding the new connection, with later ones left in the kernel's
    /// backlog.
    pub max_connections: usize,
    /// How much unread request body the server discards after a handler to
    /// keep the connection (default 256 KiB); past it the connection closes.
    pub max_drain: usize,
    /// Cancel a handler's coroutine when its client goes away (default
    /// `true`): once the request body has been read (or when there is
    /// none) the server watches the connection, and on end of stream or a
    /// reset it cancels the handler, so its next cancel-aware blocking call
    /// (or a `select!` with an `interrupted` arm) fails at once. Off, the
    /// connection is still watched, but the handler runs on; it can ask
    /// with [`Request::is_client_gone`] or wait on [`Request::done`].
    pub cancel_on_disconnect: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_len: 8 * 1024,
            max_body_size: 10 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            write_timeout: Some(Duration::from_secs(30)),
            request_timeout: None,
            max_requests_per_connection: None,
            max_connections: 10_000,
            max_drain: 256 * 1024,
            cancel_on_disconnect: true,
        }
    }
}

/// An HTTP/1.1 server, plain or over TLS: Go's `http.Server`.
///
/// ```no_run
/// use fibra_http::{Error, Request, Response, Server};
///
/// fn hello(_req: &mut Request, resp: &mut Response) -> Result<(), Error> {
///     resp.text("hello\n");
///     Ok(())
/// }
///
/// fibra_runtime::run(|| Server::bind("127.0.0.1:8080")?.serve(hello)).unwrap();
/// ```
///
/// For HTTPS, bind with [`Server::bind_tls`] or add [`Server::tls`]; the
/// handlers stay the same and learn about the session from
/// [`Request::tls`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: TlsSetting,
}

/// Stops a running [`Server`] gracefully; see [`Server::shutdown_handle`].
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    /// Open connections.
    active: AtomicUsize,
    shutting_down: AtomicBool,
    /// When in-flight requests are cut off after a shutdown.
    grace_deadline: Mutex<Option<Instant>>,
    acceptor: Mutex<Option<Coroutine>>,
    /// The acceptor parked at `max_connections`.
    acceptor_waiting: AtomicBool,
    acceptor_unparker: Mutex<Option<Unparker>>,
    /// `serve`'s caller waiting for connections to finish.
    drain_waiter: Mutex<Option<Unparker>>,
    /// Connection coroutines by id. Locked once when a connection opens
    /// and once when it closes; the per-request idle state is an atomic in
    /// the entry.
    conns: Mutex<HashMap<u64, Arc<ConnEntry>>>,
    /// Closed when the shutdown starts ([`ShutdownHandle::started`]).
    started_tx: Sender<()>,
    started_rx: Receiver<()>,
    /// The origin of [`ConnEntry::idle_since`].
    epoch: Instant,
}

/// Handling a request (or reading its head).
const BUSY: u8 = 0;
/// Waiting for the first request of a connection.
const IDLE_NEW: u8 = 1;
/// Waiting for the next request after serving one: a keep-alive
/// connection, which a new client at `max_connections` may displace.
const IDLE_KEEP_ALIVE: u8 = 2;
/// Picked to close while idle (shutdown, or to admit a new client); its
/// coroutine is canceled.
const CLOSING: u8 = 3;

/// One open connection: its coroutine, whether it is idle (between
/// requests, where a graceful shutdown cancels it) and since when, and its
/// request's lifecycle.
#[derive(Debug)]
struct ConnEntry {
    co: Coroutine,
    state: AtomicU8,
    /// Nanoseconds from [`Shared::epoch`] to when it last went idle.
    idle_since: AtomicU64,
    life: Arc<Lifecycle>,
}

impl ConnEntry {
    fn id(&self) -> u64 {
        self.co.id()
    }

    /// Marks the connection idle. The shutdown check is the caller's, after
    /// this store (both sides use `SeqCst`: either the connection sees the
    /// shutdown flag, or the shutdown sees it idle and cancels its wait).
    fn set_idle(&self, served: bool, shared: &Shared) {
        if served {
            let since = shared.epoch.elapsed().as_nanos() as u64;
            self.idle_since.store(since, Ordering::Relaxed);
            self.state.store(IDLE_KEEP_ALIVE, Ordering::SeqCst);
        } else {
            self.state.store(IDLE_NEW, Ordering::SeqCst);
        }
    }

    /// Marks the connection busy; `false` if it was picked to close while
    /// idle (its coroutine is canceled: it cannot serve a request).
    fn set_busy(&self) -> bool {
        self.state.swap(BUSY, Ordering::SeqCst) != CLOSING
    }

    /// Closes the connection if it is idle (in state `from`): cancels its
    /// wait for a request. `false` if it was not.
    fn close_if(&self, from: u8) -> bool {
        let closing = self
            .state
            .compare_exchange(from, CLOSING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if closing {
            self.co.cancel();
        }
        closing
    }
}

/// Locks a mutex, ignoring poisoning (the guarded data stays consistent:
/// every critical section is a single insert, remove or flag update).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Registers the calling connection's coroutine (initially busy).
    fn register(&self, co: Coroutine, life: Arc<Lifecycle>) -> Arc<ConnEntry> {
        let entry = Arc::new(ConnEntry {
            co,
            state: AtomicU8::new(BUSY),
            idle_since: AtomicU64::new(0),
            life,
        });
        lock(&self.conns).insert(entry.id(), entry.clone());
        entry
    }

    /// Closes the keep-alive connection that has been idle the longest, to
    /// make room for a new one. `false` if none is idle.
    fn close_longest_idle(&self) -> bool {
        loop {
            let oldest = lock(&self.conns)
                .values()
                .filter(|e| e.state.load(Ordering::SeqCst) == IDLE_KEEP_ALIVE)
                .min_by_key(|e| e.idle_since.load(Ordering::Relaxed))
                .cloned();
            match oldest {
                None => return false,
                // It may have just received a request: then look again.
                Some(e) if e.close_if(IDLE_KEEP_ALIVE) => return true,
                Some(_) => {}
            }
        }
    }

    fn connection_closed(&self, id: Option<u64>) {
        if let Some(id) = id {
            lock(&self.conns).remove(&id);
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
        if self.acceptor_waiting.swap(false, Ordering::SeqCst) {
            if let Some(u) = lock(&self.acceptor_unparker).as_ref() {
                u.unpark();
            }
        }
        if self.is_shutting_down() {
            if let Some(u) = lock(&self.drain_waiter).as_ref() {
                u.unpark();
            }
        }
    }
}

impl Server {
    /// Binds a listener on `addr` with the default [`Config`].
    ///
    /// # Errors
    /// The listener's bind errors.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> std::io::Result<Server> {
        Ok(Server::new(TcpListener::bind(addr)?))
    }

    /// Binds a listener on `addr` serving HTTPS with `tls`, with the
    /// default [`Config`]: `Server::bind(addr)?.tls(tls)`.
    ///
    /// # Errors
    /// The listener's bind errors.
    #[cfg(feature = "tls")]
    pub fn bind_tls<A: ToSocketAddrs>(addr: A, tls: tls::Config) -> std::io::Result<Server> {
        Ok(Server::bind(addr)?.tls(tls))
    }

    /// A server accepting on `listener`, with the default [`Config`].
    pub fn new(listener: TcpListener) -> Server {
        let (started_tx, started_rx) = chan::bounded(0);
        Server {
            listener,
            shared: Arc::new(Shared {
                config: Config::default(),
                active: AtomicUsize::new(0),
                shutting_down: AtomicBool::new(false),
                grace_deadline: Mutex::new(None),
                acceptor: Mutex::new(None),
                acceptor_waiting: AtomicBool::new(false),
                acceptor_unparker: Mutex::new(None),
                drain_waiter: Mutex::new(None),
                conns: Mutex::new(HashMap::new()),
                started_tx,
                started_rx,
                epoch: Instant::now(),
            }),
            tls: TlsSetting::default(),
        }
    }

    /// Serves HTTPS with `tls`: every connection starts with a TLS
    /// handshake, in its own coroutine and bounded by
    /// [`Config::tls_handshake_timeout`]. Keep-alive, pipelining, upgrades
    /// (`wss://`), client-gone detection, limits and graceful shutdown work
    /// as on plain HTTP. Replace the settings later with
    /// [`Server::tls_reloader`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: tls::Config) -> Server {
        self.tls = Some(Arc::new(tls::ServerTls::new(&tls)));
        self
    }

    /// A handle that replaces the TLS settings of the running server (a
    /// renewed certificate): new handshakes use them, open connections keep
    /// their session. `None` on a plain-HTTP server.
    #[cfg(feature = "tls")]
    pub fn tls_reloader(&self) -> Option<tls::Reloader> {
        self.tls.as_ref().map(|t| t.reloader())
    }

    /// Replaces the configuration. Call it before [`Server::shutdown_handle`]
    /// and [`Server::serve`].
    ///
    /// # Panics
    /// If a [`ShutdownHandle`] was already taken.
    pub fn with_config(mut self, config: Config) -> Server {
        Arc::get_mut(&mut self.shared)
            .expect("fibra-http: with_config after shutdown_handle")
            .config = config;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The address the server listens on (to learn the port after binding
    /// port 0).
    ///
    /// # Errors
    /// The listener's errors.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops the server from another coroutine or thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts connections and serves each in its own coroutine with
    /// `handler`, until [`ShutdownHandle::shutdown`]. Blocks the caller
    /// (a coroutine, or a plain thread using the global runtime); returns
    /// once shutdown has finished.
    ///
    /// # Errors
    /// None today while serving (accept errors are logged and retried after
    /// a pause); `Other` if the accept loop panicked.
    pub fn serve(self, handler: impl Handler) -> std::io::Result<()> {
        let shared = self.shared;
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let listener = self.listener;
        let tls = self.tls;
        let acc_shared = shared.clone();
        let acceptor =
            fibra_runtime::spawn(move || accept_loop(&listener, &acc_shared, &handler, &tls));
        *lock(&shared.acceptor) = Some(acceptor.coroutine());
        if shared.is_shutting_down() {
            acceptor.cancel();
        }
        let result = acceptor
            .join()
            .map_err(|_| std::io::Error::other("fibra-http: accept loop panicked"));
        wait_for_connections(&shared);
        result
    }
}

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    handler: &Arc<dyn Handler>,
    tls: &TlsSetting,
) {
    *lock(&shared.acceptor_unparker) = Some(fibra_runtime::current_unparker());
    loop {
        if shared.is_shutting_down() {
            return;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if !make_room(shared) {
                    return;
                }
                shared.active.fetch_add(1, Ordering::SeqCst);
                let sh = shared.clone();
                let h = handler.clone();
                let tls = tls.clone();
                let spawned = fibra_runtime::coroutine::Builder::new()
                    .name("fibra-http-conn")
                    .spawn(move || conn::run(stream, peer, &sh, &*h, tls));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "fibra-http: cannot spawn a connection coroutine");
                    shared.connection_closed(None);
                }
            }
            Err(e) => {
                if shared.is_shutting_down() || fibra_runtime::is_canceled(&e) {
                    return;
                }
                // Out of file descriptors and the like: pause, then retry.
                // A pause cut short (canceled, or the `with_timeout` scope
                // `serve` runs in has passed) ends the loop instead of
                // spinning on `accept`'s errors.
                tracing::warn!(error = %e, "fibra-http: accept failed");
                if fibra_runtime::sleep_cancelable(Duration::from_millis(20)).is_err() {
                    return;
                }
            }
        }
    }
}

/// How often the acceptor, at `max_connections` with no idle connection to
/// close, looks again for one that went idle.
const RECHECK_IDLE: Duration = Duration::from_millis(50);

/// Back-pressure at `max_connections`, with a client accepted and waiting:
/// closes the longest-idle keep-alive connection, or waits until one
/// closes (or goes idle, to close it). `false`: the server is stopping.
fn make_room(shared: &Shared) -> bool {
    let max = shared.config.max_connections.max(1);
    let mut closed_one = false;
    while shared.active.load(Ordering::SeqCst) >= max {
        if !closed_one {
            closed_one = shared.close_longest_idle();
        }
        shared.acceptor_waiting.store(true, Ordering::SeqCst);
        if shared.active.load(Ordering::SeqCst) < max {
            shared.acceptor_waiting.store(false, Ordering::SeqCst);
            break;
        }
        // A closed connection wakes this at once; the deadline only serves
        // to look for newly idle ones.
        let recheck = (!closed_one).then(|| Instant::now() + RECHECK_IDLE);
        let waited = fibra_runtime::park_deadline(recheck);
        if shared.is_shutting_down() || waited.as_ref().is_err_and(fibra_runtime::is_canceled) {
            return false;
        }
    }
    true
}

/// After the accept loop stopped: wait for in-flight requests until the
/// grace deadline, then cancel what is left.
fn wait_for_connections(shared: &Shared) {
    *lock(&shared.drain_waiter) = Some(fibra_runtime::current_unparker());
    let deadline = lock(&shared.grace_deadline).unwrap_or_else(Instant::now);
    while shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        // Spurious wake-ups and timeouts both lead back to the loop test.
        let _ = fibra_runtime::park_deadline(Some(deadline));
    }
    if shared.active.load(Ordering::SeqCst) > 0 {
        for entry in lock(&shared.conns).values() {
            entry.co.cancel();
        }
        let hard = Instant::now() + Duration::from_secs(1);
        while shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < hard {
            let _ = fibra_runtime::park_deadline(Some(hard));
        }
    }
}

impl ShutdownHandle {
    /// Starts a graceful shutdown: the server stops accepting, closes idle
    /// connections, lets requests in flight finish (their responses say
    /// `Connection: close`) for up to `grace`, then cancels the rest.
    /// Returns at once; [`Server::serve`] returns when it is done.
    pub fn shutdown(&self, grace: Duration) {
        let sh = &self.shared;
        *lock(&sh.grace_deadline) = Some(Instant::now() + grace);
        sh.shutting_down.store(true, Ordering::SeqCst);
        if let Some(acceptor) = lock(&sh.acceptor).as_ref() {
            acceptor.cancel();
        }
        sh.started_tx.close();
        for entry in lock(&sh.conns).values() {
            if !entry.close_if(IDLE_NEW) && !entry.close_if(IDLE_KEEP_ALIVE) {
                // Busy: its handler's `Request::done` closes.
                entry.life.shutdown_started();
            }
        }
        if let Some(u) = lock(&sh.drain_waiter).as_ref() {
            u.unpark();
        }
    }

    /// A receiver that is closed when [`ShutdownHandle::shutdown`] starts,
    /// for long-lived handlers (streams, WebSockets, long polls) to end
    /// early instead of holding the shutdown until its grace period ends:
    /// Go's `srv.RegisterOnShutdown`, as a channel for `select!`. Nothing
    /// is ever sent on it. [`Request::done`] closes at the same moment, and
    /// `EventStream::forward` (SSE) returns by itself.
    ///
    /// ```no_run
    /// use fibra_http::{handler_fn, Server};
    /// use fibra_runtime::select;
    ///
    /// # fibra_runtime::run(|| -> std::io::Result<()> {
    /// let server = Server::bind("127.0.0.1:8080")?;
    /// let stopping = server.shutdown_handle().started();
    /// server.serve(handler_fn(move |_req, resp| {
    ///     select! {
    ///         recv(stopping) -> _ => resp.text("server going away\n"),
    ///         timeout(std::time::Duration::from_secs(30)) => resp.text("no news\n"),
    ///     };
    ///     Ok(())
    /// }))
    /// # }).unwrap();
    /// ```
    pub fn started(&self) -> Receiver<()> {
        self.shared.started_rx.clone()
    }

    /// Whether [`ShutdownHandle::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.is_shutting_down()
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }
}
