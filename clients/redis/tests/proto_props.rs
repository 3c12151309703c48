//! Property tests of the RESP codec: any value, encoded and then fed to the
//! decoder in arbitrary pieces, comes back whole and only at its end.

use fibra_redis::proto::{decode, encode_value, Decoded, Limits, Scanner, Value};
use fibra_redis::ServerError;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let text = "[a-zA-Z0-9 _:.-]{0,12}";
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bulk),
        text.prop_map(Value::Simple),
        "[A-Z]{1,8} [a-z ]{0,10}".prop_map(|s| Value::Error(ServerError::new(s))),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |d| !d.is_nan())
            .prop_map(Value::Double),
        any::<bool>().prop_map(Value::Bool),
        "-?[1-9][0-9]{0,30}".prop_map(Value::BigNumber),
        ("[a-z]{3}", text).prop_map(|(format, text)| Value::Verbatim {
            format,
            text: text.to_owned()
        }),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Push),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_with_random_splits(values in proptest::collection::vec(value(), 1..5), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let mut wire = Vec::new();
        for v in &values {
            encode_value(v, &mut wire);
        }
        let limits = Limits::default();
        // Feed the stream in pieces; decode whatever is complete.
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort();
        let mut got = Vec::new();
        let mut start = 0;
        let mut scanner = Scanner::new();
        for end in points {
            loop {
                let buf = &wire[start..end];
                let scanned = scanner.scan(buf, &limits).unwrap();
                match decode(buf, &limits).unwrap() {
                    Decoded::Complete(v, n) => {
                        prop_assert_eq!(scanned, Some(n));
                        got.push(v);
                        start += n;
                        scanner = Scanner::new();
                    }
                    Decoded::Partial => {
                        prop_assert_eq!(scanned, None);
                        break;
                    }
                }
            }
        }
        prop_assert_eq!(start, wire.len());
        prop_assert_eq!(got, values);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let limits = Limits { max_depth: 8, max_bulk_len: 1 << 10, max_aggregate_len: 1 << 10, max_line_len: 64, max_reply_len: 1 << 20 };
        let _ = decode(&bytes, &limits);
        let _ = Scanner::new().scan(&bytes, &limits);
    }
}
