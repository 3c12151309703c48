//! The WebSocket client side of the Autobahn suite (`scripts/autobahn`):
//! connects to a fuzzing server (`kosoku -m fuzzingserver`), runs every
//! case by echoing what the server sends, then asks it to write reports.
//! `cargo run --release --example ws_autobahn_client [ws://127.0.0.1:9002]`.

use fibra::http::ws::{self, Message};

const AGENT: &str = "fibra";

fn main() -> Result<(), ws::Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002".into());
    fibra::run(move || {
        let mut counter = ws::connect(&format!("{base}/getCaseCount"))?;
        let count: u32 = match counter.recv()? {
            Message::Text(t) => t.trim().parse().unwrap_or(0),
            other => panic!("unexpected case count message {other:?}"),
        };
        let _ = counter.recv();
        println!("{count} cases");
        for case in 1..=count {
            if std::env::var_os("VERBOSE").is_some() {
                eprintln!("case {case}");
            }
            let url = format!("{base}/runCase?case={case}&agent={AGENT}");
            let mut conn = match ws::connect(&url) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("case {case}: {e}");
                    continue;
                }
            };
            while let Ok(msg) = conn.recv() {
                if matches!(msg, Message::Close(_)) || conn.send(msg).is_err() {
                    break;
                }
            }
        }
        let mut done = ws::connect(&format!("{base}/updateReports?agent={AGENT}"))?;
        let _ = done.close(ws::CloseCode::NORMAL, "");
        Ok(())
    })
}
