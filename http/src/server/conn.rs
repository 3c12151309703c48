//! One connection: read a head, run the handler, write the response, repeat.

use std::net::{Shutdown, SocketAddr};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::TcpStream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};

use super::io::{Input, Output, FLUSH_THRESHOLD};
use super::lifecycle::Lifecycle;
use super::request::BodyState;
use super::transport::Transport;
use super::{ConnEntry, Handler, Request, Response, Shared, TlsSetting};
use crate::proto::{
    encode_response_head, parse_request_head, BodyDecoder, Framing, Limits, ParseError,
    RequestHead, ResponseFraming,
};

/// How long a closing connection keeps reading (and discarding) what the
/// client still sends, so that its last response is not lost to a reset.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 256 * 1024;

/// The stack buffer an idle connection reads the next request into; a
/// larger head continues in the connection's heap buffer.
const FIRST_READ: usize = 2048;

/// Unregisters the connection however its coroutine ends.
struct Registered<'a> {
    shared: &'a Shared,
    id: Option<u64>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.connection_closed(self.id);
    }
}

/// Serves one connection until it closes. Runs in its own coroutine, TLS
/// handshake included.
pub(super) fn run(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    handler: &dyn Handler,
    tls: TlsSetting,
) {
    let _ = stream.set_nodelay(true);
    let co = fibra_runtime::coroutine::current();
    let life = Arc::new(Lifecycle::new(
        co.clone(),
        shared.config.cancel_on_disconnect,
    ));
    let entry = co.map(|co| shared.register(co, life.clone()));
    let id = entry.as_ref().map(|e| e.id());
    let _registered = Registered { shared, id };
    #[cfg(feature = "tls")]
    let transport = match tls {
        None => Transport::Tcp(stream),
        Some(tls) => match handshake(stream, peer, &tls, shared, entry.as_deref()) {
            Some(t) => t,
            None => return,
        },
    };
    #[cfg(not(feature = "tls"))]
    let transport = {
        let () = tls;
        Transport::Tcp(stream)
    };
    let stream = Arc::new(transport);
    life.attach(&stream);
    let conn = Conn {
        shared,
        entry,
        life,
        peer,
        input: Input::new(stream.clone()),
        out: Output {
            stream,
            buf: Vec::new(),
            write_timeout: shared.config.write_timeout,
            broken: false,
        },
        served: 0,
        accepted: Instant::now(),
    };
    conn.serve(handler);
}

struct Conn<'a> {
    shared: &'a Shared,
    /// This connection in the server's table (`None` outside a coroutine).
    entry: Option<Arc<ConnEntry>>,
    /// The request in flight: client gone, shutdown, the hang-up watch.
    life: Arc<Lifecycle>,
    peer: SocketAddr,
    input: Input,
    out: Output,
    served: usize,
    accepted: Instant,
}

