//! Conversions between Rust values and Redis arguments and replies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::proto::Value;

/// A Rust value that becomes zero or more command arguments.
///
/// Strings and byte slices are one argument each; integers, floats and
/// bools are sent in decimal (`true` as `1`); slices, `Vec`s and tuples
/// expand into one argument per element (so `("f", 1)` is a field and a
/// value); `None` is no argument. `u8` is left out on purpose so that
/// `Vec<u8>` and `&[u8]` mean bytes.
pub trait ToRedisArgs {
    /// Appends this value's arguments to `cmd`.
    fn write_redis_args(&self, cmd: &mut Cmd);
}

impl<T: ToRedisArgs + ?Sized> ToRedisArgs for &T {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        (**self).write_redis_args(cmd)
    }
}

impl ToRedisArgs for str {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes());
    }
}

impl ToRedisArgs for String {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self.as_bytes());
    }
}

impl ToRedisArgs for [u8] {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self);
    }
}

impl ToRedisArgs for Vec<u8> {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self);
    }
}

impl<const N: usize> ToRedisArgs for [u8; N] {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(self);
    }
}

impl<T: ToRedisArgs> ToRedisArgs for [T] {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        for v in self {
            v.write_redis_args(cmd);
        }
    }
}

impl<T: ToRedisArgs> ToRedisArgs for Vec<T> {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        self.as_slice().write_redis_args(cmd)
    }
}

impl<T: ToRedisArgs, const N: usize> ToRedisArgs for [T; N] {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        self.as_slice().write_redis_args(cmd)
    }
}

impl<T: ToRedisArgs> ToRedisArgs for Option<T> {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        if let Some(v) = self {
            v.write_redis_args(cmd);
        }
    }
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToRedisArgs for $t {
            fn write_redis_args(&self, cmd: &mut Cmd) {
                cmd.push_int(*self as i64);
            }
        }
    )*};
}
int_args!(i8, i16, i32, i64, isize, u16, u32);

macro_rules! wide_args {
    ($($t:ty),*) => {$(
        impl ToRedisArgs for $t {
            fn write_redis_args(&self, cmd: &mut Cmd) {
                match i64::try_from(*self) {
                    Ok(n) => cmd.push_int(n),
                    Err(_) => cmd.push_bytes(self.to_string().as_bytes()),
                }
            }
        }
    )*};
}
wide_args!(u64, usize, i128, u128);

impl ToRedisArgs for f64 {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        let s = if self.is_infinite() {
            if *self > 0.0 { "+inf" } else { "-inf" }.to_owned()
        } else {
            self.to_string()
        };
        cmd.push_bytes(s.as_bytes());
    }
}

impl ToRedisArgs for f32 {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        f64::from(*self).write_redis_args(cmd)
    }
}

impl ToRedisArgs for bool {
    fn write_redis_args(&self, cmd: &mut Cmd) {
        cmd.push_bytes(if *self { b"1" } else { b"0" });
    }
}

