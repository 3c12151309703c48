//! Typed helpers against the real server, on RESP3 and RESP2.

mod util;

use std::collections::{HashMap, HashSet};

use fibra_redis::{cmd, Protocol, Value};

#[test]
fn strings_counters_and_expiry() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            assert_eq!(c.protocol(), p);
            let k = util::key("s");
            c.set(&k, "hello").unwrap();
            assert_eq!(c.get::<_, String>(&k).unwrap(), "hello");
            assert_eq!(c.get::<_, Vec<u8>>(&k).unwrap(), b"hello");
            assert_eq!(c.append(&k, " world").unwrap(), 11);
            assert_eq!(c.strlen(&k).unwrap(), 11);
            assert_eq!(c.get::<_, Option<String>>(util::key("none")).unwrap(), None);
            assert!(!c.set_nx(&k, "x").unwrap());
            let bin = vec![0u8, 255, b'\r', b'\n', 7];
            c.set(&k, &bin).unwrap();
            assert_eq!(c.get::<_, Vec<u8>>(&k).unwrap(), bin);

            let n = util::key("n");
            assert_eq!(c.incr(&n).unwrap(), 1);
            assert_eq!(c.incr_by(&n, 10).unwrap(), 11);
            assert_eq!(c.decr(&n).unwrap(), 10);
            assert_eq!(c.decr_by(&n, 4).unwrap(), 6);
            assert_eq!(c.incr_by_float(&n, 0.5).unwrap(), 6.5);
            assert_eq!(c.get::<_, f64>(&n).unwrap(), 6.5);

            let (a, b) = (util::key("a"), util::key("b"));
            c.mset([(&a, "1"), (&b, "2")]).unwrap();
            let got: Vec<Option<i64>> = c.mget([&a, &b, &util::key("missing")]).unwrap();
            assert_eq!(got, [Some(1), Some(2), None]);
            assert_eq!(c.exists([&a, &b]).unwrap(), 2);

            c.set_ex(&a, "v", 100).unwrap();
            let ttl = c.ttl(&a).unwrap();
            assert!((90..=100).contains(&ttl), "{ttl}");
            assert!(c.persist(&a).unwrap());
            assert_eq!(c.ttl(&a).unwrap(), -1);
            assert!(c.pexpire(&a, 50_000).unwrap());
            assert!(c.pttl(&a).unwrap() > 40_000);
            assert!(c.expire(&a, 100).unwrap());
            assert_eq!(c.key_type(&a).unwrap(), "string");
            let a2 = util::key("a2");
            c.rename(&a, &a2).unwrap();
            assert_eq!(c.get_del::<_, String>(&a2).unwrap(), "v");
            assert_eq!(c.del([&a2, &b, &k, &n]).unwrap(), 3);
            assert_eq!(c.ttl(&a2).unwrap(), -2);
        });
    });
}

#[test]
fn hashes() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let h = util::key("h");
            assert_eq!(c.hset(&h, "a", 1).unwrap(), 1);
            assert_eq!(c.hset_multiple(&h, [("b", "2"), ("c", "3")]).unwrap(), 2);
            assert!(!c.hset_nx(&h, "a", 9).unwrap());
            assert_eq!(c.hget::<_, _, i64>(&h, "a").unwrap(), 1);
            assert_eq!(c.hget::<_, _, Option<i64>>(&h, "zz").unwrap(), None);
            let all: HashMap<String, i64> = c.hgetall(&h).unwrap();
            assert_eq!(
                all,
                HashMap::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 3)])
            );
            let mut pairs: Vec<(String, String)> = c.hgetall(&h).unwrap();
            pairs.sort();
            assert_eq!(pairs[0], ("a".into(), "1".into()));
            let vals: Vec<Option<i64>> = c.hmget(&h, ["a", "x", "c"]).unwrap();
            assert_eq!(vals, [Some(1), None, Some(3)]);
            assert!(c.hexists(&h, "b").unwrap());
            assert_eq!(c.hincr_by(&h, "a", 5).unwrap(), 6);
            assert_eq!(c.hlen(&h).unwrap(), 3);
            let keys: HashSet<String> = c.hkeys(&h).unwrap();
            assert_eq!(keys.len(), 3);
            let vals: Vec<i64> = c.hvals(&h).unwrap();
            assert_eq!(vals.iter().sum::<i64>(), 11);
            assert_eq!(c.hdel(&h, ["a", "b"]).unwrap(), 2);
            let empty: HashMap<String, String> = c.hgetall(util::key("nohash")).unwrap();
            assert!(empty.is_empty());
            c.del(&h).unwrap();
        });
    });
}

