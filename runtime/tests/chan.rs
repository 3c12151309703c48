//! Channels: buffering, rendezvous, close, select, cancellation, timeouts,
//! stress, and use from plain OS threads.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_runtime::chan::{self, RecvError, SendError, TryRecvError, TrySendError};
use fibra_runtime::{runtime, select, sleep, spawn};

fn rt() -> runtime::Runtime {
    runtime::Builder::new().workers(2).build().unwrap()
}

/// Waits (polling) until `f` holds, failing after a generous timeout.
#[track_caller]
fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "condition never became true");
        sleep(Duration::from_millis(1));
    }
}

#[test]
fn bounded_buffers_up_to_capacity() {
    let (tx, rx) = chan::bounded(2);
    assert_eq!(tx.capacity(), Some(2));
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn blocked_sender_moves_into_freed_slot_in_order() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded(1);
        tx.send(0).unwrap();
        let tx2 = tx.clone();
        let h = spawn(move || tx2.send(1));
        eventually(|| rx.len() == 1 && !h.is_finished());
        sleep(Duration::from_millis(5));
        assert!(!h.is_finished(), "send into a full channel must wait");
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(h.join().unwrap(), Ok(()));
        assert_eq!(rx.recv(), Ok(1));
    });
}

#[test]
fn rendezvous_send_completes_only_when_received() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        assert_eq!(tx.try_send(5), Err(TrySendError::Full(5)));
        let delivered = Arc::new(AtomicUsize::new(0));
        let d = delivered.clone();
        let h = spawn(move || {
            tx.send(42).unwrap();
            d.store(1, Ordering::SeqCst);
        });
        sleep(Duration::from_millis(20));
        assert_eq!(delivered.load(Ordering::SeqCst), 0, "send returned early");
        assert_eq!(rx.len(), 0, "rendezvous channels buffer nothing");
        assert_eq!(rx.recv(), Ok(42));
        h.join().unwrap();
        assert_eq!(delivered.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn close_drains_buffer_then_reports_closed() {
    let (tx, rx) = chan::bounded(4);
    tx.send("a").unwrap();
    tx.send("b").unwrap();
    assert!(tx.close());
    assert!(!tx.close(), "second close reports it was closed already");
    assert_eq!(tx.send("c"), Err(SendError::Disconnected("c")));
    assert_eq!(rx.recv(), Ok("a"));
    assert_eq!(rx.recv(), Ok("b"));
    assert_eq!(rx.recv(), Err(RecvError::Disconnected));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn close_wakes_blocked_receivers_and_senders() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded::<String>(0);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                spawn(move || rx.recv())
            })
            .collect();
        let (tx2, _rx2) = chan::bounded::<String>(0);
        let blocked_sender = {
            let tx2 = tx2.clone();
            spawn(move || tx2.send("kept".to_string()))
        };
        sleep(Duration::from_millis(10));
        tx.close();
        tx2.close();
        for h in receivers {
            assert_eq!(h.join().unwrap(), Err(RecvError::Disconnected));
        }
        let err = blocked_sender.join().unwrap().unwrap_err();
        assert!(err.is_disconnected());
        assert_eq!(err.into_inner(), "kept");
    });
}

#[test]
fn dropping_all_senders_closes_and_dropping_receivers_fails_sends() {
    let (tx, rx) = chan::unbounded::<u8>();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "one sender is still alive");
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Err(RecvError::Disconnected));

    let (tx, rx) = chan::bounded::<u8>(1);
    drop(rx);
    assert_eq!(tx.send(9), Err(SendError::Disconnected(9)));
    assert!(tx.is_closed());
}

#[test]
fn iteration_ends_at_close() {
    let (tx, rx) = chan::unbounded();
    let h = spawn(move || {
        for i in 0..100u32 {
            tx.send(i).unwrap();
        }
    });
    let mut sum = 0;
    for v in &rx {
        sum += v;
    }
    h.join().unwrap();
    assert_eq!(sum, (0..100).sum::<u32>());
    let (tx, rx) = chan::bounded(3);
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    drop(tx);
    assert_eq!(rx.into_iter().count(), 0);
}

