//! One connection to one memcached node: a socket, a read buffer the codec
//! decodes from, and a write buffer commands are encoded into. Plain
//! blocking code; reads and writes park only the calling coroutine.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_net::{Buffered, Stream};
use fibra_runtime::pool::Manage;

use crate::error::{Error, Kind, ServerKind};
use crate::proto::{self, Reply, Status};

/// The read buffer's starting size.
const READ_CHUNK: usize = 16 * 1024;
/// The largest reply unit the decoder accepts (a value and its header
/// line), so the largest the read buffer needs to hold.
const MAX_REPLY: usize = proto::MAX_VALUE_LEN + proto::MAX_LINE_LEN + 2;

/// A connection with its buffers. `broken` is set by any failure that may
/// leave the stream out of step; the pool then closes it.
pub(crate) struct Connection {
    conn: Buffered<Stream>,
    /// The length of the reply [`Connection::reply`] last returned: still
    /// borrowed by the caller then, consumed at the next call.
    returned: usize,
    pub(crate) broken: bool,
    /// The node's generation when this connection was opened.
    generation: u64,
}

impl Connection {
    fn new(stream: Stream, generation: u64) -> Connection {
        Connection {
            conn: Buffered::with_capacity(READ_CHUNK, stream).max_buffer(MAX_REPLY),
            returned: 0,
            broken: false,
            generation,
        }
    }

    /// The request being built; [`Connection::send`] writes and clears it.
    pub(crate) fn wbuf(&mut self) -> &mut Vec<u8> {
        self.conn.write_buf()
    }

    /// Writes the encoded request.
    pub(crate) fn send(&mut self) -> Result<(), Error> {
        let r = self.conn.flush();
        r.map_err(|e| self.fail(e.into()))
    }

    fn fail(&mut self, e: Error) -> Error {
        self.broken = true;
        e
    }

    /// Whether bytes of a reply are left unread (the stream is out of step
    /// for the next request).
    fn has_unread(&self) -> bool {
        self.conn.buffered().len() > self.returned
    }

    /// The next reply unit. `ERROR`/`CLIENT_ERROR`/`SERVER_ERROR` come back
    /// as errors; after `ERROR` and `CLIENT_ERROR` the connection is marked
    /// broken (the server may have read part of the request as a command).
    pub(crate) fn reply(&mut self) -> Result<Reply<'_>, Error> {
        self.conn.consume(std::mem::take(&mut self.returned));
        // Find a whole reply first, so that the returned borrow is taken
        // once the buffer no longer changes.
        loop {
            match proto::decode(self.conn.buffered()) {
                Ok(Status::Complete(..)) => break,
                Ok(Status::Partial) => {
                    if let Err(e) = self.conn.fill() {
                        return Err(self.fail(e.into()));
                    }
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
        let Ok(Status::Complete(reply, n)) = proto::decode(self.conn.buffered()) else {
            unreachable!("decoded as complete just before")
        };
        self.returned = n;
        let server_err = |kind, m: &[u8]| {
            Error::new(Kind::Server(kind, String::from_utf8_lossy(m).into_owned()))
        };
        match reply {
            Reply::Error(m) => {
                let e = server_err(ServerKind::Error, m);
                self.broken = true;
                Err(e)
            }
            Reply::ClientError(m) => {
                let e = server_err(ServerKind::Client, m);
                self.broken = true;
                Err(e)
            }
            Reply::ServerError(m) => Err(server_err(ServerKind::Server, m)),
            r => Ok(r),
        }
    }

    /// Marks the connection broken and builds the error for a reply that
    /// does not fit the command.
    pub(crate) fn unexpected(&mut self, what: &str) -> Error {
        self.broken = true;
        Error::new(Kind::Unexpected(what.to_string()))
    }
}

/// Opens connections to one node for its [`fibra_runtime::pool::Pool`].
pub(crate) struct Manager {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) io_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    /// Bumped on every network failure of the node: connections opened
    /// before it (idle in the pool while the node went down) are closed
    /// instead of reused.
    pub(crate) generation: Arc<AtomicU64>,
}

impl Manager {
    /// Whether `conn` was opened before the node's last failure.
    pub(crate) fn is_stale(&self, conn: &Connection) -> bool {
        conn.generation != self.generation.load(Ordering::Acquire)
    }
}

impl Manage for Manager {
    type Conn = Connection;
    type Error = io::Error;

    /// The connect timeout is one scope deadline over DNS and every
    /// address tried, so a stalling resolver cannot exceed it either.
    fn connect(&self) -> io::Result<Connection> {
        match self.connect_timeout.filter(|t| !t.is_zero()) {
            Some(t) => fibra_runtime::with_timeout(t, || self.open()),
            None => self.open(),
        }
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        // A reply left unread also puts the stream out of step.
        conn.broken || conn.has_unread() || self.is_stale(conn)
    }
}

impl Manager {
    fn open(&self) -> io::Result<Connection> {
        let generation = self.generation.load(Ordering::Acquire);
        // The connect timeout is the enclosing scope (`connect`).
        let dialer = fibra_net::Dialer::new().keepalive(self.keepalive);
        let s = Stream::from(dialer.dial((self.host.as_str(), self.port))?);
        s.set_read_timeout(self.io_timeout)?;
        s.set_write_timeout(self.io_timeout)?;
        Ok(Connection::new(s, generation))
    }
}
