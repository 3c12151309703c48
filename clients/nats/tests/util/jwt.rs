//! A small issuer of NATS JWTs (v2) for the operator-mode tests: nkey seeds
//! for an operator, an account and a user, and the JWTs that chain them
//! (operator self-signed, account signed by the operator, user signed by the
//! account). Signing uses the crate's own `KeyPair`; only the seed and JWT
//! encodings live here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fibra_nats::KeyPair;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

/// Prefix bytes of the nkey roles (the first base32 letter of a public key).
pub const OPERATOR: u8 = 14 << 3; // 'O'
pub const ACCOUNT: u8 = 0; // 'A'
pub const USER: u8 = 20 << 3; // 'U'
const SEED: u8 = 18 << 3; // 'S'

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(data: &[u8]) -> String {
    let mut out = String::new();
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

/// A fresh random nkey of `role`: its seed text and the key pair.
pub fn new_key(role: u8) -> (String, KeyPair) {
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).unwrap();
    let mut body = vec![SEED | (role >> 5), (role & 31) << 3];
    body.extend_from_slice(&raw);
    let crc = crc16(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    let seed = base32(&body);
    let kp = KeyPair::from_seed(&seed).unwrap();
    (seed, kp)
}

/// Encodes and signs `claims` (with `iss`, `sub`, `iat` and `jti` filled
/// in) as a JWT issued by `issuer` about `subject`.
pub fn encode(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "jti": "",
        "iat": iat,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    // As the NATS tools do: the id is the hash of the claims without it.
    let digest = ring::digest::digest(
        &ring::digest::SHA512_256,
        serde_json::to_string(&claims).unwrap().as_bytes(),
    );
    claims["jti"] = Value::String(base32(digest.as_ref()));
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims).unwrap());
    let signing_input = format!("{header}.{body}");
    let sig = issuer.sign(signing_input.as_bytes());
    format!("{signing_input}.{sig}")
}

/// The operator's self-signed JWT.
pub fn operator(op: &KeyPair) -> String {
    encode(
        op,
        &op.public_key(),
        "fibra-test-operator",
        json!({ "type": "operator", "version": 2 }),
    )
}

/// An account JWT without limits, signed by the operator.
pub fn account(op: &KeyPair, acc: &KeyPair) -> String {
    encode(
        op,
        &acc.public_key(),
        "fibra-test-account",
        json!({
            "limits": {
                "subs": -1, "data": -1, "payload": -1, "imports": -1,
                "exports": -1, "wildcards": true, "conn": -1, "leaf": -1,
            },
            "default_permissions": { "pub": {}, "sub": {} },
            "type": "account",
            "version": 2,
        }),
    )
}

/// A user JWT without limits, signed by the account.
pub fn user(acc: &KeyPair, user: &KeyPair) -> String {
    encode(
        acc,
        &user.public_key(),
        "fibra-test-user",
        json!({
            "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
            "type": "user",
            "version": 2,
        }),
    )
}

/// The text of a `.creds` file, laid out as `nsc` writes it.
pub fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}
