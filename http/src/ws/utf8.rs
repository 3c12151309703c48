//! An incremental UTF-8 validator: text messages arrive in fragments that may
//! split a character, and RFC 6455 wants invalid text refused as soon as it
//! is seen (fail fast), not only once the message is complete.

/// Validates UTF-8 fed in pieces.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The start of a character whose remaining bytes have not arrived.
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// Feeds the next bytes. Returns `false` as soon as the bytes seen so far
    /// cannot be the start of valid UTF-8.
    pub fn feed(&mut self, mut data: &[u8]) -> bool {
        if self.pending_len > 0 {
            let want = char_width(self.pending[0]);
            let take = (want - self.pending_len).min(data.len());
            let mut tmp = [0u8; 4];
            tmp[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
            tmp[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            let len = self.pending_len + take;
            match std::str::from_utf8(&tmp[..len]) {
                Ok(_) => {
                    self.pending_len = 0;
                    data = &data[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: `data` was too short to finish it.
                    self.pending = tmp;
                    self.pending_len = len;
                    return true;
                }
                Err(_) => return false,
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => true,
            Err(e) => match e.error_len() {
                Some(_) => false,
                None => {
                    let tail = &data[e.valid_up_to()..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len();
                    true
                }
            },
        }
    }

    /// Whether the text fed so far ends on a character boundary (a complete
    /// message must).
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Forgets any partial character, for the next message.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// The byte length announced by a leading byte (4 for invalid leaders, whose
/// validation fails anyway).
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(bytes: &[u8]) -> bool {
        let whole = std::str::from_utf8(bytes).is_ok();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&bytes[..a]) && v.feed(&bytes[a..b]) && v.feed(&bytes[b..]);
                assert_eq!(ok && v.is_complete(), whole, "{bytes:x?} split at {a},{b}");
            }
        }
        whole
    }

    #[test]
    fn splits_agree_with_std() {
        assert!(split_all("κόσμε héllo €𝄞".as_bytes()));
        assert!(!split_all(
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"
        ));
        assert!(!split_all(b"\xf4\x90\x80\x80"));
        assert!(!split_all(b"\xc0\xaf"));
        assert!(!split_all(b"ab\xe2\x82"));
    }

    #[test]
    fn fails_fast_on_impossible_prefix() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"ok\xf4"));
        assert!(!v.feed(b"\x90"));
        let mut v = Utf8Validator::new();
        assert!(!v.feed(b"\xed\xa0"));
    }
}
