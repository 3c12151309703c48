//! What every runtime benchmark program shares: the workload sizes, the
//! memory probe, the output format and the command line.
//!
//! This file is compiled twice: as a module of the peers crate (for
//! `rt_tokio` and `rt_may`) and, through `#[path]`, into fibra's own
//! `benches/runtime.rs`, so both sides measure with the same code. It uses
//! std only. `go/runtime/main.go` mirrors it; keep the two in step.
//!
//! Output: one line per result, `BENCH <name> <value> <unit>`, which
//! `scripts/bench-runtime` collects; `BENCH <name> n/a -` where a runtime has
//! no equivalent of the measured operation.
//!
//! Command line: `PROGRAM [BENCH...]`. With no benchmark named, the program
//! runs itself once per benchmark, each in a fresh process, so that one
//! benchmark's heap, stack pool or runtime configuration cannot leak into the
//! next (may's worker count, for one, is fixed per process). Arguments that
//! start with `-` are ignored: `cargo bench` passes `--bench`.

use std::process::{Command, ExitCode};
use std::time::Duration;

/// Round trips in `pingpong`.
pub const PINGPONG_ROUND_TRIPS: u64 = 100_000;
/// Sequential spawn+join pairs in `spawn_join`.
pub const SPAWN_JOINS: u64 = 100_000;
/// Untimed spawn+join pairs run first, so pools (stacks, task slots) are warm.
pub const SPAWN_JOIN_WARMUP: u64 = 1_000;
/// Tasks parked at once in `sleep_mem`.
pub const SLEEPERS: u64 = 100_000;
/// How long each `sleep_mem` task sleeps. It has to outlast spawning all of
/// them plus [`SLEEPER_SETTLE`], or the first tasks wake (and free their
/// stacks) before the resident set is read: on the 2-vCPU VM may needs
/// 2.3 s to spawn 100,000 coroutines, because every fresh stack is an mmap,
/// so 2 s is too short.
pub const SLEEPER_NAP: Duration = Duration::from_secs(5);
/// How long after the last spawn `sleep_mem` reads the resident set.
pub const SLEEPER_SETTLE: Duration = Duration::from_secs(1);
/// Timers inserted (all of them) and then cancelled (all of them) in `timers`.
pub const TIMERS: u64 = 1_000_000;

/// Delay of the `i`th timer in `timers`: 5 s plus a spread over one second
/// (7919 is prime, so consecutive timers land far apart), so the timers fill
/// many wheel slots or heap levels and none fires during the benchmark.
pub fn timer_delay(i: u64) -> Duration {
    Duration::from_secs(5) + Duration::from_micros(i * 7919 % 1_000_000)
}

/// Resident set size of this process in bytes: resident pages from
/// `/proc/self/statm` times 4096.
///
/// # Panics
///
/// Panics if `/proc/self/statm` cannot be read or parsed (not Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("parse resident pages from /proc/self/statm");
    resident * 4096
}

/// Warns on stderr when spawning the sleepers took so long that some of them
/// may have woken before the resident set was read (see [`SLEEPER_NAP`]).
pub fn check_sleepers_parked(spawn_time: Duration) {
    if spawn_time + SLEEPER_SETTLE >= SLEEPER_NAP {
        eprintln!(
            "warning: sleep_mem: spawning took {spawn_time:?}, so some sleepers had woken \
             before the resident set was read; the per-task figure is too low"
        );
    }
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
