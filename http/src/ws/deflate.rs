//! permessage-deflate (RFC 7692): negotiation of its parameters and the
//! per-direction compressor and decompressor (raw DEFLATE, sync flush, the
//! trailing `00 00 ff ff` removed on the wire).
//!
//! flate2's default backend (miniz_oxide) always uses a 32 KiB window. That
//! is enough to inflate anything a peer sends (any `*_max_window_bits`), but
//! it cannot honour a request to compress with a smaller window: when the
//! peer asks for one, this end accepts the extension and sends its messages
//! as stored (level 0) DEFLATE blocks, which hold no back-references and so
//! fit any window.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use super::frame::ProtocolError;

/// The negotiated parameters, as seen from one end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, in bits (8–15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window, in bits (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// An extension's parameters: `name[=value]`, names lowercased.
type Params = Vec<(String, Option<String>)>;

/// Splits a `Sec-WebSocket-Extensions` value into extensions (lowercased
/// names) and their parameters.
pub(crate) fn parse_extensions(header: &str) -> Vec<(String, Params)> {
    let mut out = Vec::new();
    for ext in header.split(',') {
        let mut parts = ext.split(';').map(str::trim);
        let Some(name) = parts.next().filter(|n| !n.is_empty()) else {
            continue;
        };
        let params = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (
                    k.trim().to_ascii_lowercase(),
                    Some(v.trim().trim_matches('"').to_string()),
                ),
                None => (p.to_ascii_lowercase(), None),
            })
            .collect();
        out.push((name.to_ascii_lowercase(), params));
    }
    out
}

fn window_bits(v: Option<&str>) -> Option<u8> {
    let v = v?;
    if v.is_empty() || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

/// Server side: picks the first acceptable `permessage-deflate` offer from
/// the client's `Sec-WebSocket-Extensions` values. Returns the parameters and
/// the answer header value.
pub(crate) fn accept_offer<'a>(
    headers: impl Iterator<Item = &'a str>,
) -> Option<(DeflateParams, String)> {
    'offers: for (name, params) in headers.flat_map(parse_extensions) {
        if name != "permessage-deflate" {
            continue;
        }
        let mut p = DeflateParams::default();
        let mut seen = Vec::new();
        let mut answer = String::from("permessage-deflate");
        for (k, v) in &params {
            if seen.contains(k) {
                continue 'offers;
            }
            seen.push(k.clone());
            match k.as_str() {
                "server_no_context_takeover" if v.is_none() => {
                    p.server_no_context_takeover = true;
                    answer.push_str("; server_no_context_takeover");
                }
                "client_no_context_takeover" if v.is_none() => {
                    p.client_no_context_takeover = true;
                    answer.push_str("; client_no_context_takeover");
                }
                "server_max_window_bits" => {
                    let Some(bits) = window_bits(v.as_deref()) else {
                        continue 'offers;
                    };
                    p.server_max_window_bits = bits;
                    answer.push_str(&format!("; server_max_window_bits={bits}"));
                }
                "client_max_window_bits" => {
                    // The client supports the parameter; without a value it
                    // only says so. We let it use its full window.
                    if v.is_some() && window_bits(v.as_deref()).is_none() {
                        continue 'offers;
                    }
                }
                _ => continue 'offers,
            }
        }
        return Some((p, answer));
    }
    None
}

/// The client's offers: compression with context takeover first; the
/// second lets a server that wants the client to reset its context after
/// each message say so (this end then does).
pub(crate) const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits, \
     permessage-deflate; client_no_context_takeover; client_max_window_bits";

/// Client side: checks the server's answer to [`CLIENT_OFFER`].
///
/// # Errors
/// A message when the answer is not one the offer allows.
pub(crate) fn check_answer(header: &str) -> Result<DeflateParams, &'static str> {
    let exts = parse_extensions(header);
    if exts.len() != 1 || exts[0].0 != "permessage-deflate" {
        return Err("server answered with an extension that was not offered");
    }
    let mut p = DeflateParams::default();
    let mut seen = Vec::new();
    for (k, v) in &exts[0].1 {
        if seen.contains(k) {
            return Err("duplicate permessage-deflate parameter");
        }
        seen.push(k.clone());
        match k.as_str() {
            "server_no_context_takeover" if v.is_none() => p.server_no_context_takeover = true,
            "client_no_context_takeover" if v.is_none() => p.client_no_context_takeover = true,
            "server_max_window_bits" => {
                p.server_max_window_bits =
                    window_bits(v.as_deref()).ok_or("bad server_max_window_bits")?;
            }
            "client_max_window_bits" => {
                p.client_max_window_bits =
                    window_bits(v.as_deref()).ok_or("bad client_max_window_bits")?;
            }
            _ => return Err("unknown permessage-deflate parameter"),
        }
    }
    Ok(p)
}

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    c: Compress,
    /// Reset the context after each message.
    no_context_takeover: bool,
}

