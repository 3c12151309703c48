//! The HTTP client against the fibra server (in-process) and Python's
//! http.server: bodies both ways, pooling, redirects, timeouts,
//! decompression, `Expect: 100-continue`, Unix sockets.

mod client_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use client_util::{assert_contains, fibra_server, raw_server, read_head, read_request, write};
use fibra_http::client::Body;
use fibra_http::{Client, Config, StatusCode};

fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

fn echo(
    req: &mut fibra_http::Request,
    resp: &mut fibra_http::Response,
) -> Result<(), fibra_http::Error> {
    let body = req.body_bytes()?;
    let te = req.header("transfer-encoding").unwrap_or("-").to_owned();
    let line = format!(
        "{} {} x-a={} te={} len={} body={}",
        req.method(),
        req.uri(),
        req.header("x-a").unwrap_or("-"),
        te,
        body.len(),
        String::from_utf8_lossy(&body[..body.len().min(32)])
    );
    resp.text(line);
    Ok(())
}

#[test]
fn get_reuses_one_pooled_connection() {
    let server = fibra_server(Config::default(), echo);
    let client = client();
    let c = client.clone();
    let base = server.url("");
    fibra_runtime::run(move || {
        for i in 0..20 {
            let text = c
                .get(&format!("{base}/n/{i}"))
                .send()
                .unwrap()
                .text()
                .unwrap();
            assert_eq!(text, format!("GET /n/{i} x-a=- te=- len=0 body="));
        }
    });
    assert_eq!(server.connections(), 1);
    assert_eq!(client.idle_connections(), 1);
}

#[test]
fn one_liners_and_methods() {
    let server = fibra_server(Config::default(), echo);
    let text = fibra_http::get(&server.url("/one"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "GET /one x-a=- te=- len=0 body=");
    let text = fibra_http::post(&server.url("/p"), "data")
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "POST /p x-a=- te=- len=4 body=data");
    let text = fibra_http::put(&server.url("/p"), b"xy".to_vec())
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "PUT /p x-a=- te=- len=2 body=xy");
    let text = fibra_http::delete(&server.url("/d"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "DELETE /d x-a=- te=- len=0 body=");
}

