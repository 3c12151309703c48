//! `time::Ticker` and `time::tick`: drift-free ticks, select arms, dropped
//! ticks for slow receivers, stop. Each test runs under a watchdog.

use std::time::{Duration, Instant};

use fibra_runtime::chan::{self, RecvError, TryRecvError};
use fibra_runtime::time::{tick, Ticker};
use fibra_runtime::{runtime, select, sleep, spawn};

const WATCHDOG: Duration = Duration::from_secs(20);

/// Runs `test` on a 2-worker runtime on its own thread; fails, naming the
/// test, if it has not finished after [`WATCHDOG`].
fn watchdog(name: &'static str, test: impl FnOnce() + Send + 'static) {
    fibra_testkit::watchdog(name, WATCHDOG, move || {
        let rt = runtime::Builder::new().workers(2).build().unwrap();
        rt.block_on(test);
    });
}

#[test]
fn hundred_ticks_do_not_drift() {
    watchdog("hundred_ticks_do_not_drift", || {
        let period = Duration::from_millis(10);
        let start = Instant::now();
        let ticker = Ticker::new(period);
        let last_due = start + period * 100;
        // Receive until the tick due at start + 100 periods. A tick the
        // driver could not send within its period (the machine stalled) is
        // skipped, as in Go, so count by schedule, not by receipts.
        let mut sent = Vec::with_capacity(100);
        loop {
            let at = ticker.recv().unwrap();
            sent.push(at);
            if at >= last_due {
                break;
            }
        }
        let done = Instant::now();
        for (i, at) in sent.iter().enumerate() {
            let due = start + period * (i as u32 + 1);
            assert!(*at >= due, "tick {} sent {:?} early", i + 1, due - *at);
        }
        for pair in sent.windows(2) {
            assert!(pair[1] > pair[0], "ticks out of order");
        }
        // Ticks are scheduled from the start, so lateness does not add up:
        // the 100th arrives within a few timer ticks of start + 100
        // periods, where a sleep-after-receive loop would be late by 100
        // wake-up delays (1 ms of rounding each, at least).
        let late = done.saturating_duration_since(last_due);
        assert!(
            late < Duration::from_millis(15),
            "the tick due at 100 periods came {late:?} late"
        );
        assert!(
            sent.len() >= 90,
            "only {} of 100 ticks delivered to a receiver that keeps up",
            sent.len()
        );
    });
}

#[test]
fn ticker_is_a_select_arm_next_to_another_channel() {
    watchdog("ticker_is_a_select_arm_next_to_another_channel", || {
        let ticker = Ticker::new(Duration::from_millis(10));
        let (tx, rx) = chan::bounded::<&str>(0);
        spawn(move || {
            sleep(Duration::from_millis(45));
            tx.send("done").unwrap();
        });
        let mut ticks = 0;
        let got = loop {
            select! {
                recv(ticker) -> t => {
                    t.unwrap();
                    ticks += 1;
                },
                recv(rx) -> msg => break msg.unwrap(),
            }
        };
        assert_eq!(got, "done");
        // Due at 10, 20, 30, 40 ms before the message at 45 ms.
        assert!((3..=4).contains(&ticks), "{ticks} ticks in 45 ms");
        // The receiver, as Go's `ticker.C`, works in a select too.
        let rx2 = ticker.receiver().clone();
        let t = select! {
            recv(rx2) -> t => t.unwrap(),
            timeout(Duration::from_secs(1)) => panic!("no tick within 1 s"),
        };
        assert!(t <= Instant::now());
    });
}

#[test]
fn slow_receiver_finds_one_tick_and_the_rest_dropped() {
    watchdog("slow_receiver_finds_one_tick_and_the_rest_dropped", || {
        let start = Instant::now();
        let ticker = Ticker::new(Duration::from_millis(5));
        sleep(Duration::from_millis(52));
        let rx = ticker.receiver();
        // As in Go, the buffered tick is the oldest undelivered one.
        let first = rx.try_recv().expect("one tick buffered");
        assert!(
            first < start + Duration::from_millis(30),
            "not the first tick"
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "ticks piled up");
        // The next tick is the next due one (within a period), not a
        // backlog sent in a burst or a schedule restarted from now.
        let asked = Instant::now();
        let next = ticker.recv().unwrap();
        assert!(next > asked);
        assert!(
            next - asked < Duration::from_millis(15),
            "{:?}",
            next - asked
        );
    });
}

#[test]
fn stop_ends_the_ticks_and_drop_closes_the_channel() {
    watchdog("stop_ends_the_ticks_and_drop_closes_the_channel", || {
        let ticker = Ticker::new(Duration::from_millis(5));
        ticker.recv().unwrap();
        ticker.stop();
        ticker.stop();
        // Whatever was buffered at the stop may still come; then nothing.
        let _ = ticker.receiver().try_recv();
        assert_eq!(
            ticker.receiver().recv_timeout(Duration::from_millis(40)),
            Err(RecvError::Timeout),
            "a stopped ticker ticked"
        );
        assert!(!ticker.receiver().is_closed(), "stop closed the channel");
        let rx = ticker.receiver().clone();
        drop(ticker);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(RecvError::Disconnected)
        );
    });
}

#[test]
fn tick_delivers_until_its_receiver_is_dropped() {
    watchdog("tick_delivers_until_its_receiver_is_dropped", || {
        let start = Instant::now();
        let rx = tick(Duration::from_millis(3));
        for k in 1..=5u32 {
            let at = rx.recv().unwrap();
            assert!(at >= start + Duration::from_millis(3) * k);
        }
        drop(rx);
    });
}

#[test]
#[should_panic(expected = "must not be zero")]
fn zero_period_panics() {
    let _ = Ticker::new(Duration::ZERO);
}
