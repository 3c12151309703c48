//! reqwest peers for the HTTP client benchmark: `reqwest_load MODE URL
//! CONCURRENCY SECONDS`, MODE `blocking` (one OS thread per worker) or
//! `async` (tokio tasks on the multi-threaded runtime). Each worker loops on
//! keep-alive GETs and reads the whole body; prints
//! `BENCH http_client/reqwest_MODE <requests per second>`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("blocking").to_owned();
    let url = args.get(2).cloned().unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    match mode.as_str() {
        "blocking" => {
            let client = reqwest::blocking::Client::builder()
                .pool_max_idle_per_host(conc)
                .build()
                .unwrap();
            let threads: Vec<_> = (0..conc)
                .map(|_| {
                    let (client, url, count, stop) =
                        (client.clone(), url.clone(), count.clone(), stop.clone());
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let body = client.get(&url).send().unwrap().bytes().unwrap();
                            assert!(!body.is_empty());
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                t.join().unwrap();
            }
        }
        "async" => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(conc)
                    .build()
                    .unwrap();
                let tasks: Vec<_> = (0..conc)
                    .map(|_| {
                        let (client, url, count, stop) =
                            (client.clone(), url.clone(), count.clone(), stop.clone());
                        tokio::spawn(async move {
                            while !stop.load(Ordering::Relaxed) {
                                let resp = client.get(&url).send().await.unwrap();
                                let body = resp.bytes().await.unwrap();
                                assert!(!body.is_empty());
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }
        other => panic!("unknown mode {other}"),
    }
    let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("BENCH http_client/reqwest_{mode} {rate:.0}");
}
