//! `shutdown(Write)` sends FIN: the peer reads EOF and can still answer.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

#[test]
fn shutdown_write_gives_peer_eof_and_keeps_the_read_side() {
    let reply = util::run(Duration::from_secs(10), || {
        let (client, server) = util::tcp_pair();
        let srv = fibra_runtime::spawn(move || {
            let mut server = server;
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap(); // returns at the FIN
            server.write_all(b"got ").unwrap();
            server.write_all(&got).unwrap();
            got
        });
        let mut client = client;
        client.write_all(b"request").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        // Writing after the shutdown fails; reading still works.
        util::assert_kind(client.write(b"x"), std::io::ErrorKind::BrokenPipe);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(srv.join().unwrap(), b"request");
        reply
    });
    assert_eq!(reply, b"got request");
}
