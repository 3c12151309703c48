//! WebSocket server and client against each other on loopback, raw-socket
//! checks of the handshake and protocol errors, and Python's `websockets`
//! package as a foreign peer.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::process::Command;
use std::time::Duration;

use fibra_http::handler_fn;
use fibra_http::ws::{self, CloseCode, CloseFrame, Config, Connector, Message, Upgrade};

fn echo_server(opts: Upgrade) -> util::TestServer {
    util::start(
        fibra_http::Config::default(),
        handler_fn(move |req, resp| {
            opts.accept(req, resp, |mut ws| {
                while let Ok(msg) = ws.recv() {
                    if matches!(msg, Message::Close(_)) || ws.send(msg).is_err() {
                        break;
                    }
                }
            })
        }),
    )
}

fn url(s: &util::TestServer, path: &str) -> String {
    format!("ws://{}{path}", s.addr)
}

#[test]
fn echo_text_binary_large_and_close() {
    for compression in [true, false] {
        let server = echo_server(Upgrade::new());
        let cfg = Config {
            compression,
            ..Config::default()
        };
        let mut c = Connector::new()
            .config(cfg)
            .connect(&url(&server, "/"))
            .unwrap();
        assert_eq!(c.compression().is_some(), compression);
        c.send("héllo").unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text("héllo".into()));
        c.send(vec![0u8, 1, 2, 255]).unwrap();
        assert_eq!(c.recv().unwrap(), Message::Binary(vec![0, 1, 2, 255]));
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        c.send(big.clone()).unwrap();
        assert_eq!(c.recv().unwrap(), Message::Binary(big));
        c.send("").unwrap();
        assert_eq!(c.recv().unwrap(), Message::Text(String::new()));
        c.close(CloseCode::NORMAL, "bye").unwrap();
        assert!(c.recv().unwrap_err().is_closed());
    }
}

#[test]
fn server_close_reaches_client_with_code_and_reason() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|req, resp| {
            ws::upgrade(req, resp, |mut ws| {
                let _ = ws.close(CloseCode(4001), "go away");
            })
        }),
    );
    let mut c = ws::connect(&url(&server, "/")).unwrap();
    assert_eq!(
        c.recv().unwrap(),
        Message::Close(Some(CloseFrame {
            code: CloseCode(4001),
            reason: "go away".into()
        }))
    );
    assert!(c.send("late").unwrap_err().is_closed());
}

#[test]
fn subprotocols_headers_and_origin() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|req, resp| {
            let token = req.header("x-token").unwrap_or("").to_string();
            Upgrade::new()
                .protocols(["v2.chat", "v1.chat"])
                .check_origin(|origin, _| origin.is_none_or(|o| o == "http://good.example"))
                .accept(req, resp, move |ws| {
                    let p = ws.protocol().unwrap_or("none").to_string();
                    let _ = ws.send(format!("{p} {token}"));
                })
        }),
    );
    let mut c = Connector::new()
        .protocols(["v1.chat", "v2.chat"])
        .header("x-token", "abc")
        .unwrap()
        .connect(&url(&server, "/"))
        .unwrap();
    assert_eq!(c.protocol(), Some("v2.chat"));
    assert_eq!(c.recv().unwrap(), Message::Text("v2.chat abc".into()));

    let err = Connector::new()
        .header("origin", "http://evil.example")
        .unwrap()
        .connect(&url(&server, "/"))
        .unwrap_err();
    match err {
        ws::Error::Handshake { status, .. } => assert_eq!(status.map(|s| s.as_u16()), Some(403)),
        other => panic!("{other:?}"),
    }
    assert!(Connector::new().header("x-bad", "a\r\nb").is_err());
}

fn raw_request(addr: std::net::SocketAddr, head: &str) -> (StdStream, String) {
    let mut s = util::connect(addr);
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "eof in head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(b[0]);
    }
    (s, String::from_utf8(buf).unwrap())
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn handshake_validation() {
    let server = echo_server(Upgrade::new());
    let ok = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (_s, head) = raw_request(server.addr, &ok);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");

    let (_s, head) = raw_request(server.addr, &ok.replace("Version: 13", "Version: 8"));
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{head}"
    );
    let (_s, head) = raw_request(server.addr, &ok.replace(KEY, "short"));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let (_s, head) = raw_request(server.addr, &ok.replace("Upgrade: WebSocket\r\n", ""));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let (_s, head) = raw_request(server.addr, &ok.replace("GET", "POST"));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

