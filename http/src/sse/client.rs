//! An EventSource-style client: reads events from a `GET` sent by a
//! [`Client`] (so `https://`, proxies, Unix sockets and the client's
//! timeouts apply) and reconnects with `Last-Event-ID`, honouring the
//! server's `retry`.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::StatusCode;

use super::{Event, Parser};
use crate::client::{default_client, Client, Response};

/// Options for an [`EventSource`].
#[derive(Debug, Clone)]
pub struct EventSourceBuilder {
    headers: Vec<(HeaderName, HeaderValue)>,
    retry: Duration,
    reconnect: bool,
    last_event_id: Option<String>,
    client: Option<Client>,
}

impl Default for EventSourceBuilder {
    fn default() -> EventSourceBuilder {
        EventSourceBuilder {
            headers: Vec::new(),
            retry: Duration::from_secs(3),
            reconnect: true,
            last_event_id: None,
            client: None,
        }
    }
}

impl EventSourceBuilder {
    /// Adds a request header.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid name or a value with CR, LF or other
    /// control bytes.
    pub fn header(mut self, name: &str, value: &str) -> io::Result<EventSourceBuilder> {
        let bad = |_| io::Error::new(io::ErrorKind::InvalidInput, "invalid header");
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(()))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad(()))?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// The reconnection delay until the server sets one (default 3 s).
    pub fn retry(mut self, retry: Duration) -> EventSourceBuilder {
        self.retry = retry;
        self
    }

    /// Whether to reconnect when the stream ends or fails (default true).
    pub fn reconnect(mut self, on: bool) -> EventSourceBuilder {
        self.reconnect = on;
        self
    }

    /// Resumes after this event ID (sent as `Last-Event-ID`).
    pub fn last_event_id(mut self, id: impl Into<String>) -> EventSourceBuilder {
        self.last_event_id = Some(id.into());
        self
    }

    /// The HTTP client that sends the requests: its proxies, TLS
    /// settings, Unix socket, and its connect, TLS handshake and
    /// response-header timeouts apply, and its overall `timeout` bounds
    /// each wait for a response head, never the stream itself. Without
    /// one, event sources share a default client (proxies from
    /// `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, loopback excluded). An open
    /// stream holds one of the client's connections to its origin
    /// ([`max_connections_per_host`](crate::ClientBuilder::max_connections_per_host)).
    pub fn client(mut self, client: Client) -> EventSourceBuilder {
        self.client = Some(client);
        self
    }

    /// Connects to an `http://`, `https://` (feature `tls`, on by
    /// default) or `http+unix://` URL.
    ///
    /// # Errors
    /// As [`EventSource::connect`].
    pub fn connect(mut self, url: &str) -> io::Result<EventSource> {
        let client = self
            .client
            .take()
            .unwrap_or_else(|| default_client().clone());
        // Checks the URL without sending anything.
        if let Err(e) = client.get(url).build() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e));
        }
        let mut es = EventSource {
            url: url.to_owned(),
            client,
            parser: Parser::with_last_id(self.last_event_id.clone()),
            opts: self,
            body: None,
            queue: VecDeque::new(),
            done: false,
        };
        match es.open() {
            Ok(Some(body)) => es.body = Some(body),
            Ok(None) => es.done = true,
            Err(Failure::Refused(e) | Failure::Transient(e)) => return Err(e),
        }
        Ok(es)
    }
}

/// Why an attempt to open the stream gave none.
enum Failure {
    /// The server refused the stream (status, content type): no retry.
    Refused(io::Error),
    /// Connecting or the exchange failed: retry after the delay.
    Transient(io::Error),
}

/// Reads a server's event stream; an iterator of events that reconnects
/// (after the `retry` delay, sending `Last-Event-ID`) when the connection
/// drops. It ends when the server answers `204 No Content` and fails for
/// good on another status or content type, as a browser's EventSource.
pub struct EventSource {
    url: String,
    client: Client,
    opts: EventSourceBuilder,
    parser: Parser,
    /// The open stream.
    body: Option<Response>,
    queue: VecDeque<Event>,
    done: bool,
}

impl std::fmt::Debug for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSource")
            .field("url", &self.url)
            .field("last_event_id", &self.parser.last_id())
            .finish_non_exhaustive()
    }
}

