//! fibra-nats side of scripts/bench-nats.
//! Usage: nats_fibra URL WORKLOAD N   (WORKLOAD: pub16 pub1k pubsub16 reqrep)

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, workload, n) = (
        args[1].clone(),
        args[2].clone(),
        args[3].parse::<usize>().unwrap(),
    );
    fibra_runtime::run(move || {
        let c = fibra_nats::connect(&url).unwrap();
        match workload.as_str() {
            "pub16" | "pub1k" => {
                let payload = vec![b'x'; if workload == "pub16" { 16 } else { 1024 }];
                let start = Instant::now();
                for _ in 0..n {
                    c.publish("bench.pub", &payload).unwrap();
                }
                c.flush_timeout(Duration::from_secs(60)).unwrap();
                report(
                    &workload,
                    n as f64 / start.elapsed().as_secs_f64(),
                    "msgs/s",
                );
            }
            "pubsub16" => {
                let sc = fibra_nats::ConnectOptions::new()
                    .pending_limits(usize::MAX, usize::MAX)
                    .connect(&url)
                    .unwrap();
                let sub = sc.subscribe("bench.ps").unwrap();
                sc.flush().unwrap();
                let payload = [b'x'; 16];
                let start = Instant::now();
                let rx = fibra_runtime::spawn(move || {
                    for _ in 0..n {
                        sub.next_timeout(Duration::from_secs(30)).unwrap();
                    }
                });
                for _ in 0..n {
                    c.publish("bench.ps", payload).unwrap();
                }
                c.flush_timeout(Duration::from_secs(60)).unwrap();
                rx.join().unwrap();
                report(
                    &workload,
                    n as f64 / start.elapsed().as_secs_f64(),
                    "msgs/s",
                );
            }
            "reqrep" => {
                let sc = fibra_nats::connect(&url).unwrap();
                let responder = sc.clone();
                let _h = sc
                    .subscribe_fn("bench.rr", move |m| {
                        responder.respond(&m, &m.payload).unwrap()
                    })
                    .unwrap();
                sc.flush().unwrap();
                let mut lat = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    c.request_timeout("bench.rr", "ping", Duration::from_secs(5))
                        .unwrap();
                    lat.push(t.elapsed().as_nanos() as f64 / 1000.0);
                }
                lat.sort_by(f64::total_cmp);
                report(&workload, lat[lat.len() / 2], "us-median");
            }
            w => panic!("unknown workload {w}"),
        }
    });
}

fn report(workload: &str, value: f64, unit: &str) {
    println!("BENCH fibra {workload} {value:.1} {unit}");
}
