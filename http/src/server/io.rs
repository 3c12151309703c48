//! The connection's buffered input and batched output.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::TcpStream;

const READ_CHUNK: usize = 8 * 1024;

/// Buffered reads from the connection; unconsumed bytes are
/// `buf[start..end]`.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) stream: Arc<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    pub(crate) fn new(stream: Arc<TcpStream>) -> Input {
        Input {
            stream,
            buf: vec![0; READ_CHUNK],
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

    /// Reads more bytes, waiting at most until `deadline`. Returns how many
    /// (0 at end of stream). Keeps what is pending and grows the buffer
    /// when it is full, so callers bound it by consuming or by a limit.
    pub(crate) fn fill(&mut self, deadline: Option<Instant>) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
                }
                Some(left)
            }
            None => None,
        };
        self.stream.set_read_timeout(timeout)?;
        let n = (&*self.stream).read(&mut self.buf[self.end..])?;
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
    pub(crate) stream: Arc<TcpStream>,
    pub(crate) buf: Vec<u8>,
    pub(crate) write_timeout: Option<Duration>,
    /// Set once a write failed: the connection is done.
    pub(crate) broken: bool,
}

/// Flush the output early once it holds this much.
pub(crate) const FLUSH_THRESHOLD: usize = 64 * 1024;

impl Output {
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
        self.stream.set_write_timeout(self.write_timeout)?;
        let r = (&*self.stream).write_all(&self.buf);
        self.buf.clear();
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}
