//! Middleware over a real server: ordering across global, group and route
//! middleware, short-circuits, and the reference middleware (logging,
//! panic recovery, CORS, request ids, gzip).

mod util;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

use fibra_http::middleware::{
    middleware_fn, Cors, Gzip, HandlerExt, Logger, Middleware, Recover, RequestId,
};
use fibra_http::{handler_fn, Config, Error, Router, StatusCode};
use flate2::read::GzDecoder;
use util::{connect, get, read_response, send, start};

type Log = Arc<Mutex<Vec<String>>>;

/// Middleware that records `name>` before and `<name` after the rest.
fn tracer(log: &Log, name: &'static str) -> impl Middleware {
    let log = log.clone();
    middleware_fn(move |req, resp, next| {
        log.lock().unwrap().push(format!("{name}>"));
        let r = next.run(req, resp);
        log.lock().unwrap().push(format!("<{name}"));
        r
    })
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn middleware_runs_global_then_group_then_route() {
    let log: Log = Arc::default();
    let mut r = Router::new();
    r.middleware(tracer(&log, "global1"));
    let l = log.clone();
    let handler = handler_fn(move |_, resp| {
        l.lock().unwrap().push("handler".into());
        resp.text("ok");
        Ok(())
    });
    r.group("/outer", |outer| {
        outer.middleware(tracer(&log, "outer"));
        outer.group("/inner", |inner| {
            inner.middleware(tracer(&log, "inner1"));
            inner.middleware(tracer(&log, "inner2"));
            inner.get(
                "/x",
                handler
                    .clone()
                    .with(tracer(&log, "route1"))
                    .with(tracer(&log, "route2")),
            );
        });
        outer.get("/y", handler.clone());
    });
    // Global middleware added after the routes still applies to them.
    r.middleware(tracer(&log, "global2"));
    let s = start(Config::default(), r);

    assert_eq!(get(s.addr, "/outer/inner/x", "").text(), "ok");
    let expected = [
        "global1>", "global2>", "outer>", "inner1>", "inner2>", "route1>", "route2>", "handler",
        "<route2", "<route1", "<inner2", "<inner1", "<outer", "<global2", "<global1",
    ];
    assert_eq!(take(&log), expected);

    // A sibling route of the outer group skips the inner group's middleware.
    assert_eq!(get(s.addr, "/outer/y", "").text(), "ok");
    assert_eq!(
        take(&log),
        ["global1>", "global2>", "outer>", "handler", "<outer", "<global2", "<global1"]
    );

    // Global middleware sees 404s too; group middleware does not.
    assert_eq!(get(s.addr, "/outer/nowhere", "").status, 404);
    assert_eq!(take(&log), ["global1>", "global2>", "<global2", "<global1"]);
}

#[test]
fn middleware_can_short_circuit_and_rewrite() {
    let log: Log = Arc::default();
    let mut r = Router::new();
    r.middleware(tracer(&log, "global"));
    let l = log.clone();
    r.group("/admin", |admin| {
        admin.middleware(middleware_fn(|req, resp, next| {
            if req.header("authorization") != Some("Bearer ok") {
                resp.status(StatusCode::UNAUTHORIZED).text("no\n");
                return Ok(());
            }
            next.run(req, resp)?;
            resp.header("x-after", "added")?;
            Ok(())
        }));
        admin.get(
            "/panel",
            handler_fn(move |_, resp| {
                l.lock().unwrap().push("handler".into());
                resp.text("panel");
                Ok(())
            }),
        );
    });
    let s = start(Config::default(), r);

    let resp = get(s.addr, "/admin/panel", "");
    assert_eq!((resp.status, resp.text().as_str()), (401, "no\n"));
    assert_eq!(take(&log), ["global>", "<global"]);

    let resp = get(s.addr, "/admin/panel", "Authorization: Bearer ok\r\n");
    assert_eq!((resp.status, resp.text().as_str()), (200, "panel"));
    assert_eq!(resp.header("x-after"), Some("added"));
    assert_eq!(take(&log), ["global>", "handler", "<global"]);
}

#[test]
fn logger_passes_responses_and_errors_through() {
    let mut r = Router::new();
    r.middleware(Logger::new());
    r.get(
        "/ok",
        handler_fn(|_, resp| {
            resp.text("fine");
            Ok(())
        }),
    );
    r.get(
        "/teapot",
        handler_fn(|_, _| Err(Error::new(StatusCode::IM_A_TEAPOT, "short and stout"))),
    );
    let s = start(Config::default(), r);
    assert_eq!(get(s.addr, "/ok", "").text(), "fine");
    let resp = get(s.addr, "/teapot", "");
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (418, "short and stout\n")
    );
    assert_eq!(get(s.addr, "/missing", "").status, 404);
}

