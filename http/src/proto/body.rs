//! Body decoding: a state machine over byte slices for `Content-Length` and
//! chunked bodies.

use super::Framing;

/// Most bytes of chunk extensions accepted over one body (they are skipped).
const MAX_EXTENSION_BYTES: usize = 4 * 1024;
/// Most bytes of trailer fields accepted (they are skipped).
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most hex digits in a chunk size (`u64::MAX` has 16).
const MAX_SIZE_DIGITS: u8 = 16;

/// Why a body could not be decoded. The connection cannot be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// A chunk size that is empty, not hex or too large.
    ChunkSize,
    /// Malformed chunk extension, or more than the cap.
    Extension,
    /// Missing CRLF after a chunk size or chunk data.
    MissingCrlf,
    /// Malformed trailer section, or more than the cap.
    Trailer,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyError::ChunkSize => "invalid chunk size",
            BodyError::Extension => "invalid or too long chunk extension",
            BodyError::MissingCrlf => "missing CRLF in chunked body",
            BodyError::Trailer => "invalid or too long trailer",
        })
    }
}

impl std::error::Error for BodyError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    /// Reading hex digits of a chunk size.
    Size {
        size: u64,
        digits: u8,
    },
    /// Whitespace after the size, before `;`.
    SizeWs {
        size: u64,
    },
    /// Inside a chunk extension, up to CR.
    Ext {
        size: u64,
    },
    /// Saw CR after the size line; want LF.
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

/// Decodes a request body from the bytes that follow its head.
///
/// Feed it the unconsumed input with [`BodyDecoder::decode`]; it returns how
/// many input bytes it used and the body bytes among them.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    ext_bytes: usize,
    trailer_bytes: usize,
}

