//! Holds idle keep-alive HTTP connections open, for the memory part of
//! fibra's HTTP server benchmark (scripts/bench-http).
//!
//! `http_idle ADDR COUNT`: opens COUNT connections to ADDR, sends one
//! `GET /plaintext` on each and reads its response (so every connection is a
//! real keep-alive connection past its first request, not a fresh accept),
//! prints `READY <count>` and then holds them all open, silent, until stdin
//! closes or a line arrives on it. Blocking sockets, one thread: connecting
//! 10,000 sockets one after another takes about a second on loopback.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Reads one whole response, which must have a `Content-Length` body.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other("response without Content-Length"))?;
        if buf.len() >= end + 4 + len {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let count: usize = args
        .next()
        .map_or(10_000, |n| n.parse().expect("COUNT must be a number"));
    let start = Instant::now();
    let mut conns = Vec::with_capacity(count);
    let mut buf = Vec::new();
    for i in 0..count {
        let mut s = TcpStream::connect(addr.as_str())
            .map_err(|e| io::Error::other(format!("connection {i}: {e}")))?;
        s.write_all(REQUEST)?;
        read_response(&mut s, &mut buf)
            .map_err(|e| io::Error::other(format!("connection {i}: {e}")))?;
        conns.push(s);
    }
    println!(
        "READY {} in {:.2}s",
        conns.len(),
        start.elapsed().as_secs_f64()
    );
    io::stdout().flush()?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    drop(conns);
    Ok(())
}
