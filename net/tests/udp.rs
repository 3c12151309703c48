//! UDP: echo, connected sockets, peek, timeouts, options.

mod util;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use fibra_net::UdpSocket;

#[test]
fn udp_echo_between_coroutines() {
    util::run(Duration::from_secs(10), || {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let srv = fibra_runtime::spawn(move || {
            let mut buf = [0; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0; 1500];
        for i in 0..100u32 {
            client.send_to(&i.to_le_bytes(), addr).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(&buf[..n], &i.to_le_bytes());
        }
        srv.join().unwrap();
    });
}

#[test]
fn connected_udp_send_recv_and_peek() {
    util::run(Duration::from_secs(10), || {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(b"datagram").unwrap();
        let mut buf = [0; 32];
        let n = b.peek(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"datagram");
        let (n, from) = b.peek_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"datagram"[..], a.local_addr().unwrap())
        );
        let n = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"datagram");
    });
}

#[test]
fn udp_read_timeout_and_with_timeout() {
    util::run(Duration::from_secs(10), || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let start = Instant::now();
        util::assert_kind(s.recv_from(&mut [0; 8]), ErrorKind::TimedOut);
        util::assert_took(
            start.elapsed(),
            Duration::from_millis(100),
            Duration::from_millis(400),
        );
        s.set_read_timeout(None).unwrap();
        let r = fibra_runtime::with_timeout(Duration::from_millis(50), || s.recv(&mut [0; 8]));
        assert!(r.is_err_and(|e| e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::NotConnected));
    });
}

#[test]
fn udp_socket_options() {
    util::run(Duration::from_secs(10), || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_ttl(17).unwrap();
        assert_eq!(s.ttl().unwrap(), 17);
        s.set_multicast_loop_v4(false).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
        s.set_multicast_ttl_v4(3).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 3);
        assert!(s.take_error().unwrap().is_none());
        let std = s.into_std().unwrap();
        assert!(std.broadcast().unwrap());
    });
}

/// A datagram sent to a multicast group on the loopback interface reaches a
/// socket that joined that group there. Linux delivers it even though `lo`
/// lacks the MULTICAST flag: the membership is on 127.0.0.1 and the sender
/// picks that interface (IP_MULTICAST_IF) with loopback on, so no multicast
/// route is needed.
#[test]
fn udp_multicast_loopback() {
    util::run(Duration::from_secs(10), || {
        let group = std::net::Ipv4Addr::new(239, 255, 77, 77);
        let rx = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        rx.join_multicast_v4(&group, &std::net::Ipv4Addr::LOCALHOST)
            .expect("join the group on loopback");
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_multicast_loop_v4(true).unwrap();
        socket2::SockRef::from(&tx)
            .set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
            .unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        tx.send_to(b"mc", (group, port)).unwrap();
        let mut buf = [0; 8];
        let (n, from) = rx.recv_from(&mut buf).expect("the datagram arrives");
        assert_eq!(&buf[..n], b"mc");
        assert_eq!(from, tx.local_addr().unwrap());
        rx.leave_multicast_v4(&group, &std::net::Ipv4Addr::LOCALHOST)
            .unwrap();
        // Out of the group, the next datagram is not delivered.
        tx.send_to(b"m2", (group, port)).unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let e = rx.recv_from(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    });
}