impl Conn<'_> {
    fn serve(mut self, handler: &dyn Handler) {
        loop {
            let Some(head) = self.read_head() else {
                return self.close();
            };
            match self.handle(head, handler) {
                Some(conn) => self = conn,
                None => return,
            }
        }
    }

    /// Waits for and parses the next request head, answering malformed ones
    /// with their error status. `None`: close the connection (the client
    /// left, or an error response was queued).
    ///
    /// While idle the connection holds no read buffer: the first bytes of
    /// the next request are read into a buffer in this function's stack
    /// frame, and only what the head leaves over is kept in `self.input`.
    /// Not inlined, so that the buffer's stack space is shared with the
    /// handler's frames rather than added to them.
    #[inline(never)]
    fn read_head(&mut self) -> Option<RequestHead> {
        let cfg = &self.shared.config;
        let limits = Limits {
            max_header_bytes: cfg.max_header_bytes,
            max_headers: cfg.max_headers,
            max_uri: cfg.max_uri_len,
        };
        if self.input.pending().is_empty() {
            // Idle: nothing of the next request yet.
            if self.out.flush().is_err() {
                return None;
            }
            self.input.release();
            self.out.release();
            if !self.set_idle(true) {
                // The shutdown started while this connection was busy:
                // close it as the shutdown closes idle ones, by canceling
                // it (so `close` does not linger for the client).
                if let Some(e) = &self.entry {
                    e.co.cancel();
                }
                return None;
            }
            let mut first = [0u8; FIRST_READ];
            let got = if self.served == 0 {
                let deadline = self.accepted + cfg.header_read_timeout;
                self.input.read_first(&mut first, Some(deadline), None)
            } else {
                self.input
                    .read_first(&mut first, None, Some(cfg.idle_timeout))
            };
            if !self.set_idle(false) {
                // Closed by a shutdown or to admit a new connection.
                return None;
            }
            let n = match got {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut && self.served == 0 => {
                    self.queue_error(Version::HTTP_11, StatusCode::REQUEST_TIMEOUT);
                    return None;
                }
                Err(_) => return None,
            };
            match parse_request_head(&first[..n], &limits) {
                Ok(Some((head, used))) => {
                    self.input.keep(&first[used..n]);
                    return Some(head);
                }
                Ok(None) => self.input.keep(&first[..n]),
                Err(e) => return self.refuse(&e),
            }
        }
        self.read_head_buffered(&limits)
    }

    /// The rest of [`Conn::read_head`]: a head that arrives in pieces, or
    /// one already pending (pipelined).
    #[inline(never)]
    fn read_head_buffered(&mut self, limits: &Limits) -> Option<RequestHead> {
        let mut deadline = None;
        loop {
            match parse_request_head(self.input.pending(), limits) {
                Ok(Some((head, n))) => {
                    self.input.consume(n);
                    return Some(head);
                }
                Ok(None) => {
                    if self.out.flush().is_err() {
                        return None;
                    }
                    // The head started (about) now, or at accept for the
                    // first request; the clock is read only on this path.
                    let timeout = self.shared.config.header_read_timeout;
                    let d = *deadline.get_or_insert_with(|| {
                        if self.served == 0 {
                            self.accepted + timeout
                        } else {
                            Instant::now() + timeout
                        }
                    });
                    match self.input.fill(Some(d)) {
                        Ok(0) => return None,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            self.queue_error(Version::HTTP_11, StatusCode::REQUEST_TIMEOUT);
                            return None;
                        }
                        Err(_) => return None,
                    }
                }
                Err(e) => return self.refuse(&e),
            }
        }
    }

    /// Queues the error response for a refused head.
    #[cold]
    fn refuse(&mut self, e: &ParseError) -> Option<RequestHead> {
        tracing::debug!(peer = %self.peer, error = %e, "fibra-http: refused request");
        self.queue_error(Version::HTTP_11, e.status());
        None
    }

    /// Marks the connection idle (between requests, where a graceful
    /// shutdown, or a new client at `max_connections`, may close it) or
    /// busy. Returns `false` when it should close instead: shutdown started
    /// (going idle), or it was picked to close while idle (going busy).
    fn set_idle(&self, idle: bool) -> bool {
        match &self.entry {
            Some(e) if idle => {
                e.set_idle(self.served > 0, self.shared);
                !self.shared.is_shutting_down()
            }
            Some(e) => e.set_busy(),
            None => true,
        }
    }

    /// Queues a bodyless-handler error response that closes the connection.
    fn queue_error(&mut self, version: Version, status: StatusCode) {
        let body = format!("{}\n", status.canonical_reason().unwrap_or("error"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        encode_response_head(
            version,
            status,
            &headers,
            ResponseFraming::Length(body.len() as u64),
            false,
            &mut self.out.buf,
        );
        self.out.buf.extend_from_slice(body.as_bytes());
    }

    /// Runs the handler for one request and queues its response. Returns
    /// the connection if it can serve another request.
    #[inline(never)]
    fn handle(self, head: RequestHead, handler: &dyn Handler) -> Option<Self> {
        let Conn {
            shared,
            entry,
            life,
            peer,
            input,
            mut out,
            served,
            accepted,
        } = self;
        let cfg = &shared.config;
        let version = head.version;
        let is_head = head.method == Method::HEAD;
        let continue_pending = head.expect_continue && head.framing != Framing::None;
        if continue_pending && out.flush().is_err() {
            // `100 Continue` must not overtake earlier responses.
            return None;
        }
        let last = cfg
            .max_requests_per_connection
            .is_some_and(|max| served + 1 >= max);
        let keep_alive = head.keep_alive && !last && !shared.is_shutting_down();
        life.begin();
        if shared.is_shutting_down() {
            life.shutdown_started();
        }
        let body = BodyState {
            input,
            decoder: BodyDecoder::new(head.framing),
            continue_pending,
            read_timeout: cfg.body_read_timeout,
            deadline: None,
            failed: false,
            life: life.clone(),
        };
        if body.socket_quiet() {
            life.body_quiet();
        }
        let mut req = Request::new(head, peer, body, cfg.max_body_size);
        let mut resp = Response::new(out, version, is_head, keep_alive, life.clone());

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| match cfg.request_timeout {
            Some(t) => fibra_runtime::with_timeout(t, || handler.call(&mut req, &mut resp)),
            None => handler.call(&mut req, &mut resp),
        }));
        // From here on the client leaving cancels nothing (the hang-up hook
        // is removed; one the reactor took just before still runs, and the
        // next read sees the hang-up anyway).
        life.end();
        life.stop_watching();
        let mut healthy = true;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(peer = %peer, error = %e, "fibra-http: handler error");
                if resp.head_sent() {
                    healthy = false;
                } else {
                    resp.reset_to_error(e.status(), e.message());
                }
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                tracing::error!(
                    peer = %peer,
                    method = %req.method(),
                    uri = %req.uri(),
                    panic = %msg,
                    "fibra-http: handler panicked"
                );
                if resp.head_sent() {
                    healthy = false;
                } else {
                    resp.reset_to_error(StatusCode::INTERNAL_SERVER_ERROR, "");
                    resp.keep_alive = false;
                }
            }
        }
        if !healthy {
            // The head is out but the body cannot be completed: closing is
            // the only way to tell the client.
            let _ = resp.out.flush();
            let _ = resp.out.stream.tcp().shutdown(Shutdown::Both);
            return None;
        }
        if life.is_client_gone() {
            return finish_for_departed_client(resp);
        }

        let upgrade = resp
            .upgrade
            .take()
            .filter(|_| resp.status_code() == StatusCode::SWITCHING_PROTOCOLS && !resp.head_sent());
        // Drain before a buffered head is encoded, so that it can still say
        // `Connection: close` when the body cannot be skipped.
        let drained = req.body.drain(cfg.max_drain);
        if !resp.head_sent() && (!drained || shared.is_shutting_down()) {
            resp.keep_alive = false;
        }
        let keep = resp.finish() && drained;
        let mut out = std::mem::replace(
            &mut resp.out,
            Output {
                stream: req.body.input.stream.clone(),
                buf: Vec::new(),
                write_timeout: None,
                broken: true,
            },
        );
        drop(resp);
        let input = req.into_input();
        if let Some(f) = upgrade {
            if out.flush().is_err() {
                return None;
            }
            return hand_over(input, out, f);
        }
        let mut conn = Conn {
            shared,
            entry,
            life,
            peer,
            input,
            out,
            served: served + 1,
            accepted,
        };
        if conn.out.broken {
            return None;
        }
        if !keep {
            conn.close();
            return None;
        }
        if (conn.input.pending().is_empty() || conn.out.buf.len() >= FLUSH_THRESHOLD)
            && conn.out.flush().is_err()
        {
            return None;
        }
        Some(conn)
    }

    /// Flushes, half-closes and lingers briefly, discarding input, so the
    /// client reads the last response instead of a connection reset.
    #[inline(never)]
    fn close(mut self) {
        if self.out.flush().is_err() {
            return;
        }
        if self.input.stream.close_write().is_err() {
            return;
        }
        let deadline = Instant::now() + LINGER;
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            let n = self.input.pending().len();
            self.input.consume(n);
            discarded += n;
            match self.input.fill(Some(deadline)) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// The client closed or reset the connection while its handler ran: send
/// what the handler produced (a client that only half-closed may still
/// read it), then close. The connection's coroutine may have been canceled
/// for the departure, so this runs shielded; the write timeout bounds it.
#[cold]
fn finish_for_departed_client(mut resp: Response) -> Option<Conn<'static>> {
    fibra_runtime::shield(|| {
        if !resp.head_sent() {
            resp.keep_alive = false;
        }
        resp.upgrade = None;
        let _ = resp.finish();
        let _ = resp.out.flush();
        let _ = resp.out.stream.tcp().shutdown(Shutdown::Both);
    });
    None
}

