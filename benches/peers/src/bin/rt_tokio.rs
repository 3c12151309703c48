//! tokio's side of the runtime benchmarks; see `src/harness.rs` for the
//! workloads and the output format, and fibra's `benches/runtime.rs` for the
//! other side.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use fibra_bench_peers::harness::{self, report};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, Notify};
use tokio::time::Sleep;

fn main() -> ExitCode {
    harness::main(&[
        ("pingpong", pingpong),
        ("spawn_join", spawn_join),
        ("sleep_mem", sleep_mem),
        ("timers", timers),
    ])
}

/// The multi-thread runtime used by every benchmark but `pingpong`: two
/// workers, as many as this machine has cores and as fibra's default.
fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("build tokio runtime")
}

/// Two tasks on one current-thread runtime hand a turn back and forth.
///
/// tokio has two natural hand-offs and neither is clearly faster on the
/// 2-vCPU VM (both about 180 ns per round trip; a bounded `mpsc` of
/// capacity 1 is slower, about 235 ns), so this runs both and reports the
/// faster as `pingpong`: fibra is compared with tokio's best. Each variant
/// also gets its own line.
fn pingpong() {
    let notify = pingpong_notify();
    let channel = pingpong_mpsc();
    report("pingpong_notify", notify, "ns");
    report("pingpong_mpsc", channel, "ns");
    report("pingpong", notify.min(channel), "ns");
}

/// Ping-pong through a pair of `Notify`s: `notify_one` on a `Notify` nobody
/// waits on stores a permit that the next `notified().await` consumes, which
/// is exactly fibra's unpark-before-park. Returns ns per round trip.
fn pingpong_notify() -> f64 {
    let rt = Builder::new_current_thread()
        .build()
        .expect("build tokio runtime");
    let elapsed = rt.block_on(async {
        let to_ping = Arc::new(Notify::new());
        let to_pong = Arc::new(Notify::new());
        let ping = {
            let (to_ping, to_pong) = (to_ping.clone(), to_pong.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                for _ in 0..harness::PINGPONG_ROUND_TRIPS {
                    to_pong.notify_one();
                    to_ping.notified().await;
                }
                start.elapsed()
            })
        };
        let pong = tokio::spawn(async move {
            for _ in 0..harness::PINGPONG_ROUND_TRIPS {
                to_pong.notified().await;
                to_ping.notify_one();
            }
        });
        let elapsed = ping.await.expect("ping task");
        pong.await.expect("pong task");
        elapsed
    });
    harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS)
}

/// Ping-pong over two unbounded `mpsc` channels, the message-passing form.
/// Returns ns per round trip.
fn pingpong_mpsc() -> f64 {
    let rt = Builder::new_current_thread()
        .build()
        .expect("build tokio runtime");
    let elapsed = rt.block_on(async {
        let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<()>();
        let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<()>();
        let ping = tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..harness::PINGPONG_ROUND_TRIPS {
                ping_tx.send(()).expect("pong is alive");
                pong_rx.recv().await.expect("pong is alive");
            }
            start.elapsed()
        });
        let pong = tokio::spawn(async move {
            while let Some(()) = ping_rx.recv().await {
                pong_tx.send(()).expect("ping is alive");
            }
        });
        let elapsed = ping.await.expect("ping task");
        pong.await.expect("pong task");
        elapsed
    });
    harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS)
}

/// From inside a task, spawn an empty task and await its `JoinHandle`, one
/// at a time.
fn spawn_join() {
    let rt = multi_thread();
    let elapsed = rt.block_on(async {
        tokio::spawn(async {
            for _ in 0..harness::SPAWN_JOIN_WARMUP {
                tokio::spawn(async {}).await.expect("empty task");
            }
            let start = Instant::now();
            for _ in 0..harness::SPAWN_JOINS {
                tokio::spawn(async {}).await.expect("empty task");
            }
            start.elapsed()
        })
        .await
        .expect("spawning task")
    });
    report(
        "spawn_join",
        harness::ns_per(elapsed, harness::SPAWN_JOINS),
        "ns",
    );
}

/// Resident memory per task while 100,000 tasks sleep, and the time to
/// spawn them.
fn sleep_mem() {
    let rt = multi_thread();
    let (per_task, spawn_time) = rt.block_on(async {
        tokio::spawn(async {
            let mut sleepers = Vec::with_capacity(harness::SLEEPERS as usize);
            let before = harness::rss_bytes();
            let start = Instant::now();
            for _ in 0..harness::SLEEPERS {
                sleepers.push(tokio::spawn(tokio::time::sleep(harness::SLEEPER_NAP)));
            }
            let spawn_time = start.elapsed();
            tokio::time::sleep(harness::SLEEPER_SETTLE).await;
            let after = harness::rss_bytes();
            for sleeper in sleepers {
                sleeper.await.expect("sleeping task");
            }
            (
                after.saturating_sub(before) as f64 / harness::SLEEPERS as f64,
                spawn_time,
            )
        })
        .await
        .expect("spawning task")
    });
    harness::check_sleepers_parked(spawn_time);
    report("sleep_mem", per_task, "B");
    report("sleep_spawn", spawn_time.as_secs_f64() * 1e3, "ms");
}

/// Inserts 1,000,000 timers, then cancels them all.
///
/// The honest tokio equivalent of a runtime timer insert and cancel is a
/// `Sleep`: creating it only records the deadline, its first poll registers
/// it in the runtime's timer wheel (with the task's waker, as a parked
/// coroutine registers its unparker), and dropping it removes it from the
/// wheel. So each timer is a `Sleep` boxed (it is `!Unpin` and has to
/// outlive the loop), polled once, and later dropped. `tokio_util`'s
/// `DelayQueue` would measure a user-space queue on top of a single `Sleep`
/// instead, not the runtime's timers. The box is part of the cost; fibra's
/// `Timer` and Go's `time.AfterFunc` allocate their own entries too.
fn timers() {
    let rt = multi_thread();
    let elapsed = rt.block_on(async {
        tokio::spawn(async {
            let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            let mut cx = Context::from_waker(&waker);
            let mut timers: Vec<Pin<Box<Sleep>>> = Vec::with_capacity(harness::TIMERS as usize);
            let base = tokio::time::Instant::now();
            let start = Instant::now();
            for i in 0..harness::TIMERS {
                let mut timer = Box::pin(tokio::time::sleep_until(base + harness::timer_delay(i)));
                assert!(
                    timer.as_mut().poll(&mut cx).is_pending(),
                    "timer fired early"
                );
                timers.push(timer);
            }
            timers.clear();
            start.elapsed()
        })
        .await
        .expect("timer task")
    });
    report("timers", harness::ns_per(elapsed, harness::TIMERS), "ns");
}