#[test]
fn headers_query_and_bodies() {
    let server = fibra_server(Config::default(), echo);
    let client = client();
    let resp = client
        .post(&server.url("/q?z=0"))
        .header("x-a", "one")
        .query(&[("k", "a b"), ("e", "é&")])
        .body(String::from("hello"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        resp.text().unwrap(),
        "POST /q?z=0&k=a+b&e=%C3%A9%26 x-a=one te=- len=5 body=hello"
    );
    // A reader of unknown length goes chunked.
    let data = vec![b'x'; 200_000];
    let text = client
        .put(&server.url("/up"))
        .body(Body::from_reader(std::io::Cursor::new(data.clone())))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_contains(&text, "te=chunked len=200000");
    // A sized reader goes with Content-Length.
    let text = client
        .put(&server.url("/up"))
        .body(Body::sized(std::io::Cursor::new(data), 200_000))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_contains(&text, "te=- len=200000");
    // A sized reader that ends early fails the request, not the process.
    let err = client
        .put(&server.url("/up"))
        .body(Body::sized(std::io::Cursor::new(vec![1u8; 10]), 100))
        .send()
        .unwrap_err();
    assert!(err.is_request(), "{err}");
    // A form body.
    let text = client
        .post(&server.url("/f"))
        .form(&[("a", "1 2")])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_contains(&text, "body=a=1+2");
}

#[test]
fn streamed_chunked_response_then_reuse() {
    let server = fibra_server(Config::default(), |_req, resp| {
        let mut w = resp.writer();
        for i in 0..100u8 {
            w.write_all(&[i; 10_000])?;
        }
        Ok(())
    });
    let client = client();
    let mut resp = client.get(&server.url("/big")).send().unwrap();
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let mut total = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        let n = resp.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, 1_000_000);
    drop(resp);
    let again = client
        .get(&server.url("/big"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(again.len(), 1_000_000);
    assert_eq!(server.connections(), 1);
    // A body cap fails a larger body.
    let err = client
        .get(&server.url("/big"))
        .send()
        .unwrap()
        .bytes_limited(1000)
        .unwrap_err();
    assert!(err.is_body(), "{err}");
}

#[test]
fn head_has_no_body_and_keeps_the_connection() {
    let server = fibra_server(Config::default(), |_req, resp| {
        resp.text("twelve bytes");
        Ok(())
    });
    let client = client();
    for _ in 0..3 {
        let resp = client.head(&server.url("/")).send().unwrap();
        assert_eq!(resp.content_length(), Some(12));
        assert!(resp.bytes().unwrap().is_empty());
    }
    assert_eq!(server.connections(), 1);
}

#[test]
fn gzip_and_deflate_are_decoded() {
    use flate2::write::{GzEncoder, ZlibEncoder};
    let text = "compressible ".repeat(1000);
    let gz = {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let zl = {
        let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let server = fibra_server(Config::default(), move |req, resp| {
        let accept = req.header("accept-encoding").unwrap_or("").to_owned();
        assert_contains(&accept, "gzip");
        if req.path() == "/gz" {
            resp.header("content-encoding", "gzip")?;
            resp.body(gz.clone());
        } else if req.path() == "/bad" {
            resp.header("content-encoding", "gzip")?;
            resp.body(b"not gzip at all".to_vec());
        } else {
            resp.header("content-encoding", "deflate")?;
            resp.body(zl.clone());
        }
        Ok(())
    });
    let client = client();
    let resp = client.get(&server.url("/gz")).send().unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.text().unwrap(), text);
    assert_eq!(
        client
            .get(&server.url("/zl"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        text
    );
    // HEAD of an encoded resource: no body to decode.
    let head = client.head(&server.url("/gz")).send().unwrap();
    assert_eq!(head.headers()["content-encoding"], "gzip");
    assert!(head.bytes().unwrap().is_empty());
    assert_eq!(server.connections(), 1);
    let err = client
        .get(&server.url("/bad"))
        .send()
        .unwrap()
        .bytes()
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    // Off: the raw bytes come through.
    let raw = Client::builder()
        .no_proxy()
        .decompress(false)
        .build()
        .unwrap();
    let body = raw
        .get(&server.url("/gz"))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b]);
}

#[test]
fn redirects_rewrite_methods_and_stop() {
    let other = fibra_server(Config::default(), |req, resp| {
        let auth = req.header("authorization").unwrap_or("none").to_owned();
        let cookie = req.header("cookie").unwrap_or("none").to_owned();
        resp.text(format!("other auth={auth} cookie={cookie}"));
        Ok(())
    });
    let other_url = format!("http://localhost:{}/x", other.addr.port());
    let server = fibra_server(Config::default(), move |req, resp| {
        let path = req.path().to_owned();
        let redirect = |resp: &mut fibra_http::Response, code: u16, to: &str| {
            resp.status(StatusCode::from_u16(code).unwrap());
            resp.header("location", to).map(|_| ())
        };
        match path.as_str() {
            "/301" => redirect(resp, 301, "/end")?,
            "/302" => redirect(resp, 302, "end")?,
            "/303" => redirect(resp, 303, "/end")?,
            "/307" => redirect(resp, 307, "/end")?,
            "/308" => redirect(resp, 308, "/end")?,
            "/loop" => redirect(resp, 302, "/loop")?,
            "/away" => redirect(resp, 302, &other_url)?,
            "/same" => redirect(resp, 302, "/auth")?,
            "/auth" => {
                let auth = req.header("authorization").unwrap_or("none").to_owned();
                resp.text(format!("same auth={auth}"));
            }
            _ => return echo(req, resp),
        }
        Ok(())
    });
    let client = client();
    let post = |path: &str| {
        let resp = client
            .post(&server.url(path))
            .body("payload")
            .send()
            .unwrap();
        let url = resp.url().to_string();
        (url, resp.text().unwrap())
    };
    for code in ["/301", "/302", "/303"] {
        let (url, text) = post(code);
        assert_eq!(text, "GET /end x-a=- te=- len=0 body=", "{code}");
        assert!(url.ends_with("/end"), "{url}");
    }
    for code in ["/307", "/308"] {
        let (_, text) = post(code);
        assert_eq!(text, "POST /end x-a=- te=- len=7 body=payload", "{code}");
    }
    // A streamed body cannot be replayed: the 307 comes back as is.
    let resp = client
        .post(&server.url("/307"))
        .body(Body::from_reader(std::io::Cursor::new(b"abc".to_vec())))
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
    drop(resp);
    let err = client.get(&server.url("/loop")).send().unwrap_err();
    assert!(err.is_redirect(), "{err}");
    // Credentials stay on the same host, and are dropped for another.
    let text = client
        .get(&server.url("/same"))
        .bearer_auth("t")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "same auth=Bearer t");
    let text = client
        .get(&server.url("/away"))
        .bearer_auth("t")
        .header("cookie", "a=b")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "other auth=none cookie=none");
    // Redirects off.
    let manual = Client::builder()
        .no_proxy()
        .max_redirects(0)
        .build()
        .unwrap();
    let resp = manual.get(&server.url("/301")).send().unwrap();
    assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.headers()["location"], "/end");
}