macro_rules! tuple_args {
    ($($n:ident),+) => {
        impl<$($n: ToRedisArgs),+> ToRedisArgs for ($($n,)+) {
            #[allow(non_snake_case)]
            fn write_redis_args(&self, cmd: &mut Cmd) {
                let ($($n,)+) = self;
                $($n.write_redis_args(cmd);)+
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);

/// A Rust value that can be built from a reply.
///
/// Numbers parse from integers and from numeric strings; strings come from
/// bulk, simple and verbatim strings; `Option` maps nil to `None`; `Vec`,
/// sets and maps come from arrays, sets and maps (a nil reply is empty; a
/// flat `[k, v, k, v]` array fills a map or a `Vec` of pairs, as RESP2
/// sends HGETALL). Tuples take arrays of the same length, so a pipeline of
/// three commands can be read as a triple.
pub trait FromRedis: Sized {
    /// Converts a reply.
    ///
    /// # Errors
    /// A conversion error when the reply has another shape; the server
    /// error when the reply is an error value.
    fn from_redis(v: Value) -> Result<Self>;

    /// For tuples, their length: a flat array is then read in chunks of
    /// this many elements. Zero for everything else.
    #[doc(hidden)]
    const TUPLE_LEN: usize = 0;
}

fn mismatch<T>(v: &Value, want: &str) -> Result<T> {
    if let Value::Error(e) = v {
        return Err(e.clone().into());
    }
    Err(Error::conversion(format!(
        "cannot convert {} into {want}",
        describe(v)
    )))
}

fn describe(v: &Value) -> String {
    let s = format!("{v:?}");
    if s.len() > 80 {
        let mut end = 80;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

impl FromRedis for Value {
    fn from_redis(v: Value) -> Result<Value> {
        Ok(v)
    }
}

impl FromRedis for () {
    /// Accepts any reply that is not an error.
    fn from_redis(v: Value) -> Result<()> {
        match v {
            Value::Error(e) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn parse_text<T: std::str::FromStr>(v: &Value, want: &str) -> Result<T> {
    let s = match v {
        Value::Bulk(b) => std::str::from_utf8(b).ok(),
        Value::Simple(s) | Value::BigNumber(s) => Some(s.as_str()),
        Value::Verbatim { text, .. } => Some(text.as_str()),
        _ => None,
    };
    match s.and_then(|s| s.parse().ok()) {
        Some(n) => Ok(n),
        None => mismatch(v, want),
    }
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl FromRedis for $t {
            fn from_redis(v: Value) -> Result<$t> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).or_else(|_| mismatch(&v, stringify!($t))),
                    Value::Bool(b) => Ok(<$t>::from(b)),
                    Value::Double(d) if d.fract() == 0.0 && d >= <$t>::MIN as f64 && d <= <$t>::MAX as f64 => Ok(d as $t),
                    _ => parse_text(&v, stringify!($t)),
                }
            }
        }
    )*};
}
int_from!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

macro_rules! float_from {
    ($($t:ty),*) => {$(
        impl FromRedis for $t {
            fn from_redis(v: Value) -> Result<$t> {
                match v {
                    Value::Int(n) => Ok(n as $t),
                    Value::Double(d) => Ok(d as $t),
                    Value::Bulk(ref b) if b == b"inf" || b == b"+inf" => Ok(<$t>::INFINITY),
                    Value::Bulk(ref b) if b == b"-inf" => Ok(<$t>::NEG_INFINITY),
                    _ => parse_text(&v, stringify!($t)),
                }
            }
        }
    )*};
}
float_from!(f32, f64);

impl FromRedis for bool {
    /// From integers (non-zero is true), RESP3 booleans, `OK`, and the
    /// strings `1`/`0`.
    fn from_redis(v: Value) -> Result<bool> {
        match &v {
            Value::Int(n) => Ok(*n != 0),
            Value::Bool(b) => Ok(*b),
            Value::Nil => Ok(false),
            Value::Simple(s) if s == "OK" => Ok(true),
            Value::Bulk(b) if b == b"1" => Ok(true),
            Value::Bulk(b) if b == b"0" => Ok(false),
            _ => mismatch(&v, "bool"),
        }
    }
}

impl FromRedis for String {
    fn from_redis(v: Value) -> Result<String> {
        match v {
            Value::Bulk(b) => {
                String::from_utf8(b).map_err(|_| Error::conversion("reply is not valid UTF-8"))
            }
            Value::Simple(s) | Value::BigNumber(s) => Ok(s),
            Value::Verbatim { text, .. } => Ok(text),
            Value::Int(n) => Ok(n.to_string()),
            Value::Double(d) => Ok(d.to_string()),
            _ => mismatch(&v, "String"),
        }
    }
}

impl FromRedis for Vec<u8> {
    fn from_redis(v: Value) -> Result<Vec<u8>> {
        match v {
            Value::Bulk(b) => Ok(b),
            Value::Simple(s) | Value::BigNumber(s) => Ok(s.into_bytes()),
            Value::Verbatim { text, .. } => Ok(text.into_bytes()),
            Value::Int(n) => Ok(n.to_string().into_bytes()),
            _ => mismatch(&v, "Vec<u8>"),
        }
    }
}

impl<T: FromRedis> FromRedis for Option<T> {
    fn from_redis(v: Value) -> Result<Option<T>> {
        match v {
            Value::Nil => Ok(None),
            v => T::from_redis(v).map(Some),
        }
    }
}

/// The elements of an aggregate reply, as a list of values: maps become
/// `[k, v]` pairs, a flat array is grouped when `group` is 2 or more.
fn elements(v: Value, group: usize, want: &str) -> Result<Vec<Value>> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            let flat = items
                .first()
                .is_some_and(|f| !matches!(f, Value::Array(_) | Value::Map(_)));
            if group >= 2 && flat {
                if items.len() % group != 0 {
                    return Err(Error::conversion(format!(
                        "array of {} elements cannot be read in groups of {group}",
                        items.len()
                    )));
                }
                let mut out = Vec::with_capacity(items.len() / group);
                let mut it = items.into_iter();
                loop {
                    let chunk: Vec<Value> = it.by_ref().take(group).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    out.push(Value::Array(chunk));
                }
                Ok(out)
            } else {
                Ok(items)
            }
        }
        Value::Map(pairs) => Ok(pairs
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect()),
        v => mismatch(&v, want),
    }
}

impl<T: FromRedis> FromRedis for Vec<T> {
    fn from_redis(v: Value) -> Result<Vec<T>> {
        elements(v, T::TUPLE_LEN, "Vec")?
            .into_iter()
            .map(T::from_redis)
            .collect()
    }
}

impl<T: FromRedis + Eq + Hash, S: BuildHasher + Default> FromRedis for HashSet<T, S> {
    fn from_redis(v: Value) -> Result<HashSet<T, S>> {
        elements(v, T::TUPLE_LEN, "HashSet")?
            .into_iter()
            .map(T::from_redis)
            .collect()
    }
}

