//! Timeouts against a server that accepts connections and never answers
//! (or answers the startup and then goes silent): connecting, reading, and
//! a pool checkout that has to open a connection each end within
//! scheduling slack of their setting. Each test runs under a watchdog.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use fibra_postgres::{Client, Config, Manager, Pool, SslMode};

/// Scheduling slack allowed past a timeout.
const SLACK: Duration = Duration::from_millis(300);
const WATCHDOG: Duration = Duration::from_secs(15);

/// A server that lets one client in without a password (AuthenticationOk,
/// ReadyForQuery) and then never answers a query.
fn mute_after_startup() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut startup).unwrap();
        s.write_all(b"R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I").unwrap();
        // Swallow what comes, answer nothing, until the client goes.
        let mut sink = [0u8; 1024];
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
    });
    port
}

fn config(port: u16) -> Config {
    Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("app")
        .ssl_mode(SslMode::Disable)
}

/// Runs `test` in a coroutine on its own thread; fails with `name` if it
/// is still running after `WATCHDOG`.
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, WATCHDOG, move || fibra_runtime::run(test));
}

/// Runs `f`, which must fail with a timeout after about `limit`.
#[track_caller]
fn times_out_after<T: std::fmt::Debug>(
    limit: Duration,
    f: impl FnOnce() -> fibra_postgres::Result<T>,
) {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    let e = r.expect_err("a silent server cannot answer");
    assert!(e.is_timeout(), "not a timeout: {e}");
    fibra_testkit::assert_kept_limit(took, limit, SLACK);
}

#[test]
fn connect_timeout_bounds_the_startup() {
    watchdog("connect_timeout_bounds_the_startup", || {
        let (_l, port) = fibra_testkit::silent_server();
        let limit = Duration::from_millis(300);
        let cfg = config(port).connect_timeout(Some(limit));
        times_out_after(limit, || Client::connect_with(&cfg));
    });
}

#[test]
fn default_connect_timeout_is_five_seconds() {
    watchdog("default_connect_timeout_is_five_seconds", || {
        let (_l, port) = fibra_testkit::silent_server();
        times_out_after(Duration::from_secs(5), || {
            Client::connect_with(&config(port))
        });
    });
}

#[test]
fn read_timeout_bounds_a_query() {
    watchdog("read_timeout_bounds_a_query", || {
        let port = mute_after_startup();
        let limit = Duration::from_millis(250);
        let mut client = Client::connect_with(&config(port).read_timeout(Some(limit))).unwrap();
        times_out_after(limit, || client.batch_execute("SELECT 1"));
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
            .build(Manager::new(config(port)));
        for _ in 0..2 {
            times_out_after(limit, || pool.get().map_err(fibra_postgres::Error::from));
        }
        assert_eq!(pool.stats().total, 0, "the slots were freed");
    });
}

#[test]
fn defaults_are_documented_ones() {
    // docs/guide.md, "Client timeouts".
    let dbg = format!("{:?}", Config::new());
    for want in [
        "connect_timeout: Some(5s)",
        "read_timeout: None",
        "write_timeout: None",
        "keepalive: Some(300s)",
    ] {
        assert!(dbg.contains(want), "{want} missing from {dbg}");
    }
    let off: Config = "host=db keepalives=0".parse().unwrap();
    assert!(format!("{off:?}").contains("keepalive: None"));
    let idle: Config = "host=db keepalives_idle=30".parse().unwrap();
    assert!(format!("{idle:?}").contains("keepalive: Some(30s)"));
}
