//! A request's lifecycle: whether its client is still there and whether
//! the server is shutting down (Go's `r.Context()`), and the coroutine that
//! watches the connection for the client leaving while a handler runs.
//!
//! One [`Lifecycle`] belongs to a connection and is reset for each request.
//! Once the request body has been read (or when there is none), a watcher
//! coroutine peeks at the socket: end of stream or a reset means the client
//! left, so the request's `done` channel is closed and, unless turned off,
//! the connection's coroutine (running the handler) is canceled. A byte
//! that arrives instead is the next pipelined request; `peek` leaves it in
//! the socket for the connection, and the watcher stops.
//!
//! The watcher and the connection never read the socket at the same time:
//! the watcher starts only when the body is complete and nothing else is
//! buffered, and the connection stops (and, if it had started, joins) the
//! watcher before it reads again or hands the socket to an upgrade.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};

use fibra_net::TcpStream;
use fibra_runtime::chan::{self, Receiver, Sender};
use fibra_runtime::coroutine::Coroutine;
use fibra_runtime::JoinHandle;

use super::lock;

/// The client closed or reset the connection.
const GONE: u8 = 1;
/// The server's graceful shutdown started.
const SHUTDOWN: u8 = 2;
/// The handler returned.
const ENDED: u8 = 4;
/// The handler's body reads no longer touch the socket: it is watched.
const QUIET: u8 = 8;

/// What the server knows about the request in flight on one connection.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    /// The connection's coroutine, canceled when the client leaves.
    conn: Option<Coroutine>,
    /// `Config::cancel_on_disconnect`.
    auto_cancel: bool,
    /// The connection's socket (weak: an upgrade takes it over).
    stream: Weak<TcpStream>,
    flags: AtomicU8,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Created on the first `done()` of a request; closed when any of
    /// `GONE`, `SHUTDOWN` or `ENDED` is set.
    done: Option<(Sender<()>, Receiver<()>)>,
    watcher: Option<Watcher>,
}

