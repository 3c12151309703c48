//! SQL types and the conversions between Rust values and their binary
//! wire format: [`ToSql`] for parameters, [`FromSql`] for result columns.
//!
//! | SQL | Rust |
//! |---|---|
//! | `bool` | `bool` |
//! | `"char"`, `int2`, `int4`, `int8`, `oid` | `i8`, `i16`, `i32`, `i64`, `u32` |
//! | `float4`, `float8` | `f32`, `f64` |
//! | `text`, `varchar`, `bpchar`, `name`, enums | `String`, `&str` |
//! | `bytea` | `Vec<u8>`, `&[u8]` |
//! | `uuid` | `uuid::Uuid` (feature `uuid`) |
//! | `json`, `jsonb` | `serde_json::Value`, [`Json<T>`] (feature `json`) |
//! | `date`, `time`, `timestamp`, `timestamptz` | chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>` (feature `chrono`); `timestamptz` also as `SystemTime` |
//! | `interval` | [`Interval`] |
//! | `numeric` | `rust_decimal::Decimal` (feature `decimal`) |
//! | `inet`, `cidr` | `std::net::IpAddr` |
//! | arrays of the above | `Vec<T>`, `&[T]` (one dimension) |
//! | NULL | `Option<T>` |
//!
//! A custom type (an enum, a domain) is a manual impl: an enum's binary
//! format is its label as text, so `to_sql` writes the label and
//! `from_sql` matches it.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A boxed conversion error.
pub type BoxError = Box<dyn StdError + Sync + Send>;

/// A PostgreSQL type, by OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type(u32);

macro_rules! types {
    ($($name:ident = $oid:expr, $sql:expr, $elem:expr;)*) => {
        impl Type {
            $(
                #[doc = concat!("`", $sql, "`")]
                pub const $name: Type = Type($oid);
            )*

            /// The type's name for built-in types, `None` for others
            /// (user-defined types, enums, domains).
            pub fn name(&self) -> Option<&'static str> {
                match self.0 {
                    $($oid => Some($sql),)*
                    _ => None,
                }
            }

            /// The element type, if this is an array type.
            pub fn element(&self) -> Option<Type> {
                match self.0 {
                    $($oid => $elem.map(Type),)*
                    _ => None,
                }
            }
        }
    };
}

types! {
    BOOL = 16, "bool", None::<u32>;
    BYTEA = 17, "bytea", None::<u32>;
    CHAR = 18, "\"char\"", None::<u32>;
    NAME = 19, "name", None::<u32>;
    INT8 = 20, "int8", None::<u32>;
    INT2 = 21, "int2", None::<u32>;
    INT4 = 23, "int4", None::<u32>;
    TEXT = 25, "text", None::<u32>;
    OID = 26, "oid", None::<u32>;
    JSON = 114, "json", None::<u32>;
    FLOAT4 = 700, "float4", None::<u32>;
    FLOAT8 = 701, "float8", None::<u32>;
    UNKNOWN = 705, "unknown", None::<u32>;
    CIDR = 650, "cidr", None::<u32>;
    INET = 869, "inet", None::<u32>;
    BPCHAR = 1042, "bpchar", None::<u32>;
    VARCHAR = 1043, "varchar", None::<u32>;
    DATE = 1082, "date", None::<u32>;
    TIME = 1083, "time", None::<u32>;
    TIMESTAMP = 1114, "timestamp", None::<u32>;
    TIMESTAMPTZ = 1184, "timestamptz", None::<u32>;
    INTERVAL = 1186, "interval", None::<u32>;
    NUMERIC = 1700, "numeric", None::<u32>;
    VOID = 2278, "void", None::<u32>;
    UUID = 2950, "uuid", None::<u32>;
    JSONB = 3802, "jsonb", None::<u32>;
    BOOL_ARRAY = 1000, "bool[]", Some(16);
    BYTEA_ARRAY = 1001, "bytea[]", Some(17);
    CHAR_ARRAY = 1002, "\"char\"[]", Some(18);
    NAME_ARRAY = 1003, "name[]", Some(19);
    INT2_ARRAY = 1005, "int2[]", Some(21);
    INT4_ARRAY = 1007, "int4[]", Some(23);
    TEXT_ARRAY = 1009, "text[]", Some(25);
    BPCHAR_ARRAY = 1014, "bpchar[]", Some(1042);
    VARCHAR_ARRAY = 1015, "varchar[]", Some(1043);
    INT8_ARRAY = 1016, "int8[]", Some(20);
    FLOAT4_ARRAY = 1021, "float4[]", Some(700);
    FLOAT8_ARRAY = 1022, "float8[]", Some(701);
    OID_ARRAY = 1028, "oid[]", Some(26);
    INET_ARRAY = 1041, "inet[]", Some(869);
    CIDR_ARRAY = 651, "cidr[]", Some(650);
    DATE_ARRAY = 1182, "date[]", Some(1082);
    TIME_ARRAY = 1183, "time[]", Some(1083);
    TIMESTAMP_ARRAY = 1115, "timestamp[]", Some(1114);
    TIMESTAMPTZ_ARRAY = 1185, "timestamptz[]", Some(1184);
    INTERVAL_ARRAY = 1187, "interval[]", Some(1186);
    NUMERIC_ARRAY = 1231, "numeric[]", Some(1700);
    UUID_ARRAY = 2951, "uuid[]", Some(2950);
    JSON_ARRAY = 199, "json[]", Some(114);
    JSONB_ARRAY = 3807, "jsonb[]", Some(3802);
}

