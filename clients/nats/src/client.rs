//! The client: a reader coroutine that decodes and dispatches, a writer
//! coroutine that flushes one shared buffer (so concurrent publishes are
//! batched into few writes), and a driver that reconnects across the
//! server pool, re-subscribes and sends what was buffered meanwhile.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::chan::{self, OneshotSender, Receiver, RecvError, Sender, TrySendError};
use fibra_runtime::sync::{Condvar, Mutex, MutexGuard};
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use crate::conn::{self, Established, ServerInfo, Transport};
use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::options::{ConnectOptions, ServerAddr};
use crate::proto::{self, ServerOp};
use crate::subscription::{Handler, Message, SubCounters, Subscription};

/// Publishers wait while this much is queued for the socket.
///
/// Kept small on purpose: the writer swaps out the whole buffer, so this
/// is also the size of one socket write. A 4 MiB mark made each cycle grow
/// a fresh multi-megabyte buffer (page faults on every new page, about one
/// per 4 KiB published) and copy it through memory far bigger than the
/// caches; with 128 KiB the two buffers stay warm and reused, and the 1 KiB
/// publish benchmark spends about half the CPU time.
const HIGH_WATER: usize = 128 << 10;
/// The writer's spare buffer is kept for reuse up to this capacity (one
/// high-water buffer plus a large message); bigger ones, grown while
/// reconnecting or by a huge publish, are given back.
const KEEP_SPARE: usize = 2 << 20;
const EVENT_BACKLOG: usize = 1024;

/// The connection's state, from [`Client::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Connected to a server.
    Connected,
    /// Lost the server; trying the pool (publishes are buffered).
    Reconnecting,
    /// Draining subscriptions before closing.
    Draining,
    /// Closed for good.
    Closed,
}

/// Something that happened to the connection ([`Client::events`],
/// [`ConnectOptions::event_callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Connected (the first time) to this server.
    Connected(String),
    /// The connection was lost, for this reason.
    Disconnected(String),
    /// Connected again, to this server.
    Reconnected(String),
    /// The server is about to shut down (lame duck mode).
    LameDuckMode,
    /// A subscription's pending limits were reached; messages are dropped.
    SlowConsumer {
        /// The subscription id.
        sid: u64,
        /// Its subject.
        subject: String,
    },
    /// The server sent `-ERR` with this text.
    ServerError(String),
    /// The cluster announced servers not in the pool yet.
    ServersDiscovered(Vec<String>),
    /// The client is closed.
    Closed,
}

enum SubKind {
    Chan {
        tx: Sender<Message>,
        counters: Arc<SubCounters>,
    },
    /// The one wildcard subscription all requests' replies arrive on.
    Mux,
}

struct SubEntry {
    subject: String,
    queue: Option<String>,
    kind: SubKind,
}

struct State {
    status: Status,
    /// Bumped on every (dis)connection; a writer runs while it matches.
    gen: u64,
    wbuf: Vec<u8>,
    /// The other write buffer, swapped with `wbuf` for each socket write.
    spare: Vec<u8>,
    /// A socket write is in progress (by the writer or by a publisher);
    /// at most one at a time, so the stream's bytes stay in order.
    writing: bool,
    space_waiters: usize,
    /// One per PING on the wire: a flush waiter or a keep-alive (None).
    pongs: VecDeque<Option<OneshotSender<()>>>,
    pings_out: usize,
    subs: HashMap<u64, SubEntry>,
    mux_sid: Option<u64>,
    replies: HashMap<u64, OneshotSender<Message>>,
    info: ServerInfo,
    servers: Vec<ServerAddr>,
    current: Option<ServerAddr>,
    transport: Option<Arc<Transport>>,
}

pub(crate) struct Shared {
    opts: ConnectOptions,
    state: Mutex<State>,
    write_cv: Condvar,
    space_cv: Condvar,
    next_sid: AtomicU64,
    next_token: AtomicU64,
    mux_prefix: String,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
    callback_tx: Option<Sender<Event>>,
    stats: Stats,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Stats {
    in_msgs: AtomicU64,
    out_msgs: AtomicU64,
    in_bytes: AtomicU64,
    out_bytes: AtomicU64,
    reconnects: AtomicU64,
}

/// Message and byte counts of a client, from [`Client::statistics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Messages received.
    pub in_msgs: u64,
    /// Messages published.
    pub out_msgs: u64,
    /// Payload bytes received.
    pub in_bytes: u64,
    /// Payload bytes published.
    pub out_bytes: u64,
    /// Successful reconnections.
    pub reconnects: u64,
}

/// A random 22-character base62 token, unique enough for inbox names.
pub(crate) fn nuid() -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(char::from(DIGITS[rng.random_range(0..DIGITS.len())]));
    }
    out
}

