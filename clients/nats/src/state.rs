//! The client's shared state: the subscriptions, the pending replies and
//! PONG waiters, the write buffer publishers append to, the server pool,
//! and the events; with the operations that only touch it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_net::WriteHalf;
use fibra_runtime::chan::{self, OneshotSender, Receiver, RecvError, Sender, TrySendError};
use fibra_runtime::sync::{Condvar, Mutex, MutexGuard};
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use crate::conn::ServerInfo;
use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::options::{ConnectOptions, ServerAddr};
use crate::proto;
use crate::subscription::{Message, SubCounters};

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

pub(crate) enum SubKind {
    Chan {
        tx: Sender<Message>,
        counters: Arc<SubCounters>,
    },
    /// The one wildcard subscription all requests' replies arrive on.
    Mux,
}

pub(crate) struct SubEntry {
    pub(crate) subject: String,
    pub(crate) queue: Option<String>,
    pub(crate) kind: SubKind,
}

pub(crate) struct State {
    pub(crate) status: Status,
    /// Bumped on every (dis)connection; a writer runs while it matches.
    pub(crate) gen: u64,
    pub(crate) wbuf: Vec<u8>,
    /// The other write buffer, swapped with `wbuf` for each socket write.
    pub(crate) spare: Vec<u8>,
    /// A socket write is in progress (by the writer or by a publisher);
    /// at most one at a time, so the stream's bytes stay in order.
    pub(crate) writing: bool,
    /// A publisher's write stopped by its own deadline left bytes it
    /// handed over unsent (TLS keeps them): the writer flushes them.
    pub(crate) unflushed: bool,
    pub(crate) space_waiters: usize,
    /// One per PING on the wire: a flush waiter or a keep-alive (None).
    pub(crate) pongs: VecDeque<Option<OneshotSender<()>>>,
    pub(crate) pings_out: usize,
    pub(crate) subs: HashMap<u64, SubEntry>,
    pub(crate) mux_sid: Option<u64>,
    pub(crate) replies: HashMap<u64, OneshotSender<Message>>,
    pub(crate) info: ServerInfo,
    pub(crate) servers: Vec<ServerAddr>,
    pub(crate) current: Option<ServerAddr>,
    pub(crate) transport: Option<WriteHalf>,
}

pub(crate) struct Shared {
    pub(crate) opts: ConnectOptions,
    pub(crate) state: Mutex<State>,
    pub(crate) write_cv: Condvar,
    pub(crate) space_cv: Condvar,
    pub(crate) next_sid: AtomicU64,
    pub(crate) next_token: AtomicU64,
    pub(crate) mux_prefix: String,
    pub(crate) events_tx: Sender<Event>,
    pub(crate) events_rx: Receiver<Event>,
    pub(crate) callback_tx: Option<Sender<Event>>,
    pub(crate) stats: Stats,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) in_msgs: AtomicU64,
    pub(crate) out_msgs: AtomicU64,
    pub(crate) in_bytes: AtomicU64,
    pub(crate) out_bytes: AtomicU64,
    pub(crate) reconnects: AtomicU64,
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

pub(crate) fn shuffle<T>(v: &mut [T]) {
    v.shuffle(&mut rand::rng());
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
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
    pub(crate) fn enqueue(&self, st: &mut State, f: impl FnOnce(&mut Vec<u8>)) {
        let was_empty = st.wbuf.is_empty();
        f(&mut st.wbuf);
        if was_empty && !st.wbuf.is_empty() {
            self.write_cv.notify_one();
        }
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
                ErrorKind::Closed,
                "connection lost before the server answered the flush",
            )),
        }
    }

    pub(crate) fn close(&self) {
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
            let _ = t.shutdown(std::net::Shutdown::Both);
        }
        self.emit(Event::Closed);
    }

    pub(crate) fn publish(
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

    pub(crate) fn absorb_info(&self, st: &mut State, info: ServerInfo) {
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
