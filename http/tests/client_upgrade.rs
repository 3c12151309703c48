//! Client-side protocol switches: `RequestBuilder::upgrade`, a `101`
//! answer taken over with `Response::upgrade` over TCP, a Unix socket and
//! TLS, the bytes sent with the `101` head, halves used from two
//! coroutines, the pool never getting a switched connection back, and the
//! `CONNECT` tunnel through a proxy.

mod client_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_util::{fibra_server, proxy, raw_server, read_head, read_request};
use fibra_http::client::{Proxy, Upgraded};
use fibra_http::{Client, Config, StatusCode};

const SWITCH: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";
/// What the servers send in the same write as the `101` head.
const EARLY: &[u8] = b"early bytes";

/// A server's side: logs the request head, answers `101` and [`EARLY`] in
/// one write, then echoes until the client leaves.
fn switch_and_echo(mut s: impl Read + Write, heads: &Mutex<Vec<String>>) {
    heads.lock().unwrap().push(read_head(&mut s));
    let mut first = SWITCH.to_vec();
    first.extend_from_slice(EARLY);
    if s.write_all(&first).is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

type Heads = Arc<Mutex<Vec<String>>>;

/// A TCP server running [`switch_and_echo`] on each connection.
fn tcp_echo_server() -> (std::net::SocketAddr, Heads) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Heads::default();
    let h = heads.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let h = h.clone();
            std::thread::spawn(move || switch_and_echo(conn, &h));
        }
    });
    (addr, heads)
}

/// Checks the early bytes come first, then sends 2 MiB from one coroutine
/// while another, already blocked in `read` before the first byte went
/// out, reads the echo.
fn exercise(mut conn: Upgraded) {
    assert_eq!(conn.read_ahead_len(), EARLY.len(), "{conn:?}");
    let mut early = vec![0u8; EARLY.len()];
    conn.read_exact(&mut early).unwrap();
    assert_eq!(early, EARLY);
    assert_eq!(conn.read_ahead_len(), 0);

    const N: usize = 2 << 20;
    let data: Vec<u8> = (0..N).map(|i| (i * 7 % 251) as u8).collect();
    let expect = data.clone();
    let (mut reader, writer) = conn.split();
    let reading = fibra_runtime::spawn(move || {
        let mut got = vec![0u8; N];
        reader.read_exact(&mut got).map(|()| got)
    });
    // The reader is parked in `read` now: a write must not wait for it.
    fibra_runtime::sleep(Duration::from_millis(50));
    for chunk in data.chunks(16 * 1024) {
        (&writer).write_all(chunk).unwrap();
    }
    let got = reading.join().unwrap().unwrap();
    assert!(got == expect, "the echo differs from what was sent");
}

/// Runs `f` in the runtime, failing after 20 s instead of hanging.
fn run(name: &'static str, f: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, Duration::from_secs(20), move || {
        fibra_runtime::run(f);
    });
}

