//! One benchmark run: `mc-peers <client> <op> <n> <addr>`.
//!
//! client: `fibra` (fibra-memcache on a fibra coroutine; `fibra-1w` on a
//! runtime with one worker), `memcache-rs` (the `memcache` crate with its
//! default binary protocol, plain std threads) or `memcache-rs-ascii` (the
//! same over the text protocol). op: `get` and `set` (one key
//! per round trip, 32-byte values) or `mget` (a multi-get of 100 keys per
//! round trip). Sequential, one connection: it measures the round trip.
//! Prints `<client> <op> <ops per second> <microseconds per op>`.

use std::time::{Duration, Instant};

const VALUE: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const KEYS: usize = 1000;

fn key(i: usize) -> String {
    format!("bench:key:{}", i % KEYS)
}

trait Peer {
    fn set(&mut self, k: &str, v: &[u8]);
    fn get(&mut self, k: &str) -> usize;
    fn mget(&mut self, ks: &[String]) -> usize;
}

struct Fibra(fibra_memcache::Client);

impl Peer for Fibra {
    fn set(&mut self, k: &str, v: &[u8]) {
        self.0.set(k, v, 0, 0).unwrap();
    }
    fn get(&mut self, k: &str) -> usize {
        self.0.get(k).unwrap().map_or(0, |i| i.value.len())
    }
    fn mget(&mut self, ks: &[String]) -> usize {
        self.0.get_multi(ks).unwrap().iter().flatten().count()
    }
}

struct RustMemcache(memcache::Client);

impl Peer for RustMemcache {
    fn set(&mut self, k: &str, v: &[u8]) {
        self.0.set(k, v, 0).unwrap();
    }
    fn get(&mut self, k: &str) -> usize {
        self.0.get::<Vec<u8>>(k).unwrap().map_or(0, |v| v.len())
    }
    fn mget(&mut self, ks: &[String]) -> usize {
        let keys: Vec<&str> = ks.iter().map(String::as_str).collect();
        self.0.gets::<Vec<u8>>(&keys).unwrap().len()
    }
}

fn bench(peer: &mut dyn Peer, op: &str, n: usize) -> Duration {
    for i in 0..KEYS {
        peer.set(&key(i), VALUE);
    }
    let batches: Vec<Vec<String>> = (0..10)
        .map(|b| (0..100).map(|i| key(b * 100 + i)).collect())
        .collect();
    let warm = n / 10;
    let mut run = |count: usize| {
        let t = Instant::now();
        for i in 0..count {
            match op {
                "get" => assert_eq!(peer.get(&key(i)), VALUE.len()),
                "set" => peer.set(&key(i), VALUE),
                "mget" => assert_eq!(peer.mget(&batches[i % batches.len()]), 100),
                _ => panic!("unknown op {op}"),
            }
        }
        t.elapsed()
    };
    run(warm);
    run(n)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, client, op, n, addr] = &args[..] else {
        eprintln!("usage: mc-peers fibra|memcache-rs get|set|mget N HOST:PORT");
        std::process::exit(2);
    };
    let n: usize = n.parse().unwrap();
    let took = match client.as_str() {
        "fibra" | "fibra-1w" => {
            let addr = addr.clone();
            let op = op.clone();
            let mut rt = fibra_runtime::runtime::Builder::new();
            if client == "fibra-1w" {
                rt = rt.workers(1);
            }
            rt.build().unwrap().block_on(move || {
                let mc = fibra_memcache::Client::builder()
                    .server(addr)
                    .max_connections(1)
                    .build()
                    .unwrap();
                bench(&mut Fibra(mc), &op, n)
            })
        }
        "memcache-rs" | "memcache-rs-ascii" => {
            let mut url = format!("memcache://{addr}?tcp_nodelay=true");
            if client == "memcache-rs-ascii" {
                url.push_str("&protocol=ascii");
            }
            let mc = memcache::Client::connect(url).unwrap();
            bench(&mut RustMemcache(mc), op, n)
        }
        _ => panic!("unknown client {client}"),
    };
    let secs = took.as_secs_f64();
    println!(
        "{client} {op} {:.0} {:.2}",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
