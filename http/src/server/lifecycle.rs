//! A request's lifecycle: whether its client is still there and whether
//! the server is shutting down (Go's `r.Context()`), and the coroutine that
//! watches the connection for the client leaving while a handler runs.
//!
//! One [`Lifecycle`] belongs to a connection and is reset for each request.
//! Once the request body has been read (or when there is none), the
//! connection's socket is watched for the client hanging up, with no
//! coroutine and no read: a hook stored on the socket's registration
//! ([`TcpStream::on_hangup`]) is called by the reactor when the peer closes
//! or resets the connection (`EPOLLRDHUP`/`EPOLLHUP`/`EPOLLERR`). Over TLS
//! the hook sits on the TCP socket under the session, so it works the same. Then the
//! request's `done` channel is closed and, unless turned off, the
//! connection's coroutine (running the handler) is canceled. Data that
//! arrives (the next pipelined request) calls nothing and stays in the
//! socket for the connection. Watching costs storing and removing the hook
//! per request.
//!
//! One difference from Go's background read: a client that sends the next
//! pipelined request and then closes its side, both while the handler runs,
//! counts as gone (Go would answer both requests). Clients that pipeline
//! and half-close mid-request are rare; browsers and curl do neither.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};

#[cfg(doc)]
use fibra_net::TcpStream;
use fibra_runtime::chan::{self, Receiver, Sender};
use fibra_runtime::coroutine::Coroutine;

use super::lock;
use super::transport::Transport;

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
    flags: AtomicU8,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The connection's socket, once it is set up (after a TLS handshake);
    /// weak: an upgrade takes it over.
    stream: Weak<Transport>,
    /// Created on the first `done()` of a request; closed when any of
    /// `GONE`, `SHUTDOWN` or `ENDED` is set.
    done: Option<(Sender<()>, Receiver<()>)>,
    /// A hang-up hook is stored on the socket for this request.
    watching: bool,
    /// The connection's hang-up hook, made on the first watch and stored
    /// again for each later request (no allocation per request). It holds
    /// the lifecycle weakly: the socket's registration owns it.
    hook: Option<fibra_runtime::io::HangupHook>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("stream", &self.stream.upgrade().is_some())
            .field("done", &self.done)
            .field("watching", &self.watching)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Lifecycle {
    pub(crate) fn new(conn: Option<Coroutine>, auto_cancel: bool) -> Lifecycle {
        Lifecycle {
            conn,
            auto_cancel,
            flags: AtomicU8::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Sets the socket to watch, once the connection has one (a TLS
    /// connection after its handshake).
    pub(crate) fn attach(&self, stream: &Arc<Transport>) {
        lock(&self.inner).stream = Arc::downgrade(stream);
    }

    /// Starts a request: clears the previous request's state. The caller
    /// then checks the server's shutdown flag and calls
    /// [`Lifecycle::shutdown_started`] if it is set (a shutdown that ran
    /// before this reset would otherwise be forgotten).
    pub(crate) fn begin(&self) {
        self.flags.store(0, Ordering::SeqCst);
        let mut inner = lock(&self.inner);
        inner.done = None;
        debug_assert!(!inner.watching);
    }

    fn set(&self, flag: u8) {
        if self.flags.fetch_or(flag, Ordering::SeqCst) & flag != 0 {
            return;
        }
        if let Some((tx, _)) = lock(&self.inner).done.as_ref() {
            tx.close();
        }
    }

    /// The client went away (seen by the hang-up hook, or by a body read).
    /// Called from a reactor thread by the hook: it only sets a flag,
    /// closes a channel and cancels a coroutine, none of which blocks.
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
    /// watching, whether or not the automatic cancel is on, so that
    /// `is_client_gone` is already right when first asked.
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

    /// Starts watching the socket for the client leaving, unless it is
    /// watched already for this request or the request is over.
    fn watch(self: &Arc<Self>) {
        if self.flags.load(Ordering::SeqCst) & (GONE | ENDED) != 0 {
            return;
        }
        let mut inner = lock(&self.inner);
        if inner.watching {
            return;
        }
        let Some(stream) = inner.stream.upgrade() else {
            return;
        };
        let hook = inner
            .hook
            .get_or_insert_with(|| {
                let life = Arc::downgrade(self);
                Arc::new(move || {
                    if let Some(life) = life.upgrade() {
                        life.client_gone();
                    }
                })
            })
            .clone();
        match stream.tcp().on_hangup(Some(hook)) {
            Ok(false) => inner.watching = true,
            Ok(true) => {
                drop(inner);
                self.client_gone();
            }
            Err(e) => tracing::debug!(error = %e, "fibra-http: cannot watch a connection"),
        }
    }

    /// Stops watching. A hang-up seen from here on is not this request's
    /// (the connection's next read sees it).
    pub(crate) fn stop_watching(&self) {
        let stream = {
            let mut inner = lock(&self.inner);
            let watching = std::mem::take(&mut inner.watching);
            if !watching {
                return;
            }
            inner.stream.upgrade()
        };
        if let Some(stream) = stream {
            let _ = stream.tcp().on_hangup(None);
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
