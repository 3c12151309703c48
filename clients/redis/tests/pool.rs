//! The pool under many coroutines.

mod util;

use fibra_redis::{Manager, Pool, Protocol};

#[test]
fn fifty_coroutines_share_a_pool() {
    fibra_runtime::run(|| {
        let pool = Pool::builder()
            .max_size(8)
            .build(Manager::new(util::info(Protocol::Resp3)));
        let k = util::key("pooled");
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let pool = pool.clone();
                let k = k.clone();
                fibra_runtime::spawn(move || {
                    for _ in 0..20 {
                        let mut c = pool.get()?;
                        c.incr(&k)?;
                    }
                    Ok::<_, fibra_redis::Error>(())
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let mut c = pool.get().unwrap();
        assert_eq!(c.get::<_, i64>(&k).unwrap(), 1000);
        c.del(&k).unwrap();
        let stats = pool.stats();
        assert!(stats.created <= 8, "{stats:?}");
    });
}
