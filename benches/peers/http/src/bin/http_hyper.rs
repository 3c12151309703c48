//! hyper 1.x peer of fibra's HTTP server benchmark (scripts/bench-http):
//! `GET /plaintext` and `GET /json`, as in examples/http_bench.rs, on a
//! multi-threaded tokio runtime, HTTP/1.1 only.
//!
//! `http_hyper [ADDR] [WORKERS]` (defaults `127.0.0.1:8080`, 2). hyper adds
//! `Date` and `Content-Length` (the body is a `Full`, of known length).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn route(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    if req.method() != Method::GET {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return Ok(resp);
    }
    match req.uri().path() {
        "/plaintext" => {
            *resp.body_mut() = Full::new(Bytes::from_static(b"Hello, World!"));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        "/json" => {
            let body = serde_json::to_vec(&Message {
                message: "Hello, World!",
            })
            .expect("a static message serializes");
            *resp.body_mut() = Full::new(Bytes::from(body));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        _ => *resp.status_mut() = StatusCode::NOT_FOUND,
    }
    Ok(resp)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let workers = args
        .next()
        .map_or(2, |n| n.parse().expect("WORKERS must be a number"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}/", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            tokio::spawn(async move {
                // Errors are clients going away mid-request; nothing to do.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(route))
                    .await;
            });
        }
    })
}
