//! The reactor registration API, tested over Unix socket pairs.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::io::{Direction, Registration};
use fibra_runtime::runtime;
use mio::net::UnixStream;

struct Conn {
    sock: UnixStream,
    reg: Registration,
}

impl Conn {
    fn pair() -> (Conn, Conn) {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let ra = Registration::new(&mut a).unwrap();
        let rb = Registration::new(&mut b).unwrap();
        (Conn { sock: a, reg: ra }, Conn { sock: b, reg: rb })
    }

    fn read(&self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        self.reg
            .do_io(Direction::Read, deadline, || (&self.sock).read(buf))
    }

    fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self
                .reg
                .do_io(Direction::Write, None, || (&self.sock).write(buf))?;
            buf = &buf[n..];
        }
        Ok(())
    }
}

#[test]
fn ping_pong_over_a_socket_pair() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let (a, b) = Conn::pair();
        let echo = fibra_runtime::spawn(move || {
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                let n = b.read(&mut buf, None).unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
                b.write_all(&buf[..n]).unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..1000u32 {
            let msg = i.to_le_bytes();
            a.write_all(&msg).unwrap();
            let mut got = 0;
            while got < 4 {
                got += a.read(&mut buf[got..4], None).unwrap();
            }
            assert_eq!(&buf[..4], &msg);
        }
        a.sock.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(echo.join().unwrap(), 4000);
    });
}

#[test]
fn large_transfer_exercises_write_readiness() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let (a, b) = Conn::pair();
        const LEN: usize = 8 << 20;
        let writer = fibra_runtime::spawn(move || {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            a.write_all(&data).unwrap();
            drop(a);
        });
        let mut buf = vec![0u8; 65536];
        let mut got = 0usize;
        loop {
            let n = b.read(&mut buf, None).unwrap();
            if n == 0 {
                break;
            }
            for (k, byte) in buf[..n].iter().enumerate() {
                assert_eq!(*byte, ((got + k) % 251) as u8);
            }
            got += n;
        }
        writer.join().unwrap();
        assert_eq!(got, LEN);
    });
}

#[test]
fn read_deadline_times_out_without_data() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let (a, _b) = Conn::pair();
        let start = Instant::now();
        let err = a
            .read(
                &mut [0u8; 8],
                Some(Instant::now() + Duration::from_millis(30)),
            )
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn with_timeout_scope_applies_to_socket_waits() {
    let rt = runtime::Builder::new().workers(1).build().unwrap();
    rt.block_on(|| {
        let (a, _b) = Conn::pair();
        let err =
            fibra_runtime::with_timeout(Duration::from_millis(20), || a.read(&mut [0u8; 8], None))
                .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Outside the scope there is no deadline any more.
        assert!(fibra_runtime::scope_deadline().is_none());
    });
}

#[test]
fn reader_and_writer_wait_on_one_source_at_once() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let (a, b) = Conn::pair();
        let a = Arc::new(a);
        let reader = {
            let a = a.clone();
            fibra_runtime::spawn(move || {
                let mut buf = [0u8; 5];
                let mut got = 0;
                while got < 5 {
                    got += a.read(&mut buf[got..], None).unwrap();
                }
                buf
            })
        };
        // Fill a's send buffer so the writer must wait for writability while
        // the reader waits for readability on the same registration.
        let writer = {
            let a = a.clone();
            fibra_runtime::spawn(move || {
                let chunk = vec![7u8; 1 << 20];
                a.write_all(&chunk).unwrap();
            })
        };
        fibra_runtime::sleep(Duration::from_millis(20));
        b.write_all(b"hello").unwrap();
        assert_eq!(&reader.join().unwrap(), b"hello");
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        while got < (1 << 20) {
            got += b.read(&mut buf, None).unwrap();
        }
        writer.join().unwrap();
        assert_eq!(got, 1 << 20);
    });
}

#[test]
fn dropping_the_registration_wakes_a_waiter_with_an_error() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let (mut a, _b) = UnixStream::pair().unwrap();
        let reg = Arc::new(Registration::new(&mut a).unwrap());
        let r2 = reg.clone();
        let waiter = fibra_runtime::spawn(move || {
            r2.clear_readiness(Direction::Read);
            r2.wait_readable(None)
        });
        fibra_runtime::sleep(Duration::from_millis(20));
        reg.deregister(&mut a).unwrap();
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    });
}

#[test]
fn plain_threads_can_wait_on_registrations() {
    // No runtime on this thread: the global runtime's reactor serves it.
    let (a, b) = Conn::pair();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 3];
        let mut got = 0;
        while got < 3 {
            got += b.read(&mut buf[got..], None).unwrap();
        }
        buf
    });
    std::thread::sleep(Duration::from_millis(20));
    a.write_all(b"abc").unwrap();
    assert_eq!(&t.join().unwrap(), b"abc");
}

/// `on_hangup`: the hook runs when the peer closes, not when data arrives,
/// and not after it was removed.
#[test]
fn hangup_hook_fires_on_close_not_on_data() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let rt = fibra_runtime::runtime::Builder::new()
        .workers(2)
        .build()
        .unwrap();
    rt.block_on(|| {
        let (mut a, mut b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let hook: fibra_runtime::io::HangupHook = Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!reg.on_hangup(Some(hook)).unwrap());
        // Data: no call.
        std::io::Write::write_all(&mut b, b"next request").unwrap();
        fibra_runtime::sleep(Duration::from_millis(50));
        assert_eq!(calls.load(Ordering::SeqCst), 0, "data is not a hang-up");
        // The peer closes: one call, promptly.
        drop(b);
        let start = std::time::Instant::now();
        while calls.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(2) {
            fibra_runtime::sleep(Duration::from_millis(1));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(start.elapsed() < Duration::from_millis(500));
        // Already hung up: told at once, the hook is not kept.
        let c = calls.clone();
        let again: fibra_runtime::io::HangupHook = Arc::new(move || {
            c.fetch_add(100, Ordering::SeqCst);
        });
        assert!(reg.on_hangup(Some(again)).unwrap());
        reg.deregister(&mut a).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

/// A removed hook is never called.
#[test]
fn removed_hangup_hook_is_not_called() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = fibra_runtime::runtime::Builder::new()
        .workers(2)
        .build()
        .unwrap();
    rt.block_on(|| {
        let (mut a, b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        let called = Arc::new(AtomicBool::new(false));
        let c = called.clone();
        assert!(!reg
            .on_hangup(Some(Arc::new(move || c.store(true, Ordering::SeqCst))))
            .unwrap());
        assert!(!reg.on_hangup(None).unwrap());
        drop(b);
        fibra_runtime::sleep(Duration::from_millis(100));
        assert!(!called.load(Ordering::SeqCst));
        reg.deregister(&mut a).unwrap();
    });
}
