//! [`Buffered`]: the one buffered connection under every fibra client, so
//! that no protocol crate compacts or grows a read buffer of its own.

use std::io::{self, Read, Write};

use crate::stream::{ReadHalf, Stream, WriteHalf};

/// The read buffer's size at first, and after a large message has gone.
const DEFAULT_CAPACITY: usize = 16 * 1024;
/// The default limit on buffered input (one message, or the part of a
/// message a codec needs whole).
const DEFAULT_LIMIT: usize = 64 * 1024 * 1024;
/// Fewer free bytes than this at the end of the buffer: move the unread
/// bytes to the front before reading, instead of reading a sliver.
const MIN_READ: usize = 4096;
/// A read buffer grown past this gives its memory back once it holds
/// little again; so does a write buffer after a flush.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// A stream with a read buffer that a protocol codec decodes from and a
/// write buffer it encodes into: hyper's `Buffered`, for fibra's clients.
///
/// The codec drives it: [`buffered`](Buffered::buffered) is what has
/// arrived and not been consumed; when that holds no whole message,
/// [`fill`](Buffered::fill) reads more (moving the unread bytes to the front
/// or growing the buffer as needed); [`consume`](Buffered::consume) drops a
/// decoded message. Writes are batched: encode into
/// [`write_buf`](Buffered::write_buf), then [`flush`](Buffered::flush) sends
/// it all in one write.
///
/// No message may exceed the limit ([`max_buffer`](Buffered::max_buffer),
/// 64 MiB by default): `fill` then fails with `InvalidData` rather than
/// grow without bound. After a large message the buffers shrink back.
///
/// ```no_run
/// use fibra_net::{Buffered, Dialer, Stream};
///
/// fibra_runtime::run(|| -> std::io::Result<()> {
///     let stream = Stream::from(Dialer::new().dial(("127.0.0.1", 6379))?);
///     let mut conn = Buffered::new(stream);
///     conn.write_buf().extend_from_slice(b"PING\r\n");
///     conn.flush()?;
///     let line = loop {
///         if let Some(end) = conn.buffered().iter().position(|&b| b == b'\n') {
///             break end + 1;
///         }
///         conn.fill()?;
///     };
///     assert_eq!(&conn.buffered()[..line], b"+PONG\r\n");
///     conn.consume(line);
///     Ok(())
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct Buffered<S> {
    stream: S,
    /// `rbuf[rpos..rend]` is unread; `rbuf.len()` is the allocated size,
    /// zero-filled once when it grows.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    wbuf: Vec<u8>,
    limit: usize,
    initial: usize,
}

impl<S> Buffered<S> {
    /// Buffers `stream` with a 16 KiB read buffer.
    pub fn new(stream: S) -> Buffered<S> {
        Buffered::with_capacity(DEFAULT_CAPACITY, stream)
    }

    /// Buffers `stream` with a read buffer of `capacity` bytes (at least
    /// one), its size again whenever a large message has shrunk it.
    pub fn with_capacity(capacity: usize, stream: S) -> Buffered<S> {
        let capacity = capacity.max(1);
        Buffered {
            stream,
            rbuf: vec![0; capacity],
            rpos: 0,
            rend: 0,
            wbuf: Vec::new(),
            limit: DEFAULT_LIMIT.max(capacity),
            initial: capacity,
        }
    }

    /// Sets the most bytes the read buffer may hold (at least its initial
    /// capacity): the largest message the codec can decode.
    pub fn max_buffer(mut self, limit: usize) -> Buffered<S> {
        self.set_max_buffer(limit);
        self
    }

    /// As [`max_buffer`](Buffered::max_buffer), in place.
    pub fn set_max_buffer(&mut self, limit: usize) {
        self.limit = limit.max(self.initial);
    }