impl Lifecycle {
    pub(crate) fn new(
        conn: Option<Coroutine>,
        auto_cancel: bool,
        stream: &Arc<TcpStream>,
    ) -> Lifecycle {
        Lifecycle {
            conn,
            auto_cancel,
            stream: Arc::downgrade(stream),
            flags: AtomicU8::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Starts a request: clears the previous request's state. The caller
    /// then checks the server's shutdown flag and calls
    /// [`Lifecycle::shutdown_started`] if it is set (a shutdown that ran
    /// before this reset would otherwise be forgotten).
    pub(crate) fn begin(&self) {
        self.flags.store(0, Ordering::SeqCst);
        let mut inner = lock(&self.inner);
        inner.done = None;
        debug_assert!(inner.watcher.is_none());
    }

    fn set(&self, flag: u8) {
        if self.flags.fetch_or(flag, Ordering::SeqCst) & flag != 0 {
            return;
        }
        if let Some((tx, _)) = lock(&self.inner).done.as_ref() {
            tx.close();
        }
    }

    /// The client went away (seen by the watcher, or by a body read).
    pub(crate) fn client_gone(&self) {
        let before = self.flags.fetch_or(GONE, Ordering::SeqCst);
        if before & GONE != 0 {
            return;
        }
        if let Some((tx, _)) = lock(&self.inner).done.as_ref() {
            tx.close();
        }
        if self.auto_cancel && before & ENDED == 0 {
            if let Some(co) = &self.conn {
                co.cancel();
            }
        }
    }

    /// The server's graceful shutdown started.
    pub(crate) fn shutdown_started(&self) {
        self.set(SHUTDOWN);
    }

    /// The handler returned: `done` closes, as Go's request context is
    /// canceled when `ServeHTTP` returns.
    pub(crate) fn end(&self) {
        self.set(ENDED);
    }

    pub(crate) fn is_client_gone(&self) -> bool {
        self.flags.load(Ordering::SeqCst) & GONE != 0
    }

    /// Marks that the handler's reads no longer touch the socket (the body
    /// is complete, or entirely buffered, and nothing follows it): starts
    /// watching. The watcher runs whether or not the automatic cancel is
    /// on, so that `is_client_gone` is already right when first asked.
    pub(crate) fn body_quiet(self: &Arc<Self>) {
        let before = self.flags.fetch_or(QUIET, Ordering::SeqCst);
        if before & QUIET == 0 {
            self.watch();
        }
    }

    /// A receiver that is closed when the client leaves, the shutdown
    /// starts or the handler returns.
    pub(crate) fn done(&self) -> Receiver<()> {
        let mut inner = lock(&self.inner);
        let (tx, rx) = inner.done.get_or_insert_with(|| chan::bounded(0));
        let rx = rx.clone();
        // Flags are read under the lock that `set` takes to close: either
        // `set` sees this channel, or this sees its flag.
        if self.flags.load(Ordering::SeqCst) & (GONE | SHUTDOWN | ENDED) != 0 {
            tx.close();
        }
        rx
    }

    /// Starts watching the socket for the client leaving, unless a watcher
    /// already runs for this request or the request is over.
    fn watch(self: &Arc<Self>) {
        if self.flags.load(Ordering::SeqCst) & (GONE | ENDED) != 0 {
            return;
        }
        let mut inner = lock(&self.inner);
        if inner.watcher.is_none() {
            inner.watcher = Watcher::spawn(self.stream.clone(), self.clone());
        }
    }

    /// Stops the watcher, if any, and waits until it no longer uses the
    /// socket. After this, [`Lifecycle::is_client_gone`] is final for the
    /// request.
    pub(crate) fn stop_watching(&self) {
        let watcher = lock(&self.inner).watcher.take();
        if let Some(w) = watcher {
            w.stop();
        }
    }
}

/// Not started yet: it may never touch the socket.
const PENDING: u8 = 0;
/// Peeking at the socket.
const WATCHING: u8 = 1;
/// Told to stop.
const STOPPED: u8 = 2;

/// The coroutine peeking at the socket.
#[derive(Debug)]
struct Watcher {
    state: Arc<AtomicU8>,
    handle: JoinHandle<()>,
}

impl Watcher {
    /// Spawns the watcher pinned to the caller's worker, so that stopping
    /// it never wakes another thread. It holds the stream weakly until it
    /// starts, so that a watcher stopped before its first run neither keeps
    /// the socket alive nor has to be waited for.
    fn spawn(stream: Weak<TcpStream>, life: Arc<Lifecycle>) -> Option<Watcher> {
        let state = Arc::new(AtomicU8::new(PENDING));
        let st = state.clone();
        let spawned = fibra_runtime::coroutine::Builder::new()
            .name("fibra-http-watch")
            .pinned(true)
            .spawn(move || {
                if st
                    .compare_exchange(PENDING, WATCHING, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    return;
                }
                if let Some(stream) = stream.upgrade() {
                    if watch(&stream) {
                        life.client_gone();
                    }
                }
            });
        match spawned {
            Ok(handle) => Some(Watcher { state, handle }),
            Err(e) => {
                tracing::warn!(error = %e, "fibra-http: cannot spawn a connection watcher");
                None
            }
        }
    }

    fn stop(self) {
        if self.state.swap(STOPPED, Ordering::SeqCst) == WATCHING {
            self.handle.cancel();
            // Deaf to cancellation on purpose: the connection's own
            // coroutine may be canceled, and must still wait until the
            // watcher has left the socket.
            let _ = self.handle.join();
        }
    }
}

/// Waits until the client leaves (`true`) or sends the next request, or the
/// watcher is canceled (`false`).
fn watch(stream: &TcpStream) -> bool {
    // Nobody else reads while the watcher runs; the connection sets its own
    // timeout again before its next read.
    let _ = stream.set_read_timeout(None);
    let mut byte = [0u8; 1];
    loop {
        match stream.peek(&mut byte) {
            Ok(0) => return true,
            Ok(_) => return false,
            Err(e) if fibra_runtime::is_canceled(&e) => return false,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
}

/// Whether a body read error means the client left (not a timeout, a
/// malformed body or a cancel).
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}
