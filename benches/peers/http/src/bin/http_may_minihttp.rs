//! may_minihttp peer of fibra's HTTP server benchmark (scripts/bench-http):
//! `GET /plaintext` and `GET /json`, as in examples/http_bench.rs.
//!
//! `http_may_minihttp [ADDR] [WORKERS]` (defaults `127.0.0.1:8080`, 2).
//! may keeps its default coroutine stack size; may_minihttp always adds
//! `Server: M`, `Date` and `Content-Length`.

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Clone)]
struct Bench;

impl HttpService for Bench {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        if req.method() != "GET" {
            rsp.status_code(405, "Method Not Allowed");
            return Ok(());
        }
        match req.path() {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain; charset=utf-8")
                    .body("Hello, World!");
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                let body = serde_json::to_vec(&Message {
                    message: "Hello, World!",
                })?;
                rsp.body_vec(body);
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let workers = args
        .next()
        .map_or(2, |n| n.parse().expect("WORKERS must be a number"));
    may::config().set_workers(workers);
    let server = HttpServer(Bench).start(addr.as_str()).expect("cannot bind");
    println!("listening on http://{addr}/");
    server.join().expect("server coroutine panicked");
}