impl Type {
    /// The type with this OID.
    pub fn from_oid(oid: u32) -> Type {
        Type(oid)
    }

    /// The OID.
    pub fn oid(&self) -> u32 {
        self.0
    }

    /// Whether this is one of the built-in types listed as constants.
    pub fn is_builtin(&self) -> bool {
        self.name().is_some()
    }
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type {}", self.0),
        }
    }
}

/// Whether a value written by [`ToSql::to_sql`] is NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// NULL: nothing was written.
    Yes,
    /// A value was written.
    No,
}

/// A Rust value that can be sent as a query parameter.
pub trait ToSql: std::fmt::Debug {
    /// Appends the binary encoding of `self` as SQL type `ty` to `out`, or
    /// returns [`IsNull::Yes`] (writing nothing) for NULL.
    ///
    /// # Errors
    /// `ty` is not a type this value converts to, or the value does not fit
    /// it. The query is not sent.
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError>;
}

/// A Rust value that can be read from a result column.
pub trait FromSql<'a>: Sized {
    /// Decodes a non-NULL value of SQL type `ty` from its binary encoding.
    ///
    /// # Errors
    /// `ty` is not a type this Rust type converts from, or `raw` is
    /// malformed.
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError>;

    /// The value for SQL NULL; only `Option` accepts it.
    ///
    /// # Errors
    /// By default: NULL does not convert to this type.
    fn from_sql_null(ty: &Type) -> Result<Self, BoxError> {
        Err(format!("unexpected NULL for a non-Option {} column", ty).into())
    }
}

fn wrong_type<T>(rust: &str, ty: &Type) -> Result<T, BoxError> {
    Err(format!("cannot convert between the Rust type {rust} and the SQL type {ty}").into())
}

fn check(rust: &str, ty: &Type, ok: &[Type]) -> Result<(), BoxError> {
    if ok.contains(ty) {
        Ok(())
    } else {
        wrong_type(rust, ty)
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        (**self).to_sql(ty, out)
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        match self {
            Some(v) => v.to_sql(ty, out),
            None => Ok(IsNull::Yes),
        }
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Option<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        T::from_sql(ty, raw).map(Some)
    }
    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(None)
    }
}

impl ToSql for bool {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        check("bool", ty, &[Type::BOOL])?;
        out.push(u8::from(*self));
        Ok(IsNull::No)
    }
}

