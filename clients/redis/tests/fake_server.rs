//! Against a scripted fake server: the RESP2 fallback when HELLO is
//! unknown, and garbage or oversized replies, which must end in an error
//! (and a broken connection), never a panic or an unbounded allocation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;

use fibra_redis::proto::Limits;
use fibra_redis::{cmd, Connection, ConnectionInfo, ErrorKind, Protocol};

/// Serves one connection: for each command received, sends the next reply
/// of `replies` (raw bytes).
fn fake(replies: Vec<&'static [u8]>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        for reply in replies {
            // Read one command: *N, then N bulk strings.
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                return;
            }
            let n: usize = line.trim()[1..].parse().unwrap();
            for _ in 0..n {
                line.clear();
                r.read_line(&mut line).unwrap();
                let len: usize = line.trim()[1..].parse().unwrap();
                let mut arg = vec![0; len + 2];
                r.read_exact(&mut arg).unwrap();
            }
            w.write_all(reply).unwrap();
        }
        // Hold the connection open until the client goes.
        let _ = r.read(&mut [0; 1]);
    });
    port
}

#[test]
fn falls_back_to_resp2_without_hello() {
    let port = fake(vec![
        b"-ERR unknown command 'HELLO', with args beginning with: '3'\r\n",
        b"+OK\r\n",
        b"+OK\r\n",
        b"$5\r\nhello\r\n",
    ]);
    let info = ConnectionInfo::new("127.0.0.1", port)
        .with_password("pw")
        .with_client_name("n");
    let mut c = Connection::connect_with(&info).unwrap();
    assert_eq!(c.protocol(), Protocol::Resp2);
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "hello");
}

#[test]
fn garbage_breaks_the_connection_without_panic() {
    let port = fake(vec![b"+PONG\r\n", b"%%%garbage\r\n"]);
    let info = ConnectionInfo::new("127.0.0.1", port).with_protocol(Protocol::Resp2);
    let mut c = Connection::connect_with(&info).unwrap();
    c.ping().unwrap();
    let e = c.ping().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(c.is_broken());
    assert_eq!(c.ping().unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn oversized_replies_are_refused() {
    let port = fake(vec![b"$999999999999\r\n", b"*5000000000\r\n"]);
    let info = ConnectionInfo::new("127.0.0.1", port)
        .with_protocol(Protocol::Resp2)
        .with_limits(Limits {
            max_bulk_len: 1 << 20,
            ..Limits::default()
        });
    let mut c = Connection::connect_with(&info).unwrap();
    let e = c.get::<_, Vec<u8>>("k").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("limit"), "{e}");
}

#[test]
fn a_reply_larger_than_max_reply_len_breaks_the_connection() {
    // Every element is within the other limits; the whole is not.
    let mut big = b"*2000\r\n".to_vec();
    for _ in 0..2000 {
        big.extend_from_slice(b"$10\r\n0123456789\r\n");
    }
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    let port = fake(vec![big]);
    let info = ConnectionInfo::new("127.0.0.1", port)
        .with_protocol(Protocol::Resp2)
        .with_limits(Limits {
            max_reply_len: 32 << 10,
            ..Limits::default()
        });
    let mut c = Connection::connect_with(&info).unwrap();
    let e = c.lrange::<_, Vec<String>>("k", 0, -1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("max_reply_len"), "{e}");
    assert!(c.is_broken());
}

#[test]
fn a_reply_split_across_many_reads() {
    // A large array arrives in pieces; the scanner walks it once.
    let mut big = b"*20000\r\n".to_vec();
    for i in 0..20000 {
        big.extend_from_slice(format!("${}\r\n{i}\r\n", i.to_string().len()).as_bytes());
    }
    let big: &'static [u8] = Box::leak(big.into_boxed_slice());
    let port = fake(vec![big]);
    let info = ConnectionInfo::new("127.0.0.1", port).with_protocol(Protocol::Resp2);
    let mut c = Connection::connect_with(&info).unwrap();
    let v: Vec<u32> = c.lrange("k", 0, -1).unwrap();
    assert_eq!(v.len(), 20000);
    assert_eq!(v[19999], 19999);
}
