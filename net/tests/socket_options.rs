//! Socket options, builders, peek and conversion to and from std.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use fibra_net::{TcpListener, TcpStream};

#[test]
fn tcp_stream_options_round_trip() {
    util::run(Duration::from_secs(10), || {
        let (c, _s) = util::tcp_pair();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_ttl(42).unwrap();
        assert_eq!(c.ttl().unwrap(), 42);
        c.set_keepalive(Some(Duration::from_secs(30))).unwrap();
        assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(30)));
        c.set_keepalive(None).unwrap();
        assert_eq!(c.keepalive().unwrap(), None);
        c.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(c.linger().unwrap(), Some(Duration::from_secs(1)));
        assert!(c.take_error().unwrap().is_none());
        assert_eq!(c.peer_addr().unwrap(), _s.local_addr().unwrap());
    });
}

#[test]
fn peek_waits_then_leaves_data_queued() {
    util::run(Duration::from_secs(10), || {
        let (mut c, s) = util::tcp_pair();
        let peeker = fibra_runtime::spawn(move || {
            let mut buf = [0; 8];
            let n = s.peek(&mut buf).unwrap();
            let mut all = [0; 5];
            (&s).read_exact(&mut all).unwrap();
            (buf[..n].to_vec(), all)
        });
        fibra_runtime::sleep(Duration::from_millis(20));
        c.write_all(b"peek!").unwrap();
        let (peeked, all) = peeker.join().unwrap();
        assert!(!peeked.is_empty() && b"peek!".starts_with(&peeked));
        assert_eq!(&all, b"peek!");
    });
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() {
    util::run(Duration::from_secs(10), || {
        let a = TcpListener::builder()
            .reuse_port(true)
            .bind("127.0.0.1:0")
            .unwrap();
        let port = a.local_addr().unwrap().port();
        let b = TcpListener::builder()
            .reuse_port(true)
            .backlog(16)
            .bind(("127.0.0.1", port))
            .unwrap();
        assert_eq!(b.local_addr().unwrap().port(), port);
        // Without SO_REUSEPORT the same bind fails.
        util::assert_kind(
            TcpListener::builder()
                .reuse_port(false)
                .bind(("127.0.0.1", port)),
            ErrorKind::AddrInUse,
        );
        a.set_ttl(9).unwrap();
        assert_eq!(a.ttl().unwrap(), 9);
    });
}

#[test]
fn std_conversions_keep_the_connection() {
    util::run(Duration::from_secs(10), || {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut client = TcpStream::from_std(std_client).unwrap();
        client.write_all(b"to std").unwrap();

        // A clone blocks the conversion, which would otherwise leave it with
        // a blocking descriptor.
        let clone = server.try_clone().unwrap();
        let server = {
            let e = clone.into_std().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Other);
            server
        };
        let mut std_server = server.into_std().unwrap();
        std_server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut b = [0; 6];
        std_server.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"to std");
        let std_listener = listener.into_std().unwrap();
        assert_eq!(std_listener.local_addr().unwrap(), addr);
    });
}
