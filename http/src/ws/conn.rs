//! A WebSocket connection over a switched HTTP connection (TCP, Unix
//! socket or TLS): the reading half ([`WebSocket`]) and the cloneable
//! writing half ([`Sender`]).

use std::io::{self, Read as _, Write as _};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::sync::Mutex;
use rand::rngs::StdRng;
use rand::{RngCore as _, SeedableRng as _};

use super::deflate::{DeflateParams, Deflater, Inflater};
use super::frame::{
    apply_mask, decode_header, encode, Limits, OpCode, ProtocolError, Role, Status,
};
use super::message::{Event, MessageDecoder};
use super::{CloseCode, CloseFrame};
use crate::client::{Upgraded, UpgradedReadHalf, UpgradedWriteHalf};

/// Limits and timers of a connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest frame payload accepted (default 64 MiB); larger frames
    /// close the connection with 1009.
    pub max_frame_size: usize,
    /// The largest message accepted, after decompression (default 64 MiB);
    /// larger ones close the connection with 1009.
    pub max_message_size: usize,
    /// Offer or accept permessage-deflate (default on).
    pub compression: bool,
    /// Send a ping when nothing was received for this long while
    /// [`WebSocket::recv`] waits (default off).
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`: how long to wait for any data after a ping
    /// before giving up on the peer (default 10 s).
    pub pong_timeout: Duration,
    /// How long to wait for the peer's close frame (and, for a client, the
    /// server's TCP close) once this end sent its own (default 5 s).
    pub close_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            compression: true,
            ping_interval: None,
            pong_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The peer closed the connection (with this code and reason, if it
    /// gave one); or, sent, this end closes it.
    Close(Option<CloseFrame>),
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Message {
        Message::Text(s.to_string())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Message {
        Message::Binary(b)
    }
}

/// A WebSocket error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed (including `TimedOut` for a pong timeout and
    /// `UnexpectedEof` when the peer left without a close frame).
    Io(io::Error),
    /// The peer broke the protocol; the connection was closed with
    /// [`ProtocolError::code`].
    Protocol(ProtocolError),
    /// The connection is closed (the close handshake is done, or this end
    /// already sent its close frame).
    Closed,
    /// The opening handshake failed.
    Handshake {
        /// The server's status, if it answered with something else than 101.
        status: Option<http::StatusCode>,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Whether the connection is closed: cleanly, or by the peer leaving.
    pub fn is_closed(&self) -> bool {
        match self {
            Error::Closed => true,
            Error::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
            ),
            _ => false,
        }
    }

    /// Whether a timeout (a pong timeout, a connect or handshake deadline)
    /// caused this.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::TimedOut)
    }

    /// The close code sent because of a protocol violation.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(p) => Some(p.code),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "websocket I/O error: {e}"),
            Error::Protocol(p) => p.fmt(f),
            Error::Closed => f.write_str("websocket closed"),
            Error::Handshake {
                status: Some(s),
                message,
            } => write!(f, "websocket handshake failed ({s}): {message}"),
            Error::Handshake { message, .. } => write!(f, "websocket handshake failed: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(p) => Some(p),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

struct WriteState {
    buf: Vec<u8>,
    scratch: Vec<u8>,
    deflater: Option<Deflater>,
    close_sent: bool,
    /// The masking-key generator; only a client masks.
    rng: Option<StdRng>,
}

struct Shared {
    stream: UpgradedWriteHalf,
    role: Role,
    state: Mutex<WriteState>,
}

/// The sending half of a [`WebSocket`]; clone it to send from other
/// coroutines while one reads. Each message goes out whole (frames of
/// concurrent senders never interleave).
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("role", &self.shared.role)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Sends a message; [`Message::Close`] starts the close handshake (as
    /// [`Sender::close`]).
    ///
    /// # Errors
    /// [`Error::Closed`] once a close frame was sent; the socket's errors.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        match msg.into() {
            Message::Text(s) => self.send_data(OpCode::Text, s.as_bytes()),
            Message::Binary(b) => self.send_data(OpCode::Binary, &b),
            Message::Close(Some(cf)) => self.close(cf.code, &cf.reason),
            Message::Close(None) => self.send_close(None),
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// As [`Sender::send`].
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_data(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As [`Sender::send`].
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send_data(OpCode::Binary, data)
    }

    /// Sends a ping (at most 125 bytes of payload). The reader answers the
    /// peer's pings by itself.
    ///
    /// # Errors
    /// `InvalidInput` for a payload over 125 bytes; as [`Sender::send`].
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        if payload.len() > 125 {
            return Err(invalid("ping payload over 125 bytes"));
        }
        self.send_frame(OpCode::Ping, payload, false)
    }

    /// Sends a close frame with `code` and `reason` (at most 123 bytes).
    /// The handshake completes when [`WebSocket::recv`] gets the peer's
    /// answer; [`WebSocket::close`] does both.
    ///
    /// # Errors
    /// `InvalidInput` for a code that may not be sent or a long reason;
    /// [`Error::Closed`] if a close frame was already sent; socket errors.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !super::frame::is_valid_close_code(code.0) {
            return Err(invalid("close code may not be sent"));
        }
        if reason.len() > 123 {
            return Err(invalid("close reason over 123 bytes"));
        }
        self.send_close(Some((code, reason)))
    }

    /// Whether this end has sent its close frame.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().close_sent
    }

    fn send_close(&self, cf: Option<(CloseCode, &str)>) -> Result<(), Error> {
        let mut payload = Vec::new();
        if let Some((code, reason)) = cf {
            payload.extend_from_slice(&code.0.to_be_bytes());
            payload.extend_from_slice(reason.as_bytes());
        }
        self.send_frame(OpCode::Close, &payload, false)
    }

    fn send_data(&self, opcode: OpCode, data: &[u8]) -> Result<(), Error> {
        self.send_frame(opcode, data, true)
    }

    fn send_frame(&self, opcode: OpCode, data: &[u8], compress: bool) -> Result<(), Error> {
        let mut guard = self.shared.state.lock();
        let st = &mut *guard;
        if st.close_sent {
            return Err(Error::Closed);
        }
        if opcode == OpCode::Close {
            st.close_sent = true;
        }
        let mask = st.rng.as_mut().map(|r| r.next_u32().to_ne_bytes());
        let mut rsv1 = false;
        let mut payload = data;
        if compress {
            if let Some(d) = &mut st.deflater {
                if d.compress(data, &mut st.scratch) {
                    rsv1 = true;
                    payload = &st.scratch;
                }
            }
        }
        st.buf.clear();
        encode(true, rsv1, opcode, mask, payload, &mut st.buf);
        let r = (&self.shared.stream).write_all(&st.buf);
        if st.buf.capacity() > 1 << 20 {
            st.buf = Vec::new();
        }
        if st.scratch.capacity() > 1 << 20 {
            st.scratch = Vec::new();
        }
        r.map_err(Error::Io)
    }
}

fn invalid(msg: &'static str) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// A client's masking-key stream: ChaCha12 (rand's `StdRng`), a CSPRNG, so
/// the keys are unpredictable as RFC 6455 section 10.3 requires, seeded from
/// the operating system once per connection (not a system call per frame).
fn mask_rng() -> StdRng {
    // If the OS generator fails, seed from rand's thread generator, itself
    // a CSPRNG seeded from the OS.
    StdRng::try_from_os_rng().unwrap_or_else(|_| StdRng::from_rng(&mut rand::rng()))
}

/// An open WebSocket: receive with [`WebSocket::recv`], send with
/// [`WebSocket::send`] or from a [`Sender`] clone.
pub struct WebSocket {
    sender: Sender,
    stream: UpgradedReadHalf,
    /// `buf[start..end]` is received, undecoded input.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Payload bytes of the frame at `start`, still arriving, already
    /// unmasked in place (for [`MessageDecoder::check_partial`]).
    unmasked: usize,
    limits: Limits,
    decoder: MessageDecoder,
    config: Config,
    /// The close handshake is over (or the connection failed).
    done: bool,
    last_recv: Instant,
    ping_sent: Option<Instant>,
    protocol: Option<String>,
    deflate: Option<DeflateParams>,
    peer_close: Option<CloseFrame>,
}

/// A piece of a message from [`WebSocket::recv_fragment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Part of a text message (else binary).
    pub text: bool,
    /// The data.
    pub data: Vec<u8>,
    /// The message's last piece.
    pub fin: bool,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.limits.role)
            .field("protocol", &self.protocol)
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// A WebSocket on `conn`, whose bytes read past the handshake are the
    /// first frames'.
    pub(crate) fn new(
        conn: Upgraded,
        role: Role,
        config: Config,
        protocol: Option<String>,
        deflate: Option<DeflateParams>,
    ) -> WebSocket {
        let (deflater, inflater) = match deflate {
            Some(p) => {
                let (out_bits, out_nct, in_nct) = match role {
                    Role::Server => (
                        p.server_max_window_bits,
                        p.server_no_context_takeover,
                        p.client_no_context_takeover,
                    ),
                    Role::Client => (
                        p.client_max_window_bits,
                        p.client_no_context_takeover,
                        p.server_no_context_takeover,
                    ),
                };
                // miniz_oxide builds its large state on the stack before
                // boxing it (in unoptimized builds several hundred KiB):
                // more than a coroutine stack holds, so build it on the
                // blocking pool's thread.
                fibra_runtime::blocking(move || {
                    (
                        Some(Deflater::new(out_bits, out_nct)),
                        Some(Inflater::new(in_nct)),
                    )
                })
            }
            None => (None, None),
        };
        let (stream, writer) = conn.split();
        let sender = Sender {
            shared: Arc::new(Shared {
                stream: writer,
                role,
                state: Mutex::new(WriteState {
                    buf: Vec::new(),
                    scratch: Vec::new(),
                    deflater,
                    close_sent: false,
                    rng: (role == Role::Client).then(mask_rng),
                }),
            }),
        };
        WebSocket {
            sender,
            stream,
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            unmasked: 0,
            limits: Limits {
                role,
                allow_rsv1: deflate.is_some(),
                max_frame: config.max_frame_size as u64,
            },
            decoder: MessageDecoder::new(config.max_message_size, inflater),
            config,
            done: false,
            last_recv: Instant::now(),
            ping_sent: None,
            protocol,
            deflate,
            peer_close: None,
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters, if compression was agreed.
    pub fn compression(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// The peer's address (for a client through a proxy, the proxy's).
    ///
    /// # Errors
    /// The socket's error; `Unsupported` over a Unix socket.
    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    /// A sender for other coroutines.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Sends a message; see [`Sender::send`].
    ///
    /// # Errors
    /// As [`Sender::send`].
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.sender.send(msg)
    }

    /// Waits for the next message. Pings are answered, pongs consumed; when
    /// the peer closes, the close is answered and `Message::Close` returned.
    /// With [`Config::ping_interval`], pings the peer when it is quiet.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the peer broke the protocol (the connection
    /// was closed with the matching code); [`Error::Io`] for socket errors,
    /// `UnexpectedEof` when the peer left without closing and `TimedOut`
    /// after a pong timeout (the connection is then closed). A deadline of
    /// the caller's (`fibra_runtime::with_timeout`) or a cancellation also
    /// ends the call with `TimedOut` or the cancellation error, but leaves
    /// the connection open: call `recv` again. [`Error::Closed`] after the
    /// close handshake.
    pub fn recv(&mut self) -> Result<Message, Error> {
        loop {
            if self.done {
                return Err(Error::Closed);
            }
            if let Some(ev) = self.next_event(false)? {
                match ev {
                    Event::Text(s) => return Ok(Message::Text(s)),
                    Event::Binary(b) => return Ok(Message::Binary(b)),
                    Event::Fragment { .. } => unreachable!("not streaming"),
                    Event::Ping(p) => match self.sender.send_frame(OpCode::Pong, &p, false) {
                        Ok(()) | Err(Error::Closed) => {}
                        Err(e) => return Err(self.abort(e)),
                    },
                    Event::Pong(_) => {}
                    Event::Close(cf) => {
                        self.finish_close(cf.as_ref());
                        self.peer_close.clone_from(&cf);
                        return Ok(Message::Close(cf));
                    }
                }
            }
        }
    }

    /// Streams large messages: returns each frame's piece of the current
    /// message as it arrives (decompressed), so a message need not fit in
    /// memory; only [`Config::max_frame_size`] applies. `Ok(None)`: the
    /// peer closed (answered as in [`WebSocket::recv`]; its code is in
    /// [`WebSocket::close_frame`]). Text pieces may split a character, but
    /// the message is validated as UTF-8 as it streams. Do not mix with
    /// `recv` inside one message.
    ///
    /// # Errors
    /// As [`WebSocket::recv`].
    pub fn recv_fragment(&mut self) -> Result<Option<Fragment>, Error> {
        loop {
            if self.done {
                return Err(Error::Closed);
            }
            if let Some(ev) = self.next_event(true)? {
                match ev {
                    Event::Fragment { text, data, fin } => {
                        return Ok(Some(Fragment { text, data, fin }))
                    }
                    Event::Text(_) | Event::Binary(_) => unreachable!("streaming"),
                    Event::Ping(p) => match self.sender.send_frame(OpCode::Pong, &p, false) {
                        Ok(()) | Err(Error::Closed) => {}
                        Err(e) => return Err(self.abort(e)),
                    },
                    Event::Pong(_) => {}
                    Event::Close(cf) => {
                        self.finish_close(cf.as_ref());
                        self.peer_close = cf;
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The peer's close frame, once it closed (and gave a code).
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// Closes the connection: sends a close frame with `code` and `reason`,
    /// waits up to [`Config::close_timeout`] for the peer's, then closes
    /// the socket. Messages arriving meanwhile are dropped.
    ///
    /// # Errors
    /// As [`Sender::close`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        self.sender.close(code, reason)?;
        self.linger();
        Ok(())
    }

    /// Decodes the next frame, reading as needed; `None` when the frame
    /// completed nothing.
    fn next_event(&mut self, streaming: bool) -> Result<Option<Event>, Error> {
        loop {
            let avail = &mut self.buf[self.start..self.end];
            match decode_header(avail, &self.limits) {
                Err(e) => return Err(self.fail(e)),
                Ok(Status::Complete(h, hl)) => {
                    // `len <= max_frame_size`, a usize.
                    let total = hl + h.len as usize;
                    if avail.len() >= total {
                        let payload = &mut avail[hl..total];
                        if let Some(m) = h.mask {
                            apply_mask(&mut payload[self.unmasked..], m, self.unmasked);
                        }
                        self.unmasked = 0;
                        let r = if streaming {
                            self.decoder.push_streaming(&h, payload)
                        } else {
                            self.decoder.push(&h, payload)
                        };
                        self.start += total;
                        return r.map_err(|e| self.fail(e));
                    }
                    // Bad text fails as soon as it arrives, not once its
                    // frame is complete (Autobahn 6.4.3, 6.4.4).
                    if avail.len() > hl + self.unmasked {
                        let payload = &mut avail[hl..];
                        if let Some(m) = h.mask {
                            apply_mask(&mut payload[self.unmasked..], m, self.unmasked);
                        }
                        self.unmasked = payload.len();
                        if let Err(e) = self.decoder.check_partial(&h, payload) {
                            return Err(self.fail(e));
                        }
                    }
                    self.make_room(total);
                }
                Ok(Status::Partial) => self.make_room(14),
            }
            self.fill()?;
        }
    }

    /// Makes room for `need` bytes from `start`.
    fn make_room(&mut self, need: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.start >= need && self.buf.len() > self.end {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < need.max(self.end + 4096) {
            let want = need.max(self.end + 4096).max(self.buf.len() * 2);
            self.buf.resize(want, 0);
        }
    }

    /// Reads more input, pinging the peer when it has been quiet.
    fn fill(&mut self) -> Result<(), Error> {
        let n = loop {
            let deadline = match (self.config.ping_interval, self.ping_sent) {
                (None, _) => None,
                (Some(_), Some(sent)) => Some(sent + self.config.pong_timeout),
                (Some(iv), None) => Some(self.last_recv + iv),
            };
            let stream = &mut self.stream;
            let buf = &mut self.buf[self.end..];
            let r = match deadline {
                None => stream.read(buf),
                Some(d) => fibra_runtime::with_deadline(d, || stream.read(buf)),
            };
            match r {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {} // EINTR; a cancel is not one
                Err(e)
                    if e.kind() == io::ErrorKind::TimedOut
                        && deadline.is_some_and(|d| Instant::now() >= d) =>
                {
                    if self.ping_sent.is_some() {
                        let _ = self.sender.close(CloseCode::GOING_AWAY, "pong timeout");
                        return Err(self.abort(Error::Io(e)));
                    }
                    if let Err(e) = self.sender.ping(b"") {
                        return Err(self.abort(e));
                    }
                    self.ping_sent = Some(Instant::now());
                }
                // A caller's own deadline (`with_timeout`, cancellation):
                // the connection stays usable.
                Err(e) if e.kind() == io::ErrorKind::TimedOut || fibra_runtime::is_canceled(&e) => {
                    return Err(Error::Io(e))
                }
                Err(e) => return Err(self.abort(Error::Io(e))),
            }
        };
        if n == 0 {
            return Err(self.abort(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "websocket peer closed the connection without a close frame",
            ))));
        }
        self.end += n;
        self.last_recv = Instant::now();
        self.ping_sent = None;
        Ok(())
    }

    /// The peer sent its close frame: answer it, then end the connection.
    fn finish_close(&mut self, cf: Option<&CloseFrame>) {
        match cf {
            Some(cf) => {
                let _ = self.sender.send_close(Some((cf.code, "")));
            }
            None => {
                let _ = self.sender.send_close(None);
            }
        }
        self.done = true;
        self.shutdown();
    }

    /// A protocol violation: close with its code and wait for the peer.
    fn fail(&mut self, e: ProtocolError) -> Error {
        let _ = self.sender.send_close(Some((e.code, e.reason)));
        self.linger();
        Error::Protocol(e)
    }

    /// A fatal I/O error: drop the connection.
    fn abort(&mut self, e: Error) -> Error {
        self.done = true;
        self.close_transport(false);
        e
    }

    /// After sending a close frame: discard frames until the peer's close
    /// (or an error, or the close timeout), then close the socket.
    fn linger(&mut self) {
        self.done = true;
        let deadline = Instant::now() + self.config.close_timeout;
        let mut limits = self.limits;
        limits.allow_rsv1 = true;
        loop {
            match decode_header(&self.buf[self.start..self.end], &limits) {
                Ok(Status::Complete(h, hl)) => {
                    let total = hl + h.len as usize;
                    if self.end - self.start >= total {
                        self.start += total;
                        if h.opcode == OpCode::Close {
                            break;
                        }
                        continue;
                    }
                    self.make_room(total);
                }
                Ok(Status::Partial) => self.make_room(14),
                Err(_) => break,
            }
            let stream = &mut self.stream;
            let buf = &mut self.buf[self.end..];
            match fibra_runtime::with_deadline(deadline, || stream.read(buf)) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.end += n,
            }
        }
        self.shutdown();
    }

    /// Ends the TCP connection: a server closes it at once; a client waits
    /// briefly for the server to close first (RFC 6455 §7.1.1).
    fn shutdown(&mut self) {
        if self.limits.role == Role::Client {
            let deadline = Instant::now() + self.config.close_timeout;
            let stream = &mut self.stream;
            let mut scratch = [0u8; 512];
            while let Ok(n) = fibra_runtime::with_deadline(deadline, || stream.read(&mut scratch)) {
                if n == 0 {
                    break;
                }
            }
        }
        self.close_transport(true);
    }

    /// Ends the connection in both directions (over TLS, after a
    /// `close_notify` when `graceful`).
    fn close_transport(&self, graceful: bool) {
        if graceful {
            let _ = self.sender.shared.stream.close_notify();
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn each_connection_gets_its_own_key_stream() {
        let (mut a, mut b) = (mask_rng(), mask_rng());
        let keys = |r: &mut StdRng| (0..4).map(|_| r.next_u32()).collect::<Vec<_>>();
        let (ka, kb) = (keys(&mut a), keys(&mut b));
        assert_ne!(ka, kb);
        assert_ne!(ka[0], ka[1]);
    }
}
