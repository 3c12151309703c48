//! Unix stream and datagram sockets.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use fibra_net::{UnixDatagram, UnixListener, UnixStream};

fn temp_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("fibra-net-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_stream_echo() {
    let path = temp_path("echo");
    let p = path.clone();
    util::run(Duration::from_secs(10), move || {
        let listener = UnixListener::bind(&p).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(p.as_path())
        );
        fibra_runtime::spawn(move || {
            for conn in listener.incoming().take(20) {
                let mut conn = conn.unwrap();
                fibra_runtime::spawn(move || {
                    let mut buf = [0; 256];
                    while let Ok(n @ 1..) = conn.read(&mut buf) {
                        conn.write_all(&buf[..n]).unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..20)
            .map(|i| {
                let p = p.clone();
                fibra_runtime::spawn(move || {
                    let mut s = UnixStream::connect(&p).unwrap();
                    let msg = format!("unix {i}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    back == msg.as_bytes()
                })
            })
            .collect();
        for c in clients {
            assert!(c.join().unwrap());
        }
    });
    std::fs::remove_file(path).unwrap();
}

#[test]
fn unix_connect_errors() {
    util::run(Duration::from_secs(10), || {
        let missing = temp_path("missing");
        util::assert_kind(UnixStream::connect(&missing), ErrorKind::NotFound);
    });
}

#[test]
fn unix_stream_pair_timeouts_and_half_close() {
    util::run(Duration::from_secs(10), || {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        util::assert_kind(b.read(&mut [0; 4]), ErrorKind::TimedOut);
        (&a).write_all(b"abc").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abc");
        b.write_all(b"back").unwrap();
        let mut back = [0; 4];
        (&a).read_exact(&mut back).unwrap();
        assert_eq!(&back, b"back");
    });
}

#[test]
fn unix_datagram_echo() {
    let srv_path = temp_path("dgram-srv");
    let cli_path = temp_path("dgram-cli");
    let (sp, cp) = (srv_path.clone(), cli_path.clone());
    util::run(Duration::from_secs(10), move || {
        let server = UnixDatagram::bind(&sp).unwrap();
        let srv = fibra_runtime::spawn(move || {
            let mut buf = [0; 256];
            for _ in 0..10 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let to = from.as_pathname().expect("client is bound").to_owned();
                server.send_to(&buf[..n], to).unwrap();
            }
        });
        let client = UnixDatagram::bind(&cp).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        for i in 0..10u8 {
            client.send_to(&[i; 3], &sp).unwrap();
            let mut buf = [0; 8];
            let (n, _) = client.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 3]);
        }
        srv.join().unwrap();
    });
    std::fs::remove_file(srv_path).unwrap();
    std::fs::remove_file(cli_path).unwrap();
}

#[test]
fn unix_datagram_pair_connected() {
    util::run(Duration::from_secs(10), || {
        let (a, b) = UnixDatagram::pair().unwrap();
        let reader = fibra_runtime::spawn(move || {
            let mut buf = [0; 16];
            let n = b.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        fibra_runtime::sleep(Duration::from_millis(20));
        a.send(b"paired").unwrap();
        assert_eq!(reader.join().unwrap(), b"paired");
        let u = UnixDatagram::unbound().unwrap();
        u.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        util::assert_kind(u.recv(&mut [0; 4]), ErrorKind::TimedOut);
    });
}
