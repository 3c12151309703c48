//! A WebSocket echo server, the one the Autobahn suite tests
//! (`scripts/autobahn`): `cargo run --release --example ws_echo [ADDR]`,
//! default `127.0.0.1:9001`. Echoes every text and binary message back;
//! offers permessage-deflate.

use fibra::http::ws::{self, Message};
use fibra::http::{handler_fn, Server};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    fibra::run(move || {
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
