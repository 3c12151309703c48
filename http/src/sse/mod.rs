//! Server-Sent Events (the WHATWG `text/event-stream` format): a server
//! side that turns a [`Response`](crate::Response) into an event stream,
//! and an EventSource-style client over [`Client`](crate::Client)
//! (`https://`, proxies) that reconnects with `Last-Event-ID`.
//!
//! ```no_run
//! use std::time::Duration;
//! use fibra_http::sse::{Event, EventStreamExt};
//! use fibra_http::{handler_fn, Server};
//!
//! fibra_runtime::run(|| {
//!     let server = Server::bind("127.0.0.1:8080")?;
//!     server.serve(handler_fn(|_req, resp| {
//!         let mut events = resp.event_stream();
//!         for i in 0.. {
//!             let ev = Event::new(format!("tick {i}")).event("tick")?.id(i.to_string())?;
//!             if events.send(&ev).is_err() {
//!                 break; // the client went away
//!             }
//!             fibra_runtime::sleep(Duration::from_secs(1));
//!         }
//!         Ok(())
//!     }))
//! })
//! .unwrap();
//! ```
//!
//! The wire format is in the sans-I/O [`Event::encode`] and [`Parser`].

mod client;
mod parser;
mod server;

pub use client::{EventSource, EventSourceBuilder};
pub use parser::Parser;
pub use server::{is_client_gone, EventStream, EventStreamExt};

use std::io;
use std::time::Duration;

/// One event: what the server sends, and what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The event type (`event:`); `None` means `message`.
    pub event: Option<String>,
    /// The data (`data:` lines joined with `\n`).
    pub data: String,
    /// The event ID (`id:`). On the client, the last ID seen on the stream.
    pub id: Option<String>,
    /// The reconnection time the server asks for (`retry:`).
    pub retry: Option<Duration>,
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Event {
    /// An event with `data` (which may span several lines).
    pub fn new(data: impl Into<String>) -> Event {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// Sets the event type.
    ///
    /// # Errors
    /// `InvalidInput` when `event` holds CR or LF (it would end the field).
    pub fn event(mut self, event: impl Into<String>) -> io::Result<Event> {
        let event = event.into();
        if event.contains(['\r', '\n']) {
            return Err(invalid("SSE event type contains CR or LF"));
        }
        self.event = Some(event);
        Ok(self)
    }

    /// Sets the event ID.
    ///
    /// # Errors
    /// `InvalidInput` when `id` holds CR, LF or NUL (clients ignore an ID
    /// with NUL).
    pub fn id(mut self, id: impl Into<String>) -> io::Result<Event> {
        let id = id.into();
        if id.contains(['\r', '\n', '\0']) {
            return Err(invalid("SSE event id contains CR, LF or NUL"));
        }
        self.id = Some(id);
        Ok(self)
    }

    /// Sets the reconnection time the client should use.
    pub fn retry(mut self, retry: Duration) -> Event {
        self.retry = Some(retry);
        self
    }

    /// The type a client dispatches this event as: its `event`, or
    /// `message`.
    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }

    /// Appends the event in `text/event-stream` format to `out`. Data
    /// lines split at CR, LF and CRLF.
    ///
    /// # Errors
    /// `InvalidInput` when the event type or ID holds CR or LF (possible
    /// when the fields were set directly).
    pub fn encode(&self, out: &mut Vec<u8>) -> io::Result<()> {
        if let Some(e) = &self.event {
            if e.contains(['\r', '\n']) {
                return Err(invalid("SSE event type contains CR or LF"));
            }
        }
        if let Some(id) = &self.id {
            if id.contains(['\r', '\n', '\0']) {
                return Err(invalid("SSE event id contains CR, LF or NUL"));
            }
        }
        if let Some(r) = self.retry {
            out.extend_from_slice(format!("retry: {}\n", r.as_millis()).as_bytes());
        }
        if let Some(id) = &self.id {
            out.extend_from_slice(b"id: ");
            out.extend_from_slice(id.as_bytes());
            out.push(b'\n');
        }
        if let Some(e) = &self.event {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(e.as_bytes());
            out.push(b'\n');
        }
        let data = self.data.replace("\r\n", "\n").replace('\r', "\n");
        for line in data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        Ok(())
    }
}
