//! The blocking pool parks only the caller.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::runtime;

#[test]
fn blocking_calls_run_off_the_workers_in_parallel() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    let (elapsed, ticks) = rt.block_on(|| {
        let ticks = Arc::new(AtomicUsize::new(0));
        let t2 = ticks.clone();
        // A coroutine that keeps ticking proves the single worker is free.
        let ticker = fibra_runtime::spawn(move || {
            for _ in 0..20 {
                fibra_runtime::sleep(Duration::from_millis(5));
                t2.fetch_add(1, Ordering::Relaxed);
            }
        });
        let start = Instant::now();
        let hs: Vec<_> = (0..8)
            .map(|i| {
                fibra_runtime::spawn(move || {
                    fibra_runtime::blocking(move || {
                        std::thread::sleep(Duration::from_millis(100));
                        i
                    })
                })
            })
            .collect();
        let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 28);
        let elapsed = start.elapsed();
        ticker.join().unwrap();
        (elapsed, ticks.load(Ordering::Relaxed))
    });
    // Eight 100 ms sleeps ran concurrently, not one after another.
    assert!(elapsed < Duration::from_millis(700), "took {elapsed:?}");
    assert_eq!(ticks, 20);
}

#[test]
fn a_panic_in_blocking_work_reaches_the_caller() {
    let r = fibra_runtime::spawn(|| fibra_runtime::blocking(|| -> u8 { panic!("disk on fire") }))
        .join();
    let p = r.unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"disk on fire"));
}

#[test]
fn outside_a_coroutine_blocking_runs_inline() {
    let me = std::thread::current().id();
    let ran_on = fibra_runtime::blocking(move || std::thread::current().id());
    assert_eq!(ran_on, me);
}