impl FromSql<'_> for bool {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        check("bool", ty, &[Type::BOOL])?;
        Ok(fixed::<1>(raw)?[0] != 0)
    }
}

macro_rules! number {
    ($t:ty, $($sql:ident),+) => {
        impl ToSql for $t {
            fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
                check(stringify!($t), ty, &[$(Type::$sql),+])?;
                out.extend_from_slice(&self.to_be_bytes());
                Ok(IsNull::No)
            }
        }

        impl FromSql<'_> for $t {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
                check(stringify!($t), ty, &[$(Type::$sql),+])?;
                Ok(<$t>::from_be_bytes(fixed(raw)?))
            }
        }
    };
}

number!(i8, CHAR);
number!(i16, INT2);
number!(i32, INT4);
number!(i64, INT8);
number!(u32, OID);
number!(f32, FLOAT4);
number!(f64, FLOAT8);

const TEXT_TYPES: [Type; 5] = [
    Type::TEXT,
    Type::VARCHAR,
    Type::BPCHAR,
    Type::NAME,
    Type::UNKNOWN,
];

fn text_like(ty: &Type) -> bool {
    TEXT_TYPES.contains(ty) || !ty.is_builtin()
}

impl ToSql for str {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        if !text_like(ty) {
            return wrong_type("&str", ty);
        }
        out.extend_from_slice(self.as_bytes());
        Ok(IsNull::No)
    }
}

impl ToSql for String {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        self.as_str().to_sql(ty, out)
    }
}

impl<'a> FromSql<'a> for &'a str {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        if !text_like(ty) {
            return wrong_type("&str", ty);
        }
        Ok(std::str::from_utf8(raw)?)
    }
}

impl FromSql<'_> for String {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        <&str>::from_sql(ty, raw).map(str::to_owned)
    }
}

impl ToSql for [u8] {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        check("&[u8]", ty, &[Type::BYTEA])?;
        out.extend_from_slice(self);
        Ok(IsNull::No)
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        self.as_slice().to_sql(ty, out)
    }
}

impl<'a> FromSql<'a> for &'a [u8] {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        check("&[u8]", ty, &[Type::BYTEA])?;
        Ok(raw)
    }
}

impl FromSql<'_> for Vec<u8> {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        <&[u8]>::from_sql(ty, raw).map(<[u8]>::to_vec)
    }
}

/// `interval`: months, days and microseconds, kept apart as PostgreSQL
/// does (a month has no fixed length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Months.
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub microseconds: i64,
}

impl ToSql for Interval {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        check("Interval", ty, &[Type::INTERVAL])?;
        out.extend_from_slice(&self.microseconds.to_be_bytes());
        out.extend_from_slice(&self.days.to_be_bytes());
        out.extend_from_slice(&self.months.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl FromSql<'_> for Interval {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        check("Interval", ty, &[Type::INTERVAL])?;
        let b: [u8; 16] = fixed(raw)?;
        Ok(Interval {
            microseconds: i64::from_be_bytes(fixed(&b[..8])?),
            days: i32::from_be_bytes(fixed(&b[8..12])?),
            months: i32::from_be_bytes(fixed(&b[12..])?),
        })
    }
}

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_SECS: u64 = 946_684_800;

impl ToSql for SystemTime {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        check("SystemTime", ty, &[Type::TIMESTAMPTZ, Type::TIMESTAMP])?;
        let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_SECS);
        let us: i64 = match self.duration_since(epoch) {
            Ok(d) => i64::try_from(d.as_micros())?,
            Err(e) => -i64::try_from(e.duration().as_micros())?,
        };
        out.extend_from_slice(&us.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl FromSql<'_> for SystemTime {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        check("SystemTime", ty, &[Type::TIMESTAMPTZ, Type::TIMESTAMP])?;
        let us = i64::from_be_bytes(fixed(raw)?);
        let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_SECS);
        let t = if us >= 0 {
            epoch.checked_add(Duration::from_micros(us as u64))
        } else {
            epoch.checked_sub(Duration::from_micros(us.unsigned_abs()))
        };
        t.ok_or_else(|| "timestamp out of range (infinity?)".into())
    }
}

