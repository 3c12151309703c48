//! The generic connection pool, driven by a fake manager.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fibra_runtime::pool::{Manage, Pool, PoolError};
use fibra_runtime::{runtime, spawn};

/// Hands out numbered connections and counts how many are checked out.
#[derive(Default)]
struct Counters {
    opened: AtomicUsize,
    refuse: AtomicBool,
    all_invalid: AtomicBool,
    checks: AtomicUsize,
}

/// A cheap handle on shared counters (the pool owns one, the test another).
#[derive(Clone, Default)]
struct Fake(Arc<Counters>);

impl std::ops::Deref for Fake {
    type Target = Counters;

    fn deref(&self) -> &Counters {
        &self.0
    }
}

#[derive(Debug)]
struct FakeConn {
    id: usize,
    broken: bool,
}

impl Manage for Fake {
    type Conn = FakeConn;
    type Error = io::Error;

    fn connect(&self) -> io::Result<FakeConn> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        }
        fibra_runtime::yield_now(); // connecting takes a while
        Ok(FakeConn {
            id: self.opened.fetch_add(1, Ordering::SeqCst),
            broken: false,
        })
    }

    fn is_valid(&self, _conn: &mut FakeConn) -> bool {
        self.checks.fetch_add(1, Ordering::SeqCst);
        !self.all_invalid.load(Ordering::SeqCst)
    }

    fn has_broken(&self, conn: &mut FakeConn) -> bool {
        conn.broken
    }
}

fn pool(max: usize) -> (Pool<Fake>, Fake) {
    let fake = Fake::default();
    (Pool::builder().max_size(max).build(fake.clone()), fake)
}

/// Waits (yielding) until `cond` holds, failing after two seconds.
#[track_caller]
fn wait_until(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "condition never held"
        );
        fibra_runtime::sleep(Duration::from_millis(1));
    }
}