#[test]
fn max_connections_per_host_makes_callers_wait() {
    let server = fibra_server(Config::default(), |req, resp| {
        let ms = req
            .query_param("ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        fibra_runtime::sleep(Duration::from_millis(ms));
        resp.text("slow");
        Ok(())
    });
    let client = Client::builder()
        .no_proxy()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let url = server.url("/");
    let start = Instant::now();
    let (c, u) = (client.clone(), url.clone());
    fibra_runtime::run(move || {
        let (client, url) = (c, u);
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                fibra_runtime::spawn(move || client.get(&url).send().unwrap().text().unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), "slow");
        }
    });
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
    assert!(server.connections() <= 2, "{}", server.connections());
    // With a short pool timeout, a waiter gives up.
    let client = Client::builder()
        .no_proxy()
        .max_connections_per_host(1)
        .pool_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    fibra_runtime::run(move || {
        let c = client.clone();
        let u = format!("{url}?ms=1000");
        let first = fibra_runtime::spawn(move || c.get(&u).send().map(|r| r.bytes().is_ok()));
        fibra_runtime::sleep(Duration::from_millis(200));
        let err = client.get(&url).send().unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(first.join().unwrap().unwrap());
    });
}

#[test]
fn idle_limits_and_idle_timeout() {
    let server = fibra_server(Config::default(), |_req, resp| {
        fibra_runtime::sleep(Duration::from_millis(50));
        resp.text("ok");
        Ok(())
    });
    let client = Client::builder()
        .no_proxy()
        .max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let (c, url) = (client.clone(), server.url("/"));
    fibra_runtime::run(move || {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (c, url) = (c.clone(), url.clone());
                fibra_runtime::spawn(move || c.get(&url).send().unwrap().text().unwrap())
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), "ok");
        }
    });
    assert_eq!(server.connections(), 4);
    assert_eq!(client.idle_connections(), 1);
    // Idle past the timeout: closed, and the next request opens a new one.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "ok"
    );
    assert_eq!(server.connections(), 5);
}

