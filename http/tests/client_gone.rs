//! A client that goes away while its handler runs: the server notices
//! (end of stream or reset, once the body is read) and cancels the
//! handler, or with `cancel_on_disconnect` off lets it run and tells it
//! through `Request::is_client_gone` and `Request::done`.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fibra_http::sse::{is_client_gone, Event, EventStreamExt};
use fibra_http::{handler_fn, Config, Error, StatusCode};
use fibra_runtime::chan::{self, RecvError};
use fibra_runtime::select;
use util::{connect, read_head, start, watchdog};

const LIMIT: Duration = Duration::from_secs(20);

/// Resets the connection (an abortive close: RST instead of FIN).
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// Waits for the handler's report, measuring from `since`.
#[track_caller]
fn report<T>(rx: &mpsc::Receiver<T>, since: Instant, within: Duration) -> (T, Duration) {
    let got = rx
        .recv_timeout(within)
        .unwrap_or_else(|_| panic!("handler still running {within:?} after the client left"));
    (got, since.elapsed())
}

#[test]
fn quiet_sse_stream_ends_when_the_client_closes() {
    watchdog(
        "quiet_sse_stream_ends_when_the_client_closes",
        LIMIT,
        || {
            let (ended_tx, ended_rx) = mpsc::channel();
            let ended_tx = Mutex::new(ended_tx);
            // Nothing is ever published, and keep-alives are 30 s apart: only
            // the watcher can notice the client leaving.
            let (_events_tx, events_rx) = chan::bounded::<Event>(1);
            let s = start(
                Config::default(),
                handler_fn(move |_req, resp| {
                    let r = resp
                        .event_stream()
                        .forward(&events_rx, Duration::from_secs(30));
                    let gone = matches!(&r, Err(e) if is_client_gone(e));
                    ended_tx.lock().unwrap().send(gone).unwrap();
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            read_head(&mut c);
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            drop(c);
            let (gone, took) = report(&ended_rx, t, Duration::from_secs(1));
            assert!(gone, "forward did not report a departed client");
            eprintln!("quiet SSE stream ended {took:?} after the client closed");
        },
    );
}

#[test]
fn handler_blocked_in_a_channel_receive_ends_when_its_client_resets() {
    watchdog(
        "handler_blocked_in_a_channel_receive_ends_when_its_client_resets",
        LIMIT,
        || {
            let (ended_tx, ended_rx) = mpsc::channel();
            let ended_tx = Mutex::new(ended_tx);
            let (_jobs_tx, jobs_rx) = chan::bounded::<String>(1);
            let s = start(
                Config::default(),
                handler_fn(move |req, resp| {
                    let r = jobs_rx.recv();
                    ended_tx
                        .lock()
                        .unwrap()
                        .send((r, req.is_client_gone()))
                        .unwrap();
                    resp.text("unreachable");
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(150));
            let t = Instant::now();
            reset(c);
            let ((r, gone), took) = report(&ended_rx, t, Duration::from_secs(1));
            assert_eq!(r, Err(RecvError::Canceled));
            assert!(gone, "is_client_gone() false after a reset");
            eprintln!("blocked handler canceled {took:?} after the client's reset");
        },
    );
}

#[test]
fn an_upload_whose_client_vanishes_mid_body_frees_the_handler() {
    watchdog(
        "an_upload_whose_client_vanishes_mid_body_frees_the_handler",
        LIMIT,
        || {
            let (ended_tx, ended_rx) = mpsc::channel();
            let ended_tx = Mutex::new(ended_tx);
            let (_never_tx, never) = chan::bounded::<()>(1);
            let s = start(
                Config::default(),
                handler_fn(move |req, _resp| {
                    // A handler that swallows the body error and then waits:
                    // only the cancel can end the wait.
                    let mut got = Vec::new();
                    let read = req.body().read_to_end(&mut got);
                    let wait = never.recv();
                    ended_tx
                        .lock()
                        .unwrap()
                        .send((read.is_err(), got.len(), wait, req.is_client_gone()))
                        .unwrap();
                    Ok(())
                }),
            );
            let mut c = connect(s.addr);
            c.write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
                .unwrap();
            let chunk = [b'x'; 16 * 1024];
            for _ in 0..8 {
                c.write_all(&chunk).unwrap();
            }
            std::thread::sleep(Duration::from_millis(150));
            let t = Instant::now();
            drop(c);
            let ((read_failed, n, wait, gone), took) = report(&ended_rx, t, Duration::from_secs(1));
            assert!(read_failed, "the body read did not fail");
            assert_eq!(n, 8 * 16 * 1024);
            assert_eq!(wait, Err(RecvError::Canceled));
            assert!(gone);
            eprintln!("upload handler freed {took:?} after the client vanished");
        },
    );
}

#[test]
fn with_the_automatic_cancel_off_the_handler_keeps_running() {
    watchdog(
        "with_the_automatic_cancel_off_the_handler_keeps_running",
        LIMIT,
        || {
            let (ended_tx, ended_rx) = mpsc::channel();
            let ended_tx = Mutex::new(ended_tx);
            let (_never_tx, never) = chan::bounded::<()>(1);
            let s = start(
                Config {
                    cancel_on_disconnect: false,
                    ..Config::default()
                },
                handler_fn(move |req, _resp| {
                    let report = match req.path() {
                        // Not canceled: the receive runs to its own timeout.
                        "/sleepy" => {
                            let r = never.recv_timeout(Duration::from_millis(700));
                            format!("{r:?} gone={}", req.is_client_gone())
                        }
                        // `done` still tells the handler its client left.
                        _ => {
                            let done = req.done();
                            select! {
                                recv(never) -> _ => "job".to_string(),
                                recv(done) -> _ => format!("done gone={}", req.is_client_gone()),
                                timeout(Duration::from_secs(5)) => "timeout".to_string(),
                            }
                        }
                    };
                    ended_tx.lock().unwrap().send(report).unwrap();
                    Err(Error::new(StatusCode::SERVICE_UNAVAILABLE, "gone"))
                }),
            );

            let mut c = connect(s.addr);
            c.write_all(b"GET /sleepy HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            reset(c);
            let (r, took) = report(&ended_rx, t, Duration::from_secs(3));
            assert_eq!(r, "Err(Timeout) gone=true");
            assert!(took >= Duration::from_millis(450), "ended early: {took:?}");

            let mut c = connect(s.addr);
            c.write_all(b"GET /select HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            drop(c);
            let (r, took) = report(&ended_rx, t, Duration::from_secs(1));
            assert_eq!(r, "done gone=true");
            eprintln!("done() closed {took:?} after the client left (cancel off)");
        },
    );
}

#[test]
fn pipelined_requests_survive_the_watcher() {
    // Pipelined requests: the byte the watcher sees is the next request,
    // which must reach the connection intact.
    watchdog("pipelined_requests_survive_the_watcher", LIMIT, || {
        let s = start(
            Config::default(),
            handler_fn(|req, resp| {
                fibra_runtime::sleep_cancelable(Duration::from_millis(50))
                    .map_err(Error::internal)?;
                resp.text(req.path().to_string());
                Ok(())
            }),
        );
        let mut c = connect(s.addr);
        c.write_all(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Arrives while /one's handler runs and its connection is watched.
        c.write_all(b"GET /two HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let r1 = util::read_response(&mut c, &mut buf, false).unwrap();
        let r2 = util::read_response(&mut c, &mut buf, false).unwrap();
        assert_eq!((r1.text(), r2.text()), ("/one".into(), "/two".into()));
        let mut b = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        assert!(
            c.read(&mut b).is_err(),
            "connection closed after pipelining"
        );
    });
}