#[test]
fn tcp_upgrade_keeps_the_early_bytes_and_leaves_the_pool() {
    let (addr, heads) = tcp_echo_server();
    run("tcp upgrade", move || {
        let client = Client::builder().no_proxy().build().unwrap();
        let resp = client
            .get(&format!("http://{addr}/echo"))
            .upgrade("echo")
            .send()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(resp.headers()["upgrade"], "echo");
        let conn = resp.upgrade().unwrap();
        // The switched connection is the caller's, not the pool's.
        assert_eq!(client.open_connections(), 0);
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(conn.peer_addr().unwrap(), addr);
        exercise(conn);
    });
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.starts_with("get /echo http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(head.contains("\r\nupgrade: echo\r\n"), "{head}");
}

#[test]
fn unix_socket_upgrade() {
    let path = std::env::temp_dir().join(format!("fibra-upgrade-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let heads = Heads::default();
    let h = heads.clone();
    std::thread::spawn(move || {
        if let Ok((conn, _)) = listener.accept() {
            switch_and_echo(conn, &h);
        }
    });
    let socket = path.clone();
    run("unix upgrade", move || {
        let client = Client::builder().unix_socket(socket).build().unwrap();
        let conn = client
            .get("http://localhost/echo")
            .upgrade("echo")
            .send()
            .unwrap()
            .upgrade()
            .unwrap();
        assert_eq!(
            conn.peer_addr().unwrap_err().kind(),
            std::io::ErrorKind::Unsupported
        );
        exercise(conn);
    });
    let _ = std::fs::remove_file(&path);
    assert!(heads.lock().unwrap()[0].starts_with("GET /echo HTTP/1.1\r\n"));
}

#[cfg(feature = "tls")]
#[test]
fn tls_upgrade() {
    const CA: &[u8] = include_bytes!("../../net/tests/data/ca.pem");
    const CERT: &[u8] = include_bytes!("../../net/tests/data/localhost.pem");
    const KEY: &[u8] = include_bytes!("../../net/tests/data/localhost.key");
    let acceptor = fibra_net::tls::TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Heads::default();
    let h = heads.clone();
    std::thread::spawn(move || {
        if let Ok((tcp, _)) = listener.accept() {
            if let Ok(tls) = acceptor.accept(tcp) {
                switch_and_echo(tls, &h);
            }
        }
    });
    run("tls upgrade", move || {
        let client = Client::builder()
            .no_proxy()
            .tls_built_in_roots(false)
            .add_root_certificate_pem(CA)
            .build()
            .unwrap();
        let conn = client
            .get(&format!("https://localhost:{port}/echo"))
            .upgrade("echo")
            .send()
            .unwrap()
            .upgrade()
            .unwrap();
        exercise(conn);
    });
    assert!(heads.lock().unwrap()[0].starts_with("GET /echo HTTP/1.1\r\n"));
}

#[test]
fn a_refused_switch_is_a_status_error() {
    let server = fibra_server(Config::default(), |_req, resp| {
        resp.text("no switching here");
        Ok(())
    });
    let client = Client::builder().no_proxy().build().unwrap();
    let resp = client.get(&server.url("/")).upgrade("echo").send().unwrap();
    let err = resp.upgrade().unwrap_err();
    assert!(err.is_status(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::OK));
}

#[test]
fn a_101_dropped_without_taking_it_over_is_closed_not_pooled() {
    let (closed_tx, closed_rx) = mpsc::channel();
    let closed_tx = Mutex::new(closed_tx);
    let server = raw_server(move |mut s, _| {
        while let Ok((head, _)) = read_request(&mut s) {
            if head.starts_with("GET /switch ") {
                let _ = s.write_all(SWITCH);
                // Only end of stream (or a reset) ends this read.
                let mut rest = [0u8; 64];
                let r = s.read(&mut rest);
                let _ = closed_tx.lock().unwrap().send(r.map_err(|e| e.kind()));
                return;
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let client = Client::builder().no_proxy().build().unwrap();
    let resp = client
        .get(&server.url("/switch"))
        .upgrade("echo")
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    drop(resp);
    let r = closed_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the server sees the connection closed");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert_eq!(client.open_connections(), 0);
    let text = client.get(&server.url("/plain")).send().unwrap().text();
    assert_eq!(text.unwrap(), "ok");
    assert_eq!(server.accepted(), 2, "a new connection after the switch");
}

#[test]
fn upgrade_through_a_proxy_uses_a_connect_tunnel() {
    let (addr, heads) = tcp_echo_server();
    let plain = fibra_server(Config::default(), |req, resp| {
        resp.text(format!("origin saw {}", req.uri()));
        Ok(())
    });
    let (proxy_addr, log) = proxy();
    let plain_url = plain.url("/p");
    run("upgrade through a proxy", move || {
        let client = Client::builder()
            .proxy(Proxy::http(&proxy_addr.to_string()).unwrap())
            .build()
            .unwrap();
        let mut conn = client
            .get(&format!("http://{addr}/tunneled"))
            .upgrade("echo")
            .send()
            .unwrap()
            .upgrade()
            .unwrap();
        let mut early = vec![0u8; EARLY.len()];
        conn.read_exact(&mut early).unwrap();
        assert_eq!(early, EARLY);
        conn.write_all(b"through").unwrap();
        let mut echo = [0u8; 7];
        conn.read_exact(&mut echo).unwrap();
        assert_eq!(&echo, b"through");
        // An ordinary request still goes to the proxy in absolute form.
        let text = client.get(&plain_url).send().unwrap().text();
        assert_eq!(text.unwrap(), "origin saw /p");
    });
    // Through the tunnel, the origin sees the request in origin form.
    assert!(heads.lock().unwrap()[0].starts_with("GET /tunneled HTTP/1.1\r\n"));
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("CONNECT {addr} HTTP/1.1"),
            format!("GET http://{}/p HTTP/1.1", plain.addr),
        ]
    );
}
