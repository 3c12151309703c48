//! Feeds arbitrary bytes to the client's response head parser and body
//! framing: they must never panic, never consume more than they were given,
//! and give the same answer for a head whether it arrives whole or is cut
//! short (a cut head is `Ok(None)`, never a different verdict).
//!
//! Run with `cargo fuzz run response` from `http/`.

#![no_main]

use fibra_http::proto::{parse_response_head, response_body_framing};
use fibra_http::Method;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_response_head(data, 64 * 1024, 100);
    if let Ok(Some((head, n))) = &whole {
        assert!(*n <= data.len());
        // Every prefix shorter than the head is incomplete, not an error.
        for cut in [0, n / 2, n.saturating_sub(1)] {
            if cut < *n {
                assert!(matches!(parse_response_head(&data[..cut], 64 * 1024, 100), Ok(None)));
            }
        }
        for method in [Method::GET, Method::HEAD, Method::POST] {
            let _ = response_body_framing(&method, head);
        }
    }
});
