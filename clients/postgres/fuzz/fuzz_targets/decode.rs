//! Feeds arbitrary bytes to the backend message decoder, as a stream of
//! messages, and the row/type decoders: nothing may panic.
#![no_main]

use fibra_postgres::proto::{decode, Message};
use fibra_postgres::types::{FromSql, Type};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((msg, n))) = decode(rest) {
        if let Message::DataRow(row) = &msg {
            for r in row.ranges().flatten() {
                let raw = &row.data[r];
                let _ = Vec::<i32>::from_sql(&Type::INT4_ARRAY, raw);
                let _ = Vec::<Option<String>>::from_sql(&Type::TEXT_ARRAY, raw);
                let _ = std::net::IpAddr::from_sql(&Type::INET, raw);
                let _ = <&str>::from_sql(&Type::TEXT, raw);
            }
        }
        rest = &rest[n..];
    }
});
