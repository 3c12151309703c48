//! Sleeps, timers and deadlines.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::time::Timer;
use fibra_runtime::{runtime, spawn};

#[test]
fn sleep_never_returns_early() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        for ms in [0u64, 1, 3, 10, 25] {
            let start = Instant::now();
            fibra_runtime::sleep(Duration::from_millis(ms));
            assert!(start.elapsed() >= Duration::from_millis(ms), "{ms} ms");
        }
    });
}

#[test]
fn ten_thousand_sleepers_wake_in_order_of_deadline() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let late = rt.block_on(|| {
        let start = Instant::now();
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                spawn(move || {
                    let d = Duration::from_millis(10 + i % 90);
                    fibra_runtime::sleep(d);
                    start.elapsed() >= d
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| !ok)
            .count()
    });
    assert_eq!(late, 0, "some sleeps returned before their deadline");
}

#[test]
fn canceled_timer_does_not_fire() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let fired = Arc::new(AtomicBool::new(false));
        let f2 = fired.clone();
        let sleeper = spawn(move || {
            let me = fibra_runtime::current_unparker();
            let t = Timer::new(Instant::now() + Duration::from_millis(5), me);
            assert!(t.cancel(), "timer should still be armed");
            // With the timer canceled, only our own unpark below wakes us.
            let start = Instant::now();
            fibra_runtime::park();
            f2.store(
                start.elapsed() >= Duration::from_millis(40),
                Ordering::SeqCst,
            );
        });
        let u = sleeper.coroutine().unparker();
        fibra_runtime::sleep(Duration::from_millis(50));
        u.unpark();
        sleeper.join().unwrap();
        assert!(
            fired.load(Ordering::SeqCst),
            "park returned before the unpark"
        );
    });
}

#[test]
fn park_deadline_times_out_and_unpark_wins_before_it() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let start = Instant::now();
        let e = fibra_runtime::park_deadline(Some(start + Duration::from_millis(15))).unwrap_err();
        // A spurious wake-up may make the first park return Ok; loop like
        // real callers do until the deadline error arrives.
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(15));

        let me = fibra_runtime::current_unparker();
        let h = spawn(move || {
            fibra_runtime::sleep(Duration::from_millis(5));
            me.unpark();
        });
        let r = fibra_runtime::park_deadline(Some(Instant::now() + Duration::from_secs(5)));
        assert!(r.is_ok(), "unpark should win: {r:?}");
        h.join().unwrap();
    });
}

#[test]
fn unpark_before_park_is_not_lost() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        fibra_runtime::current_unparker().unpark();
        let start = Instant::now();
        fibra_runtime::park(); // returns at once: the token was stored
        assert!(start.elapsed() < Duration::from_secs(1));
    });
}

/// A coroutine and a plain OS thread hand a turn back and forth through
/// park/unpark; a single lost wake-up would hang (bounded by the deadline).
#[test]
fn cross_thread_ping_pong_loses_no_wakeups() {
    const ROUNDS: u64 = 20_000;
    let turn = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let t = turn.clone();
    let co = spawn(move || {
        let thread_side: fibra_runtime::Unparker = rx.recv().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        for i in 0..ROUNDS {
            while t.load(Ordering::Acquire) != 2 * i + 1 {
                assert!(Instant::now() < deadline, "lost wake-up at round {i}");
                let _ = fibra_runtime::park_deadline(Some(deadline));
            }
            t.store(2 * i + 2, Ordering::Release);
            thread_side.unpark();
        }
    });
    tx.send(fibra_runtime::current_unparker()).unwrap();
    let co_side = co.coroutine().unparker();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..ROUNDS {
        turn.store(2 * i + 1, Ordering::Release);
        co_side.unpark();
        while turn.load(Ordering::Acquire) != 2 * i + 2 {
            assert!(Instant::now() < deadline, "lost wake-up at round {i}");
            std::thread::park_timeout(Duration::from_secs(1));
        }
    }
    co.join().unwrap();
    assert_eq!(turn.load(Ordering::Acquire), 2 * ROUNDS);
}

#[test]
fn timers_work_from_plain_threads() {
    let start = Instant::now();
    let _t = Timer::new(
        start + Duration::from_millis(10),
        fibra_runtime::current_unparker(),
    );
    while start.elapsed() < Duration::from_millis(10) {
        std::thread::park_timeout(Duration::from_secs(5));
    }
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "timer never unparked the thread"
    );
}
