//! The RFC 6455 frame codec, sans I/O: [`decode`] a frame from a byte slice
//! (`Partial` until the whole frame is there), [`encode`] one into a
//! `Vec<u8>`. Frame-level rules are checked here (masking by role, reserved
//! bits, opcodes, control frame size and fragmentation, size limits);
//! message-level rules (fragment order, UTF-8, close payloads) live in
//! [`super::message`].

use super::CloseCode;

/// A frame's opcode (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: continues a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, `None` for the reserved ones.
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Which end of the connection decodes: servers require masked frames,
/// clients refuse them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The accepting end.
    Server,
    /// The connecting end.
    Client,
}

/// What the decoder allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The decoding end.
    pub role: Role,
    /// Whether RSV1 may be set (permessage-deflate was negotiated).
    pub allow_rsv1: bool,
    /// The largest payload accepted in one frame; larger frames fail with
    /// close code 1009.
    pub max_frame: u64,
}

/// A violation of the protocol, with the close code to send for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError {
    /// The close code (1002, 1007 or 1009).
    pub code: CloseCode,
    /// What was wrong.
    pub reason: &'static str,
}

impl ProtocolError {
    pub(crate) const fn new(code: u16, reason: &'static str) -> ProtocolError {
        ProtocolError {
            code: CloseCode(code),
            reason,
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "websocket protocol error ({}): {}",
            self.code.0, self.reason
        )
    }
}

impl std::error::Error for ProtocolError {}

/// A decoded frame head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1 (per-message compressed, with permessage-deflate).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

/// A whole frame with its payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1 (per-message compressed).
    pub rsv1: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The unmasked payload.
    pub payload: Vec<u8>,
}

/// The outcome of a decode: a complete item and the bytes it used, or the
/// need for more input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// Decoded `T` from the first `usize` bytes.
    Complete(T, usize),
    /// The input ends before the item does.
    Partial,
}

