//! NKeys: ed25519 keys in NATS's text form (base32 of a prefix byte, the key
//! and a CRC16), used to sign the server's nonce; and `.creds` files (a user
//! JWT plus an nkey seed).

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::error::{Error, Result};

const PREFIX_SEED: u8 = 18 << 3;

/// An nkey: an ed25519 key pair decoded from a seed (`SU…`).
pub struct KeyPair {
    pair: Ed25519KeyPair,
    prefix: u8,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key())
            .finish()
    }
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// CRC-16/XMODEM, as nkeys use it.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn bad_seed(why: &str) -> Error {
    Error::invalid(format!("invalid nkey seed: {why}"))
}

impl KeyPair {
    /// Decodes a seed such as `SUAM…` (as printed by `nk -gen user`).
    ///
    /// # Errors
    /// `InvalidInput` for bad base32, a wrong checksum, a non-seed prefix
    /// or a wrong length.
    pub fn from_seed(seed: &str) -> Result<KeyPair> {
        let raw = base32_decode(seed.trim()).ok_or_else(|| bad_seed("not base32"))?;
        if raw.len() != 36 {
            return Err(bad_seed("wrong length"));
        }
        let (body, crc) = raw.split_at(34);
        if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
            return Err(bad_seed("checksum mismatch"));
        }
        if body[0] & 0xf8 != PREFIX_SEED {
            return Err(bad_seed("not a seed"));
        }
        let prefix = ((body[0] & 7) << 5) | ((body[1] & 0xf8) >> 3);
        let pair = Ed25519KeyPair::from_seed_unchecked(&body[2..34])
            .map_err(|_| bad_seed("not an ed25519 seed"))?;
        Ok(KeyPair { pair, prefix })
    }

    /// The public key in text form (`U…` for a user).
    pub fn public_key(&self) -> String {
        let mut raw = Vec::with_capacity(35);
        raw.push(self.prefix);
        raw.extend_from_slice(self.pair.public_key().as_ref());
        let crc = crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        base32_encode(&raw)
    }

    /// Signs `data` (the server's nonce); returns the signature in URL-safe
    /// base64 without padding, as the CONNECT `sig` field wants it.
    pub fn sign(&self, data: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.pair.sign(data).as_ref())
    }
}

/// Reads the JWT and the seed out of a `.creds` file's text.
///
/// # Errors
/// `InvalidInput` when either block is missing.
pub fn parse_creds(text: &str) -> Result<(String, String)> {
    // Blocks are delimited by lines of dashes; the JWT comes first, then the
    // seed. Take the first non-empty line after each opening delimiter.
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line.starts_with("-----BEGIN") || line.starts_with("------BEGIN") {
            if let Some(v) = lines.by_ref().find(|l| !l.is_empty()) {
                blocks.push(v.to_owned());
            }
        }
    }
    match blocks.as_slice() {
        [jwt, seed, ..] => Ok((jwt.clone(), seed.clone())),
        _ => Err(Error::invalid(
            "credentials file without JWT and seed blocks",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made for these tests (and the nkey test server); never a real key.
    const SEED: &str = "SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ";
    const PUBLIC: &str = "UB43KVROR7TFJ6KAPCYRF2FJROTZAH4FHLTJLPWX4DRZCC5NASLGJBFE";

    #[test]
    fn seed_to_public_and_signature() {
        let kp = KeyPair::from_seed(SEED).unwrap();
        assert_eq!(kp.public_key(), PUBLIC);
        // Cross-checked with an independent ed25519 implementation.
        assert_eq!(
            kp.sign(b"nonce123"),
            "23f6DQHTj7qJMmEYxIQ76173erDYPdeUnQLvPfI887u_urNcsW67sQEEsCURliaIsEnuJLk2LO5_TOClXgLnBg"
        );
    }

    #[test]
    fn rejects_bad_seeds() {
        assert!(KeyPair::from_seed("").is_err());
        assert!(KeyPair::from_seed("not base32!").is_err());
        let mut bad = SEED.to_owned();
        bad.replace_range(10..11, "Z");
        assert!(KeyPair::from_seed(&bad).is_err());
        assert!(KeyPair::from_seed(PUBLIC).is_err());
    }

    #[test]
    fn base32_round_trip() {
        for n in 0..20 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&data)).unwrap(), data);
        }
    }

    #[test]
    fn creds_file() {
        let text = "-----BEGIN NATS USER JWT-----\neyJhbGc.x.y\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n\n-----BEGIN USER NKEY SEED-----\nSUAXYZ\n------END USER NKEY SEED------\n";
        let (jwt, seed) = parse_creds(text).unwrap();
        assert_eq!((jwt.as_str(), seed.as_str()), ("eyJhbGc.x.y", "SUAXYZ"));
        assert!(parse_creds("nothing").is_err());
    }
}