fn shuffle<T>(v: &mut [T]) {
    v.shuffle(&mut rand::rng());
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    pub(crate) fn emit(&self, e: Event) {
        if let Some(tx) = &self.callback_tx {
            let _ = tx.try_send(e.clone());
        }
        // Keep the newest events: when the backlog is full, drop the oldest.
        if let Err(TrySendError::Full(e)) = self.events_tx.try_send(e) {
            let _ = self.events_rx.try_recv();
            let _ = self.events_tx.try_send(e);
        }
    }

    /// Appends to the write buffer, waking the writer if it was idle.
    fn enqueue(&self, st: &mut State, f: impl FnOnce(&mut Vec<u8>)) {
        let was_empty = st.wbuf.is_empty();
        f(&mut st.wbuf);
        if was_empty && !st.wbuf.is_empty() {
            self.write_cv.notify_one();
        }
    }

    /// Locks the state once there is room for `size` more bytes.
    fn lock_for_write(&self, size: usize) -> Result<MutexGuard<'_, State>> {
        let mut st = self.lock();
        loop {
            match st.status {
                Status::Closed => return Err(Error::closed()),
                Status::Reconnecting => {
                    if st.wbuf.len() + size > self.opts.reconnect_buffer_size {
                        return Err(Error::new(
                            ErrorKind::BufferFull,
                            "reconnect buffer full: publish after reconnecting",
                        ));
                    }
                    return Ok(st);
                }
                Status::Connected | Status::Draining => {
                    if st.wbuf.len() < HIGH_WATER {
                        return Ok(st);
                    }
                    // A full buffer and an idle socket: write it from this
                    // coroutine, as nats.go's publisher does, instead of
                    // handing it to the writer and waiting. One coroutine
                    // keeps the pipeline going when the machine is busy and
                    // the writer's worker is not scheduled.
                    if !st.writing {
                        if let Some(t) = st.transport.clone() {
                            let chunk = self.take_chunk(&mut st);
                            drop(st);
                            let r = t.write_all(&chunk);
                            let soft = self.finish_write(chunk, r, &t, true);
                            if let Some(e) = soft {
                                return Err(e.into());
                            }
                            st = self.lock();
                            continue;
                        }
                    }
                    st.space_waiters += 1;
                    st = self.space_cv.wait(st);
                    st.space_waiters -= 1;
                }
            }
        }
    }

    /// Takes the write buffer for one socket write (`writing` is set).
    fn take_chunk(&self, st: &mut State) -> Vec<u8> {
        st.writing = true;
        let spare = std::mem::take(&mut st.spare);
        let chunk = std::mem::replace(&mut st.wbuf, spare);
        if st.space_waiters > 0 {
            self.space_cv.notify_all();
        }
        chunk
    }

    /// Ends the socket write of `chunk` started by `take_chunk`. On a
    /// failed write the bytes that did not go out are put back in front
    /// of the buffer, so the stream stays whole: for the next connection
    /// after an I/O error (which also shuts the transport down, for the
    /// reader to notice), or for the writer to go on with when only the
    /// calling coroutine's deadline or cancellation stopped it
    /// (`caller_deadline`: a publisher writing); that error is returned.
    fn finish_write(
        &self,
        mut chunk: Vec<u8>,
        r: std::result::Result<(), (usize, io::Error)>,
        t: &Transport,
        caller_deadline: bool,
    ) -> Option<io::Error> {
        let mut st = self.lock();
        st.writing = false;
        let soft = match r {
            Ok(()) => {
                chunk.clear();
                if chunk.capacity() <= KEEP_SPARE && st.spare.capacity() < chunk.capacity() {
                    st.spare = chunk;
                }
                None
            }
            Err((written, e)) => {
                let soft = caller_deadline
                    && (fibra_runtime::is_canceled(&e) || e.kind() == io::ErrorKind::TimedOut);
                if st.status != Status::Closed && (soft || written == 0) {
                    chunk.drain(..written);
                    chunk.extend_from_slice(&st.wbuf);
                    st.wbuf = chunk;
                }
                if soft {
                    Some(e)
                } else {
                    tracing::debug!(error = %e, "nats write failed");
                    drop(st);
                    t.shutdown();
                    return None;
                }
            }
        };
        if !st.wbuf.is_empty() {
            self.write_cv.notify_one();
        }
        if st.space_waiters > 0 {
            self.space_cv.notify_all();
        }
        soft
    }

    pub(crate) fn unsubscribe(&self, sid: u64, max: Option<u64>) -> Result<()> {
        let mut st = self.lock();
        if st.status == Status::Closed {
            return Err(Error::closed());
        }
        if max.is_none() {
            st.subs.remove(&sid);
        }
        self.enqueue(&mut st, |b| proto::encode_unsub(b, sid, max));
        Ok(())
    }

    pub(crate) fn drain_sub(&self, sid: u64) -> Result<()> {
        {
            let mut st = self.lock();
            if st.status == Status::Closed {
                return Err(Error::closed());
            }
            self.enqueue(&mut st, |b| proto::encode_unsub(b, sid, None));
        }
        let r = self.flush(self.opts.request_timeout);
        self.lock().subs.remove(&sid);
        r
    }

    pub(crate) fn flush(&self, timeout: Duration) -> Result<()> {
        let (tx, rx) = chan::oneshot();
        {
            let mut st = self.lock();
            if st.status == Status::Closed {
                return Err(Error::closed());
            }
            st.pongs.push_back(Some(tx));
            self.enqueue(&mut st, proto::encode_ping);
        }
        match rx.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(RecvError::Timeout) => Err(Error::timeout("flush")),
            Err(RecvError::Canceled) => Err(Error::new(ErrorKind::Canceled, "canceled")),
            Err(RecvError::Disconnected) => Err(Error::new(
                ErrorKind::Io,
                "connection lost before the server answered the flush",
            )),
        }
    }

    fn close(&self) {
        let transport = {
            let mut st = self.lock();
            if st.status == Status::Closed {
                return;
            }
            st.status = Status::Closed;
            st.gen += 1;
            st.subs.clear();
            st.replies.clear();
            st.pongs.clear();
            st.wbuf = Vec::new();
            st.transport.take()
        };
        self.write_cv.notify_all();
        self.space_cv.notify_all();
        if let Some(t) = transport {
            t.shutdown();
        }
        self.emit(Event::Closed);
    }

    fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<()> {
        proto::check_subject(subject).map_err(Error::invalid)?;
        if let Some(r) = reply {
            proto::check_subject(r).map_err(Error::invalid)?;
        }
        let body = proto::body_len(headers, payload);
        let mut st = self.lock_for_write(body + subject.len() + 64)?;
        if body > st.info.max_payload {
            return Err(Error::new(
                ErrorKind::MaxPayload,
                format!(
                    "message of {body} bytes exceeds the server's max_payload of {}",
                    st.info.max_payload
                ),
            ));
        }
        if headers.is_some() && !st.info.headers {
            return Err(Error::new(
                ErrorKind::HeadersNotSupported,
                "the server does not support headers",
            ));
        }
        self.enqueue(&mut st, |b| {
            proto::encode_pub(b, subject, reply, headers, payload)
        });
        drop(st);
        self.stats.out_msgs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .out_bytes
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Handles one decoded operation with the state locked.
    fn handle(&self, st: &mut State, op: ServerOp<'_>) -> Result<()> {
        match op {
            ServerOp::Msg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => {
                self.stats.in_msgs.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .in_bytes
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                let Some(entry) = st.subs.get(&sid) else {
                    return Ok(());
                };
                let headers = match headers {
                    Some(h) => Some(HeaderMap::decode(h).map_err(|e| {
                        Error::new(ErrorKind::Protocol, format!("bad headers: {e}"))
                    })?),
                    None => None,
                };
                let msg = Message {
                    subject: subject.to_owned(),
                    reply: reply.map(str::to_owned),
                    headers,
                    payload: payload.to_vec(),
                };
                match &entry.kind {
                    SubKind::Mux => {
                        let token = subject
                            .strip_prefix(self.mux_prefix.as_str())
                            .and_then(|t| t.parse::<u64>().ok());
                        if let Some(tx) = token.and_then(|t| st.replies.remove(&t)) {
                            let _ = tx.send(msg);
                        }
                    }
                    SubKind::Chan { tx, counters } => {
                        let delivered = counters.delivered.fetch_add(1, Ordering::Relaxed) + 1;
                        let max = counters.max.load(Ordering::Relaxed);
                        if max != 0 && delivered > max {
                            return Ok(());
                        }
                        let size = msg.size();
                        let msgs = counters.pending_msgs.load(Ordering::Relaxed);
                        let bytes = counters.pending_bytes.load(Ordering::Relaxed);
                        if msgs >= counters.limit_msgs.load(Ordering::Relaxed)
                            || bytes + size > counters.limit_bytes.load(Ordering::Relaxed)
                        {
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            if !counters.slow.swap(true, Ordering::Relaxed) {
                                self.emit(Event::SlowConsumer {
                                    sid,
                                    subject: entry.subject.clone(),
                                });
                            }
                        } else {
                            counters.pending_msgs.fetch_add(1, Ordering::Relaxed);
                            counters.pending_bytes.fetch_add(size, Ordering::Relaxed);
                            if let Err(e) = tx.try_send(msg) {
                                let m = match e {
                                    TrySendError::Full(m) | TrySendError::Disconnected(m) => m,
                                };
                                counters.pending_msgs.fetch_sub(1, Ordering::Relaxed);
                                counters
                                    .pending_bytes
                                    .fetch_sub(m.size(), Ordering::Relaxed);
                            }
                        }
                        if max != 0 && delivered >= max {
                            st.subs.remove(&sid);
                        }
                    }
                }
            }
            ServerOp::Ping => self.enqueue(st, proto::encode_pong),
            ServerOp::Pong => {
                st.pings_out = 0;
                if let Some(Some(tx)) = st.pongs.pop_front() {
                    let _ = tx.send(());
                }
            }
            ServerOp::Ok => {}
            ServerOp::Err(text) => {
                tracing::debug!(error = text, "nats server error");
                self.emit(Event::ServerError(text.to_owned()));
            }
            ServerOp::Info(json) => {
                let info = conn::parse_info(json)?;
                self.absorb_info(st, info);
            }
        }
        Ok(())
    }

    fn absorb_info(&self, st: &mut State, info: ServerInfo) {
        if info.ldm {
            self.emit(Event::LameDuckMode);
        }
        if !self.opts.ignore_discovered_servers {
            let mut added = Vec::new();
            for url in &info.connect_urls {
                if let Ok(mut a) = ServerAddr::parse(url) {
                    a.implicit = true;
                    a.tls = st.current.as_ref().is_some_and(|c| c.tls);
                    if !st.servers.iter().any(|s| s.same_endpoint(&a)) {
                        added.push(a.display());
                        st.servers.push(a);
                    }
                }
            }
            if !added.is_empty() {
                self.emit(Event::ServersDiscovered(added));
            }
        }
        st.info = info;
    }
}

