//! Spawning, joining, panics, names and pinning.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_runtime::{coroutine, runtime, spawn};

#[test]
fn run_returns_the_root_value() {
    let v = fibra_runtime::run(|| {
        let h = spawn(|| 40);
        h.join().unwrap() + 2
    });
    assert_eq!(v, 42);
}

#[test]
fn many_coroutines_all_complete_across_workers() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let sum = rt.block_on(move || {
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                let c = c.clone();
                spawn(move || {
                    if i % 3 == 0 {
                        fibra_runtime::yield_now();
                    }
                    c.fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, (0..10_000u64).sum());
    assert_eq!(counter.load(Ordering::Relaxed), 10_000);
}

#[test]
fn panic_reaches_join_and_worker_survives() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    let r = rt.block_on(|| spawn(|| -> u32 { panic!("boom {}", std::hint::black_box(7)) }).join());
    let payload = r.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom 7")
    );
    // The single worker is still alive and running coroutines.
    assert_eq!(rt.block_on(|| 5), 5);
}

#[test]
fn join_from_plain_thread_and_from_coroutine() {
    let h = spawn(|| {
        fibra_runtime::sleep(Duration::from_millis(5));
        "done"
    });
    assert_eq!(h.join().unwrap(), "done");
    let v = fibra_runtime::run(|| {
        let inner = spawn(|| spawn(|| 3).join().unwrap() * 2);
        inner.join().unwrap()
    });
    assert_eq!(v, 6);
}

#[test]
fn builder_name_and_stack_size_are_visible() {
    let h = coroutine::Builder::new()
        .name("named-one")
        .stack_size(100 * 1024)
        .spawn(|| {
            let me = coroutine::current().expect("inside a coroutine");
            (me.name().map(String::from), me.stack_size())
        })
        .unwrap();
    let (name, size) = h.join().unwrap();
    assert_eq!(name.as_deref(), Some("named-one"));
    assert!(size >= 100 * 1024 && size % 4096 == 0, "size {size}");
    assert!(
        coroutine::current().is_none(),
        "a test thread is no coroutine"
    );
}

fn worker_index() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn pinned_coroutine_never_changes_thread() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let threads = rt.block_on(|| {
        let h = coroutine::Builder::new()
            .pinned(true)
            .spawn(|| {
                let first = worker_index();
                let mut seen = vec![first];
                for i in 0..200 {
                    if i % 2 == 0 {
                        fibra_runtime::yield_now();
                    } else {
                        fibra_runtime::sleep(Duration::from_micros(200));
                    }
                    seen.push(worker_index());
                }
                seen
            })
            .unwrap();
        // Keep the other worker busy-ish so stealing would have a reason.
        let noise: Vec<_> = (0..50)
            .map(|_| {
                spawn(|| {
                    for _ in 0..20 {
                        fibra_runtime::yield_now()
                    }
                })
            })
            .collect();
        for n in noise {
            n.join().unwrap();
        }
        h.join().unwrap()
    });
    assert!(
        threads.iter().all(|t| t == &threads[0]),
        "moved: {threads:?}"
    );
}

#[test]
fn pinned_runtime_keeps_every_coroutine_home() {
    let rt = runtime::Builder::new()
        .workers(2)
        .pinned(true)
        .build()
        .unwrap();
    let moved = rt.block_on(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                spawn(|| {
                    let first = worker_index();
                    let mut moved = false;
                    for _ in 0..10 {
                        fibra_runtime::sleep(Duration::from_micros(100));
                        moved |= worker_index() != first;
                    }
                    moved
                })
            })
            .collect();
        hs.into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|m| *m)
            .count()
    });
    assert_eq!(moved, 0);
}

#[test]
fn go_macro_spawns() {
    let x = 5;
    let h = fibra_runtime::go!(x * 2);
    assert_eq!(h.join().unwrap(), 10);
}

#[test]
fn dropping_a_runtime_stops_its_workers() {
    for _ in 0..20 {
        let rt = runtime::Builder::new().workers(2).build().unwrap();
        assert_eq!(rt.block_on(|| 1), 1);
        // A coroutine parked forever must not keep the runtime alive.
        let _parked = rt.spawn(fibra_runtime::park);
        drop(rt);
    }
}
