//! Message-level rules on top of the frame codec, still sans I/O: fragments
//! in order, text UTF-8 (validated incrementally, so bad text fails as soon
//! as it arrives), close payloads, size limits and decompression.

use super::deflate::Inflater;
use super::frame::{is_valid_close_code, FrameHeader, OpCode, ProtocolError};
use super::utf8::Utf8Validator;
use super::{CloseCode, CloseFrame};

/// What a frame amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A ping with its payload.
    Ping(Vec<u8>),
    /// A pong with its payload.
    Pong(Vec<u8>),
    /// A close frame, with its code and reason if it had any.
    Close(Option<CloseFrame>),
    /// In streaming mode: the message data that one frame carried (after
    /// decompression). Text pieces may split a character; the whole
    /// message is still validated as UTF-8.
    Fragment {
        /// A text message (else binary).
        text: bool,
        /// The piece.
        data: Vec<u8>,
        /// The message's last piece.
        fin: bool,
    },
}

/// Reassembles messages from frames.
#[derive(Debug)]
pub struct MessageDecoder {
    /// The message in progress: `Text` or `Binary`.
    kind: Option<OpCode>,
    compressed: bool,
    buf: Vec<u8>,
    /// How much of `buf` the UTF-8 validator has seen.
    validated: usize,
    utf8: Utf8Validator,
    /// For a text frame still arriving: the validator after the first
    /// `.1` bytes of its payload (see [`MessageDecoder::check_partial`]).
    partial: Option<(Utf8Validator, usize)>,
    inflater: Option<Inflater>,
    max_message: usize,
}

impl MessageDecoder {
    /// A decoder refusing messages over `max_message` bytes (after
    /// decompression), with an inflater if permessage-deflate was agreed.
    pub(crate) fn new(max_message: usize, inflater: Option<Inflater>) -> MessageDecoder {
        MessageDecoder {
            kind: None,
            compressed: false,
            buf: Vec::new(),
            validated: 0,
            utf8: Utf8Validator::new(),
            partial: None,
            inflater,
            max_message,
        }
    }

    /// A decoder without compression, for tests and fuzzing.
    pub fn plain(max_message: usize) -> MessageDecoder {
        MessageDecoder::new(max_message, None)
    }

    /// Takes one frame (its head, and its payload already unmasked).
    /// Returns an event when the frame completes something.
    ///
    /// # Errors
    /// The [`ProtocolError`] to close the connection with.
    pub fn push(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
    ) -> Result<Option<Event>, ProtocolError> {
        self.push_frame(h, payload, false)
    }

    /// As [`MessageDecoder::push`], but a data frame yields its piece of
    /// the message at once as [`Event::Fragment`] instead of being
    /// collected (the message size limit then applies per frame).
    ///
    /// # Errors
    /// As [`MessageDecoder::push`].
    pub fn push_streaming(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
    ) -> Result<Option<Event>, ProtocolError> {
        self.push_frame(h, payload, true)
    }

    /// Checks the start of a frame whose payload has not all arrived
    /// (`prefix`, unmasked, growing from call to call until the frame is
    /// [`push`](MessageDecoder::push)ed), so that invalid UTF-8 in an
    /// uncompressed text frame fails as soon as it arrives rather than
    /// once the frame is complete. Each byte is validated once.
    ///
    /// # Errors
    /// Close code 1007 for text that cannot be valid.
    pub fn check_partial(&mut self, h: &FrameHeader, prefix: &[u8]) -> Result<(), ProtocolError> {
        let text = match h.opcode {
            OpCode::Text => self.kind.is_none() && !h.rsv1,
            OpCode::Continuation => self.kind == Some(OpCode::Text) && !self.compressed,
            _ => false,
        };
        if !text {
            return Ok(());
        }
        let utf8 = &self.utf8;
        let (v, seen) = self.partial.get_or_insert_with(|| {
            let start = match h.opcode {
                OpCode::Continuation => utf8.clone(),
                _ => Utf8Validator::new(),
            };
            (start, 0)
        });
        if *seen < prefix.len() {
            if !v.feed(&prefix[*seen..]) {
                self.partial = None;
                self.kind = None;
                return Err(ProtocolError::new(1007, "invalid UTF-8 in text message"));
            }
            *seen = prefix.len();
        }
        Ok(())
    }