#[test]
fn ten_thousand_coroutines_through_one_channel() {
    for cap in [0, 16] {
        let total = rt().block_on(move || {
            let (tx, rx) = chan::bounded::<u64>(cap);
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    spawn(move || rx.iter().sum::<u64>())
                })
                .collect();
            drop(rx);
            let producers: Vec<_> = (0..10_000u64)
                .map(|i| {
                    let tx = tx.clone();
                    spawn(move || tx.send(i).unwrap())
                })
                .collect();
            drop(tx);
            for p in producers {
                p.join().unwrap();
            }
            consumers
                .into_iter()
                .map(|c| c.join().unwrap())
                .sum::<u64>()
        });
        assert_eq!(total, (0..10_000u64).sum(), "capacity {cap}");
    }
}

#[test]
fn ping_pong_stress_loses_no_wakeups() {
    let rounds = rt().block_on(|| {
        let pairs: Vec<_> = (0..50)
            .map(|_| {
                let (ping_tx, ping_rx) = chan::bounded::<u32>(0);
                let (pong_tx, pong_rx) = chan::bounded::<u32>(0);
                let echo = spawn(move || {
                    let mut n = 0;
                    for v in &ping_rx {
                        pong_tx.send(v + 1).unwrap();
                        n += 1;
                    }
                    n
                });
                spawn(move || {
                    let mut v = 0;
                    for _ in 0..2_000 {
                        ping_tx.send(v).unwrap();
                        v = pong_rx.recv().unwrap();
                    }
                    drop(ping_tx);
                    assert_eq!(echo.join().unwrap(), 2_000);
                    v
                })
            })
            .collect();
        pairs
            .into_iter()
            .map(|p| p.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(rounds.iter().all(|&v| v == 2_000), "{rounds:?}");
}

#[test]
fn select_picks_ready_arms_fairly() {
    let (tx_a, rx_a) = chan::unbounded();
    let (tx_b, rx_b) = chan::unbounded();
    const N: usize = 20_000;
    for _ in 0..N {
        tx_a.send(()).unwrap();
        tx_b.send(()).unwrap();
    }
    let (mut a, mut b) = (0usize, 0usize);
    for _ in 0..N {
        select! {
            recv(rx_a) -> v => { v.unwrap(); a += 1 }
            recv(rx_b) -> v => { v.unwrap(); b += 1 }
        }
    }
    assert_eq!(a + b, N);
    // Each should be near N/2; 45%..55% is many standard deviations wide.
    assert!(a > N * 45 / 100 && b > N * 45 / 100, "a={a} b={b}");
}

#[test]
fn select_default_timeout_and_send_arms() {
    let (tx, rx) = chan::bounded::<i32>(1);
    let r = select! {
        recv(rx) -> _ => "recv",
        default => "default",
    };
    assert_eq!(r, "default");

    let start = Instant::now();
    let r = select! {
        recv(rx) -> _ => "recv",
        timeout(Duration::from_millis(30)) => "timeout",
    };
    assert_eq!(r, "timeout");
    assert!(start.elapsed() >= Duration::from_millis(30));

    let r = select! {
        send(tx, 5) -> res => { res.unwrap(); "sent" }
        recv(rx) -> _ => "recv",
    };
    assert_eq!(r, "sent");
    // The buffer is full now, so only the receive arm can fire.
    let r = select! {
        send(tx, 6) -> _ => 0,
        recv(&rx) -> v => v.unwrap(),
    };
    assert_eq!(r, 5);

    tx.close();
    let r = select! {
        recv(rx) -> v => v,
        timeout(Duration::from_secs(5)) => Ok(-1),
    };
    assert_eq!(r, Err(RecvError::Disconnected));
    let r = select! {
        send(tx, 7) -> res => res,
    };
    assert_eq!(r, Err(SendError::Disconnected(7)));
}

#[test]
fn select_rendezvous_between_two_blocked_selects() {
    // Both sides block in select on rendezvous channels; exactly one pair of
    // arms must complete each round, and no value may be lost or doubled.
    let (tx, rx) = rt().block_on(|| {
        let (a_tx, a_rx) = chan::bounded::<u32>(0);
        let (b_tx, b_rx) = chan::bounded::<u32>(0);
        let sender = spawn(move || {
            let mut sent = 0u32;
            for i in 0..2_000 {
                select! {
                    send(a_tx, i) -> r => { r.unwrap(); sent += 1 }
                    send(b_tx, i) -> r => { r.unwrap(); sent += 1 }
                }
            }
            sent
        });
        let receiver = spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2_000 {
                select! {
                    recv(a_rx) -> v => got.push(v.unwrap()),
                    recv(b_rx) -> v => got.push(v.unwrap()),
                }
            }
            got
        });
        (sender.join().unwrap(), receiver.join().unwrap())
    });
    assert_eq!(tx, 2_000);
    assert_eq!(rx, (0..2_000).collect::<Vec<_>>());
}

#[test]
fn select_same_channel_send_and_recv_do_not_match_each_other() {
    let (tx, rx) = chan::bounded::<u8>(0);
    let r = select! {
        send(tx, 1) -> _ => "send",
        recv(rx) -> _ => "recv",
        timeout(Duration::from_millis(20)) => "timeout",
    };
    assert_eq!(r, "timeout");
}

#[test]
fn cancel_blocked_recv_returns_canceled_and_loses_nothing() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let rx2 = rx.clone();
        let h = spawn(move || rx2.recv());
        sleep(Duration::from_millis(10));
        h.cancel();
        assert_eq!(h.join().unwrap(), Err(RecvError::Canceled));
        // The canceled receiver left the queue: a send now needs a live one.
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        let h = spawn(move || rx.recv());
        tx.send(2).unwrap();
        assert_eq!(h.join().unwrap(), Ok(2));
    });
}

