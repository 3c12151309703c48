//! The fibra side of the HTTP server benchmark (scripts/bench-http): the
//! TechEmpower plaintext and JSON endpoints.
//!
//! `cargo run --release --example http_bench -- [ADDR] [WORKERS]`
//! (defaults `127.0.0.1:8080` and one worker per core), then
//! `wrk -t2 -c64 -d5s http://127.0.0.1:8080/plaintext`.
//!
//! - `GET /plaintext`: `Hello, World!` as `text/plain; charset=utf-8`
//! - `GET /json`: `{"message":"Hello, World!"}` as `application/json`,
//!   serialized for each request
//!
//! Every response also carries `Date` and `Content-Length`, as the peers'
//! do (benches/peers/http, benches/peers/go/http).

use std::fmt::Write as _;

use fibra::http::{
    header, Config, Error, HeaderValue, Method, Request, Response, Server, StatusCode,
};

/// Appends `s` to `out` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{"message":<message>}`, built per request like the peers' serializers.
fn message_json(message: &str) -> String {
    let mut out = String::with_capacity(16 + message.len());
    out.push_str("{\"message\":");
    push_json_string(&mut out, message);
    out.push('}');
    out
}

fn route(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    if req.method() != Method::GET {
        resp.status(StatusCode::METHOD_NOT_ALLOWED);
        return Ok(());
    }
    match req.path() {
        "/plaintext" => {
            resp.text("Hello, World!");
        }
        "/json" => {
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.body(message_json("Hello, World!"));
        }
        _ => {
            resp.status(StatusCode::NOT_FOUND);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut builder = fibra::runtime::Builder::new();
    if let Some(n) = args.next() {
        let n = n
            .parse()
            .map_err(|_| std::io::Error::other(format!("WORKERS must be a number, got {n:?}")))?;
        builder = builder.workers(n);
    }
    let rt = builder.build()?;
    rt.block_on(move || {
        // Room for the memory test's 10,000 idle connections and wrk's.
        let config = Config {
            max_connections: 20_000,
            ..Config::default()
        };
        let server = Server::bind(addr.as_str())?.with_config(config);
        println!("listening on http://{}/", server.local_addr()?);
        server.serve(route)
    })
}