/// Sends one raw frame after a raw handshake and returns the close code the
/// server answers with.
fn close_code_for(server: &util::TestServer, frame: &[u8]) -> u16 {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (mut s, _) = raw_request(server.addr, &head);
    s.write_all(frame).unwrap();
    let mut hdr = [0u8; 2];
    s.read_exact(&mut hdr).unwrap();
    assert_eq!(hdr[0], 0x88, "expected a close frame");
    assert!(
        hdr[1] >= 2 && hdr[1] & 0x80 == 0,
        "server close must be unmasked with a code"
    );
    let mut body = vec![0u8; hdr[1] as usize];
    s.read_exact(&mut body).unwrap();
    u16::from_be_bytes([body[0], body[1]])
}

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    ws::frame::encode(
        true,
        false,
        ws::frame::OpCode::Text,
        Some([1, 2, 3, 4]),
        payload,
        &mut v,
    );
    v[0] = b0;
    v
}

#[test]
fn protocol_errors_close_with_the_right_code() {
    let small = Upgrade::new().config(Config {
        max_message_size: 1000,
        ..Config::default()
    });
    let server = echo_server(small);
    assert_eq!(close_code_for(&server, &[0x81, 0x02, b'h', b'i']), 1002); // unmasked
    assert_eq!(close_code_for(&server, &masked(0xc1, b"hi")), 1002); // RSV1
    assert_eq!(close_code_for(&server, &masked(0x83, b"hi")), 1002); // opcode 3
    assert_eq!(close_code_for(&server, &masked(0x81, b"\xff")), 1007); // bad UTF-8
    assert_eq!(close_code_for(&server, &masked(0x82, &[0; 2000])), 1009); // too big
    assert_eq!(close_code_for(&server, &masked(0x88, b"\x03\xed")), 1002); // close 1005
}

#[test]
fn cloned_sender_writes_while_reader_reads() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|req, resp| {
            ws::upgrade(req, resp, |mut ws| {
                let tx = ws.sender();
                let writers: Vec<_> = (0..4)
                    .map(|w| {
                        let tx = tx.clone();
                        fibra_runtime::spawn(move || {
                            for i in 0..50 {
                                tx.send(format!("w{w} {i}")).unwrap();
                            }
                        })
                    })
                    .collect();
                // Meanwhile the reader answers pings and waits for close.
                while let Ok(m) = ws.recv() {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
                for w in writers {
                    w.join().unwrap();
                }
            })
        }),
    );
    let mut c = ws::connect(&url(&server, "/")).unwrap();
    c.sender().ping(b"are you there").unwrap();
    let mut seen = [0usize; 4];
    for _ in 0..200 {
        let Message::Text(t) = c.recv().unwrap() else {
            panic!("text expected")
        };
        let (w, i) = t[1..].split_once(' ').unwrap();
        let w: usize = w.parse().unwrap();
        assert_eq!(i.parse::<usize>().unwrap(), seen[w], "per-writer order");
        seen[w] += 1;
    }
    c.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn keepalive_pings_and_pong_timeout() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(move |req, resp| {
            let tx = tx.clone();
            Upgrade::new()
                .config(Config {
                    ping_interval: Some(Duration::from_millis(50)),
                    pong_timeout: Duration::from_millis(100),
                    ..Config::default()
                })
                .accept(req, resp, move |mut ws| {
                    let r = ws.recv();
                    let _ = tx.send(format!("{r:?}"));
                })
        }),
    );
    // A fibra client answers pings inside recv: the connection stays up.
    let mut c = ws::connect(&url(&server, "/")).unwrap();
    let waiter = std::thread::spawn(move || {
        let r = fibra_runtime::with_timeout(Duration::from_millis(400), || c.recv());
        (r.is_err(), c)
    });
    let (timed_out, c) = waiter.join().unwrap();
    assert!(timed_out);
    c.send("still here").unwrap();
    assert!(rx
        .recv_timeout(Duration::from_secs(2))
        .unwrap()
        .contains("still here"));

    // A raw client that never answers is dropped after the pong timeout.
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (_s, _) = raw_request(server.addr, &head);
    let r = rx.recv_timeout(Duration::from_secs(2)).unwrap();
    assert!(r.contains("TimedOut"), "{r}");
}

fn python_websockets() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        util::missing_peer("python3 with the websockets package");
    }
    ok
}

