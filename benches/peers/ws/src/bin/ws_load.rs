//! The load generator of fibra's WebSocket echo benchmark
//! (scripts/bench-ws), the same for every server.
//!
//! `ws_load ADDR [CONNS] [SECONDS] [BYTES]` (defaults 100 connections,
//! 5 s, 32-byte messages). Opens CONNS WebSocket connections (no
//! extensions offered), then on each sends a masked text message of BYTES
//! bytes and waits for its echo before sending the next, for one second of
//! warm-up and then SECONDS measured seconds, all on one thread with mio.
//! Every echo is checked (opcode, length, payload). Prints one line:
//!
//! `RESULT msgs_per_sec=… p50_us=… p99_us=… errors=…`

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Conn {
    stream: TcpStream,
    /// The masked frame this connection sends.
    frame: Vec<u8>,
    /// Bytes of `frame` written so far (`frame.len()`: waiting for the echo).
    written: usize,
    /// Received bytes of the echo so far.
    buf: Vec<u8>,
    sent_at: Instant,
}

fn handshake(addr: SocketAddr) -> io::Result<StdStream> {
    let mut s = StdStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    // RFC 6455's sample nonce: servers check only its form.
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed in handshake"));
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(&head)
        )));
    }
    s.set_read_timeout(None)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn masked_text(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    assert!(payload.len() < 126, "small messages only");
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Whether `buf` holds the whole echo of `payload`; `Err` for anything
/// else than that echo.
fn echo_complete(buf: &[u8], payload: &[u8]) -> Result<bool, String> {
    if buf.len() < 2 {
        return Ok(false);
    }
    if buf[0] != 0x81 || buf[1] as usize != payload.len() {
        return Err(format!("unexpected frame header {:02x} {:02x}", buf[0], buf[1]));
    }
    if buf.len() < 2 + payload.len() {
        return Ok(false);
    }
    if buf.len() > 2 + payload.len() || &buf[2..] != payload {
        return Err("echo differs from the message".into());
    }
    Ok(true)
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .expect("usage: ws_load ADDR [CONNS] [SECONDS] [BYTES]")
        .parse()
        .expect("ADDR must be ip:port");
    let conns: usize = args.next().map_or(100, |n| n.parse().expect("CONNS"));
    let secs: f64 = args.next().map_or(5.0, |n| n.parse().expect("SECONDS"));
    let bytes: usize = args.next().map_or(32, |n| n.parse().expect("BYTES"));
    let payload: Vec<u8> = (0..bytes).map(|i| b'a' + (i % 26) as u8).collect();

    let mut poll = Poll::new()?;
    let mut list = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut stream = TcpStream::from_std(handshake(addr)?);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        let m = (i as u32).wrapping_mul(0x9e37_79b9).to_le_bytes();
        list.push(Conn {
            stream,
            frame: masked_text(&payload, m),
            written: 0,
            buf: Vec::with_capacity(2 + bytes),
            sent_at: Instant::now(),
        });
    }

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let end = measure_from + Duration::from_secs_f64(secs);
    let mut done = 0u64;
    let mut errors = 0u64;
    let mut lat_us: Vec<u32> = Vec::with_capacity(1 << 20);
    let mut events = Events::with_capacity(1024);
    let mut chunk = [0u8; 4096];

    // Sends (the rest of) c's frame; false when the connection failed.
    fn push(c: &mut Conn) -> bool {
        while c.written < c.frame.len() {
            match c.stream.write(&c.frame[c.written..]) {
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    let mut alive = conns;
    for c in &mut list {
        c.sent_at = Instant::now();
        if !push(c) {
            errors += 1;
            alive -= 1;
        }
    }
    while alive > 0 {
        let now = Instant::now();
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(end - now))?;
        for ev in &events {
            let c = &mut list[ev.token().0];
            if c.written < c.frame.len() {
                if !push(c) {
                    errors += 1;
                }
                continue;
            }
            loop {
                match c.stream.read(&mut chunk) {
                    Ok(0) => {
                        errors += 1;
                        alive -= 1;
                        break;
                    }
                    Ok(n) => {
                        c.buf.extend_from_slice(&chunk[..n]);
                        match echo_complete(&c.buf, &payload) {
                            Ok(false) => {}
                            Ok(true) => {
                                let now = Instant::now();
                                if now >= measure_from {
                                    done += 1;
                                    lat_us.push((now - c.sent_at).as_micros() as u32);
                                }
                                c.buf.clear();
                                c.written = 0;
                                c.sent_at = now;
                                if !push(c) {
                                    errors += 1;
                                }
                            }
                            Err(e) => {
                                eprintln!("connection {}: {e}", ev.token().0);
                                errors += 1;
                                c.buf.clear();
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        errors += 1;
                        alive -= 1;
                        break;
                    }
                }
            }
        }
    }
    let measured = (Instant::now().min(end) - measure_from).as_secs_f64();
    lat_us.sort_unstable();
    let pct = |p: f64| {
        lat_us
            .get(((lat_us.len() as f64 * p) as usize).min(lat_us.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "RESULT msgs_per_sec={:.0} p50_us={} p99_us={} errors={errors} conns={conns} secs={measured:.2}",
        done as f64 / measured,
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}
