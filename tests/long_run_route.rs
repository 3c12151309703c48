//! A handler that holds its worker without blocking is reported by the
//! runtime's long-run monitor with the coroutine's name, the request's
//! method and route (the router labels the coroutine), and how long it
//! held the worker.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fibra::http::{handler_fn, Router, Server};

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

use fibra_testkit::spin;

#[test]
fn a_spinning_handler_is_reported_with_its_route() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    fibra_testkit::watchdog(
        "a_spinning_handler_is_reported_with_its_route",
        Duration::from_secs(30),
        move || {
            let mut router = Router::new();
            router.get(
                "/spin/:ms",
                handler_fn(|req, resp| {
                    let ms = req.param("ms").and_then(|v| v.parse().ok()).unwrap_or(0);
                    spin(Duration::from_millis(ms));
                    resp.text("done");
                    Ok(())
                }),
            );
            let server = Server::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let shutdown = server.shutdown_handle();
            let t = std::thread::spawn(move || fibra::run(move || server.serve(router)));

            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /spin/150 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            assert!(answer.ends_with("done"), "{answer}");
            shutdown.shutdown(Duration::ZERO);
            t.join().unwrap().unwrap();
        },
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let held = text
        .lines()
        .find(|l| l.contains("has held its worker"))
        .unwrap_or_else(|| panic!("no long-run warning in:\n{text}"));
    assert!(held.contains("held_ms="), "{held}");
    let back = text
        .lines()
        .find(|l| l.contains("has given it back"))
        .unwrap_or_else(|| panic!("no end-of-run report in:\n{text}"));
    assert!(back.contains("GET /spin/:ms"), "no route in: {back}");
    assert!(
        back.contains("fibra-http-conn"),
        "no coroutine name in: {back}"
    );
    let ms: u64 = back
        .split("held_ms=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no held_ms in: {back}"));
    assert!((100..2000).contains(&ms), "held_ms={ms} for a 150 ms spin");
}
