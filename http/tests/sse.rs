//! Server-Sent Events: the server's stream read by curl and by the fibra
//! EventSource client (reconnect, Last-Event-ID, retry), and departed
//! clients detected by keep-alives.

mod util;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fibra_http::handler_fn;
use fibra_http::sse::{is_client_gone, Event, EventSource, EventStreamExt};
use fibra_http::StatusCode;

#[test]
fn curl_reads_the_stream() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|_req, resp| {
            let mut s = resp.event_stream();
            s.retry(Duration::from_millis(2500))?;
            s.send(&Event::new("line one\nline two").event("greet")?.id("1")?)?;
            s.comment("keep-alive")?;
            s.data("plain")?;
            // CR/LF in event or id is refused, not sent.
            let bad = Event {
                event: Some("x\ny".into()),
                ..Event::new("d")
            };
            assert!(s.send(&bad).is_err());
            Ok(())
        }),
    );
    let out = match Command::new("curl")
        .args([
            "-sN",
            "--max-time",
            "5",
            "-i",
            &format!("http://{}/events", server.addr),
        ])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            util::missing_peer(&format!("curl is not runnable: {e}"));
            return;
        }
    };
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-cache"),
        "{head}"
    );
    assert_eq!(
        body,
        "retry: 2500\n\nid: 1\nevent: greet\ndata: line one\ndata: line two\n\n:keep-alive\n\ndata: plain\n\n"
    );
}

#[test]
fn event_source_reconnects_with_last_event_id() {
    let connections = Arc::new(AtomicUsize::new(0));
    let seen_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c2, ids2) = (connections.clone(), seen_ids.clone());
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(move |req, resp| {
            c2.fetch_add(1, Ordering::SeqCst);
            let last = req.header("last-event-id").map(str::to_string);
            ids2.lock().unwrap().push(last.clone());
            let next: u32 = last
                .and_then(|l| l.parse::<u32>().ok())
                .map_or(0, |l| l + 1);
            if next >= 6 {
                resp.status(StatusCode::NO_CONTENT);
                return Ok(());
            }
            let mut s = resp.event_stream();
            s.retry(Duration::from_millis(30))?;
            // Two events per connection, then the server hangs up.
            for i in next..next + 2 {
                s.send(&Event::new(format!("n={i}")).id(i.to_string())?)?;
            }
            Ok(())
        }),
    );
    let es = EventSource::connect(&format!("http://{}/feed", server.addr)).unwrap();
    let events: Vec<Event> = es.map(Result::unwrap).collect();
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["n=0", "n=1", "n=2", "n=3", "n=4", "n=5"]);
    assert_eq!(events[5].id.as_deref(), Some("5"));
    assert_eq!(events[0].retry, Some(Duration::from_millis(30)));
    assert_eq!(connections.load(Ordering::SeqCst), 4);
    assert_eq!(
        *seen_ids.lock().unwrap(),
        [None, Some("1".into()), Some("3".into()), Some("5".into())]
    );
}

#[test]
fn wrong_content_type_fails_for_good() {
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|_req, resp| {
            resp.text("not a stream");
            Ok(())
        }),
    );
    let err = EventSource::connect(&format!("http://{}/", server.addr)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn keep_alives_detect_a_departed_client() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(move |_req, resp| {
            let (_events_tx, events_rx) = fibra_runtime::chan::unbounded::<Event>();
            let r = resp
                .event_stream()
                .forward(&events_rx, Duration::from_millis(20));
            let _ = done_tx.send(r.map_err(|e| is_client_gone(&e)));
            Ok(())
        }),
    );
    let mut es = EventSource::builder()
        .reconnect(false)
        .connect(&format!("http://{}/", server.addr))
        .unwrap();
    es.close();
    let r = done_rx
        .recv_timeout(Duration::from_secs(3))
        .expect("handler noticed");
    assert_eq!(r, Err(true));
}

/// A browser-style reader in Python (http.client, parsing as the WHATWG
/// algorithm does): reads events, then reconnects with `Last-Event-ID`.
#[test]
fn python_reader_resumes_with_last_event_id() {
    let python = Command::new("python3").arg("--version").output();
    if let Err(e) = python {
        util::missing_peer(&format!("python3 is not runnable: {e}"));
        return;
    }
    let server = util::start(
        fibra_http::Config::default(),
        handler_fn(|req, resp| {
            let from: u32 = req
                .header("last-event-id")
                .and_then(|l| l.parse::<u32>().ok())
                .map_or(0, |l| l + 1);
            let mut s = resp.event_stream();
            for i in from..from + 3 {
                s.send(
                    &Event::new(format!("a{i}\nb{i}"))
                        .event("n")?
                        .id(i.to_string())?,
                )?;
            }
            Ok(())
        }),
    );
    let script = r#"
import http.client, json, sys
def read(port, last=None):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    h = {"Accept": "text/event-stream"}
    if last is not None:
        h["Last-Event-ID"] = last
    c.request("GET", "/", headers=h)
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
    events, data, typ = [], [], ""
    for raw in r.read().decode().splitlines():
        if raw == "":
            if data:
                events.append({"type": typ or "message", "data": "\n".join(data), "id": last})
            data, typ = [], ""
        elif raw.startswith(":"):
            continue
        else:
            f, _, v = raw.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if f == "data": data.append(v)
            elif f == "event": typ = v
            elif f == "id": last = v
    return events, last
first, last = read(sys.argv[1])
second, _ = read(sys.argv[1], last)
print(json.dumps([e["data"] for e in first + second]), first[0]["type"], last)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &server.addr.port().to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        r#"["a0\nb0", "a1\nb1", "a2\nb2", "a3\nb3", "a4\nb4", "a5\nb5"] n 2"#
    );
}