impl EventSource {
    /// Connects to `url` (`http://`, `https://` or `http+unix://`) with
    /// default options.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid URL; connection errors (of the kind
    /// underneath: `ConnectionRefused`, `TimedOut` past one of the client's
    /// timeouts, `InvalidData` for an untrusted certificate);
    /// `InvalidData` when the server answers with a status other than 200
    /// or 204, or not with `text/event-stream`.
    pub fn connect(url: &str) -> io::Result<EventSource> {
        EventSourceBuilder::default().connect(url)
    }

    /// Options before connecting.
    pub fn builder() -> EventSourceBuilder {
        EventSourceBuilder::default()
    }

    /// The last event ID received (sent as `Last-Event-ID` on reconnect).
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_id()
    }

    /// The current reconnection delay.
    pub fn retry(&self) -> Duration {
        self.parser.retry().unwrap_or(self.opts.retry)
    }

    /// Closes the stream; the iterator ends.
    pub fn close(&mut self) {
        self.done = true;
        // Dropping a response whose body is unread closes its connection.
        self.body = None;
    }

    /// Waits for the next event, reconnecting as needed. `Ok(None)`: the
    /// stream ended for good (closed, `204`, or reconnection off).
    ///
    /// # Errors
    /// A failed reconnection attempt (the next call tries again), the
    /// pause before it cut short by cancellation or a `with_timeout` scope
    /// (likewise), or a refusal (status, content type) after which the
    /// stream is done.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            if self.done {
                return Ok(None);
            }
            let Some(body) = self.body.as_mut() else {
                fibra_runtime::sleep_cancelable(self.retry())?;
                match self.open() {
                    Ok(Some(body)) => self.body = Some(body),
                    Ok(None) => self.done = true,
                    Err(Failure::Refused(e)) => {
                        self.done = true;
                        return Err(e);
                    }
                    Err(Failure::Transient(e)) => return Err(e),
                }
                continue;
            };
            let mut events = Vec::new();
            match read_some(body, &mut self.parser, &mut events) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.body = None;
                    if !self.opts.reconnect {
                        self.done = true;
                    }
                }
            }
            self.queue.extend(events);
        }
    }

    /// Sends the request and checks the response head; the response, its
    /// body the stream. `None` for 204.
    fn open(&mut self) -> Result<Option<Response>, Failure> {
        let mut req = self
            .client
            .get(&self.url)
            .header(header::ACCEPT, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache");
        if let Some(id) = self.parser.last_id() {
            // Refuses CR, LF and NUL, which the parser never keeps anyway.
            if let Ok(v) = HeaderValue::from_bytes(id.as_bytes()) {
                req = req.header("last-event-id", v);
            }
        }
        for (n, v) in &self.opts.headers {
            req = req.header(n.clone(), v.clone());
        }
        let resp = req.send().map_err(|e| {
            if e.is_builder() {
                Failure::Refused(io::Error::new(io::ErrorKind::InvalidInput, e))
            } else {
                Failure::Transient(e.into_io())
            }
        })?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NO_CONTENT => return Ok(None),
            s => {
                return Err(Failure::Refused(bad_data(format!(
                    "EventSource server answered with {s}, not 200"
                ))))
            }
        }
        let is_stream = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        if !is_stream {
            return Err(Failure::Refused(bad_data(
                "EventSource response is not text/event-stream".to_owned(),
            )));
        }
        // The request's deadline bounded the wait for the head; the stream
        // stays open as long as the server keeps it.
        Ok(Some(resp.without_body_deadline()))
    }
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads once from the stream and parses what arrived. `Ok(false)` when
/// the body ended.
fn read_some(body: &mut Response, parser: &mut Parser, out: &mut Vec<Event>) -> io::Result<bool> {
    let mut chunk = [0u8; 8192];
    let n = body.read(&mut chunk)?;
    if n == 0 {
        return Ok(false);
    }
    parser.feed(&chunk[..n], out);
    Ok(true)
}

impl Iterator for EventSource {
    type Item = io::Result<Event>;

    /// The next event; `Some(Err(_))` for a failed reconnection attempt
    /// (iterate again to retry) or a final refusal.
    fn next(&mut self) -> Option<io::Result<Event>> {
        self.next_event().transpose()
    }
}