    fn push_frame(
        &mut self,
        h: &FrameHeader,
        payload: &[u8],
        streaming: bool,
    ) -> Result<Option<Event>, ProtocolError> {
        self.partial = None;
        match h.opcode {
            OpCode::Ping => return Ok(Some(Event::Ping(payload.to_vec()))),
            OpCode::Pong => return Ok(Some(Event::Pong(payload.to_vec()))),
            OpCode::Close => return parse_close(payload).map(|c| Some(Event::Close(c))),
            OpCode::Text | OpCode::Binary => {
                if self.kind.is_some() {
                    return Err(ProtocolError::new(
                        1002,
                        "new message inside a fragmented one",
                    ));
                }
                if h.rsv1 && self.inflater.is_none() {
                    return Err(ProtocolError::new(
                        1002,
                        "compressed frame without the extension",
                    ));
                }
                self.kind = Some(h.opcode);
                self.compressed = h.rsv1;
                self.buf.clear();
                self.validated = 0;
                self.utf8.reset();
            }
            OpCode::Continuation => {
                if self.kind.is_none() {
                    return Err(ProtocolError::new(1002, "continuation without a message"));
                }
            }
        }
        if self.compressed {
            let inflater = self
                .inflater
                .as_mut()
                .expect("checked when the message began");
            inflater.inflate(payload, h.fin, &mut self.buf, self.max_message)?;
        } else {
            if self.buf.len() + payload.len() > self.max_message {
                self.kind = None;
                return Err(ProtocolError::new(1009, "message too large"));
            }
            self.buf.extend_from_slice(payload);
        }
        if self.kind == Some(OpCode::Text) {
            if !self.utf8.feed(&self.buf[self.validated..]) {
                self.kind = None;
                return Err(ProtocolError::new(1007, "invalid UTF-8 in text message"));
            }
            self.validated = self.buf.len();
        }
        if streaming {
            let text = self.kind == Some(OpCode::Text);
            if h.fin {
                self.kind = None;
                if text && !self.utf8.is_complete() {
                    return Err(ProtocolError::new(
                        1007,
                        "text message ends inside a character",
                    ));
                }
            }
            self.validated = 0;
            return Ok(Some(Event::Fragment {
                text,
                data: std::mem::take(&mut self.buf),
                fin: h.fin,
            }));
        }
        if !h.fin {
            return Ok(None);
        }
        let kind = self.kind.take();
        let data = std::mem::take(&mut self.buf);
        if kind == Some(OpCode::Text) {
            if !self.utf8.is_complete() {
                return Err(ProtocolError::new(
                    1007,
                    "text message ends inside a character",
                ));
            }
            let s = String::from_utf8(data)
                .map_err(|_| ProtocolError::new(1007, "invalid UTF-8 in text message"))?;
            Ok(Some(Event::Text(s)))
        } else {
            Ok(Some(Event::Binary(data)))
        }
    }
}

