//! Pipelines, MULTI/EXEC transactions and WATCH.

mod util;

use fibra_redis::{cmd, pipe, Connection, Protocol, Value};

#[test]
fn pipeline_one_write_many_replies() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let k = util::key("p");
            let (a, b, got): (i64, i64, Option<String>) = pipe()
                .cmd(cmd("INCR").arg(&k))
                .cmd(cmd("INCRBY").arg(&k).arg(5))
                .cmd(cmd("SET").arg(util::key("x")).arg("v"))
                .ignore()
                .cmd(cmd("GET").arg(util::key("missing")))
                .query(&mut c)
                .unwrap();
            assert_eq!((a, b, got), (1, 6, None));

            // 1000 commands in one write.
            let mut big = pipe();
            for i in 0..1000 {
                big.cmd(cmd("RPUSH").arg(k.replace(":p", ":l")).arg(i));
            }
            let lens: Vec<i64> = big.query(&mut c).unwrap();
            assert_eq!(lens.last(), Some(&1000));

            // An error in the middle: every reply is still read, the first
            // error is returned, and the connection stays in step.
            let e = pipe()
                .cmd(cmd("SET").arg(&k).arg("s"))
                .cmd(cmd("LPUSH").arg(&k).arg("x"))
                .cmd(cmd("GET").arg(&k))
                .query::<Value>(&mut c)
                .unwrap_err();
            assert_eq!(e.code(), Some("WRONGTYPE"));
            assert_eq!(c.get::<_, String>(&k).unwrap(), "s");
            c.del(&[k.clone(), k.replace(":p", ":l")]).unwrap();
        });
    });
}

#[test]
fn atomic_pipeline() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let k = util::key("m");
            let (n, v): (i64, String) = pipe()
                .atomic()
                .cmd(cmd("SET").arg(&k).arg(1))
                .ignore()
                .cmd(cmd("INCR").arg(&k))
                .cmd(cmd("GET").arg(&k))
                .query(&mut c)
                .unwrap();
            assert_eq!((n, v.as_str()), (2, "2"));

            // A command that fails to queue aborts the whole transaction.
            let e = pipe()
                .atomic()
                .cmd(cmd("INCR").arg(&k))
                .cmd(cmd("SET").arg(&k))
                .query::<Value>(&mut c)
                .unwrap_err();
            assert_eq!(e.code(), Some("ERR"), "{e}");
            assert_eq!(c.get::<_, i64>(&k).unwrap(), 2);
            c.del(&k).unwrap();
        });
    });
}

#[test]
fn watch_retries_on_conflict() {
    fibra_runtime::run(|| {
        let mut c = util::connect(Protocol::Resp3);
        let mut other = util::connect(Protocol::Resp2);
        let k = util::key("w");
        c.set(&k, 10).unwrap();
        let mut rounds = 0;
        let (v,): (i64,) = c
            .transaction(&k, |conn: &mut Connection, pipe| {
                rounds += 1;
                let cur: i64 = conn.get(&k)?;
                if rounds == 1 {
                    // Another client changes the watched key: EXEC aborts.
                    other.set(&k, 100).unwrap();
                }
                pipe.cmd(cmd("SET").arg(&k).arg(cur + 1))
                    .ignore()
                    .cmd(cmd("GET").arg(&k))
                    .query(conn)
            })
            .unwrap();
        assert_eq!(rounds, 2);
        assert_eq!(v, 101);

        // An error inside the closure unwatches and is returned.
        let e = c
            .transaction(&k, |conn: &mut Connection, _pipe| {
                conn.lpush::<_, _>(&k, "x").map(|_: u64| Some(()))
            })
            .unwrap_err();
        assert_eq!(e.code(), Some("WRONGTYPE"));
        c.ping().unwrap();
        c.del(&k).unwrap();
    });
}
