//! Interruptions: every wait that can last without bound stops soon after
//! `cancel()` and at the `with_timeout` scope's deadline (or, where it is
//! deliberately deaf, waits on, and its `*_cancelable` twin stops). One test
//! per call: canceled 50 ms into the wait, it must end within 100 ms of the
//! cancel; under `with_timeout(100 ms)` it must end within 200 ms of the
//! scope's start. Each test runs under a 10 s watchdog.
//!
//! `cargo test -p fibra-runtime --test interrupts -- --nocapture` prints
//! the measured times.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::chan;
use fibra_runtime::sync::{Barrier, Condvar, Mutex, OnceCell, RwLock, WaitGroup};
use fibra_runtime::{
    blocking, blocking_cancelable, check_interrupts, effective_deadline, is_canceled, sleep,
    sleep_cancelable, sleep_until, sleep_until_cancelable, spawn, with_timeout,
};

/// Longer than any test may take: a wait this long must be interrupted.
const LONG: Duration = Duration::from_secs(30);
const CANCEL_AFTER: Duration = Duration::from_millis(50);
const CANCEL_BOUND: Duration = Duration::from_millis(100);
const SCOPE: Duration = Duration::from_millis(100);
const SCOPE_BOUND: Duration = Duration::from_millis(200);
const WATCHDOG: Duration = Duration::from_secs(10);

/// Runs `test` on its own thread; fails, naming the test, if it has not
/// finished after [`WATCHDOG`], so a wait that ignores its interruption
/// fails instead of hanging the suite.
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, WATCHDOG, test);
}

/// Runs `call` in a coroutine, cancels it 50 ms later, and returns what it
/// returned, after checking that it ended within 100 ms of the cancel.
#[track_caller]
fn canceled_after_50ms<T: Send + 'static>(
    name: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let h = spawn(move || {
        let r = call();
        (r, Instant::now())
    });
    std::thread::sleep(CANCEL_AFTER);
    assert!(!h.is_finished(), "{name}: returned before the cancel");
    let canceled_at = Instant::now();
    h.cancel();
    let (r, ended) = h.join().expect("a canceled call returns normally");
    let took = ended.saturating_duration_since(canceled_at);
    eprintln!("{name}: stopped {took:?} after cancel()");
    assert!(
        took < CANCEL_BOUND,
        "{name}: stopped {took:?} after cancel()"
    );
    r
}

/// Runs `call` in a coroutine inside `with_timeout(100 ms)` and returns
/// what it returned, after checking that it ended between 100 and 200 ms.
#[track_caller]
fn timed_out_after_100ms<T: Send + 'static>(
    name: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let h = spawn(move || {
        let start = Instant::now();
        let r = with_timeout(SCOPE, call);
        (r, start.elapsed())
    });
    let (r, took) = h.join().expect("a timed-out call returns normally");
    eprintln!("{name}: stopped {took:?} into with_timeout({SCOPE:?})");
    assert!(
        took >= SCOPE && took < SCOPE_BOUND,
        "{name}: stopped {took:?} into with_timeout({SCOPE:?})"
    );
    r
}

#[track_caller]
fn assert_canceled<T: std::fmt::Debug>(r: io::Result<T>) {
    match r {
        Err(e) => assert!(is_canceled(&e), "not a canceled error: {e:?}"),
        Ok(v) => panic!("expected a canceled error, got Ok({v:?})"),
    }
}

#[track_caller]
fn assert_timed_out<T: std::fmt::Debug>(r: io::Result<T>) {
    match r {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}"),
        Ok(v) => panic!("expected TimedOut, got Ok({v:?})"),
    }
}

/// Why the caller's waits would stop now (after a call that cannot say).
fn interruption() -> io::Result<()> {
    check_interrupts(effective_deadline(None))
}

/// Polls `cond` for up to 5 s.
#[track_caller]
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < until, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn sleep_returns_early() {
    watchdog("sleep", || {
        assert_canceled(canceled_after_50ms("sleep", || {
            sleep(LONG);
            interruption()
        }));
        assert_timed_out(timed_out_after_100ms("sleep", || {
            sleep(LONG);
            interruption()
        }));
    });
}

#[test]
fn sleep_until_returns_early() {
    watchdog("sleep_until", || {
        assert_canceled(canceled_after_50ms("sleep_until", || {
            sleep_until(Instant::now() + LONG);
            interruption()
        }));
        assert_timed_out(timed_out_after_100ms("sleep_until", || {
            sleep_until(Instant::now() + LONG);
            interruption()
        }));
    });
}

#[test]
fn sleep_cancelable_reports_why() {
    watchdog("sleep_cancelable", || {
        assert_canceled(canceled_after_50ms("sleep_cancelable", || {
            sleep_cancelable(LONG)
        }));
        assert_timed_out(timed_out_after_100ms("sleep_cancelable", || {
            sleep_cancelable(LONG)
        }));
        // A sleep that ends on its own is Ok, even with a scope around it.
        let r = spawn(|| with_timeout(LONG, || sleep_cancelable(Duration::from_millis(5))));
        r.join().unwrap().unwrap();
        // A plain thread cannot be canceled, but its scope still counts.
        let start = Instant::now();
        assert_timed_out(with_timeout(SCOPE, || sleep_cancelable(LONG)));
        let took = start.elapsed();
        assert!(
            took >= SCOPE && took < SCOPE_BOUND,
            "plain thread: {took:?}"
        );
    });
}

