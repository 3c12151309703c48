//! Events streamed live to browsers: a WebSocket endpoint and a
//! Server-Sent Events endpoint, both fed by the [`Hub`](crate::events::Hub).
//! Each message is the JSON the writer published on NATS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra::chan::RecvError;
use fibra::http::sse::{Event, EventStreamExt};
use fibra::http::ws::{self, CloseCode, Message};
use fibra::http::{Error, Request, Response};

use crate::app::App;

/// A comment goes down an idle SSE stream this often (keeps proxies from
/// closing it and notices a departed client).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/events/ws`: one text message per event. The connection's
/// coroutine reads (to answer pings and notice the close); a second
/// coroutine writes the events.
pub fn websocket(app: &Arc<App>, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let hub = app.events.hub.clone();
    ws::upgrade(req, resp, move |mut socket| {
        let sub = hub.subscribe();
        let sender = socket.sender();
        let writer = fibra::spawn(move || {
            if sender.send_text(r#"{"type":"hello","via":"ws"}"#).is_err() {
                return;
            }
            while let Ok(msg) = sub.events.recv() {
                if sender.send_text(&msg).is_err() {
                    return;
                }
            }
            // The hub closed: the server is shutting down.
            let _ = sender.close(CloseCode::GOING_AWAY, "server shutting down");
        });
        loop {
            match socket.recv() {
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {} // browsers have nothing to say here
            }
        }
        writer.cancel();
        let _ = writer.join();
    })
}

/// `GET /api/events/sse`: one `link` event per event.
pub fn sse(app: &Arc<App>, _req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let sub = app.events.hub.subscribe();
    let mut stream = resp.event_stream();
    let hello = Event::new(r#"{"type":"hello","via":"sse"}"#).event("hello")?;
    if stream.retry(Duration::from_secs(2)).is_err() || stream.send(&hello).is_err() {
        return Ok(()); // the client went away
    }
    let mut last = Instant::now();
    loop {
        let sent = match sub.events.recv_deadline(last + KEEP_ALIVE) {
            Ok(msg) => stream.send(&Event::new(msg.to_string()).event("link")?),
            Err(RecvError::Timeout) => stream.comment(""),
            // Closed (shutdown) or canceled: end the response.
            Err(_) => return Ok(()),
        };
        if sent.is_err() {
            return Ok(()); // the client went away
        }
        last = Instant::now();
    }
}
