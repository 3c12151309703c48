//! HTTPS with the test CA in net/tests/data, and requests through a small
//! in-test proxy (`client_util::proxy`: absolute form for http, `CONNECT`
//! tunnel for https).

#![cfg(feature = "tls")]

mod client_util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_util::{fibra_server, proxy};
use fibra_http::client::Proxy;
use fibra_http::{Client, Config};
use fibra_net::tls::TlsAcceptor;

const CA: &[u8] = include_bytes!("../../net/tests/data/ca.pem");
const CERT: &[u8] = include_bytes!("../../net/tests/data/localhost.pem");
const KEY: &[u8] = include_bytes!("../../net/tests/data/localhost.key");

fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// An HTTPS server answering every request with its request line; counts
/// TLS connections.
fn tls_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let acceptor = TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    return;
                };
                seen.fetch_add(1, Ordering::SeqCst);
                while let Some(head) = read_head(&mut tls) {
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                        line.len()
                    );
                    if tls.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

fn tls_client() -> Client {
    Client::builder()
        .no_proxy()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(CA)
        .build()
        .unwrap()
}

#[test]
fn https_with_a_custom_root_and_pooling() {
    let (addr, count) = tls_server();
    let client = tls_client();
    let url = format!("https://localhost:{}/secure", addr.port());
    for _ in 0..5 {
        let text = client.get(&url).send().unwrap().text().unwrap();
        assert_eq!(text, "GET /secure HTTP/1.1");
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // Inside coroutines too.
    let c = client.clone();
    fibra_runtime::run(move || {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                let url = url.clone();
                fibra_runtime::spawn(move || c.get(&url).send().unwrap().text().unwrap())
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), "GET /secure HTTP/1.1");
        }
    });
}

#[test]
fn untrusted_certificate_is_a_connect_error() {
    let (addr, _) = tls_server();
    // Mozilla's roots do not include the test CA.
    let client = Client::builder().no_proxy().build().unwrap();
    let err = client
        .get(&format!("https://localhost:{}/", addr.port()))
        .send()
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // Nor does a wrong name pass (the certificate is for localhost).
    let err = tls_client()
        .get(&format!("https://127.0.0.2:{}/", addr.port()))
        .send()
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // Malformed PEM fails the builder.
    let err = Client::builder()
        .add_root_certificate_pem(b"not pem")
        .build()
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
}

#[test]
fn tls_handshake_timeout() {
    // Accepts TCP, never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(conns);
    });
    let client = Client::builder()
        .no_proxy()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(CA)
        .tls_handshake_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client
        .get(&format!("https://localhost:{}/", addr.port()))
        .send()
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn https_through_a_connect_tunnel() {
    let (tls_addr, count) = tls_server();
    let (proxy_addr, log) = proxy();
    let client = Client::builder()
        .proxy(Proxy::all(&format!("http://user:secret@{proxy_addr}")).unwrap())
        .tls_built_in_roots(false)
        .add_root_certificate_pem(CA)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/tunneled", tls_addr.port());
    for _ in 0..3 {
        assert_eq!(
            client.get(&url).send().unwrap().text().unwrap(),
            "GET /tunneled HTTP/1.1"
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![format!(
            "CONNECT localhost:{} HTTP/1.1 [Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=]",
            tls_addr.port()
        )]
    );
}

#[test]
fn http_through_a_proxy_uses_absolute_form() {
    let server = fibra_server(Config::default(), |req, resp| {
        resp.text(format!("origin saw {}", req.uri()));
        Ok(())
    });
    let (proxy_addr, log) = proxy();
    let client = Client::builder()
        .proxy(Proxy::http(&proxy_addr.to_string()).unwrap())
        .build()
        .unwrap();
    let url = server.url("/via?x=1");
    assert_eq!(
        client.get(&url).send().unwrap().text().unwrap(),
        "origin saw /via?x=1"
    );
    let log = log.lock().unwrap().clone();
    assert_eq!(log, vec![format!("GET {url} HTTP/1.1")]);
    // A refused CONNECT is a connect error.
    let client = Client::builder()
        .proxy(Proxy::https(&proxy_addr.to_string()).unwrap())
        .build()
        .unwrap();
    let err = client.get("https://127.0.0.1:1/").send().unwrap_err();
    assert!(
        err.is_connect() && err.to_string().contains("502"),
        "{err:?}"
    );
}
