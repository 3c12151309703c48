//! A server crash mid-workload: PostgreSQL is made to crash-restart (a
//! backend is killed with SIGKILL, so the postmaster terminates every
//! session and reinitializes). In-flight calls fail with clear errors, the
//! pool discards the dead connections, and calls succeed again once the
//! server is back, without panics or hangs.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_postgres::{Manager, Pool};

#[test]
fn server_crash_restart_mid_workload() {
    fibra_runtime::run(|| {
        let pool = Pool::builder()
            .max_size(8)
            .checkout_timeout(Some(Duration::from_secs(5)))
            .build(Manager::new(
                util::config("md5").read_timeout(Some(Duration::from_secs(5))),
            ));
        let stop = Arc::new(AtomicBool::new(false));
        let ok_after = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let crashed = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (pool, stop, ok_after, errors, crashed) = (
                    pool.clone(),
                    stop.clone(),
                    ok_after.clone(),
                    errors.clone(),
                    crashed.clone(),
                );
                fibra_runtime::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let r =
                            pool.get()
                                .map_err(fibra_postgres::Error::from)
                                .and_then(|mut c| {
                                    c.query_one(
                                        "SELECT count(*) FROM generate_series(1, 2000)",
                                        &[],
                                    )
                                    .map(|r| r.get::<_, i64>(0))
                                });
                        match r {
                            Ok(n) => {
                                assert_eq!(n, 2000);
                                if crashed.load(Ordering::Relaxed) {
                                    ok_after.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                // Every failure is a clear connection or
                                // server-shutdown error, never a panic.
                                assert!(
                                    e.is_closed()
                                        || e.is_timeout()
                                        || e.code().is_some_and(|c| c.starts_with("57P")),
                                    "unexpected error: {e:?}"
                                );
                                errors.fetch_add(1, Ordering::Relaxed);
                                fibra_runtime::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                })
            })
            .collect();
        fibra_runtime::sleep(Duration::from_millis(500));
        // Crash the server: SIGKILL one backend.
        let mut victim = util::connect();
        let pid = victim.backend_pid();
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(victim.ping().is_err());
        // Wait until the server accepts connections again (it refuses them
        // with 57P03 while it recovers), then for the workload to succeed.
        let start = Instant::now();
        loop {
            match fibra_postgres::Client::connect_with(&util::config("trust")) {
                Ok(mut c) => {
                    if c.ping().is_ok() {
                        break;
                    }
                }
                Err(e) => assert!(
                    e.is_closed() || e.code().is_some_and(|c| c.starts_with("57P")),
                    "unexpected connect error: {e:?}"
                ),
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the server did not come back"
            );
            fibra_runtime::sleep(Duration::from_millis(50));
        }
        crashed.store(true, Ordering::Relaxed);
        while ok_after.load(Ordering::Relaxed) < 50 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no recovery: {} errors, {} successes",
                errors.load(Ordering::Relaxed),
                ok_after.load(Ordering::Relaxed)
            );
            fibra_runtime::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        assert!(
            errors.load(Ordering::Relaxed) > 0,
            "the crash went unnoticed"
        );
        assert!(pool.stats().discarded > 0, "{:?}", pool.stats());
        // A fresh connection works.
        util::connect().ping().unwrap();
    });
}
