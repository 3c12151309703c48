//! `TcpListener::close` / `UnixListener::close` from another coroutine
//! (Go's `ln.Close()`): a blocked `accept` returns `NotConnected` at once,
//! `incoming()` ends, the port is released.

mod util;

use std::io;
use std::time::{Duration, Instant};

use fibra_net::{TcpListener, TcpStream, UnixListener, UnixStream};

#[test]
fn close_from_another_coroutine_wakes_a_blocked_accept() {
    let (err, waited_after_close) = util::run(Duration::from_secs(10), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let closer = listener.try_clone().unwrap();
        let acceptor = fibra_runtime::spawn(move || {
            let r = listener.accept();
            (r.map(|(_, a)| a), Instant::now())
        });
        fibra_runtime::sleep(Duration::from_millis(50));
        assert!(!acceptor.is_finished(), "accept returned with no client");
        let closed_at = Instant::now();
        closer.close().unwrap();
        assert!(closer.is_closed());
        let (r, returned_at) = acceptor.join().unwrap();
        (
            util::assert_kind(r, io::ErrorKind::NotConnected),
            returned_at.saturating_duration_since(closed_at),
        )
    });
    assert!(
        waited_after_close < Duration::from_millis(100),
        "accept returned {waited_after_close:?} after the close"
    );
    assert_eq!(err.kind(), io::ErrorKind::NotConnected);
}

#[test]
fn incoming_ends_and_the_port_is_released_after_close() {
    util::run(Duration::from_secs(10), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = listener.try_clone().unwrap();
        let server = fibra_runtime::spawn(move || {
            let mut served = 0;
            for conn in listener.incoming() {
                conn.unwrap();
                served += 1;
            }
            // After the loop every accept fails the same way, at once.
            let again = listener.accept().map(|(_, a)| a);
            (served, again.unwrap_err().kind())
        });
        TcpStream::connect(addr).unwrap();
        TcpStream::connect(addr).unwrap();
        fibra_runtime::sleep(Duration::from_millis(30));
        closer.close().unwrap();
        closer.close().unwrap(); // twice: no error
        let (served, kind) = server.join().unwrap();
        assert_eq!(served, 2);
        assert_eq!(kind, io::ErrorKind::NotConnected);
        // Like Go's Close, the port stops listening: connections are
        // refused and a new listener can bind it while a handle remains.
        util::assert_kind(TcpStream::connect(addr), io::ErrorKind::ConnectionRefused);
        let again = TcpListener::bind(addr).expect("the port is bound again");
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = again.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        drop(closer);
    });
}

#[test]
fn unix_listener_close_wakes_accept_and_refuses_connections() {
    let dir = std::env::temp_dir().join(format!("fibra-close-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let p2 = path.clone();
    util::run(Duration::from_secs(10), move || {
        let listener = UnixListener::bind(&p2).unwrap();
        let closer = listener.try_clone().unwrap();
        let acceptor = fibra_runtime::spawn(move || {
            let n = listener.incoming().count();
            (n, listener.accept().map(|_| ()).unwrap_err().kind())
        });
        fibra_runtime::sleep(Duration::from_millis(30));
        let closed_at = Instant::now();
        closer.close().unwrap();
        let (n, kind) = acceptor.join().unwrap();
        assert!(closed_at.elapsed() < Duration::from_millis(100));
        assert_eq!(n, 0);
        assert_eq!(kind, io::ErrorKind::NotConnected);
        util::assert_kind(UnixStream::connect(&p2), io::ErrorKind::ConnectionRefused);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
