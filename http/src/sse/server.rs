//! The server side: a response streamed as `text/event-stream`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use fibra_runtime::chan::Receiver;
use fibra_runtime::select;

use super::Event;
use crate::{BodyWriter, Response};

/// Turns a [`Response`] into an event stream.
pub trait EventStreamExt {
    /// Sets `Content-Type: text/event-stream` and `Cache-Control:
    /// no-cache`, sends the head at once and returns the stream to send
    /// events on.
    fn event_stream(&mut self) -> EventStream<'_>;
}

impl EventStreamExt for Response {
    fn event_stream(&mut self) -> EventStream<'_> {
        if !self.head_sent() {
            let h = self.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            h.insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-cache"),
            );
            h.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
        }
        let mut w = self.writer();
        // Errors surface on the first send.
        let _ = w.flush();
        EventStream { w, buf: Vec::new() }
    }
}

/// An open event stream; see [`EventStreamExt::event_stream`]. Each call
/// sends immediately. A write error (e.g. `BrokenPipe`, `ConnectionReset`)
/// means the client went away: stop and return from the handler.
#[derive(Debug)]
pub struct EventStream<'a> {
    w: BodyWriter<'a>,
    buf: Vec<u8>,
}

/// Whether an error from an [`EventStream`] means the client disconnected.
pub fn is_client_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

impl EventStream<'_> {
    /// Sends an event.
    ///
    /// # Errors
    /// `InvalidInput` when the event type or ID holds CR or LF; the
    /// socket's errors ([`is_client_gone`] tells a departed client).
    pub fn send(&mut self, event: &Event) -> io::Result<()> {
        self.buf.clear();
        event.encode(&mut self.buf)?;
        self.push()
    }

    /// Sends an event with only `data`.
    ///
    /// # Errors
    /// As [`EventStream::send`].
    pub fn data(&mut self, data: &str) -> io::Result<()> {
        self.send(&Event::new(data))
    }

    /// Sends a comment line (ignored by clients; keeps proxies and the
    /// connection alive and detects a departed client). Line breaks in
    /// `text` start new comment lines.
    ///
    /// # Errors
    /// The socket's errors.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        self.buf.clear();
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for line in text.split('\n') {
            self.buf.push(b':');
            self.buf.extend_from_slice(line.as_bytes());
            self.buf.push(b'\n');
        }
        self.buf.push(b'\n');
        self.push()
    }

    /// Tells the client how long to wait before reconnecting.
    ///
    /// # Errors
    /// The socket's errors.
    pub fn retry(&mut self, retry: Duration) -> io::Result<()> {
        self.buf.clear();
        self.buf
            .extend_from_slice(format!("retry: {}\n\n", retry.as_millis()).as_bytes());
        self.push()
    }

    /// Sends every event received on `events` until the channel closes,
    /// with a comment keep-alive whenever nothing was sent for
    /// `keep_alive`. Also returns, without waiting for the next event or
    /// keep-alive, when the client goes away or the server's graceful
    /// shutdown starts (see [`crate::Request::done`]), so open streams do
    /// not hold a shutdown until its grace period ends.
    ///
    /// # Errors
    /// As [`EventStream::send`]. When the client goes away, an error for
    /// which [`is_client_gone`] is true (`ConnectionAborted` if it was seen
    /// while waiting); an [`fibra_runtime::is_canceled`] or `TimedOut`
    /// error when the handler is canceled for another reason or its
    /// `request_timeout` passes. `Ok(())` when `events` closes or the
    /// shutdown starts.
    pub fn forward(&mut self, events: &Receiver<Event>, keep_alive: Duration) -> io::Result<()> {
        let life = self.w.life().clone();
        let done = life.done();
        let gone = || {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the client closed the event stream",
            )
        };
        let mut last = Instant::now();
        loop {
            let wait = (last + keep_alive).saturating_duration_since(Instant::now());
            select! {
                recv(events) -> ev => match ev {
                    Ok(ev) => self.send(&ev)?,
                    Err(_) => return Ok(()),
                },
                recv(done) -> _ => {
                    return if life.is_client_gone() { Err(gone()) } else { Ok(()) };
                }
                timeout(wait) => self.comment("")?,
                interrupted(e) => {
                    return Err(if life.is_client_gone() { gone() } else { e });
                }
            }
            last = Instant::now();
        }
    }

    fn push(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.w.flush()
    }
}
