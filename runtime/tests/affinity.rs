//! Thread affinity: once a coroutine has started, it never changes threads,
//! so thread-affine values (a `thread_local!` borrow, a std `MutexGuard`)
//! held across any blocking call stay sound. Before they start, coroutines
//! are still spread over the workers.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use fibra_runtime::io::{Direction, Registration};
use fibra_runtime::{chan, runtime, spawn};

thread_local! {
    static CELL: RefCell<u64> = const { RefCell::new(0) };
}

#[inline(never)]
fn tid() -> ThreadId {
    thread::current().id()
}

#[track_caller]
fn assert_home(home: ThreadId, what: &str) {
    assert_eq!(
        tid(),
        home,
        "a started coroutine changed threads after {what}"
    );
}

/// Runs one coroutine's round of blocking calls while it holds a shared
/// borrow of a `thread_local!` `RefCell` and a std `MutexGuard`, checking
/// after each call that it is still on the thread it started on.
fn round_of_waits(lock: &std::sync::Mutex<u64>, i: usize) {
    let home = tid();
    CELL.with(|cell| {
        let borrow = cell.borrow();
        let mut guard = lock.lock().unwrap();

        fibra_runtime::sleep(Duration::from_millis(1 + (i % 3) as u64));
        assert_home(home, "sleep");

        for _ in 0..3 {
            fibra_runtime::yield_now();
            assert_home(home, "yield_now");
        }

        // A rendezvous channel: the partner is another coroutine, likely on
        // another worker.
        let (tx, rx) = chan::bounded::<usize>(0);
        let partner = spawn(move || {
            fibra_runtime::sleep(Duration::from_millis(1));
            tx.send(i).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), i);
        assert_home(home, "a channel receive");
        partner.join().unwrap();
        assert_home(home, "join");

        // A socket read that has to wait for a writer elsewhere.
        let (mut a, mut b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        let writer = spawn(move || {
            fibra_runtime::sleep(Duration::from_millis(2));
            b.write_all(&[7; 8]).unwrap();
            b
        });
        let mut buf = [0u8; 8];
        let n = reg
            .do_io(Direction::Read, None, || (&a).read(&mut buf))
            .unwrap();
        assert!(n > 0 && buf[..n].iter().all(|&x| x == 7));
        assert_home(home, "a socket read");
        drop(writer.join().unwrap());
        reg.deregister(&mut a).unwrap();

        let v = fibra_runtime::blocking(move || {
            thread::sleep(Duration::from_millis(1));
            i
        });
        assert_eq!(v, i);
        assert_home(home, "blocking()");

        *guard += 1;
        drop(guard);
        drop(borrow);
    });
}

#[test]
fn started_coroutines_never_change_threads() {
    const N: usize = 1000;
    let rt = runtime::Builder::new().workers(4).build().unwrap();
    let first_threads = Arc::new(Mutex::new(HashSet::new()));
    let ft = first_threads.clone();
    let done = rt.block_on(move || {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let ft = ft.clone();
                spawn(move || {
                    ft.lock().unwrap().insert(tid());
                    let lock = std::sync::Mutex::new(0u64);
                    for _ in 0..2 {
                        round_of_waits(&lock, i);
                    }
                    let n = *lock.lock().unwrap();
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(done, 2 * N as u64);
    let spread = first_threads.lock().unwrap().len();
    assert!(
        spread >= 2,
        "coroutines should be spread over the workers before they start; all started on {spread} worker(s)"
    );
}

#[test]
fn pinned_coroutines_start_where_they_are_spawned() {
    let rt = runtime::Builder::new().workers(4).build().unwrap();
    let ok = rt.block_on(|| {
        let me = tid();
        let hs: Vec<_> = (0..64)
            .map(|_| {
                fibra_runtime::coroutine::Builder::new()
                    .pinned(true)
                    .spawn(move || {
                        let start = tid();
                        fibra_runtime::sleep(Duration::from_millis(1));
                        fibra_runtime::yield_now();
                        start == me && tid() == me
                    })
                    .unwrap()
            })
            .collect();
        hs.into_iter().all(|h| h.join().unwrap())
    });
    assert!(
        ok,
        "a pinned coroutine ran away from the worker it was spawned on"
    );
}

/// A socket handed from coroutine to coroutine across workers, with one
/// registration: each new user's first wait moves it to its own worker's
/// poll, and no byte or wake-up is lost on the way.
#[test]
fn a_socket_handed_between_workers_keeps_working() {
    let rt = runtime::Builder::new().workers(2).build().unwrap();
    let total = rt.block_on(|| {
        let (mut a, mut b) = mio::net::UnixStream::pair().unwrap();
        let reg = Registration::new(&mut a).unwrap();
        let shared = Arc::new((a, reg));
        let writer = spawn(move || {
            for i in 0..200u8 {
                fibra_runtime::sleep(Duration::from_micros(300));
                b.write_all(&[i]).unwrap();
            }
        });
        let mut total = 0usize;
        for round in 0..20u8 {
            // A fresh coroutine each round, on whichever worker takes it.
            let s = shared.clone();
            let h = spawn(move || {
                let (sock, reg) = &*s;
                let mut got = Vec::new();
                while got.len() < 10 {
                    let mut buf = [0u8; 16];
                    let want = 10 - got.len();
                    let n = reg
                        .do_io(Direction::Read, None, || {
                            let mut r: &mio::net::UnixStream = sock;
                            r.read(&mut buf[..want])
                        })
                        .unwrap();
                    assert!(n > 0, "EOF in round {round}");
                    got.extend_from_slice(&buf[..n]);
                }
                got
            });
            let got = h.join().unwrap();
            let start = round * 10;
            assert_eq!(got, (start..start + 10).collect::<Vec<_>>());
            total += got.len();
        }
        writer.join().unwrap();
        let (mut a, reg) = Arc::into_inner(shared).unwrap();
        reg.deregister(&mut a).unwrap();
        total
    });
    assert_eq!(total, 200);
}