impl ToSql for IpAddr {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        check("IpAddr", ty, &[Type::INET, Type::CIDR])?;
        let is_cidr = u8::from(*ty == Type::CIDR);
        match self {
            IpAddr::V4(a) => {
                out.extend_from_slice(&[2, 32, is_cidr, 4]);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.extend_from_slice(&[3, 128, is_cidr, 16]);
                out.extend_from_slice(&a.octets());
            }
        }
        Ok(IsNull::No)
    }
}

impl FromSql<'_> for IpAddr {
    /// The address part (a netmask is dropped).
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        check("IpAddr", ty, &[Type::INET, Type::CIDR])?;
        match raw {
            [2, _, _, 4, a @ ..] => Ok(IpAddr::from(fixed::<4>(a)?)),
            [3, _, _, 16, a @ ..] => Ok(IpAddr::from(fixed::<16>(a)?)),
            _ => Err("malformed inet value".into()),
        }
    }
}

/// Writes a one-dimensional array of `items` as SQL type `ty` (an array
/// type).
fn array_to_sql<T: ToSql>(items: &[T], ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
    let Some(elem) = ty.element() else {
        return wrong_type("an array", ty);
    };
    let dims: i32 = if items.is_empty() { 0 } else { 1 };
    out.extend_from_slice(&dims.to_be_bytes());
    let has_null_at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if dims == 1 {
        out.extend_from_slice(&i32::try_from(items.len())?.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    let mut has_null = false;
    for item in items {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        match item.to_sql(&elem, out)? {
            IsNull::Yes => {
                has_null = true;
                out[at..at + 4].copy_from_slice(&(-1i32).to_be_bytes());
            }
            IsNull::No => {
                let len = i32::try_from(out.len() - at - 4)?;
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    if has_null {
        out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(IsNull::No)
}

impl<T: ToSql> ToSql for [T] {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        array_to_sql(self, ty, out)
    }
}

impl<T: ToSql> ToSql for Vec<T> {
    fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
        array_to_sql(self, ty, out)
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Vec<T> {
    /// A one-dimensional (or empty) array; multi-dimensional arrays are
    /// flattened in row-major order.
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let Some(elem) = ty.element() else {
            return wrong_type("Vec<T>", ty);
        };
        let int = |b: &[u8], at: usize| -> Result<i32, BoxError> {
            let s = b.get(at..at + 4).ok_or("truncated array")?;
            Ok(i32::from_be_bytes(fixed(s)?))
        };
        let dims = int(raw, 0)?;
        if !(0..=6).contains(&dims) {
            return Err("bad array dimension count".into());
        }
        let mut pos = 12;
        let mut count: usize = if dims == 0 { 0 } else { 1 };
        for _ in 0..dims {
            let n = usize::try_from(int(raw, pos)?).map_err(|_| "negative array length")?;
            count = count.checked_mul(n).ok_or("array too large")?;
            pos += 8;
        }
        let mut out = Vec::with_capacity(count.min(raw.len() / 4));
        for _ in 0..count {
            let len = int(raw, pos)?;
            pos += 4;
            if len < 0 {
                out.push(T::from_sql_null(&elem)?);
            } else {
                let end = pos + len as usize;
                let v = raw.get(pos..end).ok_or("truncated array element")?;
                out.push(T::from_sql(&elem, v)?);
                pos = end;
            }
        }
        Ok(out)
    }
}

#[cfg(feature = "uuid")]
mod uuid_impl {
    use super::*;

    impl ToSql for uuid::Uuid {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("Uuid", ty, &[Type::UUID])?;
            out.extend_from_slice(self.as_bytes());
            Ok(IsNull::No)
        }
    }

    impl FromSql<'_> for uuid::Uuid {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("Uuid", ty, &[Type::UUID])?;
            Ok(uuid::Uuid::from_bytes(fixed(raw)?))
        }
    }
}

/// A value sent and read as `json`/`jsonb` through serde (feature `json`).
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

#[cfg(feature = "json")]
mod json_impl {
    use super::*;

    fn encode<T: serde::Serialize>(
        v: &T,
        ty: &Type,
        out: &mut Vec<u8>,
    ) -> Result<IsNull, BoxError> {
        check("Json", ty, &[Type::JSON, Type::JSONB])?;
        if *ty == Type::JSONB {
            out.push(1);
        }
        serde_json::to_writer(out, v)?;
        Ok(IsNull::No)
    }

    fn decode<'a, T: serde::Deserialize<'a>>(ty: &Type, mut raw: &'a [u8]) -> Result<T, BoxError> {
        check("Json", ty, &[Type::JSON, Type::JSONB])?;
        if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => raw = rest,
                _ => return Err("unsupported jsonb version".into()),
            }
        }
        Ok(serde_json::from_slice(raw)?)
    }

    impl<T: serde::Serialize + std::fmt::Debug> ToSql for Json<T> {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            encode(&self.0, ty, out)
        }
    }

    impl<'a, T: serde::Deserialize<'a>> FromSql<'a> for Json<T> {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
            decode(ty, raw).map(Json)
        }
    }

    impl ToSql for serde_json::Value {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            encode(self, ty, out)
        }
    }

    impl FromSql<'_> for serde_json::Value {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            decode(ty, raw)
        }
    }
}

