//! SCAN, HSCAN, SSCAN and ZSCAN as iterators.

use std::collections::VecDeque;
use std::marker::PhantomData;

use crate::cmd::{cmd, Cmd};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::proto::Value;
use crate::types::{FromRedis, ToRedisArgs};

/// Options of a scan: a `MATCH` pattern, a `COUNT` hint, a `TYPE` filter
/// (SCAN only).
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pattern: Option<String>,
    count: Option<u64>,
    type_: Option<String>,
}

impl ScanOptions {
    /// Only items matching the glob `pattern`.
    #[must_use]
    pub fn pattern(mut self, pattern: impl Into<String>) -> ScanOptions {
        self.pattern = Some(pattern.into());
        self
    }

    /// How much work the server does per call (a hint).
    #[must_use]
    pub fn count(mut self, count: u64) -> ScanOptions {
        self.count = Some(count);
        self
    }

    /// Only keys of this type (`string`, `hash`, …); SCAN only.
    #[must_use]
    pub fn key_type(mut self, t: impl Into<String>) -> ScanOptions {
        self.type_ = Some(t.into());
        self
    }
}

/// The items of a scan, fetched a batch at a time as the iterator
/// advances. Like the server's cursor, it may yield an item more than once
/// when the data changes during the scan.
///
/// An error ends the iteration after it is yielded.
pub struct ScanIter<'a, T> {
    conn: &'a mut Connection,
    name: &'static str,
    key: Option<Cmd>,
    opts: ScanOptions,
    /// `None` once the server returned cursor 0.
    cursor: Option<u64>,
    batch: VecDeque<Value>,
    /// 2 for HSCAN/ZSCAN, whose items are pairs.
    group: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ScanIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanIter")
            .field("command", &self.name)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: FromRedis> ScanIter<'_, T> {
    fn fetch(&mut self, cursor: u64) -> Result<()> {
        let mut c = cmd(self.name);
        if let Some(k) = &self.key {
            c.extend(k);
        }
        c.push_arg(cursor);
        if let Some(p) = &self.opts.pattern {
            c.push_arg("MATCH").push_arg(p);
        }
        if let Some(n) = self.opts.count {
            c.push_arg("COUNT").push_arg(n);
        }
        if let Some(t) = &self.opts.type_ {
            c.push_arg("TYPE").push_arg(t);
        }
        let (next, items): (u64, Value) = c.query(self.conn)?;
        self.cursor = (next != 0).then_some(next);
        let items = match items {
            Value::Array(v) | Value::Set(v) => v,
            Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            other => {
                return Err(Error::conversion(format!(
                    "unexpected scan batch {other:?}"
                )))
            }
        };
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            if self.group == 2 {
                let b = it.next().unwrap_or(Value::Nil);
                self.batch.push_back(Value::Array(vec![a, b]));
            } else {
                self.batch.push_back(a);
            }
        }
        Ok(())
    }
}

impl<T: FromRedis> Iterator for ScanIter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(v) = self.batch.pop_front() {
                return Some(T::from_redis(v));
            }
            let cursor = self.cursor?;
            if let Err(e) = self.fetch(cursor) {
                self.cursor = None;
                return Some(Err(e));
            }
        }
    }
}

impl Connection {
    fn scan_iter<T>(
        &mut self,
        name: &'static str,
        key: Option<Cmd>,
        opts: ScanOptions,
        group: usize,
    ) -> ScanIter<'_, T> {
        ScanIter {
            conn: self,
            name,
            key,
            opts,
            cursor: Some(0),
            batch: VecDeque::new(),
            group,
            _t: PhantomData,
        }
    }

    /// Iterates over every key of the database with `SCAN`. Errors come
    /// out of the iterator as `Err` items.
    pub fn scan<T: FromRedis>(&mut self, opts: ScanOptions) -> ScanIter<'_, T> {
        self.scan_iter("SCAN", None, opts, 1)
    }

    /// Iterates over a hash's `(field, value)` pairs with `HSCAN`.
    pub fn hscan<K: ToRedisArgs, T: FromRedis>(
        &mut self,
        key: K,
        opts: ScanOptions,
    ) -> ScanIter<'_, T> {
        self.scan_iter("HSCAN", Some(Cmd::new().arg(key)), opts, 2)
    }

    /// Iterates over a set's members with `SSCAN`.
    pub fn sscan<K: ToRedisArgs, T: FromRedis>(
        &mut self,
        key: K,
        opts: ScanOptions,
    ) -> ScanIter<'_, T> {
        self.scan_iter("SSCAN", Some(Cmd::new().arg(key)), opts, 1)
    }

    /// Iterates over a sorted set's `(member, score)` pairs with `ZSCAN`.
    pub fn zscan<K: ToRedisArgs, T: FromRedis>(
        &mut self,
        key: K,
        opts: ScanOptions,
    ) -> ScanIter<'_, T> {
        self.scan_iter("ZSCAN", Some(Cmd::new().arg(key)), opts, 2)
    }
}
