//! Hostile and malformed input: each test sends raw bytes and checks the
//! status line and whether the connection was closed.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fibra_http::{Config, Error, Request, Response};
use util::{assert_refused, connect, exchange, is_closed, read_response, start, TestServer};

/// Echoes `METHOD PATH BODYLEN`, reading the body unless the path is
/// `/ignore`.
fn echo(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let len = if req.path() == "/ignore" {
        0
    } else {
        req.body_bytes()?.len()
    };
    resp.text(format!("{} {} {len}", req.method(), req.path()));
    Ok(())
}

fn server() -> TestServer {
    start(
        Config {
            max_body_size: 1024,
            header_read_timeout: Duration::from_millis(500),
            ..Config::default()
        },
        echo,
    )
}

#[test]
fn transfer_encoding_with_content_length() {
    let s = server();
    assert_refused(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
    );
    assert_refused(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn transfer_encoding_not_ending_in_chunked() {
    let s = server();
    for te in [
        "identity",
        "chunked, gzip",
        "gzip",
        "chunked, chunked",
        "xchunked",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert_refused(s.addr, raw.as_bytes(), 400);
    }
    assert_refused(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
}

#[test]
fn transfer_encoding_on_http10() {
    let s = server();
    assert_refused(
        s.addr,
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn conflicting_content_lengths() {
    let s = server();
    assert_refused(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    );
    assert_refused(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd",
        400,
    );
    // Identical repeats are allowed (RFC 9112 section 6.3).
    let (resp, closed) = exchange(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(
        (resp.status, resp.text().as_str(), closed),
        (200, "POST / 3", false)
    );
}

#[test]
fn malformed_content_length() {
    let s = server();
    for cl in [
        "+5",
        "-1",
        "0x10",
        "5 5",
        " ",
        "1_0",
        "99999999999999999999999",
        "5a",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {cl}\r\n\r\nhello");
        assert_refused(s.addr, raw.as_bytes(), 400);
    }
}

#[test]
fn bad_chunk_sizes() {
    let s = server();
    for body in [
        "0x5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "g\r\nhello\r\n0\r\n\r\n",
        "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
        assert_refused(s.addr, raw.as_bytes(), 400);
    }
}

#[test]
fn bare_cr_obs_fold_and_bad_names() {
    let s = server();
    let cases: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
        b"GET / HTTP/1.1\rHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX\x00A: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for raw in cases {
        assert_refused(s.addr, raw, 400);
    }
}

#[test]
fn request_line_too_long() {
    let s = server();
    let raw = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    assert_refused(s.addr, raw.as_bytes(), 414);
    // Refused before the line is even complete.
    let raw = format!("GET /{}", "a".repeat(9000));
    assert_refused(s.addr, raw.as_bytes(), 414);
}

#[test]
fn headers_too_large_or_too_many() {
    let s = server();
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_refused(s.addr, raw.as_bytes(), 431);
    let mut raw = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        raw.push_str(&format!("X-{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    assert_refused(s.addr, raw.as_bytes(), 431);
}

#[test]
fn body_too_large() {
    let s = server();
    // Declared too large: refused before reading; the body is not drained.
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n{}",
        "a".repeat(2000)
    );
    assert_refused(s.addr, raw.as_bytes(), 413);
    // Chunked, found too large while reading.
    let mut raw = String::from("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..3 {
        raw.push_str(&format!("200\r\n{}\r\n", "b".repeat(512)));
    }
    raw.push_str("0\r\n\r\n");
    let (resp, _) = exchange(s.addr, raw.as_bytes());
    assert_eq!(resp.status, 413);
}

#[test]
fn header_read_timeout() {
    let s = server();
    let mut c = connect(s.addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let resp = read_response(&mut c, &mut buf, false).expect("408");
    assert_eq!(resp.status, 408);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(is_closed(&mut c, &buf, Duration::from_secs(2)));
}

#[test]
fn idle_connection_without_request_times_out() {
    let s = server();
    let mut c = connect(s.addr);
    let mut buf = Vec::new();
    let resp = read_response(&mut c, &mut buf, false).expect("408");
    assert_eq!(resp.status, 408);
    assert!(is_closed(&mut c, &buf, Duration::from_secs(2)));
}

#[test]
fn unread_body_is_not_parsed_as_next_request() {
    let s = server();
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let raw = format!(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}GET /second HTTP/1.1\r\nHost: x\r\n\r\n",
        smuggled.len()
    );
    let mut c = connect(s.addr);
    c.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let r1 = read_response(&mut c, &mut buf, false).unwrap();
    let r2 = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r1.text(), "POST /ignore 0");
    assert_eq!(r2.text(), "GET /second 0");
    assert!(!is_closed(&mut c, &buf, Duration::from_millis(200)));

    // The same with a chunked body.
    let raw = format!(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n",
        smuggled.len()
    );
    let mut c = connect(s.addr);
    c.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut c, &mut buf, false).unwrap().text(),
        "POST /ignore 0"
    );
    assert_eq!(
        read_response(&mut c, &mut buf, false).unwrap().text(),
        "GET /second 0"
    );
}

#[test]
fn large_unread_body_closes_the_connection() {
    let s = server();
    let mut c = connect(s.addr);
    c.write_all(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r.text(), "POST /ignore 0");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut c, &buf, Duration::from_secs(2)));
}

#[test]
fn response_header_injection_is_refused() {
    let s = start(
        Config::default(),
        |_req: &mut Request, resp: &mut Response| {
            let refused = ["a\r\nInjected: 1", "a\nInjected: 1", "a\rb", "a\0b"]
                .iter()
                .all(|v| resp.header("x-test", v).is_err());
            let bad_name = resp.header("x-a\r\nInjected", "1").is_err();
            resp.text(format!("{refused} {bad_name}"));
            Ok(())
        },
    );
    let (resp, closed) = exchange(s.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.text(), "true true");
    assert!(resp.header("injected").is_none());
    assert!(resp.header("x-test").is_none());
    assert!(!closed);
}

#[test]
fn slowloris_does_not_starve_others() {
    let s = start(
        Config {
            header_read_timeout: Duration::from_secs(2),
            ..Config::default()
        },
        echo,
    );
    let head = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut slow: Vec<TcpStream> = (0..200).map(|_| connect(s.addr)).collect();
    let start_t = Instant::now();
    let mut step = 0;
    let mut served = Vec::new();
    let mut cut_off = 0;
    while start_t.elapsed() < Duration::from_millis(3500) {
        for c in &mut slow {
            if step < head.len() {
                // Errors mean the server hung up: counted below.
                let _ = c.write_all(&head[step..step + 1]);
            }
        }
        step += 1;
        if step % 5 == 0 {
            let t = Instant::now();
            assert_eq!(get(s.addr).text(), "GET / 0");
            served.push(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for c in &mut slow {
        let mut buf = Vec::new();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        if let Some(r) = read_response(c, &mut buf, false) {
            assert_eq!(r.status, 408);
            cut_off += 1;
        }
    }
    assert_eq!(
        cut_off, 200,
        "every slow client is cut off by the header timeout"
    );
    let worst = served.iter().max().unwrap();
    assert!(
        *worst < Duration::from_secs(1),
        "a normal request took {worst:?} during the slowloris"
    );
}

/// One quick request on a fresh connection.
fn get(addr: std::net::SocketAddr) -> util::Resp {
    let mut c = connect(addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut c, &mut Vec::new(), false).expect("a response")
}