#[test]
fn thousand_coroutines_share_eight_connections() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let (pool, fake) = pool(8);
    let p = pool.clone();
    let max_seen = rt.block_on(move || {
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                let (p, now, max) = (p.clone(), now.clone(), max.clone());
                spawn(move || {
                    let conn = p.get().expect("checkout");
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    if i % 2 == 0 {
                        fibra_runtime::yield_now();
                    } else {
                        fibra_runtime::sleep(Duration::from_micros(100));
                    }
                    now.fetch_sub(1, Ordering::SeqCst);
                    drop(conn);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        max.load(Ordering::SeqCst)
    });
    assert!(max_seen <= 8, "{max_seen} connections in use at once");
    assert!(max_seen >= 2, "no concurrency at all ({max_seen})");
    let s = pool.stats();
    assert_eq!(s.in_use, 0);
    assert_eq!(s.waiting, 0);
    assert!(s.total <= 8 && s.idle == s.total, "{s:?}");
    assert!(s.created <= 8, "{s:?}");
    assert_eq!(fake.opened.load(Ordering::SeqCst) as u64, s.created);
    assert!(s.waits > 0, "{s:?}");
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let (pool, _) = pool(1);
    let order = rt.block_on(move || {
        let held = pool.get().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut hs = Vec::new();
        for i in 0..10 {
            let (p, order) = (pool.clone(), order.clone());
            hs.push(spawn(move || {
                let conn = p.get().unwrap();
                order.lock().unwrap().push(i);
                fibra_runtime::yield_now(); // let newcomers try to barge in
                drop(conn);
            }));
            let p = pool.clone();
            wait_until(|| p.stats().waiting == i + 1);
        }
        drop(held);
        for h in hs {
            h.join().unwrap();
        }
        let s = pool.stats();
        assert_eq!((s.waits, s.created, s.total), (10, 1, 1));
        Arc::try_unwrap(order).unwrap().into_inner().unwrap()
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[test]
fn checkout_times_out() {
    let (pool, _) = pool(1);
    fibra_runtime::run(move || {
        let held = pool.get().unwrap();
        let start = Instant::now();
        let e = pool.get_timeout(Duration::from_millis(40)).unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(start.elapsed() >= Duration::from_millis(40));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);

        // An enclosing with_timeout scope bounds a plain get().
        let start = Instant::now();
        let e = fibra_runtime::with_timeout(Duration::from_millis(30), || pool.get()).unwrap_err();
        assert!(e.is_timeout());
        assert!(start.elapsed() < Duration::from_secs(5));

        let s = pool.stats();
        assert_eq!((s.timeouts, s.waiting, s.in_use), (2, 0, 1));
        drop(held);
        assert!(pool.get().is_ok(), "the pool still works after timeouts");
    });
}

#[test]
fn configured_checkout_timeout_applies() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(1)
        .checkout_timeout(Some(Duration::from_millis(20)))
        .build(fake);
    fibra_runtime::run(move || {
        let _held = pool.get().unwrap();
        assert!(pool.get().unwrap_err().is_timeout());
    });
}

#[test]
fn broken_and_discarded_connections_are_closed() {
    let (pool, _) = pool(2);
    fibra_runtime::run(move || {
        let mut c = pool.get().unwrap();
        assert_eq!(c.id, 0);
        c.broken = true;
        drop(c);
        let s = pool.stats();
        assert_eq!((s.discarded, s.total, s.idle), (1, 0, 0));

        let c = pool.get().unwrap();
        assert_eq!(c.id, 1, "a new connection replaces the broken one");
        c.discard();
        assert_eq!(pool.stats().discarded, 2);

        let c = pool.get().unwrap();
        assert_eq!(c.id, 2);
        drop(c);
        assert_eq!(pool.get().unwrap().id, 2, "a healthy connection is reused");
        let s = pool.stats();
        assert_eq!((s.created, s.discarded, s.total, s.idle), (3, 2, 1, 1));
    });
}

#[test]
fn a_discarded_connection_frees_a_slot_for_a_waiter() {
    let (pool, _) = pool(1);
    fibra_runtime::run(move || {
        let held = pool.get().unwrap();
        let p = pool.clone();
        let waiter = spawn(move || p.get().map(|c| c.id));
        let p = pool.clone();
        wait_until(|| p.stats().waiting == 1);
        held.discard();
        assert_eq!(waiter.join().unwrap().unwrap(), 1);
    });
}

#[test]
fn failing_health_check_discards_idle_connection() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(2)
        .test_on_checkout(true)
        .build(fake.clone());
    fibra_runtime::run(move || {
        drop(pool.get().unwrap()); // connection 0 goes idle
        assert_eq!(
            fake.checks.load(Ordering::SeqCst),
            0,
            "new connections are not tested"
        );
        assert_eq!(pool.get().unwrap().id, 0);
        assert_eq!(fake.checks.load(Ordering::SeqCst), 1);
        fake.all_invalid.store(true, Ordering::SeqCst);
        assert_eq!(pool.get().unwrap().id, 1, "the invalid one was replaced");
        let s = pool.stats();
        assert_eq!((s.discarded, s.created), (1, 2));
    });
}

#[test]
fn connect_errors_are_returned_and_free_the_slot() {
    let (pool, fake) = pool(1);
    fibra_runtime::run(move || {
        fake.refuse.store(true, Ordering::SeqCst);
        match pool.get() {
            Err(PoolError::Connect(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("expected a connect error, got {other:?}"),
        }
        assert_eq!(pool.stats().total, 0);
        fake.refuse.store(false, Ordering::SeqCst);
        assert!(pool.get().is_ok());
    });
}

#[test]
fn idle_connections_are_reaped_after_idle_timeout() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(4)
        .idle_timeout(Some(Duration::from_millis(30)))
        .reap_interval(Duration::from_millis(10))
        .build(fake);
    fibra_runtime::run(move || {
        let conns: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
        drop(conns);
        assert_eq!(pool.stats().idle, 3);
        let p = pool.clone();
        wait_until(|| p.stats().total == 0);
        assert_eq!(pool.stats().discarded, 3);
    });
}

#[test]
fn expired_idle_connection_is_not_handed_out() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(1)
        .idle_timeout(Some(Duration::from_millis(20)))
        .reap_interval(Duration::from_secs(3600))
        .build(fake);
    fibra_runtime::run(move || {
        drop(pool.get().unwrap());
        fibra_runtime::sleep(Duration::from_millis(30));
        assert_eq!(pool.get().unwrap().id, 1);
        assert_eq!(pool.stats().discarded, 1);
    });
}

#[test]
fn connections_past_max_lifetime_are_closed_on_return() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(2)
        .max_lifetime(Some(Duration::from_millis(30)))
        .reap_interval(Duration::from_secs(3600))
        .build(fake);
    fibra_runtime::run(move || {
        let c = pool.get().unwrap();
        fibra_runtime::sleep(Duration::from_millis(40));
        drop(c);
        let s = pool.stats();
        assert_eq!((s.discarded, s.total, s.idle), (1, 0, 0));
        // One that comes back young stays, and is reaped once it is old.
        drop(pool.get().unwrap());
        assert_eq!(pool.stats().idle, 1);
        fibra_runtime::sleep(Duration::from_millis(40));
        pool.reap();
        assert_eq!(pool.stats().total, 0);
    });
}

