//! Password authentication: the md5 hash and a SCRAM-SHA-256 client
//! (RFC 5802, RFC 7677), without I/O.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::{Sha256, Sha384, Sha512};

type HmacSha256 = Hmac<Sha256>;

/// The `md5` password message: `"md5" + md5(md5(password + user) + salt)`.
pub fn md5_password(user: &str, password: &[u8], salt: [u8; 4]) -> String {
    let mut h = Md5::new();
    h.update(password);
    h.update(user.as_bytes());
    let inner = hex(&h.finalize());
    let mut h = Md5::new();
    h.update(inner.as_bytes());
    h.update(salt);
    format!("md5{}", hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(data);
    m.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot happen.
    HmacSha256::new_from_slice(&[0]).unwrap_or_else(|_| unreachable_hmac())
}

/// PBKDF2-HMAC-SHA-256 with one output block ("Hi" in RFC 5802).
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(password).unwrap_or_else(|_| unreachable_hmac());
    m.update(salt);
    m.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = m.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(u.iter()).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// Why SCRAM failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramError(pub String);

impl std::fmt::Display for ScramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SCRAM authentication failed: {}", self.0)
    }
}

impl std::error::Error for ScramError {}

fn scram_err<T>(m: &str) -> Result<T, ScramError> {
    Err(ScramError(m.to_owned()))
}

/// SCRAM channel binding (RFC 5802 GS2 header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelBinding {
    /// `n,,`: the client does not support binding.
    None,
    /// `y,,`: the client supports binding but the server did not offer it.
    ClientOnly,
    /// `p=tls-server-end-point,,` with the hash of the server certificate.
    TlsServerEndPoint(Vec<u8>),
}

impl ChannelBinding {
    fn gs2_header(&self) -> &'static str {
        match self {
            ChannelBinding::None => "n,,",
            ChannelBinding::ClientOnly => "y,,",
            ChannelBinding::TlsServerEndPoint(_) => "p=tls-server-end-point,,",
        }
    }
}

/// The `tls-server-end-point` binding data (RFC 5929): the certificate's
/// hash with its signature algorithm's hash function, SHA-256 for MD5 and
/// SHA-1 (and for algorithms we cannot tell).
pub fn server_end_point_hash(cert_der: &[u8]) -> Vec<u8> {
    // OIDs (DER contents) of signature algorithms hashing with SHA-384/512.
    const SHA384: [&[u8]; 2] = [
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], // sha384WithRSAEncryption
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],       // ecdsa-with-SHA384
    ];
    const SHA512: [&[u8]; 2] = [
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], // sha512WithRSAEncryption
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],       // ecdsa-with-SHA512
    ];
    let oid = signature_algorithm_oid(cert_der).unwrap_or(&[]);
    if SHA384.contains(&oid) {
        Sha384::digest(cert_der).to_vec()
    } else if SHA512.contains(&oid) {
        Sha512::digest(cert_der).to_vec()
    } else {
        Sha256::digest(cert_der).to_vec()
    }
}

/// One DER TLV at the front of `b`: (tag, contents, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        b = &b[n..];
        len
    };
    if b.len() < len {
        return None;
    }
    Some((tag, &b[..len], &b[len..]))
}

/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm
/// SEQUENCE { OID, … }, signature }: the OID's contents.
fn signature_algorithm_oid(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, cert, _) = der_tlv(cert)? else {
        return None;
    };
    let (_, _, rest) = der_tlv(cert)?; // tbsCertificate
    let (0x30, alg, _) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(alg)? else {
        return None;
    };
    Some(oid)
}

/// A SCRAM-SHA-256 client exchange, with or without channel binding.
#[derive(Debug)]
pub struct Scram {
    password: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    binding: ChannelBinding,
    server_signature: Option<[u8; 32]>,
}

impl Scram {
    /// Starts an exchange with a client nonce (random printable ASCII, no
    /// commas).
    pub fn new(password: &[u8], client_nonce: String, binding: ChannelBinding) -> Scram {
        // The user name travels in the startup message; SCRAM's is empty.
        let client_first_bare = format!("n=,r={client_nonce}");
        Scram {
            password: password.to_vec(),
            client_nonce,
            client_first_bare,
            binding,
            server_signature: None,
        }
    }

    /// Starts an exchange with a fresh random nonce.
    ///
    /// # Errors
    /// The OS random number generator failed.
    pub fn with_random_nonce(
        password: &[u8],
        binding: ChannelBinding,
    ) -> Result<Scram, ScramError> {
        let mut raw = [0u8; 18];
        getrandom::getrandom(&mut raw).or_else(|_| scram_err("no random numbers"))?;
        Ok(Scram::new(password, B64.encode(raw), binding))
    }

