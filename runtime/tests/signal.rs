//! `signal::notify`: signals sent to the process arrive on a channel.
//! Each test watches its own signal, as tests share the process; each runs
//! under a watchdog.

use std::io;
use std::time::{Duration, Instant};

use fibra_runtime::chan::{self, RecvError};
use fibra_runtime::signal::{self, SIGHUP, SIGUSR1, SIGUSR2};
use fibra_runtime::{runtime, select};

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
fn sighup_arrives_on_the_channel_in_a_select() {
    watchdog("sighup_arrives_on_the_channel_in_a_select", || {
        let signals = signal::notify(&[SIGHUP]).unwrap();
        let (_tx, other) = chan::bounded::<()>(1);
        let sent = Instant::now();
        signal_hook::low_level::raise(SIGHUP).unwrap();
        let got = select! {
            recv(signals) -> sig => sig.unwrap(),
            recv(other) -> _ => panic!("the other channel fired"),
            timeout(Duration::from_secs(1)) => panic!("no SIGHUP within 1 s"),
        };
        assert_eq!(got, SIGHUP);
        assert!(sent.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn kill_from_another_process_is_received() {
    watchdog("kill_from_another_process_is_received", || {
        let signals = signal::notify(&[SIGUSR1]).unwrap();
        let status = std::process::Command::new("kill")
            .args(["-USR1", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        assert_eq!(
            signals.receiver().recv_timeout(Duration::from_secs(1)),
            Ok(SIGUSR1)
        );
    });
}

#[test]
fn stop_ends_delivery_to_that_channel_only() {
    watchdog("stop_ends_delivery_to_that_channel_only", || {
        let stopped = signal::notify(&[SIGUSR2]).unwrap();
        let watching = signal::notify(&[SIGUSR2]).unwrap();
        stopped.stop();
        // Let its forwarding thread see the stop and unregister.
        fibra_runtime::sleep(Duration::from_millis(50));
        signal_hook::low_level::raise(SIGUSR2).unwrap();
        assert_eq!(watching.recv(), Ok(SIGUSR2));
        assert_eq!(
            stopped.receiver().recv_timeout(Duration::from_millis(100)),
            Err(RecvError::Timeout),
            "a stopped Signals received a signal"
        );
        let rx = stopped.receiver().clone();
        drop(stopped);
        assert_eq!(rx.recv(), Err(RecvError::Disconnected));
    });
}

#[test]
fn uncatchable_or_invalid_signals_are_refused() {
    for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -1, 500] {
        let err = signal::notify(&[sig]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "signal {sig}");
    }
}
