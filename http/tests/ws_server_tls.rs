//! `wss://` served by fibra: the WebSocket upgrade over the server's TLS,
//! driven by fibra's own `ws::Connector` (echo, a large compressed
//! message, the server reading in one coroutine while another sends, both
//! directions busy) and by Python's `websockets`.
//!
//! Certificates: fibra-net's test CA and localhost certificate
//! (net/tests/data). Python with `websockets` missing fails its test under
//! CI and skips it elsewhere (`util::missing_peer`).

#![cfg(feature = "tls")]

mod util;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use fibra_http::ws::{self, CloseCode, Connector, Message};
use fibra_http::{handler_fn, Config, Server};
use fibra_net::tls::TlsConnector;
use util::tls::{localhost_tls, net_data_path, NET_CA};
use util::{serve, watchdog, TestServer};

/// `/echo` echoes every message; `/push?n=N` sends N messages of its own
/// from a second coroutine while echoing what arrives, prefixed.
fn start() -> TestServer {
    let server = Server::bind_tls("127.0.0.1:0", localhost_tls())
        .unwrap()
        .with_config(Config {
            request_timeout: None,
            ..Config::default()
        });
    serve(
        server,
        handler_fn(|req, resp| {
            let push: usize = req
                .query_param("n")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let path = req.path().to_string();
            ws::upgrade(req, resp, move |mut socket| {
                let pusher = (path == "/push").then(|| {
                    let tx = socket.sender();
                    fibra_runtime::spawn(move || {
                        for i in 0..push {
                            tx.send(format!("push {i} {}", "p".repeat(20_000))).unwrap();
                        }
                    })
                });
                while let Ok(msg) = socket.recv() {
                    let reply = match msg {
                        Message::Close(_) => break,
                        Message::Text(t) if pusher.is_some() => Message::Text(format!("echo {t}")),
                        other => other,
                    };
                    if socket.send(reply).is_err() {
                        break;
                    }
                }
                if let Some(p) = pusher {
                    let _ = p.join();
                }
            })
        }),
    )
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("wss://localhost:{}{path}", addr.port())
}

fn connector() -> Connector {
    Connector::new()
        .tls(TlsConnector::with_root_pem(NET_CA).unwrap())
        .timeout(Duration::from_secs(10))
}

/// Runs `f` in a coroutine and waits for it.
fn in_coroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match fibra_runtime::spawn(f).join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

#[test]
fn wss_echo_with_fibras_connector() {
    watchdog(
        "wss_echo_with_fibras_connector",
        Duration::from_secs(30),
        || {
            let s = start();
            let url = url(s.addr, "/echo");
            in_coroutine(move || {
                let mut c = connector().connect(&url).unwrap();
                assert!(c.compression().is_some(), "permessage-deflate over TLS");
                c.send("hello over tls").unwrap();
                assert_eq!(c.recv().unwrap(), Message::Text("hello over tls".into()));
                // Larger than many TLS records, and incompressible.
                let mut big = Vec::with_capacity(1 << 20);
                let mut x = 0x9e37_79b9u32;
                for _ in 0..1 << 20 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    big.push(x as u8);
                }
                c.send(big.clone()).unwrap();
                assert_eq!(c.recv().unwrap(), Message::Binary(big));
                c.close(CloseCode::NORMAL, "bye").unwrap();
                assert!(c.recv().unwrap_err().is_closed());
            });
        },
    );
}

#[test]
fn wss_server_reads_and_sends_from_two_coroutines_with_both_directions_busy() {
    watchdog(
        "wss_server_reads_and_sends_from_two_coroutines_with_both_directions_busy",
        Duration::from_secs(60),
        || {
            let s = start();
            let url = url(s.addr, "/push?n=300");
            in_coroutine(move || {
                let c = connector()
                    .config(ws::Config {
                        compression: false,
                        ..ws::Config::default()
                    })
                    .connect(&url)
                    .unwrap();
                // The server pushes 300 messages of 20 kB while echoing
                // 2 x 150 of ours: more than the socket buffers hold both
                // ways, so on the server a writer blocked on a full socket
                // must not stop its reader (nor the reader its writers).
                let senders: Vec<_> = (0..2)
                    .map(|s| {
                        let tx = c.sender();
                        fibra_runtime::spawn(move || {
                            for i in 0..150 {
                                tx.send(format!("{s} {i} {}", "c".repeat(20_000))).unwrap();
                            }
                        })
                    })
                    .collect();
                let mut c = c;
                let (mut pushes, mut echoes) = (0usize, [0usize; 2]);
                while pushes < 300 || echoes.iter().sum::<usize>() < 300 {
                    let Message::Text(t) = c.recv().unwrap() else {
                        panic!("text expected")
                    };
                    if let Some(rest) = t.strip_prefix("push ") {
                        let i: usize = rest.split(' ').next().unwrap().parse().unwrap();
                        assert_eq!(i, pushes, "pushes in order");
                        pushes += 1;
                    } else {
                        let rest = t.strip_prefix("echo ").expect("echo or push");
                        let mut parts = rest.splitn(3, ' ');
                        let s: usize = parts.next().unwrap().parse().unwrap();
                        let i: usize = parts.next().unwrap().parse().unwrap();
                        assert_eq!(i, echoes[s], "echoes of sender {s} in order");
                        assert_eq!(parts.next().unwrap().len(), 20_000);
                        echoes[s] += 1;
                    }
                }
                for s in senders {
                    s.join().unwrap();
                }
                c.close(CloseCode::NORMAL, "").unwrap();
            });
        },
    );
}

/// Python's `websockets` client against the server.
const PY_CLIENT: &str = r#"
import ssl, sys
from websockets.sync.client import connect

ctx = ssl.create_default_context(cafile=sys.argv[2])
data = bytes(range(256)) * 1200
with connect(sys.argv[1], ssl=ctx) as ws:
    ws.send("hello from python")
    text = ws.recv()
    ws.send(data)
    echoed = ws.recv()
    ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
print(text, len(echoed), echoed == data, "permessage-deflate" in ext)
"#;

#[test]
fn wss_echo_with_python_websockets() {
    watchdog(
        "wss_echo_with_python_websockets",
        Duration::from_secs(30),
        || {
            let ok = Command::new("python3")
                .args(["-c", "import websockets.sync.client"])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                util::missing_peer("python3 with the websockets package");
                return;
            }
            let s = start();
            let out = Command::new("python3")
                .args([
                    "-c",
                    PY_CLIENT,
                    &url(s.addr, "/echo"),
                    &net_data_path("ca.pem"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "python client failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "hello from python 307200 True True\n"
            );
        },
    );
}
