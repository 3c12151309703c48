//! A misbehaving server, one case per test: the client gives a clear error,
//! does not panic or grow without bound, and does not pool the poisoned
//! connection (the next request opens a new one and succeeds).

mod client_util;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use client_util::{raw_server, read_request, write, RawServer};
use fibra_http::client::Error;
use fibra_http::Client;

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Connection 0 runs `bad` after reading the request; later connections
/// answer `ok`.
fn bad_server(bad: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> RawServer {
    raw_server(move |mut s, n| {
        if n == 0 {
            if read_request(&mut s).is_ok() {
                bad(&mut s);
            }
            return;
        }
        while read_request(&mut s).is_ok() {
            write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    })
}

/// The first request fails as `check` wants; the next one succeeds on a
/// new connection.
#[track_caller]
fn first_fails(server: &RawServer, check: impl Fn(&Error) -> bool) {
    let client = client();
    let result = client.get(&server.url("/")).send().and_then(|r| r.bytes());
    match result {
        Ok(body) => panic!(
            "expected an error, got {:?}",
            String::from_utf8_lossy(&body)
        ),
        Err(e) => assert!(check(&e), "unexpected error: {e:?}"),
    }
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "ok"
    );
    assert_eq!(server.accepted(), 2);
}

#[test]
fn invalid_status_line() {
    let server = bad_server(|s| write(s, b"HTTP/1.1 abc Nope\r\n\r\n"));
    first_fails(&server, |e| {
        e.is_response() && e.to_string().contains("invalid status")
    });
    let server = bad_server(|s| write(s, b"SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    first_fails(&server, Error::is_response);
}

#[test]
fn oversized_head() {
    let server = bad_server(|s| {
        write(s, b"HTTP/1.1 200 OK\r\n");
        let line = format!("X-Big: {}\r\n", "a".repeat(8000));
        for _ in 0..1000 {
            if s.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    first_fails(&server, |e| {
        e.is_response() && e.to_string().contains("too large")
    });
    let server = bad_server(|s| {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..500 {
            head.push_str(&format!("X-{i}: 1\r\n"));
        }
        write(s, head.as_bytes());
    });
    first_fails(&server, Error::is_response);
}

#[test]
fn body_shorter_than_content_length() {
    let server = bad_server(|s| write(s, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
    first_fails(&server, |e| {
        e.is_body() && e.is_closed() && e.to_string().contains("5 bytes short")
    });
}

#[test]
fn body_longer_than_content_length() {
    let server = bad_server(|s| {
        write(
            s,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more",
        );
        std::thread::sleep(Duration::from_millis(200));
    });
    first_fails(&server, |e| {
        e.is_body() && e.to_string().contains("more data")
    });
}

#[test]
fn conflicting_content_length() {
    let server = bad_server(|s| {
        write(
            s,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        )
    });
    first_fails(&server, Error::is_response);
}

#[test]
fn bad_chunk_sizes() {
    for body in [
        &b"zz\r\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhelloXX0\r\n\r\n",
        b"-1\r\n",
        b"fffffffffffffffff\r\n",
    ] {
        let body = body.to_vec();
        let server = bad_server(move |s| {
            write(s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            write(s, &body);
            std::thread::sleep(Duration::from_millis(100));
        });
        first_fails(&server, |e| {
            e.is_body() && e.to_string().contains("malformed")
        });
    }
}

#[test]
fn connection_reset_mid_body() {
    let server = bad_server(|s| {
        write(s, b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        write(s, &[b'x'; 1000]);
        std::thread::sleep(Duration::from_millis(50));
        // SO_LINGER 0: close sends RST.
        let sock = socket2::SockRef::from(&*s);
        let _ = sock.set_linger(Some(Duration::ZERO));
    });
    first_fails(&server, |e| e.is_body() && e.is_closed());
}

#[test]
fn endless_body_hits_the_cap() {
    let server = bad_server(|s| {
        write(s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("4000\r\n{}\r\n", "y".repeat(0x4000));
        while s.write_all(chunk.as_bytes()).is_ok() {}
    });
    let client = Client::builder()
        .no_proxy()
        .max_body_bytes(2 << 20)
        .build()
        .unwrap();
    let err = client
        .get(&server.url("/"))
        .send()
        .unwrap()
        .bytes()
        .unwrap_err();
    assert!(
        err.is_body() && err.to_string().contains("larger than"),
        "{err}"
    );
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "ok"
    );
    assert_eq!(server.accepted(), 2);
    // Close-delimited and endless, read as a stream with a deadline.
    let server = bad_server(|s| {
        write(s, b"HTTP/1.1 200 OK\r\n\r\n");
        while s.write_all(&[b'z'; 4096]).is_ok() {}
    });
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut resp = client.get(&server.url("/")).send().unwrap();
    let err = std::io::copy(&mut resp, &mut std::io::sink()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
}

#[test]
fn closed_without_response() {
    let server = bad_server(|_| {});
    first_fails(&server, |e| e.is_response() && e.is_closed());
}

#[test]
fn garbage_after_response_on_an_idle_connection() {
    // A 204 followed later by bytes nobody asked for: the idle check drops
    // the connection. The second request waits until the garbage is sent
    // (a fixed sleep raced it on a loaded machine).
    let (sent_tx, sent) = std::sync::mpsc::channel();
    let sent_tx = std::sync::Mutex::new(sent_tx);
    let server = bad_server(move |s| {
        write(s, b"HTTP/1.1 204 No Content\r\n\r\n");
        std::thread::sleep(Duration::from_millis(30));
        write(s, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
        let _ = sent_tx.lock().unwrap().send(());
        std::thread::sleep(Duration::from_millis(300));
    });
    let client = client();
    let resp = client.get(&server.url("/")).send().unwrap();
    assert_eq!(resp.status(), fibra_http::StatusCode::NO_CONTENT);
    drop(resp);
    sent.recv_timeout(Duration::from_secs(5))
        .expect("the server sent its garbage");
    // Loopback delivers a finished write at once; leave a moment anyway.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "ok"
    );
    assert_eq!(server.accepted(), 2);
}
