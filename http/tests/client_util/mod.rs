//! Shared helpers for the client tests: a fibra server that counts the
//! connections it accepted, a raw-socket server run by a script, and a
//! small forward proxy.

#![allow(dead_code)] // Each test file uses a different subset.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fibra_http::{Config, Handler, Request, Response, Server, ShutdownHandle};

/// A fibra server in a thread; counts distinct client connections.
pub struct FibraServer {
    pub addr: SocketAddr,
    shutdown: ShutdownHandle,
    peers: Arc<Mutex<HashSet<SocketAddr>>>,
}

impl FibraServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections the server has seen a request on.
    pub fn connections(&self) -> usize {
        self.peers.lock().unwrap().len()
    }
}

impl Drop for FibraServer {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
    }
}

pub fn fibra_server<F>(config: Config, handler: F) -> FibraServer
where
    F: Fn(&mut Request, &mut Response) -> Result<(), fibra_http::Error> + Send + Sync + 'static,
{
    let peers = Arc::new(Mutex::new(HashSet::new()));
    let seen = peers.clone();
    let handler = fibra_http::handler_fn(move |req: &mut Request, resp: &mut Response| {
        seen.lock().unwrap().insert(req.remote_addr());
        handler(req, resp)
    });
    start(config, handler, peers)
}

fn start(
    config: Config,
    handler: impl Handler,
    peers: Arc<Mutex<HashSet<SocketAddr>>>,
) -> FibraServer {
    let server = Server::bind("127.0.0.1:0")
        .expect("bind")
        .with_config(config);
    let addr = server.local_addr().expect("local_addr");
    let shutdown = server.shutdown_handle();
    std::thread::spawn(move || server.serve(handler));
    FibraServer {
        addr,
        shutdown,
        peers,
    }
}

/// A plain std server that runs `script` on each accepted connection (in
/// its own thread) with the connection's index; counts accepts.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub fn raw_server<F>(script: F) -> RawServer
where
    F: Fn(TcpStream, usize) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            std::thread::spawn(move || script(conn, n));
        }
    });
    RawServer { addr, accepted }
}

/// A server that accepts connections and reads whatever comes, never
/// answering; each connection lasts until the client leaves.
pub fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut sink = [0u8; 1024];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// Reads one request head (up to the blank line, byte by byte, so nothing
/// past it) from any stream, plain or TLS, and returns it; empty at end of
/// stream.
pub fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads a request head and a `Content-Length` body.
pub fn read_request(s: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let head = read_head(s);
    if head.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok((head, body))
}

pub fn write(s: &mut TcpStream, data: &[u8]) {
    let _ = s.write_all(data);
    let _ = s.flush();
}

#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase()),
        "{needle:?} not in {haystack:?}"
    );
}

/// A proxy that tunnels `CONNECT` and forwards absolute-form requests,
/// logging each connection's first line (and `Proxy-Authorization`).
/// After a connection's first request it only relays bytes, in both
/// directions, until either side closes.
pub fn proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let log = log2.clone();
            std::thread::spawn(move || {
                let head = read_head(&mut client);
                if head.is_empty() {
                    return;
                }
                let first = head.lines().next().unwrap_or("").to_owned();
                let auth = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
                    .map(|l| format!(" [{}]", l.trim()))
                    .unwrap_or_default();
                log.lock().unwrap().push(format!("{first}{auth}"));
                let mut parts = first.split(' ');
                let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let upstream_result = if method == "CONNECT" {
                    TcpStream::connect(target).map(|up| {
                        let _ = client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n");
                        (up, None)
                    })
                } else {
                    // http://host:port/path -> origin form to host:port.
                    let rest = target.strip_prefix("http://").unwrap_or(target);
                    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    let head = head.replacen(target, if path.is_empty() { "/" } else { path }, 1);
                    TcpStream::connect(authority).map(|up| (up, Some(head)))
                };
                let Ok((mut up, head)) = upstream_result else {
                    let _ =
                        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
                    return;
                };
                if let Some(h) = head {
                    let _ = up.write_all(h.as_bytes());
                }
                let (mut c2, mut u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut client, &mut up);
                let _ = up.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, log)
}
