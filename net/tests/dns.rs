//! Name resolution runs on the blocking pool and parks only the caller.

mod util;

use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::Duration;

#[test]
fn localhost_resolves_and_connects() {
    util::run(Duration::from_secs(30), || {
        let addrs = fibra_net::lookup_host("localhost:4321").unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port() == 4321));
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");

        // Resolution of many names at once from many coroutines: each
        // parks while the pool resolves, none blocks a worker for long.
        let hs: Vec<_> = (0..50)
            .map(|_| fibra_runtime::spawn(|| fibra_net::lookup_host(("localhost", 80)).unwrap()))
            .collect();
        for h in hs {
            assert!(h.join().unwrap().iter().any(|a| a.ip().is_loopback()));
        }

        let addr = util::echo_server();
        let mut s = fibra_net::TcpStream::connect(format!("localhost:{}", addr.port())).unwrap();
        s.write_all(b"dns").unwrap();
        let mut b = [0; 3];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"dns");
    });
}

#[test]
fn literals_skip_the_resolver_and_bad_names_fail() {
    util::run(Duration::from_secs(30), || {
        assert_eq!(
            fibra_net::lookup_host("127.0.0.1:9").unwrap()[0].ip(),
            IpAddr::from([127, 0, 0, 1])
        );
        assert_eq!(
            fibra_net::lookup_host("[::1]:9").unwrap()[0].ip(),
            "::1".parse::<IpAddr>().unwrap()
        );
        util::assert_kind(
            fibra_net::lookup_host("no-port"),
            std::io::ErrorKind::InvalidInput,
        );
        // `.invalid` never resolves (RFC 6761).
        assert!(fibra_net::lookup_host("fibra-test.invalid:80").is_err());
    });
}
