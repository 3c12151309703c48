//! Server-Sent Events: a clock ticking once a second.
//! `cargo run --example sse_clock`, then `curl -N http://127.0.0.1:8080/`
//! or open the address in a browser (`/page` shows it with EventSource).
//! Reconnecting clients resume after their `Last-Event-ID`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fibra::http::sse::{Event, EventStreamExt};
use fibra::http::{handler_fn, Server};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>fibra clock</title>
<h1 id="t">…</h1>
<script>
new EventSource("/").addEventListener("tick", (e) => {
  document.getElementById("t").textContent = new Date(Number(e.data) * 1000).toLocaleTimeString();
});
</script>
"#;

fn main() -> std::io::Result<()> {
    fibra::run(|| {
        let server = Server::bind("127.0.0.1:8080")?;
        println!("clock on http://{}/ (page at /page)", server.local_addr()?);
        server.serve(handler_fn(|req, resp| {
            if req.path() == "/page" {
                resp.header("content-type", "text/html; charset=utf-8")?
                    .body(PAGE);
                return Ok(());
            }
            let mut seq: u64 = req
                .header("last-event-id")
                .and_then(|id| id.parse().ok())
                .map_or(0, |id: u64| id + 1);
            let mut events = resp.event_stream();
            events.retry(Duration::from_secs(2))?;
            loop {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let tick = Event::new(now.to_string())
                    .event("tick")?
                    .id(seq.to_string())?;
                if events.send(&tick).is_err() {
                    // The client went away.
                    return Ok(());
                }
                seq += 1;
                fibra::sleep(Duration::from_secs(1));
            }
        }))
    })
}
