//! tokio's side of the channel and mutex benchmarks: `tokio::sync::mpsc`
//! and `tokio::sync::Mutex`. See `src/harness.rs` for the workloads and
//! fibra's `benches/chan.rs` for the other side.
//!
//! tokio has no rendezvous channel (`mpsc::channel(0)` panics), so the
//! ping-pongs use `mpsc::channel(1)`, the closest equivalent: each side
//! waits for the other's reply before sending again, so the buffer never
//! holds more than one message. One worker is the current-thread runtime;
//! two workers is the multi-thread runtime with two worker threads.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use fibra_bench_chan_peers::harness::{self, report};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, Mutex};

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
    if workers == 1 {
        Builder::new_current_thread().build()
    } else {
        Builder::new_multi_thread().worker_threads(workers).build()
    }
    .expect("build a tokio runtime")
}

fn pingpong(name: &str, workers: usize) {
    let rt = runtime(workers);
    let elapsed = rt.block_on(async {
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let ping = tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..harness::PINGPONG_ROUND_TRIPS {
                ping_tx.send(i).await.expect("pong is alive");
                let back = pong_rx.recv().await.expect("pong is alive");
                debug_assert_eq!(back, i);
            }
            start.elapsed()
        });
        let pong = tokio::spawn(async move {
            while let Some(i) = ping_rx.recv().await {
                pong_tx.send(i).await.expect("ping is alive");
            }
        });
        let elapsed = ping.await.expect("ping task");
        pong.await.expect("pong task");
        elapsed
    });
    report(
        name,
        harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS),
        "ns",
    );
}

fn buffered(name: &str, producers: u64) {
    let rt = runtime(harness::WORKERS);
    let elapsed = rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<u64>(harness::BUFFER_CAPACITY);
        let start = Instant::now();
        let senders: Vec<_> = (0..producers)
            .map(|_| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..harness::BUFFERED_MESSAGES / producers {
                        tx.send(i).await.expect("consumer is alive");
                    }
                })
            })
            .collect();
        drop(tx);
        let mut sum = 0u64;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        let elapsed = start.elapsed();
        for sender in senders {
            sender.await.expect("producer task");
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

fn mutex_uncontended() {
    let rt = runtime(1);
    let elapsed = rt.block_on(async {
        let counter = Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..harness::UNCONTENDED_LOCKS {
            *black_box(&counter).lock().await += 1;
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

fn mutex_contended() {
    let rt = runtime(harness::WORKERS);
    let elapsed = rt.block_on(async {
        let counter = Arc::new(Mutex::new(0u64));
        let start = Instant::now();
        let tasks: Vec<_> = (0..harness::CONTENDERS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    for _ in 0..harness::CONTENDED_INCREMENTS {
                        *counter.lock().await += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("incrementing task");
        }
        let elapsed = start.elapsed();
        assert_eq!(
            *counter.lock().await,
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