#[test]
fn sleep_until_cancelable_reports_why() {
    watchdog("sleep_until_cancelable", || {
        assert_canceled(canceled_after_50ms("sleep_until_cancelable", || {
            sleep_until_cancelable(Instant::now() + LONG)
        }));
        assert_timed_out(timed_out_after_100ms("sleep_until_cancelable", || {
            sleep_until_cancelable(Instant::now() + LONG)
        }));
    });
}

#[test]
fn join_cancelable_stops_and_keeps_the_handle() {
    watchdog("JoinHandle::join_cancelable", || {
        // The child runs until it is canceled itself.
        let child = spawn(|| {
            while sleep_cancelable(LONG).is_ok() {}
            7u32
        });
        let (r, child) = canceled_after_50ms("JoinHandle::join_cancelable", move || {
            let mut child = child;
            let r = child.join_cancelable().map(|_| ());
            (r, child)
        });
        assert_canceled(r);
        let (r, mut child) = timed_out_after_100ms("JoinHandle::join_cancelable", move || {
            let mut child = child;
            let r = child.join_cancelable().map(|_| ());
            (r, child)
        });
        assert_timed_out(r);
        // Still running; the handle still cancels and joins it.
        assert!(!child.is_finished());
        child.cancel();
        assert_eq!(child.join_cancelable().unwrap().unwrap(), 7);
    });
}

#[test]
fn join_waits_for_the_child_even_when_canceled() {
    watchdog("JoinHandle::join", || {
        let start = Instant::now();
        let child = spawn(|| {
            sleep(Duration::from_millis(150));
            7u32
        });
        let joined = spawn(move || child.join().unwrap());
        std::thread::sleep(CANCEL_AFTER);
        joined.cancel();
        assert_eq!(joined.join().unwrap(), 7);
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "join is deaf"
        );
    });
}

#[test]
fn blocking_cancelable_returns_at_once_and_drops_the_result() {
    watchdog("blocking_cancelable", || {
        for timeout in [false, true] {
            let (release, wait) = mpsc::channel::<()>();
            let dropped = Arc::new(AtomicBool::new(false));
            let d = dropped.clone();
            let call = move || {
                blocking_cancelable(move || {
                    let _ = wait.recv_timeout(WATCHDOG);
                    DropFlag(d)
                })
                .map(|_| ())
            };
            if timeout {
                assert_timed_out(timed_out_after_100ms("blocking_cancelable", call));
            } else {
                assert_canceled(canceled_after_50ms("blocking_cancelable", call));
            }
            // The work goes on; once it ends its value is dropped on the pool.
            assert!(!dropped.load(Ordering::SeqCst));
            release.send(()).unwrap();
            eventually("the abandoned result is dropped", || {
                dropped.load(Ordering::SeqCst)
            });
        }
    });
}

#[test]
fn blocking_returns_the_value_even_when_canceled() {
    watchdog("blocking", || {
        let h = spawn(|| {
            blocking(|| {
                std::thread::sleep(Duration::from_millis(150));
                7u32
            })
        });
        std::thread::sleep(CANCEL_AFTER);
        h.cancel();
        assert_eq!(h.join().unwrap(), 7);
    });
}

#[test]
fn condvar_wait_cancelable_stops_and_unlocks() {
    watchdog("Condvar::wait_cancelable", || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        assert_canceled(canceled_after_50ms("Condvar::wait_cancelable", move || {
            p.1.wait_cancelable(p.0.lock()).map(|_| ())
        }));
        assert!(pair.0.try_lock().is_some(), "the mutex is released");
        let p = pair.clone();
        assert_timed_out(timed_out_after_100ms(
            "Condvar::wait_cancelable",
            move || p.1.wait_cancelable(p.0.lock()).map(|_| ()),
        ));
        assert!(pair.0.try_lock().is_some(), "the mutex is released");
        // The interrupted waiters left the queue: one notification reaches
        // the next waiter (else this one would hang, and the watchdog fail).
        let queued = Arc::new(AtomicBool::new(false));
        let (p, q) = (pair.clone(), queued.clone());
        let waiter = spawn(move || {
            let g = p.0.lock();
            q.store(true, Ordering::SeqCst);
            *p.1.wait_cancelable(g).unwrap()
        });
        eventually("the waiter queues", || queued.load(Ordering::SeqCst));
        // It queues before it unlocks: once this lock is ours, it waits.
        *pair.0.lock() = true;
        pair.1.notify_one();
        assert!(waiter.join().unwrap());
    });
}