fn writer_loop(shared: Arc<Shared>, t: Arc<Transport>, gen: u64) {
    let interval = shared.opts.ping_interval;
    let mut next_ping = Instant::now() + interval;
    loop {
        let mut st = shared.lock();
        let chunk = loop {
            if st.gen != gen {
                return;
            }
            let now = Instant::now();
            if now >= next_ping {
                next_ping = now + interval;
                if st.pings_out >= shared.opts.max_pings_out {
                    drop(st);
                    tracing::debug!("stale connection: PINGs unanswered");
                    t.shutdown();
                    return;
                }
                st.pings_out += 1;
                st.pongs.push_back(None);
                proto::encode_ping(&mut st.wbuf);
            }
            if !st.wbuf.is_empty() && !st.writing {
                break shared.take_chunk(&mut st);
            }
            st = shared.write_cv.wait_timeout(st, next_ping - now).0;
        };
        drop(st);
        let r = t.write_all(&chunk);
        let failed = r.is_err();
        // The writer has no deadline of its own: any error is the socket's
        // (finish_write shuts the transport down).
        let _ = shared.finish_write(chunk, r, &t, false);
        if failed {
            return;
        }
    }
}

/// Reads and dispatches until the connection fails; returns why.
fn reader_loop(shared: &Shared, t: &Transport, leftover: Vec<u8>) -> Error {
    let max = {
        let st = shared.lock();
        st.info.max_payload.max(1 << 20) + proto::MAX_CONTROL_LINE
    };
    let mut buf = vec![0u8; 64 << 10];
    let (mut start, mut end) = (0, leftover.len());
    if end > buf.len() {
        buf.resize(end, 0);
    }
    buf[..end].copy_from_slice(&leftover);
    loop {
        if end > start {
            let mut st = shared.lock();
            loop {
                match proto::decode(&buf[start..end], max) {
                    Ok(Some((op, n))) => {
                        if let Err(e) = shared.handle(&mut st, op) {
                            return e;
                        }
                        start += n;
                    }
                    Ok(None) => break,
                    Err(e) => return e.into(),
                }
            }
        }
        if start == end {
            start = 0;
            end = 0;
        } else if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else {
                let n = buf.len() * 2;
                buf.resize(n, 0);
            }
        }
        match t.read(&mut buf[end..]) {
            Ok(0) => return Error::new(ErrorKind::Io, "connection closed by the server"),
            Ok(n) => end += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return e.into(),
        }
        if start == 0 && end < buf.len() / 4 && buf.len() > 1 << 20 {
            buf.truncate(64 << 10);
            buf.shrink_to_fit();
        }
    }
}

