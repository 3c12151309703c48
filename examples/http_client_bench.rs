//! The HTTP client benchmark's fibra side (run by scripts/bench-http-client).
//!
//! - `http_client_bench serve ADDR`: a fibra server answering every request
//!   with a short text body, the server all clients are measured against.
//! - `http_client_bench load URL CONCURRENCY SECONDS`: CONCURRENCY
//!   coroutines sharing one `Client` loop on keep-alive GETs, reading each
//!   body to the end; prints `BENCH http_client/fibra <requests per second>`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn serve(addr: &str) -> std::io::Result<()> {
    let addr = addr.to_owned();
    fibra::run(move || {
        let server = fibra::http::Server::bind(addr.as_str())?;
        println!("listening on http://{}/", server.local_addr()?);
        server.serve(fibra::http::handler_fn(|_req, resp| {
            resp.text("hello, benchmark\n");
            Ok(())
        }))
    })
}

fn load(url: String, conc: usize, secs: u64) {
    let rate = fibra::run(move || {
        let client = fibra::http::Client::builder()
            .no_proxy()
            .max_idle_per_host(conc)
            .build()
            .expect("client");
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let workers: Vec<_> = (0..conc)
            .map(|_| {
                let (client, url, count, stop) =
                    (client.clone(), url.clone(), count.clone(), stop.clone());
                fibra::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let body = client.get(&url).send().unwrap().bytes().unwrap();
                        assert!(!body.is_empty());
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        fibra::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    });
    println!("BENCH http_client/fibra {rate:.0}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(args.get(2).map_or("127.0.0.1:8080", String::as_str)).unwrap(),
        Some("load") => load(
            args.get(2)
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:8080/".into()),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5),
        ),
        _ => eprintln!("usage: http_client_bench serve ADDR | load URL CONCURRENCY SECONDS"),
    }
}
