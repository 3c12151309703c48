//! The client transport over plain sockets: `Stream` over TCP and Unix
//! sockets, its split halves, and `Buffered` on top of them.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_net::{Buffered, Dialer, Stream, UnixListener, UnixStream};

fn unix_echo_server() -> (std::path::PathBuf, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    fibra_runtime::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            fibra_runtime::spawn(move || {
                let mut buf = [0; 8192];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (path, dir)
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("fibra-net-cs-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Sends `count` numbered 100-byte lines through `conn` and reads them
/// back, each decoded from the buffer as a codec would.
fn lines_round_trip(conn: &mut Buffered<Stream>, count: u32) {
    for i in 0..count {
        let line = format!("{i:099}\n");
        conn.write_buf().extend_from_slice(line.as_bytes());
    }
    conn.flush().unwrap();
    for i in 0..count {
        let end = loop {
            if let Some(p) = conn.buffered().iter().position(|&b| b == b'\n') {
                break p + 1;
            }
            conn.fill().unwrap();
        };
        assert_eq!(conn.buffered()[..end], *format!("{i:099}\n").as_bytes());
        conn.consume(end);
    }
    assert!(conn.buffered().is_empty());
}

#[test]
fn buffered_round_trips_over_tcp_and_unix() {
    util::run(Duration::from_secs(20), || {
        let addr = util::echo_server();
        let tcp = Stream::from(Dialer::new().dial(addr).unwrap());
        assert_eq!(tcp.peer_addr().unwrap(), addr);
        assert!(tcp.tcp().is_some() && tcp.unix().is_none() && !tcp.is_tls());
        let mut conn = Buffered::with_capacity(256, tcp);
        lines_round_trip(&mut conn, 1000);

        let (path, _dir) = unix_echo_server();
        let unix = Stream::connect_unix(&path).unwrap();
        assert!(unix.unix().is_some() && unix.tcp().is_none());
        util::assert_kind(unix.peer_addr(), ErrorKind::Unsupported);
        let mut conn = Buffered::new(unix);
        lines_round_trip(&mut conn, 1000);
    });
}

#[test]
fn timeouts_reach_the_socket_underneath() {
    util::run(Duration::from_secs(20), || {
        let (a, _b) = UnixStream::pair().unwrap();
        let s = Stream::from(a);
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(100)));
        let mut conn = Buffered::new(s);
        let start = Instant::now();
        util::assert_kind(conn.fill(), ErrorKind::TimedOut);
        util::assert_took(
            start.elapsed(),
            Duration::from_millis(100),
            Duration::from_secs(1),
        );

        let addr = util::echo_server();
        let tcp = Stream::from(Dialer::new().dial(addr).unwrap());
        tcp.set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        assert_eq!(
            tcp.write_timeout().unwrap(),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            tcp.tcp().unwrap().write_timeout().unwrap(),
            Some(Duration::from_millis(50))
        );
    });
}

#[test]
fn end_of_stream_is_a_disconnect() {
    util::run(Duration::from_secs(20), || {
        let (a, b) = UnixStream::pair().unwrap();
        let mut conn = Buffered::new(Stream::from(a));
        drop(b);
        let e = util::assert_kind(conn.fill(), ErrorKind::UnexpectedEof);
        assert!(fibra_net::is_disconnect(&e));
    });
}

#[test]
fn split_halves_read_and_write_at_once_without_deadlock() {
    util::run(Duration::from_secs(30), || {
        // Both directions carry far more than the socket buffers hold, so
        // the reader must keep going while the writer is blocked.
        let addr = util::echo_server();
        let stream = Stream::from(Dialer::new().dial(addr).unwrap());
        let (mut r, w) = stream.split().unwrap();
        const TOTAL: usize = 8 << 20;
        let writer = {
            let w = w.clone();
            fibra_runtime::spawn(move || {
                let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
                let mut sent = 0;
                while sent < TOTAL {
                    (&w).write_all(&chunk).unwrap();
                    sent += chunk.len();
                }
            })
        };
        let mut got = 0;
        let mut buf = vec![0; 32 * 1024];
        while got < TOTAL {
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0);
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((got + k) % (64 * 1024) % 251) as u8);
            }
            got += n;
        }
        writer.join().unwrap();
        // Shutting down from the writing half ends the reader's wait.
        w.shutdown(Shutdown::Both).unwrap();
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn buffered_split_keeps_what_was_already_received() {
    util::run(Duration::from_secs(20), || {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut conn = Buffered::new(Stream::from(a));
        b.write_all(b"first\nsecond\n").unwrap();
        while conn.buffered().len() < 13 {
            conn.fill().unwrap();
        }
        conn.consume(6);
        conn.write_buf().extend_from_slice(b"queued");
        let (mut reader, writer) = conn.split().unwrap();
        assert_eq!(reader.buffered(), b"second\n");
        // Output pending at the split was flushed.
        let mut got = [0; 6];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"queued");
        (&writer).write_all(b"more").unwrap();
        b.read_exact(&mut got[..4]).unwrap();
        assert_eq!(&got[..4], b"more");
        b.write_all(b"third\n").unwrap();
        reader.consume(7);
        while reader.buffered().len() < 6 {
            reader.fill().unwrap();
        }
        assert_eq!(reader.buffered(), b"third\n");
    });
}

#[test]
fn hang_up_hook_fires_through_the_stream() {
    util::run(Duration::from_secs(20), || {
        let (a, b) = UnixStream::pair().unwrap();
        let s = Stream::from(a);
        let seen = Arc::new(AtomicBool::new(false));
        let flag = seen.clone();
        let hook: fibra_runtime::io::HangupHook =
            Arc::new(move || flag.store(true, Ordering::Release));
        assert!(!s.on_hangup(Some(hook)).unwrap());
        drop(b);
        let start = Instant::now();
        while !seen.load(Ordering::Acquire) {
            assert!(start.elapsed() < Duration::from_secs(5), "no hang-up seen");
            fibra_runtime::sleep(Duration::from_millis(5));
        }
    });
}

#[cfg(feature = "tls")]
#[test]
fn tls_goes_over_tcp_only() {
    util::run(Duration::from_secs(20), || {
        let (a, _b) = UnixStream::pair().unwrap();
        let connector = fibra_net::tls::TlsConnector::new().unwrap();
        util::assert_kind(
            Stream::from(a).upgrade_tls(&connector, "localhost"),
            ErrorKind::InvalidInput,
        );
    });
}
