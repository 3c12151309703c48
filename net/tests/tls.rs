//! TLS over fibra TCP streams (feature `tls`). The certificates in
//! tests/data are a throwaway test CA and a localhost certificate it
//! signed; the key is public and trusted nowhere else.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use fibra_net::tls::{TlsAcceptor, TlsConnector};
use fibra_net::{TcpListener, TcpStream};

const CA: &[u8] = include_bytes!("data/ca.pem");
const CERT: &[u8] = include_bytes!("data/localhost.pem");
const KEY: &[u8] = include_bytes!("data/localhost.key");

fn tls_echo_server() -> std::net::SocketAddr {
    let acceptor = TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    fibra_runtime::spawn(move || {
        for tcp in listener.incoming() {
            let tcp = tcp.unwrap();
            let acceptor = acceptor.clone();
            fibra_runtime::spawn(move || {
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    return;
                };
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = tls.read(&mut buf) {
                    if tls.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                let _ = tls.close_notify();
            });
        }
    });
    addr
}

#[test]
fn tls_echo_with_a_private_ca() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        let connector = TlsConnector::with_root_pem(CA).unwrap();
        let clients: Vec<_> = (0..20u8)
            .map(|i| {
                let connector = connector.clone();
                fibra_runtime::spawn(move || {
                    let tcp = TcpStream::connect(addr).unwrap();
                    let mut tls = connector.connect("localhost", tcp).unwrap();
                    let msg = vec![i; 50_000];
                    tls.write_all(&msg).unwrap();
                    let mut back = vec![0; msg.len()];
                    tls.read_exact(&mut back).unwrap();
                    tls.close_notify().unwrap();
                    let mut rest = Vec::new();
                    tls.read_to_end(&mut rest).unwrap();
                    back == msg && rest.is_empty()
                })
            })
            .collect();
        for c in clients {
            assert!(c.join().unwrap());
        }
    });
}

#[test]
fn tls_rejects_an_untrusted_or_misnamed_server() {
    util::run(Duration::from_secs(20), || {
        let addr = tls_echo_server();
        // The public roots do not include the test CA.
        let public = TlsConnector::new().unwrap();
        let e = util::assert_kind(
            public.connect("localhost", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidData,
        );
        assert!(e.to_string().contains("certificate"), "{e}");
        // Trusted CA, but the certificate is not for this name.
        let private = TlsConnector::with_root_pem(CA).unwrap();
        util::assert_kind(
            private.connect("example.com", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidData,
        );
        util::assert_kind(
            private.connect("bad name!", TcpStream::connect(addr).unwrap()),
            ErrorKind::InvalidInput,
        );
    });
}

#[test]
fn tls_handshake_honours_the_socket_timeout() {
    util::run(Duration::from_secs(20), || {
        // A server that accepts TCP but never speaks TLS.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = fibra_runtime::spawn(move || {
            listener.accept().map(|(s, _)| {
                fibra_runtime::sleep(Duration::from_secs(2));
                drop(s);
            })
        });
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let connector = TlsConnector::with_root_pem(CA).unwrap();
        util::assert_kind(connector.connect("localhost", tcp), ErrorKind::TimedOut);
    });
}
