//! Property test: a stream of keep-alive responses (Content-Length and
//! chunked bodies, random headers) parses to the same heads and bodies
//! however it is split into reads, as a client sees it arrive.

use super::*;
use http::Method;

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
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Writes a random valid response to `out` and returns what it should parse to.
fn gen_response(rng: &mut Rng, out: &mut Vec<u8>) -> Vec<u8> {
    let body: Vec<u8> = (0..rng.below(400)).map(|_| rng.below(256) as u8).collect();
    let status = [200, 201, 404, 500][rng.below(4) as usize];
    out.extend_from_slice(format!("HTTP/1.1 {status} Whatever\r\n").as_bytes());
    for i in 0..rng.below(5) {
        out.extend_from_slice(format!("X-H{i}: v{}\r\n", rng.below(1000)).as_bytes());
    }
    if rng.below(2) == 0 {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body);
    } else {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut rest = &body[..];
        while !rest.is_empty() {
            let n = (rng.below(50) as usize + 1).min(rest.len());
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        out.extend_from_slice(b"0\r\n\r\n");
    }
    body
}

/// Parses every response in `stream`, handing the parser at most `step()`
/// new bytes at a time, as successive socket reads would.
fn parse_all(stream: &[u8], mut step: impl FnMut() -> usize) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut feed = |buf: &mut Vec<u8>| {
        let n = step().max(1).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        n
    };
    loop {
        let (head, used) = loop {
            match parse_response_head(&buf, 64 * 1024, 64).expect("valid head") {
                Some(parsed) => break parsed,
                None => {
                    if feed(&mut buf) == 0 {
                        assert!(buf.is_empty(), "stream ended inside a head");
                        return out;
                    }
                }
            }
        };
        buf.drain(..used);
        let framing = match response_body_framing(&Method::GET, &head).expect("framing") {
            ResponseBodyFraming::Framed(f) => f,
            ResponseBodyFraming::UntilClose => panic!("generated responses are framed"),
        };
        let mut decoder = BodyDecoder::new(framing);
        let mut body = Vec::new();
        while !decoder.is_done() {
            let (used, data) = decoder.decode(&buf, usize::MAX).expect("valid body");
            body.extend_from_slice(data);
            buf.drain(..used);
            if !decoder.is_done() && used == 0 && feed(&mut buf) == 0 {
                panic!("stream ended inside a body");
            }
        }
        let mut headers: Vec<(String, Vec<u8>)> = head
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        headers.sort();
        out.push(Parsed {
            status: head.status.as_u16(),
            headers,
            body,
        });
    }
}

#[test]
fn response_streams_parse_the_same_however_they_are_split() {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    for _ in 0..150 {
        let mut stream = Vec::new();
        let bodies: Vec<Vec<u8>> = (0..rng.below(4) + 1)
            .map(|_| gen_response(&mut rng, &mut stream))
            .collect();
        let whole = parse_all(&stream, || usize::MAX);
        assert_eq!(whole.len(), bodies.len());
        for (p, b) in whole.iter().zip(&bodies) {
            assert_eq!(&p.body, b);
        }
        let byte_by_byte = parse_all(&stream, || 1);
        assert_eq!(byte_by_byte, whole);
        for _ in 0..4 {
            let mut split = Rng(rng.next() | 1);
            let random = parse_all(&stream, || split.below(64) as usize + 1);
            assert_eq!(random, whole);
        }
    }
}