/// Keeps the client connected: runs the reader, restarts the writer and
/// walks the pool after every loss, until closed.
fn drive(shared: Arc<Shared>, mut est: Established) {
    loop {
        let gen = {
            let mut st = shared.lock();
            if st.status == Status::Closed {
                est.transport.shutdown();
                return;
            }
            st.gen += 1;
            st.status = Status::Connected;
            st.transport = Some(est.transport.clone());
            st.gen
        };
        shared.space_cv.notify_all();
        let writer = {
            let (s, t) = (shared.clone(), est.transport.clone());
            fibra_runtime::spawn(move || writer_loop(s, t, gen))
        };
        let why = reader_loop(&shared, &est.transport, std::mem::take(&mut est.leftover));
        est.transport.shutdown();
        let closed = {
            let mut st = shared.lock();
            st.gen += 1;
            st.transport = None;
            st.pongs.clear();
            st.pings_out = 0;
            let closed = st.status == Status::Closed;
            if !closed {
                st.status = Status::Reconnecting;
                // Try the other servers first.
                if let Some(cur) = st.current.clone() {
                    if let Some(i) = st.servers.iter().position(|s| s.same_endpoint(&cur)) {
                        let s = st.servers.remove(i);
                        st.servers.push(s);
                    }
                }
            }
            closed
        };
        shared.write_cv.notify_all();
        shared.space_cv.notify_all();
        let _ = writer.join();
        if closed {
            return;
        }
        tracing::debug!(error = %why, "nats connection lost");
        shared.emit(Event::Disconnected(why.to_string()));
        if !shared.opts.allow_reconnect {
            shared.close();
            return;
        }
        match reconnect(&shared) {
            Some(e) => {
                est = e;
                let url = {
                    let mut st = shared.lock();
                    let mut resend = Vec::new();
                    for (sid, sub) in &st.subs {
                        proto::encode_sub(&mut resend, &sub.subject, sub.queue.as_deref(), *sid);
                        if let SubKind::Chan { counters, .. } = &sub.kind {
                            let max = counters.max.load(Ordering::Relaxed);
                            if max != 0 {
                                let left =
                                    max.saturating_sub(counters.delivered.load(Ordering::Relaxed));
                                proto::encode_unsub(&mut resend, *sid, Some(left.max(1)));
                            }
                        }
                    }
                    resend.extend_from_slice(&st.wbuf);
                    st.wbuf = resend;
                    // From here on new SUBs go straight to the buffer.
                    st.status = Status::Connected;
                    let info = std::mem::take(&mut est.info);
                    shared.absorb_info(&mut st, info);
                    st.current
                        .as_ref()
                        .map(ServerAddr::display)
                        .unwrap_or_default()
                };
                shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                shared.emit(Event::Reconnected(url));
            }
            None => {
                shared.close();
                return;
            }
        }
    }
}

