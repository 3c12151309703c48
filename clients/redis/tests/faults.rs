//! Killing the server under load: in-flight calls fail, the pool drops the
//! dead connections, calls succeed again once the server is back, and no
//! call outlives the configured timeouts.
//!
//! Uses a redis-server of its own (not the shared one), so other tests
//! running at the same time are not disturbed.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fibra_redis::{ConnectionInfo, Manager, Pool};

const TIMEOUT: Duration = Duration::from_secs(2);

#[test]
fn kill_and_restart_under_load() {
    let mut server = util::Server::start(&[]);
    let port = server.port;
    fibra_runtime::run(move || {
        let info = ConnectionInfo::new("127.0.0.1", port)
            .with_connect_timeout(Some(Duration::from_secs(1)))
            .with_read_timeout(Some(TIMEOUT))
            .with_write_timeout(Some(TIMEOUT));
        let pool = Pool::builder()
            .max_size(4)
            .checkout_timeout(Some(TIMEOUT))
            .build(Manager::new(info.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let slowest = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (pool, stop, ok, failed, slowest) = (
                    pool.clone(),
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    slowest.clone(),
                );
                fibra_runtime::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let t = Instant::now();
                        let r = pool
                            .get()
                            .map_err(fibra_redis::Error::from)
                            .and_then(|mut c| {
                                c.set(format!("k{w}"), i)?;
                                c.get::<_, u64>(format!("k{w}"))
                            });
                        slowest.fetch_max(t.elapsed().as_millis() as u64, Ordering::Relaxed);
                        match r {
                            Ok(v) => {
                                assert_eq!(v, i);
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                assert!(
                                    e.is_closed() || e.is_timeout() || e.io_error().is_some(),
                                    "{e:?}"
                                );
                                failed.fetch_add(1, Ordering::Relaxed);
                                fibra_runtime::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                })
            })
            .collect();

        // A call parked in the server (BLPOP) when it dies must fail, not hang.
        let blocked = {
            let info = info.clone().with_read_timeout(None);
            fibra_runtime::spawn(move || {
                let mut c = fibra_redis::Connection::connect_with(&info).unwrap();
                let t = Instant::now();
                let r = c.blpop::<_, Option<(String, String)>>("never", 0.0);
                (r.map(drop), t.elapsed(), c.is_broken())
            })
        };

        fibra_runtime::sleep(Duration::from_millis(300));
        let before = ok.load(Ordering::Relaxed);
        assert!(before > 0, "no progress before the kill");
        server.kill();
        fibra_runtime::sleep(Duration::from_millis(500));
        let failed_while_down = failed.load(Ordering::Relaxed);
        assert!(
            failed_while_down > 0,
            "no call failed while the server was down"
        );

        let (r, waited, broken) = blocked.join().unwrap();
        assert!(r.unwrap_err().is_closed());
        assert!(broken);
        assert!(waited < Duration::from_secs(2), "{waited:?}");

        server.restart();
        let back = Instant::now();
        let ok_at_restart = ok.load(Ordering::Relaxed);
        while ok.load(Ordering::Relaxed) < ok_at_restart + 100 {
            assert!(
                back.elapsed() < Duration::from_secs(10),
                "calls did not recover"
            );
            fibra_runtime::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        let stats = pool.stats();
        assert!(stats.discarded >= 1, "{stats:?}");
        let slowest = Duration::from_millis(slowest.load(Ordering::Relaxed));
        // Connect (1 s) or checkout/read (2 s) bound every call.
        assert!(
            slowest < TIMEOUT + Duration::from_secs(2),
            "slowest call {slowest:?}"
        );
        eprintln!(
            "ok {} failed {} discarded {} slowest {slowest:?}",
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            stats.discarded
        );
    });
}
