//! One TLS session read by one coroutine while others write.
//!
//! Both directions share rustls's state (sequence numbers, keys, alerts),
//! so the session sits behind a mutex, held only while rustls works on
//! buffers, never across a socket call:
//!
//! - The reader reads ciphertext from the socket with no lock held, then
//!   takes the session lock to decrypt it.
//! - A writer takes the write lock (which orders whole writes and keeps the
//!   records on the wire in the order rustls sealed them), seals plaintext
//!   under the session lock into its own buffer, drops the session lock and
//!   writes that buffer to the socket.
//!
//! A reader blocked in a socket read therefore never holds up a writer,
//! and a writer blocked on a full socket never holds up the reader (which
//! is what keeps two such peers from deadlocking when both send more than
//! the socket buffers hold). When decryption makes rustls queue output of
//! its own (a TLS 1.3 key update answer, an alert), the reader flushes it
//! only if it gets the write lock without waiting; otherwise the writer
//! holding it sends it: after releasing the write lock, a writer looks at
//! the session once more and goes round again if output is pending. The
//! reader queued its output before failing to take the lock, and the
//! writer's last look comes after it released the lock, so no output is
//! left behind.

use std::io::{self, Read, Write};
use std::sync::Arc;

use fibra_runtime::sync::Mutex;
use rustls::Connection;

use crate::TcpStream;

/// Socket reads of ciphertext: a full TLS record plus its header.
const RAW_READ: usize = 16 * 1024 + 512;

struct Shared {
    tcp: TcpStream,
    session: Mutex<Connection>,
    /// Held while a writer's ciphertext goes out; the buffer it is sealed
    /// into.
    write: Mutex<Vec<u8>>,
}

impl Shared {
    /// Moves the session's pending ciphertext into `out`; whether there
    /// was any.
    fn take_pending(conn: &mut Connection, out: &mut Vec<u8>) -> bool {
        let before = out.len();
        while conn.wants_write() {
            // Writing into a Vec cannot fail.
            if conn.write_tls(out).is_err() {
                break;
            }
        }
        out.len() > before
    }

    /// With the write lock held (`out`, which keeps ciphertext an earlier
    /// call could not send): sends that first, then seals `data` and sends
    /// it and everything else the session has pending. Returns how much of
    /// `data` was sealed: all of it, unless the session refused more. On a
    /// socket error, also how much of `data` was sealed before it: that
    /// part is taken, and its unsent ciphertext stays in `out` to go out
    /// first with the next call, so the stream stays whole.
    fn send_locked(&self, out: &mut Vec<u8>, data: &[u8]) -> Result<usize, (usize, io::Error)> {
        self.drain(out).map_err(|e| (0, e))?;
        let mut accepted = 0;
        loop {
            let mut refused = false;
            {
                let mut conn = self.session.lock();
                while accepted < data.len() && out.len() < 64 * 1024 {
                    // rustls takes as much as its send buffer limit allows.
                    let n = conn
                        .writer()
                        .write(&data[accepted..])
                        .map_err(|e| (accepted, e))?;
                    accepted += n;
                    let pending = Self::take_pending(&mut conn, out);
                    if n == 0 && !pending {
                        refused = true;
                        break;
                    }
                }
                Self::take_pending(&mut conn, out);
            }
            self.drain(out).map_err(|e| (accepted, e))?;
            if refused && accepted == 0 && !data.is_empty() {
                return Err((
                    0,
                    io::Error::new(io::ErrorKind::WriteZero, "TLS session accepts no more data"),
                ));
            }
            if refused || accepted == data.len() {
                return Ok(accepted);
            }
        }
    }

