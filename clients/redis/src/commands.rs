//! Typed helpers for the common commands, as methods on [`Connection`].
//!
//! Each is a thin wrapper over [`cmd`]: `conn.get::<_, String>("k")` is
//! `cmd("GET").arg("k").query::<String>(&mut conn)`. Keys, fields, members
//! and values take anything [`ToRedisArgs`]; replies whose shape depends on
//! the caller (GET, LRANGE, HGETALL, …) are generic over [`FromRedis`].

use crate::cmd::cmd;
use crate::conn::Connection;
use crate::error::Result;
use crate::types::{FromRedis, ToRedisArgs};

macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident<$($g:ident : $b:ident),*>($($a:ident : $t:ty),*) -> $ret:ty = $build:expr;
    )*) => {
        impl Connection {$(
            $(#[doc = $doc])*
            ///
            /// # Errors
            /// The server's error reply (such as `WRONGTYPE`; the connection
            /// stays usable), a socket error, or a reply that does not convert
            /// into the type asked for.
            pub fn $name<$($g: $b),*>(&mut self, $($a: $t),*) -> Result<$ret> {
                $build.query(self)
            }
        )*}
    };
}

commands! {
    // --- strings ---
    /// `GET key`: the value, or nil (read it as an `Option`).
    fn get<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("GET").arg(key);
    /// `SET key value`.
    fn set<K: ToRedisArgs, V: ToRedisArgs>(key: K, value: V) -> () = cmd("SET").arg(key).arg(value);
    /// `SET key value EX seconds`.
    fn set_ex<K: ToRedisArgs, V: ToRedisArgs>(key: K, value: V, seconds: u64) -> () =
        cmd("SET").arg(key).arg(value).arg("EX").arg(seconds);
    /// `SET key value PX milliseconds`.
    fn set_px<K: ToRedisArgs, V: ToRedisArgs>(key: K, value: V, millis: u64) -> () =
        cmd("SET").arg(key).arg(value).arg("PX").arg(millis);
    /// `SET key value NX`: whether the key was set (it did not exist).
    fn set_nx<K: ToRedisArgs, V: ToRedisArgs>(key: K, value: V) -> bool =
        cmd("SET").arg(key).arg(value).arg("NX");
    /// `GETDEL key`.
    fn get_del<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("GETDEL").arg(key);
    /// `MGET key…`: one value (or nil) per key.
    fn mget<K: ToRedisArgs, V: FromRedis>(keys: K) -> V = cmd("MGET").arg(keys);
    /// `MSET key value …`, from pairs such as `&[("a", 1), ("b", 2)]`.
    fn mset<P: ToRedisArgs>(pairs: P) -> () = cmd("MSET").arg(pairs);
    /// `APPEND key value`: the new length.
    fn append<K: ToRedisArgs, V: ToRedisArgs>(key: K, value: V) -> u64 = cmd("APPEND").arg(key).arg(value);
    /// `STRLEN key`.
    fn strlen<K: ToRedisArgs>(key: K) -> u64 = cmd("STRLEN").arg(key);

    // --- counters ---
    /// `INCR key`: the new value.
    fn incr<K: ToRedisArgs>(key: K) -> i64 = cmd("INCR").arg(key);
    /// `INCRBY key delta`: the new value.
    fn incr_by<K: ToRedisArgs>(key: K, delta: i64) -> i64 = cmd("INCRBY").arg(key).arg(delta);
    /// `DECR key`: the new value.
    fn decr<K: ToRedisArgs>(key: K) -> i64 = cmd("DECR").arg(key);
    /// `DECRBY key delta`: the new value.
    fn decr_by<K: ToRedisArgs>(key: K, delta: i64) -> i64 = cmd("DECRBY").arg(key).arg(delta);
    /// `INCRBYFLOAT key delta`: the new value.
    fn incr_by_float<K: ToRedisArgs>(key: K, delta: f64) -> f64 = cmd("INCRBYFLOAT").arg(key).arg(delta);

    // --- keys and expiry ---
    /// `DEL key…`: how many keys were removed.
    fn del<K: ToRedisArgs>(keys: K) -> u64 = cmd("DEL").arg(keys);
    /// `UNLINK key…`: how many keys were removed.
    fn unlink<K: ToRedisArgs>(keys: K) -> u64 = cmd("UNLINK").arg(keys);
    /// `EXISTS key…`: how many of the keys exist.
    fn exists<K: ToRedisArgs>(keys: K) -> u64 = cmd("EXISTS").arg(keys);
    /// `EXPIRE key seconds`: whether the timeout was set.
    fn expire<K: ToRedisArgs>(key: K, seconds: i64) -> bool = cmd("EXPIRE").arg(key).arg(seconds);
    /// `PEXPIRE key milliseconds`: whether the timeout was set.
    fn pexpire<K: ToRedisArgs>(key: K, millis: i64) -> bool = cmd("PEXPIRE").arg(key).arg(millis);
    /// `EXPIREAT key unix-seconds`: whether the timeout was set.
    fn expire_at<K: ToRedisArgs>(key: K, unix_seconds: i64) -> bool = cmd("EXPIREAT").arg(key).arg(unix_seconds);
    /// `PERSIST key`: whether a timeout was removed.
    fn persist<K: ToRedisArgs>(key: K) -> bool = cmd("PERSIST").arg(key);
    /// `TTL key`: seconds left, -1 without expiry, -2 for no key.
    fn ttl<K: ToRedisArgs>(key: K) -> i64 = cmd("TTL").arg(key);
    /// `PTTL key`: milliseconds left, -1 without expiry, -2 for no key.
    fn pttl<K: ToRedisArgs>(key: K) -> i64 = cmd("PTTL").arg(key);
    /// `RENAME key newkey`.
    fn rename<K: ToRedisArgs, N: ToRedisArgs>(key: K, new_key: N) -> () = cmd("RENAME").arg(key).arg(new_key);
    /// `TYPE key`: `string`, `list`, `hash`, …, or `none`.
    fn key_type<K: ToRedisArgs>(key: K) -> String = cmd("TYPE").arg(key);
    /// `KEYS pattern` (blocks the server on large databases; prefer SCAN).
    fn keys<P: ToRedisArgs, V: FromRedis>(pattern: P) -> V = cmd("KEYS").arg(pattern);
    /// `DBSIZE`.
    fn dbsize<>() -> u64 = cmd("DBSIZE");
    /// `FLUSHDB`: removes every key of the selected database.
    fn flushdb<>() -> () = cmd("FLUSHDB");

    // --- hashes ---
    /// `HGET key field`.
    fn hget<K: ToRedisArgs, F: ToRedisArgs, V: FromRedis>(key: K, field: F) -> V = cmd("HGET").arg(key).arg(field);
    /// `HSET key field value`: how many fields were added.
    fn hset<K: ToRedisArgs, F: ToRedisArgs, V: ToRedisArgs>(key: K, field: F, value: V) -> u64 =
        cmd("HSET").arg(key).arg(field).arg(value);
    /// `HSET key field value …`, from pairs: how many fields were added.
    fn hset_multiple<K: ToRedisArgs, P: ToRedisArgs>(key: K, pairs: P) -> u64 = cmd("HSET").arg(key).arg(pairs);
    /// `HSETNX key field value`: whether the field was set.
    fn hset_nx<K: ToRedisArgs, F: ToRedisArgs, V: ToRedisArgs>(key: K, field: F, value: V) -> bool =
        cmd("HSETNX").arg(key).arg(field).arg(value);
    /// `HMGET key field…`.
    fn hmget<K: ToRedisArgs, F: ToRedisArgs, V: FromRedis>(key: K, fields: F) -> V = cmd("HMGET").arg(key).arg(fields);
    /// `HGETALL key`: read it as a `HashMap` or a `Vec` of pairs.
    fn hgetall<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("HGETALL").arg(key);
    /// `HDEL key field…`: how many fields were removed.
    fn hdel<K: ToRedisArgs, F: ToRedisArgs>(key: K, fields: F) -> u64 = cmd("HDEL").arg(key).arg(fields);
    /// `HEXISTS key field`.
    fn hexists<K: ToRedisArgs, F: ToRedisArgs>(key: K, field: F) -> bool = cmd("HEXISTS").arg(key).arg(field);
    /// `HINCRBY key field delta`: the new value.
    fn hincr_by<K: ToRedisArgs, F: ToRedisArgs>(key: K, field: F, delta: i64) -> i64 =
        cmd("HINCRBY").arg(key).arg(field).arg(delta);
    /// `HLEN key`.
    fn hlen<K: ToRedisArgs>(key: K) -> u64 = cmd("HLEN").arg(key);
    /// `HKEYS key`.
    fn hkeys<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("HKEYS").arg(key);
    /// `HVALS key`.
    fn hvals<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("HVALS").arg(key);

    // --- lists ---
    /// `LPUSH key value…`: the new length.
    fn lpush<K: ToRedisArgs, V: ToRedisArgs>(key: K, values: V) -> u64 = cmd("LPUSH").arg(key).arg(values);
    /// `RPUSH key value…`: the new length.
    fn rpush<K: ToRedisArgs, V: ToRedisArgs>(key: K, values: V) -> u64 = cmd("RPUSH").arg(key).arg(values);
    /// `LPOP key`: the value or nil.
    fn lpop<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("LPOP").arg(key);
    /// `RPOP key`: the value or nil.
    fn rpop<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("RPOP").arg(key);
    /// `LRANGE key start stop` (inclusive; negative counts from the end).
    fn lrange<K: ToRedisArgs, V: FromRedis>(key: K, start: i64, stop: i64) -> V =
        cmd("LRANGE").arg(key).arg(start).arg(stop);
    /// `LLEN key`.
    fn llen<K: ToRedisArgs>(key: K) -> u64 = cmd("LLEN").arg(key);
    /// `LINDEX key index`.
    fn lindex<K: ToRedisArgs, V: FromRedis>(key: K, index: i64) -> V = cmd("LINDEX").arg(key).arg(index);
    /// `LREM key count value`: how many were removed.
    fn lrem<K: ToRedisArgs, V: ToRedisArgs>(key: K, count: i64, value: V) -> u64 =
        cmd("LREM").arg(key).arg(count).arg(value);
    /// `LTRIM key start stop`.
    fn ltrim<K: ToRedisArgs>(key: K, start: i64, stop: i64) -> () = cmd("LTRIM").arg(key).arg(start).arg(stop);
    /// `BLPOP key… timeout`: `(key, value)` or nil after `timeout` seconds
    /// (0 waits for ever). Set no read timeout shorter than `timeout`.
    fn blpop<K: ToRedisArgs, V: FromRedis>(keys: K, timeout: f64) -> V = cmd("BLPOP").arg(keys).arg(timeout);

    // --- sets ---
    /// `SADD key member…`: how many were added.
    fn sadd<K: ToRedisArgs, M: ToRedisArgs>(key: K, members: M) -> u64 = cmd("SADD").arg(key).arg(members);
    /// `SREM key member…`: how many were removed.
    fn srem<K: ToRedisArgs, M: ToRedisArgs>(key: K, members: M) -> u64 = cmd("SREM").arg(key).arg(members);
    /// `SMEMBERS key`.
    fn smembers<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("SMEMBERS").arg(key);
    /// `SISMEMBER key member`.
    fn sismember<K: ToRedisArgs, M: ToRedisArgs>(key: K, member: M) -> bool = cmd("SISMEMBER").arg(key).arg(member);
    /// `SCARD key`.
    fn scard<K: ToRedisArgs>(key: K) -> u64 = cmd("SCARD").arg(key);
    /// `SINTER key…`.
    fn sinter<K: ToRedisArgs, V: FromRedis>(keys: K) -> V = cmd("SINTER").arg(keys);
    /// `SUNION key…`.
    fn sunion<K: ToRedisArgs, V: FromRedis>(keys: K) -> V = cmd("SUNION").arg(keys);
    /// `SPOP key`: a random member, removed, or nil.
    fn spop<K: ToRedisArgs, V: FromRedis>(key: K) -> V = cmd("SPOP").arg(key);

    // --- sorted sets ---
    /// `ZADD key score member`: how many were added.
    fn zadd<K: ToRedisArgs, M: ToRedisArgs>(key: K, member: M, score: f64) -> u64 =
        cmd("ZADD").arg(key).arg(score).arg(member);
    /// `ZADD key score member …`, from `(score, member)` pairs.
    fn zadd_multiple<K: ToRedisArgs, P: ToRedisArgs>(key: K, pairs: P) -> u64 = cmd("ZADD").arg(key).arg(pairs);
    /// `ZREM key member…`: how many were removed.
    fn zrem<K: ToRedisArgs, M: ToRedisArgs>(key: K, members: M) -> u64 = cmd("ZREM").arg(key).arg(members);
    /// `ZSCORE key member`.
    fn zscore<K: ToRedisArgs, M: ToRedisArgs>(key: K, member: M) -> Option<f64> = cmd("ZSCORE").arg(key).arg(member);
    /// `ZINCRBY key delta member`: the new score.
    fn zincr_by<K: ToRedisArgs, M: ToRedisArgs>(key: K, member: M, delta: f64) -> f64 =
        cmd("ZINCRBY").arg(key).arg(delta).arg(member);
    /// `ZRANGE key start stop`: members by rank.
    fn zrange<K: ToRedisArgs, V: FromRedis>(key: K, start: i64, stop: i64) -> V =
        cmd("ZRANGE").arg(key).arg(start).arg(stop);
    /// `ZRANGE key start stop WITHSCORES`: read it as `Vec<(String, f64)>`.
    fn zrange_withscores<K: ToRedisArgs, V: FromRedis>(key: K, start: i64, stop: i64) -> V =
        cmd("ZRANGE").arg(key).arg(start).arg(stop).arg("WITHSCORES");
    /// `ZRANGEBYSCORE key min max` (`min`/`max` like `1`, `(1`, `-inf`).
    fn zrangebyscore<K: ToRedisArgs, L: ToRedisArgs, H: ToRedisArgs, V: FromRedis>(key: K, min: L, max: H) -> V =
        cmd("ZRANGEBYSCORE").arg(key).arg(min).arg(max);
    /// `ZRANK key member`.
    fn zrank<K: ToRedisArgs, M: ToRedisArgs>(key: K, member: M) -> Option<u64> = cmd("ZRANK").arg(key).arg(member);
    /// `ZCARD key`.
    fn zcard<K: ToRedisArgs>(key: K) -> u64 = cmd("ZCARD").arg(key);
    /// `ZCOUNT key min max`.
    fn zcount<K: ToRedisArgs, L: ToRedisArgs, H: ToRedisArgs>(key: K, min: L, max: H) -> u64 =
        cmd("ZCOUNT").arg(key).arg(min).arg(max);

    // --- pub/sub ---
    /// `PUBLISH channel message`: how many subscribers received it.
    fn publish<C: ToRedisArgs, M: ToRedisArgs>(channel: C, message: M) -> u64 =
        cmd("PUBLISH").arg(channel).arg(message);
}
