//! Shared helpers: a server on a random port, and a raw-socket client that
//! parses responses itself.

#![allow(dead_code)] // Each test file uses a different subset.

#[cfg(feature = "tls")]
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use fibra_http::proto::{BodyDecoder, Framing};
use fibra_http::{Config, Handler, Server, ShutdownHandle};

/// A running server; shut down (without waiting) on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: ShutdownHandle,
    pub thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
    }
}

pub fn start(config: Config, handler: impl Handler) -> TestServer {
    let server = Server::bind("127.0.0.1:0")
        .expect("bind")
        .with_config(config);
    serve(server, handler)
}

/// Runs `server` (configured by the caller) in a thread of its own.
pub fn serve(server: Server, handler: impl Handler) -> TestServer {
    let addr = server.local_addr().expect("local_addr");
    let shutdown = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.serve(handler));
    TestServer {
        addr,
        shutdown,
        thread: Some(thread),
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `s`, with `buf` holding bytes read earlier.
/// `head_request` means no body follows the head.
pub fn read_response(s: &mut impl Read, buf: &mut Vec<u8>, head_request: bool) -> Option<Resp> {
    let (status, headers, n) = loop {
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut hs);
        match r.parse(buf).expect("valid response head") {
            httparse::Status::Complete(n) => {
                let headers: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                break (r.code.unwrap(), headers, n);
            }
            httparse::Status::Partial => {
                if !fill(s, buf) {
                    return None;
                }
            }
        }
    };
    buf.drain(..n);
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 100 || status == 101 || status == 204 || status == 304 {
        return Some(resp);
    }
    let framing = if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        Framing::Chunked
    } else if let Some(n) = resp.header("content-length") {
        Framing::Length(n.parse().unwrap())
    } else {
        // Close-delimited.
        while fill(s, buf) {}
        resp.body = std::mem::take(buf);
        return Some(resp);
    };
    let mut d = BodyDecoder::new(framing);
    while !d.is_done() {
        let (used, data) = d.decode(buf, usize::MAX).expect("valid response body");
        resp.body.extend_from_slice(data);
        buf.drain(..used);
        if !d.is_done() && buf.is_empty() {
            assert!(fill(s, buf), "connection closed inside a response body");
        }
    }
    Some(resp)
}

/// Reads more into `buf`; false at end of stream or on error.
fn fill(s: &mut impl Read, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match s.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// Whether the server closed the connection (EOF or reset within `wait`),
/// given nothing else is expected on it.
pub fn is_closed(s: &mut TcpStream, buf: &[u8], wait: Duration) -> bool {
    assert!(
        buf.is_empty(),
        "unexpected extra bytes: {:?}",
        String::from_utf8_lossy(buf)
    );
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 64];
    let r = s.read(&mut b);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match r {
        Ok(0) => true,
        Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// Sends `raw` on a fresh connection; returns the first response and
/// whether the server then closed the connection.
#[track_caller]
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> (Resp, bool) {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    let mut buf = Vec::new();
    let resp = read_response(&mut s, &mut buf, false).expect("a response");
    let closed = is_closed(&mut s, &buf, Duration::from_millis(700));
    (resp, closed)
}

/// Asserts that `raw` is answered with `status` and the connection closed.
#[track_caller]
pub fn assert_refused(addr: SocketAddr, raw: &[u8], status: u16) {
    let (resp, closed) = exchange(addr, raw);
    assert_eq!(
        resp.status,
        status,
        "request {:?} got {resp:?}",
        String::from_utf8_lossy(raw)
    );
    assert!(
        closed,
        "connection left open after {:?}",
        String::from_utf8_lossy(raw)
    );
}

/// Sends one request on a fresh connection and reads its response (a
/// `HEAD` request, by its first bytes, gets no body).
#[track_caller]
pub fn send(addr: SocketAddr, raw: &str) -> Resp {
    let mut s = connect(addr);
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    read_response(&mut s, &mut buf, raw.starts_with("HEAD ")).expect("a response")
}

/// A `GET` of `target` with extra header lines (each ending in `\r\n`).
#[track_caller]
pub fn get(addr: SocketAddr, target: &str, headers: &str) -> Resp {
    send(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{headers}\r\n"),
    )
}

/// Runs `test` on its own thread and fails, naming it, if it has not
/// finished within `limit`: a handler or shutdown that never ends fails the
/// test instead of hanging the suite.
#[track_caller]
pub fn watchdog(name: &'static str, limit: Duration, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, limit, test);
}

/// Reads from `s` until the end of a response head; returns what followed
/// it.
pub fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return buf.split_off(i + 4);
        }
        assert!(
            fill(s, &mut buf),
            "connection closed inside a response head"
        );
    }
}

/// See [`fibra_testkit::missing_peer`]: fails under CI, skips elsewhere.
#[allow(
    unused_imports,
    reason = "a shared test module: not every test file asks for a peer"
)]
pub use fibra_testkit::missing_peer;
