//! async-nats side of scripts/bench-nats (tokio, 2 workers).
//! Usage: nats_async URL WORKLOAD N   (WORKLOAD: pub16 pub1k pubsub16 reqrep)

use std::time::Instant;

use futures::StreamExt;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, workload, n) = (
        args[1].clone(),
        args[2].clone(),
        args[3].parse::<usize>().unwrap(),
    );
    let c = async_nats::connect(&url).await.unwrap();
    match workload.as_str() {
        "pub16" | "pub1k" => {
            let payload = bytes_of(if workload == "pub16" { 16 } else { 1024 });
            let start = Instant::now();
            for _ in 0..n {
                c.publish("bench.pub", payload.clone()).await.unwrap();
            }
            c.flush().await.unwrap();
            report(
                &workload,
                n as f64 / start.elapsed().as_secs_f64(),
                "msgs/s",
            );
        }
        "pubsub16" => {
            // A subscription buffer for every message, as fibra's pending
            // limits are raised for this workload (async-nats drops the
            // rest otherwise).
            let sc = async_nats::ConnectOptions::new()
                .subscription_capacity(n + 1)
                .connect(&url)
                .await
                .unwrap();
            let mut sub = sc.subscribe("bench.ps").await.unwrap();
            sc.flush().await.unwrap();
            let payload = bytes_of(16);
            let start = Instant::now();
            let rx = tokio::spawn(async move {
                for _ in 0..n {
                    tokio::time::timeout(std::time::Duration::from_secs(30), sub.next())
                        .await
                        .expect("a message was lost")
                        .unwrap();
                }
            });
            for _ in 0..n {
                c.publish("bench.ps", payload.clone()).await.unwrap();
            }
            c.flush().await.unwrap();
            rx.await.unwrap();
            report(
                &workload,
                n as f64 / start.elapsed().as_secs_f64(),
                "msgs/s",
            );
        }
        "reqrep" => {
            let sc = async_nats::connect(&url).await.unwrap();
            let mut sub = sc.subscribe("bench.rr").await.unwrap();
            sc.flush().await.unwrap();
            tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    if let Some(r) = m.reply {
                        sc.publish(r, m.payload).await.unwrap();
                    }
                }
            });
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                c.request("bench.rr", bytes_of(4)).await.unwrap();
                lat.push(t.elapsed().as_nanos() as f64 / 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            report(&workload, lat[lat.len() / 2], "us-median");
        }
        w => panic!("unknown workload {w}"),
    }
}

fn bytes_of(n: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'x'; n])
}

fn report(workload: &str, value: f64, unit: &str) {
    println!("BENCH async-nats {workload} {value:.1} {unit}");
}
