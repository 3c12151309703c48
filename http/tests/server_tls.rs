//! HTTPS from the same `Server`: curl and fibra's own `Client` over TLS
//! (keep-alive on one session, pipelining, a POST body), what a handler
//! sees (`Request::tls`), the handshake timeout against silent and slow
//! clients, garbage on the TLS port, client-gone detection, idle eviction
//! and graceful shutdown over TLS.
//!
//! Certificates: fibra-net's throwaway test CA and localhost certificate
//! (net/tests/data). curl missing fails the test under CI and skips it
//! elsewhere (`util::missing_peer`).

#![cfg(feature = "tls")]

mod util;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use fibra_http::{handler_fn, Client, Config, Error, Handler, Request, Response, Server};
use fibra_net::tls::rustls;
use util::tls::{client_config, curl_ok, have_curl, localhost_tls, net_data_path, tls_connect};
use util::tls::{NET_CA, NET_CERT};
use util::{read_response, serve, watchdog, TestServer};

/// `/info`: what the handler learns about TLS; `/echo`: the body back;
/// anything else: `METHOD PATH`.
fn app(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    match req.path() {
        "/info" => {
            let text = match req.tls() {
                None => "plain".to_string(),
                Some(t) => format!(
                    "sni={} alpn={} peer_certs={}",
                    t.server_name().unwrap_or("-"),
                    t.alpn_protocol()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_else(|| "-".into()),
                    t.peer_certificates().len()
                ),
            };
            resp.text(text);
        }
        "/echo" => {
            let body = req.body_bytes()?;
            resp.body(body);
        }
        _ => {
            resp.text(format!("{} {}", req.method(), req.uri()));
        }
    }
    Ok(())
}

