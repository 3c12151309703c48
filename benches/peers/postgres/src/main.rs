//! pgbench's built-in transactions, for one client library at a time:
//!
//!     fibra-bench-postgres-peers <fibra|fibra-threads|postgres|tokio> <select|update> <clients> <secs>
//!
//! `select` is pgbench -S (one `SELECT abalance ... WHERE aid = $1`),
//! `update` is pgbench -N (BEGIN; UPDATE accounts; SELECT; INSERT history;
//! END). Every client has its own connection and prepared statements, as
//! pgbench -M prepared does. Connects as $FIBRA_POSTGRES_TRUST_USER to
//! $FIBRA_POSTGRES_HOST:$FIBRA_POSTGRES_PORT/$FIBRA_POSTGRES_DATABASE, whose pgbench tables
//! scripts/bench-postgres creates with `pgbench -i`. Prints
//! `BENCH <lib>-<workload>-<clients> <transactions/s>`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_bench_postgres_peers::{env, url};

const SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
const UPDATE: &str = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2";
const INSERT: &str =
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)";

/// xorshift64*: the benchmark needs cheap, not good, randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i32) -> i32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as i32 + 1
    }
}

struct Shared {
    stop: AtomicBool,
    done: AtomicU64,
    accounts: i32,
}

/// One fibra-postgres client's loop.
fn fibra_client(update: bool, i: usize, shared: &Shared) {
    let mut c = fibra_postgres::Client::connect(&url()).unwrap();
    let sel = c.prepare(SELECT).unwrap();
    let upd = c.prepare(UPDATE).unwrap();
    let ins = c.prepare(INSERT).unwrap();
    let mut rng = Rng(0x9e37_79b9 + i as u64);
    while !shared.stop.load(Ordering::Relaxed) {
        let aid = rng.below(shared.accounts);
        if update {
            let delta = rng.below(10000) - 5000;
            c.batch_execute("BEGIN").unwrap();
            c.execute(&upd, &[&delta, &aid]).unwrap();
            let _: i32 = c.query_one(&sel, &[&aid]).unwrap().get(0);
            let (tid, bid) = (rng.below(10), 1i32);
            c.execute(&ins, &[&tid, &bid, &aid, &delta]).unwrap();
            c.batch_execute("END").unwrap();
        } else {
            let _: i32 = c.query_one(&sel, &[&aid]).unwrap().get(0);
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// fibra-postgres on coroutines.
fn fibra(update: bool, clients: usize, shared: Arc<Shared>) {
    fibra_runtime::run(move || {
        let hs: Vec<_> = (0..clients)
            .map(|i| {
                let shared = shared.clone();
                fibra_runtime::spawn(move || fibra_client(update, i, &shared))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

/// fibra-postgres on plain OS threads (its calls then block the thread):
/// separates the client's own cost from the runtime's scheduling.
fn fibra_threads(update: bool, clients: usize, shared: Arc<Shared>) {
    let hs: Vec<_> = (0..clients)
        .map(|i| {
            let shared = shared.clone();
            std::thread::spawn(move || fibra_client(update, i, &shared))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

fn sync(update: bool, clients: usize, shared: Arc<Shared>) {
    let hs: Vec<_> = (0..clients)
        .map(|i| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
                let sel = c.prepare(SELECT).unwrap();
                let upd = c.prepare(UPDATE).unwrap();
                let ins = c.prepare(INSERT).unwrap();
                let mut rng = Rng(0x9e37_79b9 + i as u64);
                while !shared.stop.load(Ordering::Relaxed) {
                    let aid = rng.below(shared.accounts);
                    if update {
                        let delta = rng.below(10000) - 5000;
                        c.batch_execute("BEGIN").unwrap();
                        c.execute(&upd, &[&delta, &aid]).unwrap();
                        let _: i32 = c.query_one(&sel, &[&aid]).unwrap().get(0);
                        let (tid, bid) = (rng.below(10), 1i32);
                        c.execute(&ins, &[&tid, &bid, &aid, &delta]).unwrap();
                        c.batch_execute("END").unwrap();
                    } else {
                        let _: i32 = c.query_one(&sel, &[&aid]).unwrap().get(0);
                    }
                    shared.done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

fn tokio(update: bool, clients: usize, shared: Arc<Shared>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let hs: Vec<_> = (0..clients)
            .map(|i| {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let (c, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    let sel = c.prepare(SELECT).await.unwrap();
                    let upd = c.prepare(UPDATE).await.unwrap();
                    let ins = c.prepare(INSERT).await.unwrap();
                    let mut rng = Rng(0x9e37_79b9 + i as u64);
                    while !shared.stop.load(Ordering::Relaxed) {
                        let aid = rng.below(shared.accounts);
                        if update {
                            let delta = rng.below(10000) - 5000;
                            c.batch_execute("BEGIN").await.unwrap();
                            c.execute(&upd, &[&delta, &aid]).await.unwrap();
                            let _: i32 = c.query_one(&sel, &[&aid]).await.unwrap().get(0);
                            let (tid, bid) = (rng.below(10), 1i32);
                            c.execute(&ins, &[&tid, &bid, &aid, &delta]).await.unwrap();
                            c.batch_execute("END").await.unwrap();
                        } else {
                            let _: i32 = c.query_one(&sel, &[&aid]).await.unwrap().get(0);
                        }
                        shared.done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!(
            "usage: {} <fibra|fibra-threads|postgres|tokio> <select|update> <clients> <secs>",
            args[0]
        );
        std::process::exit(2);
    }
    let (lib, workload) = (args[1].clone(), args[2].clone());
    let clients: usize = args[3].parse().unwrap();
    let secs: f64 = args[4].parse().unwrap();
    let update = match workload.as_str() {
        "select" => false,
        "update" => true,
        w => panic!("unknown workload {w}"),
    };
    let scale: i32 = env("PGBENCH_SCALE", "1").parse().unwrap();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        done: AtomicU64::new(0),
        accounts: 100_000 * scale,
    });
    let runner = {
        let shared = shared.clone();
        let lib = lib.clone();
        std::thread::spawn(move || match lib.as_str() {
            "fibra" => fibra(update, clients, shared),
            "fibra-threads" => fibra_threads(update, clients, shared),
            "postgres" => sync(update, clients, shared),
            "tokio" => tokio(update, clients, shared),
            l => panic!("unknown library {l}"),
        })
    };
    // Warm up (connect, prepare), then measure.
    std::thread::sleep(Duration::from_millis(500));
    let start_count = shared.done.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let n = shared.done.load(Ordering::Relaxed) - start_count;
    let tps = n as f64 / start.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    runner.join().unwrap();
    println!("BENCH {lib}-{workload}-{clients} {tps:.0}");
}