impl Deflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Deflater {
        // Level 0 emits stored blocks only: valid for any window size.
        let level = if window_bits == 15 {
            Compression::fast()
        } else {
            Compression::none()
        };
        Deflater {
            c: Compress::new(level, false),
            no_context_takeover,
        }
    }

    /// Compresses one message into `out`; `false` when it should go
    /// uncompressed instead.
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        out.reserve(data.len() / 2 + 64);
        let start = self.c.total_in();
        loop {
            let used = (self.c.total_in() - start) as usize;
            if self
                .c
                .compress_vec(&data[used..], out, FlushCompress::Sync)
                .is_err()
            {
                self.c.reset();
                return false;
            }
            let used = (self.c.total_in() - start) as usize;
            if used == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - 4);
        }
        if self.no_context_takeover {
            self.c.reset();
        }
        true
    }
}

/// Inflates incoming compressed messages.
pub(crate) struct Inflater {
    d: Decompress,
    no_context_takeover: bool,
}

impl Inflater {
    pub(crate) fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            d: Decompress::new(false),
            no_context_takeover,
        }
    }

    /// Inflates one frame's payload onto `out`; `last` adds the sync tail.
    ///
    /// # Errors
    /// 1007 for invalid DEFLATE data, 1009 when `out` would pass `max`.
    pub(crate) fn inflate(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), ProtocolError> {
        self.feed(data, out, max)?;
        if last {
            self.feed(&TAIL, out, max)?;
            if self.no_context_takeover {
                self.d.reset(false);
            }
        }
        Ok(())
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), ProtocolError> {
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve((out.len() / 2).clamp(16 * 1024, 1 << 20));
            }
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let st = self
                .d
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| ProtocolError::new(1007, "invalid deflate data"))?;
            let used = (self.d.total_in() - in0) as usize;
            let produced = self.d.total_out() - out0;
            input = &input[used..];
            if out.len() > max {
                return Err(ProtocolError::new(1009, "message too large"));
            }
            if st == flate2::Status::StreamEnd {
                // A final block ends this DEFLATE stream; a new one follows.
                self.d.reset(false);
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if used == 0 && produced == 0 && out.len() < out.capacity() {
                return Err(ProtocolError::new(1007, "invalid deflate data"));
            }
        }
    }
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_and_without_context() {
        for nct in [false, true] {
            let mut d = Deflater::new(15, nct);
            let mut i = Inflater::new(nct);
            let mut wire = Vec::new();
            for msg in ["Hello", "Hello", "", "Hello, Hello, Hello, Hello"] {
                assert!(d.compress(msg.as_bytes(), &mut wire));
                let mut out = Vec::new();
                // Split the payload into two frames.
                let cut = wire.len() / 2;
                i.inflate(&wire[..cut], false, &mut out, 1 << 20).unwrap();
                i.inflate(&wire[cut..], true, &mut out, 1 << 20).unwrap();
                assert_eq!(out, msg.as_bytes());
            }
        }
    }

    #[test]
    fn small_window_uses_stored_blocks() {
        let mut d = Deflater::new(9, false);
        let mut wire = Vec::new();
        let msg = "abcabcabcabc".repeat(100);
        assert!(d.compress(msg.as_bytes(), &mut wire));
        assert!(wire.len() > msg.len());
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        i.inflate(&wire, true, &mut out, 1 << 20).unwrap();
        assert_eq!(out, msg.as_bytes());
    }

    #[test]
    fn rfc7692_example() {
        // §7.2.3.1: "Hello" compressed.
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        i.inflate(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn bomb_is_refused() {
        let mut d = Deflater::new(15, false);
        let mut wire = Vec::new();
        assert!(d.compress(&vec![0u8; 1 << 20], &mut wire));
        let mut i = Inflater::new(false);
        let err = i.inflate(&wire, true, &mut Vec::new(), 1000).unwrap_err();
        assert_eq!(err.code.0, 1009);
    }

    #[test]
    fn negotiation() {
        let (p, a) = accept_offer(
            ["x-foo, permessage-deflate; client_max_window_bits; server_no_context_takeover"]
                .into_iter(),
        )
        .unwrap();
        assert!(p.server_no_context_takeover);
        assert_eq!(a, "permessage-deflate; server_no_context_takeover");
        assert!(accept_offer(["permessage-deflate; bogus"].into_iter()).is_none());
        assert!(
            accept_offer(["permessage-deflate; server_max_window_bits=7"].into_iter()).is_none()
        );
        let (p, _) = accept_offer(
            ["permessage-deflate; server_max_window_bits=20, permessage-deflate; server_max_window_bits=10"]
                .into_iter(),
        )
        .unwrap();
        assert_eq!(p.server_max_window_bits, 10);
        assert!(check_answer("permessage-deflate; client_max_window_bits=9").is_ok());
        assert!(check_answer("permessage-deflate; foo").is_err());
        assert!(check_answer("x-other").is_err());
    }
}