#[test]
fn idle_connection_closed_by_server_is_replaced() {
    // Connection 0 answers once, then the server closes it while idle.
    let server = raw_server(|mut s, _| {
        if read_request(&mut s).is_ok() {
            write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
        std::thread::sleep(Duration::from_millis(20));
    });
    let client = client();
    for _ in 0..3 {
        assert_eq!(
            client.get(&server.url("/")).send().unwrap().text().unwrap(),
            "ok"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.accepted(), 3);
}

#[test]
fn stale_connection_is_retried_once_for_idempotent_requests() {
    // The first connection answers one request, then reads the next one and
    // closes without answering (the race the idle check cannot see).
    let server = raw_server(|mut s, n| {
        if n == 0 {
            if read_request(&mut s).is_ok() {
                write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
            }
            let _ = read_request(&mut s);
            return;
        }
        while read_request(&mut s).is_ok() {
            write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
        }
    });
    let client = client();
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "first"
    );
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "again"
    );
    assert_eq!(server.accepted(), 2);

    // A POST is not retried.
    let server = raw_server(|mut s, n| {
        if n == 0 {
            if read_request(&mut s).is_ok() {
                write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
            }
            let _ = read_request(&mut s);
            return;
        }
        while read_request(&mut s).is_ok() {
            write(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain");
        }
    });
    assert_eq!(
        client.get(&server.url("/")).send().unwrap().text().unwrap(),
        "first"
    );
    let err = client.post(&server.url("/")).body("x").send().unwrap_err();
    assert!(err.is_response() && err.is_closed(), "{err:?}");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn timeouts_are_deadlines() {
    // Never answers.
    let silent = raw_server(|mut s, _| {
        let _ = read_head(&mut s);
        std::thread::sleep(Duration::from_secs(3));
    });
    let client = Client::builder()
        .no_proxy()
        .response_header_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = client.get(&silent.url("/")).send().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));

    // Stalls in the middle of the body: the request timeout covers it.
    let stall = raw_server(|mut s, _| {
        let _ = read_head(&mut s);
        write(
            &mut s,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart",
        );
        std::thread::sleep(Duration::from_secs(3));
    });
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let start = Instant::now();
    let resp = client.get(&stall.url("/")).send().unwrap();
    let err = resp.bytes().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));

    // An enclosing with_timeout scope also bounds a request.
    let client = self::client();
    let err = fibra_runtime::with_timeout(Duration::from_millis(100), || {
        client.get(&silent.url("/")).send().unwrap_err()
    });
    assert!(err.is_timeout(), "{err}");
}

#[test]
fn canceling_the_coroutine_ends_the_request() {
    let silent = raw_server(|mut s, _| {
        let _ = read_head(&mut s);
        std::thread::sleep(Duration::from_secs(3));
    });
    let url = silent.url("/");
    fibra_runtime::run(move || {
        let client = client();
        let h = fibra_runtime::spawn(move || client.get(&url).send().map(|_| ()));
        fibra_runtime::sleep(Duration::from_millis(50));
        h.cancel();
        let err = h.join().unwrap().unwrap_err();
        assert!(err.is_canceled(), "{err}");
    });
}

#[test]
fn expect_continue_for_large_bodies() {
    let server = fibra_server(Config::default(), echo);
    let client = Client::builder()
        .no_proxy()
        .expect_continue_threshold(Some(1024))
        .build()
        .unwrap();
    let text = client
        .post(&server.url("/e"))
        .body(vec![b'a'; 50_000])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_contains(&text, "len=50000");

    // A server that refuses before the body: its answer comes back, the body
    // is not sent and the connection is not reused.
    let refusing = raw_server(|mut s, _| {
        let head = read_head(&mut s);
        if head.to_ascii_lowercase().contains("expect: 100-continue") {
            write(
                &mut s,
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig",
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    });
    let resp = client
        .post(&refusing.url("/"))
        .body(vec![b'a'; 50_000])
        .send()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.text().unwrap(), "big");
    assert_eq!(client.idle_connections(), 1); // only the fibra server's

    // A server that never sends 100: the body goes after a short wait.
    let deaf = raw_server(|mut s, _| {
        if let Ok((_, body)) = read_request(&mut s) {
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                body.len().to_string().len(),
                body.len()
            );
            write(&mut s, reply.as_bytes());
        }
    });
    let client = Client::builder()
        .no_proxy()
        .expect_continue_threshold(Some(1024))
        .expect_continue_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let text = client
        .post(&deaf.url("/"))
        .body(vec![b'a'; 5000])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "5000");
}

