//! 10,000 loopback connections open at once, each exchanging data with an
//! echo server.
//!
//! Both ends of 10,000 connections need 20,000 descriptors, the hard
//! RLIMIT_NOFILE of these machines (which a container's root cannot
//! raise). So the server runs in this test's process and the clients in a
//! child process, this same test binary re-run on the ignored
//! `echo_clients` test below.

mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::{TcpListener, TcpStream};

const CONNS: usize = 10_000;
const ADDR_VAR: &str = "FIBRA_NET_ECHO_10K_ADDR";

#[test]
fn ten_thousand_concurrent_echo_connections() {
    let limit = util::raise_nofile(CONNS as u64 + 1_000);
    assert!(limit >= CONNS as u64 + 100, "RLIMIT_NOFILE {limit} too low");

    let (peak, served, child) = util::run(Duration::from_secs(180), || {
        let listener = TcpListener::builder()
            .backlog(4096)
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (l, p, s) = (live.clone(), peak.clone(), served.clone());
        fibra_runtime::spawn(move || {
            for conn in listener.incoming() {
                let conn = conn.expect("accept");
                let now = l.fetch_add(1, Ordering::AcqRel) + 1;
                p.fetch_max(now, Ordering::AcqRel);
                let (l, s) = (l.clone(), s.clone());
                fibra_runtime::spawn(move || {
                    util::echo(conn);
                    s.fetch_add(1, Ordering::AcqRel);
                    l.fetch_sub(1, Ordering::AcqRel);
                });
            }
        });
        let exe = std::env::current_exe().unwrap();
        let child = fibra_runtime::blocking(move || {
            std::process::Command::new(exe)
                .args(["--exact", "echo_clients", "--ignored", "--nocapture"])
                .env(ADDR_VAR, addr.to_string())
                .output()
                .expect("run the client process")
        });
        // The child has closed its sockets; let the last echo coroutines see EOF.
        let until = Instant::now() + Duration::from_secs(10);
        while served.load(Ordering::Acquire) < CONNS && Instant::now() < until {
            fibra_runtime::sleep(Duration::from_millis(10));
        }
        (
            peak.load(Ordering::Acquire),
            served.load(Ordering::Acquire),
            child,
        )
    });
    let out = String::from_utf8_lossy(&child.stdout);
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success(),
        "client process failed:\n{out}\n{err}"
    );
    assert!(
        out.contains(&format!("echoed {CONNS}")),
        "client output:\n{out}\n{err}"
    );
    assert_eq!(peak, CONNS, "server never held all connections at once");
    assert_eq!(served, CONNS);
    for line in out.lines().filter(|l| l.starts_with("echoed")) {
        println!("{line}");
    }
}

/// The client half, run by the test above in a child process.
#[test]
#[ignore = "client half of ten_thousand_concurrent_echo_connections, run in a child process"]
fn echo_clients() {
    let Ok(addr) = std::env::var(ADDR_VAR) else {
        println!("{ADDR_VAR} is not set: nothing to do");
        return;
    };
    let addr: SocketAddr = addr.parse().unwrap();
    let limit = util::raise_nofile(CONNS as u64 + 1_000);
    assert!(limit >= CONNS as u64 + 100, "RLIMIT_NOFILE {limit} too low");
    let (echoed, elapsed) = util::run(Duration::from_secs(150), move || {
        let start = Instant::now();
        // Two barriers: every connection is open and has had its first echo
        // before any sends its second message and closes, so the server
        // holds all of them at once.
        let first = Arc::new(AtomicUsize::new(0));
        let echoed = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let (first, echoed) = (first.clone(), echoed.clone());
                fibra_runtime::spawn(move || {
                    let mut s = TcpStream::connect(addr).expect("connect");
                    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                    let msg = format!("hello from client {i:05}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                    first.fetch_add(1, Ordering::AcqRel);
                    while first.load(Ordering::Acquire) < CONNS {
                        fibra_runtime::sleep(Duration::from_millis(5));
                    }
                    let big = vec![i as u8; 16 * 1024];
                    s.write_all(&big).unwrap();
                    let mut back = vec![0; big.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, big);
                    echoed.fetch_add(1, Ordering::AcqRel);
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client panicked");
        }
        (echoed.load(Ordering::Acquire), start.elapsed())
    });
    println!("echoed {echoed} connections, all open at once, in {elapsed:?}");
}
