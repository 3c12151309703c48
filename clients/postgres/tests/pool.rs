//! The pool: concurrent checkout, health check, discarding broken
//! connections, statement caches surviving checkouts.

mod util;

use std::time::Duration;

use fibra_postgres::{Manager, Pool};

fn pool(max: usize) -> Pool {
    Pool::builder()
        .max_size(max)
        .test_on_checkout(true)
        .checkout_timeout(Some(Duration::from_secs(10)))
        .build(Manager::new(util::config("scram")))
}

#[test]
fn concurrent_checkouts_share_few_connections() {
    fibra_runtime::run(|| {
        let p = pool(4);
        let hs: Vec<_> = (0..32i32)
            .map(|i| {
                let p = p.clone();
                fibra_runtime::spawn(move || -> fibra_postgres::Result<i32> {
                    let mut c = p.get()?;
                    Ok(c.query_one("SELECT $1::int4 + 1", &[&i])?.get(0))
                })
            })
            .collect();
        let sum: i32 = hs.into_iter().map(|h| h.join().unwrap().unwrap()).sum();
        assert_eq!(sum, (1..=32).sum::<i32>());
        let s = p.stats();
        assert!(s.created <= 4, "{s:?}");
        assert_eq!(s.in_use, 0);
    });
}

#[test]
fn statement_cache_lives_with_the_connection() {
    let p = pool(1);
    for i in 0..5i32 {
        let mut c = p.get().unwrap();
        c.query_one("SELECT $1::int4", &[&i]).unwrap();
        assert_eq!(c.cached_statements(), 1);
    }
    assert_eq!(p.stats().created, 1);
}

#[test]
fn broken_and_mid_transaction_connections_are_discarded() {
    let p = pool(2);
    let pid_of = |c: &mut fibra_postgres::Client| c.backend_pid();
    let first = {
        let mut c = p.get().unwrap();
        pid_of(&mut c)
    };
    // Killed by the server behind the pool's back: the health check finds
    // out on the next checkout and a fresh connection is opened.
    let mut admin = util::connect();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut c = p.get().unwrap();
    assert_ne!(pid_of(&mut c), first);
    c.ping().unwrap();
    let second = pid_of(&mut c);
    // Left inside a transaction (leaked with mem::forget): discarded.
    std::mem::forget(c.transaction().unwrap());
    drop(c);
    let mut c = p.get().unwrap();
    assert_ne!(pid_of(&mut c), second);
    assert!(!c.is_in_transaction());
    assert!(p.stats().discarded >= 2, "{:?}", p.stats());
}

#[test]
fn checkout_timeout_is_a_pool_error() {
    let p = Pool::builder()
        .max_size(1)
        .checkout_timeout(Some(Duration::from_millis(100)))
        .build(Manager::new(util::config("trust")));
    let _held = p.get().unwrap();
    let e: fibra_postgres::Error = p.get().unwrap_err().into();
    assert!(e.is_timeout(), "{e}");
}