#[test]
fn min_idle_is_filled_in_the_background() {
    let fake = Fake::default();
    let pool = Pool::builder()
        .max_size(4)
        .min_idle(2)
        .reap_interval(Duration::from_millis(10))
        .build(fake.clone());
    fibra_runtime::run(move || {
        let p = pool.clone();
        wait_until(|| p.stats().idle == 2);
        let c = pool.get().unwrap();
        let p = pool.clone();
        wait_until(|| p.stats().idle == 2 && p.stats().total == 3);
        drop(c);
        assert_eq!(fake.opened.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn works_from_a_plain_thread() {
    let (pool, _) = pool(1);
    let held = pool.get().unwrap();
    let p = pool.clone();
    let t = std::thread::spawn(move || p.get().map(|c| c.id));
    std::thread::sleep(Duration::from_millis(20));
    drop(held);
    assert_eq!(t.join().unwrap().unwrap(), 0);
}

#[test]
fn pool_and_guard_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Pool<Fake>>();
    send::<fibra_runtime::pool::PooledConn<Fake>>();
    send_sync::<PoolError<io::Error>>();
}

/// Connects to a server that accepts and never answers, then waits for its
/// greeting with no deadline of its own: only the checkout deadline can end
/// the wait.
struct Silent {
    addr: std::net::SocketAddr,
}

impl Manage for Silent {
    type Conn = mio::net::TcpStream;
    type Error = io::Error;

    fn connect(&self) -> io::Result<mio::net::TcpStream> {
        use fibra_runtime::io::{Direction, Registration};
        let mut s = mio::net::TcpStream::connect(self.addr)?;
        let reg = Registration::new(&mut s)?;
        let mut greeting = [0u8; 16];
        let r = reg.do_io(Direction::Read, None, || {
            io::Read::read(&mut s, &mut greeting)
        });
        reg.deregister(&mut s)?;
        r.map(|_| s)
    }
}

/// Runs `test` on its own thread and fails with `name` if it is still
/// running after 10 s.
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, Duration::from_secs(10), test);
}

#[test]
fn checkout_timeout_covers_opening_a_connection() {
    watchdog("checkout_timeout_covers_opening_a_connection", || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts (the kernel does, into the backlog) and never answers.
        let limit = Duration::from_millis(200);
        let pool = Pool::builder()
            .max_size(1)
            .checkout_timeout(Some(limit))
            .build(Silent { addr });
        fibra_runtime::run(move || {
            for round in 0..2 {
                let start = Instant::now();
                let e = pool.get().unwrap_err();
                let took = start.elapsed();
                assert!(e.is_timeout(), "round {round}: {e}");
                assert!(
                    took >= limit,
                    "round {round}: gave up early, after {took:?}"
                );
                assert!(
                    took < limit + Duration::from_millis(300),
                    "round {round}: took {took:?} for a {limit:?} checkout timeout"
                );
                // The slot was freed: the second round opens again rather
                // than waiting in line for a slot that never comes back.
                let s = pool.stats();
                assert_eq!((s.total, s.in_use, s.waiting), (0, 0, 0), "{s:?}");
                assert_eq!(s.timeouts, round + 1);
            }
            // get_timeout and an enclosing scope bound the connect too.
            let start = Instant::now();
            assert!(pool
                .get_timeout(Duration::from_millis(50))
                .unwrap_err()
                .is_timeout());
            let e = fibra_runtime::with_timeout(Duration::from_millis(50), || pool.get());
            assert!(e.unwrap_err().is_timeout());
            assert!(start.elapsed() < Duration::from_millis(100 + 300));
        });
        drop(listener);
    });
}

#[test]
fn a_waiter_gets_the_slot_of_a_checkout_that_timed_out_connecting() {
    watchdog(
        "a_waiter_gets_the_slot_of_a_checkout_that_timed_out_connecting",
        || {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let pool = Pool::builder()
                .max_size(1)
                .checkout_timeout(None)
                .build(Silent { addr });
            fibra_runtime::run(move || {
                let p = pool.clone();
                let first = spawn(move || {
                    fibra_runtime::with_timeout(Duration::from_millis(100), || p.get().map(|_| ()))
                });
                let p = pool.clone();
                wait_until(|| p.stats().total == 1);
                // Waits in line for the slot the first checkout holds while it
                // connects; once that one times out, this one connects in turn.
                let p = pool.clone();
                let second = spawn(move || {
                    fibra_runtime::with_timeout(Duration::from_millis(300), || p.get().map(|_| ()))
                });
                let p = pool.clone();
                wait_until(|| p.stats().waiting == 1);
                assert!(first.join().unwrap().unwrap_err().is_timeout());
                assert!(second.join().unwrap().unwrap_err().is_timeout());
                let s = pool.stats();
                assert_eq!(
                    (s.total, s.waiting, s.timeouts, s.waits),
                    (0, 0, 2, 1),
                    "{s:?}"
                );
            });
            drop(listener);
        },
    );
}

/// `max_idle` is enforced at check-in under the pool's lock: connections
/// coming back at once from coroutines on both workers never leave more
/// than `max_idle` idle.
#[test]
fn max_idle_holds_when_connections_come_back_at_once() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let fake = Fake::default();
    let p = Pool::builder().max_size(8).max_idle(2).build(fake.clone());
    for round in 0..20 {
        let conns: Vec<_> = {
            let p = p.clone();
            rt.block_on(move || (0..8).map(|_| p.get().unwrap()).collect())
        };
        let barrier = Arc::new(fibra_runtime::sync::Barrier::new(conns.len()));
        let hs: Vec<_> = conns
            .into_iter()
            .map(|c| {
                let b = barrier.clone();
                rt.spawn(move || {
                    b.wait(); // all eight give theirs back together
                    drop(c);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let idle = p.stats().idle;
        assert!(
            idle <= 2,
            "round {round}: {idle} idle connections, max_idle 2"
        );
    }
}
