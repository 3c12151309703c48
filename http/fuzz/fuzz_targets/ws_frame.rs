//! Fuzzes the WebSocket frame decoder and message reassembly: arbitrary
//! bytes, as a server and as a client, must decode or fail with a protocol
//! error, never panic; decoded frames re-encode to the same bytes.
#![no_main]

use fibra_http::ws::frame::{decode, decode_header, encode, Limits, Role, Status};
use fibra_http::ws::message::MessageDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for role in [Role::Server, Role::Client] {
        let limits = Limits {
            role,
            allow_rsv1: false,
            max_frame: 1 << 16,
        };
        let mut messages = MessageDecoder::plain(1 << 16);
        let mut at = 0;
        while at < data.len() {
            let Ok(Status::Complete(frame, used)) = decode(&data[at..], &limits) else {
                break;
            };
            let Ok(Status::Complete(header, _)) = decode_header(&data[at..], &limits) else {
                panic!("decode succeeded but decode_header did not");
            };
            let mut again = Vec::new();
            encode(
                frame.fin,
                frame.rsv1,
                frame.opcode,
                header.mask,
                &frame.payload,
                &mut again,
            );
            // Lengths may have been encoded non-minimally; compare only
            // when the sizes match.
            if again.len() == used {
                assert_eq!(again, &data[at..at + used]);
            }
            if messages.push(&header, &frame.payload).is_err() {
                break;
            }
            at += used;
        }
    }
});
