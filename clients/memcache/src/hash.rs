//! Rendezvous (highest random weight) hashing that picks the same node as
//! pymemcache's `HashClient` with its default `RendezvousHash`.
//!
//! The facts this mirrors, from pymemcache's `client/rendezvous.py`,
//! `client/murmur3.py` and `client/hash.py`:
//! - a node is named `"host:port"` (`"%s:%s" % (host, port)`, the host
//!   without IPv6 brackets; a spec without a port gets 11211);
//! - each node scores `murmur3_32("<node>-<key>", seed 0)`, where `key` is
//!   the Python `str` the caller passed (so a Rust key must be the same
//!   text) and the key prefix is not part of it. A key given to pymemcache
//!   as `bytes` is formatted as its repr (`"node-b'key'"`), so services
//!   that share a cluster should pass `str` keys on the Python side;
//! - the highest score wins; a tie goes to the node whose name is the
//!   greater string;
//! - murmur3 runs over the string's characters, each taken as its code
//!   point's low byte. For ASCII that is the bytes; for other text it is
//!   not UTF-8, and [`score`] does the same for a key that is valid UTF-8.

/// MurmurHash3 x86_32 of `data` (bytes) with `seed`.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    let mut m = Murmur::new(seed);
    data.iter().for_each(|&b| m.push(b));
    m.finish()
}

/// Incremental MurmurHash3 x86_32 over a stream of bytes.
struct Murmur {
    h1: u32,
    block: u32,
    fill: u32,
    len: u32,
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

fn mix_k1(k1: u32) -> u32 {
    k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

impl Murmur {
    fn new(seed: u32) -> Murmur {
        Murmur {
            h1: seed,
            block: 0,
            fill: 0,
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.block |= u32::from(b) << (8 * self.fill);
        self.fill += 1;
        self.len = self.len.wrapping_add(1);
        if self.fill == 4 {
            self.h1 ^= mix_k1(self.block);
            self.h1 = self
                .h1
                .rotate_left(13)
                .wrapping_mul(5)
                .wrapping_add(0xe654_6b64);
            self.block = 0;
            self.fill = 0;
        }
    }

    fn finish(mut self) -> u32 {
        if self.fill > 0 {
            self.h1 ^= mix_k1(self.block);
        }
        let mut h = self.h1 ^ self.len;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^= h >> 16;
        h
    }

    /// Feeds text as pymemcache does: one byte per character, the low byte
    /// of its code point.
    fn push_text(&mut self, s: &str) {
        if s.is_ascii() {
            s.bytes().for_each(|b| self.push(b));
        } else {
            s.chars().for_each(|c| self.push(c as u32 as u8));
        }
    }
}

/// The score of `node` for `key`: `murmur3_32("<node>-<key>", 0)`, with a
/// key that is valid UTF-8 hashed as pymemcache hashes the same `str`
/// (other bytes are hashed as they are).
pub fn score(node: &str, key: &[u8]) -> u32 {
    let mut m = Murmur::new(0);
    m.push_text(node);
    m.push(b'-');
    match std::str::from_utf8(key) {
        Ok(s) => m.push_text(s),
        Err(_) => key.iter().for_each(|&b| m.push(b)),
    }
    m.finish()
}

/// The index of the node `key` goes to among `nodes` (names as
/// [`node_name`] makes them), skipping those for which `skip` says so;
/// `None` when every node is skipped.
pub fn pick<S: AsRef<str>>(nodes: &[S], key: &[u8], skip: impl Fn(usize) -> bool) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    for (i, node) in nodes.iter().enumerate() {
        if skip(i) {
            continue;
        }
        let s = score(node.as_ref(), key);
        best = match best {
            None => Some((s, i)),
            Some((bs, _)) if s > bs => Some((s, i)),
            Some((bs, bi)) if s == bs && node.as_ref() > nodes[bi].as_ref() => Some((s, i)),
            keep => keep,
        };
    }
    best.map(|(_, i)| i)
}

/// Splits a server spec as pymemcache's `normalize_server_spec` does:
/// `"host:port"`, `"[v6]:port"`, or a bare host (port 11211), each
/// optionally written as a URL, `"memcache://host:port"` (the node's name
/// stays `"host:port"`).
///
/// # Errors
/// A message when the port is not a number in range.
pub fn split_spec(spec: &str) -> Result<(String, u16), String> {
    let spec = spec
        .strip_prefix("memcache://")
        .or_else(|| spec.strip_prefix("memcached://"))
        .map_or(spec, |rest| rest.trim_end_matches('/'));
    let (host, port) = if !spec.contains(':') || spec.ends_with(']') {
        (spec, 11211)
    } else {
        let (h, p) = spec.rsplit_once(':').unwrap_or((spec, ""));
        let port = p
            .parse::<u16>()
            .map_err(|_| format!("bad port in memcached server address {spec:?}"))?;
        (h, port)
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("no host in memcached server address {spec:?}"));
    }
    Ok((host.to_string(), port))
}

/// The node name pymemcache gives `(host, port)`: `"host:port"`.
pub fn node_name(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_may_be_urls() {
        assert_eq!(
            split_spec("memcache://10.0.0.1:21211").unwrap(),
            ("10.0.0.1".to_owned(), 21211)
        );
        assert_eq!(
            split_spec("memcached://[::1]:7/").unwrap(),
            ("::1".to_owned(), 7)
        );
        assert_eq!(split_spec("cache").unwrap(), ("cache".to_owned(), 11211));
    }

    #[test]
    fn murmur3_reference_vectors() {
        // Published MurmurHash3_x86_32 test vectors.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(b"\0\0\0\0", 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }

    #[test]
    fn text_hashes_low_bytes_of_code_points() {
        // "é" is U+00E9: one unit 0xe9, not the two UTF-8 bytes.
        assert_eq!(score("n", "é".as_bytes()), murmur3_32(b"n-\xe9", 0));
        assert_eq!(score("n", b"\xff\xfe"), murmur3_32(b"n-\xff\xfe", 0));
    }

    #[test]
    fn ties_go_to_the_greater_name() {
        let nodes = ["a", "b"];
        let key = b"k";
        let scores: Vec<u32> = nodes.iter().map(|n| score(n, key)).collect();
        let want = if scores[0] > scores[1] { 0 } else { 1 };
        assert_eq!(pick(&nodes, key, |_| false), Some(want));
        assert_eq!(pick(&nodes, key, |i| i == want), Some(1 - want));
        assert_eq!(pick(&nodes, key, |_| true), None);
        let same = ["x", "x"];
        assert_eq!(pick(&same, key, |_| false), Some(0));
    }

    #[test]
    fn splits_specs_like_pymemcache() {
        assert_eq!(
            split_spec("127.0.0.1:21211"),
            Ok(("127.0.0.1".into(), 21211))
        );
        assert_eq!(split_spec("cache"), Ok(("cache".into(), 11211)));
        assert_eq!(split_spec("[::1]:11212"), Ok(("::1".into(), 11212)));
        assert_eq!(split_spec("[::1]"), Ok(("::1".into(), 11211)));
        assert!(split_spec("h:x").is_err());
        assert_eq!(node_name("::1", 5), "::1:5");
    }
}