#[test]
fn condvar_wait_while_cancelable_stops_and_unlocks() {
    watchdog("Condvar::wait_while_cancelable", || {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        assert_canceled(canceled_after_50ms(
            "Condvar::wait_while_cancelable",
            move || {
                p.1.wait_while_cancelable(p.0.lock(), |ready| !*ready)
                    .map(|_| ())
            },
        ));
        let p = pair.clone();
        assert_timed_out(timed_out_after_100ms(
            "Condvar::wait_while_cancelable",
            move || {
                p.1.wait_while_cancelable(p.0.lock(), |ready| !*ready)
                    .map(|_| ())
            },
        ));
        assert!(pair.0.try_lock().is_some(), "the mutex is released");
    });
}

#[test]
fn barrier_wait_cancelable_stops_and_withdraws() {
    watchdog("Barrier::wait_cancelable", || {
        let barrier = Arc::new(Barrier::new(2));
        let b = barrier.clone();
        assert_canceled(canceled_after_50ms("Barrier::wait_cancelable", move || {
            b.wait_cancelable()
        }));
        // Were the canceled arrival still counted, this lone party would be
        // released as the round's leader instead of timing out.
        let b = barrier.clone();
        assert_timed_out(timed_out_after_100ms(
            "Barrier::wait_cancelable",
            move || b.wait_cancelable(),
        ));
        // Two parties still make a round, with one leader.
        let b = barrier.clone();
        let other = spawn(move || b.wait_cancelable().unwrap().is_leader());
        let me = barrier.wait().is_leader();
        assert!(me ^ other.join().unwrap());
    });
}

#[test]
fn waitgroup_wait_cancelable_stops() {
    watchdog("WaitGroup::wait_cancelable", || {
        let wg = WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        assert_canceled(canceled_after_50ms(
            "WaitGroup::wait_cancelable",
            move || w.wait_cancelable(),
        ));
        let w = wg.clone();
        assert_timed_out(timed_out_after_100ms(
            "WaitGroup::wait_cancelable",
            move || w.wait_cancelable(),
        ));
        wg.done();
        wg.wait_cancelable().unwrap();
    });
}

/// A cell whose initialiser is running (until the sender is used).
fn cell_being_initialised() -> (Arc<OnceCell<u32>>, chan::Sender<()>) {
    let cell = Arc::new(OnceCell::new());
    let (release, wait) = chan::bounded::<()>(1);
    let (started_tx, started) = mpsc::channel();
    let c = cell.clone();
    spawn(move || {
        c.get_or_init(|| {
            started_tx.send(()).unwrap();
            let _ = wait.recv();
            1
        });
    });
    started.recv().unwrap();
    (cell, release)
}

#[test]
fn once_cell_get_or_init_cancelable_stops() {
    watchdog("OnceCell::get_or_init_cancelable", || {
        let (cell, release) = cell_being_initialised();
        let c = cell.clone();
        assert_canceled(canceled_after_50ms(
            "OnceCell::get_or_init_cancelable",
            move || c.get_or_init_cancelable(|| 2).copied(),
        ));
        let c = cell.clone();
        assert_timed_out(timed_out_after_100ms(
            "OnceCell::get_or_init_cancelable",
            move || c.get_or_init_cancelable(|| 2).copied(),
        ));
        release.send(()).unwrap();
        let c = cell.clone();
        let v = spawn(move || *c.get_or_init_cancelable(|| 2).unwrap());
        assert_eq!(v.join().unwrap(), 1, "the first initialiser won");
    });
}

#[test]
fn once_cell_get_or_try_init_cancelable_stops() {
    watchdog("OnceCell::get_or_try_init_cancelable", || {
        let (cell, release) = cell_being_initialised();
        let c = cell.clone();
        assert_canceled(canceled_after_50ms(
            "OnceCell::get_or_try_init_cancelable",
            move || {
                c.get_or_try_init_cancelable(|| Ok::<_, io::Error>(2))
                    .copied()
            },
        ));
        let c = cell.clone();
        assert_timed_out(timed_out_after_100ms(
            "OnceCell::get_or_try_init_cancelable",
            move || {
                c.get_or_try_init_cancelable(|| Ok::<_, io::Error>(2))
                    .copied()
            },
        ));
        release.send(()).unwrap();
        drop(release);
    });
}

#[test]
fn mutex_lock_cancelable_stops() {
    watchdog("Mutex::lock_cancelable", || {
        let m = Arc::new(Mutex::new(0u32));
        let held = m.lock();
        let mc = m.clone();
        assert_canceled(canceled_after_50ms("Mutex::lock_cancelable", move || {
            mc.lock_cancelable().map(|_| ())
        }));
        let mc = m.clone();
        assert_timed_out(timed_out_after_100ms("Mutex::lock_cancelable", move || {
            mc.lock_cancelable().map(|_| ())
        }));
        drop(held);
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn rwlock_cancelable_waits_stop() {
    watchdog("RwLock::{read,write}_cancelable", || {
        let l = Arc::new(RwLock::new(0u32));
        let held = l.write();
        let lc = l.clone();
        assert_canceled(canceled_after_50ms("RwLock::read_cancelable", move || {
            lc.read_cancelable().map(|_| ())
        }));
        let lc = l.clone();
        assert_timed_out(timed_out_after_100ms(
            "RwLock::write_cancelable",
            move || lc.write_cancelable().map(|_| ()),
        ));
        drop(held);
        assert!(l.try_write().is_some());
    });
}
