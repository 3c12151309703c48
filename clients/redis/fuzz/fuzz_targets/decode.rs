//! Decoding arbitrary bytes never panics, never allocates past the limits,
//! agrees with the scanner on where a value ends, and re-encodes to something
//! that decodes.
#![no_main]

use fibra_redis::proto::{decode, encode_value, Decoded, Limits, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_depth: 16,
        max_bulk_len: 1 << 16,
        max_aggregate_len: 1 << 12,
        max_line_len: 1 << 10,
        max_reply_len: 1 << 20,
    };
    let decoded = decode(data, &limits);
    let scanned = Scanner::new().scan(data, &limits);
    if let Ok(Decoded::Complete(v, n)) = decoded {
        assert!(n <= data.len());
        assert_eq!(scanned.ok().flatten(), Some(n));
        // Re-encoding what was decoded must decode again without panic.
        let mut again = Vec::new();
        encode_value(&v, &mut again);
        let _ = decode(&again, &Limits::default());
    }
});
