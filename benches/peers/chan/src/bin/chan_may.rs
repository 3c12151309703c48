//! may's side of the channel and mutex benchmarks: `may::sync::mpsc` and
//! `may::sync::Mutex`. See `src/harness.rs` for the workloads and fibra's
//! `benches/chan.rs` for the other side.
//!
//! may has neither a rendezvous nor a bounded channel: its `mpsc::channel`
//! is unbounded. The ping-pongs use it as is (each side waits for the
//! reply, so at most one message is ever queued); in the buffered runs the
//! producers never wait for room, which favours may over the bounded peers.
//! may's worker count is process-wide, set before the first spawn (one
//! reason the harness runs each benchmark in its own process).

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use fibra_bench_chan_peers::harness::{self, report};
use may::coroutine::JoinHandle;
use may::sync::{mpsc, Mutex};

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

/// may's `spawn` with its default stack size.
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may's two conditions for `spawn` hold for every closure in
    // this file: none touches a thread-local across a yield (they use only
    // may's channels, mutex, spawn and join, and std's `Instant`), and none
    // recurses or keeps large locals, so each fits may's default stack.
    unsafe { may::coroutine::spawn(f) }
}

fn pingpong(name: &str, workers: usize) {
    may::config().set_workers(workers);
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let ping = go(move || {
        let start = Instant::now();
        for i in 0..harness::PINGPONG_ROUND_TRIPS {
            ping_tx.send(i).expect("pong is alive");
            let back = pong_rx.recv().expect("pong is alive");
            debug_assert_eq!(back, i);
        }
        start.elapsed()
    });
    let pong = go(move || {
        while let Ok(i) = ping_rx.recv() {
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

fn buffered(name: &str, producers: u64) {
    may::config().set_workers(harness::WORKERS);
    let elapsed = go(move || {
        let (tx, rx) = mpsc::channel::<u64>();
        let start = Instant::now();
        let senders: Vec<_> = (0..producers)
            .map(|_| {
                let tx = tx.clone();
                go(move || {
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
    })
    .join()
    .expect("consumer coroutine");
    report(
        name,
        harness::ns_per(elapsed, harness::BUFFERED_MESSAGES),
        "ns",
    );
}

fn mutex_uncontended() {
    may::config().set_workers(1);
    let elapsed = go(|| {
        let counter = Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..harness::UNCONTENDED_LOCKS {
            *black_box(&counter).lock().expect("not poisoned") += 1;
        }
        let elapsed = start.elapsed();
        assert_eq!(
            *counter.lock().expect("not poisoned"),
            harness::UNCONTENDED_LOCKS
        );
        elapsed
    })
    .join()
    .expect("locking coroutine");
    report(
        "mutex_uncontended",
        harness::ns_per(elapsed, harness::UNCONTENDED_LOCKS),
        "ns",
    );
}

fn mutex_contended() {
    may::config().set_workers(harness::WORKERS);
    let elapsed = go(|| {
        let counter = Arc::new(Mutex::new(0u64));
        let start = Instant::now();
        let tasks: Vec<_> = (0..harness::CONTENDERS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                go(move || {
                    for _ in 0..harness::CONTENDED_INCREMENTS {
                        *counter.lock().expect("not poisoned") += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.join().expect("incrementing coroutine");
        }
        let elapsed = start.elapsed();
        assert_eq!(
            *counter.lock().expect("not poisoned"),
            harness::CONTENDERS * harness::CONTENDED_INCREMENTS
        );
        elapsed
    })
    .join()
    .expect("spawning coroutine");
    report(
        "mutex_contended",
        harness::ns_per(elapsed, harness::CONTENDERS * harness::CONTENDED_INCREMENTS),
        "ns",
    );
}
