//! Property tests of the codec: a stream of server operations decodes to
//! the same operations however it is split into reads, and decoding
//! arbitrary bytes never panics.

use fibra_nats::proto::{decode, ServerOp};
use proptest::prelude::*;

const MAX: usize = 1 << 20;

#[derive(Debug, Clone)]
enum Op {
    Msg {
        subject: String,
        sid: u64,
        reply: Option<String>,
        headers: Option<Vec<(String, String)>>,
        payload: Vec<u8>,
    },
    Ping,
    Pong,
    Ok,
    Err(String),
    Info(String),
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.>*-]{1,12}"
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            token(),
            any::<u64>(),
            proptest::option::of(token()),
            proptest::option::of(proptest::collection::vec(
                ("[A-Za-z-]{1,8}", "[ -~]{0,10}"),
                0..3
            )),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(subject, sid, reply, headers, payload)| Op::Msg {
                subject,
                sid,
                reply,
                headers,
                payload
            }),
        Just(Op::Ping),
        Just(Op::Pong),
        Just(Op::Ok),
        "[a-zA-Z ]{0,20}".prop_map(Op::Err),
        "\\{\"[a-z]{1,5}\":[0-9]{1,4}\\}".prop_map(Op::Info),
    ]
}

fn encode(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::Msg {
            subject,
            sid,
            reply,
            headers,
            payload,
        } => {
            let reply = reply.as_ref().map(|r| format!("{r} ")).unwrap_or_default();
            match headers {
                None => {
                    out.extend_from_slice(
                        format!("MSG {subject} {sid} {reply}{}\r\n", payload.len()).as_bytes(),
                    );
                }
                Some(h) => {
                    let mut block = b"NATS/1.0\r\n".to_vec();
                    for (k, v) in h {
                        block.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                    }
                    block.extend_from_slice(b"\r\n");
                    out.extend_from_slice(
                        format!(
                            "HMSG {subject} {sid} {reply}{} {}\r\n",
                            block.len(),
                            block.len() + payload.len()
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&block);
                }
            }
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
        Op::Ping => out.extend_from_slice(b"PING\r\n"),
        Op::Pong => out.extend_from_slice(b"PONG\r\n"),
        Op::Ok => out.extend_from_slice(b"+OK\r\n"),
        Op::Err(e) => out.extend_from_slice(format!("-ERR '{e}'\r\n").as_bytes()),
        Op::Info(j) => out.extend_from_slice(format!("INFO {j}\r\n").as_bytes()),
    }
}

/// An owned copy of a decoded operation, to compare across buffers.
fn owned(op: &ServerOp<'_>) -> String {
    format!("{op:?}")
}

fn decode_all(buf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((op, n)) = decode(&buf[pos..], MAX).unwrap() {
        out.push(owned(&op));
        pos += n;
    }
    assert_eq!(pos, buf.len());
    out
}

proptest! {
    #[test]
    fn any_split_decodes_the_same(ops in proptest::collection::vec(op(), 1..20),
                                  cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10)) {
        let mut wire = Vec::new();
        for o in &ops {
            encode(o, &mut wire);
        }
        let whole = decode_all(&wire);
        prop_assert_eq!(whole.len(), ops.len());
        // Feed the bytes in pieces, decoding what is complete after each.
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut fed = 0;
        for p in points {
            buf.extend_from_slice(&wire[fed..p]);
            fed = p;
            while let Some((op, n)) = decode(&buf, MAX).unwrap() {
                got.push(owned(&op));
                buf.drain(..n);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(Some((_, n))) = decode(&data, 1 << 12) {
            prop_assert!(n <= data.len());
        }
    }

    #[test]
    fn mutated_streams_never_panic(ops in proptest::collection::vec(op(), 1..5), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut wire = Vec::new();
        for o in &ops {
            encode(o, &mut wire);
        }
        let i = flip.index(wire.len());
        wire[i] = byte;
        let mut pos = 0;
        while let Ok(Some((_, n))) = decode(&wire[pos..], MAX) {
            pos += n;
        }
        prop_assert!(pos <= wire.len());
    }
}
