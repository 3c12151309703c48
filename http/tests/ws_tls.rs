//! `wss://`: the fibra client against Python's `websockets` server behind
//! TLS (Python's `ssl`), with the throwaway test CA and localhost
//! certificate in net/tests/data. Includes one connection read by one
//! coroutine while others send.

#![cfg(feature = "tls")]

mod util;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fibra_http::ws::{self, CloseCode, Connector, Message};
use fibra_net::tls::TlsConnector;

const CA: &[u8] = include_bytes!("../../net/tests/data/ca.pem");

/// The Python server. Paths: `/echo` echoes; `/collect?n=N` says nothing
/// until it received N messages, then sends one summary; `/push?n=N`
/// sends N messages of its own while echoing whatever arrives.
const SERVER: &str = r#"
import asyncio, ssl, sys
from websockets.asyncio.server import serve

async def handler(ws):
    path, _, query = ws.request.path.partition("?")
    n = int(query[2:]) if query.startswith("n=") else 0
    if path == "/echo":
        async for m in ws:
            await ws.send(m)
    elif path == "/collect":
        total = 0
        for _ in range(n):
            total += len(await ws.recv())
        await ws.send(f"got {n} messages, {total} bytes")
        await ws.wait_closed()
    elif path == "/push":
        async def push():
            for i in range(n):
                await ws.send(f"push {i} " + "p" * 20000)
        task = asyncio.create_task(push())
        async for m in ws:
            await ws.send("echo " + m)
        await task

async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    async with serve(handler, "127.0.0.1", 0, ssl=ctx, compression="deflate",
                     max_size=None) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"#;

/// The Python server on a random port; killed on drop.
struct PyServer {
    child: Child,
    port: u16,
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PyServer {
    fn url(&self, path: &str) -> String {
        format!("wss://localhost:{}{path}", self.port)
    }
}

/// Starts the server, or `None` without Python's `websockets` (the test
/// then fails under CI and is skipped elsewhere: `util::missing_peer`).
fn py_server() -> Option<PyServer> {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        util::missing_peer("python3 with the websockets package");
        return None;
    }
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../net/tests/data");
    let mut child = Command::new("python3")
        .args([
            "-c",
            SERVER,
            &format!("{data}/localhost.pem"),
            &format!("{data}/localhost.key"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut port = String::new();
    let mut b = [0u8; 1];
    while stdout.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        port.push(b[0] as char);
    }
    let port = port.trim().parse().expect("the server prints its port");
    Some(PyServer { child, port })
}

fn connector() -> Connector {
    Connector::new()
        .tls(TlsConnector::with_root_pem(CA).unwrap())
        .timeout(Duration::from_secs(10))
}

/// Runs `f` in a coroutine and fails the test if it does not finish in
/// `limit` (a deadlock shows as this, not as a hung test).
#[track_caller]
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    fibra_runtime::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("did not finish within {limit:?}"),
    }
}

#[test]
fn wss_echo_text_binary_large_compressed_and_close() {
    let Some(server) = py_server() else { return };
    let url = server.url("/echo");
    within(Duration::from_secs(30), move || {
        let mut c = connector().connect(&url).unwrap();
        assert!(c.compression().is_some(), "permessage-deflate over TLS");
        c.send("hello over tls").unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text("hello over tls".into()));
        // Larger than rustls's 64 KiB send buffer and many TLS records,
        // incompressible enough to stay large on the wire.
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
        let text = "ü".repeat(300_000);
        c.send(text.as_str()).unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text(text));
        c.close(CloseCode::NORMAL, "bye").unwrap();
        assert!(c.recv().unwrap_err().is_closed());
    });
}

#[test]
fn wss_reader_blocked_in_recv_does_not_block_senders() {
    let Some(server) = py_server() else { return };
    let url = server.url("/collect?n=400");
    within(Duration::from_secs(30), move || {
        let mut c = connector().connect(&url).unwrap();
        let tx = c.sender();
        // The reader parks in recv (the server is silent until it has all
        // 400 messages) while four coroutines send.
        let reader = fibra_runtime::spawn(move || {
            let m = c.recv().unwrap();
            c.close(CloseCode::NORMAL, "").unwrap();
            m
        });
        let senders: Vec<_> = (0..4)
            .map(|s| {
                let tx = tx.clone();
                fibra_runtime::spawn(move || {
                    for i in 0..100 {
                        tx.send(format!("{s}:{i:04}:{}", "x".repeat(1000))).unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        let m = reader.join().unwrap();
        assert_eq!(m, Message::Text("got 400 messages, 402800 bytes".into()));
    });
}

#[test]
fn wss_concurrent_read_and_send_both_directions_busy() {
    let Some(server) = py_server() else { return };
    let url = server.url("/push?n=300");
    within(Duration::from_secs(60), move || {
        let c = connector()
            .config(ws::Config {
                // Incompressible enough to keep the socket buffers full.
                compression: false,
                ..ws::Config::default()
            })
            .connect(&url)
            .unwrap();
        let tx = c.sender();
        // The server pushes 300 messages of 20 kB while echoing 2 x 150 of
        // ours of 20 kB: both directions carry more than the socket
        // buffers hold, so a writer blocked on a full socket must not stop
        // the reader (nor the reader the writers).
        let senders: Vec<_> = (0..2)
            .map(|s| {
                let tx = tx.clone();
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
}

#[test]
fn wss_refuses_an_untrusted_certificate() {
    let Some(server) = py_server() else { return };
    let url = server.url("/echo");
    within(Duration::from_secs(30), move || {
        // The default trust store (Mozilla's roots) lacks the test CA.
        let e = ws::connect(&url).unwrap_err();
        match &e {
            ws::Error::Io(io) => {
                assert_eq!(io.kind(), std::io::ErrorKind::InvalidData, "{e}");
                assert!(e.to_string().contains("certificate"), "{e}");
            }
            other => panic!("TLS error expected, got {other:?}"),
        }
    });
}

#[test]
fn wss_with_a_given_client_uses_its_trust() {
    let Some(server) = py_server() else { return };
    let url = server.url("/echo");
    within(Duration::from_secs(30), move || {
        let client = fibra_http::Client::builder()
            .no_proxy()
            .tls_built_in_roots(false)
            .add_root_certificate_pem(CA)
            .build()
            .unwrap();
        let mut c = Connector::new()
            .client(client.clone())
            .connect(&url)
            .unwrap();
        assert_eq!(client.open_connections(), 0);
        c.send("trusted through the client").unwrap();
        assert_eq!(
            c.recv().unwrap(),
            Message::Text("trusted through the client".into())
        );
        c.close(CloseCode::NORMAL, "").unwrap();
    });
}
