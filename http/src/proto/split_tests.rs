//! Property test: a stream of pipelined requests parses the same however it
//! is split into reads.

use super::*;

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, PartialEq)]
struct Parsed {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Writes a random valid request to `out`.
fn gen_request(rng: &mut Rng, out: &mut Vec<u8>) {
    let body: Vec<u8> = (0..rng.below(300)).map(|_| rng.below(256) as u8).collect();
    let path = format!("/p{}?q={}", rng.below(1000), rng.below(1000));
    match rng.below(3) {
        0 => out.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: h\r\n").as_bytes()),
        1 => {
            out.extend_from_slice(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nX-Extra: {}\r\n\r\n",
                    body.len(),
                    rng.below(99)
                )
                .as_bytes(),
            );
            out.extend_from_slice(&body);
            return;
        }
        _ => {
            out.extend_from_slice(
                format!("PUT {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .as_bytes(),
            );
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (rng.below(40) as usize + 1).min(rest.len());
                let ext = if rng.below(4) == 0 { ";a=b" } else { "" };
                out.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            out.extend_from_slice(b"0\r\n");
            if rng.below(3) == 0 {
                out.extend_from_slice(b"X-Trailer: t\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses `stream` delivered in pieces whose lengths come from `split`.
fn parse_stream(stream: &[u8], mut split: impl FnMut() -> usize) -> Vec<Parsed> {
    let limits = Limits::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut feed = |buf: &mut Vec<u8>| -> bool {
        if fed == stream.len() {
            return false;
        }
        let n = split().clamp(1, stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        true
    };
    let mut out = Vec::new();
    loop {
        let (head, n) = loop {
            match parse_request_head(&buf, &limits).expect("valid head") {
                Some(done) => break done,
                None => {
                    if !feed(&mut buf) {
                        assert!(buf.is_empty(), "trailing garbage");
                        return out;
                    }
                }
            }
        };
        buf.drain(..n);
        let mut decoder = BodyDecoder::new(head.framing);
        let mut body = Vec::new();
        while !decoder.is_done() {
            let (used, data) = decoder.decode(&buf, 17).expect("valid body");
            body.extend_from_slice(data);
            buf.drain(..used);
            if used == 0 || (buf.is_empty() && !decoder.is_done()) {
                assert!(feed(&mut buf), "stream ended inside a body");
            }
        }
        out.push(Parsed {
            method: head.method.to_string(),
            uri: head.uri.to_string(),
            headers: head
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body,
        });
    }
}

#[test]
fn random_splits_parse_identically() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..200 {
        let mut stream = Vec::new();
        let count = rng.below(6) + 1;
        for _ in 0..count {
            gen_request(&mut rng, &mut stream);
        }
        let whole = parse_stream(&stream, || usize::MAX);
        assert_eq!(whole.len() as u64, count, "case {case}");
        for _ in 0..5 {
            let max = rng.below(64) + 1;
            let mut split_rng = Rng(rng.next() | 1);
            let pieces = parse_stream(&stream, || (split_rng.below(max) + 1) as usize);
            assert_eq!(pieces, whole, "case {case}, max piece {max}");
        }
        let bytewise = parse_stream(&stream, || 1);
        assert_eq!(bytewise, whole, "case {case}, byte by byte");
    }
}
