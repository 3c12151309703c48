//! Sync primitives: Mutex, RwLock, Condvar, Semaphore, WaitGroup, Barrier,
//! OnceCell — contention, fairness, timeouts, cancellation, OS threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::sync::{Barrier, Condvar, Mutex, OnceCell, RwLock, Semaphore, WaitGroup};
use fibra_runtime::{runtime, sleep, spawn, yield_now};

fn rt() -> runtime::Runtime {
    runtime::Builder::new().workers(2).build().unwrap()
}

#[test]
fn mutex_serialises_ten_thousand_coroutines() {
    let total = rt().block_on(|| {
        let m = Arc::new(Mutex::new((0u64, false)));
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                let m = m.clone();
                spawn(move || {
                    let mut g = m.lock();
                    assert!(!g.1, "two holders at once");
                    g.1 = true;
                    let before = g.0;
                    if i % 4 == 0 {
                        yield_now(); // hold the lock across a yield
                    }
                    g.0 = before + 1;
                    g.1 = false;
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = m.lock().0;
        v
    });
    assert_eq!(total, 10_000);
}

#[test]
fn mutex_try_lock_and_lock_timeout() {
    let m = Mutex::new(1);
    let g = m.lock();
    assert!(m.try_lock().is_none());
    let start = Instant::now();
    assert!(m.lock_timeout(Duration::from_millis(20)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 1);
    *m.lock_timeout(Duration::from_millis(20)).unwrap() += 1;
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn mutex_waiters_are_served_in_arrival_order() {
    let order = rt().block_on(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let g = m.lock();
        let mut hs = Vec::new();
        for i in 0..20 {
            let m = m.clone();
            hs.push(spawn(move || m.lock().push(i)));
            sleep(Duration::from_millis(2)); // let it queue before the next
        }
        drop(g);
        for h in hs {
            h.join().unwrap();
        }
        let v = m.lock().clone();
        v
    });
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

/// A holder that re-locks in a tight loop, never parking, may win against
/// a woken waiter for a while (normal mode), but once the waiter has waited
/// the starvation threshold the lock is handed to it.
#[test]
fn mutex_waiter_is_not_starved_by_a_relocking_holder() {
    let waited = rt().block_on(|| {
        let m = Arc::new(Mutex::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let holder = {
            let (m, stop) = (m.clone(), stop.clone());
            spawn(move || {
                // It yields while holding the lock, so a waiter living on the
                // same worker gets to run and queue up (a started coroutine
                // never moves to the other worker), and then re-locks at once
                // after every unlock, barging ahead of the queue.
                let mut rounds = 0u64;
                while !stop.load(Ordering::Acquire) {
                    let mut g = m.lock();
                    for _ in 0..100 {
                        *g = std::hint::black_box(*g + 1);
                    }
                    rounds += 1;
                    if rounds % 16 == 0 {
                        fibra_runtime::yield_now();
                    }
                }
            })
        };
        sleep(Duration::from_millis(10)); // the holder is spinning by now
        let start = Instant::now();
        drop(m.lock());
        let waited = start.elapsed();
        stop.store(true, Ordering::Release);
        holder.join().unwrap();
        waited
    });
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
}

#[test]
fn mutex_lock_cancelable_returns_canceled_and_strands_nobody() {
    rt().block_on(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock();
        let m1 = m.clone();
        let canceled = spawn(move || m1.lock_cancelable().map(|_| ()));
        sleep(Duration::from_millis(5));
        let m2 = m.clone();
        let behind = spawn(move || *m2.lock() += 1);
        sleep(Duration::from_millis(5));
        canceled.cancel();
        let err = canceled.join().unwrap().unwrap_err();
        assert!(fibra_runtime::is_canceled(&err));
        drop(g);
        behind.join().unwrap();
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn mutex_lock_ignores_cancel_and_timeout_scope() {
    rt().block_on(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock();
        let m1 = m.clone();
        let h = spawn(move || {
            fibra_runtime::with_timeout(Duration::from_millis(1), || *m1.lock() += 1);
        });
        sleep(Duration::from_millis(10));
        h.cancel();
        sleep(Duration::from_millis(5));
        assert!(!h.is_finished(), "lock() must keep waiting");
        drop(g);
        h.join().unwrap();
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn mutex_with_timeout_scope_and_lock_cancelable() {
    rt().block_on(|| {
        let m = Mutex::new(());
        let _g = m.lock();
        let r = fibra_runtime::with_timeout(Duration::from_millis(10), || {
            m.lock_cancelable().map(|_| ())
        });
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn mutex_shared_between_os_threads_and_coroutines() {
    let m = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    let cos: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            spawn(move || {
                for _ in 0..1_000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    cos.into_iter().for_each(|c| c.join().unwrap());
    assert_eq!(*m.lock(), 8_000);
}

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    rt().block_on(|| {
        let l = Arc::new(RwLock::new(0u64));
        let r1 = l.read();
        let r2 = l.try_read().expect("readers share");
        assert!(l.try_write().is_none());
        let l1 = l.clone();
        let writer = spawn(move || *l1.write() += 1);
        sleep(Duration::from_millis(5));
        // A queued writer stops new readers from overtaking it.
        assert!(l.try_read().is_none());
        assert!(l.read_timeout(Duration::from_millis(5)).is_none());
        drop((r1, r2));
        writer.join().unwrap();
        assert_eq!(*l.read(), 1);
    });
}

#[test]
fn rwlock_under_contention_keeps_invariant() {
    let (sum, reads) = rt().block_on(|| {
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let reads = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                let l = l.clone();
                let reads = reads.clone();
                spawn(move || {
                    if i % 5 == 0 {
                        let mut g = l.write();
                        g.0 += 1;
                        yield_now();
                        g.1 += 1;
                    } else {
                        let g = l.read();
                        yield_now();
                        assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let g = l.read();
        (g.0 + g.1, reads.load(Ordering::Relaxed))
    });
    assert_eq!(sum, 4_000);
    assert_eq!(reads, 8_000);
}

#[test]
fn rwlock_write_cancelable_is_canceled() {
    rt().block_on(|| {
        let l = Arc::new(RwLock::new(()));
        let r = l.read();
        let l1 = l.clone();
        let h = spawn(move || l1.write_cancelable().map(|_| ()));
        sleep(Duration::from_millis(5));
        h.cancel();
        assert!(fibra_runtime::is_canceled(&h.join().unwrap().unwrap_err()));
        // The canceled writer no longer blocks readers.
        assert!(l.try_read().is_some());
        drop(r);
        assert!(l.try_write().is_some());
    });
}

#[test]
fn condvar_producer_consumer_and_timeout() {
    rt().block_on(|| {
        let pair = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
        let p = pair.clone();
        let consumer = spawn(move || {
            let (m, cv) = &*p;
            let mut got = Vec::new();
            while got.len() < 100 {
                let mut g = cv.wait_while(m.lock(), |q| q.is_empty());
                got.append(&mut g);
            }
            got
        });
        for i in 0..100 {
            pair.0.lock().push(i);
            pair.1.notify_one();
            if i % 10 == 0 {
                yield_now();
            }
        }
        assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());

        let (m, cv) = &*pair;
        let (g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
        assert!(res.timed_out());
        drop(g);
        let (_g, res) =
            cv.wait_timeout_while(m.lock(), Duration::from_millis(10), |q| q.is_empty());
        assert!(res.timed_out());
    });
}

#[test]
fn condvar_notify_all_wakes_everyone() {
    rt().block_on(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let p = pair.clone();
                spawn(move || {
                    let (m, cv) = &*p;
                    let _g = cv.wait_while(m.lock(), |go| !*go);
                })
            })
            .collect();
        sleep(Duration::from_millis(10));
        *pair.0.lock() = true;
        pair.1.notify_all();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn semaphore_bounds_concurrency_of_ten_thousand() {
    let max = rt().block_on(|| {
        let sem = Arc::new(Semaphore::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10_000)
            .map(|_| {
                let (sem, now, max) = (sem.clone(), now.clone(), max.clone());
                spawn(move || {
                    let _p = sem.acquire().unwrap();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    yield_now();
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 3);
        max.load(Ordering::SeqCst)
    });
    assert!((1..=3).contains(&max), "max concurrent holders {max}");
}

#[test]
fn semaphore_try_timeout_cancel_and_forget() {
    rt().block_on(|| {
        let sem = Arc::new(Semaphore::new(1));
        let p = sem.try_acquire().unwrap();
        assert!(sem.try_acquire().is_none());
        let e = sem.acquire_timeout(Duration::from_millis(5)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let s1 = sem.clone();
        let h = spawn(move || s1.acquire().map(|_| ()));
        sleep(Duration::from_millis(5));
        h.cancel();
        assert!(fibra_runtime::is_canceled(&h.join().unwrap().unwrap_err()));
        drop(p);
        // The canceled waiter took nothing: the permit is free again.
        assert_eq!(sem.available_permits(), 1);
        sem.acquire().unwrap().forget();
        assert_eq!(sem.available_permits(), 0);
        sem.add_permits(2);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn waitgroup_waits_for_ten_thousand() {
    rt().block_on(|| {
        let wg = WaitGroup::new();
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..10_000 {
            wg.add(1);
            let (wg, done) = (wg.clone(), done.clone());
            spawn(move || {
                if i % 7 == 0 {
                    sleep(Duration::from_millis(1));
                }
                done.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(done.load(Ordering::SeqCst), 10_000);
        assert_eq!(wg.count(), 0);
        wg.add(1);
        assert!(!wg.wait_timeout(Duration::from_millis(5)));
        wg.done();
        assert!(wg.wait_timeout(Duration::from_millis(5)));
    });
}

#[test]
#[should_panic(expected = "more times than add")]
fn waitgroup_done_below_zero_panics() {
    WaitGroup::new().done();
}

#[test]
fn barrier_releases_rounds_with_one_leader() {
    rt().block_on(|| {
        const N: usize = 10;
        let barrier = Arc::new(Barrier::new(N));
        let arrived = Arc::new(AtomicUsize::new(0));
        let early = Arc::new(AtomicUsize::new(0));
        let leaders = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let b = barrier.clone();
                let (arrived, early, leaders) = (arrived.clone(), early.clone(), leaders.clone());
                spawn(move || {
                    for round in 0..5 {
                        if i == 0 {
                            sleep(Duration::from_millis(2)); // the straggler
                        }
                        arrived.fetch_add(1, Ordering::SeqCst);
                        let leader = b.wait().is_leader();
                        // Nobody leaves round r before all N arrived at it.
                        let seen = arrived.load(Ordering::SeqCst);
                        if seen < (round + 1) * N {
                            early.fetch_add(1, Ordering::SeqCst);
                        }
                        if leader {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(Ordering::SeqCst), 5);
        assert_eq!(
            early.load(Ordering::SeqCst),
            0,
            "a party left a round early"
        );
    });
}

#[test]
fn once_cell_runs_one_initialiser_while_others_park() {
    rt().block_on(|| {
        let cell = Arc::new(OnceCell::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                spawn(move || {
                    *cell.get_or_init(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        sleep(Duration::from_millis(10));
                        i
                    })
                })
            })
            .collect();
        let vals: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(vals.iter().all(|v| *v == vals[0]));
        assert_eq!(cell.set(1_000), Err(1_000));
    });
}

#[test]
fn once_cell_retries_after_failed_or_panicking_init() {
    rt().block_on(|| {
        let cell = Arc::new(OnceCell::<u32>::new());
        assert_eq!(cell.get_or_try_init(|| Err("nope")), Err("nope"));
        assert!(cell.get().is_none());
        let c = cell.clone();
        let r = spawn(move || *c.get_or_init(|| panic!("init failed"))).join();
        assert!(r.is_err());
        let tried = AtomicBool::new(false);
        assert_eq!(
            *cell.get_or_init(|| {
                tried.store(true, Ordering::SeqCst);
                7
            }),
            7
        );
        assert!(tried.load(Ordering::SeqCst));
        assert_eq!(cell.set(8), Err(8));
    });
}

#[test]
fn rwlock_writer_timing_out_unblocks_readers_queued_behind_it() {
    rt().block_on(|| {
        let l = Arc::new(RwLock::new(5));
        let r = l.read();
        let l1 = l.clone();
        let writer = spawn(move || l1.write_timeout(Duration::from_millis(30)).is_some());
        sleep(Duration::from_millis(5));
        let l2 = l.clone();
        let reader = spawn(move || *l2.read());
        // The reader queues behind the writer; once the writer gives up,
        // the reader must get in while `r` is still held.
        assert!(!writer.join().unwrap(), "the writer cannot get in");
        assert_eq!(reader.join().unwrap(), 5);
        drop(r);
    });
}

#[test]
fn condvar_ping_pong_stress_loses_no_wakeups() {
    let turns = rt().block_on(|| {
        let state = Arc::new((Mutex::new(0u32), Condvar::new()));
        let hs: Vec<_> = (0..2u32)
            .map(|me| {
                let state = state.clone();
                spawn(move || {
                    let (m, cv) = &*state;
                    for _ in 0..5_000 {
                        let mut g = cv.wait_while(m.lock(), |turn| *turn % 2 != me);
                        *g += 1;
                        cv.notify_all();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let n = *state.0.lock();
        n
    });
    assert_eq!(turns, 10_000);
}

#[test]
fn mutex_ping_pong_between_os_thread_and_coroutine() {
    let m = Arc::new(Mutex::new(0u32));
    let pair = Arc::new(Condvar::new());
    let (m2, cv2) = (m.clone(), pair.clone());
    let t = std::thread::spawn(move || {
        for _ in 0..2_000 {
            let mut g = cv2.wait_while(m2.lock(), |v| *v % 2 == 1);
            *g += 1;
            cv2.notify_all();
        }
    });
    let c = spawn(move || {
        for _ in 0..2_000 {
            let mut g = pair.wait_while(m.lock(), |v| *v % 2 == 0);
            *g += 1;
            pair.notify_all();
        }
        let v = *m.lock();
        v
    });
    t.join().unwrap();
    assert_eq!(c.join().unwrap(), 4_000);
}