fn start_tls(config: Config, handler: impl Handler) -> TestServer {
    let server = Server::bind_tls("127.0.0.1:0", localhost_tls())
        .unwrap()
        .with_config(config);
    serve(server, handler)
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// fibra's client trusting only the test CA.
fn client() -> Client {
    Client::builder()
        .no_proxy()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(NET_CA)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[test]
fn curl_gets_200_over_https_reuses_the_session_and_posts() {
    watchdog(
        "curl_gets_200_over_https_reuses_the_session_and_posts",
        Duration::from_secs(30),
        || {
            if !have_curl() {
                return;
            }
            let s = start_tls(Config::default(), app);
            let ca = net_data_path("ca.pem");
            // Two requests on one connection: the second connects nothing.
            let out = curl_ok(
                &[
                    "--cacert",
                    &ca,
                    "-w",
                    " [%{http_code} %{http_version} connects=%{num_connects}]\n",
                    &url(s.addr, "/info"),
                    &url(s.addr, "/b"),
                ],
                b"",
            );
            assert_eq!(
                out,
                "sni=localhost alpn=http/1.1 peer_certs=0 [200 1.1 connects=1]\n\
                 GET /b [200 1.1 connects=0]\n"
            );
            let body = "p".repeat(300_000);
            let out = curl_ok(
                &[
                    "--cacert",
                    &ca,
                    "--data-binary",
                    "@-",
                    &url(s.addr, "/echo"),
                ],
                body.as_bytes(),
            );
            assert_eq!(out.len(), body.len());
            assert!(out == body, "POST body changed on the way");
            // Without the CA, curl refuses the certificate.
            let out = util::tls::curl(&[&url(s.addr, "/info")], b"");
            assert!(!out.status.success(), "untrusted certificate accepted");
        },
    );
}

#[test]
fn client_gets_200_on_one_connection_and_round_trips_a_post() {
    watchdog(
        "client_gets_200_on_one_connection_and_round_trips_a_post",
        Duration::from_secs(30),
        || {
            let peers = Arc::new(Mutex::new(HashSet::new()));
            let seen = peers.clone();
            let s = start_tls(
                Config::default(),
                handler_fn(move |req, resp| {
                    seen.lock().unwrap().insert(req.remote_addr());
                    app(req, resp)
                }),
            );
            let client = client();
            for _ in 0..5 {
                let resp = client.get(&url(s.addr, "/info")).send().unwrap();
                assert_eq!(resp.status(), 200);
                // fibra's client offers no ALPN.
                assert_eq!(resp.text().unwrap(), "sni=localhost alpn=- peer_certs=0");
            }
            let mut body = vec![0u8; 1 << 20];
            for (i, b) in body.iter_mut().enumerate() {
                *b = (i * 7 + i / 251) as u8;
            }
            let resp = client
                .post(&url(s.addr, "/echo"))
                .body(body.clone())
                .send()
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert!(resp.bytes().unwrap() == body, "POST body changed");
            assert_eq!(
                peers.lock().unwrap().len(),
                1,
                "all requests on one TLS connection"
            );
        },
    );
}

#[test]
fn pipelined_requests_on_one_tls_session() {
    watchdog(
        "pipelined_requests_on_one_tls_session",
        Duration::from_secs(20),
        || {
            let s = start_tls(Config::default(), app);
            let mut c = tls_connect(s.addr, "localhost", NET_CA);
            c.write_all(
                b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
                  POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
                  GET /info HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .unwrap();
            let mut buf = Vec::new();
            let texts: Vec<String> = (0..3)
                .map(|_| read_response(&mut c, &mut buf, false).unwrap().text())
                .collect();
            assert_eq!(
                texts,
                [
                    "GET /a",
                    "hello",
                    "sni=localhost alpn=http/1.1 peer_certs=0"
                ]
            );
            c.write_all(b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let r = read_response(&mut c, &mut buf, false).unwrap();
            assert_eq!(r.text(), "GET /d");
            assert_eq!(r.header("connection"), None, "kept alive");
        },
    );
}

#[test]
fn plain_http_requests_have_no_tls_state() {
    watchdog(
        "plain_http_requests_have_no_tls_state",
        Duration::from_secs(10),
        || {
            let s = util::start(Config::default(), app);
            assert_eq!(util::get(s.addr, "/info", "").text(), "plain");
        },
    );
}

/// How long the server took to close `c` (read until end of stream or an
/// error), from `since`.
fn closed_after(c: &mut TcpStream, since: Instant) -> Duration {
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 256];
    loop {
        match c.read(&mut b) {
            Ok(0) | Err(_) => return since.elapsed(),
            // An alert, at most: keep reading.
            Ok(_) => {}
        }
    }
}

#[test]
fn handshake_timeout_drops_silent_and_slow_clients_while_others_are_served() {
    watchdog(
        "handshake_timeout_drops_silent_and_slow_clients_while_others_are_served",
        Duration::from_secs(20),
        || {
            const LIMIT: Duration = Duration::from_millis(400);
            let s = start_tls(
                Config {
                    tls_handshake_timeout: LIMIT,
                    ..Config::default()
                },
                app,
            );
            let addr = s.addr;
            // Connects and sends nothing.
            let silent = std::thread::spawn(move || {
                let t = Instant::now();
                let mut c = TcpStream::connect(addr).unwrap();
                closed_after(&mut c, t)
            });
            // Sends half a ClientHello, then waits.
            let slow = std::thread::spawn(move || {
                let mut hello = Vec::new();
                let mut conn = rustls::ClientConnection::new(
                    client_config(NET_CA, None),
                    "localhost".try_into().unwrap(),
                )
                .unwrap();
                conn.write_tls(&mut hello).unwrap();
                let t = Instant::now();
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(&hello[..hello.len() / 2]).unwrap();
                closed_after(&mut c, t)
            });
            // Meanwhile another client is served at once, several times.
            std::thread::sleep(Duration::from_millis(50));
            let t = Instant::now();
            let mut c = tls_connect(addr, "localhost", NET_CA);
            for _ in 0..3 {
                c.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let r = read_response(&mut c, &mut Vec::new(), false).unwrap();
                assert_eq!(r.text(), "GET /x");
            }
            let served = t.elapsed();
            assert!(
                served < Duration::from_millis(300),
                "served in {served:?} while two handshakes stalled"
            );
            let silent = silent.join().unwrap();
            let slow = slow.join().unwrap();
            eprintln!("silent client closed after {silent:?}, slow one after {slow:?}");
            fibra_testkit::assert_kept_limit(silent, LIMIT, Duration::from_millis(200));
            fibra_testkit::assert_kept_limit(slow, LIMIT, Duration::from_millis(200));
            // And the server goes on.
            assert_eq!(client().get(&url(addr, "/y")).send().unwrap().status(), 200);
        },
    );
}

#[test]
fn plain_http_on_the_tls_port_is_closed_and_the_server_keeps_serving() {
    watchdog(
        "plain_http_on_the_tls_port_is_closed_and_the_server_keeps_serving",
        Duration::from_secs(20),
        || {
            let s = start_tls(Config::default(), app);
            for garbage in [
                &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                &b"\x16\x03\x01\x00\x05hello, not a ClientHello"[..],
            ] {
                let mut c = TcpStream::connect(s.addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c.write_all(garbage).unwrap();
                let t = Instant::now();
                let mut got = Vec::new();
                // End of stream, or a reset after the alert.
                let _ = c.read_to_end(&mut got);
                assert!(
                    t.elapsed() < Duration::from_secs(1),
                    "closed after {:?}",
                    t.elapsed()
                );
                assert!(!got.starts_with(b"HTTP/"), "answered in plain text");
            }
            let resp = client().get(&url(s.addr, "/after")).send().unwrap();
            assert_eq!(resp.text().unwrap(), "GET /after");
        },
    );
}

#[test]
fn a_client_leaving_cancels_its_handler_over_tls() {
    watchdog(
        "a_client_leaving_cancels_its_handler_over_tls",
        Duration::from_secs(20),
        || {
            let (tx, rx) = mpsc::channel();
            let tx = Mutex::new(tx);
            let s = start_tls(
                Config::default(),
                handler_fn(move |_req, resp| {
                    let r = fibra_runtime::sleep_cancelable(Duration::from_secs(10));
                    let _ = tx.lock().unwrap().send((Instant::now(), r.is_err()));
                    resp.text("late");
                    Ok(())
                }),
            );
            let mut c = tls_connect(s.addr, "localhost", NET_CA);
            c.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let left = Instant::now();
            drop(c);
            let (ended, canceled) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            let took = ended.saturating_duration_since(left);
            eprintln!("handler ended {took:?} after its TLS client left");
            assert!(canceled, "the handler was not canceled");
            assert!(took < Duration::from_millis(500), "{took:?}");
        },
    );
}

#[test]
fn a_new_client_displaces_an_idle_tls_connection_at_max_connections() {
    watchdog(
        "a_new_client_displaces_an_idle_tls_connection_at_max_connections",
        Duration::from_secs(20),
        || {
            let s = start_tls(
                Config {
                    max_connections: 1,
                    ..Config::default()
                },
                app,
            );
            let mut idle = tls_connect(s.addr, "localhost", NET_CA);
            idle.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let r = read_response(&mut idle, &mut Vec::new(), false).unwrap();
            assert_eq!(r.text(), "GET /first");
            let t = Instant::now();
            let mut newcomer = tls_connect(s.addr, "localhost", NET_CA);
            newcomer
                .write_all(b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let r = read_response(&mut newcomer, &mut Vec::new(), false).unwrap();
            assert_eq!(r.text(), "GET /new");
            let took = t.elapsed();
            assert!(took < Duration::from_millis(300), "{took:?}");
            // The displaced connection ends cleanly, with close_notify.
            let mut b = [0u8; 16];
            assert_eq!(idle.read(&mut b).unwrap(), 0);
        },
    );
}

#[test]
fn graceful_shutdown_with_an_idle_tls_connection_finishes_at_once() {
    watchdog(
        "graceful_shutdown_with_an_idle_tls_connection_finishes_at_once",
        Duration::from_secs(20),
        || {
            let mut s = start_tls(Config::default(), app);
            let mut c = tls_connect(s.addr, "localhost", NET_CA);
            c.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let r = read_response(&mut c, &mut Vec::new(), false).unwrap();
            assert_eq!(r.text(), "GET /a");
            let t = Instant::now();
            s.shutdown.shutdown(Duration::from_secs(10));
            s.thread.take().unwrap().join().unwrap().unwrap();
            let took = t.elapsed();
            eprintln!("shutdown with an idle TLS connection took {took:?}");
            assert!(took < Duration::from_millis(300), "{took:?}");
            // The client reads a clean end of stream (close_notify).
            let mut b = [0u8; 16];
            assert_eq!(c.read(&mut b).unwrap(), 0);
        },
    );
}

#[test]
fn tls_settings_refuse_bad_pem_and_mismatched_keys() {
    watchdog(
        "tls_settings_refuse_bad_pem_and_mismatched_keys",
        Duration::from_secs(10),
        || {
            use fibra_http::tls::{ClientAuth, Identity};
            let e = Identity::from_pem(b"not pem", b"not pem").unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
            // a.test's key does not belong to the localhost certificate.
            let e = Identity::from_pem(NET_CERT, util::tls::A_KEY).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
            let e = Identity::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
            assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
            assert!(ClientAuth::required(b"").is_err());
            let id = Identity::from_pem_files(
                util::tls::data_path("a.test.pem"),
                util::tls::data_path("a.test.key"),
            )
            .unwrap();
            assert_eq!(id.cert_chain()[0], util::tls::leaf(util::tls::A_CERT));
        },
    );
}
