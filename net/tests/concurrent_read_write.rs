//! One coroutine reads while another writes on the same stream.

mod util;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

const TOTAL: usize = 4 * 1024 * 1024;

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Writes TOTAL bytes through `w` while `r` reads them back from an echo
/// server; neither side could finish alone, since the echo stalls once the
/// socket buffers fill.
fn pump(w: impl Write + Send + 'static, r: impl Read + Send + 'static) {
    let writer = fibra_runtime::spawn(move || {
        let mut w = w;
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        for chunk in data.chunks(100_000) {
            w.write_all(chunk).unwrap();
        }
    });
    let reader = fibra_runtime::spawn(move || {
        let mut r = r;
        let mut got = vec![0u8; TOTAL];
        r.read_exact(&mut got).unwrap();
        got.iter().enumerate().all(|(i, b)| *b == pattern(i))
    });
    writer.join().unwrap();
    assert!(reader.join().unwrap(), "echoed bytes differ");
}

#[test]
fn reader_and_writer_share_one_stream_by_reference() {
    util::run(Duration::from_secs(60), || {
        let addr = util::echo_server();
        let stream = Arc::new(fibra_net::TcpStream::connect(addr).unwrap());
        struct ByRef(Arc<fibra_net::TcpStream>);
        impl Read for ByRef {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self.0).read(buf)
            }
        }
        impl Write for ByRef {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self.0).write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                (&*self.0).flush()
            }
        }
        pump(ByRef(stream.clone()), ByRef(stream));
    });
}

#[test]
fn reader_and_writer_use_try_clone_handles() {
    util::run(Duration::from_secs(60), || {
        let addr = util::echo_server();
        let stream = fibra_net::TcpStream::connect(addr).unwrap();
        let clone = stream.try_clone().unwrap();
        pump(stream, clone);
    });
}

#[test]
fn vectored_io_round_trips() {
    util::run(Duration::from_secs(10), || {
        let addr = util::echo_server();
        let mut s = fibra_net::TcpStream::connect(addr).unwrap();
        let bufs = [
            std::io::IoSlice::new(b"hello "),
            std::io::IoSlice::new(b"world"),
        ];
        let n = s.write_vectored(&bufs).unwrap();
        assert_eq!(n, 11);
        let (mut a, mut b) = ([0u8; 6], [0u8; 5]);
        let mut got = 0;
        while got < 11 {
            let mut bufs = [
                std::io::IoSliceMut::new(&mut a[got.min(6)..]),
                std::io::IoSliceMut::new(&mut b[got.saturating_sub(6)..]),
            ];
            let n = s.read_vectored(&mut bufs).unwrap();
            assert!(n > 0, "early EOF");
            got += n;
        }
        assert_eq!(&a, b"hello ");
        assert_eq!(&b, b"world");
    });
}
