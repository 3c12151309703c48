//! Round trips of every supported type through binary parameters and
//! results.

mod util;

use std::fmt::Debug;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fibra_postgres::types::{FromSql, Interval, ToSql, Type};
use fibra_postgres::Client;

#[track_caller]
fn round_trip<T>(c: &mut Client, sql_type: &str, value: T)
where
    T: ToSql + for<'a> FromSql<'a> + PartialEq + Debug,
{
    let sql = format!("SELECT $1::{sql_type}");
    let row = c.query_one(sql.as_str(), &[&value]).unwrap();
    let back: T = row.get(0);
    assert_eq!(back, value, "{sql_type}");
}

#[test]
fn scalars() {
    let mut c = util::connect();
    round_trip(&mut c, "bool", true);
    round_trip(&mut c, "bool", false);
    round_trip(&mut c, "\"char\"", -5i8);
    round_trip(&mut c, "int2", i16::MIN);
    round_trip(&mut c, "int4", i32::MAX);
    round_trip(&mut c, "int8", -1234567890123i64);
    round_trip(&mut c, "oid", 4_000_000_000u32);
    round_trip(&mut c, "float4", 1.5f32);
    round_trip(&mut c, "float8", -2.25e300f64);
    round_trip(&mut c, "text", "héllo".to_owned());
    round_trip(&mut c, "varchar", String::new());
    round_trip(&mut c, "name", "pg_class".to_owned());
    round_trip(&mut c, "bpchar", "abc".to_owned());
    round_trip(&mut c, "bytea", vec![0u8, 1, 255, 0]);
    round_trip(&mut c, "inet", "10.1.2.3".parse::<IpAddr>().unwrap());
    round_trip(&mut c, "inet", "::1".parse::<IpAddr>().unwrap());
    round_trip(&mut c, "cidr", "192.168.0.0".parse::<IpAddr>().unwrap());
    round_trip(
        &mut c,
        "interval",
        Interval {
            months: 14,
            days: -3,
            microseconds: 1_500_000,
        },
    );
    let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
    round_trip(&mut c, "timestamptz", t);
    round_trip(
        &mut c,
        "timestamptz",
        UNIX_EPOCH - Duration::from_secs(86400 * 365 * 40),
    );
    let _ = SystemTime::now();
}

#[test]
fn text_reads_borrowed() {
    let mut c = util::connect();
    let row = c
        .query_one("SELECT 'abc'::text, '\\x0102'::bytea", &[])
        .unwrap();
    let s: &str = row.get(0);
    let b: &[u8] = row.get(1);
    assert_eq!((s, b), ("abc", &[1u8, 2][..]));
}

#[test]
fn nulls_as_option() {
    let mut c = util::connect();
    let row = c
        .query_one(
            "SELECT NULL::int4, $1::text, $2::int8",
            &[&None::<String>, &Some(7i64)],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<i32>>(0), None);
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, Option<i64>>(2), Some(7));
    let e = row.try_get::<_, i32>(0).unwrap_err();
    assert!(e.is_conversion(), "{e}");
}

#[test]
fn arrays() {
    let mut c = util::connect();
    round_trip(&mut c, "int4[]", vec![1i32, -2, 3]);
    round_trip(&mut c, "int8[]", Vec::<i64>::new());
    round_trip(
        &mut c,
        "text[]",
        vec!["a".to_owned(), String::new(), "c,d".to_owned()],
    );
    round_trip(&mut c, "int2[]", vec![Some(1i16), None, Some(3)]);
    round_trip(&mut c, "float8[]", vec![0.5f64]);
    round_trip(&mut c, "bool[]", vec![true, false]);
    let row = c
        .query_one("SELECT ARRAY[[1,2],[3,4]]::int4[]", &[])
        .unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![1, 2, 3, 4]);
    let slice: &[i32] = &[5, 6];
    let row = c.query_one("SELECT $1::int4[]", &[&slice]).unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![5, 6]);
}

#[test]
fn type_mismatch_reading_is_an_error() {
    let mut c = util::connect();
    let row = c.query_one("SELECT 1::int4", &[]).unwrap();
    let e = row.try_get::<_, i64>(0).unwrap_err();
    assert!(e.is_conversion(), "{e}");
    assert!(row.try_get::<_, i32>("nope").is_err());
    assert_eq!(row.columns()[0].type_(), &Type::INT4);
}

