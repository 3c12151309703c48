//! The runtime in one screen: a hundred thousand coroutines, each written as
//! plain blocking code, sleeping and reporting back through join handles.
//!
//! Run with `cargo run --release --example hello`.

use std::time::{Duration, Instant};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let start = Instant::now();
    let total = fibra::run(move || {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                fibra::spawn(move || {
                    // Each coroutine parks here; no thread is blocked.
                    fibra::sleep(Duration::from_millis(100 + i % 100));
                    i
                })
            })
            .collect();
        println!(
            "spawned {n} coroutines in {:?}; all are asleep now",
            start.elapsed()
        );
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, n * (n - 1) / 2);
    println!(
        "joined {n} coroutines (sum {total}) in {:?} on {} worker threads",
        start.elapsed(),
        fibra::runtime::global().workers()
    );
}