impl BodyDecoder {
    /// A decoder for the given framing.
    pub fn new(framing: Framing) -> BodyDecoder {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size { size: 0, digits: 0 },
        };
        BodyDecoder {
            state,
            ext_bytes: 0,
            trailer_bytes: 0,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes still expected, when known (`Content-Length` bodies).
    pub fn remaining_hint(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Decodes from `input`, returning `(consumed, data)`: `data` is a slice
    /// of `input` with at most `max` body bytes. It stops after the first
    /// piece of body data, at the end of the body, or at the end of the
    /// input. `(input.len(), [])` with `!is_done()` means: need more input.
    ///
    /// # Errors
    /// A [`BodyError`] on a malformed chunked body.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
        max: usize,
    ) -> Result<(usize, &'a [u8]), BodyError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok((i, &[])),
                State::Length(rem) | State::Data(rem) => {
                    let avail = input.len() - i;
                    let take = usize::try_from(rem)
                        .unwrap_or(usize::MAX)
                        .min(avail)
                        .min(max);
                    let left = rem - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), n) => State::Length(n),
                        (_, 0) => State::DataCr,
                        (_, n) => State::Data(n),
                    };
                    return Ok((i + take, &input[i..i + take]));
                }
                State::Size { size, digits } => {
                    if let Some(d) = hex_value(b) {
                        if digits >= MAX_SIZE_DIGITS || size > u64::MAX >> 4 {
                            return Err(BodyError::ChunkSize);
                        }
                        self.state = State::Size {
                            size: size << 4 | u64::from(d),
                            digits: digits + 1,
                        };
                    } else if digits == 0 {
                        return Err(BodyError::ChunkSize);
                    } else {
                        self.state = match b {
                            b'\r' => State::SizeLf { size },
                            b';' => State::Ext { size },
                            b' ' | b'\t' => State::SizeWs { size },
                            _ => return Err(BodyError::ChunkSize),
                        };
                    }
                }
                State::SizeWs { size } => match b {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::Ext { size },
                    _ => return Err(BodyError::ChunkSize),
                },
                State::Ext { size } => {
                    self.ext_bytes += 1;
                    if self.ext_bytes > MAX_EXTENSION_BYTES {
                        return Err(BodyError::Extension);
                    }
                    match b {
                        b'\r' => self.state = State::SizeLf { size },
                        b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                        _ => return Err(BodyError::Extension),
                    }
                }
                State::SizeLf { size } => {
                    if b != b'\n' {
                        return Err(BodyError::MissingCrlf);
                    }
                    self.state = if size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data(size)
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(BodyError::MissingCrlf);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(BodyError::MissingCrlf);
                    }
                    self.state = State::Size { size: 0, digits: 0 };
                }
                State::TrailerStart | State::TrailerLine => {
                    self.trailer_bytes += 1;
                    if self.trailer_bytes > MAX_TRAILER_BYTES {
                        return Err(BodyError::Trailer);
                    }
                    self.state = match (self.state, b) {
                        (State::TrailerStart, b'\r') => State::FinalLf,
                        (_, b'\r') => State::TrailerLf,
                        (_, b'\t' | b' '..=b'~' | 0x80..=0xff) => State::TrailerLine,
                        _ => return Err(BodyError::Trailer),
                    };
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(BodyError::Trailer);
                    }
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(BodyError::MissingCrlf);
                    }
                    self.state = State::Done;
                    return Ok((i + 1, &[]));
                }
            }
            i += 1;
        }
        Ok((i, &[]))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes all of `input` fed in pieces of `step` bytes; returns the body
    /// and the bytes consumed.
    fn decode_all(
        framing: Framing,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize), BodyError> {
        let mut d = BodyDecoder::new(framing);
        let mut body = Vec::new();
        let mut pos = 0;
        let mut end = 0;
        while !d.is_done() {
            if pos == end {
                if end == input.len() {
                    break;
                }
                end = (end + step).min(input.len());
            }
            let (n, data) = d.decode(&input[pos..end], 3)?;
            body.extend_from_slice(data);
            pos += n;
        }
        assert!(d.is_done(), "incomplete body");
        Ok((body, pos))
    }

    #[test]
    fn content_length() {
        for step in 1..8 {
            let (b, n) = decode_all(Framing::Length(5), b"hello world", step).unwrap();
            assert_eq!((b.as_slice(), n), (&b"hello"[..], 5));
        }
    }

    #[test]
    fn chunked() {
        let input = b"5\r\nhello\r\n1;a=b\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..input.len() {
            let (b, n) = decode_all(Framing::Chunked, input, step).unwrap();
            assert_eq!(b, b"hello 0123456789");
            assert_eq!(n, input.len() - 4);
        }
    }

    #[test]
    fn chunked_errors() {
        let bad: &[(&[u8], BodyError)] = &[
            (b"\r\n", BodyError::ChunkSize),
            (b";ext\r\n", BodyError::ChunkSize),
            (b"0x5\r\nhello\r\n0\r\n\r\n", BodyError::ChunkSize),
            (b"-5\r\n", BodyError::ChunkSize),
            (b"+5\r\n", BodyError::ChunkSize),
            (b"5 \r\nhello\r\n0\r\n\r\n", BodyError::ChunkSize),
            (b"g\r\n", BodyError::ChunkSize),
            (b"10000000000000000\r\n", BodyError::ChunkSize),
            (b"00000000000000001\r\n", BodyError::ChunkSize),
            (b"5\r\nhelloX\r\n", BodyError::MissingCrlf),
            (b"5\nhello\r\n", BodyError::ChunkSize),
            (b"5\r\nhello\r\n0\r\n\r\r", BodyError::MissingCrlf),
            (b"0\r\nX: \x00\r\n\r\n", BodyError::Trailer),
            (b"1;\x01\r\n", BodyError::Extension),
        ];
        for (input, want) in bad {
            assert_eq!(
                decode_all(Framing::Chunked, input, 64).map(|_| ()),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long_ext = format!("1;{}\r\n", "a".repeat(MAX_EXTENSION_BYTES + 1));
        assert_eq!(
            decode_all(Framing::Chunked, long_ext.as_bytes(), 64).map(|_| ()),
            Err(BodyError::Extension)
        );
        let long_trailer = format!("0\r\nX: {}\r\n\r\n", "a".repeat(MAX_TRAILER_BYTES));
        assert_eq!(
            decode_all(Framing::Chunked, long_trailer.as_bytes(), 64).map(|_| ()),
            Err(BodyError::Trailer)
        );
    }

    #[test]
    fn max_size_chunk_is_accepted() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let (n, data) = d.decode(b"ffffffffffffffff\r\nab", 10).unwrap();
        assert_eq!((n, data), (20, &b"ab"[..]));
        assert_eq!(d.remaining_hint(), None);
    }
}
