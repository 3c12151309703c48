//! Coroutine-local storage: one value per coroutine, kept across yields and
//! (for a coroutine that opted in to migration) across workers, dropped at
//! the end, with a thread-local fallback.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fibra_runtime::{coroutine, coroutine_local, runtime, spawn};

static DROPS: AtomicUsize = AtomicUsize::new(0);
static DROPS_IN_COROUTINE: AtomicUsize = AtomicUsize::new(0);
static THREAD_DROPS: AtomicUsize = AtomicUsize::new(0);
static INITS: AtomicUsize = AtomicUsize::new(0);
static ANY_MOVED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Counts its drops, and whether they happened inside a coroutine.
struct Tracked(u32, &'static AtomicUsize);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
        if fibra_runtime::in_coroutine() {
            DROPS_IN_COROUTINE.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn counted_init() -> u64 {
    INITS.fetch_add(1, Ordering::SeqCst);
    100
}

coroutine_local! {
    /// The index of the coroutine that owns it.
    static INDEX: usize = usize::MAX;
    static LOG: Vec<u32> = Vec::new();
    pub(crate) static TRACKED: Option<Tracked> = None;
    static COUNTED: u64 = counted_init();
}

coroutine_local!(static SINGLE: u8 = 1);

#[inline(never)]
fn thread_id() -> std::thread::ThreadId {
    std::thread::current().id()
}

#[test]
fn each_coroutine_keeps_its_value_across_yields_and_workers() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let t = threads.clone();
    let moved = rt.block_on(move || {
        let hs: Vec<_> = (0..200usize)
            .map(|i| {
                let t = t.clone();
                let b = coroutine::Builder::new();
                // SAFETY: the body keeps only `Send` values on its stack
                // (integers, an `Arc<Mutex<_>>` never locked across a wait);
                // coroutine-locals belong to the coroutine, not the thread.
                let b = unsafe { b.migratable() };
                b.spawn(move || {
                    assert_eq!(
                        INDEX.get(),
                        usize::MAX,
                        "a fresh coroutine sees the initializer"
                    );
                    INDEX.set(i);
                    let first = thread_id();
                    let mut moved = false;
                    // At least 20 rounds; on a loaded machine the other
                    // worker may take nothing for a while, so go on (up to
                    // 2,000) until some coroutine has been seen moving.
                    for round in 0..2000 {
                        if round >= 20 && ANY_MOVED.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        if round % 2 == 0 {
                            fibra_runtime::yield_now();
                        } else {
                            fibra_runtime::sleep(Duration::from_micros(200));
                        }
                        assert_eq!(INDEX.get(), i);
                        moved |= thread_id() != first;
                        if moved {
                            ANY_MOVED.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        t.lock().unwrap().insert(thread_id());
                    }
                    moved
                })
                .unwrap()
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|m| *m)
            .count()
    });
    // The check above only means something if coroutines did change workers.
    assert!(moved > 0, "no coroutine ever resumed on another worker");
    assert_eq!(threads.lock().unwrap().len(), 2);
}

#[test]
fn value_survives_blocking_inside_with_mut() {
    let v = fibra_runtime::run(|| {
        LOG.with_mut(|log| {
            log.push(1);
            fibra_runtime::sleep(Duration::from_millis(2));
            log.push(2);
        });
        LOG.with_mut(|log| log.push(3));
        LOG.take()
    });
    assert_eq!(v, [1, 2, 3]);
}

#[test]
fn nested_access_to_different_keys_does_not_deadlock() {
    let v = fibra_runtime::run(|| {
        INDEX.set(4);
        INDEX.with(|i| {
            LOG.with_mut(|log| {
                SINGLE.with(|s| log.push(u32::from(*s) + *i as u32));
                fibra_runtime::yield_now(); // may resume elsewhere, keys still out
                SINGLE.with(|s| log.push(u32::from(*s)));
                log.clone()
            })
        })
    });
    assert_eq!(v, [5, 1]);
}

#[test]
fn reentrant_access_to_the_same_key_panics_then_recovers() {
    let r = fibra_runtime::run(|| {
        let first = std::panic::catch_unwind(|| {
            LOG.with_mut(|_| LOG.with(|inner| inner.len()));
        });
        let msg = first
            .unwrap_err()
            .downcast::<String>()
            .map(|s| *s)
            .unwrap_or_default();
        // The outer value was put back when the panic unwound through `with`.
        LOG.with_mut(|log| log.push(9));
        (msg, LOG.take())
    });
    assert!(r.0.contains("already in use"), "message: {}", r.0);
    assert!(r.0.contains("Vec<u32>"), "message names the type: {}", r.0);
    assert_eq!(r.1, [9]);
}

#[test]
fn values_are_dropped_inside_the_coroutine_when_it_ends() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let hs: Vec<_> = (0..50u32)
            .map(|i| {
                spawn(move || {
                    TRACKED.set(Some(Tracked(i, &DROPS)));
                    fibra_runtime::yield_now();
                    TRACKED.with(|t| t.as_ref().map(|t| t.0))
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), Some(i as u32));
        }
    });
    assert_eq!(DROPS.load(Ordering::SeqCst), 50);
    assert_eq!(DROPS_IN_COROUTINE.load(Ordering::SeqCst), 50);
}

#[test]
fn set_skips_the_initializer_and_the_helpers_work() {
    let before = INITS.load(Ordering::SeqCst);
    let (a, b, c) = fibra_runtime::run(|| {
        COUNTED.set(5);
        let a = COUNTED.replace(6);
        let b = COUNTED.take();
        COUNTED.with_mut(|v| *v += 1);
        (a, b, COUNTED.get())
    });
    assert_eq!((a, b, c), (5, 6, 1));
    assert_eq!(
        INITS.load(Ordering::SeqCst),
        before,
        "set must not run init"
    );
}

#[test]
fn plain_threads_get_their_own_values() {
    let hs: Vec<_> = (0..4usize)
        .map(|i| {
            std::thread::spawn(move || {
                assert_eq!(INDEX.get(), usize::MAX);
                INDEX.set(i);
                std::thread::sleep(Duration::from_millis(5));
                LOG.with_mut(|l| l.push(i as u32));
                (INDEX.get(), LOG.take())
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (i, vec![i as u32]));
    }
}

#[test]
fn thread_values_are_dropped_at_thread_exit() {
    std::thread::spawn(|| TRACKED.set(Some(Tracked(1, &THREAD_DROPS))))
        .join()
        .unwrap();
    assert_eq!(THREAD_DROPS.load(Ordering::SeqCst), 1);
}