#[cfg(feature = "chrono")]
mod chrono_impl {
    use super::*;
    use chrono::{DateTime, Duration as CDuration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    fn pg_epoch() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap_or_default()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
    }

    fn micros(raw: &[u8]) -> Result<i64, BoxError> {
        Ok(i64::from_be_bytes(fixed(raw)?))
    }

    impl ToSql for NaiveDateTime {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("NaiveDateTime", ty, &[Type::TIMESTAMP, Type::TIMESTAMPTZ])?;
            let us = (*self - pg_epoch())
                .num_microseconds()
                .ok_or("timestamp out of range")?;
            out.extend_from_slice(&us.to_be_bytes());
            Ok(IsNull::No)
        }
    }

    impl FromSql<'_> for NaiveDateTime {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("NaiveDateTime", ty, &[Type::TIMESTAMP, Type::TIMESTAMPTZ])?;
            pg_epoch()
                .checked_add_signed(CDuration::microseconds(micros(raw)?))
                .ok_or_else(|| "timestamp out of range (infinity?)".into())
        }
    }

    impl ToSql for DateTime<Utc> {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("DateTime<Utc>", ty, &[Type::TIMESTAMPTZ])?;
            self.naive_utc().to_sql(&Type::TIMESTAMP, out)
        }
    }

    impl FromSql<'_> for DateTime<Utc> {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("DateTime<Utc>", ty, &[Type::TIMESTAMPTZ])?;
            Ok(NaiveDateTime::from_sql(&Type::TIMESTAMP, raw)?.and_utc())
        }
    }

    impl ToSql for NaiveDate {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("NaiveDate", ty, &[Type::DATE])?;
            let days = i32::try_from((*self - pg_epoch().date()).num_days())?;
            out.extend_from_slice(&days.to_be_bytes());
            Ok(IsNull::No)
        }
    }

    impl FromSql<'_> for NaiveDate {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("NaiveDate", ty, &[Type::DATE])?;
            let days = i32::from_be_bytes(fixed(raw)?);
            pg_epoch()
                .date()
                .checked_add_signed(CDuration::days(i64::from(days)))
                .ok_or_else(|| "date out of range (infinity?)".into())
        }
    }

    impl ToSql for NaiveTime {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("NaiveTime", ty, &[Type::TIME])?;
            let us = (*self - NaiveTime::MIN)
                .num_microseconds()
                .ok_or("time out of range")?;
            out.extend_from_slice(&us.to_be_bytes());
            Ok(IsNull::No)
        }
    }

    impl FromSql<'_> for NaiveTime {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("NaiveTime", ty, &[Type::TIME])?;
            Ok(NaiveTime::MIN
                .overflowing_add_signed(CDuration::microseconds(micros(raw)?))
                .0)
        }
    }
}

