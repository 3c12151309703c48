//! The EventSource on `fibra_http::Client`: `https://`, an HTTP proxy,
//! the client's header timeout, and its overall timeout lifted from the
//! stream.

mod client_util;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_util::{fibra_server, proxy, read_head};
use fibra_http::client::Proxy;
use fibra_http::sse::{Event, EventSource, EventStreamExt};
use fibra_http::{Client, Config, StatusCode};

type Log = Arc<Mutex<Vec<Option<String>>>>;

/// An event stream server: without `Last-Event-ID`, events `one` (id 1)
/// and `two` (id 2) with `retry: 20`, then the stream ends; with it, `204`
/// (the stream is over). Logs each request's `Last-Event-ID`.
fn two_events_server() -> (client_util::FibraServer, Log) {
    let log = Log::default();
    let seen = log.clone();
    let server = fibra_server(Config::default(), move |req, resp| {
        let last = req.header("last-event-id").map(str::to_owned);
        seen.lock().unwrap().push(last.clone());
        if last.is_some() {
            resp.status(StatusCode::NO_CONTENT);
            return Ok(());
        }
        let mut s = resp.event_stream();
        s.retry(Duration::from_millis(20))?;
        s.send(&Event::new("one").id("1")?)?;
        s.send(&Event::new("two").id("2")?)?;
        Ok(())
    });
    (server, log)
}

fn data(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}

#[cfg(feature = "tls")]
#[test]
fn event_source_over_https() {
    use std::io::Write;

    const CA: &[u8] = include_bytes!("../../net/tests/data/ca.pem");
    const CERT: &[u8] = include_bytes!("../../net/tests/data/localhost.pem");
    const KEY: &[u8] = include_bytes!("../../net/tests/data/localhost.key");

    // The same stream as `two_events_server`, over TLS, by hand; logs the
    // request heads.
    let acceptor = fibra_net::tls::TlsAcceptor::from_pem(CERT, KEY).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let log = heads.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let (acceptor, log) = (acceptor.clone(), log.clone());
            std::thread::spawn(move || {
                let Ok(mut tls) = acceptor.accept(tcp) else {
                    return;
                };
                loop {
                    let head = read_head(&mut tls).to_ascii_lowercase();
                    if head.is_empty() {
                        return;
                    }
                    let resume = head.contains("\r\nlast-event-id:");
                    log.lock().unwrap().push(head);
                    let reply = if resume {
                        "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
                    } else {
                        let body = "retry: 20\n\nid: 1\ndata: one\n\nid: 2\ndata: two\n\n";
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                            body.len()
                        )
                    };
                    if tls.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });

    let client = Client::builder()
        .no_proxy()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(CA)
        .build()
        .unwrap();
    let es = EventSource::builder()
        .client(client)
        .connect(&format!("https://localhost:{port}/feed"))
        .unwrap();
    let events: Vec<Event> = es.map(Result::unwrap).collect();
    assert_eq!(data(&events), ["one", "two"]);
    assert_eq!(events[1].id.as_deref(), Some("2"));
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "{heads:?}");
    for h in &heads {
        assert!(h.starts_with("get /feed http/1.1\r\n"), "{h}");
        assert!(h.contains("\r\naccept: text/event-stream\r\n"), "{h}");
        assert!(h.contains("\r\ncache-control: no-cache\r\n"), "{h}");
    }
    assert!(!heads[0].contains("last-event-id"), "{}", heads[0]);
    assert!(
        heads[1].contains("\r\nlast-event-id: 2\r\n"),
        "{}",
        heads[1]
    );
}

#[test]
fn event_source_through_a_proxy() {
    let (server, seen) = two_events_server();
    let (proxy_addr, log) = proxy();
    let client = Client::builder()
        .proxy(Proxy::http(&proxy_addr.to_string()).unwrap())
        .build()
        .unwrap();
    let url = server.url("/feed");
    let es = EventSource::builder().client(client).connect(&url).unwrap();
    let events: Vec<Event> = es.map(Result::unwrap).collect();
    assert_eq!(data(&events), ["one", "two"]);
    assert_eq!(*seen.lock().unwrap(), [None, Some("2".to_owned())]);
    let log = log.lock().unwrap().clone();
    assert_eq!(log[0], format!("GET {url} HTTP/1.1"), "{log:?}");
}

#[test]
fn the_clients_header_timeout_bounds_connecting() {
    let addr = client_util::silent_server();
    let limit = Duration::from_millis(300);
    let client = Client::builder()
        .no_proxy()
        .response_header_timeout(limit)
        .build()
        .unwrap();
    let start = Instant::now();
    let err = EventSource::builder()
        .client(client)
        .connect(&format!("http://{addr}/"))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    fibra_testkit::assert_kept_limit(start.elapsed(), limit, Duration::from_millis(100));
}

#[test]
fn the_clients_timeout_never_cuts_a_quiet_stream() {
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let server = fibra_server(Config::default(), move |_req, resp| {
        *c.lock().unwrap() += 1;
        let mut s = resp.event_stream();
        s.send(&Event::new("first"))?;
        // Quiet for longer than the client's timeout.
        fibra_runtime::sleep(Duration::from_millis(600));
        s.send(&Event::new("second"))?;
        Ok(())
    });
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let es = EventSource::builder()
        .client(client)
        .reconnect(false)
        .connect(&server.url("/"))
        .unwrap();
    let events: Vec<Event> = es.map(Result::unwrap).collect();
    assert_eq!(data(&events), ["first", "second"]);
    assert_eq!(*calls.lock().unwrap(), 1);
}

#[test]
fn a_bad_url_is_invalid_input() {
    let err = EventSource::connect("ftp://example.com/").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}
