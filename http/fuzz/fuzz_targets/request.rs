//! Feeds arbitrary bytes to the request head parser and body decoder: they
//! must never panic, never consume more than they were given, and decode
//! the same body whether fed whole or in small pieces.
//!
//! Run with `cargo fuzz run request` from `http/`.

#![no_main]

use fibra_http::proto::{parse_request_head, BodyDecoder, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(Some((head, n))) = parse_request_head(data, &limits) else {
        return;
    };
    assert!(n <= data.len());
    let rest = &data[n..];
    let whole = decode(head.framing, rest, usize::MAX);
    let pieces = decode(head.framing, rest, 3);
    assert_eq!(whole, pieces);
});

/// Decodes a body from `input` fed `step` bytes at a time.
fn decode(
    framing: fibra_http::proto::Framing,
    input: &[u8],
    step: usize,
) -> Result<Vec<u8>, fibra_http::proto::BodyError> {
    let mut d = BodyDecoder::new(framing);
    let mut body = Vec::new();
    let (mut pos, mut end) = (0, 0);
    while !d.is_done() {
        if pos == end {
            if end == input.len() {
                break;
            }
            end = input.len().min(end.saturating_add(step));
        }
        let (used, data) = d.decode(&input[pos..end], 7)?;
        assert!(used <= end - pos);
        body.extend_from_slice(data);
        pos += used;
    }
    Ok(body)
}
