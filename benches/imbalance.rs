//! What staying on one worker costs when work starts unevenly: the price of
//! the thread-affinity rule (docs/architecture.md) against the migrating
//! design it replaced.
//!
//! An echo server on a 2-worker runtime accepts [`CONNS`] connections while
//! a CPU-bound coroutine holds one of its workers for [`HOG`], so every
//! connection handler starts on the other worker. Then [`CONNS`] client
//! coroutines (on a separate 1-worker runtime in the same process) run a
//! steady 64-byte echo load for [`LOAD`], and the benchmark reports round
//! trips per second.
//!
//! - `imbalance_home`: handlers spawned with `fibra::spawn`; each stays on
//!   the worker it started on (the default).
//! - `imbalance_migratable`: handlers spawned through the `unsafe`
//!   `coroutine::Builder::migratable`, so a woken handler can run on any
//!   worker: the old behaviour.
//!
//! Output: `BENCH <name> <round trips/s> ops/s`, and on stderr how many
//! handlers ran on each worker thread during the load.
//!
//! ```text
//! cargo bench --bench imbalance
//! target/release/deps/imbalance-* imbalance_home
//! ```

#[path = "peers/src/harness.rs"]
#[allow(
    dead_code,
    reason = "the harness also holds the runtime benchmarks' workload sizes"
)]
mod harness;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fibra::net::{TcpListener, TcpStream};

/// Connections, all accepted while one server worker is busy.
const CONNS: usize = 2000;
/// How long the CPU-bound coroutine holds its worker.
const HOG: Duration = Duration::from_millis(1500);
/// How long the steady load runs.
const LOAD: Duration = Duration::from_secs(3);
const MSG: usize = 64;

fn main() -> ExitCode {
    harness::main(&[
        ("imbalance_home", || run("imbalance_home", false)),
        ("imbalance_migratable", || run("imbalance_migratable", true)),
    ])
}

fn run(name: &str, migratable: bool) {
    let server = fibra::runtime::Builder::new()
        .workers(2)
        .thread_name("server")
        .build()
        .expect("server runtime");
    let client = fibra::runtime::Builder::new()
        .workers(1)
        .thread_name("client")
        .build()
        .expect("client runtime");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let per_thread: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let hog_done = Arc::new(AtomicBool::new(false));

    // The hog: started first, it is stolen by the idle worker and spins
    // there; the acceptor below then runs on the other one.
    let hd = hog_done.clone();
    let hog = server.spawn(move || {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < HOG {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        hd.store(true, Ordering::SeqCst);
        x
    });
    std::thread::sleep(Duration::from_millis(50));
    let finished = Arc::new(AtomicU64::new(0));
    let (pt, fin) = (per_thread.clone(), finished.clone());
    let acceptor = server.spawn(move || {
        for _ in 0..CONNS {
            let (conn, _) = listener.accept().expect("accept");
            let (pt, fin) = (pt.clone(), fin.clone());
            let handler = move || {
                echo(conn, &pt);
                fin.fetch_add(1, Ordering::Release);
            };
            if migratable {
                let b = fibra::coroutine::Builder::new();
                // SAFETY: `echo` keeps only `Send` values on its stack (the
                // stream, a buffer, counters, an `Arc`); it locks the std
                // mutex only after its last blocking call.
                let b = unsafe { b.migratable() };
                drop(b.spawn(handler).expect("spawn handler"));
            } else {
                drop(fibra::spawn(handler));
            }
        }
    });

    let ops = Arc::new(AtomicU64::new(0));
    let start_load = Arc::new(AtomicBool::new(false));
    let (o, s) = (ops.clone(), start_load.clone());
    let load = client.spawn(move || {
        let conns: Vec<TcpStream> = (0..CONNS)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        let clients: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                let (o, s) = (o.clone(), s.clone());
                fibra::spawn(move || {
                    while !s.load(Ordering::Acquire) {
                        fibra::sleep(Duration::from_millis(5));
                    }
                    let deadline = Instant::now() + LOAD;
                    let mut buf = [7u8; MSG];
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        c.write_all(&buf).expect("write");
                        c.read_exact(&mut buf).expect("read");
                        n += 1;
                    }
                    o.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client");
        }
    });

    acceptor.join().expect("acceptor");
    assert!(
        !hog_done.load(Ordering::SeqCst),
        "the hog ended before every connection was accepted: raise HOG"
    );
    hog.join().expect("hog");
    start_load.store(true, Ordering::Release);
    let t = Instant::now();
    load.join().expect("load");
    let secs = t.elapsed().as_secs_f64().max(LOAD.as_secs_f64());
    let rate = ops.load(Ordering::Relaxed) as f64 / secs;
    // Closing the clients ends the handlers, which then report.
    drop(client);
    let until = Instant::now() + Duration::from_secs(10);
    while finished.load(Ordering::Acquire) < CONNS as u64 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("BENCH {name} {rate:.0} ops/s");
    eprintln!(
        "{name}: round trips per server thread {:?}",
        per_thread.lock().unwrap()
    );
}

/// Echoes until the peer closes; then records which thread served it how
/// many messages.
fn echo(mut conn: TcpStream, per_thread: &Mutex<HashMap<String, u64>>) {
    let mut buf = [0u8; MSG];
    let mut counts: HashMap<String, u64> = HashMap::new();
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
                let name = std::thread::current().name().unwrap_or("?").to_owned();
                *counts.entry(name).or_default() += 1;
            }
        }
    }
    let mut all = per_thread.lock().unwrap();
    for (k, v) in counts {
        *all.entry(k).or_default() += v;
    }
}