fn parse_close(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(ProtocolError::new(1002, "close payload of one byte")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !is_valid_close_code(code) {
                return Err(ProtocolError::new(1002, "invalid close code"));
            }
            let reason = std::str::from_utf8(&payload[2..])
                .map_err(|_| ProtocolError::new(1007, "invalid UTF-8 in close reason"))?;
            Ok(Some(CloseFrame {
                code: CloseCode(code),
                reason: reason.to_string(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::{decode_header, encode, Limits, Role, Status};

    fn header(fin: bool, opcode: OpCode) -> FrameHeader {
        FrameHeader {
            fin,
            rsv1: false,
            opcode,
            mask: None,
            len: 0,
        }
    }

    #[test]
    fn fragments_and_interleaved_control() {
        let mut d = MessageDecoder::plain(100);
        assert_eq!(
            d.push(&header(false, OpCode::Text), "ĸ".as_bytes()[..1].as_ref()),
            Ok(None)
        );
        assert_eq!(
            d.push(&header(true, OpCode::Ping), b"p"),
            Ok(Some(Event::Ping(b"p".to_vec())))
        );
        assert_eq!(
            d.push(&header(true, OpCode::Continuation), &"ĸ".as_bytes()[1..]),
            Ok(Some(Event::Text("ĸ".into())))
        );
    }

    #[test]
    fn order_violations() {
        let mut d = MessageDecoder::plain(100);
        assert!(d.push(&header(true, OpCode::Continuation), b"x").is_err());
        let mut d = MessageDecoder::plain(100);
        d.push(&header(false, OpCode::Binary), b"x").unwrap();
        assert!(d.push(&header(true, OpCode::Text), b"x").is_err());
    }

    #[test]
    fn utf8_fails_fast_and_at_end() {
        let mut d = MessageDecoder::plain(100);
        let e = d
            .push(&header(false, OpCode::Text), b"a\xed\xa0")
            .unwrap_err();
        assert_eq!(e.code.0, 1007);
        let mut d = MessageDecoder::plain(100);
        let e = d
            .push(&header(true, OpCode::Text), b"a\xe2\x82")
            .unwrap_err();
        assert_eq!(e.code.0, 1007);
    }

    #[test]
    fn utf8_fails_fast_inside_a_frame_still_arriving() {
        let mut d = MessageDecoder::plain(100);
        let h = header(true, OpCode::Text);
        assert_eq!(d.check_partial(&h, b"ab"), Ok(()));
        // An unfinished character is no error yet.
        assert_eq!(d.check_partial(&h, b"ab\xce"), Ok(()));
        assert_eq!(d.check_partial(&h, b"ab\xce\x41").unwrap_err().code.0, 1007);

        // A continuation starts from the state the message is in.
        let mut d = MessageDecoder::plain(100);
        assert_eq!(d.push(&header(false, OpCode::Text), b"x\xe2"), Ok(None));
        let c = header(true, OpCode::Continuation);
        assert_eq!(d.check_partial(&c, b"\x82"), Ok(()));
        assert_eq!(d.check_partial(&c, b"\x82\xac"), Ok(()));
        assert_eq!(
            d.push(&c, b"\x82\xac!"),
            Ok(Some(Event::Text("x€!".into())))
        );
        let mut d = MessageDecoder::plain(100);
        assert_eq!(d.push(&header(false, OpCode::Text), b"x\xe2"), Ok(None));
        assert_eq!(d.check_partial(&c, b"\x41").unwrap_err().code.0, 1007);

        // Binary data and compressed text are not checked.
        let mut d = MessageDecoder::plain(100);
        assert_eq!(
            d.check_partial(&header(true, OpCode::Binary), b"\xff"),
            Ok(())
        );
        let mut z = header(true, OpCode::Text);
        z.rsv1 = true;
        assert_eq!(d.check_partial(&z, b"\xff"), Ok(()));
    }

    #[test]
    fn close_payloads() {
        let mut d = MessageDecoder::plain(100);
        assert_eq!(
            d.push(&header(true, OpCode::Close), b""),
            Ok(Some(Event::Close(None)))
        );
        assert!(d.push(&header(true, OpCode::Close), b"\x03").is_err());
        assert!(d.push(&header(true, OpCode::Close), b"\x03\xec").is_err()); // 1004
        assert!(d
            .push(&header(true, OpCode::Close), b"\x03\xe8\xff")
            .is_err());
        assert_eq!(
            d.push(&header(true, OpCode::Close), b"\x03\xe8bye"),
            Ok(Some(Event::Close(Some(CloseFrame {
                code: CloseCode(1000),
                reason: "bye".into()
            }))))
        );
    }

    #[test]
    fn streaming_pieces() {
        let mut d = MessageDecoder::plain(4);
        assert_eq!(
            d.push_streaming(&header(false, OpCode::Text), b"ab\xc3"),
            Ok(Some(Event::Fragment {
                text: true,
                data: b"ab\xc3".to_vec(),
                fin: false
            }))
        );
        assert_eq!(
            d.push_streaming(&header(true, OpCode::Continuation), b"\xa9cd"),
            Ok(Some(Event::Fragment {
                text: true,
                data: b"\xa9cd".to_vec(),
                fin: true
            }))
        );
        d.push_streaming(&header(false, OpCode::Text), b"a\xc3")
            .unwrap();
        let e = d
            .push_streaming(&header(true, OpCode::Continuation), b"")
            .unwrap_err();
        assert_eq!(e.code.0, 1007);
    }

    #[test]
    fn size_limit() {
        let mut d = MessageDecoder::plain(4);
        d.push(&header(false, OpCode::Binary), b"abc").unwrap();
        assert_eq!(
            d.push(&header(true, OpCode::Continuation), b"de")
                .unwrap_err()
                .code
                .0,
            1009
        );
    }

    /// Random messages cut into random fragments, encoded, concatenated and
    /// decoded from random read sizes come back whole.
    #[test]
    fn random_fragmentation_roundtrip() {
        let mut rng = crate::ws::frame::tests_rng(0xdead_beef);
        let limits = Limits {
            role: Role::Server,
            allow_rsv1: false,
            max_frame: 1 << 20,
        };
        for _ in 0..300 {
            let text = rng.below(2) == 0;
            let len = rng.below(3000) as usize;
            let msg: Vec<u8> = if text {
                (0..len)
                    .flat_map(|_| {
                        char::from_u32(rng.below(0x3000) as u32)
                            .unwrap_or('x')
                            .to_string()
                            .into_bytes()
                    })
                    .collect()
            } else {
                (0..len).map(|_| rng.next() as u8).collect()
            };
            let mut wire = Vec::new();
            let mut at = 0;
            let mut first = true;
            loop {
                let n = (rng.below(600) as usize).min(msg.len() - at);
                let fin = at + n == msg.len();
                let op = if !first {
                    OpCode::Continuation
                } else if text {
                    OpCode::Text
                } else {
                    OpCode::Binary
                };
                encode(
                    fin,
                    false,
                    op,
                    Some((rng.next() as u32).to_be_bytes()),
                    &msg[at..at + n],
                    &mut wire,
                );
                if rng.below(3) == 0 {
                    encode(
                        true,
                        false,
                        OpCode::Pong,
                        Some([1, 2, 3, 4]),
                        b"",
                        &mut wire,
                    );
                }
                at += n;
                first = false;
                if fin {
                    break;
                }
            }
            let mut d = MessageDecoder::plain(1 << 20);
            let mut have = 0;
            let mut pos = 0;
            let mut got = None;
            while got.is_none() {
                have = (have + 1 + rng.below(700) as usize).min(wire.len());
                while let Status::Complete(h, hl) =
                    decode_header(&wire[pos..have], &limits).unwrap()
                {
                    let end = pos + hl + h.len as usize;
                    if end > have {
                        break;
                    }
                    let mut p = wire[pos + hl..end].to_vec();
                    crate::ws::frame::apply_mask(&mut p, h.mask.unwrap(), 0);
                    pos = end;
                    match d.push(&h, &p).unwrap() {
                        Some(Event::Pong(_)) | None => {}
                        Some(e) => got = Some(e),
                    }
                }
            }
            let want = if text {
                Event::Text(String::from_utf8(msg).unwrap())
            } else {
                Event::Binary(msg)
            };
            assert_eq!(got.unwrap(), want);
        }
    }
}