/// Decodes a frame head from the start of `buf`, checking the frame-level
/// rules. `Complete(header, head_len)`: the payload follows at `head_len`.
///
/// # Errors
/// A [`ProtocolError`] for a frame that breaks RFC 6455 or `limits`.
pub fn decode_header(buf: &[u8], limits: &Limits) -> Result<Status<FrameHeader>, ProtocolError> {
    if buf.len() < 2 {
        return Ok(Status::Partial);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if b0 & 0x30 != 0 {
        return Err(ProtocolError::new(1002, "reserved bits RSV2/RSV3 set"));
    }
    let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(ProtocolError::new(1002, "reserved opcode"))?;
    if rsv1 && (!limits.allow_rsv1 || opcode.is_control() || opcode == OpCode::Continuation) {
        return Err(ProtocolError::new(1002, "reserved bit RSV1 set"));
    }
    let masked = b1 & 0x80 != 0;
    match (limits.role, masked) {
        (Role::Server, false) => return Err(ProtocolError::new(1002, "client frame not masked")),
        (Role::Client, true) => return Err(ProtocolError::new(1002, "server frame masked")),
        _ => {}
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(Status::Partial);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(Status::Partial);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(b);
            if len >> 63 != 0 {
                return Err(ProtocolError::new(
                    1002,
                    "payload length has its top bit set",
                ));
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::new(1002, "fragmented control frame"));
        }
        if len > 125 {
            return Err(ProtocolError::new(
                1002,
                "control frame longer than 125 bytes",
            ));
        }
    }
    if len > limits.max_frame {
        return Err(ProtocolError::new(1009, "frame too large"));
    }
    let mask = if masked {
        if buf.len() < at + 4 {
            return Ok(Status::Partial);
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    Ok(Status::Complete(
        FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            len,
        },
        at,
    ))
}

/// Decodes one whole frame from the start of `buf`, unmasking its payload.
///
/// # Errors
/// As [`decode_header`].
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Status<Frame>, ProtocolError> {
    let (h, at) = match decode_header(buf, limits)? {
        Status::Complete(h, at) => (h, at),
        Status::Partial => return Ok(Status::Partial),
    };
    // `len <= max_frame`, and a complete frame is in memory, so this fits.
    let len = usize::try_from(h.len).map_err(|_| ProtocolError::new(1009, "frame too large"))?;
    if buf.len() - at < len {
        return Ok(Status::Partial);
    }
    let mut payload = buf[at..at + len].to_vec();
    if let Some(m) = h.mask {
        apply_mask(&mut payload, m, 0);
    }
    Ok(Status::Complete(
        Frame {
            fin: h.fin,
            rsv1: h.rsv1,
            opcode: h.opcode,
            payload,
        },
        at + len,
    ))
}

/// XORs `data` with `mask`, `offset` bytes into the payload.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut m = mask;
    m.rotate_left(offset % 4);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

/// Appends a frame to `out`: the head, then `payload`, masked with `mask`
/// when given (clients must mask, servers must not).
pub fn encode(
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.as_u8();
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    out.reserve(payload.len() + 14);
    out.push(b0);
    let len = payload.len();
    if len < 126 {
        out.push(mbit | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(mbit | 126);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(mbit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            let start = out.len();
            out.extend_from_slice(payload);
            apply_mask(&mut out[start..], m, 0);
        }
        None => out.extend_from_slice(payload),
    }
}

/// Whether a close code may be sent on the wire (RFC 6455 §7.4, with the
/// IANA registry's 1012–1014): 1000–1003, 1007–1014 and 3000–4999.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// xorshift64*, enough randomness for property tests.
#[cfg(test)]
pub(crate) struct Rng(u64);

#[cfg(test)]
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
pub(crate) fn tests_rng(seed: u64) -> Rng {
    Rng(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: Limits = Limits {
        role: Role::Server,
        allow_rsv1: false,
        max_frame: 1 << 20,
    };
    const CLIENT: Limits = Limits {
        role: Role::Client,
        allow_rsv1: false,
        max_frame: 1 << 20,
    };

    use super::Rng;

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: unmasked "Hello" from a server, masked from a client.
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let Status::Complete(f, n) = decode(&unmasked, &CLIENT).unwrap() else {
            panic!("partial")
        };
        assert_eq!(
            (f.opcode, f.fin, &f.payload[..], n),
            (OpCode::Text, true, &b"Hello"[..], 7)
        );
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let Status::Complete(f, _) = decode(&masked, &SERVER).unwrap() else {
            panic!("partial")
        };
        assert_eq!(f.payload, b"Hello");
        let mut out = Vec::new();
        encode(
            true,
            false,
            OpCode::Text,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
            &mut out,
        );
        assert_eq!(out, masked);
    }

    #[test]
    fn masking_rules_by_role() {
        let unmasked = [0x81, 0x00];
        assert_eq!(
            decode(&unmasked, &SERVER).unwrap_err().code,
            CloseCode(1002)
        );
        let masked = [0x81, 0x80, 1, 2, 3, 4];
        assert_eq!(decode(&masked, &CLIENT).unwrap_err().code, CloseCode(1002));
    }

    #[test]
    fn frame_level_violations() {
        let bad: &[&[u8]] = &[
            &[0xc1, 0x00],                            // RSV1 without an extension
            &[0xa1, 0x00],                            // RSV2
            &[0x91, 0x00],                            // RSV3
            &[0x83, 0x00],                            // reserved data opcode
            &[0x8b, 0x00],                            // reserved control opcode
            &[0x09, 0x00],                            // fragmented ping
            &[0x89, 0x7e, 0, 126],                    // ping with 126 bytes
            &[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], // 64-bit length top bit
        ];
        for b in bad {
            assert!(decode(b, &CLIENT).is_err(), "{b:x?} accepted");
        }
        let big = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x20, 0, 0];
        assert_eq!(decode(&big, &CLIENT).unwrap_err().code, CloseCode(1009));
        // RSV1 with permessage-deflate: fine on a data frame, not on control
        // or continuation frames.
        let pmd = Limits {
            allow_rsv1: true,
            ..CLIENT
        };
        assert!(decode(&[0xc1, 0x00], &pmd).is_ok());
        assert!(decode(&[0xc9, 0x00], &pmd).is_err());
        assert!(decode(&[0x40, 0x00], &pmd).is_err());
    }

    #[test]
    fn close_codes() {
        for c in [1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999] {
            assert!(is_valid_close_code(c), "{c}");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!is_valid_close_code(c), "{c}");
        }
    }

    #[test]
    fn random_frames_random_splits_roundtrip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let opcode = [
                OpCode::Continuation,
                OpCode::Text,
                OpCode::Binary,
                OpCode::Close,
                OpCode::Ping,
                OpCode::Pong,
            ][rng.below(6) as usize];
            let len = match rng.below(4) {
                0 => rng.below(126),
                1 => 126 + rng.below(200),
                2 => rng.below(70_000),
                _ => rng.below(8),
            } as usize;
            let len = if opcode.is_control() { len % 126 } else { len };
            let fin = opcode.is_control() || rng.below(2) == 0;
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let client = rng.below(2) == 0;
            let mask = client.then(|| (rng.next() as u32).to_be_bytes());
            let mut wire = Vec::new();
            encode(fin, false, opcode, mask, &payload, &mut wire);
            let limits = if client { SERVER } else { CLIENT };
            let expect = Frame {
                fin,
                rsv1: false,
                opcode,
                payload,
            };
            // Every strict prefix is partial; the whole is complete.
            let cut = rng.below(wire.len() as u64) as usize;
            assert_eq!(decode(&wire[..cut], &limits).unwrap(), Status::Partial);
            wire.extend_from_slice(b"trailing");
            assert_eq!(
                decode(&wire, &limits).unwrap(),
                Status::Complete(expect, wire.len() - 8)
            );
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(42);
        for _ in 0..20_000 {
            let n = rng.below(40) as usize;
            let buf: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let _ = decode(&buf, &SERVER);
            let _ = decode(&buf, &CLIENT);
        }
    }

    #[test]
    fn mask_offsets() {
        let mut rng = Rng(7);
        for _ in 0..200 {
            let data: Vec<u8> = (0..rng.below(50)).map(|_| rng.next() as u8).collect();
            let m = (rng.next() as u32).to_be_bytes();
            let mut whole = data.clone();
            apply_mask(&mut whole, m, 0);
            let cut = rng.below(data.len() as u64 + 1) as usize;
            let mut parts = data.clone();
            apply_mask(&mut parts[..cut], m, 0);
            apply_mask(&mut parts[cut..], m, cut);
            assert_eq!(whole, parts);
        }
    }
}
