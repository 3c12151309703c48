//! Server behaviour over raw sockets: keep-alive, pipelining, HTTP/1.0,
//! HEAD, 100-continue, streaming, panics, upgrades, limits and shutdown.

mod util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use fibra_http::{Config, Error, Request, Response, StatusCode};
use util::{connect, exchange, is_closed, read_response, start};

/// Routes on the path, like a tiny application.
fn app(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    match req.path() {
        "/echo" => {
            let body = req.body_bytes()?;
            resp.header("x-method", req.method().as_str())?;
            resp.body(body);
        }
        "/query" => {
            let a = req.query_param("a").unwrap_or_default();
            let c = req.cookie("session").unwrap_or("-").to_string();
            resp.text(format!("{a}|{c}|{}", req.remote_addr().ip()));
        }
        "/form" => {
            let form = req.form()?;
            let s: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
            resp.text(s.join(","));
        }
        "/stream" => {
            let mut w = resp.writer();
            for i in 0..3 {
                write!(w, "part{i};")?;
                w.flush()?;
            }
        }
        "/sized-stream" => {
            resp.header("content-length", "10")?;
            resp.writer().write_all(b"0123456789")?;
        }
        "/panic" => panic!("handler exploded"),
        "/teapot" => return Err(Error::new(StatusCode::IM_A_TEAPOT, "short and stout")),
        "/fail" => return Err(Error::internal(std::io::Error::other("secret detail"))),
        "/close-me" => {
            resp.header("connection", "close")?;
            resp.text("bye");
        }
        #[cfg(feature = "json")]
        "/json" => {
            #[derive(serde::Deserialize, serde::Serialize)]
            struct Point {
                x: i32,
                y: i32,
            }
            let p: Point = req.json()?;
            resp.json(&Point { x: p.y, y: p.x })?;
        }
        "/slow" => {
            fibra_runtime::sleep(Duration::from_millis(300));
            resp.text("slow done");
        }
        "/wait-body" => {
            let n = req.body_bytes()?.len();
            resp.text(format!("got {n}"));
        }
        "/upgrade" => {
            resp.header("upgrade", "echo")?;
            resp.header("connection", "upgrade")?;
            resp.upgrade(|mut up| {
                let mut b = [0u8; 64];
                while let Ok(n) = up.read(&mut b) {
                    if n == 0 || up.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        _ => {
            resp.text(format!("{} {}", req.method(), req.uri()));
        }
    }
    Ok(())
}

#[test]
fn keep_alive_and_pipelining() {
    let s = start(Config::default(), app);
    let mut c = connect(s.addr);
    c.write_all(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    let texts: Vec<String> = (0..3)
        .map(|_| read_response(&mut c, &mut buf, false).unwrap().text())
        .collect();
    assert_eq!(texts, ["GET /a", "hello", "GET /b?x=1"]);
    // Still open for more.
    c.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(
        read_response(&mut c, &mut buf, false).unwrap().text(),
        "GET /c"
    );
    c.write_all(b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut c, &buf, Duration::from_secs(2)));
}

#[test]
fn http10() {
    let s = start(Config::default(), app);
    let (r, closed) = exchange(s.addr, b"GET /x HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.text().as_str(), closed), (200, "GET /x", true));
    let (r, closed) = exchange(s.addr, b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert!(!closed);
    // Streaming on HTTP/1.0: no chunked encoding; the close ends the body.
    let (r, closed) = exchange(s.addr, b"GET /stream HTTP/1.0\r\n\r\n");
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!((r.text().as_str(), closed), ("part0;part1;part2;", true));
}

#[test]
fn head_keeps_length_and_drops_body() {
    let s = start(Config::default(), app);
    let mut c = connect(s.addr);
    c.write_all(b"HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\nGET /abc HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let head = read_response(&mut c, &mut buf, true).unwrap();
    assert_eq!(head.header("content-length"), Some("9")); // "HEAD /abc"
    let get = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(get.text(), "GET /abc");
}

#[test]
fn expect_100_continue() {
    let s = start(Config::default(), app);
    let mut c = connect(s.addr);
    c.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r.status, 100);
    c.write_all(b"ping").unwrap();
    let r = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ping"));

    // A handler that never reads the body: no 100, and the connection
    // closes since the client may or may not send the body.
    let (r, closed) = exchange(
        s.addr,
        b"POST /nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.header("connection"), closed),
        (200, Some("close"), true)
    );
}

#[test]
fn streaming_writer() {
    let s = start(Config::default(), app);
    let (r, closed) = exchange(s.addr, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!((r.text().as_str(), closed), ("part0;part1;part2;", false));
    let (r, closed) = exchange(s.addr, b"GET /sized-stream HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("content-length"), Some("10"));
    assert_eq!((r.text().as_str(), closed), ("0123456789", false));
}

#[test]
fn query_form_cookie() {
    let s = start(Config::default(), app);
    let (r, _) = exchange(
        s.addr,
        b"GET /query?a=x%20y&a=2 HTTP/1.1\r\nHost: x\r\nCookie: a=1; session=\"s3\"\r\n\r\n",
    );
    assert_eq!(r.text(), "x y|s3|127.0.0.1");
    let (r, _) = exchange(
        s.addr,
        b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\nk=v+w&e=%C3%A9",
    );
    assert_eq!(r.text(), "k=v w,e=\u{e9}");
    let (r, _) = exchange(
        s.addr,
        b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nk",
    );
    assert_eq!(r.status, 415);
}

#[test]
fn panic_becomes_500_and_server_survives() {
    let s = start(Config::default(), app);
    let (r, closed) = exchange(s.addr, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, closed), (500, true));
    let (r, _) = exchange(s.addr, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "GET /after"));
}

#[test]
fn handler_errors_map_to_status() {
    let s = start(Config::default(), app);
    let (r, closed) = exchange(s.addr, b"GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        (r.status, r.text().as_str(), closed),
        (418, "short and stout\n", false)
    );
    let (r, _) = exchange(s.addr, b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 500);
    assert!(
        !r.text().contains("secret"),
        "internal detail leaked: {}",
        r.text()
    );
}

#[test]
fn upgrade_hands_over_the_connection() {
    let s = start(Config::default(), app);
    let mut c = connect(s.addr);
    // Bytes sent right after the request reach the upgraded side.
    c.write_all(
        b"GET /upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nearly",
    )
    .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r.status, 101);
    assert_eq!(r.header("connection"), Some("upgrade"));
    while buf.len() < 5 {
        let mut b = [0u8; 16];
        let n = c.read(&mut b).unwrap();
        buf.extend_from_slice(&b[..n]);
    }
    assert_eq!(buf, b"early");
    c.write_all(b"more").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"more");
}

#[test]
fn request_timeout() {
    let s = start(
        Config {
            request_timeout: Some(Duration::from_millis(300)),
            ..Config::default()
        },
        app,
    );
    let t = Instant::now();
    let (r, closed) = exchange(
        s.addr,
        b"POST /wait-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    );
    assert_eq!((r.status, closed), (408, true));
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn max_requests_per_connection() {
    let s = start(
        Config {
            max_requests_per_connection: Some(2),
            ..Config::default()
        },
        app,
    );
    let mut c = connect(s.addr);
    c.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let r1 = read_response(&mut c, &mut buf, false).unwrap();
    let r2 = read_response(&mut c, &mut buf, false).unwrap();
    assert_eq!(r1.header("connection"), None);
    assert_eq!(r2.header("connection"), Some("close"));
    assert!(is_closed(&mut c, &buf, Duration::from_secs(2)));
}

#[test]
fn max_connections_applies_back_pressure() {
    let s = start(
        Config {
            max_connections: 2,
            ..Config::default()
        },
        app,
    );
    let c1 = connect(s.addr);
    let _c2 = connect(s.addr);
    std::thread::sleep(Duration::from_millis(200));
    let mut c3 = connect(s.addr);
    c3.write_all(b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c3.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(c3.read(&mut b).is_err(), "served past max_connections");
    drop(c1);
    let t = Instant::now();
    c3.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = read_response(&mut c3, &mut Vec::new(), false).unwrap();
    assert_eq!(r.text(), "GET /third");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn graceful_shutdown() {
    let mut s = start(Config::default(), app);
    // An idle keep-alive connection, and one with a request in flight.
    let mut idle = connect(s.addr);
    idle.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut idle_buf = Vec::new();
    read_response(&mut idle, &mut idle_buf, false).unwrap();
    let mut busy = connect(s.addr);
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let t = Instant::now();
    s.shutdown.shutdown(Duration::from_secs(5));
    assert!(is_closed(&mut idle, &idle_buf, Duration::from_secs(1)));
    let mut buf = Vec::new();
    let r = read_response(&mut busy, &mut buf, false).unwrap();
    assert_eq!(r.text(), "slow done");
    assert_eq!(r.header("connection"), Some("close"));
    s.thread.take().unwrap().join().unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The listener is closed once serve returns.
    assert!(
        std::net::TcpStream::connect(s.addr).is_err(),
        "still accepting"
    );
}

#[test]
fn shutdown_cuts_off_requests_after_the_grace_period() {
    let mut s = start(Config::default(), app);
    let mut stuck = connect(s.addr);
    // The body never arrives.
    stuck
        .write_all(b"POST /wait-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    s.shutdown.shutdown(Duration::from_millis(300));
    s.thread.take().unwrap().join().unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let mut b = [0u8; 256];
    // Either a response to the canceled read or a plain close; never a hang.
    let _ = stuck.read(&mut b);
}

#[test]
fn handler_can_close_the_connection() {
    let s = start(Config::default(), app);
    let (r, closed) = exchange(s.addr, b"GET /close-me HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        (r.text().as_str(), r.header("connection"), closed),
        ("bye", Some("close"), true)
    );
}

#[cfg(feature = "json")]
#[test]
fn json_in_and_out() {
    let s = start(Config::default(), app);
    let body = r#"{"x":1,"y":2}"#;
    let raw = format!(
        "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (r, _) = exchange(s.addr, raw.as_bytes());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"x":2,"y":1}"#);
    let (r, _) = exchange(
        s.addr,
        b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{x}",
    );
    assert_eq!(r.status, 400);
}