    /// Writes `out` to the socket; on failure keeps the unsent part.
    fn drain(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut sent = 0;
        let r = loop {
            if sent == out.len() {
                break Ok(());
            }
            match (&self.tcp).write(&out[sent..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        out.drain(..sent);
        if out.is_empty() && out.capacity() > 256 * 1024 {
            *out = Vec::new();
        }
        r
    }

    /// Sends `data` (possibly empty: only pending output) in order with
    /// other writers; returns how much of it was sealed, also with an
    /// error.
    fn send(&self, data: &[u8]) -> Result<usize, (usize, io::Error)> {
        let n = {
            let mut out = self.write.lock();
            self.send_locked(&mut out, data)?
        };
        // A reader may have queued output while this writer held the
        // lock (see the module comment).
        while self.session.lock().wants_write() {
            let mut out = self.write.lock();
            self.send_locked(&mut out, &[]).map_err(|(_, e)| (n, e))?;
        }
        Ok(n)
    }

    /// Sends `data` whole; on failure says how much of it was taken.
    fn send_all(&self, mut data: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        loop {
            let n = self.send(data).map_err(|(n, e)| (done + n, e))?;
            done += n;
            data = &data[n..];
            if data.is_empty() {
                return Ok(());
            }
        }
    }

    /// Sends ciphertext an earlier write could not.
    fn flush(&self) -> io::Result<()> {
        self.send(&[]).map(drop).map_err(|(_, e)| e)
    }

    /// Sends pending output if no writer is at work (that writer sends it
    /// otherwise).
    fn flush_from_reader(&self) -> io::Result<()> {
        if !self.session.lock().wants_write() {
            return Ok(());
        }
        match self.write.try_lock() {
            Some(mut out) => self
                .send_locked(&mut out, &[])
                .map(drop)
                .map_err(|(_, e)| e),
            None => Ok(()),
        }
    }
}

/// The reading half of a split [`TlsStream`](super::TlsStream); see
/// [`TlsStream::split`](super::TlsStream::split).
pub struct TlsReadHalf {
    shared: Arc<Shared>,
    /// `raw[start..end]`: ciphertext read from the socket, not yet handed
    /// to rustls.
    raw: Box<[u8]>,
    start: usize,
    end: usize,
    /// The socket reached end of file; rustls has not been told yet.
    eof: bool,
}

/// A writing half of a split [`TlsStream`](super::TlsStream); clone it to
/// write from several coroutines (each `write`/`write_all` call goes out
/// whole, never interleaved with another's).
#[derive(Clone)]
pub struct TlsWriteHalf {
    shared: Arc<Shared>,
}

pub(super) fn split(conn: Connection, tcp: TcpStream) -> (TlsReadHalf, TlsWriteHalf) {
    let shared = Arc::new(Shared {
        tcp,
        session: Mutex::new(conn),
        write: Mutex::new(Vec::new()),
    });
    (
        TlsReadHalf {
            shared: shared.clone(),
            raw: vec![0; RAW_READ].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        },
        TlsWriteHalf { shared },
    )
}

impl TlsReadHalf {
    /// The TCP connection underneath (for its address, timeouts or a
    /// shutdown). Reading or writing it directly corrupts the session.
    pub fn get_ref(&self) -> &TcpStream {
        &self.shared.tcp
    }

    /// Hands buffered ciphertext to rustls until some plaintext is ready
    /// (copied into `buf`), the stream ended, or more must be read.
    /// `None`: read the socket.
    fn decrypt(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let mut conn = self.shared.session.lock();
        loop {
            match conn.reader().read(buf) {
                // Ok(0): the peer sent close_notify.
                Ok(n) => return Some(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Some(Err(e)),
            }
            let r = if self.start < self.end {
                let mut raw = &self.raw[self.start..self.end];
                let r = conn.read_tls(&mut raw);
                self.start = self.end - raw.len();
                r
            } else if self.eof {
                // An empty read tells rustls the socket ended; its reader
                // then answers `Ok(0)` or `UnexpectedEof`, never
                // `WouldBlock`.
                self.eof = false;
                conn.read_tls(&mut &[][..])
            } else {
                return None;
            };
            if let Err(e) = r {
                return Some(Err(e));
            }
            if let Err(e) = conn.process_new_packets() {
                return Some(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }
}

impl Read for TlsReadHalf {
    /// Reads plaintext; `Ok(0)` after the peer's `close_notify`,
    /// `UnexpectedEof` when the connection ended without one.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(r) = self.decrypt(buf) {
                // Decryption may have queued an answer (a key update, an
                // alert after a bad record).
                let flushed = self.shared.flush_from_reader();
                let n = r?;
                flushed?;
                return Ok(n);
            }
            self.shared.flush_from_reader()?;
            let n = (&self.shared.tcp).read(&mut self.raw)?;
            self.start = 0;
            self.end = n;
            self.eof = n == 0;
        }
    }
}

impl TlsWriteHalf {
    /// The TCP connection underneath (for its address, timeouts or a
    /// shutdown). Reading or writing it directly corrupts the session.
    pub fn get_ref(&self) -> &TcpStream {
        &self.shared.tcp
    }

    /// Writes all of `buf`, as `write_all`; on failure also says how many
    /// bytes of it were taken (sealed: sent, or held to go out first with
    /// the next write), so that a caller resends only the rest.
    ///
    /// # Errors
    /// The socket's errors, with the count.
    pub fn write_all_counted(&self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
        self.shared.send_all(buf)
    }

    /// Sends TLS `close_notify`: the peer's reads then return end of file.
    /// Later writes fail. The TCP connection stays open.
    ///
    /// # Errors
    /// The socket's write errors.
    pub fn close_notify(&self) -> io::Result<()> {
        self.shared.session.lock().send_close_notify();
        self.shared.flush()
    }
}

impl Write for TlsWriteHalf {
    /// As for `&TlsWriteHalf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl Write for &TlsWriteHalf {
    /// Seals all of `buf` and sends it before returning (as `write_all`),
    /// never interleaved with another writer's call. `Ok(n)` with `n` short
    /// of `buf.len()` only when the session takes no more. After an error
    /// part of `buf` may have been taken (see
    /// [`write_all_counted`](TlsWriteHalf::write_all_counted)); ciphertext
    /// the socket did not take goes out first with the next write or
    /// [`flush`](Write::flush), so the session stays whole.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.send(buf).map_err(|(_, e)| e)
    }

    /// Sends ciphertext a failed write left behind.
    fn flush(&mut self) -> io::Result<()> {
        self.shared.flush()
    }
}

impl std::fmt::Debug for TlsReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReadHalf")
            .field("stream", &self.shared.tcp)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TlsWriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsWriteHalf")
            .field("stream", &self.shared.tcp)
            .finish_non_exhaustive()
    }
}
