//! Property tests of the codec: any stream of replies, cut anywhere, decodes
//! to the same replies; the decoder never panics on arbitrary bytes.

use fibra_memcache::proto::{self, Reply, Status};
use proptest::prelude::*;

/// Owned form of a reply, to compare across buffers.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Value(Vec<u8>, u32, Option<u64>, Vec<u8>),
    Line(String),
    Number(u64),
}

fn owned(r: &Reply<'_>) -> Owned {
    match r {
        Reply::Value(v) => Owned::Value(v.key.to_vec(), v.flags, v.cas, v.data.to_vec()),
        Reply::Number(n) => Owned::Number(*n),
        other => Owned::Line(format!("{other:?}")),
    }
}

fn wire(r: &Owned) -> Vec<u8> {
    match r {
        Owned::Value(k, f, cas, d) => {
            let mut w =
                format!("VALUE {} {f} {}", String::from_utf8_lossy(k), d.len()).into_bytes();
            if let Some(c) = cas {
                w.extend_from_slice(format!(" {c}").as_bytes());
            }
            w.extend_from_slice(b"\r\n");
            w.extend_from_slice(d);
            w.extend_from_slice(b"\r\n");
            w
        }
        Owned::Line(l) => format!("{l}\r\n").into_bytes(),
        Owned::Number(n) => format!("{n}\r\n").into_bytes(),
    }
}

fn reply() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (
            proptest::collection::vec(0x21u8..0x7f, 1..40),
            any::<u32>(),
            proptest::option::of(any::<u64>()),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(k, f, c, d)| Owned::Value(k, f, c, d)),
        prop_oneof![
            Just("END"),
            Just("STORED"),
            Just("NOT_STORED"),
            Just("EXISTS"),
            Just("NOT_FOUND"),
            Just("DELETED"),
            Just("TOUCHED"),
            Just("OK"),
            Just("VERSION 1.6.18"),
            Just("STAT pid 42"),
            Just("SERVER_ERROR out of memory"),
        ]
        .prop_map(|s| Owned::Line(s.to_string())),
        any::<u64>().prop_map(Owned::Number),
    ]
}

/// Decodes everything in `buf`, feeding it in the pieces given by `cuts`.
fn decode_in_pieces(buf: &[u8], cuts: &[usize]) -> Vec<Owned> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut avail = 0;
    let mut cuts = cuts.iter().copied().chain(std::iter::once(buf.len()));
    loop {
        match proto::decode(&buf[start..avail]).unwrap() {
            Status::Complete(r, n) => {
                out.push(owned(&r));
                start += n;
            }
            Status::Partial => match cuts.next() {
                Some(c) => avail = avail.max(c.min(buf.len())),
                None => {
                    assert_eq!(start, buf.len(), "leftover bytes");
                    return out;
                }
            },
        }
    }
}

proptest! {
    #[test]
    fn random_splits_decode_the_same(
        replies in proptest::collection::vec(reply(), 1..20),
        mut cuts in proptest::collection::vec(0usize..4000, 0..30),
    ) {
        let buf: Vec<u8> = replies.iter().flat_map(wire).collect();
        cuts.sort_unstable();
        let whole = decode_in_pieces(&buf, &[]);
        // Lines re-render through Debug, so compare the stream with itself
        // decoded whole, and values/numbers with what was encoded.
        prop_assert_eq!(whole.len(), replies.len());
        for (got, want) in whole.iter().zip(&replies) {
            if !matches!(want, Owned::Line(_)) {
                prop_assert_eq!(got, want);
            }
        }
        prop_assert_eq!(decode_in_pieces(&buf, &cuts), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut rest = &bytes[..];
        while let Ok(Status::Complete(_, n)) = proto::decode(rest) {
            prop_assert!(n > 0 && n <= rest.len());
            rest = &rest[n..];
        }
    }

    #[test]
    fn encoded_store_parses_back(
        key in proptest::collection::vec(0x21u8..0x7f, 1..250),
        flags in any::<u32>(),
        exptime in any::<u32>(),
        data in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        prop_assert!(proto::validate_key(&key).is_ok());
        let mut buf = Vec::new();
        proto::encode_store(&mut buf, proto::StoreCommand::Set, &key, flags, exptime, &data);
        let head = format!("set {} {flags} {exptime} {}\r\n", String::from_utf8_lossy(&key), data.len());
        prop_assert_eq!(&buf[..head.len()], head.as_bytes());
        prop_assert_eq!(&buf[head.len()..buf.len() - 2], &data[..]);
        prop_assert_eq!(&buf[buf.len() - 2..], b"\r\n");
    }
}
