//! Helpers shared by the integration tests: a bounded runtime, an echo
//! server, assertions on error kinds and elapsed time.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::{TcpListener, TcpStream};

/// Runs `f` as the root coroutine of a fresh two-worker runtime. If it has
/// not returned after `limit`, the whole test process exits with a message
/// (a hung socket must fail the test, not stall the suite).
pub fn run<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let rt = fibra_runtime::runtime::Builder::new()
        .workers(2)
        .stack_size(64 * 1024)
        .build()
        .expect("runtime");
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    std::thread::spawn(move || {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if d.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("test {name} still running after {limit:?}: hung");
        std::process::exit(101);
    });
    let v = rt.block_on(f);
    done.store(true, Ordering::Release);
    v
}

/// Asserts `r` failed with `kind`.
#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(r: io::Result<T>, kind: io::ErrorKind) -> io::Error {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "unexpected error: {e}");
            e
        }
    }
}

/// Asserts `elapsed` is at least `expected` and not more than `slack` past
/// it.
#[track_caller]
pub fn assert_took(elapsed: Duration, expected: Duration, slack: Duration) {
    assert!(
        elapsed >= expected,
        "returned after {elapsed:?}, before {expected:?}"
    );
    assert!(
        elapsed <= expected + slack,
        "returned after {elapsed:?}, more than {slack:?} past {expected:?}"
    );
}

/// Spawns an echo server on 127.0.0.1; each connection echoes until EOF.
pub fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    fibra_runtime::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            fibra_runtime::spawn(move || echo(conn));
        }
    });
    addr
}

/// Echoes everything read from `conn` back to it until EOF or an error.
pub fn echo(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A connected loopback pair: (client side, server side).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Raises RLIMIT_NOFILE's soft limit to at least `want` (and the hard limit
/// with it when running as root). Returns the soft limit in force after.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: `raised` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want;
    }
    // Not root: go as high as the hard limit allows.
    let capped = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } == 0 {
        lim.rlim_max
    } else {
        lim.rlim_cur
    }
}

/// Sets RLIMIT_NOFILE's soft limit to `soft`.
pub fn set_soft_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = soft;
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// See [`fibra_testkit::missing_peer`]: fails under CI, skips elsewhere.
#[allow(
    unused_imports,
    reason = "a shared test module: not every test file asks for a peer"
)]
pub use fibra_testkit::missing_peer;