#[test]
fn cancel_blocked_send_gives_the_value_back() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded::<String>(0);
        let h = spawn(move || tx.send("mine".to_string()));
        sleep(Duration::from_millis(10));
        h.cancel();
        let err = h.join().unwrap().unwrap_err();
        assert!(err.is_canceled());
        assert_eq!(err.into_inner(), "mine");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn cancel_blocked_select_runs_interrupted_arm() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let keep_rx = rx.clone();
        let h = spawn(move || {
            select! {
                recv(rx) -> v => Ok(v.unwrap()),
                interrupted(e) => Err(e),
            }
        });
        sleep(Duration::from_millis(10));
        h.cancel();
        let err: io::Error = h.join().unwrap().unwrap_err();
        assert!(fibra_runtime::is_canceled(&err), "{err}");
        // Nothing is left registered: no receiver takes a rendezvous send.
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        drop(keep_rx);
    });
}

#[test]
fn with_timeout_around_recv_gives_timeout() {
    rt().block_on(|| {
        let (_tx, rx) = chan::unbounded::<u8>();
        let start = Instant::now();
        let r = fibra_runtime::with_timeout(Duration::from_millis(20), || rx.recv());
        assert_eq!(r, Err(RecvError::Timeout));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvError::Timeout)
        );
        let e: io::Error = RecvError::Timeout.into();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn timeouts_under_load_lose_no_values() {
    let (sent, received) = rt().block_on(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        let sent = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..200u32 {
            let (tx, rx) = (tx.clone(), rx.clone());
            let (sent, received) = (sent.clone(), received.clone());
            hs.push(spawn(move || {
                for j in 0..50u32 {
                    let t = Duration::from_micros(u64::from((i * 7 + j) % 200));
                    if i % 2 == 0 {
                        if tx.send_timeout(j, t).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if rx.recv_timeout(t).is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        (
            sent.load(Ordering::Relaxed),
            received.load(Ordering::Relaxed),
        )
    });
    assert_eq!(
        sent, received,
        "every successful rendezvous send was received"
    );
}

#[test]
fn works_between_os_threads_and_coroutines() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let (back_tx, back_rx) = chan::bounded::<u32>(1);
    let thread = std::thread::spawn(move || {
        // A plain OS thread: blocking calls block the thread.
        let mut total = 0;
        for v in &rx {
            total += v;
        }
        back_tx.send(total).unwrap();
    });
    let co = spawn(move || {
        for i in 1..=100 {
            tx.send(i).unwrap();
        }
    });
    co.join().unwrap();
    thread.join().unwrap();
    assert_eq!(back_rx.recv(), Ok(5050));
    // Timeouts work on threads too.
    let (_tx, rx) = chan::bounded::<u8>(0);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvError::Timeout)
    );
}

#[test]
fn oneshot_delivers_once_and_reports_drop() {
    let (tx, rx) = chan::oneshot();
    let h = spawn(move || tx.send(String::from("reply")));
    assert_eq!(rx.recv().as_deref(), Ok("reply"));
    h.join().unwrap().unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

    let (tx, rx) = chan::oneshot::<u8>();
    drop(tx);
    assert_eq!(rx.recv(), Err(RecvError::Disconnected));

    let (tx, rx) = chan::oneshot::<u8>();
    drop(rx);
    assert_eq!(tx.send(3), Err(3));

    let (tx, rx) = chan::oneshot::<u8>();
    tx.send(4).unwrap();
    let v = select! {
        recv(rx) -> v => v.unwrap(),
        timeout(Duration::from_secs(5)) => 0,
    };
    assert_eq!(v, 4);
}

#[test]
fn select_arms_can_break_and_continue_an_enclosing_loop() {
    let (tx, rx) = chan::bounded(8);
    for i in 1..=5 {
        tx.send(i).unwrap();
    }
    tx.close();
    let (mut sum, mut skipped) = (0, 0);
    loop {
        select! {
            recv(rx) -> v => match v {
                Ok(3) => { skipped += 1; continue }
                Ok(x) => sum += x,
                Err(_) => break,
            },
        }
    }
    assert_eq!((sum, skipped), (12, 1));
}

// The lint assumes a key with interior mutability may change its hash; a
// channel's hash is its identity, which never changes.
#[allow(clippy::mutable_key_type)]
#[test]
fn channels_are_map_keys_by_identity() {
    use std::collections::{HashMap, HashSet};

    let (tx1, rx1) = chan::unbounded::<i32>();
    let (tx2, rx2) = chan::unbounded::<i32>();
    // Go's map[chan T]string.
    let mut names: HashMap<chan::Sender<i32>, &str> = HashMap::new();
    names.insert(tx1.clone(), "one");
    names.insert(tx2.clone(), "two");
    names.insert(tx1.clone(), "uno");
    assert_eq!(names.len(), 2);
    assert_eq!(names[&tx1], "uno");
    assert_eq!(names[&tx2], "two");

    let receivers: HashSet<chan::Receiver<i32>> = [rx1.clone(), rx1.clone(), rx2.clone()]
        .into_iter()
        .collect();
    assert_eq!(receivers.len(), 2);
    assert!(receivers.contains(&rx2));

    assert_eq!(tx1, tx1.clone());
    assert_ne!(tx1, tx2);
    assert_eq!(rx1, rx1.clone());
    assert_ne!(rx1, rx2);
    assert_eq!(tx1, rx1);
    assert_eq!(rx1, tx1);
    assert_ne!(tx1, rx2);
    assert_ne!(rx2, tx1);

    // A sender and a receiver of one channel hash alike, so a map keyed by
    // senders can be searched through the receiver's hash.
    let hash = |h: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
        use std::hash::Hasher;
        let mut s = std::collections::hash_map::DefaultHasher::new();
        h(&mut s);
        s.finish()
    };
    use std::hash::Hash;
    assert_eq!(hash(&|s| tx2.hash(s)), hash(&|s| rx2.hash(s)));
    // Identity, not contents: the map survives values flowing through.
    tx1.send(5).unwrap();
    assert_eq!(names[&tx1], "uno");
    assert_eq!(rx1.recv(), Ok(5));
}
