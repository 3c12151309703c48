//! fibra's side of the runtime benchmarks, against tokio, may and Go.
//!
//! The workloads, sizes, memory probe, output lines and command line come
//! from `peers/src/harness.rs`, compiled into this program as well as into
//! the peers' (`peers/src/bin/rt_tokio.rs`, `peers/src/bin/rt_may.rs`,
//! `peers/go/runtime/main.go`), so both sides measure the same thing the
//! same way. `scripts/bench-runtime` builds all of them, runs them in
//! alternation and prints the medians.
//!
//! ```text
//! cargo bench --bench runtime                # every benchmark, one process each
//! target/release/deps/runtime-* pingpong     # one benchmark
//! ```

#[path = "peers/src/harness.rs"]
mod harness;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::report;

fn main() -> ExitCode {
    harness::main(&[
        ("pingpong", pingpong),
        ("spawn_join", spawn_join),
        ("sleep_mem", sleep_mem),
        ("timers", timers),
    ])
}

/// Two coroutines on a one-worker runtime hand a turn back and forth with
/// park/unpark, the primitive fibra's channels are built on.
///
/// Both sides are spawned (rather than one being the `block_on` closure) so
/// that both certainly run as coroutines on the single worker.
fn pingpong() {
    let rt = fibra::runtime::Builder::new()
        .workers(1)
        .build()
        .expect("build a one-worker fibra runtime");
    let elapsed = rt.block_on(|| {
        let turn = Arc::new(Turn::new());
        let ping = {
            let turn = Arc::clone(&turn);
            fibra::spawn(move || turn.ping())
        };
        let pong = fibra::spawn(move || turn.pong());
        let elapsed = ping.join().expect("ping coroutine");
        pong.join().expect("pong coroutine");
        elapsed
    });
    report(
        "pingpong",
        harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS),
        "ns",
    );
}

/// What the two `pingpong` coroutines share.
///
/// `count` says whose turn it is: odd, pong's; even, ping's. Round trip `i`
/// takes it from `2i` to `2i + 1` (ping's move) to `2i + 2` (pong's). Each
/// side parks until the count reaches the value it waits for, so a spurious
/// wake-up only costs another look.
struct Turn {
    count: AtomicU64,
    /// Each side's unparker, published when that side starts:
    /// [`Turn::PING`] and [`Turn::PONG`].
    unparkers: Mutex<[Option<fibra::Unparker>; 2]>,
}

impl Turn {
    const PING: usize = 0;
    const PONG: usize = 1;

    fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            unparkers: Mutex::new([None, None]),
        }
    }

    /// Publishes the calling coroutine's unparker as side `me`, waits until
    /// the other side has published its own, and returns that one.
    ///
    /// Whichever side arrives second finds the first's unparker under the
    /// lock and wakes it, so neither can miss the other.
    fn meet(&self, me: usize) -> fibra::Unparker {
        let other = 1 - me;
        let found = {
            let mut slots = self.unparkers.lock().expect("unparker slots");
            slots[me] = Some(fibra::current_unparker());
            slots[other].clone()
        };
        if let Some(peer) = found {
            peer.unpark();
            return peer;
        }
        loop {
            fibra::park();
            if let Some(peer) = self.unparkers.lock().expect("unparker slots")[other].clone() {
                return peer;
            }
        }
    }

    /// Parks until `count` reaches `value`.
    fn wait_for(&self, value: u64) {
        while self.count.load(Ordering::Acquire) != value {
            fibra::park();
        }
    }

    /// Ping's side: starts each round trip and times them all.
    fn ping(&self) -> Duration {
        let pong = self.meet(Self::PING);
        let start = Instant::now();
        for i in 0..harness::PINGPONG_ROUND_TRIPS {
            self.count.store(2 * i + 1, Ordering::Release);
            pong.unpark();
            self.wait_for(2 * i + 2);
        }
        start.elapsed()
    }

    /// Pong's side: answers each round trip.
    fn pong(&self) {
        let ping = self.meet(Self::PONG);
        for i in 0..harness::PINGPONG_ROUND_TRIPS {
            self.wait_for(2 * i + 1);
            self.count.store(2 * i + 2, Ordering::Release);
            ping.unpark();
        }
    }
}

/// From inside a coroutine on the global runtime (one worker per core),
/// spawn an empty coroutine and join it, one at a time.
fn spawn_join() {
    let elapsed = fibra::run(|| {
        for _ in 0..harness::SPAWN_JOIN_WARMUP {
            fibra::spawn(|| {}).join().expect("empty coroutine");
        }
        let start = Instant::now();
        for _ in 0..harness::SPAWN_JOINS {
            fibra::spawn(|| {}).join().expect("empty coroutine");
        }
        start.elapsed()
    });
    report(
        "spawn_join",
        harness::ns_per(elapsed, harness::SPAWN_JOINS),
        "ns",
    );
}

/// Resident memory per coroutine while 100,000 coroutines sleep, and the
/// time to spawn them.
fn sleep_mem() {
    let (per_task, spawn_time) = fibra::run(|| {
        let mut sleepers = Vec::with_capacity(harness::SLEEPERS as usize);
        let before = harness::rss_bytes();
        let start = Instant::now();
        for _ in 0..harness::SLEEPERS {
            sleepers.push(fibra::spawn(|| fibra::sleep(harness::SLEEPER_NAP)));
        }
        let spawn_time = start.elapsed();
        fibra::sleep(harness::SLEEPER_SETTLE);
        let after = harness::rss_bytes();
        for sleeper in sleepers {
            sleeper.join().expect("sleeping coroutine");
        }
        (
            after.saturating_sub(before) as f64 / harness::SLEEPERS as f64,
            spawn_time,
        )
    });
    harness::check_sleepers_parked(spawn_time);
    report("sleep_mem", per_task, "B");
    report("sleep_spawn", spawn_time.as_secs_f64() * 1e3, "ms");
}

/// Inserts 1,000,000 timers into the runtime's timer wheel, then cancels
/// them all. Each timer would unpark the root coroutine; none fires, as the
/// earliest deadline is 5 s away.
fn timers() {
    let elapsed = fibra::run(|| {
        let unparker = fibra::current_unparker();
        let mut timers = Vec::with_capacity(harness::TIMERS as usize);
        let base = Instant::now();
        let start = Instant::now();
        for i in 0..harness::TIMERS {
            timers.push(fibra::time::Timer::new(
                base + harness::timer_delay(i),
                unparker.clone(),
            ));
        }
        for timer in timers.drain(..) {
            assert!(timer.cancel(), "timer fired early");
        }
        start.elapsed()
    });
    report("timers", harness::ns_per(elapsed, harness::TIMERS), "ns");
}
