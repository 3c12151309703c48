//! fibra's side of the channel and mutex benchmarks, against
//! crossbeam-channel (OS threads), tokio, may and Go.
//!
//! The workloads, sizes, output lines and command line come from
//! `peers/chan/src/harness.rs`, compiled into this program as well as into
//! the peers (`peers/chan/src/bin/chan_*.rs`, `peers/go/chan/main.go`), so
//! every side measures the same thing the same way. `scripts/bench-chan`
//! builds all of them, runs them in alternation and prints the medians.
//!
//! ```text
//! cargo bench --bench chan                # every benchmark, one process each
//! target/release/deps/chan-* pingpong_1w  # one benchmark
//! ```

#[path = "peers/chan/src/harness.rs"]
mod harness;

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra::chan;
use fibra::runtime::{Builder, Runtime};
use fibra::sync::Mutex;
use harness::report;

fn main() -> ExitCode {
    harness::main(&[
        ("pingpong_1w", || pingpong("pingpong_1w", 1)),
        ("pingpong_2w", || pingpong("pingpong_2w", harness::WORKERS)),
        ("buffered_1p", || buffered("buffered_1p", 1)),
        ("buffered_4p", || {
            buffered("buffered_4p", harness::PRODUCERS)
        }),
        ("mutex_uncontended", mutex_uncontended),
        ("mutex_contended", mutex_contended),
    ])
}

fn runtime(workers: usize) -> Runtime {
    Builder::new()
        .workers(workers)
        .build()
        .expect("build a fibra runtime")
}

/// Two coroutines hand a message back and forth over two rendezvous
/// channels (`bounded(0)`, Go's unbuffered channel). Both sides are spawned
/// so that both certainly run as coroutines.
fn pingpong(name: &str, workers: usize) {
    let rt = runtime(workers);
    let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
    let ping = rt.spawn(move || {
        let start = Instant::now();
        for i in 0..harness::PINGPONG_ROUND_TRIPS {
            ping_tx.send(i).expect("pong is alive");
            let back = pong_rx.recv().expect("pong is alive");
            debug_assert_eq!(back, i);
        }
        start.elapsed()
    });
    let pong = rt.spawn(move || {
        for i in ping_rx.iter() {
            pong_tx.send(i).expect("ping is alive");
        }
    });
    let elapsed = ping.join().expect("ping coroutine");
    pong.join().expect("pong coroutine");
    report(
        name,
        harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS),
        "ns",
    );
}

/// `producers` coroutines send their share of the messages through one
/// buffered channel; the consumer (the `block_on` coroutine) sums them.
fn buffered(name: &str, producers: u64) {
    let rt = runtime(harness::WORKERS);
    let elapsed = rt.block_on(move || {
        let (tx, rx) = chan::bounded::<u64>(harness::BUFFER_CAPACITY);
        let start = Instant::now();
        let senders: Vec<_> = (0..producers)
            .map(|_| {
                let tx = tx.clone();
                fibra::spawn(move || {
                    for i in 0..harness::BUFFERED_MESSAGES / producers {
                        tx.send(i).expect("consumer is alive");
                    }
                })
            })
            .collect();
        drop(tx);
        let sum: u64 = rx.iter().sum();
        let elapsed = start.elapsed();
        for sender in senders {
            sender.join().expect("producer coroutine");
        }
        harness::check_sum(producers, sum);
        elapsed
    });
    report(
        name,
        harness::ns_per(elapsed, harness::BUFFERED_MESSAGES),
        "ns",
    );
}

/// One coroutine locks and unlocks a mutex nobody else touches.
fn mutex_uncontended() {
    let rt = runtime(1);
    let elapsed = rt.block_on(|| {
        let counter = Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..harness::UNCONTENDED_LOCKS {
            *black_box(&counter).lock() += 1;
        }
        let elapsed = start.elapsed();
        assert_eq!(counter.into_inner(), harness::UNCONTENDED_LOCKS);
        elapsed
    });
    report(
        "mutex_uncontended",
        harness::ns_per(elapsed, harness::UNCONTENDED_LOCKS),
        "ns",
    );
}

/// Several coroutines on two workers increment one counter under one
/// mutex.
fn mutex_contended() {
    let rt = runtime(harness::WORKERS);
    let elapsed: Duration = rt.block_on(|| {
        let counter = Arc::new(Mutex::new(0u64));
        let start = Instant::now();
        let tasks: Vec<_> = (0..harness::CONTENDERS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                fibra::spawn(move || {
                    for _ in 0..harness::CONTENDED_INCREMENTS {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.join().expect("incrementing coroutine");
        }
        let elapsed = start.elapsed();
        assert_eq!(
            *counter.lock(),
            harness::CONTENDERS * harness::CONTENDED_INCREMENTS
        );
        elapsed
    });
    report(
        "mutex_contended",
        harness::ns_per(elapsed, harness::CONTENDERS * harness::CONTENDED_INCREMENTS),
        "ns",
    );
}
