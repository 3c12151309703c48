//! The WebSocket client on `fibra_http::Client`: frames sent with the
//! `101` head, a proxy (`CONNECT` tunnel), handshake and connect timeouts,
//! and a given client's settings.

mod client_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use client_util::{proxy, read_head, silent_server};
use fibra_http::client::Proxy;
use fibra_http::ws::{self, CloseCode, Connector, Message};
use fibra_http::{Client, Server};

/// A fibra server echoing WebSocket messages; shut down on drop.
struct EchoServer {
    addr: std::net::SocketAddr,
    shutdown: fibra_http::ShutdownHandle,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
    }
}

fn echo_server() -> EchoServer {
    let server = Server::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    std::thread::spawn(move || {
        server.serve(fibra_http::handler_fn(|req, resp| {
            ws::upgrade(req, resp, |mut ws| {
                while let Ok(msg) = ws.recv() {
                    if matches!(msg, Message::Close(_)) || ws.send(msg).is_err() {
                        break;
                    }
                }
            })
        }))
    });
    EchoServer { addr, shutdown }
}

/// Runs `f` in the runtime, failing after 20 s instead of hanging.
fn run(name: &'static str, f: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, Duration::from_secs(20), move || {
        fibra_runtime::run(f);
    });
}

#[test]
fn frames_sent_with_the_101_head_are_not_lost() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let head = read_head(&mut s);
        let key = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| v.trim().to_owned())
            })
            .expect("a Sec-WebSocket-Key");
        // The head, a text frame and a close frame in one write: the
        // frames arrive with the head, in the client's read-ahead.
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            ws::accept_key(&key)
        )
        .into_bytes();
        out.extend_from_slice(&[0x81, 5]);
        out.extend_from_slice(b"early");
        out.extend_from_slice(&[0x88, 2, 0x03, 0xe8]);
        s.write_all(&out).unwrap();
        // The client answers the close; then the server closes first, as
        // RFC 6455 section 7.1.1 wants.
        let mut answer = [0u8; 64];
        let _ = s.read(&mut answer);
    });
    run("early frames", move || {
        let mut c = ws::connect(&format!("ws://{addr}/")).unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text("early".into()));
        let close = c.recv().unwrap();
        let Message::Close(Some(frame)) = close else {
            panic!("close frame expected, got {close:?}")
        };
        assert_eq!(frame.code, CloseCode::NORMAL);
    });
}

#[test]
fn ws_through_a_proxy_uses_a_connect_tunnel() {
    let server = echo_server();
    let addr = server.addr;
    let (proxy_addr, log) = proxy();
    run("ws through a proxy", move || {
        let client = Client::builder()
            .proxy(Proxy::http(&proxy_addr.to_string()).unwrap())
            .build()
            .unwrap();
        let mut c = Connector::new()
            .client(client.clone())
            .connect(&format!("ws://{addr}/chat"))
            .unwrap();
        // The upgraded connection is not the client's any more.
        assert_eq!(client.open_connections(), 0);
        // Through the tunnel the peer is the proxy.
        assert_eq!(c.peer_addr().unwrap(), proxy_addr);
        c.send("via the proxy").unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text("via the proxy".into()));
        c.close(CloseCode::NORMAL, "").unwrap();
    });
    assert_eq!(
        log.lock().unwrap().clone(),
        [format!("CONNECT {addr} HTTP/1.1")]
    );
}

#[track_caller]
fn assert_timed_out(r: Result<ws::WebSocket, ws::Error>) {
    match r {
        Err(ws::Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}")
        }
        other => panic!("a timeout expected, got {other:?}"),
    }
}

#[test]
fn handshake_timeout_against_a_silent_server() {
    let addr = silent_server();
    run("handshake timeouts", move || {
        let url = format!("ws://{addr}/");
        let limit = Duration::from_millis(300);
        let start = Instant::now();
        assert_timed_out(Connector::new().timeout(limit).connect(&url));
        fibra_testkit::assert_kept_limit(start.elapsed(), limit, Duration::from_millis(100));

        // The same from a given client's response-header timeout.
        let client = Client::builder()
            .no_proxy()
            .response_header_timeout(limit)
            .build()
            .unwrap();
        let start = Instant::now();
        assert_timed_out(Connector::new().client(client).connect(&url));
        fibra_testkit::assert_kept_limit(start.elapsed(), limit, Duration::from_millis(100));
    });
}

#[test]
fn connect_timeout_of_a_given_client() {
    // A listener with a backlog of one that never accepts: once its queue
    // is full, the kernel drops further connection attempts unanswered.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(1).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "the backlog did not fill: this kernel answers every connection attempt"
    );
    run("connect timeout", move || {
        let limit = Duration::from_millis(300);
        let client = Client::builder()
            .no_proxy()
            .connect_timeout(limit)
            .build()
            .unwrap();
        let start = Instant::now();
        assert_timed_out(
            Connector::new()
                .client(client)
                .connect(&format!("ws://{addr}/")),
        );
        fibra_testkit::assert_kept_limit(start.elapsed(), limit, Duration::from_millis(100));
        drop(fillers);
        drop(socket);
    });
}
