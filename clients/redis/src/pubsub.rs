//! Pub/sub: a connection that subscribes and receives messages.

use std::collections::VecDeque;
use std::time::Duration;

use fibra_runtime::chan;

use crate::cmd::{cmd, Cmd};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::info::ConnectionInfo;
use crate::proto::Value;
use crate::types::{FromRedis, ToRedisArgs};

/// A published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    channel: Vec<u8>,
    pattern: Option<Vec<u8>>,
    payload: Vec<u8>,
}

impl Msg {
    /// The channel it was published on.
    pub fn channel(&self) -> &[u8] {
        &self.channel
    }

    /// The channel name as text (lossy).
    pub fn channel_name(&self) -> String {
        String::from_utf8_lossy(&self.channel).into_owned()
    }

    /// For a pattern subscription, the pattern that matched.
    pub fn pattern(&self) -> Option<&[u8]> {
        self.pattern.as_deref()
    }

    /// The payload's bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, converted (`String`, a number, …).
    ///
    /// # Errors
    /// A conversion error when the payload does not parse as `T`.
    pub fn payload<T: FromRedis>(&self) -> Result<T> {
        T::from_redis(Value::Bulk(self.payload.clone()))
    }
}

/// What a pub/sub connection received: a message or a (un)subscribe
/// confirmation.
enum Event {
    Message(Msg),
    /// `subscribe`, `psubscribe`, `unsubscribe`, `punsubscribe` and the
    /// number of subscriptions left.
    Ack(String, i64),
    Pong,
}

fn bytes(v: Value) -> Result<Vec<u8>> {
    Vec::<u8>::from_redis(v)
}

fn event(v: Value) -> Result<Event> {
    let items = match v {
        Value::Array(items) | Value::Push(items) => items,
        Value::Simple(s) if s == "PONG" => return Ok(Event::Pong),
        Value::Error(e) => return Err(e.into()),
        other => {
            return Err(Error::protocol(format!(
                "unexpected pub/sub reply {other:?}"
            )))
        }
    };
    let mut it = items.into_iter();
    let kind = String::from_redis(it.next().unwrap_or(Value::Nil))?.to_ascii_lowercase();
    let mut next = || it.next().unwrap_or(Value::Nil);
    match kind.as_str() {
        "message" => Ok(Event::Message(Msg {
            channel: bytes(next())?,
            pattern: None,
            payload: bytes(next())?,
        })),
        "pmessage" => Ok(Event::Message(Msg {
            pattern: Some(bytes(next())?),
            channel: bytes(next())?,
            payload: bytes(next())?,
        })),
        "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" => {
            let _channel = next();
            Ok(Event::Ack(kind, i64::from_redis(next())?))
        }
        "pong" => Ok(Event::Pong),
        _ => Err(Error::protocol(format!(
            "unexpected pub/sub message kind {kind}"
        ))),
    }
}

/// A connection in subscriber mode.
///
/// Subscribe with [`PubSub::subscribe`] / [`PubSub::psubscribe`], then take
/// messages with [`PubSub::next_message`], the [`PubSub::iter`] iterator,
/// or hand the connection to a coroutine that feeds a channel
/// ([`PubSub::into_channel`]).
///
/// ```no_run
/// # fn main() -> fibra_redis::Result<()> {
/// let mut sub = fibra_redis::PubSub::connect("redis://127.0.0.1/")?;
/// sub.subscribe("news")?;
/// for msg in sub.iter().take(3) {
///     let text: String = msg?.payload()?;
///     println!("{text}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PubSub {
    conn: Connection,
    pending: VecDeque<Msg>,
}

impl PubSub {
    /// Connects a new subscriber.
    ///
    /// # Errors
    /// As [`Connection::connect`].
    pub fn connect(url: &str) -> Result<PubSub> {
        Ok(PubSub::new(Connection::connect(url)?))
    }

    /// Connects a new subscriber.
    ///
    /// # Errors
    /// As [`Connection::connect`].
    pub fn connect_with(info: &ConnectionInfo) -> Result<PubSub> {
        Ok(PubSub::new(Connection::connect_with(info)?))
    }

    /// Turns a connection into a subscriber. A subscriber waits for
    /// messages as long as it takes, so the connection's read timeout (3 s
    /// by default) is lifted; TCP keep-alive still notices a vanished
    /// server. Bound a wait with [`PubSub::next_message_timeout`], or set a
    /// read timeout again with [`PubSub::set_read_timeout`].
    pub fn new(mut conn: Connection) -> PubSub {
        // Only fails on a closed socket, which the first call reports.
        let _ = conn.set_read_timeout(None);
        PubSub {
            conn,
            pending: VecDeque::new(),
        }
    }

    /// Sends a (un)subscribe command and waits for `acks` confirmations,
    /// queueing messages that arrive meanwhile.
    fn control(&mut self, c: &Cmd, mut acks: usize) -> Result<()> {
        let mut wire = Vec::new();
        c.encode(&mut wire);
        self.conn.write_raw(&wire)?;
        while acks > 0 {
            match self.read_event(false)? {
                Some(Event::Message(m)) => self.pending.push_back(m),
                Some(Event::Ack(kind, left)) => {
                    acks -= 1;
                    // An unsubscribe from everything confirms once per
                    // subscription; stop at the last, stray confirmations
                    // are skipped later.
                    if kind.contains("unsubscribe") && left == 0 {
                        acks = 0;
                    }
                }
                Some(Event::Pong) | None => {}
            }
        }
        Ok(())
    }

