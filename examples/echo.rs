//! A TCP echo server: one coroutine per connection, each a plain blocking
//! read/write loop, as `go handle(conn)` would be in Go.
//!
//! ```text
//! cargo run --release --example echo               # listens on 127.0.0.1:7000
//! cargo run --release --example echo 127.0.0.1:0   # any free port
//! ```
//!
//! `scripts/bench-net` uses this program as fibra's echo server.

use std::io::{self, Read, Write};

use fibra::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_string());
    fibra::run(move || {
        let listener = TcpListener::bind(addr.as_str())?;
        println!("listening on {}", listener.local_addr()?);
        for conn in listener.incoming() {
            // accept parks this coroutine; the handler runs in its own.
            let conn = conn?;
            fibra::spawn(move || {
                if let Err(e) = echo(conn) {
                    eprintln!("connection: {e}");
                }
            });
        }
        Ok(())
    })
}

/// Sends back everything it reads until the peer closes its side.
fn echo(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}
