//! may's side of the runtime benchmarks; see `src/harness.rs` for the
//! workloads and the output format, and fibra's `benches/runtime.rs` for the
//! other side.
//!
//! may's worker count is process-wide and fixed at first use, which is one
//! reason the harness runs each benchmark in its own process. Every other
//! setting (stack size: 4096 words, 32 KiB) is may's default.

use std::process::ExitCode;
use std::time::Instant;

use fibra_bench_peers::harness::{self, report};
use may::coroutine::JoinHandle;
use may::sync::mpsc;

fn main() -> ExitCode {
    harness::main(&[
        ("pingpong", pingpong),
        ("spawn_join", spawn_join),
        ("sleep_mem", sleep_mem),
        ("timers", timers),
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
    // may's channels, sleep and join, and std's `Instant`), and none recurses
    // or keeps large locals, so each fits may's default stack.
    unsafe { may::coroutine::spawn(f) }
}

/// Two coroutines on one worker thread ping-pong over two `may::sync::mpsc`
/// channels.
fn pingpong() {
    may::config().set_workers(1);
    let (ping_tx, ping_rx) = mpsc::channel::<()>();
    let (pong_tx, pong_rx) = mpsc::channel::<()>();
    let ping = go(move || {
        let start = Instant::now();
        for _ in 0..harness::PINGPONG_ROUND_TRIPS {
            ping_tx.send(()).expect("pong is alive");
            pong_rx.recv().expect("pong is alive");
        }
        start.elapsed()
    });
    let pong = go(move || {
        while let Ok(()) = ping_rx.recv() {
            pong_tx.send(()).expect("ping is alive");
        }
    });
    let elapsed = ping.join().expect("ping coroutine");
    pong.join().expect("pong coroutine");
    report(
        "pingpong",
        harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS),
        "ns",
    );
}

/// From inside a coroutine, spawn an empty coroutine and join it, one at a
/// time, on may's default worker count (one per core).
fn spawn_join() {
    let elapsed = go(|| {
        for _ in 0..harness::SPAWN_JOIN_WARMUP {
            go(|| {}).join().expect("empty coroutine");
        }
        let start = Instant::now();
        for _ in 0..harness::SPAWN_JOINS {
            go(|| {}).join().expect("empty coroutine");
        }
        start.elapsed()
    })
    .join()
    .expect("spawning coroutine");
    report(
        "spawn_join",
        harness::ns_per(elapsed, harness::SPAWN_JOINS),
        "ns",
    );
}

/// Resident memory per coroutine while 100,000 coroutines sleep, and the
/// time to spawn them.
fn sleep_mem() {
    let (per_task, spawn_time) = go(|| {
        let mut sleepers = Vec::with_capacity(harness::SLEEPERS as usize);
        let before = harness::rss_bytes();
        let start = Instant::now();
        for _ in 0..harness::SLEEPERS {
            sleepers.push(go(|| may::coroutine::sleep(harness::SLEEPER_NAP)));
        }
        let spawn_time = start.elapsed();
        may::coroutine::sleep(harness::SLEEPER_SETTLE);
        let after = harness::rss_bytes();
        for sleeper in sleepers {
            sleeper.join().expect("sleeping coroutine");
        }
        (
            after.saturating_sub(before) as f64 / harness::SLEEPERS as f64,
            spawn_time,
        )
    })
    .join()
    .expect("spawning coroutine");
    harness::check_sleepers_parked(spawn_time);
    report("sleep_mem", per_task, "B");
    report("sleep_spawn", spawn_time.as_secs_f64() * 1e3, "ms");
}

/// may keeps its timer list private: the only timers a user can make are
/// the deadlines inside `sleep`, `park_timeout` and the `*_timeout`
/// receives, each tied to a coroutine that blocks on it. There is nothing
/// to insert a million of and cancel, so this benchmark does not apply.
fn timers() {
    println!("BENCH timers n/a -");
}
