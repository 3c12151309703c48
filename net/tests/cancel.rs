//! Canceling a coroutine blocked on a socket makes its call return a
//! canceled error.

mod util;

use std::io::Read;
use std::time::Duration;

#[test]
fn cancel_interrupts_a_blocked_read() {
    util::run(Duration::from_secs(10), || {
        let (client, _server) = util::tcp_pair();
        let h = fibra_runtime::spawn(move || (&client).read(&mut [0; 8]));
        fibra_runtime::sleep(Duration::from_millis(50));
        assert!(!h.is_finished());
        h.cancel();
        let err = h.join().unwrap().expect_err("read must fail");
        assert!(
            fibra_runtime::is_canceled(&err),
            "not a cancel error: {err:?}"
        );
    });
}

#[test]
fn cancel_interrupts_accept_and_udp_recv() {
    util::run(Duration::from_secs(10), || {
        let listener = fibra_net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = fibra_runtime::spawn(move || listener.accept().map(|(_, addr)| addr));
        let udp = fibra_net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let u = fibra_runtime::spawn(move || udp.recv_from(&mut [0; 8]));
        fibra_runtime::sleep(Duration::from_millis(50));
        a.cancel();
        u.cancel();
        let ea = a.join().unwrap().expect_err("accept must fail");
        let eu = u.join().unwrap().expect_err("recv must fail");
        assert!(fibra_runtime::is_canceled(&ea), "{ea:?}");
        assert!(fibra_runtime::is_canceled(&eu), "{eu:?}");
    });
}

/// std's helpers retry `Interrupted` (EINTR). A canceled error of that
/// kind made `read_exact` spin on the canceled read for ever, holding its
/// worker, and made a reader that remembers its failure end `read_to_end`
/// with a short `Ok`. The canceled error is not `Interrupted`, so the
/// helpers pass it up.
#[test]
fn cancel_ends_std_read_and_write_helpers() {
    util::run(Duration::from_secs(10), || {
        let (client, _server) = util::tcp_pair();
        let r = fibra_runtime::spawn(move || (&client).read_exact(&mut [0; 8]));
        // A writer that fills the socket buffers of a peer that never
        // reads, then blocks.
        let (client, _server2) = util::tcp_pair();
        let w = fibra_runtime::spawn(move || {
            use std::io::Write;
            (&client).write_all(&vec![0u8; 64 << 20])
        });
        fibra_runtime::sleep(Duration::from_millis(50));
        assert!(!r.is_finished() && !w.is_finished());
        r.cancel();
        w.cancel();
        let er = r.join().unwrap().expect_err("read_exact must fail");
        let ew = w.join().unwrap().expect_err("write_all must fail");
        assert!(fibra_runtime::is_canceled(&er), "{er:?}");
        assert!(fibra_runtime::is_canceled(&ew), "{ew:?}");
    });
}
