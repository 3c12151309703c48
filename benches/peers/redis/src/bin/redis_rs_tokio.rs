//! The workload on redis-rs with tokio (two worker threads): one task and
//! one multiplexed connection per client.

use std::time::Instant;

use fibra_bench_redis_peers::{args, report, KEY, VALUE};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let client = redis::Client::open(format!("redis://{}/", a.addr)).unwrap();
    for op in ["set", "get"] {
        let mut conns = Vec::new();
        for _ in 0..a.clients {
            conns.push(
                client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("connect"),
            );
        }
        let per = a.n / a.clients;
        let pipeline = a.pipeline;
        let t = Instant::now();
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                tokio::spawn(async move {
                    let c = if op == "set" {
                        redis::cmd("SET").arg(KEY).arg(VALUE).clone()
                    } else {
                        redis::cmd("GET").arg(KEY).clone()
                    };
                    if pipeline == 1 {
                        for _ in 0..per {
                            let _: redis::Value = c.query_async(&mut conn).await.expect("request");
                        }
                    } else {
                        let mut p = redis::pipe();
                        for _ in 0..pipeline {
                            p.add_command(c.clone());
                        }
                        for _ in 0..per / pipeline {
                            let _: redis::Value = p.query_async(&mut conn).await.expect("pipeline");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        report(&a.mode, op, per * a.clients, t.elapsed());
    }
}