#[test]
fn lists_and_sets() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let l = util::key("l");
            assert_eq!(c.rpush(&l, ["b", "c"]).unwrap(), 2);
            assert_eq!(c.lpush(&l, "a").unwrap(), 3);
            assert_eq!(
                c.lrange::<_, Vec<String>>(&l, 0, -1).unwrap(),
                ["a", "b", "c"]
            );
            assert_eq!(c.llen(&l).unwrap(), 3);
            assert_eq!(c.lindex::<_, String>(&l, -1).unwrap(), "c");
            assert_eq!(c.lpop::<_, String>(&l).unwrap(), "a");
            assert_eq!(c.rpop::<_, String>(&l).unwrap(), "c");
            c.rpush(&l, ["x", "x", "y"]).unwrap();
            assert_eq!(c.lrem(&l, 0, "x").unwrap(), 2);
            c.ltrim(&l, 0, 0).unwrap();
            let popped: Option<(String, String)> = c.blpop(&l, 1.0).unwrap();
            assert_eq!(popped, Some((l.clone(), "b".into())));
            let none: Option<(String, String)> = c.blpop(&l, 0.05).unwrap();
            assert_eq!(none, None);
            assert_eq!(c.lpop::<_, Option<String>>(&l).unwrap(), None);

            let (s1, s2) = (util::key("s1"), util::key("s2"));
            assert_eq!(c.sadd(&s1, ["a", "b", "c"]).unwrap(), 3);
            assert_eq!(c.sadd(&s2, ["b", "c", "d"]).unwrap(), 3);
            assert!(c.sismember(&s1, "a").unwrap());
            assert!(!c.sismember(&s1, "d").unwrap());
            assert_eq!(c.scard(&s1).unwrap(), 3);
            let inter: HashSet<String> = c.sinter([&s1, &s2]).unwrap();
            assert_eq!(inter, HashSet::from(["b".into(), "c".into()]));
            let uni: HashSet<String> = c.sunion([&s1, &s2]).unwrap();
            assert_eq!(uni.len(), 4);
            let members: Vec<String> = c.smembers(&s1).unwrap();
            assert_eq!(members.len(), 3);
            assert_eq!(c.srem(&s1, "a").unwrap(), 1);
            let popped: String = c.spop(&s1).unwrap();
            assert!(popped == "b" || popped == "c");
            c.del([&s1, &s2]).unwrap();
        });
    });
}

#[test]
fn sorted_sets() {
    fibra_runtime::run(|| {
        util::both(|p| {
            let mut c = util::connect(p);
            let z = util::key("z");
            assert_eq!(c.zadd(&z, "a", 1.0).unwrap(), 1);
            assert_eq!(c.zadd_multiple(&z, [(2.5, "b"), (3.0, "c")]).unwrap(), 2);
            assert_eq!(c.zscore(&z, "b").unwrap(), Some(2.5));
            assert_eq!(c.zscore(&z, "nope").unwrap(), None);
            assert_eq!(c.zincr_by(&z, "a", 10.0).unwrap(), 11.0);
            assert_eq!(
                c.zrange::<_, Vec<String>>(&z, 0, -1).unwrap(),
                ["b", "c", "a"]
            );
            let ws: Vec<(String, f64)> = c.zrange_withscores(&z, 0, 0).unwrap();
            assert_eq!(ws, [("b".to_owned(), 2.5)]);
            let by: Vec<String> = c.zrangebyscore(&z, "(2.5", "+inf").unwrap();
            assert_eq!(by, ["c", "a"]);
            assert_eq!(c.zrank(&z, "c").unwrap(), Some(1));
            assert_eq!(c.zcard(&z).unwrap(), 3);
            assert_eq!(c.zcount(&z, "-inf", 3).unwrap(), 2);
            assert_eq!(c.zrem(&z, ["a", "b"]).unwrap(), 2);
            c.del(&z).unwrap();
        });
    });
}

#[test]
fn generic_commands_and_resp3_types() {
    fibra_runtime::run(|| {
        let mut c = util::connect(Protocol::Resp3);
        let h = util::key("h3");
        c.hset(&h, "f", "v").unwrap();
        // RESP3 sends HGETALL as a map.
        let raw: Value = cmd("HGETALL").arg(&h).query(&mut c).unwrap();
        assert!(matches!(raw, Value::Map(_)), "{raw:?}");
        let d: Value = cmd("ZSCORE")
            .arg(util::key("nz"))
            .arg("m")
            .query(&mut c)
            .unwrap();
        assert_eq!(d, Value::Nil);
        let hello: HashMap<String, Value> = cmd("HELLO").query(&mut c).unwrap();
        assert_eq!(hello["proto"], Value::Int(3));

        let mut c2 = util::connect(Protocol::Resp2);
        let raw: Value = cmd("HGETALL").arg(&h).query(&mut c2).unwrap();
        assert!(matches!(raw, Value::Array(_)), "{raw:?}");
        c.del(&h).unwrap();
        assert!(c.dbsize().unwrap() < u64::MAX);
        c.ping().unwrap();
    });
}
