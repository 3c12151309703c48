//! Decoding arbitrary bytes never panics, consumes no more than it was
//! given, and header blocks of decoded messages parse or fail cleanly.
#![no_main]

use fibra_nats::proto::{decode, ServerOp};
use fibra_nats::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while let Ok(Some((op, n))) = decode(&data[pos..], 1 << 16) {
        assert!(n > 0 && pos + n <= data.len());
        if let ServerOp::Msg { headers: Some(h), .. } = op {
            let _ = HeaderMap::decode(h);
        }
        pos += n;
    }
});