    fn read_event(&mut self, idle_ok: bool) -> Result<Option<Event>> {
        match self.conn.read_value(idle_ok)? {
            Some(v) => event(v).map(Some),
            None => Ok(None),
        }
    }

    /// `SUBSCRIBE channel…`, waiting for the server's confirmations.
    ///
    /// # Errors
    /// Socket errors; the server's error (such as `NOPERM`).
    pub fn subscribe<C: ToRedisArgs>(&mut self, channels: C) -> Result<()> {
        let c = cmd("SUBSCRIBE").arg(channels);
        let n = c.args_len() - 1;
        self.control(&c, n)
    }

    /// `PSUBSCRIBE pattern…`, waiting for the server's confirmations.
    ///
    /// # Errors
    /// As [`PubSub::subscribe`].
    pub fn psubscribe<P: ToRedisArgs>(&mut self, patterns: P) -> Result<()> {
        let c = cmd("PSUBSCRIBE").arg(patterns);
        let n = c.args_len() - 1;
        self.control(&c, n)
    }

    /// `UNSUBSCRIBE channel…` (no channels: all of them).
    ///
    /// # Errors
    /// As [`PubSub::subscribe`].
    pub fn unsubscribe<C: ToRedisArgs>(&mut self, channels: C) -> Result<()> {
        let c = cmd("UNSUBSCRIBE").arg(channels);
        let n = (c.args_len() - 1).max(1);
        self.control(&c, n)
    }

    /// `PUNSUBSCRIBE pattern…` (no patterns: all of them).
    ///
    /// # Errors
    /// As [`PubSub::subscribe`].
    pub fn punsubscribe<P: ToRedisArgs>(&mut self, patterns: P) -> Result<()> {
        let c = cmd("PUNSUBSCRIBE").arg(patterns);
        let n = (c.args_len() - 1).max(1);
        self.control(&c, n)
    }

    /// Waits for the next message.
    ///
    /// # Errors
    /// Socket errors (the connection is then broken); with a read timeout
    /// set, `TimedOut` ([`Error::is_timeout`]) when no message came in
    /// time, after which the subscriber is still usable.
    pub fn next_message(&mut self) -> Result<Msg> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Ok(m);
            }
            match self.read_event(true)? {
                Some(Event::Message(m)) => return Ok(m),
                Some(_) => {}
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no message before the read timeout",
                    )
                    .into())
                }
            }
        }
    }

    /// Waits at most `timeout` for the next message: `Ok(None)` when none
    /// came.
    ///
    /// # Errors
    /// Socket errors.
    pub fn next_message_timeout(&mut self, timeout: Duration) -> Result<Option<Msg>> {
        let old = self.conn.read_timeout();
        self.conn.set_read_timeout(Some(timeout))?;
        let r = self.next_message();
        self.conn.set_read_timeout(old)?;
        match r {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_timeout() && !self.conn.is_broken() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bounds each [`PubSub::next_message`] wait (`None`, the default for
    /// a subscriber: no bound); a wait that times out leaves the
    /// subscriber usable.
    ///
    /// # Errors
    /// Setting the socket option.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) -> Result<()> {
        self.conn.set_read_timeout(t)
    }

    /// The messages as an iterator; it ends after yielding an error other
    /// than a read timeout.
    pub fn iter(&mut self) -> Messages<'_> {
        Messages {
            sub: self,
            done: false,
        }
    }

    /// Hands the subscriber to a new coroutine that sends every message
    /// into a channel with room for `capacity` messages (0: rendezvous).
    /// The coroutine ends, closing the connection, after sending an
    /// error, or within a second of the receiver being dropped.
    ///
    /// # Errors
    /// Setting the socket's read timeout.
    pub fn into_channel(mut self, capacity: usize) -> Result<chan::Receiver<Result<Msg>>> {
        let (tx, rx) = chan::bounded(capacity);
        self.conn.set_read_timeout(Some(Duration::from_secs(1)))?;
        fibra_runtime::spawn(move || loop {
            if tx.is_closed() {
                return;
            }
            match self.next_message() {
                Ok(m) => {
                    if tx.send(Ok(m)).is_err() {
                        return;
                    }
                }
                Err(e) if e.is_timeout() && !self.conn.is_broken() => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// The connection underneath.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// The iterator of [`PubSub::iter`].
#[derive(Debug)]
pub struct Messages<'a> {
    sub: &'a mut PubSub,
    done: bool,
}

impl Iterator for Messages<'_> {
    type Item = Result<Msg>;

    fn next(&mut self) -> Option<Result<Msg>> {
        if self.done {
            return None;
        }
        loop {
            match self.sub.next_message() {
                Err(e) if e.is_timeout() && !self.sub.conn.is_broken() => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(m) => return Some(Ok(m)),
            }
        }
    }
}
