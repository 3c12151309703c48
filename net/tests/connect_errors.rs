//! Connect errors are std's kinds, and every resolved address is tried.

mod util;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use fibra_net::{TcpListener, TcpStream};

/// A loopback port that nothing listens on (bound, then closed).
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn connect_to_a_closed_port_is_connection_refused() {
    util::run(Duration::from_secs(10), || {
        let addr = closed_port();
        util::assert_kind(TcpStream::connect(addr), ErrorKind::ConnectionRefused);
        util::assert_kind(
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)),
            ErrorKind::ConnectionRefused,
        );
    });
}

#[test]
fn connect_tries_each_address_and_returns_the_last_error() {
    util::run(Duration::from_secs(10), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let bad = closed_port();
        let s = TcpStream::connect(&[bad, good][..]).unwrap();
        assert_eq!(s.peer_addr().unwrap(), good);
        let (_, from) = listener.accept().unwrap();
        assert_eq!(from, s.local_addr().unwrap());

        let bad2 = closed_port();
        util::assert_kind(
            TcpStream::connect([bad, bad2]),
            ErrorKind::ConnectionRefused,
        );
        util::assert_kind(
            TcpStream::connect(Vec::<SocketAddr>::new()),
            ErrorKind::InvalidInput,
        );
    });
}

#[test]
fn write_to_a_reset_connection_is_an_error_not_a_hang() {
    util::run(Duration::from_secs(10), || {
        let (client, server) = util::tcp_pair();
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server); // RST
        let mut buf = [0; 8];
        let r = std::io::Read::read(&mut &client, &mut buf);
        util::assert_kind(r, ErrorKind::ConnectionReset);
    });
}
