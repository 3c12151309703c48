//! Timeouts against a server that accepts connections and never answers:
//! connecting, reading, and a pool checkout that has to open a connection
//! each end within scheduling slack of their setting, with the defaults
//! and with settings of our own. Each test runs under a watchdog.

use std::time::{Duration, Instant};

use fibra_redis::{cmd, Connection, ConnectionInfo, Manager, Pool, Protocol};

/// Scheduling slack allowed past a timeout.
const SLACK: Duration = Duration::from_millis(300);
const WATCHDOG: Duration = Duration::from_secs(15);

/// Runs `test` in a coroutine on its own thread; fails with `name` if it
/// is still running after `WATCHDOG`.
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, WATCHDOG, move || fibra_runtime::run(test));
}

/// Runs `f`, which must fail with a timeout after about `limit`.
#[track_caller]
fn times_out_after<T: std::fmt::Debug>(
    limit: Duration,
    f: impl FnOnce() -> fibra_redis::Result<T>,
) {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    let e = r.expect_err("a silent server cannot answer");
    assert!(e.is_timeout(), "not a timeout: {e}");
    fibra_testkit::assert_kept_limit(took, limit, SLACK);
}

#[test]
fn connect_timeout_bounds_the_handshake() {
    watchdog("connect_timeout_bounds_the_handshake", || {
        let (_l, port) = fibra_testkit::silent_server();
        let limit = Duration::from_millis(300);
        let info = ConnectionInfo::new("127.0.0.1", port).with_connect_timeout(Some(limit));
        times_out_after(limit, || Connection::connect_with(&info));
    });
}

#[test]
fn default_connect_gives_up_at_the_read_timeout() {
    watchdog("default_connect_gives_up_at_the_read_timeout", || {
        let (_l, port) = fibra_testkit::silent_server();
        // The HELLO reply is a read: the 3 s read timeout ends the wait
        // before the 5 s connect timeout does.
        let info = ConnectionInfo::new("127.0.0.1", port);
        times_out_after(Duration::from_secs(3), || Connection::connect_with(&info));
    });
}

#[test]
fn read_timeout_bounds_a_reply() {
    watchdog("read_timeout_bounds_a_reply", || {
        let (_l, port) = fibra_testkit::silent_server();
        // RESP2 with no credentials sends no handshake: the connect succeeds.
        let info = ConnectionInfo::new("127.0.0.1", port).with_protocol(Protocol::Resp2);
        let mut conn = Connection::connect_with(&info).unwrap();
        times_out_after(Duration::from_secs(3), || {
            conn.request(&cmd("GET").arg("k"))
        });
        assert!(conn.is_broken(), "a reply that timed out may still arrive");

        let limit = Duration::from_millis(250);
        let mut conn = Connection::connect_with(&info.with_read_timeout(Some(limit))).unwrap();
        times_out_after(limit, || conn.request(&cmd("PING")));
    });
}

#[test]
fn blocking_commands_stretch_the_read_timeout() {
    watchdog("blocking_commands_stretch_the_read_timeout", || {
        let (_l, port) = fibra_testkit::silent_server();
        let read = Duration::from_millis(200);
        let info = ConnectionInfo::new("127.0.0.1", port)
            .with_protocol(Protocol::Resp2)
            .with_read_timeout(Some(read));
        let mut conn = Connection::connect_with(&info).unwrap();
        // The server may hold BLPOP's reply for 0.5 s: wait that plus the
        // read timeout, not just the read timeout.
        times_out_after(Duration::from_millis(700), || {
            conn.request(&cmd("BLPOP").arg("list").arg(0.5))
        });
    });
}

#[test]
fn pool_checkout_timeout_bounds_opening_a_connection() {
    watchdog("pool_checkout_timeout_bounds_opening_a_connection", || {
        let (_l, port) = fibra_testkit::silent_server();
        let limit = Duration::from_millis(400);
        let pool = Pool::builder()
            .max_size(1)
            .checkout_timeout(Some(limit))
            .build(Manager::new(ConnectionInfo::new("127.0.0.1", port)));
        for _ in 0..2 {
            times_out_after(limit, || pool.get().map_err(fibra_redis::Error::from));
        }
        assert_eq!(pool.stats().total, 0, "the slots were freed");
    });
}

#[test]
fn defaults_are_documented_ones() {
    // docs/guide.md, "Client timeouts".
    let info = ConnectionInfo::new("127.0.0.1", 6379);
    let dbg = format!("{info:?}");
    for want in [
        "connect_timeout: Some(5s)",
        "read_timeout: Some(3s)",
        "write_timeout: Some(3s)",
        "keepalive: Some(300s)",
    ] {
        assert!(dbg.contains(want), "{want} missing from {dbg}");
    }
}
