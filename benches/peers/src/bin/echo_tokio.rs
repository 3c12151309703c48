//! tokio's TCP echo server for `scripts/bench-net`: a task per connection on
//! a two-worker multi-thread runtime (as many workers as fibra's, may's and
//! Go's), each a read/write_all loop, like fibra's `examples/echo.rs`.
//!
//! ```text
//! echo_tokio [ADDR]    # default 127.0.0.1:7000; prints "listening on ADDR"
//! ```

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(e) = echo(conn).await {
                    eprintln!("connection: {e}");
                }
            });
        }
    })
}

/// Sends back everything it reads until the peer closes its side.
async fn echo(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}
