//! The load generator of the TCP echo benchmark: the one client that drives
//! every echo server (fibra's `examples/echo.rs`, `echo_tokio`, `echo_may`,
//! `go/echo`), so the servers are measured with the same yardstick.
//!
//! ```text
//! echo_load --addr 127.0.0.1:7000 --conns 1000 --secs 3 --size 64 [--threads 1] [--warmup-ms 500]
//! ```
//!
//! Opens `--conns` connections; each sends a `--size`-byte message, waits for
//! the whole echo, checks it and sends the next one (one message in flight
//! per connection, so this measures request→response round trips, not
//! pipelining). After a warm-up, it counts completed round trips for
//! `--secs` seconds and prints
//!
//! ```text
//! BENCH echo_<conns> <round trips per second> msg/s
//! ```
//!
//! plus, on stderr, the CPU time it spent itself per round trip, which is
//! how to tell whether the client or the server is the bottleneck.
//!
//! One thread (by default) runs one edge-triggered mio loop over all the
//! connections, so the client costs about one `write` and one `read` per
//! round trip and no context switches: cheaper than any of the servers, which
//! share the same cores. `--threads T` splits the connections over T such
//! loops, to check that adding client capacity does not raise the result.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Args {
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    size: usize,
    threads: usize,
    warmup: Duration,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("echo_load: {e}");
            eprintln!(
                "usage: echo_load --addr ADDR --conns N --secs S --size BYTES \
                 [--threads T] [--warmup-ms MS]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:7000".parse().expect("literal address"),
        conns: 1,
        secs: 3.0,
        size: 64,
        threads: 1,
        warmup: Duration::from_millis(500),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--addr" => args.addr = value.parse().map_err(|e| bad(&e))?,
            "--conns" => args.conns = value.parse().map_err(|e| bad(&e))?,
            "--secs" => args.secs = value.parse().map_err(|e| bad(&e))?,
            "--size" => args.size = value.parse().map_err(|e| bad(&e))?,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--warmup-ms" => {
                args.warmup = Duration::from_millis(value.parse().map_err(|e| bad(&e))?)
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.conns == 0 || args.size == 0 || args.threads == 0 || args.secs <= 0.0 {
        return Err("--conns, --size, --threads and --secs must be positive".into());
    }
    Ok(args)
}

fn run(args: &Args) -> io::Result<()> {
    // Connect everything before any traffic, so the measured window sees
    // only round trips.
    let connecting = Instant::now();
    let mut streams = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        let stream = std::net::TcpStream::connect(args.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        streams.push(TcpStream::from_std(stream));
    }
    eprintln!(
        "echo_load: {} connections open after {:.2?}",
        args.conns,
        connecting.elapsed()
    );

    let threads = args.threads.min(args.conns);
    let counted = Arc::new(AtomicU64::new(0));
    let starved = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let mut workers = Vec::new();
    for t in 0..threads {
        let share = args.conns / threads + usize::from(t < args.conns % threads);
        let mine: Vec<TcpStream> = streams.drain(..share).collect();
        let shared = (
            [Arc::clone(&counted), Arc::clone(&starved)],
            Arc::clone(&measuring),
            Arc::clone(&stop),
            Arc::clone(&start),
        );
        let size = args.size;
        workers.push(std::thread::spawn(move || {
            let ([counted, starved], measuring, stop, start) = shared;
            drive(mine, size, [&counted, &starved], &measuring, &stop, &start)
        }));
    }

    start.wait();
    std::thread::sleep(args.warmup);
    let cpu0 = cpu_time()?;
    measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.secs));
    measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed();
    let cpu = cpu_time()? - cpu0;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().expect("load thread panicked")?;
    }

    let msgs = counted.load(Ordering::SeqCst);
    let rate = msgs as f64 / elapsed.as_secs_f64();
    println!("BENCH echo_{} {rate:.1} msg/s", args.conns);
    eprintln!(
        "echo_load: {msgs} round trips in {elapsed:.2?} over {} connections; \
         client CPU {:.0}% of one core, {:.2} µs per round trip",
        args.conns,
        cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
        cpu.as_secs_f64() * 1e6 / msgs.max(1) as f64,
    );
    let starved = starved.load(Ordering::SeqCst);
    if starved > 0 {
        eprintln!(
            "echo_load: warning: {starved} of {} connections completed no round trip \
             while measuring (the server left them waiting)",
            args.conns
        );
    }
    Ok(())
}

