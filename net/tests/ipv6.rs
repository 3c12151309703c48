//! IPv6 loopback, when the host has it.

mod util;

use std::io::{Read, Write};
use std::time::Duration;

use fibra_net::{TcpListener, TcpStream, UdpSocket};

#[test]
fn ipv6_loopback_tcp_and_udp() {
    util::run(Duration::from_secs(10), || {
        // The v4 path always runs and asserts.
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(v4.local_addr().unwrap().is_ipv4());

        let listener = match TcpListener::builder().only_v6(true).bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => {
                util::missing_peer(&format!("IPv6 loopback: cannot bind [::1]: {e}"));
                return;
            }
        };
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        fibra_runtime::spawn(move || {
            let (conn, peer) = listener.accept().unwrap();
            assert!(peer.is_ipv6());
            util::echo(conn);
        });
        let mut s = TcpStream::connect(("::1", addr.port())).unwrap();
        s.write_all(b"six").unwrap();
        let mut b = [0; 3];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"six");

        let u = UdpSocket::bind("[::1]:0").unwrap();
        u.send_to(b"v6", u.local_addr().unwrap()).unwrap();
        let mut buf = [0; 4];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"v6"[..], u.local_addr().unwrap()));
    });
}