#[cfg(feature = "decimal")]
mod decimal_impl {
    use super::*;
    use rust_decimal::Decimal;

    const NUMERIC_NEG: u16 = 0x4000;
    const NUMERIC_NAN: u16 = 0xC000;

    impl ToSql for Decimal {
        fn to_sql(&self, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, BoxError> {
            check("Decimal", ty, &[Type::NUMERIC])?;
            let scale = self.scale();
            let digits = self.abs().mantissa().to_string();
            let scale_us = scale as usize;
            // Split the decimal digits into integer and fraction parts.
            let (int, frac) = if digits.len() > scale_us {
                digits.split_at(digits.len() - scale_us)
            } else {
                ("", digits.as_str())
            };
            let frac = format!("{}{frac}", "0".repeat(scale_us - frac.len()));
            let int_pad = (4 - int.len() % 4) % 4;
            let int = format!("{}{int}", "0".repeat(int_pad));
            let frac_pad = (4 - frac.len() % 4) % 4;
            let frac = format!("{frac}{}", "0".repeat(frac_pad));
            let group = |s: &str| -> Vec<i16> {
                s.as_bytes()
                    .chunks(4)
                    .map(|c| c.iter().fold(0i16, |a, d| a * 10 + i16::from(d - b'0')))
                    .collect()
            };
            let mut groups = group(&int);
            let mut weight = groups.len() as i16 - 1;
            groups.extend(group(&frac));
            while groups.first() == Some(&0) {
                groups.remove(0);
                weight -= 1;
            }
            while groups.last() == Some(&0) {
                groups.pop();
            }
            if groups.is_empty() {
                weight = 0;
            }
            out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            let sign = if self.is_sign_negative() && !self.is_zero() {
                NUMERIC_NEG
            } else {
                0
            };
            out.extend_from_slice(&sign.to_be_bytes());
            out.extend_from_slice(&(scale as u16).to_be_bytes());
            for g in groups {
                out.extend_from_slice(&g.to_be_bytes());
            }
            Ok(IsNull::No)
        }
    }

    impl FromSql<'_> for Decimal {
        fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            check("Decimal", ty, &[Type::NUMERIC])?;
            let word = |i: usize| -> Result<u16, BoxError> {
                let s = raw.get(i * 2..i * 2 + 2).ok_or("truncated numeric")?;
                Ok(u16::from_be_bytes(fixed(s)?))
            };
            let ndigits = word(0)? as usize;
            let weight = word(1)? as i16;
            let sign = word(2)?;
            let dscale = word(3)?;
            if sign == NUMERIC_NAN || (sign != 0 && sign != NUMERIC_NEG) {
                return Err("numeric NaN or infinity does not fit Decimal".into());
            }
            let mut s = String::new();
            if sign == NUMERIC_NEG {
                s.push('-');
            }
            // Integer part: groups with weight >= 0.
            if weight < 0 {
                s.push('0');
            } else {
                for w in 0..=weight as usize {
                    let g = if w < ndigits { word(4 + w)? } else { 0 };
                    if w == 0 {
                        s.push_str(&g.to_string());
                    } else {
                        s.push_str(&format!("{g:04}"));
                    }
                }
            }
            if dscale > 0 {
                s.push('.');
                let mut frac = String::new();
                let first_frac = i32::from(weight) + 1; // index of group at weight -1
                let mut i = first_frac;
                while frac.len() < dscale as usize {
                    let g = if i >= 0 && (i as usize) < ndigits {
                        word(4 + i as usize)?
                    } else {
                        0
                    };
                    frac.push_str(&format!("{g:04}"));
                    i += 1;
                }
                frac.truncate(dscale as usize);
                s.push_str(&frac);
            }
            Ok(s.parse::<Decimal>()?)
        }
    }
}
