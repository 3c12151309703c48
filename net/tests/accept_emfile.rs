//! `incoming()` waits out descriptor exhaustion instead of failing or
//! spinning. Its own test binary: it lowers this process's RLIMIT_NOFILE.

mod util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use fibra_net::{TcpListener, TcpStream};

#[test]
fn incoming_survives_emfile() {
    util::run(Duration::from_secs(20), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Connected but not yet accepted: the handshake completes in the
        // kernel's backlog.
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"hi").unwrap();

        util::set_soft_nofile(256);
        let mut filler = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => filler.push(f),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
            assert!(filler.len() < 10_000, "limit not applied");
        }
        // Plain accept reports the exhaustion.
        let e = listener.accept().map(|(_, a)| a).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");

        let start = Instant::now();
        let acceptor = fibra_runtime::spawn(move || {
            let mut conn = listener.incoming().next().unwrap().unwrap();
            let mut b = [0; 2];
            conn.read_exact(&mut b).unwrap();
            b
        });
        fibra_runtime::sleep(Duration::from_millis(100));
        assert!(!acceptor.is_finished(), "accepted with no descriptor free");
        drop(filler);
        let got = acceptor.join().unwrap();
        assert_eq!(&got, b"hi");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        util::set_soft_nofile(20_000);
        drop(client);
    });
}