/// The TLS handshake, in the connection's coroutine, bounded by
/// `Config::tls_handshake_timeout`. Meanwhile the connection counts as
/// idle and new: a graceful shutdown closes it, a new client at
/// `max_connections` does not. `None`: the connection is done (a failed
/// handshake costs only a debug line).
#[cfg(feature = "tls")]
#[inline(never)]
fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: &super::tls::ServerTls,
    shared: &Shared,
    entry: Option<&ConnEntry>,
) -> Option<Transport> {
    if let Some(e) = entry {
        e.set_idle(false, shared);
        if shared.is_shutting_down() {
            return None;
        }
    }
    let deadline = Instant::now() + shared.config.tls_handshake_timeout;
    let result = tls.handshake(tcp, deadline);
    if entry.is_some_and(|e| !e.set_busy()) {
        return None;
    }
    let session = match result {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(peer = %peer, error = %e, "fibra-http: TLS handshake failed");
            return None;
        }
    };
    // The protocol agreed through ALPN. Only HTTP/1.1 is offered; with
    // HTTP/2, `h2` gets its arm here and the connection its own server.
    match session.state().alpn_protocol() {
        None | Some(super::tls::ALPN_HTTP1) => Some(Transport::Tls(Box::new(session))),
        Some(other) => {
            tracing::debug!(
                peer = %peer,
                alpn = %String::from_utf8_lossy(other),
                "fibra-http: ALPN protocol not served"
            );
            None
        }
    }
}

/// Passes the connection to an upgrade callback.
fn hand_over(
    mut input: Input,
    out: Output,
    f: super::response::UpgradeFn,
) -> Option<Conn<'static>> {
    let buffered = input.take_pending();
    let stream = input.stream.clone();
    drop(input);
    drop(out);
    match Arc::try_unwrap(stream) {
        Ok(stream) => {
            let _ = stream.tcp().set_read_timeout(None);
            let _ = stream.tcp().set_write_timeout(None);
            f(stream.into_upgraded(buffered));
        }
        Err(_) => tracing::error!("fibra-http: upgraded connection still shared"),
    }
    None
}
