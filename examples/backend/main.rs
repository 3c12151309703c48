//! fibra's flagship example: a link shortener that uses every part of the
//! stack, written as plain blocking code on coroutines.
//!
//! - HTTP JSON API on fibra's router, with logging, panic recovery, CORS
//!   and request-id middleware ([`api`], [`app`]);
//! - links in PostgreSQL: migrations at start, a pool, prepared
//!   statements ([`store`]);
//! - a read-through cache in Memcached over three nodes with rendezvous
//!   hashing ([`cache`]);
//! - rate limiting of writes per client IP in Redis ([`ratelimit`]);
//! - every write published on NATS, and streamed live to browsers over
//!   WebSocket and Server-Sent Events ([`events`], [`live`]);
//! - an outgoing HTTP call with a deadline: each new link's page title
//!   ([`title`]);
//! - graceful shutdown on SIGINT/SIGTERM; configuration from environment
//!   variables ([`config`]).
//!
//! ```text
//! ./scripts/main                      # starts the servers, then this
//! # or, with the servers already up (scripts/services start):
//! cargo run --example backend
//! curl -d '{"url":"https://www.rust-lang.org/"}' http://127.0.0.1:8080/api/links
//! curl -i http://127.0.0.1:8080/<code>
//! curl -N http://127.0.0.1:8080/api/events/sse
//! ```

mod api;
mod app;
mod cache;
mod config;
mod events;
mod live;
mod ratelimit;
mod store;
mod title;

use std::io::IsTerminal;
use std::process::ExitCode;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() -> ExitCode {
    // Logs (the Logger middleware's access lines among them) go to stderr.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let config = match config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("backend: {e}");
            return ExitCode::from(2);
        }
    };

    // Signals arrive on a plain thread; the first asks for a graceful
    // shutdown through a channel, a second one exits at once.
    let (stop_tx, stop_rx) = fibra::chan::bounded::<i32>(1);
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("backend: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    std::thread::spawn(move || {
        let mut signals = signals.forever();
        if let Some(sig) = signals.next() {
            let _ = stop_tx.send(sig);
        }
        if signals.next().is_some() {
            eprintln!("backend: second signal, exiting now");
            std::process::exit(130);
        }
    });

    fibra::run(move || {
        let running = match app::start(config) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("backend: {e}");
                eprintln!("backend: are the servers up? `scripts/services start` starts them");
                return ExitCode::FAILURE;
            }
        };
        println!("fibra backend listening on http://{}/", running.addr);
        println!("  memcached: {}", running.app().cache.servers().join(", "));
        println!("  press Ctrl-C to stop");
        let sig = stop_rx.recv().unwrap_or(SIGTERM);
        tracing::info!(signal = sig, "shutting down");
        match running.shutdown() {
            Ok(()) => {
                println!("backend: stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("backend: shutdown: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
