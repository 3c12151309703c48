//! The workload on redis-rs's blocking client: one thread per client.

use std::time::Instant;

use fibra_bench_redis_peers::{args, report, KEY, VALUE};

fn main() {
    let a = args();
    let client = redis::Client::open(format!("redis://{}/", a.addr)).unwrap();
    for op in ["set", "get"] {
        let conns: Vec<redis::Connection> = (0..a.clients)
            .map(|_| client.get_connection().expect("connect"))
            .collect();
        let per = a.n / a.clients;
        let pipeline = a.pipeline;
        let t = Instant::now();
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                std::thread::spawn(move || {
                    let c = if op == "set" {
                        redis::cmd("SET").arg(KEY).arg(VALUE).clone()
                    } else {
                        redis::cmd("GET").arg(KEY).clone()
                    };
                    if pipeline == 1 {
                        for _ in 0..per {
                            let _: redis::Value = c.query(&mut conn).expect("request");
                        }
                    } else {
                        let mut p = redis::pipe();
                        for _ in 0..pipeline {
                            p.add_command(c.clone());
                        }
                        for _ in 0..per / pipeline {
                            let _: redis::Value = p.query(&mut conn).expect("pipeline");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        report(&a.mode, op, per * a.clients, t.elapsed());
    }
}