impl<T: FromRedis + Ord> FromRedis for BTreeSet<T> {
    fn from_redis(v: Value) -> Result<BTreeSet<T>> {
        elements(v, T::TUPLE_LEN, "BTreeSet")?
            .into_iter()
            .map(T::from_redis)
            .collect()
    }
}

/// Key-value pairs from a map, a flat array or an array of pairs.
fn pairs<K: FromRedis, V: FromRedis>(v: Value, want: &str) -> Result<Vec<(K, V)>> {
    elements(v, 2, want)?
        .into_iter()
        .map(<(K, V)>::from_redis)
        .collect()
}

impl<K: FromRedis + Eq + Hash, V: FromRedis, S: BuildHasher + Default> FromRedis
    for HashMap<K, V, S>
{
    fn from_redis(v: Value) -> Result<HashMap<K, V, S>> {
        Ok(pairs(v, "HashMap")?.into_iter().collect())
    }
}

impl<K: FromRedis + Ord, V: FromRedis> FromRedis for BTreeMap<K, V> {
    fn from_redis(v: Value) -> Result<BTreeMap<K, V>> {
        Ok(pairs(v, "BTreeMap")?.into_iter().collect())
    }
}

macro_rules! tuple_from {
    ($len:expr; $($n:ident),+) => {
        impl<$($n: FromRedis),+> FromRedis for ($($n,)+) {
            const TUPLE_LEN: usize = $len;

            fn from_redis(v: Value) -> Result<($($n,)+)> {
                let items = match v {
                    Value::Array(items) | Value::Set(items) | Value::Push(items) => items,
                    v => return mismatch(&v, concat!("a tuple of ", stringify!($len))),
                };
                if items.len() != $len {
                    return Err(Error::conversion(format!(
                        "array of {} elements cannot be a tuple of {}",
                        items.len(),
                        $len
                    )));
                }
                let mut it = items.into_iter();
                Ok(($($n::from_redis(it.next().unwrap_or(Value::Nil))?,)+))
            }
        }
    };
}
tuple_from!(1; A);
tuple_from!(2; A, B);
tuple_from!(3; A, B, C);
tuple_from!(4; A, B, C, D);
tuple_from!(5; A, B, C, D, E);
tuple_from!(6; A, B, C, D, E, F);
tuple_from!(7; A, B, C, D, E, F, G);
tuple_from!(8; A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn scalars() {
        assert_eq!(i64::from_redis(Value::Int(5)).unwrap(), 5);
        assert_eq!(u32::from_redis(b("17")).unwrap(), 17);
        assert!(i8::from_redis(Value::Int(300)).is_err());
        assert_eq!(f64::from_redis(b("1.5")).unwrap(), 1.5);
        assert_eq!(f64::from_redis(Value::Double(2.5)).unwrap(), 2.5);
        assert_eq!(
            String::from_redis(Value::Simple("OK".into())).unwrap(),
            "OK"
        );
        assert!(bool::from_redis(Value::Int(1)).unwrap());
        assert_eq!(Option::<String>::from_redis(Value::Nil).unwrap(), None);
        assert!(String::from_redis(Value::Nil).is_err());
        assert_eq!(Vec::<u8>::from_redis(b("x")).unwrap(), b"x");
    }

    #[test]
    fn aggregates() {
        let flat = Value::Array(vec![b("a"), b("1"), b("b"), b("2")]);
        let m: HashMap<String, i64> = FromRedis::from_redis(flat.clone()).unwrap();
        assert_eq!(m["b"], 2);
        let v: Vec<(String, i64)> = FromRedis::from_redis(flat).unwrap();
        assert_eq!(v, [("a".into(), 1), ("b".into(), 2)]);
        let map = Value::Map(vec![(b("a"), Value::Double(1.0))]);
        let v: Vec<(String, f64)> = FromRedis::from_redis(map).unwrap();
        assert_eq!(v, [("a".into(), 1.0)]);
        let nested = Value::Array(vec![Value::Array(vec![b("a"), Value::Double(1.0)])]);
        let v: Vec<(String, f64)> = FromRedis::from_redis(nested).unwrap();
        assert_eq!(v, [("a".into(), 1.0)]);
        let t: (i64, String) =
            FromRedis::from_redis(Value::Array(vec![Value::Int(1), b("x")])).unwrap();
        assert_eq!(t, (1, "x".into()));
        let e = Vec::<String>::from_redis(Value::Int(1)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conversion);
    }

    #[test]
    fn args() {
        let c = crate::cmd("HSET")
            .arg("k")
            .arg(("f", 1))
            .arg([1.5f64])
            .arg(None::<i32>);
        assert_eq!(c.args_len(), 5);
        let c = crate::cmd("X")
            .arg(b"bytes".as_slice())
            .arg(vec!["a", "b"])
            .arg(u64::MAX);
        assert_eq!(c.args_len(), 5);
    }
}