#[test]
fn python_websockets_client_against_fibra_server() {
    if !python_websockets() {
        return;
    }
    let server = echo_server(Upgrade::new());
    let script = r#"
import asyncio, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1], compression="deflate", max_size=None) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate"), ws.response.headers
        for msg in ["hello", "ü" * 100000, b"\x00\x01" * 50000]:
            await ws.send(msg)
            got = await ws.recv()
            assert got == msg, (len(got), len(msg))
        await ws.ping(b"x")
        await ws.close(code=1000, reason="done")
        print("ok", ws.close_code)
asyncio.run(main())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &url(&server, "/")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok 1000"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fibra_client_against_python_websockets_server() {
    if !python_websockets() {
        return;
    }
    let script = r#"
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with serve(echo, "127.0.0.1", 0, compression="deflate", max_size=None) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(20)
asyncio.run(main())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut port = String::new();
    let mut b = [0u8; 1];
    while stdout.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        port.push(b[0] as char);
    }
    let r = std::panic::catch_unwind(|| {
        let mut c = ws::connect(&format!("ws://127.0.0.1:{}/", port.trim())).unwrap();
        assert!(c.compression().is_some());
        for _ in 0..3 {
            let text = "compress me ".repeat(10_000);
            c.send(text.as_str()).unwrap();
            assert_eq!(c.recv().unwrap(), Message::Text(text));
        }
        c.send(vec![9u8; 100_000]).unwrap();
        assert_eq!(c.recv().unwrap(), Message::Binary(vec![9u8; 100_000]));
        c.close(CloseCode::NORMAL, "bye").unwrap();
    });
    let _ = child.kill();
    let _ = child.wait();
    r.unwrap();
}

#[test]
fn fragments_stream_past_the_message_limit() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|req, resp| {
            Upgrade::new()
                .config(Config {
                    max_message_size: 100,
                    compression: false,
                    ..Config::default()
                })
                .accept(req, resp, |mut ws| {
                    let (mut pieces, mut total, mut text) = (0, 0, String::new());
                    while let Ok(Some(f)) = ws.recv_fragment() {
                        pieces += 1;
                        total += f.data.len();
                        text.push_str(&String::from_utf8_lossy(&f.data[..1]));
                        if f.fin {
                            let _ = ws.send(format!("{pieces} {total} {text}"));
                        }
                    }
                    assert_eq!(ws.close_frame().map(|c| c.code), Some(CloseCode::NORMAL));
                })
        }),
    );
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (mut s, _) = raw_request(server.addr, &head);
    let mut wire = Vec::new();
    use ws::frame::{encode, OpCode};
    encode(
        false,
        false,
        OpCode::Binary,
        Some([9, 8, 7, 6]),
        &[b'a'; 90],
        &mut wire,
    );
    encode(
        true,
        false,
        OpCode::Ping,
        Some([9, 8, 7, 6]),
        b"",
        &mut wire,
    );
    encode(
        false,
        false,
        OpCode::Continuation,
        Some([1, 8, 7, 6]),
        &[b'b'; 90],
        &mut wire,
    );
    encode(
        true,
        false,
        OpCode::Continuation,
        Some([2, 8, 7, 6]),
        &[b'c'; 90],
        &mut wire,
    );
    s.write_all(&wire).unwrap();
    let mut reply = Vec::new();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [0x8a, 0], "pong first");
    s.read_exact(&mut b).unwrap();
    reply.resize(b[1] as usize, 0);
    s.read_exact(&mut reply).unwrap();
    assert_eq!(String::from_utf8(reply).unwrap(), "3 270 abc");
    let mut close = Vec::new();
    encode(
        true,
        false,
        OpCode::Close,
        Some([0; 4]),
        &1000u16.to_be_bytes(),
        &mut close,
    );
    s.write_all(&close).unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(b[0], 0x88);
}

#[test]
fn invalid_utf8_fails_before_its_frame_is_complete() {
    let server = echo_server(Upgrade::new());
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (mut s, _) = raw_request(server.addr, &head);
    // A 20-byte text frame of which only the head and 7 payload bytes are
    // sent, the last of them making the text invalid (0xce then 'A'). The
    // server must answer 1007 without waiting for the other 13 bytes
    // (util::connect's 5 s read timeout fails the test otherwise).
    let frame = masked(0x81, b"hello\xceAAAAAAAAAAAAAA");
    s.write_all(&frame[..6 + 4]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(&frame[10..13]).unwrap();
    let mut hdr = [0u8; 2];
    s.read_exact(&mut hdr).unwrap();
    assert_eq!(hdr[0], 0x88, "expected a close frame");
    let mut body = vec![0u8; hdr[1] as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(u16::from_be_bytes([body[0], body[1]]), 1007);
}
