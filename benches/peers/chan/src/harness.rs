//! What every channel-and-mutex benchmark program shares: the workload
//! sizes, the output format and the command line.
//!
//! This file is compiled into each peer (`chan_crossbeam`, `chan_tokio`,
//! `chan_may`, through `src/lib.rs`) and, through `#[path]`, into fibra's
//! own `benches/chan.rs`, so every side measures the same workloads the same
//! way. It uses std only. `../go/chan/main.go` mirrors it; keep the two in
//! step.
//!
//! The benchmarks (lower is better in each):
//!
//! | name | workload | unit |
//! |---|---|---|
//! | `pingpong_1w` | [`PINGPONG_ROUND_TRIPS`] round trips over two unbuffered channels between two tasks, one worker | ns per round trip |
//! | `pingpong_2w` | the same on two workers | ns per round trip |
//! | `buffered_1p` | [`BUFFERED_MESSAGES`] `u64`s through a channel of capacity [`BUFFER_CAPACITY`], one producer, one consumer, two workers | ns per message |
//! | `buffered_4p` | the same split over [`PRODUCERS`] producers | ns per message |
//! | `mutex_uncontended` | [`UNCONTENDED_LOCKS`] lock + unlock pairs on one task | ns per pair |
//! | `mutex_contended` | [`CONTENDERS`] tasks × [`CONTENDED_INCREMENTS`] increments of one counter under one mutex, two workers | ns per increment |
//!
//! Output: one line per result, `BENCH <name> <value> <unit>`, collected by
//! `scripts/bench-chan`.
//!
//! Command line: `PROGRAM [BENCH...]`. With no benchmark named, the program
//! runs itself once per benchmark, each in a fresh process (may's worker
//! count, for one, is fixed per process). Arguments that start with `-` are
//! ignored: `cargo bench` passes `--bench`.

use std::process::{Command, ExitCode};
use std::time::Duration;

/// Round trips in `pingpong_1w` and `pingpong_2w`.
pub const PINGPONG_ROUND_TRIPS: u64 = 100_000;
/// Messages in `buffered_1p` and `buffered_4p`, over all producers.
pub const BUFFERED_MESSAGES: u64 = 1_000_000;
/// Capacity of the buffered channel.
pub const BUFFER_CAPACITY: usize = 1024;
/// Producers in `buffered_4p`; each sends an equal share.
pub const PRODUCERS: u64 = 4;
/// Lock + unlock pairs in `mutex_uncontended`.
pub const UNCONTENDED_LOCKS: u64 = 10_000_000;
/// Tasks in `mutex_contended`.
pub const CONTENDERS: u64 = 4;
/// Increments per task in `mutex_contended`.
pub const CONTENDED_INCREMENTS: u64 = 250_000;
/// Worker threads for every benchmark except `pingpong_1w`.
pub const WORKERS: usize = 2;

/// The value the consumer of a buffered benchmark must end up with: the
/// sum of `0..BUFFERED_MESSAGES / producers` per producer, so a lost or
/// duplicated message shows up as a failed check rather than a fast run.
pub fn buffered_sum(producers: u64) -> u64 {
    let each = BUFFERED_MESSAGES / producers;
    producers * (each * (each - 1) / 2)
}

/// Panics unless the consumer's sum is [`buffered_sum`].
///
/// # Panics
///
/// When messages were lost or duplicated.
pub fn check_sum(producers: u64, got: u64) {
    assert_eq!(
        got,
        buffered_sum(producers),
        "consumer saw the wrong messages"
    );
}

/// Nanoseconds per operation.
pub fn ns_per(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

/// Prints one result line.
pub fn report(name: &str, value: f64, unit: &str) {
    println!("BENCH {name} {value:.1} {unit}");
}

/// A benchmark: its name on the command line and the function that runs it.
pub type Bench = (&'static str, fn());

/// Runs the benchmarks named on the command line, or, with none named, every
/// benchmark in `benches`, each in a child process of this same program.
pub fn main(benches: &[Bench]) -> ExitCode {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if names.is_empty() {
        let exe = std::env::current_exe().expect("path of this program");
        for (name, _) in benches {
            let status = Command::new(&exe)
                .arg(name)
                .status()
                .expect("run benchmark child");
            if !status.success() {
                eprintln!("benchmark {name} failed: {status}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    for name in &names {
        match benches.iter().find(|(known, _)| known == name) {
            Some((_, run)) => run(),
            None => {
                let known: Vec<&str> = benches.iter().map(|(known, _)| *known).collect();
                eprintln!("unknown benchmark {name:?}; known: {}", known.join(" "));
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