#[test]
fn enums_by_manual_impl() {
    #[derive(Debug, PartialEq)]
    enum Mood {
        Happy,
        Sad,
    }
    impl ToSql for Mood {
        fn to_sql(
            &self,
            _: &Type,
            out: &mut Vec<u8>,
        ) -> Result<fibra_postgres::types::IsNull, fibra_postgres::types::BoxError> {
            out.extend_from_slice(match self {
                Mood::Happy => b"happy",
                Mood::Sad => b"sad",
            });
            Ok(fibra_postgres::types::IsNull::No)
        }
    }
    impl FromSql<'_> for Mood {
        fn from_sql(_: &Type, raw: &[u8]) -> Result<Self, fibra_postgres::types::BoxError> {
            match raw {
                b"happy" => Ok(Mood::Happy),
                b"sad" => Ok(Mood::Sad),
                _ => Err("unknown mood".into()),
            }
        }
    }
    let mut c = util::connect();
    let ty = util::table("mood");
    c.batch_execute(&format!("CREATE TYPE {ty} AS ENUM ('happy', 'sad')"))
        .unwrap();
    round_trip(&mut c, &ty, Mood::Sad);
    round_trip(&mut c, &ty, Mood::Happy);
    c.batch_execute(&format!("DROP TYPE {ty}")).unwrap();
}

fibra_postgres::pg_enum! {
    /// A test enum with a label that is not a Rust identifier.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Weather {
        Sunny => "sunny",
        Rainy => "rainy",
        Mixed => "sun and rain",
    }
}

#[test]
fn enums_by_pg_enum_macro() {
    let mut c = util::connect();
    let ty = util::table("weather");
    c.batch_execute(&format!(
        "CREATE TYPE {ty} AS ENUM ('sunny', 'rainy', 'sun and rain', 'snowy')"
    ))
    .unwrap();
    for w in [Weather::Sunny, Weather::Rainy, Weather::Mixed] {
        round_trip(&mut c, &ty, w);
    }
    // The server's own ordering of the enum applies to values we bind.
    let row = c
        .query_one(
            format!("SELECT $1::{ty} < $2::{ty}").as_str(),
            &[&Weather::Sunny, &Weather::Mixed],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0));
    // A label the Rust enum lacks is a conversion error, not a panic.
    let row = c
        .query_one(format!("SELECT 'snowy'::{ty}").as_str(), &[])
        .unwrap();
    let err = row.try_get::<_, Weather>(0).unwrap_err();
    assert!(err.to_string().contains("snowy"), "{err}");
    // A builtin non-text parameter type is refused before anything is sent.
    let err = c
        .query_one("SELECT $1::int4", &[&Weather::Rainy])
        .unwrap_err();
    assert!(err.to_string().contains("int4"), "{err}");
    assert!(!c.is_broken());
    c.batch_execute(&format!("DROP TYPE {ty}")).unwrap();
}

#[cfg(feature = "uuid")]
#[test]
fn uuid() {
    let mut c = util::connect();
    round_trip(
        &mut c,
        "uuid",
        uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
    );
}

#[cfg(feature = "json")]
#[test]
fn json() {
    use fibra_postgres::types::Json;
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: i32,
        y: i32,
    }
    let mut c = util::connect();
    let v = serde_json::json!({"a": [1, 2, {"b": null}]});
    round_trip(&mut c, "json", v.clone());
    round_trip(&mut c, "jsonb", v);
    round_trip(&mut c, "jsonb", Json(Point { x: 1, y: -2 }));
}

#[cfg(feature = "chrono")]
#[test]
fn chrono() {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    let mut c = util::connect();
    let d = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    round_trip(&mut c, "date", d);
    round_trip(
        &mut c,
        "date",
        NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
    );
    let t = NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    round_trip(&mut c, "time", t);
    let ts: NaiveDateTime = d.and_time(t);
    round_trip(&mut c, "timestamp", ts);
    let tz: DateTime<Utc> = ts.and_utc();
    round_trip(&mut c, "timestamptz", tz);
    let row = c
        .query_one("SELECT '2000-01-02 03:04:05'::timestamp", &[])
        .unwrap();
    assert_eq!(
        row.get::<_, NaiveDateTime>(0),
        NaiveDate::from_ymd_opt(2000, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap()
    );
}

#[cfg(feature = "decimal")]
#[test]
fn numeric() {
    use rust_decimal::Decimal;
    let mut c = util::connect();
    for s in [
        "0",
        "1",
        "-1",
        "12345.6789",
        "0.0001",
        "-0.00000123",
        "10000",
        "99999999.99",
        "123456789012345678.9",
        "1.10",
        "0.5",
    ] {
        let d: Decimal = s.parse().unwrap();
        round_trip(&mut c, "numeric", d);
        // And the server's own rendering agrees.
        let text: String = c
            .query_one("SELECT $1::numeric::text", &[&d])
            .unwrap()
            .get(0);
        assert_eq!(text, s, "server text of {s}");
        let back: Decimal = c
            .query_one(format!("SELECT '{s}'::numeric").as_str(), &[])
            .unwrap()
            .get(0);
        assert_eq!(back.to_string(), s);
    }
    let e = c
        .query_one("SELECT 'NaN'::numeric", &[])
        .unwrap()
        .try_get::<_, Decimal>(0)
        .unwrap_err();
    assert!(e.is_conversion());
}
