//! Cancellation: every blocking wait returns a distinct canceled error and
//! the coroutine unwinds normally; shields and timeout scopes.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::io::{Direction, Registration};
use fibra_runtime::pool::{Manage, Pool};
use fibra_runtime::{is_canceled, park_deadline, shield, spawn, with_timeout, JoinHandle};

/// Sets its flag when dropped: proves the coroutine's stack unwound.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[track_caller]
fn assert_canceled(e: &io::Error) {
    assert!(is_canceled(e), "not a canceled error: {e:?}");
    // Not `Interrupted`, which std's read_exact/write_all would retry.
    assert_eq!(e.kind(), io::ErrorKind::Other);
}

/// Spawns `body` with a drop guard, waits until it is about to block, lets
/// it block, cancels it, and returns what it returned once the guard ran.
fn cancel_while_blocked<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (d, s) = (dropped.clone(), started.clone());
    let h: JoinHandle<T> = spawn(move || {
        let _guard = SetOnDrop(d);
        s.store(true, Ordering::SeqCst);
        body()
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20)); // let it park
    assert!(!h.is_finished(), "the coroutine did not block");
    assert!(!h.coroutine().is_canceled());
    h.cancel();
    assert!(h.coroutine().is_canceled());
    let v = h.join().expect("a canceled coroutine returns normally");
    assert!(dropped.load(Ordering::SeqCst), "destructors ran");
    v
}

#[test]
fn park_deadline_without_deadline_is_canceled() {
    let e = cancel_while_blocked(|| loop {
        if let Err(e) = park_deadline(None) {
            break e;
        }
    });
    assert_canceled(&e);
}

#[test]
fn park_deadline_with_deadline_is_canceled_early() {
    let start = Instant::now();
    let e = cancel_while_blocked(|| loop {
        if let Err(e) = park_deadline(Some(Instant::now() + Duration::from_secs(30))) {
            break e;
        }
    });
    assert_canceled(&e);
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// A cancel-aware sleep built on park_deadline, as library code writes one.
fn sleep_cancelable(dur: Duration) -> io::Result<()> {
    let deadline = Instant::now() + dur;
    loop {
        match park_deadline(Some(deadline)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

#[test]
fn sleep_loop_is_canceled_and_reports_progress() {
    let (rounds, e) = cancel_while_blocked(|| {
        let mut rounds = 0u32;
        loop {
            if let Err(e) = sleep_cancelable(Duration::from_millis(2)) {
                break (rounds, e);
            }
            rounds += 1;
        }
    });
    assert_canceled(&e);
    assert!(rounds > 0, "it slept a few rounds before the cancel");
}

#[test]
fn canceled_before_blocking_fails_at_the_next_call() {
    let h = spawn(|| {
        // Shielded, so the cancel surely lands before the next call.
        shield(|| fibra_runtime::sleep(Duration::from_millis(20)));
        let first = park_deadline(None).unwrap_err();
        let second = park_deadline(Some(Instant::now())).unwrap_err();
        (first, second)
    });
    h.cancel();
    let (first, second) = h.join().unwrap();
    assert_canceled(&first);
    assert_canceled(&second); // cancellation wins over an elapsed deadline
}

#[test]
fn socket_waits_are_canceled() {
    let e = cancel_while_blocked(|| {
        let (mut a, _b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        // A fresh registration assumes readiness (the first syscall is tried
        // at once); say nothing is there, as a WouldBlock read would.
        reg.clear_readiness(Direction::Read);
        let e = reg.wait_readable(None).unwrap_err();
        reg.deregister(&mut a).unwrap();
        e
    });
    assert_canceled(&e);

    let e = cancel_while_blocked(|| {
        let (mut a, _b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        let mut buf = [0u8; 16];
        let r = reg.do_io(Direction::Read, None, || io::Read::read(&mut a, &mut buf));
        reg.deregister(&mut a).unwrap();
        r.unwrap_err()
    });
    assert_canceled(&e);
}

struct Numbers;

impl Manage for Numbers {
    type Conn = u32;
    type Error = io::Error;

    fn connect(&self) -> io::Result<u32> {
        Ok(1)
    }
}

#[test]
fn pool_checkout_is_canceled() {
    let pool = Pool::builder()
        .max_size(1)
        .checkout_timeout(None)
        .build(Numbers);
    let held = pool.get().unwrap();
    let p = pool.clone();
    let e = cancel_while_blocked(move || p.get().map(|c| *c).unwrap_err());
    assert!(e.is_canceled(), "{e}");
    assert!(!e.is_timeout());
    assert_canceled(&io::Error::from(e));
    let s = pool.stats();
    assert_eq!((s.waiting, s.in_use, s.timeouts), (0, 1, 0));
    drop(held);
    assert_eq!(*pool.get().unwrap(), 1);
}

#[test]
fn shield_protects_cleanup_from_cancel() {
    let h = spawn(|| {
        while park_deadline(None).is_ok() {}
        // Canceled now; the goodbye inside the shield still waits its time.
        let start = Instant::now();
        let inside = shield(|| sleep_cancelable(Duration::from_millis(20)));
        let waited = start.elapsed();
        let nested = shield(|| shield(|| park_deadline(Some(Instant::now()))));
        let after = park_deadline(None);
        (inside, waited, nested, after)
    });
    std::thread::sleep(Duration::from_millis(10));
    h.cancel();
    let (inside, waited, nested, after) = h.join().unwrap();
    inside.expect("shielded wait is not canceled");
    assert!(waited >= Duration::from_millis(20));
    assert_eq!(nested.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_canceled(&after.unwrap_err());
}

#[test]
fn with_timeout_gives_timed_out_and_nests() {
    fibra_runtime::run(|| {
        // Inner scope earlier: it wins.
        let start = Instant::now();
        let e = with_timeout(Duration::from_secs(10), || {
            with_timeout(Duration::from_millis(30), || park_deadline(None))
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(!is_canceled(&e));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(30) && took < Duration::from_secs(5));

        // Outer scope earlier: a longer inner scope cannot extend it.
        let start = Instant::now();
        let (e, inner_deadline) = with_timeout(Duration::from_millis(30), || {
            let outer = fibra_runtime::scope_deadline().unwrap();
            with_timeout(Duration::from_secs(10), || {
                assert_eq!(fibra_runtime::scope_deadline(), Some(outer));
                (sleep_until_err(), outer)
            })
        });
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(inner_deadline <= start + Duration::from_millis(40));

        // Scopes are restored on exit, and an explicit deadline still counts.
        assert_eq!(fibra_runtime::scope_deadline(), None);
        let e = park_deadline(Some(Instant::now() + Duration::from_millis(5))).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    });
}

fn sleep_until_err() -> io::Error {
    loop {
        if let Err(e) = park_deadline(None) {
            return e;
        }
    }
}

#[test]
fn with_timeout_on_a_plain_thread() {
    let start = Instant::now();
    let e = with_timeout(Duration::from_millis(20), sleep_until_err);
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(20));
}
