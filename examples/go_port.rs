//! The Go program of docs/porting-from-go.md, ported line for line: a TCP
//! server that answers each line with its length and drops clients idle for
//! 30 seconds. Kept as an example so the guide's code always compiles.
//!
//! `cargo run --example go_port`, then `nc 127.0.0.1 7000`.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use fibra::net::{TcpListener, TcpStream};

fn main() {
    fibra::run(|| {
        let ln = TcpListener::bind("127.0.0.1:7000").expect("listen");
        loop {
            let conn = match ln.accept() {
                Ok((conn, _addr)) => conn,
                Err(e) => {
                    eprintln!("{e}");
                    continue;
                }
            };
            fibra::spawn(move || handle(conn));
        }
    });
}

fn handle(conn: TcpStream) -> std::io::Result<()> {
    // `conn` closes when it goes out of scope, like `defer conn.Close()`.
    let mut r = BufReader::new(&conn);
    let mut line = String::new();
    loop {
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        writeln!(&conn, "{}", line.trim().len())?;
    }
}