fn reconnect(shared: &Shared) -> Option<Established> {
    let opts = &shared.opts;
    loop {
        let servers = shared.lock().servers.clone();
        if servers.is_empty() {
            return None;
        }
        for s in servers {
            if shared.lock().status == Status::Closed {
                return None;
            }
            let r = conn::establish(&s, opts);
            let mut st = shared.lock();
            let Some(i) = st.servers.iter().position(|x| x.same_endpoint(&s)) else {
                continue;
            };
            match r {
                Ok(e) => {
                    st.servers[i].attempts = 0;
                    st.current = Some(st.servers[i].clone());
                    return Some(e);
                }
                Err(e) => {
                    tracing::debug!(server = %s.display(), error = %e, "reconnect failed");
                    st.servers[i].attempts += 1;
                    if opts
                        .max_reconnects
                        .is_some_and(|m| st.servers[i].attempts >= m)
                    {
                        st.servers.remove(i);
                    }
                }
            }
        }
        let jitter = opts.reconnect_jitter.as_nanos() as u64;
        let extra = if jitter == 0 {
            0
        } else {
            rand::rng().random_range(0..jitter)
        };
        // A canceled (or timed-out) driver gives up reconnecting rather
        // than retrying without a pause.
        if fibra_runtime::sleep_cancelable(opts.reconnect_wait + Duration::from_nanos(extra))
            .is_err()
        {
            return None;
        }
    }
}

/// The client owner's handle; dropping the last one closes the connection.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        close_gracefully(&self.shared);
    }
}

fn close_gracefully(shared: &Shared) {
    let connected = shared.lock().status == Status::Connected;
    if connected {
        let _ = shared.flush(shared.opts.connect_timeout.min(Duration::from_secs(2)));
    }
    shared.close();
}

