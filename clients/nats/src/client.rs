//! The client's API: publishing, subscribing, requests, flushing,
//! draining and closing. The state it shares with the reader and writer
//! coroutines is in `state`, the coroutines in `reader`, `writer` and
//! `reconnect`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::chan::{self, Receiver, RecvError};
use fibra_runtime::sync::{Condvar, Mutex};

use crate::conn::{self, ServerInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::options::{ConnectOptions, ServerAddr};
use crate::proto;
use crate::reconnect::drive;
use crate::state::{nuid, shuffle, Shared, State, Stats, SubEntry, SubKind};
use crate::subscription::{Handler, Message, SubCounters, Subscription};

pub use crate::state::{Event, Statistics, Status};

const EVENT_BACKLOG: usize = 1024;

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
                unflushed: false,
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
            let _ = t.shutdown(std::net::Shutdown::Both);
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
