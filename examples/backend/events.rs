//! Every write is published on NATS (`<namespace>.events.<kind>`); each
//! instance subscribes to `<namespace>.events.>` and fans what arrives out
//! to its live browsers (WebSocket and SSE) through a [`Hub`]. A browser on
//! one instance therefore sees writes made on any instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fibra::chan::{self, Receiver, Sender, TrySendError};
use fibra::nats::{Client, ConnectOptions, Subscription};
use fibra::sync::Mutex;
use fibra::JoinHandle;
use serde::Serialize;

use crate::store::Link;

/// How many events a slow browser may have queued before it misses some.
const QUEUE: usize = 256;

/// What happened to a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Created.
    Created,
    /// Its page title was fetched.
    Titled,
    /// Someone followed it.
    Visited,
    /// Deleted.
    Deleted,
}

impl Kind {
    /// The event's name: `created`, `titled`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Titled => "titled",
            Kind::Visited => "visited",
            Kind::Deleted => "deleted",
        }
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    link: &'a Link,
    at: u64,
}

/// The live subscribers of this instance.
#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<HashMap<u64, Sender<Arc<str>>>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    dropped: AtomicU64,
}

/// One subscriber's place in the [`Hub`]; leaves it when dropped.
pub struct Subscriber {
    hub: Arc<Hub>,
    id: u64,
    /// The events, as JSON text; closed when the server shuts down.
    pub events: Receiver<Arc<str>>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.hub.subscribers.lock().remove(&self.id);
    }
}

impl Hub {
    /// Joins the hub. After [`Hub::close`], the subscriber's channel is
    /// already closed.
    pub fn subscribe(self: &Arc<Hub>) -> Subscriber {
        let (tx, rx) = chan::bounded(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.subscribers.lock();
        if self.closed.load(Ordering::SeqCst) {
            tx.close();
        } else {
            subs.insert(id, tx);
        }
        Subscriber {
            hub: self.clone(),
            id,
            events: rx,
        }
    }

    /// Sends `json` to every subscriber; one whose queue is full misses it.
    pub fn broadcast(&self, json: &str) {
        let msg: Arc<str> = Arc::from(json);
        let subs: Vec<(u64, Sender<Arc<str>>)> = self
            .subscribers
            .lock()
            .iter()
            .map(|(id, tx)| (*id, tx.clone()))
            .collect();
        for (id, tx) in subs {
            match tx.try_send(msg.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.subscribers.lock().remove(&id);
                }
            }
        }
    }

    /// Closes every subscriber's channel (server shutdown): their streams
    /// end and their handlers return.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for (_, tx) in self.subscribers.lock().drain() {
            tx.close();
        }
    }

    /// Subscribers connected now.
    pub fn len(&self) -> usize {
        self.subscribers.lock().len()
    }

    /// Events not delivered to a slow subscriber.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Publishing on NATS, and the subscription feeding the [`Hub`].
pub struct Events {
    nats: Client,
    namespace: String,
    /// This instance's live subscribers.
    pub hub: Arc<Hub>,
    published: AtomicU64,
    pump: Mutex<Option<JoinHandle<()>>>,
}

impl Events {
    /// Connects to NATS and starts relaying `<namespace>.events.>` to the hub.
    ///
    /// # Errors
    /// NATS's.
    pub fn start(urls: &str, namespace: &str) -> fibra::nats::Result<Events> {
        let nats = ConnectOptions::new()
            .name(format!("fibra-backend-{namespace}"))
            .connect_timeout(Duration::from_secs(2))
            .connect(urls)?;
        let sub = nats.subscribe(&format!("{namespace}.events.>"))?;
        nats.flush()?;
        let hub = Arc::new(Hub::default());
        let pump_hub = hub.clone();
        let pump = fibra::spawn(move || relay(&sub, &pump_hub));
        Ok(Events {
            nats,
            namespace: namespace.to_owned(),
            hub,
            published: AtomicU64::new(0),
            pump: Mutex::new(Some(pump)),
        })
    }

    /// Publishes what happened to `link` (a failure only logs: the write
    /// itself succeeded).
    pub fn publish(&self, kind: Kind, link: &Link) {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let wire = Wire {
            kind: kind.as_str(),
            link,
            at,
        };
        let payload = serde_json::to_vec(&wire).unwrap_or_default();
        let subject = format!("{}.events.{}", self.namespace, kind.as_str());
        match self.nats.publish(&subject, payload) {
            Ok(()) => {
                self.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(%subject, error = %e, "publishing an event failed"),
        }
    }

    /// Events published by this instance.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Flushes what was published, closes the connection (which ends the
    /// relay) and the hub.
    pub fn close(&self) {
        self.hub.close();
        if let Err(e) = self.nats.flush_timeout(Duration::from_secs(1)) {
            tracing::warn!(error = %e, "flushing NATS at shutdown failed");
        }
        self.nats.close();
        if let Some(pump) = self.pump.lock().take() {
            pump.cancel();
            let _ = pump.join();
        }
    }
}

/// Copies every message on `sub` to the hub, until the connection closes.
fn relay(sub: &Subscription, hub: &Hub) {
    while let Some(msg) = sub.next_message() {
        match std::str::from_utf8(&msg.payload) {
            Ok(json) => hub.broadcast(json),
            Err(_) => tracing::warn!(subject = %msg.subject, "non-UTF-8 event dropped"),
        }
    }
}