#[test]
fn answer_sent_before_the_body_was_read_is_returned() {
    // No Expect: the server answers 413 and closes without reading the body.
    let refusing = raw_server(|mut s, _| {
        let _ = read_head(&mut s);
        write(
            &mut s,
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig",
        );
        let _ = s.shutdown(std::net::Shutdown::Write);
        std::thread::sleep(Duration::from_millis(100));
    });
    let client = Client::builder()
        .no_proxy()
        .expect_continue_threshold(None)
        .build()
        .unwrap();
    match client
        .post(&refusing.url("/"))
        .body(vec![b'a'; 32 << 20])
        .send()
    {
        Ok(resp) => {
            assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(client.idle_connections(), 0);
        }
        // The reset may also have discarded the answer: then a clear error.
        Err(e) => assert!(e.is_request() && e.is_closed(), "{e:?}"),
    }
}

#[test]
fn unix_socket_transport() {
    let dir = std::env::temp_dir().join(format!("fibra-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            std::thread::spawn(move || loop {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
                    line.len()
                );
                if s.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            });
        }
    });
    let client = client();
    let url = format!(
        "http+unix://{}/over/unix?x=1",
        fibra_http::client::unix_socket_host(&path)
    );
    let text = client.get(&url).send().unwrap().text().unwrap();
    assert_eq!(text, "GET /over/unix?x=1 HTTP/1.1");
    let via = Client::builder()
        .no_proxy()
        .unix_socket(&path)
        .build()
        .unwrap();
    let text = via.get("http://anything/y").send().unwrap().text().unwrap();
    assert_eq!(text, "GET /y HTTP/1.1");
    assert_eq!(
        via.get("http://anything/z").send().unwrap().text().unwrap(),
        "GET /z HTTP/1.1"
    );
    assert_eq!(via.open_connections(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_http_server_as_a_foreign_peer() {
    let dir = std::env::temp_dir().join(format!("fibra-client-py-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from python\n").unwrap();
    std::fs::write(dir.join("sub/index.html"), "<p>sub</p>").unwrap();
    let mut child = match std::process::Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("python3 is needed for this test: {e}"),
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut out = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") && out.read(&mut b).unwrap() == 1 {
        line.push(b[0]);
    }
    let line = String::from_utf8_lossy(&line);
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let base = format!("http://127.0.0.1:{port}");
    let client = client();
    let resp = client.get(&format!("{base}/hello.txt")).send().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().unwrap(), "hello from python\n");
    let resp = client.head(&format!("{base}/hello.txt")).send().unwrap();
    assert_eq!(resp.content_length(), Some(18));
    assert_eq!(
        client
            .get(&format!("{base}/missing"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // `/sub` redirects to `/sub/` (301), followed.
    let resp = client.get(&format!("{base}/sub")).send().unwrap();
    assert!(resp.url().to_string().ends_with("/sub/"));
    assert_eq!(resp.text().unwrap(), "<p>sub</p>");
    let _ = std::fs::remove_dir_all(&dir);
    drop(TcpStream::connect(("127.0.0.1", port)));
}

#[cfg(feature = "json")]
#[test]
fn json_both_ways() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: i32,
        y: i32,
    }
    let server = fibra_server(Config::default(), |req, resp| {
        let p: Point = req.json()?;
        resp.json(&Point { x: p.y, y: p.x })?;
        Ok(())
    });
    let client = client();
    let back: Point = client
        .post(&server.url("/swap"))
        .json(&Point { x: 1, y: 2 })
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(back, Point { x: 2, y: 1 });
    let err = client
        .get(&server.url("/swap"))
        .send()
        .unwrap()
        .json::<Point>()
        .unwrap_err();
    assert!(err.is_decode(), "{err}");
}
