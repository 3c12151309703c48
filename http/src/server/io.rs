//! The connection's buffered input and batched output.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::transport::Transport;

/// The smallest read into the connection's buffer.
const READ_CHUNK: usize = 4 * 1024;

/// Buffered reads from the connection; unconsumed bytes are
/// `buf[start..end]`.
///
/// The buffer is allocated only while bytes are pending or a head or body
/// is being read in pieces, and [`Input::release`] frees it once the
/// connection is idle: the first bytes of a request are read into a buffer
/// on the caller's stack ([`Input::read_first`]), and only what the head
/// did not use (pipelined requests, the start of a body) is kept here.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) stream: Arc<Transport>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    pub(crate) fn new(stream: Arc<Transport>) -> Input {
        Input {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The bytes read but not consumed yet.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Frees the buffer if nothing is pending (the connection goes idle).
    pub(crate) fn release(&mut self) {
        if self.start == self.end && self.buf.capacity() > 0 {
            self.buf = Vec::new();
        }
    }

    /// Reads into `into` (a buffer owned by the caller, typically on its
    /// stack) while nothing is pending: the wait for a request that holds
    /// no heap buffer. Waits until `deadline`, or for `timeout` from now
    /// (which costs no separate clock read: the stream computes it). Keep
    /// what the caller does not consume with [`Input::keep`].
    pub(crate) fn read_first(
        &self,
        into: &mut [u8],
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        debug_assert!(self.pending().is_empty());
        self.stream.tcp().set_read_timeout(timeout)?;
        let mut stream = &*self.stream;
        match deadline {
            Some(d) => fibra_runtime::with_deadline(d, || stream.read(into)),
            None => stream.read(into),
        }
    }

    /// Appends bytes read elsewhere to the pending ones.
    pub(crate) fn keep(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.make_room(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Ensures `want` bytes of room after `end`, moving the pending bytes to
    /// the front or growing the buffer.
    fn make_room(&mut self, want: usize) {
        if self.buf.len() - self.end >= want {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < want {
            let len = (self.end + want).max(self.buf.len() * 2).max(READ_CHUNK);
            self.buf.resize(len, 0);
        }
    }

    /// Reads more bytes, waiting at most until `deadline`. Returns how many
    /// (0 at end of stream). Keeps what is pending and grows the buffer
    /// when it is full, so callers bound it by consuming or by a limit.
    pub(crate) fn fill(&mut self, deadline: Option<Instant>) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.make_room(READ_CHUNK);
        }
        self.stream.tcp().set_read_timeout(None)?;
        let buf = &mut self.buf[self.end..];
        let mut stream = &*self.stream;
        let n = match deadline {
            // Unlike a stream timeout, a scope deadline reads no clock
            // unless the read has to wait.
            Some(d) => fibra_runtime::with_deadline(d, || stream.read(buf))?,
            None => stream.read(buf)?,
        };
        self.end += n;
        Ok(n)
    }

    /// Splits off what is pending, for an upgraded connection.
    pub(crate) fn take_pending(&mut self) -> Vec<u8> {
        let v = self.pending().to_vec();
        self.start = 0;
        self.end = 0;
        v
    }
}

/// Response bytes waiting to be written; flushed in one write when no more
/// pipelined input is pending or when it grows large.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) stream: Arc<Transport>,
    pub(crate) buf: Vec<u8>,
    pub(crate) write_timeout: Option<Duration>,
    /// Set once a write failed: the connection is done.
    pub(crate) broken: bool,
}

/// Flush the output early once it holds this much.
pub(crate) const FLUSH_THRESHOLD: usize = 64 * 1024;

/// An idle connection keeps an output buffer up to this capacity (reused by
/// the next response); a larger one is freed.
const IDLE_OUTPUT_KEEP: usize = 1024;

impl Output {
    /// Frees a large, empty buffer (the connection goes idle).
    pub(crate) fn release(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > IDLE_OUTPUT_KEEP {
            self.buf = Vec::new();
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "connection write failed earlier",
            ));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.stream.tcp().set_write_timeout(self.write_timeout)?;
        let r = (&*self.stream).write_all(&self.buf);
        self.buf.clear();
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}
