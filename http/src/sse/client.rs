//! An EventSource-style client: reads events over a plain HTTP/1.1 GET and
//! reconnects with `Last-Event-ID`, honouring the server's `retry`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Duration;

use fibra_net::TcpStream;
use http::{HeaderName, HeaderValue, Uri};

use super::{Event, Parser};
use crate::proto::{BodyDecoder, Framing};

const MAX_HEAD: usize = 16 * 1024;

/// Options for an [`EventSource`].
#[derive(Debug, Clone)]
pub struct EventSourceBuilder {
    headers: Vec<(HeaderName, HeaderValue)>,
    retry: Duration,
    reconnect: bool,
    last_event_id: Option<String>,
}

impl Default for EventSourceBuilder {
    fn default() -> EventSourceBuilder {
        EventSourceBuilder {
            headers: Vec::new(),
            retry: Duration::from_secs(3),
            reconnect: true,
            last_event_id: None,
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

    /// Connects to an `http://` URL.
    ///
    /// # Errors
    /// As [`EventSource::connect`].
    pub fn connect(self, url: &str) -> io::Result<EventSource> {
        let uri: Uri = url
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "invalid URL"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "EventSource URL must be http://host[:port]/path",
            ));
        }
        let mut es = EventSource {
            uri,
            parser: Parser::with_last_id(self.last_event_id.clone()),
            opts: self,
            conn: None,
            queue: VecDeque::new(),
            done: false,
        };
        match es.open()? {
            Some(c) => es.conn = Some(c),
            None => es.done = true,
        }
        Ok(es)
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// `None`: the body ends when the connection closes.
    decoder: Option<BodyDecoder>,
}

/// Reads a server's event stream; an iterator of events that reconnects
/// (after the `retry` delay, sending `Last-Event-ID`) when the connection
/// drops. It ends when the server answers `204 No Content` and fails for
/// good on another status or content type, as a browser's EventSource.
pub struct EventSource {
    uri: Uri,
    opts: EventSourceBuilder,
    parser: Parser,
    conn: Option<Conn>,
    queue: VecDeque<Event>,
    done: bool,
}

impl std::fmt::Debug for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSource")
            .field("uri", &self.uri)
            .field("last_event_id", &self.parser.last_id())
            .finish_non_exhaustive()
    }
}

impl EventSource {
    /// Connects to `url` (`http://` only) with default options.
    ///
    /// # Errors
    /// An invalid URL; connection errors; `InvalidData` when the server
    /// answers with a status other than 200 or 204, or not with
    /// `text/event-stream`.
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
        if let Some(c) = self.conn.take() {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
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
            let Some(conn) = self.conn.as_mut() else {
                fibra_runtime::sleep_cancelable(self.retry())?;
                match self.open() {
                    Ok(Some(c)) => self.conn = Some(c),
                    Ok(None) => self.done = true,
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                        self.done = true;
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                }
                continue;
            };
            let mut events = Vec::new();
            match read_body(conn, &mut self.parser, &mut events) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.conn = None;
                    if !self.opts.reconnect {
                        self.done = true;
                    }
                }
            }
            self.queue.extend(events);
        }
    }

    /// Sends the request and reads the response head. `None` for 204.
    fn open(&mut self) -> io::Result<Option<Conn>> {
        let host = self.uri.host().unwrap_or_default();
        let port = self.uri.port_u16().unwrap_or(80);
        let connect_host = host.trim_start_matches('[').trim_end_matches(']');
        let mut stream = TcpStream::connect((connect_host, port))?;
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = self.uri.authority().map_or(host, |a| a.as_str());
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
        )
        .into_bytes();
        if let Some(id) = self.parser.last_id() {
            if !id.contains(['\r', '\n']) {
                req.extend_from_slice(format!("Last-Event-ID: {id}\r\n").as_bytes());
            }
        }
        for (n, v) in &self.opts.headers {
            req.extend_from_slice(n.as_str().as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        stream.write_all(&req)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            let used = match resp.parse(&buf) {
                Ok(httparse::Status::Complete(u)) => u,
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
                _ => return Err(bad_data("invalid response head")),
            };
            let get = |name: &str| {
                resp.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
            };
            match resp.code {
                Some(200) => {}
                Some(204) => return Ok(None),
                _ => {
                    return Err(bad_data(
                        "EventSource server answered with a status other than 200",
                    ))
                }
            }
            let ct = get("content-type").unwrap_or("");
            if !ct
                .trim()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
            {
                return Err(bad_data("EventSource response is not text/event-stream"));
            }
            let chunked = get("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
            let decoder = if chunked {
                Some(BodyDecoder::new(Framing::Chunked))
            } else {
                get("content-length")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|n| BodyDecoder::new(Framing::Length(n)))
            };
            buf.drain(..used);
            return Ok(Some(Conn {
                stream,
                buf,
                decoder,
            }));
        }
    }
}

fn bad_data(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Parses what is buffered, then reads once more. `Ok(false)` when the
/// body ended.
fn read_body(conn: &mut Conn, parser: &mut Parser, out: &mut Vec<Event>) -> io::Result<bool> {
    match &mut conn.decoder {
        None => {
            parser.feed(&conn.buf, out);
            conn.buf.clear();
        }
        Some(d) => {
            let mut pos = 0;
            while pos < conn.buf.len() && !d.is_done() {
                let (used, data) = d
                    .decode(&conn.buf[pos..], usize::MAX)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                parser.feed(data, out);
                if used == 0 {
                    break;
                }
                pos += used;
            }
            conn.buf.drain(..pos);
            if d.is_done() {
                return Ok(false);
            }
        }
    }
    if !out.is_empty() {
        return Ok(true);
    }
    let mut chunk = [0u8; 8192];
    let n = conn.stream.read(&mut chunk)?;
    if n == 0 {
        return Ok(false);
    }
    conn.buf.extend_from_slice(&chunk[..n]);
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
