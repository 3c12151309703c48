//! Bulk transfer over one loopback TCP stream: fibra's `TcpStream` (a writer
//! coroutine sending to a reader coroutine) against std's blocking sockets
//! on two OS threads, the physical reference. Both move [`TOTAL`] bytes in
//! [`CHUNK`]-byte writes and reads.
//!
//! The echo benchmark against tokio, may and Go needs peer processes and a
//! load generator; `scripts/bench-net` runs it, and this bench too.
//!
//! ```text
//! cargo bench --bench net                 # both, one process each
//! target/release/deps/net-* bulk_fibra    # one of them
//! ```
//!
//! Output: `BENCH bulk_fibra <MiB/s> MiB/s` and `BENCH bulk_std <MiB/s> MiB/s`.

#[path = "peers/src/harness.rs"]
#[allow(
    dead_code,
    reason = "the harness also holds the runtime benchmarks' workload sizes"
)]
mod harness;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Bytes sent per run: 2 GiB.
const TOTAL: u64 = 2 << 30;
/// Bytes per `write` and per `read` buffer: 64 KiB.
const CHUNK: usize = 64 << 10;

fn main() -> ExitCode {
    harness::main(&[("bulk_fibra", bulk_fibra), ("bulk_std", bulk_std)])
}

/// A writer coroutine sends [`TOTAL`] bytes to a reader coroutine on fibra's
/// default runtime (one worker per core).
fn bulk_fibra() {
    let elapsed = fibra::run(|| {
        let listener = fibra::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("listener address");
        let client = fibra::net::TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let start = Instant::now();
        let writer = fibra::spawn(move || send(client));
        let received = receive(server).expect("read");
        writer.join().expect("writer coroutine").expect("write");
        assert_eq!(received, TOTAL);
        start.elapsed()
    });
    report("bulk_fibra", elapsed);
}

/// The same transfer with std's blocking sockets: a writer thread and the
/// main thread reading.
fn bulk_std() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("listener address");
    let client = std::net::TcpStream::connect(addr).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let start = Instant::now();
    let writer = std::thread::spawn(move || send(client));
    let received = receive(server).expect("read");
    writer.join().expect("writer thread").expect("write");
    assert_eq!(received, TOTAL);
    report("bulk_std", start.elapsed());
}

/// The stream types both sides use: std's `TcpStream` and fibra's both
/// implement it, which keeps the two transfers identical.
trait Stream: Read + Write {
    fn shutdown_write(&self) -> io::Result<()>;
}

impl Stream for std::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Stream for fibra::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// Writes [`TOTAL`] bytes in [`CHUNK`]-byte writes, then closes its side.
fn send(mut stream: impl Stream) -> io::Result<()> {
    let chunk: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    for _ in 0..TOTAL / CHUNK as u64 {
        stream.write_all(&chunk)?;
    }
    stream.shutdown_write()
}

/// Reads until end of stream; returns the byte count.
fn receive(mut stream: impl Stream) -> io::Result<u64> {
    let mut buf = vec![0; CHUNK];
    let mut received = 0;
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(received),
            n => received += n as u64,
        }
    }
}

fn report(name: &str, elapsed: Duration) {
    let mib_per_s = TOTAL as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
    harness::report(name, mib_per_s, "MiB/s");
}
