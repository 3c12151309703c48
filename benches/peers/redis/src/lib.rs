//! What the three benchmark programs share: arguments and output.
//!
//! Usage: `PROGRAM ADDR MODE N`, where MODE is `rtC` (C concurrent
//! clients, each with its own connection, doing one request at a time) or
//! `pipeP` (one connection sending pipelines of P requests). Each program
//! runs N SETs and then N GETs of the key `key:__rand_int__` with a 3-byte
//! value (what redis-benchmark sends by default) and prints
//! `BENCH MODE-set RPS` and `BENCH MODE-get RPS`.

use std::time::Duration;

/// The benchmark's parameters.
pub struct Args {
    /// `host:port`.
    pub addr: String,
    /// The mode as given, for the output.
    pub mode: String,
    /// Concurrent clients (1 for pipelines).
    pub clients: usize,
    /// Requests per pipeline (1 for round trips).
    pub pipeline: usize,
    /// Requests per operation.
    pub n: usize,
}

/// The key and value redis-benchmark uses by default.
pub const KEY: &str = "key:__rand_int__";
/// The value: 3 bytes.
pub const VALUE: &str = "xxx";

/// Parses the command line.
pub fn args() -> Args {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: {} ADDR rtC|pipeP N", a[0]);
        std::process::exit(2);
    }
    let mode = a[2].clone();
    let (clients, pipeline) = if let Some(c) = mode.strip_prefix("rt") {
        (c.parse().expect("rtC"), 1)
    } else if let Some(p) = mode.strip_prefix("pipe") {
        (1, p.parse().expect("pipeP"))
    } else {
        panic!("bad mode {mode}");
    };
    Args {
        addr: a[1].clone(),
        mode,
        clients,
        pipeline,
        n: a[3].parse().expect("N"),
    }
}

/// Prints one result line.
pub fn report(mode: &str, op: &str, n: usize, took: Duration) {
    println!("BENCH {mode}-{op} {:.0}", n as f64 / took.as_secs_f64());
}
