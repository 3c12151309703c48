//! A coroutine waiting on a socket is never left hanging when another
//! handle shuts the socket down, is dropped, or the peer goes away.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

#[test]
fn shutdown_from_another_handle_wakes_a_blocked_reader() {
    let (n, waited) = util::run(Duration::from_secs(10), || {
        let (client, _server) = util::tcp_pair();
        let clone = client.try_clone().unwrap();
        let waiter = fibra_runtime::spawn(move || {
            let start = Instant::now();
            let r = (&clone).read(&mut [0; 16]);
            (r, start.elapsed())
        });
        fibra_runtime::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "read returned with no data");
        client.shutdown(Shutdown::Both).unwrap();
        drop(client);
        let (r, waited) = waiter.join().unwrap();
        (r.expect("read after shutdown"), waited)
    });
    assert_eq!(n, 0, "reader sees end of file");
    assert!(waited >= Duration::from_millis(40));
}

#[test]
fn dropping_one_handle_leaves_the_clone_working() {
    util::run(Duration::from_secs(10), || {
        let (client, server) = util::tcp_pair();
        let clone = client.try_clone().unwrap();
        let waiter = fibra_runtime::spawn(move || {
            let mut clone = clone;
            let mut buf = Vec::new();
            clone.read_to_end(&mut buf).map(|_| buf)
        });
        fibra_runtime::sleep(Duration::from_millis(20));
        drop(client); // the clone still holds the socket open
        fibra_runtime::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished());
        let mut server = server;
        server.write_all(b"still here").unwrap();
        drop(server); // FIN: the waiter's read_to_end ends
        assert_eq!(waiter.join().unwrap().unwrap(), b"still here");
    });
}

#[test]
fn peer_drop_wakes_a_blocked_reader_and_writer() {
    util::run(Duration::from_secs(10), || {
        let (client, server) = util::tcp_pair();
        let reader_side = client.try_clone().unwrap();
        let reader = fibra_runtime::spawn(move || (&reader_side).read(&mut [0; 16]));
        let writer = fibra_runtime::spawn(move || {
            // Fill the buffers until the write parks, then the peer vanishes.
            let chunk = vec![7u8; 64 * 1024];
            loop {
                if let Err(e) = (&client).write(&chunk) {
                    return e.kind();
                }
            }
        });
        fibra_runtime::sleep(Duration::from_millis(100));
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server);
        let r = reader.join().unwrap();
        assert!(
            matches!(&r, Ok(0))
                || r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "reader got {r:?}"
        );
        let kind = writer.join().unwrap();
        assert!(
            matches!(
                kind,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "writer got {kind:?}"
        );
    });
}

#[test]
fn many_open_close_cycles_release_their_registrations() {
    // Sockets created and dropped in a loop: a leak of registrations or
    // descriptors would run out long before the end.
    util::run(Duration::from_secs(30), || {
        let addr = util::echo_server();
        for i in 0..3_000u32 {
            let mut s = fibra_net::TcpStream::connect(addr).unwrap();
            s.write_all(&i.to_be_bytes()).unwrap();
            let mut b = [0; 4];
            s.read_exact(&mut b).unwrap();
            assert_eq!(u32::from_be_bytes(b), i);
        }
    });
}
