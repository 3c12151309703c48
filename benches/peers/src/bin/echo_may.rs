//! may's TCP echo server for `scripts/bench-net`: a coroutine per connection
//! on two workers (as many as fibra's, tokio's and Go's), each a plain
//! blocking read/write_all loop, like fibra's `examples/echo.rs`.
//!
//! ```text
//! echo_may [ADDR]    # default 127.0.0.1:7000; prints "listening on ADDR"
//! ```

use std::io::{self, Read, Write};

use may::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_string());
    may::config().set_workers(2);
    let listener = TcpListener::bind(addr.as_str())?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let conn = conn?;
        // SAFETY: may's two conditions for `spawn` hold: `echo` touches no
        // thread-local across a yield, and its 4 KiB buffer plus std's
        // read/write frames fit may's default 32 KiB stack.
        unsafe {
            may::coroutine::spawn(move || {
                if let Err(e) = echo(conn) {
                    eprintln!("connection: {e}");
                }
            });
        }
    }
    Ok(())
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
