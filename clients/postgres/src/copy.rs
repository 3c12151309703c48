//! `COPY ... FROM STDIN` as a [`Write`], `COPY ... TO STDOUT` as a
//! [`Read`].

use std::io::{self, Read, Write};

use crate::backend::Backend;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto;

const CHUNK: usize = 64 * 1024;

impl Client {
    /// Starts `COPY ... FROM STDIN` (`sql` is the whole COPY statement);
    /// write the data in the statement's format, then call
    /// [`CopyInWriter::finish`].
    ///
    /// ```no_run
    /// # fn f(client: &mut fibra_postgres::Client) -> fibra_postgres::Result<()> {
    /// use std::io::Write;
    /// let mut w = client.copy_in("COPY items (id, name) FROM STDIN")?;
    /// w.write_all(b"1\tapple\n2\tpear\n")?;
    /// assert_eq!(w.finish()?, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A server error (no such table, not a COPY FROM STDIN), or an I/O
    /// error.
    pub fn copy_in(&mut self, sql: &str) -> Result<CopyInWriter<'_>> {
        if self.is_broken() {
            return Err(Error::closed());
        }
        self.queue_close_messages();
        proto::encode_query(self.wbuf(), sql);
        self.send()?;
        loop {
            match self.recv()? {
                Backend::CopyIn => break,
                Backend::Error(e) => return Err(self.drain_err(e)),
                Backend::Ready => return Err(Error::protocol("not a COPY FROM STDIN statement")),
                _ => {}
            }
        }
        Ok(CopyInWriter {
            client: self,
            buf: Vec::with_capacity(CHUNK + 5),
            done: false,
        })
    }

    /// Starts `COPY ... TO STDOUT` and returns a reader of its output.
    /// Reading to the end completes the command; dropping the reader early
    /// reads and discards the rest.
    ///
    /// # Errors
    /// A server error or an I/O error.
    pub fn copy_out(&mut self, sql: &str) -> Result<CopyOutReader<'_>> {
        if self.is_broken() {
            return Err(Error::closed());
        }
        self.queue_close_messages();
        proto::encode_query(self.wbuf(), sql);
        self.send()?;
        loop {
            match self.recv()? {
                Backend::CopyOut => break,
                Backend::Error(e) => return Err(self.drain_err(e)),
                Backend::Ready => return Err(Error::protocol("not a COPY TO STDOUT statement")),
                _ => {}
            }
        }
        Ok(CopyOutReader {
            client: self,
            chunk: Vec::new(),
            pos: 0,
            done: false,
            rows: None,
        })
    }
}

/// The data of a `COPY FROM STDIN`; from [`Client::copy_in`]. Data is
/// sent in 64 KiB `CopyData` messages. Dropping it without
/// [`finish`](CopyInWriter::finish) aborts the COPY (nothing is inserted).
pub struct CopyInWriter<'a> {
    client: &'a mut Client,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for CopyInWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyInWriter")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl CopyInWriter<'_> {
    fn send_chunk(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        proto::encode_copy_data(self.client.wbuf(), &self.buf);
        self.buf.clear();
        self.client.send()
    }

    /// Ends the data and completes the COPY, returning the rows copied.
    ///
    /// # Errors
    /// A server error (bad data, constraint violation: nothing is
    /// inserted), or an I/O error.
    pub fn finish(mut self) -> Result<u64> {
        self.done = true;
        self.send_chunk()?;
        proto::encode_copy_done(self.client.wbuf());
        self.client.send()?;
        let mut rows = 0;
        let mut err = None;
        loop {
            match self.client.recv()? {
                Backend::CommandComplete(n) => rows = n,
                Backend::Error(e) => {
                    err.get_or_insert(e);
                }
                Backend::Ready => break,
                _ => {}
            }
        }
        match err {
            Some(e) => Err(Error::db(e)),
            None => Ok(rows),
        }
    }
}

fn to_io(e: Error) -> io::Error {
    match e.io_error() {
        Some(io) => io::Error::new(io.kind(), e),
        None => io::Error::other(e),
    }
}

impl Write for CopyInWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_chunk().map_err(to_io)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_chunk().map_err(to_io)
    }
}

impl Drop for CopyInWriter<'_> {
    fn drop(&mut self) {
        if self.done || self.client.is_broken() {
            return;
        }
        proto::encode_copy_fail(self.client.wbuf(), "COPY aborted by the client");
        if self.client.send().is_ok() {
            // The server answers with an error (57014) and ReadyForQuery.
            let _ = self.client.drain(None);
        }
    }
}

/// The output of a `COPY TO STDOUT`; from [`Client::copy_out`].
pub struct CopyOutReader<'a> {
    client: &'a mut Client,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
    rows: Option<u64>,
}

impl std::fmt::Debug for CopyOutReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOutReader")
            .field("done", &self.done)
            .finish()
    }
}

impl CopyOutReader<'_> {
    /// The rows copied, once the reader reached the end.
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// Fetches the next `CopyData`; `false` at the end.
    fn fill(&mut self) -> Result<bool> {
        loop {
            match self.client.recv()? {
                Backend::CopyData(r) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(self.client.buffered(r));
                    self.pos = 0;
                    return Ok(true);
                }
                Backend::CopyDone => {}
                Backend::CommandComplete(n) => self.rows = Some(n),
                Backend::Ready => {
                    self.done = true;
                    return Ok(false);
                }
                Backend::Error(e) => {
                    self.done = true;
                    return Err(self.client.drain_err(e));
                }
                other => {
                    self.done = true;
                    return Err(self
                        .client
                        .fail(Error::protocol(format!("unexpected message {other:?}"))));
                }
            }
        }
    }
}

impl Read for CopyOutReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            if self.done || !self.fill().map_err(to_io)? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for CopyOutReader<'_> {
    fn drop(&mut self) {
        while !self.done {
            if self.fill().is_err() {
                break;
            }
        }
    }
}