    /// The stream (for its timeouts or address).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably. Reading it directly skips what is buffered.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream; buffered input and unflushed output are dropped.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The bytes received and not yet consumed.
    #[inline]
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..self.rend]
    }

    /// Drops the first `n` buffered bytes (all of them if `n` is more).
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.rpos = (self.rpos + n).min(self.rend);
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
            if self.rbuf.len() > SHRINK_ABOVE {
                self.shrink();
            }
        }
    }

    /// The output buffer: encode requests into it, then
    /// [`flush`](Buffered::flush).
    #[inline]
    pub fn write_buf(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    fn shrink(&mut self) {
        self.rbuf.truncate(self.initial.max(self.rend));
        self.rbuf.shrink_to_fit();
    }

    /// Makes room at the end of the buffer for a read: moves the unread
    /// bytes to the front when little room is left, grows the buffer when
    /// it is full of one unfinished message.
    fn make_room(&mut self) -> io::Result<()> {
        if self.rpos > 0 && self.rbuf.len() - self.rend < MIN_READ {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
            // The rest of a large message has gone: give the memory back.
            if self.rbuf.len() > SHRINK_ABOVE && self.rend < self.initial / 2 {
                self.shrink();
            }
        }
        if self.rend == self.rbuf.len() {
            let len = self.rbuf.len();
            if len >= self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message larger than the {}-byte buffer limit", self.limit),
                ));
            }
            let grown = len.saturating_mul(2).min(self.limit);
            self.rbuf.resize(grown, 0);
        }
        Ok(())
    }
}

impl<S: Read> Buffered<S> {
    /// Reads more bytes into the buffer (waiting as the stream's reads
    /// do); returns how many arrived. `buffered()` then holds them after
    /// those already there.
    ///
    /// # Errors
    /// `UnexpectedEof` when the peer closed the connection, `InvalidData`
    /// when the buffer is at its limit and holds no whole message (see
    /// [`max_buffer`](Buffered::max_buffer)), and the stream's errors
    /// (`TimedOut`, `ConnectionReset`, …). Buffered bytes stay.
    pub fn fill(&mut self) -> io::Result<usize> {
        self.make_room()?;
        loop {
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by the peer",
                    ))
                }
                Ok(n) => {
                    self.rend += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Write> Buffered<S> {
    /// Writes the output buffer and empties it (also when the write fails:
    /// a connection whose write failed is out of step and should be
    /// dropped).
    ///
    /// # Errors
    /// The stream's errors.
    pub fn flush(&mut self) -> io::Result<()> {
        let r = if self.wbuf.is_empty() {
            Ok(())
        } else {
            self.stream.write_all(&self.wbuf)
        };
        self.wbuf.clear();
        if self.wbuf.capacity() > SHRINK_ABOVE {
            self.wbuf = Vec::new();
        }
        r?;
        self.stream.flush()
    }

    /// Flushes the output buffer, then writes `data` straight from the
    /// caller's memory (for a request encoded elsewhere, such as a
    /// pipeline, without copying it).
    ///
    /// # Errors
    /// The stream's errors.
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let r = self.stream.write_all(&self.wbuf);
            self.wbuf.clear();
            r?;
        }
        self.stream.write_all(data)?;
        self.stream.flush()
    }
}

impl Buffered<Stream> {
    /// Splits the connection so that one coroutine reads while others
    /// write: the buffered reading half keeps what was already received;
    /// pending output is flushed first.
    ///
    /// # Errors
    /// The flush's errors.
    pub fn split(mut self) -> io::Result<(Buffered<ReadHalf>, WriteHalf)> {
        self.flush()?;
        let (r, w) = self.stream.split()?;
        let reader = Buffered {
            stream: r,
            rbuf: self.rbuf,
            rpos: self.rpos,
            rend: self.rend,
            wbuf: Vec::new(),
            limit: self.limit,
            initial: self.initial,
        };
        Ok((reader, w))
    }

