//! Feeds arbitrary bytes to the reply decoder, whole and in two pieces:
//! it must never panic, and a split must not change what decodes.
#![no_main]

use fibra_memcache::proto::{decode, Status};
use libfuzzer_sys::fuzz_target;

fn all(buf: &[u8]) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Ok(Status::Complete(r, n)) = decode(&buf[at..]) {
        assert!(n > 0 && at + n <= buf.len());
        out.push(format!("{r:?}"));
        at += n;
    }
    (out, at)
}

fuzz_target!(|data: &[u8]| {
    let (whole, used) = all(data);
    // Any prefix that ends after a complete reply decodes it identically.
    let (prefix, _) = all(&data[..used]);
    assert_eq!(prefix, whole);
    let _ = fibra_memcache::proto::validate_key(data);
});
