//! Timeouts against a server that accepts connections and never answers:
//! a call ends within scheduling slack of the I/O timeout, with the
//! default and with a setting of our own. Each test runs under a watchdog.
//! (memcached has no handshake: against such a server the TCP connect,
//! and so a pool checkout that opens a connection, succeeds at once.)

use std::time::{Duration, Instant};

use fibra_memcache::Client;

/// Scheduling slack allowed past a timeout.
const SLACK: Duration = Duration::from_millis(300);
const WATCHDOG: Duration = Duration::from_secs(10);

/// Runs `test` in a coroutine on its own thread; fails with `name` if it
/// is still running after `WATCHDOG`.
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, WATCHDOG, move || fibra_runtime::run(test));
}

#[track_caller]
fn get_times_out_after(client: &Client, limit: Duration) {
    let start = Instant::now();
    let e = client.get("k").expect_err("a silent server cannot answer");
    let took = start.elapsed();
    assert!(e.is_timeout(), "not a timeout: {e}");
    fibra_testkit::assert_kept_limit(took, limit, SLACK);
}

#[test]
fn io_timeout_bounds_a_reply() {
    watchdog("io_timeout_bounds_a_reply", || {
        let (l, port) = fibra_testkit::silent_server();
        let addr = format!("127.0.0.1:{port}");
        let client = Client::new([addr.as_str()]).unwrap();
        get_times_out_after(&client, Duration::from_secs(1));

        let limit = Duration::from_millis(250);
        let client = Client::builder()
            .server(addr)
            .timeout(Some(limit))
            .build()
            .unwrap();
        get_times_out_after(&client, limit);
        drop(l);
    });
}
