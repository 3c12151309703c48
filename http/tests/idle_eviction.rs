//! At `max_connections`, a new client displaces the keep-alive connection
//! idle the longest instead of waiting for the idle timeout.

mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use fibra_http::{handler_fn, Config};
use util::{connect, is_closed, read_response, start, watchdog};

#[test]
fn a_new_client_displaces_the_longest_idle_keep_alive_connection() {
    watchdog(
        "a_new_client_displaces_the_longest_idle_keep_alive_connection",
        Duration::from_secs(20),
        || {
            const N: usize = 3;
            let s = start(
                Config {
                    max_connections: N,
                    ..Config::default()
                },
                handler_fn(|req, resp| {
                    resp.text(req.path().to_string());
                    Ok(())
                }),
            );
            // N keep-alive connections, each idle after one request; the
            // first is the longest idle.
            let mut idle = Vec::new();
            for i in 0..N {
                let mut c = connect(s.addr);
                c.write_all(format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
                    .unwrap();
                let r = read_response(&mut c, &mut Vec::new(), false).unwrap();
                assert_eq!(r.text(), format!("/{i}"));
                idle.push(c);
                std::thread::sleep(Duration::from_millis(20));
            }
            let t = Instant::now();
            let mut newcomer = connect(s.addr);
            newcomer
                .write_all(b"GET /new HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let r = read_response(&mut newcomer, &mut Vec::new(), false).unwrap();
            let took = t.elapsed();
            eprintln!("new client answered after {took:?} at max_connections");
            assert_eq!(r.text(), "/new");
            assert!(took < Duration::from_millis(100), "{took:?}");
            assert!(
                is_closed(&mut idle[0], &[], Duration::from_secs(1)),
                "the longest-idle connection was not the one closed"
            );
            // The others still serve.
            for (i, c) in idle.iter_mut().enumerate().skip(1) {
                c.write_all(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let r = read_response(c, &mut Vec::new(), false)
                    .unwrap_or_else(|| panic!("connection {i} was closed"));
                assert_eq!(r.text(), "/again");
            }
        },
    );
}
