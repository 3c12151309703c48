//! The workload on fibra-redis: one coroutine per client, on a runtime
//! with the default number of workers (one per core) or `FIBRA_WORKERS`.

use std::time::Instant;

use fibra_bench_redis_peers::{args, report, KEY, VALUE};
use fibra_redis::{cmd, pipe, Cmd, Connection};

fn main() {
    let a = args();
    let mut builder = fibra_runtime::runtime::Builder::new();
    if let Some(w) = std::env::var("FIBRA_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        builder = builder.workers(w);
    }
    let rt = builder.build().expect("runtime");
    rt.block_on(move || {
        let url = format!("redis://{}/", a.addr);
        let set = cmd("SET").arg(KEY).arg(VALUE);
        let get = cmd("GET").arg(KEY);
        for (op, c) in [("set", set), ("get", get)] {
            let conns: Vec<Connection> = (0..a.clients)
                .map(|_| Connection::connect(&url).expect("connect"))
                .collect();
            let per = a.n / a.clients;
            let pipeline = a.pipeline;
            let t = Instant::now();
            let handles: Vec<_> = conns
                .into_iter()
                .map(|mut conn| {
                    let c: Cmd = c.clone();
                    fibra_runtime::spawn(move || {
                        if pipeline == 1 {
                            for _ in 0..per {
                                conn.request(&c).expect("request");
                            }
                        } else {
                            let mut p = pipe();
                            for _ in 0..pipeline {
                                p.add(&c);
                            }
                            for _ in 0..per / pipeline {
                                p.execute(&mut conn).expect("pipeline");
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
    });
}