    /// Upgrades the TCP stream underneath to TLS; see
    /// [`Stream::upgrade_tls`].
    ///
    /// # Errors
    /// `InvalidData` when bytes arrived before the handshake (the server
    /// spoke out of turn, or someone injected them: they were not
    /// protected by TLS); as [`Stream::upgrade_tls`].
    #[cfg(feature = "tls")]
    pub fn upgrade_tls(
        self,
        connector: &crate::tls::TlsConnector,
        server_name: &str,
    ) -> io::Result<Buffered<Stream>> {
        if !self.buffered().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unencrypted bytes arrived before the TLS handshake",
            ));
        }
        let Buffered {
            stream,
            rbuf,
            rpos,
            rend,
            wbuf,
            limit,
            initial,
        } = self;
        Ok(Buffered {
            stream: stream.upgrade_tls(connector, server_name)?,
            rbuf,
            rpos,
            rend,
            wbuf,
            limit,
            initial,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out `data` in reads of at most `chunk` bytes.
    struct Chunks {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        written: Vec<u8>,
    }

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Write for Chunks {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn chunks(data: Vec<u8>, chunk: usize) -> Chunks {
        Chunks {
            data,
            pos: 0,
            chunk,
            written: Vec::new(),
        }
    }

    /// Reads `len`-byte messages until the data ends; returns them.
    fn read_all(b: &mut Buffered<Chunks>, len: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            while b.buffered().len() >= len {
                out.push(b.buffered()[..len].to_vec());
                b.consume(len);
            }
            match b.fill() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return out,
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn messages_straddling_reads_come_out_whole_and_in_order() {
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_be_bytes()).collect();
        for chunk in [1, 3, 7, 4096, 100_000] {
            let mut b = Buffered::with_capacity(64, chunks(data.clone(), chunk));
            let msgs = read_all(&mut b, 12);
            let joined: Vec<u8> = msgs.concat();
            assert_eq!(joined, data[..joined.len()], "chunk {chunk}");
            assert_eq!(msgs.len(), data.len() / 12, "chunk {chunk}");
            assert_eq!(b.buffered().len(), data.len() % 12);
        }
    }

    #[test]
    fn a_message_larger_than_the_limit_is_invalid_data_not_growth() {
        let mut b = Buffered::with_capacity(16, chunks(vec![7; 1000], 1000)).max_buffer(100);
        let e = loop {
            match b.fill() {
                Ok(_) => assert!(b.buffered().len() <= 100),
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(b.buffered().len(), 100);
        assert!(b.rbuf.len() <= 100);
    }

    #[test]
    fn a_large_message_grows_the_buffer_and_it_shrinks_back_after() {
        let big = 3 * SHRINK_ABOVE;
        let mut data = vec![1u8; big];
        data.extend_from_slice(&[2u8; 10]);
        let mut b = Buffered::new(chunks(data, 1 << 20));
        while b.buffered().len() < big {
            b.fill().unwrap();
        }
        assert!(b.rbuf.len() >= big);
        b.consume(big);
        while b.buffered().len() < 10 {
            b.fill().unwrap();
        }
        assert_eq!(b.buffered(), [2u8; 10]);
        b.consume(10);
        assert_eq!(b.rbuf.len(), DEFAULT_CAPACITY);
    }

    #[test]
    fn a_nearly_full_buffer_moves_the_unread_bytes_instead_of_growing() {
        let mut b = Buffered::with_capacity(8192, chunks(vec![5; 20_000], 8000));
        b.fill().unwrap();
        b.consume(7990);
        b.fill().unwrap();
        assert_eq!(b.rbuf.len(), 8192, "compacted, not grown");
        assert_eq!(b.buffered().len(), 10 + 8000);
        assert_eq!(b.buffered(), [5u8; 8010]);
    }

    #[test]
    fn end_of_stream_is_unexpected_eof_and_keeps_what_was_buffered() {
        let mut b = Buffered::new(chunks(b"partial".to_vec(), 100));
        b.fill().unwrap();
        let e = b.fill().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(crate::is_disconnect(&e));
        assert_eq!(b.buffered(), b"partial");
    }

    #[test]
    fn writes_are_batched_until_flush_and_send_keeps_the_order() {
        let mut b = Buffered::new(chunks(Vec::new(), 1));
        b.write_buf().extend_from_slice(b"one ");
        b.write_buf().extend_from_slice(b"two ");
        assert!(b.get_ref().written.is_empty());
        b.flush().unwrap();
        assert_eq!(b.get_ref().written, b"one two ");
        b.write_buf().extend_from_slice(b"three ");
        b.send(b"four").unwrap();
        assert_eq!(b.get_ref().written, b"one two three four");
        assert!(b.write_buf().is_empty());
    }
}