/// A connection to a NATS server or cluster. Cheap to clone (clones share
/// the connection); usable from any number of coroutines at once.
/// Dropping the last clone closes it (after flushing what was published).
///
/// ```no_run
/// let client = fibra_nats::connect("nats://127.0.0.1:4222").unwrap();
/// let sub = client.subscribe("greet.*").unwrap();
/// client.publish("greet.joe", "hello").unwrap();
/// let msg = sub.next_message().unwrap();
/// assert_eq!(msg.payload, b"hello");
/// ```
#[derive(Clone)]
pub struct Client {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

/// Connects with the default options to one of `urls` (comma-separated).
///
/// # Errors
/// As [`ConnectOptions::connect`].
pub fn connect(urls: &str) -> Result<Client> {
    ConnectOptions::new().connect(urls)
}

impl Client {
    pub(crate) fn connect_with(urls: &str, opts: ConnectOptions) -> Result<Client> {
        let mut servers = urls
            .split(',')
            .filter(|u| !u.trim().is_empty())
            .map(ServerAddr::parse)
            .collect::<Result<Vec<_>>>()?;
        if servers.is_empty() {
            return Err(Error::invalid("no server URL given"));
        }
        if let Some(seed) = &opts.nkey_seed {
            crate::nkey::KeyPair::from_seed(seed)?;
        }
        if !opts.no_randomize {
            shuffle(&mut servers);
        }
        let mut last = None;
        let mut est = None;
        for s in &servers {
            match conn::establish(s, &opts) {
                Ok(e) => {
                    est = Some((s.clone(), e));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some((current, mut est)) = est else {
            return Err(last.unwrap_or_else(|| Error::invalid("no server")));
        };
        let (events_tx, events_rx) = chan::bounded(EVENT_BACKLOG);
        let callback_tx = opts.event_callback.clone().map(|cb| {
            let (tx, rx) = chan::bounded::<Event>(EVENT_BACKLOG);
            fibra_runtime::spawn(move || {
                for e in rx.iter() {
                    cb(e);
                }
            });
            tx
        });
        let shared = Arc::new(Shared {
            mux_prefix: format!("{}.{}.", opts.inbox_prefix, nuid()),
            opts,
            state: Mutex::new(State {
                status: Status::Connected,
                gen: 0,
                wbuf: Vec::with_capacity(64 << 10),
                spare: Vec::with_capacity(64 << 10),
                writing: false,
                space_waiters: 0,
                pongs: VecDeque::new(),
                pings_out: 0,
                subs: HashMap::new(),
                mux_sid: None,
                replies: HashMap::new(),
                info: ServerInfo::default(),
                servers,
                current: Some(current.clone()),
                transport: None,
            }),
            write_cv: Condvar::new(),
            space_cv: Condvar::new(),
            next_sid: AtomicU64::new(1),
            next_token: AtomicU64::new(1),
            events_tx,
            events_rx,
            callback_tx,
            stats: Stats::default(),
        });
        {
            let mut st = shared.lock();
            let info = std::mem::take(&mut est.info);
            shared.absorb_info(&mut st, info);
        }
        shared.emit(Event::Connected(current.display()));
        let s = shared.clone();
        fibra_runtime::spawn(move || drive(s, est));
        Ok(Client {
            owner: Arc::new(Owner { shared }),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// Publishes `payload` to `subject`.
    ///
    /// Returns once the message is queued for the socket (call
    /// [`flush`](Client::flush) to know the server has it). While
    /// reconnecting, messages are buffered up to the reconnect buffer size.
    ///
    /// # Errors
    /// `InvalidInput` for a bad subject; `MaxPayload` when the message
    /// exceeds the server's limit; `BufferFull` while reconnecting with a
    /// full buffer; `Closed`.
    pub fn publish(&self, subject: &str, payload: impl AsRef<[u8]>) -> Result<()> {
        self.shared().publish(subject, None, None, payload.as_ref())
    }

    /// Publishes with headers (`HPUB`).
    ///
    /// # Errors
    /// As [`publish`](Client::publish), and `HeadersNotSupported` for an old
    /// server.
    pub fn publish_with_headers(
        &self,
        subject: &str,
        headers: &HeaderMap,
        payload: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.shared()
            .publish(subject, None, Some(headers), payload.as_ref())
    }

    /// Publishes with a reply subject (and optional headers), for a
    /// request whose replies are collected by hand.
    ///
    /// # Errors
    /// As [`publish_with_headers`](Client::publish_with_headers).
    pub fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&HeaderMap>,
        payload: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.shared()
            .publish(subject, Some(reply), headers, payload.as_ref())
    }

    /// Replies to `msg` (publishes to its reply subject).
    ///
    /// # Errors
    /// `InvalidInput` when the message has no reply subject; as
    /// [`publish`](Client::publish).
    pub fn respond(&self, msg: &Message, payload: impl AsRef<[u8]>) -> Result<()> {
        let reply = msg
            .reply
            .as_deref()
            .ok_or_else(|| Error::invalid("message has no reply subject"))?;
        self.publish(reply, payload)
    }

    /// Subscribes to `subject` (wildcards `*` and `>` allowed).
    ///
    /// # Errors
    /// `InvalidInput` for a bad subject; `Closed` (also while draining).
    pub fn subscribe(&self, subject: &str) -> Result<Subscription> {
        self.subscribe_inner(subject, None)
    }

    /// Subscribes as a member of queue group `queue`: each message goes to
    /// one member of the group.
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub fn queue_subscribe(&self, subject: &str, queue: &str) -> Result<Subscription> {
        self.subscribe_inner(subject, Some(queue))
    }

    fn subscribe_inner(&self, subject: &str, queue: Option<&str>) -> Result<Subscription> {
        proto::check_subject(subject).map_err(Error::invalid)?;
        if let Some(q) = queue {
            proto::check_subject(q).map_err(Error::invalid)?;
        }
        let shared = self.shared();
        let counters = Arc::new(SubCounters::new(
            shared.opts.pending_msgs_limit,
            shared.opts.pending_bytes_limit,
        ));
        let (tx, rx) = chan::unbounded();
        let sid = shared.next_sid.fetch_add(1, Ordering::Relaxed);
        {
            let mut st = shared.lock();
            match st.status {
                Status::Closed => return Err(Error::closed()),
                Status::Draining => {
                    return Err(Error::new(ErrorKind::Closed, "client is draining"))
                }
                _ => {}
            }
            st.subs.insert(
                sid,
                SubEntry {
                    subject: subject.to_owned(),
                    queue: queue.map(str::to_owned),
                    kind: SubKind::Chan {
                        tx,
                        counters: counters.clone(),
                    },
                },
            );
            // While reconnecting, the SUB goes out with the re-subscriptions.
            if st.status != Status::Reconnecting {
                shared.enqueue(&mut st, |b| proto::encode_sub(b, subject, queue, sid));
            }
        }
        Ok(Subscription {
            sid,
            subject: subject.to_owned(),
            rx,
            counters,
            shared: shared.clone(),
            done: false,
        })
    }

    /// Subscribes and runs `f` for each message on a coroutine of its own.
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub fn subscribe_fn(
        &self,
        subject: &str,
        f: impl FnMut(Message) + Send + 'static,
    ) -> Result<Handler> {
        self.handler(self.subscribe(subject)?, f)
    }

    /// [`queue_subscribe`](Client::queue_subscribe) with a callback.
    ///
    /// # Errors
    /// As [`subscribe`](Client::subscribe).
    pub fn queue_subscribe_fn(
        &self,
        subject: &str,
        queue: &str,
        f: impl FnMut(Message) + Send + 'static,
    ) -> Result<Handler> {
        self.handler(self.queue_subscribe(subject, queue)?, f)
    }

    fn handler(
        &self,
        sub: Subscription,
        mut f: impl FnMut(Message) + Send + 'static,
    ) -> Result<Handler> {
        let sid = sub.sid;
        let join = fibra_runtime::spawn(move || {
            for m in sub.messages() {
                f(m);
            }
        });
        Ok(Handler {
            sid,
            shared: self.shared().clone(),
            join,
        })
    }

    /// A new unique subject to receive replies on.
    pub fn new_inbox(&self) -> String {
        format!("{}.{}", self.shared().opts.inbox_prefix, nuid())
    }

    /// Sends a request and waits for the first reply, up to the
    /// configured request timeout.
    ///
    /// # Errors
    /// `Timeout`; `NoResponders` when nobody subscribes to `subject`; as
    /// [`publish`](Client::publish).
    pub fn request(&self, subject: &str, payload: impl AsRef<[u8]>) -> Result<Message> {
        let t = self.shared().opts.request_timeout;
        self.request_inner(subject, None, payload.as_ref(), t)
    }

    /// [`request`](Client::request) with its own timeout.
    ///
    /// # Errors
    /// As [`request`](Client::request).
    pub fn request_timeout(
        &self,
        subject: &str,
        payload: impl AsRef<[u8]>,
        timeout: Duration,
    ) -> Result<Message> {
        self.request_inner(subject, None, payload.as_ref(), timeout)
    }

    /// A request with headers.
    ///
    /// # Errors
    /// As [`request`](Client::request).
    pub fn request_with_headers(
        &self,
        subject: &str,
        headers: &HeaderMap,
        payload: impl AsRef<[u8]>,
        timeout: Duration,
    ) -> Result<Message> {
        self.request_inner(subject, Some(headers), payload.as_ref(), timeout)
    }

    fn request_inner(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Message> {
        let shared = self.shared();
        proto::check_subject(subject).map_err(Error::invalid)?;
        let token = shared.next_token.fetch_add(1, Ordering::Relaxed);
        let reply = format!("{}{token}", shared.mux_prefix);
        let (tx, rx) = chan::oneshot();
        {
            let mut st = shared.lock();
            if st.status == Status::Closed {
                return Err(Error::closed());
            }
            if st.mux_sid.is_none() {
                let sid = shared.next_sid.fetch_add(1, Ordering::Relaxed);
                let subject = format!("{}*", shared.mux_prefix);
                if st.status != Status::Reconnecting {
                    shared.enqueue(&mut st, |b| proto::encode_sub(b, &subject, None, sid));
                }
                st.subs.insert(
                    sid,
                    SubEntry {
                        subject,
                        queue: None,
                        kind: SubKind::Mux,
                    },
                );
                st.mux_sid = Some(sid);
            }
            st.replies.insert(token, tx);
        }
        if let Err(e) = shared.publish(subject, Some(&reply), headers, payload) {
            shared.lock().replies.remove(&token);
            return Err(e);
        }
        match rx.recv_timeout(timeout) {
            Ok(m) if m.status() == Some(503) => Err(Error::new(
                ErrorKind::NoResponders,
                format!("no responders on {subject}"),
            )),
            Ok(m) => Ok(m),
            Err(e) => {
                shared.lock().replies.remove(&token);
                Err(match e {
                    RecvError::Timeout => Error::timeout("request"),
                    RecvError::Canceled => Error::new(ErrorKind::Canceled, "canceled"),
                    RecvError::Disconnected => Error::closed(),
                })
            }
        }
    }

    /// Waits until the server has processed everything sent so far (a
    /// PING/PONG round trip), up to the request timeout.
    ///
    /// # Errors
    /// `Timeout`; `Io` when the connection is lost meanwhile; `Closed`.
    pub fn flush(&self) -> Result<()> {
        self.shared().flush(self.shared().opts.request_timeout)
    }

    /// [`flush`](Client::flush) with its own timeout.
    ///
    /// # Errors
    /// As [`flush`](Client::flush).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        self.shared().flush(timeout)
    }

    /// Measures one round trip to the server.
    ///
    /// # Errors
    /// As [`flush`](Client::flush).
    pub fn rtt(&self) -> Result<Duration> {
        let start = Instant::now();
        self.flush()?;
        Ok(start.elapsed())
    }

    /// Unsubscribes every subscription, waits until the server confirms,
    /// lets them hand out what is buffered, flushes publishes, then closes.
    ///
    /// # Errors
    /// `Timeout` when the server does not confirm in time (the client is
    /// closed anyway); `Closed` if it already was.
    pub fn drain(&self) -> Result<()> {
        let shared = self.shared();
        {
            let mut st = shared.lock();
            if st.status == Status::Closed {
                return Err(Error::closed());
            }
            let sids: Vec<u64> = st.subs.keys().copied().collect();
            if st.status == Status::Connected {
                st.status = Status::Draining;
            }
            for sid in sids {
                if Some(sid) != st.mux_sid {
                    shared.enqueue(&mut st, |b| proto::encode_unsub(b, sid, None));
                }
            }
        }
        let r = shared.flush(shared.opts.request_timeout);
        {
            let mut st = shared.lock();
            let mux = st.mux_sid;
            st.subs.retain(|sid, _| Some(*sid) == mux);
        }
        shared.close();
        r
    }

    /// Flushes (briefly) and closes the connection; subscriptions end,
    /// pending requests fail. Idempotent.
    pub fn close(&self) {
        close_gracefully(self.shared());
    }

    /// The connection's state.
    pub fn status(&self) -> Status {
        self.shared().lock().status
    }

    /// Whether the client is closed.
    pub fn is_closed(&self) -> bool {
        self.status() == Status::Closed
    }

    /// The last INFO of the connected server.
    pub fn server_info(&self) -> ServerInfo {
        self.shared().lock().info.clone()
    }

    /// The server connected to (or last connected to), as a URL.
    pub fn connected_url(&self) -> Option<String> {
        self.shared()
            .lock()
            .current
            .as_ref()
            .map(ServerAddr::display)
    }

    /// The server pool, including servers the cluster announced.
    pub fn servers(&self) -> Vec<String> {
        self.shared()
            .lock()
            .servers
            .iter()
            .map(ServerAddr::display)
            .collect()
    }

    /// The largest message body the server accepts.
    pub fn max_payload(&self) -> usize {
        self.shared().lock().info.max_payload
    }

    /// Connection events (the newest 1024 not yet taken). Clones of the
    /// receiver share one stream.
    pub fn events(&self) -> Receiver<Event> {
        self.shared().events_rx.clone()
    }

    /// Message and byte counters.
    pub fn statistics(&self) -> Statistics {
        let s = &self.shared().stats;
        Statistics {
            in_msgs: s.in_msgs.load(Ordering::Relaxed),
            out_msgs: s.out_msgs.load(Ordering::Relaxed),
            in_bytes: s.in_bytes.load(Ordering::Relaxed),
            out_bytes: s.out_bytes.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Drops the current connection as if the server had gone away, to
    /// exercise reconnection (the client reconnects as configured).
    pub fn force_reconnect(&self) {
        if let Some(t) = self.shared().lock().transport.clone() {
            t.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuids_are_distinct() {
        let a = nuid();
        let b = nuid();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
