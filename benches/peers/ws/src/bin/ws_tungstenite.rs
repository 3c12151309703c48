//! tokio-tungstenite peer of fibra's WebSocket echo benchmark
//! (scripts/bench-ws): echoes every text and binary message, as
//! examples/ws_echo.rs does, on a multi-threaded tokio runtime.
//!
//! `ws_tungstenite [ADDR] [WORKERS]` (defaults `127.0.0.1:9001`, 2).

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".into());
    let workers = args
        .next()
        .map_or(2, |n| n.parse().expect("WORKERS must be a number"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("ws echo on ws://{}/", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                // Pings are answered inside the stream (tungstenite queues
                // the pong and flushes it with the next write).
                while let Some(Ok(msg)) = ws.next().await {
                    match msg {
                        Message::Text(_) | Message::Binary(_) => {
                            if ws.send(msg).await.is_err() {
                                return;
                            }
                        }
                        Message::Close(_) => return,
                        _ => {}
                    }
                }
            });
        }
    })
}