#[test]
fn recover_answers_panics_and_keeps_the_connection() {
    let mut r = Router::new();
    r.middleware(Recover::new().on_panic(|_, resp, msg| {
        resp.status(StatusCode::INTERNAL_SERVER_ERROR)
            .text(format!("recovered: {msg}"));
        Ok(())
    }));
    r.get("/panic", handler_fn(|_, _| panic!("boom")));
    r.get(
        "/ok",
        handler_fn(|_, resp| {
            resp.text("fine");
            Ok(())
        }),
    );
    let s = start(Config::default(), r);

    // Both requests on one keep-alive connection.
    let mut conn = connect(s.addr);
    conn.write_all(b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let first = read_response(&mut conn, &mut buf, false).unwrap();
    assert_eq!(first.status, 500);
    assert_eq!(first.text(), "recovered: boom");
    assert_eq!(first.header("connection"), None);
    let second = read_response(&mut conn, &mut buf, false).unwrap();
    assert_eq!((second.status, second.text().as_str()), (200, "fine"));

    // The default answer is a plain 500.
    let mut r = Router::new();
    r.middleware(Recover::new());
    r.get("/panic", handler_fn(|_, _| panic!("secret detail")));
    let s = start(Config::default(), r);
    let resp = get(s.addr, "/panic", "");
    assert_eq!(resp.status, 500);
    assert_eq!(resp.text(), "Internal Server Error\n");
}

fn cors_app() -> Router {
    let mut r = Router::new();
    r.middleware(
        Cors::new()
            .allow_origin("https://app.example")
            .allow_methods(["GET", "POST", "DELETE"])
            .allow_headers(["content-type", "x-token"])
            .expose_headers(["x-total"])
            .allow_credentials(true),
    );
    r.get(
        "/things",
        handler_fn(|_, resp| {
            resp.header("x-total", "3")?;
            resp.text("[]");
            Ok(())
        }),
    );
    r.delete(
        "/things/:id",
        handler_fn(|_, _| Err(Error::new(StatusCode::CONFLICT, "in use"))),
    );
    r
}

#[test]
fn cors_preflight_is_answered_with_204() {
    let s = start(Config::default(), cors_app());
    let resp = send(
        s.addr,
        "OPTIONS /things/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\
         Access-Control-Request-Method: DELETE\r\n\
         Access-Control-Request-Headers: x-token\r\n\r\n",
    );
    assert_eq!(resp.status, 204);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        resp.header("access-control-allow-methods"),
        Some("GET, POST, DELETE")
    );
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("content-type, x-token")
    );
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("600"));
    assert_eq!(resp.header("vary"), Some("Origin"));

    let resp = send(
        s.addr,
        "OPTIONS /things/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n\
         Access-Control-Request-Method: DELETE\r\n\r\n",
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.header("access-control-allow-origin"), None);
}

