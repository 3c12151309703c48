//! A WebSocket chat room: `cargo run --example chat`, then open
//! http://127.0.0.1:8080/ in two browser tabs. The page and the socket are
//! served by the same server; every message goes to everyone in the room.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fibra::http::ws::{self, Message};
use fibra::http::{handler_fn, Server, StatusCode};
use fibra::sync::Mutex;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>fibra chat</title>
<ul id="log"></ul>
<form id="f"><input id="msg" autocomplete="off" autofocus><button>send</button></form>
<script>
const ws = new WebSocket(`ws://${location.host}/ws`);
const log = (t) => { const li = document.createElement("li"); li.textContent = t; document.getElementById("log").append(li); };
ws.onmessage = (e) => log(e.data);
ws.onclose = () => log("* disconnected");
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const m = document.getElementById("msg");
  if (m.value) { ws.send(m.value); m.value = ""; }
};
</script>
"#;

/// Everyone connected: an id and the sending half of their socket.
type Room = Arc<Mutex<Vec<(u64, ws::Sender)>>>;

fn broadcast(room: &Room, text: &str) {
    let members: Vec<_> = room.lock().clone();
    for (id, tx) in members {
        if tx.send_text(text).is_err() {
            room.lock().retain(|(other, _)| *other != id);
        }
    }
}

fn main() -> std::io::Result<()> {
    let room: Room = Arc::new(Mutex::new(Vec::new()));
    let next_id = Arc::new(AtomicU64::new(1));
    fibra::run(move || {
        let server = Server::bind("127.0.0.1:8080")?;
        println!("chat on http://{}/", server.local_addr()?);
        server.serve(handler_fn(move |req, resp| match req.path() {
            "/" => {
                resp.header("content-type", "text/html; charset=utf-8")?
                    .body(PAGE);
                Ok(())
            }
            "/ws" => {
                let room = room.clone();
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                ws::upgrade(req, resp, move |mut socket| {
                    room.lock().push((id, socket.sender()));
                    broadcast(&room, &format!("* user{id} joined"));
                    while let Ok(msg) = socket.recv() {
                        match msg {
                            Message::Text(t) => broadcast(&room, &format!("user{id}: {t}")),
                            Message::Binary(_) => {}
                            Message::Close(_) => break,
                        }
                    }
                    room.lock().retain(|(other, _)| *other != id);
                    broadcast(&room, &format!("* user{id} left"));
                })
            }
            _ => {
                resp.status(StatusCode::NOT_FOUND).text("not found\n");
                Ok(())
            }
        }))
    })
}