/// One connection's place in its request→response cycle.
struct Conn {
    stream: TcpStream,
    /// Bytes of the current request written so far.
    sent: usize,
    /// Bytes of the current echo received so far.
    received: usize,
    /// Whether to stop after the round trip in flight.
    last: bool,
    /// Round trips completed while measuring.
    counted: u64,
}

/// Runs `streams`' round trips on one mio loop until `stop`, adding the
/// ones completed while `measuring` to `counted`, and the connections that
/// completed none to `starved`.
fn drive(
    streams: Vec<TcpStream>,
    size: usize,
    [counted, starved]: [&AtomicU64; 2],
    measuring: &AtomicBool,
    stop: &AtomicBool,
    start: &Barrier,
) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(streams.len());
    for (i, mut stream) in streams.into_iter().enumerate() {
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            sent: 0,
            received: 0,
            last: false,
            counted: 0,
        });
    }
    let request: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut reply = vec![0; size];
    let mut events = Events::with_capacity(1024);
    start.wait();

    // Edge-triggered: every connection starts writable, and each event is
    // followed by I/O until `WouldBlock`, so no readiness is lost.
    let mut local = 0u64;
    let mut was_measuring = false;
    while !stop.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        let now_measuring = measuring.load(Ordering::Relaxed);
        if now_measuring != was_measuring {
            // The window opened or closed: count from (or up to) here.
            if was_measuring {
                counted.fetch_add(local, Ordering::Relaxed);
            }
            local = 0;
            was_measuring = now_measuring;
        }
        for event in &events {
            let conn = &mut conns[event.token().0];
            let done = round_trips(conn, &request, &mut reply)?;
            if was_measuring {
                conn.counted += done;
                local += done;
            }
        }
    }
    if was_measuring {
        counted.fetch_add(local, Ordering::Relaxed);
    }
    let idle = conns.iter().filter(|c| c.counted == 0).count();
    starved.fetch_add(idle as u64, Ordering::Relaxed);

    // Collect the echoes still in flight before closing, so that no socket
    // closes with unread data (which would reset the connection and make
    // the servers report errors).
    let mut draining = conns.len();
    for conn in &mut conns {
        conn.last = true;
        if conn.sent == 0 {
            draining -= 1; // nothing in flight
        }
    }
    let give_up = Instant::now() + Duration::from_secs(2);
    while draining > 0 && Instant::now() < give_up {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for event in &events {
            let conn = &mut conns[event.token().0];
            draining -= round_trips(conn, &request, &mut reply)? as usize;
        }
    }
    Ok(())
}

/// Advances `conn` as far as it goes without blocking; returns how many
/// round trips it completed.
fn round_trips(conn: &mut Conn, request: &[u8], reply: &mut [u8]) -> io::Result<u64> {
    let mut done = 0;
    loop {
        if conn.last && conn.sent == 0 {
            return Ok(done); // finished: send nothing more
        }
        let result = if conn.sent < request.len() {
            conn.stream
                .write(&request[conn.sent..])
                .map(|n| conn.sent += n)
        } else {
            match conn.stream.read(&mut reply[conn.received..]) {
                Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "server closed")),
                Ok(n) => {
                    conn.received += n;
                    if conn.received == reply.len() {
                        if reply != request {
                            return Err(io::Error::other("echo differs from the request"));
                        }
                        conn.sent = 0;
                        conn.received = 0;
                        done += 1;
                        if conn.last {
                            return Ok(done);
                        }
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(done),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// User plus system CPU time of this process so far, from `/proc/self/stat`.
fn cpu_time() -> io::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc/self/stat"))
    };
    // `rest` starts at field 3 (state), so field k is at index k - 3.
    let total = ticks(14 - 3)? + ticks(15 - 3)?;
    Ok(Duration::from_millis(total * 10))
}
