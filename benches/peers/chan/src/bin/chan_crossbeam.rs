//! crossbeam-channel and `std::sync::Mutex` on OS threads: the
//! thread-based peer of the channel and mutex benchmarks. See
//! `src/harness.rs` for the workloads and fibra's `benches/chan.rs` for the
//! other side.
//!
//! A "task" here is an OS thread. `pingpong_1w` pins both threads to CPU 0,
//! the nearest thing to one worker; every other benchmark leaves the threads
//! to the kernel on the machine's cores (two on the benchmark VMs, matching
//! the others' two workers). The unbuffered channel is `bounded(0)`,
//! crossbeam's rendezvous channel.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use crossbeam_channel::bounded;
use fibra_bench_chan_peers::harness::{self, report};

fn main() -> ExitCode {
    harness::main(&[
        ("pingpong_1w", || pingpong("pingpong_1w", true)),
        ("pingpong_2w", || pingpong("pingpong_2w", false)),
        ("buffered_1p", || buffered("buffered_1p", 1)),
        ("buffered_4p", || {
            buffered("buffered_4p", harness::PRODUCERS)
        }),
        ("mutex_uncontended", mutex_uncontended),
        ("mutex_contended", mutex_contended),
    ])
}

/// Restricts the calling thread to CPU 0.
fn pin_to_cpu0() {
    // SAFETY: `cpu_set_t` is plain data for which all-zero bytes is the
    // empty set; CPU_SET writes inside it; sched_setaffinity reads
    // `size_of::<cpu_set_t>()` bytes of it and affects only this thread
    // (pid 0).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

fn pingpong(name: &str, one_cpu: bool) {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let pong = thread::spawn(move || {
        if one_cpu {
            pin_to_cpu0();
        }
        for i in ping_rx.iter() {
            pong_tx.send(i).expect("ping is alive");
        }
    });
    let ping = thread::spawn(move || {
        if one_cpu {
            pin_to_cpu0();
        }
        let start = Instant::now();
        for i in 0..harness::PINGPONG_ROUND_TRIPS {
            ping_tx.send(i).expect("pong is alive");
            let back = pong_rx.recv().expect("pong is alive");
            debug_assert_eq!(back, i);
        }
        start.elapsed()
    });
    let elapsed = ping.join().expect("ping thread");
    pong.join().expect("pong thread");
    report(
        name,
        harness::ns_per(elapsed, harness::PINGPONG_ROUND_TRIPS),
        "ns",
    );
}

fn buffered(name: &str, producers: u64) {
    let (tx, rx) = bounded::<u64>(harness::BUFFER_CAPACITY);
    let start = Instant::now();
    let senders: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..harness::BUFFERED_MESSAGES / producers {
                    tx.send(i).expect("consumer is alive");
                }
            })
        })
        .collect();
    drop(tx);
    let sum: u64 = rx.iter().sum();
    let elapsed = start.elapsed();
    for sender in senders {
        sender.join().expect("producer thread");
    }
    harness::check_sum(producers, sum);
    report(
        name,
        harness::ns_per(elapsed, harness::BUFFERED_MESSAGES),
        "ns",
    );
}

fn mutex_uncontended() {
    let counter = Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..harness::UNCONTENDED_LOCKS {
        *black_box(&counter).lock().expect("not poisoned") += 1;
    }
    let elapsed = start.elapsed();
    assert_eq!(
        counter.into_inner().expect("not poisoned"),
        harness::UNCONTENDED_LOCKS
    );
    report(
        "mutex_uncontended",
        harness::ns_per(elapsed, harness::UNCONTENDED_LOCKS),
        "ns",
    );
}

fn mutex_contended() {
    let counter = Arc::new(Mutex::new(0u64));
    let start = Instant::now();
    let threads: Vec<_> = (0..harness::CONTENDERS)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..harness::CONTENDED_INCREMENTS {
                    *counter.lock().expect("not poisoned") += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("incrementing thread");
    }
    let elapsed = start.elapsed();
    assert_eq!(
        *counter.lock().expect("not poisoned"),
        harness::CONTENDERS * harness::CONTENDED_INCREMENTS
    );
    report(
        "mutex_contended",
        harness::ns_per(elapsed, harness::CONTENDERS * harness::CONTENDED_INCREMENTS),
        "ns",
    );
}
