//! Graceful shutdown does not wait for handlers that cannot finish by
//! themselves: a client that already left, an open SSE stream, a long poll
//! waiting on `ShutdownHandle::started`.

mod util;

use std::io::Write;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fibra_http::sse::{Event, EventStreamExt};
use fibra_http::{handler_fn, Config, Server};
use fibra_runtime::chan;
use fibra_runtime::select;
use util::{connect, read_head, start, watchdog};

const LIMIT: Duration = Duration::from_secs(20);
const GRACE: Duration = Duration::from_secs(10);

#[test]
fn shutdown_with_a_client_that_already_left_returns_at_once() {
    watchdog(
        "shutdown_with_a_client_that_already_left_returns_at_once",
        LIMIT,
        || {
            let (_never_tx, never) = chan::bounded::<()>(1);
            let mut s = start(
                Config::default(),
                handler_fn(move |_req, resp| {
                    // Blocks until canceled.
                    let _ = never.recv();
                    resp.text("late");
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            drop(c);
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            s.shutdown.shutdown(GRACE);
            s.thread.take().unwrap().join().unwrap().unwrap();
            let took = t.elapsed();
            eprintln!("shutdown with a departed client took {took:?}");
            assert!(took < Duration::from_millis(500), "{took:?}");
        },
    );
}

#[test]
fn shutdown_with_an_open_sse_stream_returns_at_once() {
    watchdog(
        "shutdown_with_an_open_sse_stream_returns_at_once",
        LIMIT,
        || {
            let (ended_tx, ended_rx) = mpsc::channel();
            let ended_tx = Mutex::new(ended_tx);
            let (_events_tx, events_rx) = chan::bounded::<Event>(1);
            let mut s = start(
                Config::default(),
                handler_fn(move |_req, resp| {
                    let r = resp
                        .event_stream()
                        .forward(&events_rx, Duration::from_secs(30));
                    ended_tx.lock().unwrap().send(r.is_ok()).unwrap();
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut rest = read_head(&mut c);
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            s.shutdown.shutdown(GRACE);
            // The stream is ended properly (the last chunk, then the
            // server's close), and the client closes its side, as
            // EventSource and curl do.
            let mut tail = Vec::new();
            std::io::Read::read_to_end(&mut c, &mut tail).unwrap();
            drop(c);
            s.thread.take().unwrap().join().unwrap().unwrap();
            let took = t.elapsed();
            eprintln!("shutdown with an open SSE stream took {took:?}");
            assert!(took < Duration::from_millis(500), "{took:?}");
            assert!(
                ended_rx.recv_timeout(Duration::from_secs(1)).unwrap(),
                "forward did not end cleanly"
            );
            rest.extend_from_slice(&tail);
            assert!(
                rest.ends_with(b"0\r\n\r\n"),
                "{:?}",
                String::from_utf8_lossy(&rest)
            );
        },
    );
}

#[test]
fn a_long_poll_waiting_on_the_shutdown_signal_ends_when_it_starts() {
    watchdog(
        "a_long_poll_waiting_on_the_shutdown_signal_ends_when_it_starts",
        LIMIT,
        || {
            let server = Server::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let handle = server.shutdown_handle();
            let stopping = handle.started();
            let (_never_tx, never) = chan::bounded::<()>(1);
            let thread = std::thread::spawn(move || {
                server.serve(handler_fn(move |req, resp| {
                    let done = req.done();
                    let why = select! {
                        recv(never) -> _ => "event",
                        recv(stopping) -> _ => "shutdown",
                        recv(done) -> _ => "done",
                        timeout(Duration::from_secs(30)) => "timeout",
                    };
                    resp.text(why);
                    Ok(())
                }))
            });
            let mut c = connect(addr);
            c.write_all(b"GET /poll HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            handle.shutdown(GRACE);
            let r = util::read_response(&mut c, &mut Vec::new(), false).unwrap();
            // `Connection: close`: the client closes, as clients do.
            drop(c);
            thread.join().unwrap().unwrap();
            let took = t.elapsed();
            eprintln!("long poll ended by the shutdown signal; serve returned after {took:?}");
            // Both signals close at once; select picks either.
            assert!(r.text() == "shutdown" || r.text() == "done", "{}", r.text());
            assert_eq!(r.header("connection"), Some("close"));
            assert!(took < Duration::from_millis(500), "{took:?}");
        },
    );
}

#[test]
fn a_connection_going_idle_into_a_shutdown_closes_without_lingering() {
    watchdog(
        "a_connection_going_idle_into_a_shutdown_closes_without_lingering",
        LIMIT,
        || {
            // The response is complete on the client's side while its
            // handler still runs; the shutdown starts then. The connection
            // goes idle into the shutdown and must close at once, as one
            // the shutdown finds idle does, not linger 500 ms for a client
            // that keeps it open.
            let mut s = start(
                Config::default(),
                handler_fn(|_req, resp| {
                    resp.header("content-length", "2")?;
                    let mut w = resp.writer();
                    w.write_all(b"hi")?;
                    w.flush()?;
                    fibra_runtime::sleep(Duration::from_millis(200));
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            let r = util::read_response(&mut c, &mut Vec::new(), false).unwrap();
            assert_eq!(r.text(), "hi");
            assert_eq!(r.header("connection"), None, "a keep-alive response");
            let t = Instant::now();
            s.shutdown.shutdown(GRACE);
            s.thread.take().unwrap().join().unwrap().unwrap();
            let took = t.elapsed();
            eprintln!("shutdown took {took:?}, 200 ms of them in the handler");
            assert!(took < Duration::from_millis(450), "{took:?}");
        },
    );
}
