//! A WebSocket echo server, the one the Autobahn suite tests
//! (`scripts/autobahn`) and the WebSocket benchmark measures
//! (`scripts/bench-ws`): `cargo run --release --example ws_echo [ADDR]
//! [WORKERS]`, default `127.0.0.1:9001` and one worker per core. Echoes
//! every text and binary message back; offers permessage-deflate.

use fibra::http::ws::{self, Message};
use fibra::http::{handler_fn, Server};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".into());
    let mut builder = fibra::runtime::Builder::new();
    if let Some(n) = args.next() {
        let n = n
            .parse()
            .map_err(|_| std::io::Error::other(format!("WORKERS must be a number, got {n:?}")))?;
        builder = builder.workers(n);
    }
    builder.build()?.block_on(move || {
        let server = Server::bind(addr.as_str())?;
        println!("ws echo on ws://{}/", server.local_addr()?);
        server.serve(handler_fn(|req, resp| {
            ws::upgrade(req, resp, |mut ws| {
                while let Ok(msg) = ws.recv() {
                    if matches!(msg, Message::Close(_)) || ws.send(msg).is_err() {
                        break;
                    }
                }
            })
        }))
    })
}