    /// Whether this exchange binds to the TLS channel (SCRAM-SHA-256-PLUS).
    pub fn is_channel_bound(&self) -> bool {
        matches!(self.binding, ChannelBinding::TlsServerEndPoint(_))
    }

    /// The client-first message.
    pub fn client_first(&self) -> Vec<u8> {
        format!("{}{}", self.binding.gs2_header(), self.client_first_bare).into_bytes()
    }

    /// Takes the server-first message, returns the client-final message.
    ///
    /// # Errors
    /// A malformed server message or a nonce that does not extend ours.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let server_first = std::str::from_utf8(server_first)
            .or_else(|_| scram_err("server-first message is not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for part in server_first.split(',') {
            if let Some(v) = part.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = part.strip_prefix("s=") {
                salt = Some(B64.decode(v).or_else(|_| scram_err("bad salt"))?);
            } else if let Some(v) = part.strip_prefix("i=") {
                iterations = Some(
                    v.parse::<u32>()
                        .or_else(|_| scram_err("bad iteration count"))?,
                );
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return scram_err("server-first message lacks r, s or i");
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return scram_err("server nonce does not extend the client nonce");
        }
        if iterations == 0 {
            return scram_err("zero iterations");
        }
        let salted = hi(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let mut cbind = self.binding.gs2_header().as_bytes().to_vec();
        if let ChannelBinding::TlsServerEndPoint(hash) = &self.binding {
            cbind.extend_from_slice(hash);
        }
        let without_proof = format!("c={},r={nonce}", B64.encode(cbind));
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message (the server's signature).
    ///
    /// # Errors
    /// A server error, a malformed message or a wrong signature.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let s = std::str::from_utf8(server_final)
            .or_else(|_| scram_err("server-final message is not UTF-8"))?;
        if let Some(e) = s.strip_prefix("e=") {
            return Err(ScramError(format!("server said: {e}")));
        }
        let Some(v) = s.split(',').find_map(|p| p.strip_prefix("v=")) else {
            return scram_err("server-final message lacks v");
        };
        let sig = B64
            .decode(v)
            .or_else(|_| scram_err("bad server signature"))?;
        match self.server_signature {
            Some(ours) if ours[..] == sig[..] => Ok(()),
            _ => scram_err("server signature mismatch"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_known_value() {
        // "md5" + md5(hex(md5("secret" + "alice")) + salt), computed
        // independently with Python's hashlib.
        let h = md5_password("alice", b"secret", [1, 2, 3, 4]);
        assert_eq!(h, "md598a0412b9c31436fc53776e863350083");
        assert_ne!(h, md5_password("alice", b"secret", [1, 2, 3, 5]));
    }

    /// RFC 7677's example exchange (user "user", password "pencil"), with
    /// the user name that our client leaves empty put back.
    #[test]
    fn rfc7677_vector() {
        let mut s = Scram::new(
            b"pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
            ChannelBinding::None,
        );
        s.client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO".into();
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = s.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.verify(b"v=AAAA").is_err());
        assert!(s.verify(b"e=invalid-proof").is_err());
    }

    #[test]
    fn channel_binding_headers() {
        let s = Scram::new(b"pw", "abc".into(), ChannelBinding::ClientOnly);
        assert_eq!(s.client_first(), b"y,,n=,r=abc");
        let mut s = Scram::new(
            b"pw",
            "abc".into(),
            ChannelBinding::TlsServerEndPoint(vec![1, 2]),
        );
        assert_eq!(s.client_first(), b"p=tls-server-end-point,,n=,r=abc");
        let fin = String::from_utf8(s.client_final(b"r=abcdef,s=AAAA,i=1").unwrap()).unwrap();
        let c = fin.strip_prefix("c=").unwrap().split(',').next().unwrap();
        assert_eq!(B64.decode(c).unwrap(), b"p=tls-server-end-point,,\x01\x02");
    }

    #[test]
    fn der_signature_algorithm() {
        // SEQUENCE { SEQUENCE {}, SEQUENCE { OID sha384WithRSA }, BITSTRING }
        let cert = [
            0x30, 0x12, 0x30, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
            0x01, 0x01, 0x0c, 0x03, 0x01, 0x00,
        ];
        assert_eq!(server_end_point_hash(&cert).len(), 48);
        assert_eq!(server_end_point_hash(b"junk").len(), 32);
        assert_eq!(signature_algorithm_oid(&[0x30, 0x85]), None);
    }

    #[test]
    fn rejects_foreign_nonce() {
        let mut s = Scram::new(b"pw", "abc".into(), ChannelBinding::None);
        assert!(s.client_final(b"r=xyz123,s=AAAA,i=4096").is_err());
        assert!(s.client_final(b"r=abc,s=AAAA,i=4096").is_err());
        assert!(s.client_final(b"garbage").is_err());
    }
}
