//! Helpers every fibra test suite uses, kept in one place instead of a copy
//! per crate: a per-test watchdog and the rule for a missing peer program.
//! A dev-dependency of the workspace's crates; std only, so that
//! fibra-runtime's own tests can use it.
//!
//! ```
//! use std::time::Duration;
//!
//! fibra_testkit::watchdog("adds", Duration::from_secs(5), || assert_eq!(2 + 2, 4));
//! ```

#![forbid(unsafe_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Runs `test` on a thread of its own and fails, naming it, if it has not
/// finished within `limit`: a lost wake-up or a handler that never ends
/// fails its test in seconds instead of waiting for the runner's hang limit
/// (nextest's, `.config/nextest.toml`). A panic in `test` is re-raised.
///
/// # Panics
/// When `limit` passes first, or when `test` panics.
#[track_caller]
pub fn watchdog(name: &'static str, limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            test();
            let _ = tx.send(());
        })
        .expect("spawn test thread");
    match rx.recv_timeout(limit) {
        Ok(()) => t.join().expect("the test thread finished"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: still running after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
    }
}

/// Says that something a test needs from the host is missing (a peer
/// program such as curl, a Python package, IPv6 loopback). Under CI (`CI`
/// set, and not empty, `false` or `0`) the test fails, naming it:
/// `scripts/test` installs every peer, so a missing one there is a broken
/// setup, not a reason to pass. Elsewhere it prints `SKIPPED: {what}` and
/// the caller returns without the check.
///
/// # Panics
/// Under CI.
#[track_caller]
pub fn missing_peer(what: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    assert!(
        !ci,
        "missing: {what} (CI is set, and scripts/test installs every peer)"
    );
    println!("SKIPPED: {what}");
}

/// Asserts that a call which gave up after `took` kept its `limit`: not
/// earlier (5 ms of clock granularity allowed) and not later than
/// `limit + slack` (scheduling on a loaded 2-core machine).
///
/// # Panics
/// When `took` is outside that window.
#[track_caller]
pub fn assert_kept_limit(took: Duration, limit: Duration, slack: Duration) {
    assert!(
        took + Duration::from_millis(5) >= limit,
        "gave up early: {took:?} < {limit:?}"
    );
    assert!(
        took < limit + slack,
        "took {took:?} for a {limit:?} timeout"
    );
}

/// Keeps the calling thread busy for `d` without a blocking call: a
/// coroutine that holds its worker, for the long-run monitor's tests.
pub fn spin(d: Duration) {
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
    }
}

/// A loopback server that accepts connections (the kernel does, into its
/// backlog) and never answers: the stalled server of the clients' timeout
/// tests. Keep the listener alive for the test; its port is the second
/// value.
///
/// # Panics
/// When no loopback port can be bound.
pub fn silent_server() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = l.local_addr().expect("a bound address").port();
    (l, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "slow: still running after")]
    fn a_test_past_its_limit_fails_with_its_name() {
        watchdog("slow", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
        });
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_in_the_test_is_raised_again() {
        watchdog("panics", Duration::from_secs(5), || panic!("boom"));
    }
}