#[test]
fn cors_headers_on_actual_requests() {
    let s = start(Config::default(), cors_app());
    let resp = get(s.addr, "/things", "Origin: https://app.example\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        resp.header("access-control-expose-headers"),
        Some("x-total")
    );
    assert_eq!(resp.header("x-total"), Some("3"));

    // Error responses carry them too, so that scripts can read the error.
    let resp = send(
        s.addr,
        "DELETE /things/1 HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\r\n",
    );
    assert_eq!((resp.status, resp.text().as_str()), (409, "in use\n"));
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );

    let resp = get(s.addr, "/things", "Origin: https://evil.example\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("access-control-allow-origin"), None);
    let resp = get(s.addr, "/things", "");
    assert_eq!(resp.header("access-control-allow-origin"), None);

    // Any origin without credentials: `*`.
    let mut r = Router::new();
    r.middleware(Cors::new().allow_any_origin());
    r.get(
        "/x",
        handler_fn(|_, resp| {
            resp.text("x");
            Ok(())
        }),
    );
    let s = start(Config::default(), r);
    let resp = get(s.addr, "/x", "Origin: https://any.example\r\n");
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn request_id_is_kept_or_generated() {
    let mut r = Router::new();
    r.middleware(RequestId::new());
    r.get(
        "/id",
        handler_fn(|req, resp| {
            resp.text(RequestId::get(req).unwrap_or("none").to_owned());
            Ok(())
        }),
    );
    r.get("/fail", handler_fn(|_, _| Err(Error::bad_request("nope"))));
    let s = start(Config::default(), r);

    let resp = get(s.addr, "/id", "X-Request-Id: abc-123\r\n");
    assert_eq!(resp.text(), "abc-123");
    assert_eq!(resp.header("x-request-id"), Some("abc-123"));

    let a = get(s.addr, "/id", "");
    let b = get(s.addr, "/id", "X-Request-Id: \r\n");
    let (a_id, b_id) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert_eq!(a.text(), a_id);
    assert_eq!(b.text(), b_id);
    assert!(a_id.len() >= 16, "{a_id}");
    assert_ne!(a_id, b_id);

    let resp = get(s.addr, "/fail", "X-Request-Id: err-1\r\n");
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("x-request-id"), Some("err-1"));
}

fn gzip_app() -> Router {
    let mut r = Router::new();
    r.middleware(Gzip::new().min_size(100));
    r.get(
        "/big",
        handler_fn(|_, resp| {
            resp.text(big_text());
            Ok(())
        }),
    );
    r.get(
        "/small",
        handler_fn(|_, resp| {
            resp.text("tiny");
            Ok(())
        }),
    );
    r.get(
        "/png",
        handler_fn(|_, resp| {
            resp.header("content-type", "image/png")?;
            resp.body(vec![7u8; 5000]);
            Ok(())
        }),
    );
    r.get(
        "/stream",
        handler_fn(|_, resp| {
            resp.header("content-type", "text/plain")?;
            resp.writer().write_all(big_text().as_bytes())?;
            Ok(())
        }),
    );
    r
}

fn big_text() -> String {
    (0..500)
        .map(|i| format!("line {i} of a compressible body\n"))
        .collect()
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    GzDecoder::new(data).read_to_string(&mut out).unwrap();
    out
}

#[test]
fn gzip_compresses_when_accepted() {
    let s = start(Config::default(), gzip_app());
    let resp = get(s.addr, "/big", "Accept-Encoding: deflate, gzip\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert_eq!(resp.header("vary"), Some("Accept-Encoding"));
    assert!(
        resp.body.len() < big_text().len() / 4,
        "{}",
        resp.body.len()
    );
    assert_eq!(gunzip(&resp.body), big_text());

    // Not accepted: plain, but still `Vary` for caches.
    for accept in [
        "",
        "Accept-Encoding: br\r\n",
        "Accept-Encoding: gzip;q=0\r\n",
    ] {
        let resp = get(s.addr, "/big", accept);
        assert_eq!(resp.header("content-encoding"), None, "{accept}");
        assert_eq!(resp.header("vary"), Some("Accept-Encoding"));
        assert_eq!(resp.text(), big_text());
    }

    // Too small, not compressible, or streamed: untouched.
    for path in ["/small", "/png", "/stream"] {
        let resp = get(s.addr, path, "Accept-Encoding: gzip\r\n");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding"), None, "{path}");
    }
    assert_eq!(
        get(s.addr, "/stream", "Accept-Encoding: gzip\r\n").text(),
        big_text()
    );
}

#[test]
fn gzip_with_curl_compressed() {
    let s = start(Config::default(), gzip_app());
    let out = match Command::new("curl")
        .args(["-sS", "--compressed", "-D", "-"])
        .arg(format!("http://{}/big", s.addr))
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            util::missing_peer(&format!("curl is not runnable: {e}"));
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert_eq!(body, big_text());
}
