//! Read and write timeouts end in `TimedOut` near the set time, and
//! `with_timeout` scopes bound socket calls the same way.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use util::{assert_kind, assert_took};

const SLACK: Duration = Duration::from_millis(400);

#[test]
fn read_timeout_is_timed_out_not_would_block() {
    util::run(Duration::from_secs(10), || {
        let (mut client, _server) = util::tcp_pair();
        let t = Duration::from_millis(150);
        client.set_read_timeout(Some(t)).unwrap();
        assert_eq!(client.read_timeout().unwrap(), Some(t));
        let start = Instant::now();
        assert_kind(client.read(&mut [0; 8]), ErrorKind::TimedOut);
        assert_took(start.elapsed(), t, SLACK);
        // A timeout leaves the stream usable.
        client.set_read_timeout(None).unwrap();
        assert_eq!(client.read_timeout().unwrap(), None);
    });
}

#[test]
fn write_timeout_fires_when_the_peer_does_not_read() {
    util::run(Duration::from_secs(20), || {
        let (mut client, _server) = util::tcp_pair();
        let t = Duration::from_millis(200);
        client.set_write_timeout(Some(t)).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let start = Instant::now();
        let mut written = 0usize;
        let err = loop {
            match client.write(&chunk) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "buffers never filled"
            );
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(written > 0);
        // Writes kept succeeding until the buffers filled, then one waited t.
        assert!(start.elapsed() >= t);
    });
}

#[test]
fn zero_timeout_is_invalid_input_like_std() {
    util::run(Duration::from_secs(10), || {
        let (client, _server) = util::tcp_pair();
        assert_kind(
            client.set_read_timeout(Some(Duration::ZERO)),
            ErrorKind::InvalidInput,
        );
        assert_kind(
            client.set_write_timeout(Some(Duration::ZERO)),
            ErrorKind::InvalidInput,
        );
        let addr = "127.0.0.1:1".parse().unwrap();
        assert_kind(
            fibra_net::TcpStream::connect_timeout(&addr, Duration::ZERO),
            ErrorKind::InvalidInput,
        );
    });
}

#[test]
fn with_timeout_scope_bounds_a_read_without_socket_timeout() {
    util::run(Duration::from_secs(10), || {
        let (mut client, _server) = util::tcp_pair();
        let t = Duration::from_millis(150);
        let start = Instant::now();
        let r = fibra_runtime::with_timeout(t, || client.read(&mut [0; 8]));
        assert_kind(r, ErrorKind::TimedOut);
        assert_took(start.elapsed(), t, SLACK);
    });
}

#[test]
fn the_earlier_of_scope_and_socket_timeout_wins() {
    util::run(Duration::from_secs(10), || {
        let (mut client, _server) = util::tcp_pair();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let t = Duration::from_millis(100);
        let start = Instant::now();
        let r = fibra_runtime::with_timeout(t, || client.read(&mut [0; 8]));
        assert_kind(r, ErrorKind::TimedOut);
        assert_took(start.elapsed(), t, SLACK);
    });
}

#[test]
fn accept_honours_with_timeout() {
    util::run(Duration::from_secs(10), || {
        let listener = fibra_net::TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Duration::from_millis(100);
        let start = Instant::now();
        let r = fibra_runtime::with_timeout(t, || listener.accept());
        assert_kind(r.map(|(_, a)| a), ErrorKind::TimedOut);
        assert_took(start.elapsed(), t, SLACK);
    });
}

#[test]
fn timeouts_work_on_a_plain_thread_too() {
    // Outside any coroutine the calls block the thread (global runtime's
    // reactor), and timeouts still apply.
    let listener = fibra_net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = fibra_net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let t = Duration::from_millis(100);
    client.set_read_timeout(Some(t)).unwrap();
    let start = Instant::now();
    assert_kind(client.read(&mut [0; 4]), ErrorKind::TimedOut);
    assert_took(start.elapsed(), t, SLACK);
    server.write_all(b"ok").unwrap();
    let mut buf = [0; 2];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}
