//! The NATS wire protocol, sans-I/O: [`decode`] parses one server operation
//! from a byte slice (borrowing from it), the `encode_*` functions append
//! client operations to a buffer. No sockets, no runtime.
//!
//! ```
//! use fibra_nats::proto::{decode, ServerOp};
//!
//! let buf = b"MSG greet 7 5\r\nhello\r\nPI";
//! let (op, used) = decode(buf, 1 << 20).unwrap().unwrap();
//! assert!(matches!(op, ServerOp::Msg { subject: "greet", sid: 7, payload: b"hello", .. }));
//! assert_eq!(decode(&buf[used..], 1 << 20).unwrap(), None); // "PI": need more
//! ```

use std::fmt;

use crate::headers::HeaderMap;

/// The longest control line (everything up to the first CRLF) accepted
/// before the stream is declared corrupt. INFO lines with many cluster URLs
/// are the longest legitimate ones.
pub const MAX_CONTROL_LINE: usize = 1 << 20;

/// One operation sent by the server, borrowing from the decoded buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp<'a> {
    /// `INFO {json}`: the server's description (the JSON text).
    Info(&'a str),
    /// `MSG` or `HMSG`: a message for subscription `sid`.
    Msg {
        /// The subject it was published to.
        subject: &'a str,
        /// The subscription id it is delivered to.
        sid: u64,
        /// The reply subject, if any.
        reply: Option<&'a str>,
        /// The raw header block (`NATS/1.0…\r\n\r\n`) of an `HMSG`.
        headers: Option<&'a [u8]>,
        /// The payload.
        payload: &'a [u8],
    },
    /// `PING`: the server checks we are alive; answer with `PONG`.
    Ping,
    /// `PONG`: the answer to our `PING`.
    Pong,
    /// `+OK` (verbose mode only).
    Ok,
    /// `-ERR 'text'`: the text without the quotes.
    Err(&'a str),
}

/// A malformed byte stream: the connection cannot be trusted any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NATS protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_u64(s: &str) -> Result<u64, ProtocolError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(perr(format!("bad number {s:?}")));
    }
    s.parse().map_err(|_| perr(format!("bad number {s:?}")))
}

/// Decodes one server operation from the start of `buf`.
///
/// Returns `Ok(Some((op, consumed)))` for a complete operation, `Ok(None)`
/// when more bytes are needed, and an error for bytes that are not NATS.
/// `max_payload` bounds the size a `MSG`/`HMSG` may announce, so a corrupt
/// length cannot make the caller buffer without end.
///
/// # Errors
/// [`ProtocolError`] for an unknown operation, a malformed argument list, a
/// control line longer than [`MAX_CONTROL_LINE`], a payload larger than
/// `max_payload` or a payload not followed by CRLF.
pub fn decode(
    buf: &[u8],
    max_payload: usize,
) -> Result<Option<(ServerOp<'_>, usize)>, ProtocolError> {
    let Some(eol) = find_crlf(buf) else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(perr("control line too long"));
        }
        // A lone byte that cannot start any operation is an error right away.
        if let Some(&b) = buf.first() {
            if !matches!(
                b.to_ascii_uppercase(),
                b'M' | b'H' | b'P' | b'I' | b'+' | b'-'
            ) {
                return Err(perr(format!("unexpected byte {b:#04x}")));
            }
        }
        return Ok(None);
    };
    if eol > MAX_CONTROL_LINE {
        return Err(perr("control line too long"));
    }
    let line = std::str::from_utf8(&buf[..eol]).map_err(|_| perr("control line is not UTF-8"))?;
    let (op, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let after = eol + 2;
    let simple = |o| Ok(Some((o, after)));
    if op.eq_ignore_ascii_case("MSG") {
        decode_msg(buf, rest, after, false, max_payload)
    } else if op.eq_ignore_ascii_case("HMSG") {
        decode_msg(buf, rest, after, true, max_payload)
    } else if op.eq_ignore_ascii_case("PING") {
        simple(ServerOp::Ping)
    } else if op.eq_ignore_ascii_case("PONG") {
        simple(ServerOp::Pong)
    } else if op.eq_ignore_ascii_case("+OK") {
        simple(ServerOp::Ok)
    } else if op.eq_ignore_ascii_case("-ERR") {
        let text = rest.trim();
        let text = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(text);
        simple(ServerOp::Err(text))
    } else if op.eq_ignore_ascii_case("INFO") {
        simple(ServerOp::Info(rest.trim_end()))
    } else {
        Err(perr(format!("unknown operation {op:?}")))
    }
}

fn decode_msg<'a>(
    buf: &'a [u8],
    args: &'a str,
    start: usize,
    with_headers: bool,
    max_payload: usize,
) -> Result<Option<(ServerOp<'a>, usize)>, ProtocolError> {
    let mut it = args.split([' ', '\t']).filter(|s| !s.is_empty());
    let mut parts = [""; 5];
    let mut n = 0;
    for p in it.by_ref() {
        if n == parts.len() {
            return Err(perr("too many MSG arguments"));
        }
        parts[n] = p;
        n += 1;
    }
    let (subject, sid, reply, hdr_len, total) = match (with_headers, n) {
        (false, 3) => (parts[0], parts[1], None, None, parts[2]),
        (false, 4) => (parts[0], parts[1], Some(parts[2]), None, parts[3]),
        (true, 4) => (parts[0], parts[1], None, Some(parts[2]), parts[3]),
        (true, 5) => (parts[0], parts[1], Some(parts[2]), Some(parts[3]), parts[4]),
        _ => return Err(perr(format!("bad MSG arguments {args:?}"))),
    };
    let sid = parse_u64(sid)?;
    let total = parse_u64(total)?;
    if total > max_payload as u64 {
        return Err(perr(format!(
            "message of {total} bytes exceeds {max_payload}"
        )));
    }
    let total = total as usize;
    let hdr_len = match hdr_len {
        Some(h) => {
            let h = parse_u64(h)? as usize;
            if h > total {
                return Err(perr("header length exceeds total length"));
            }
            Some(h)
        }
        None => None,
    };
    let end = start + total;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(perr("payload not followed by CRLF"));
    }
    let body = &buf[start..end];
    let (headers, payload) = match hdr_len {
        Some(h) => (Some(&body[..h]), &body[h..]),
        None => (None, body),
    };
    Ok(Some((
        ServerOp::Msg {
            subject,
            sid,
            reply,
            headers,
            payload,
        },
        end + 2,
    )))
}

/// Checks a subject (or queue group) for what the protocol cannot carry:
/// it must be non-empty and free of whitespace and control characters.
///
/// # Errors
/// A description of the problem.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("empty subject".into());
    }
    if subject.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "subject {subject:?} contains whitespace or control characters"
        ));
    }
    Ok(())
}

fn push_num(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `PUB subject [reply] len\r\npayload\r\n`, or the `HPUB` form
/// when `headers` is given.
pub fn encode_pub(
    buf: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) {
    buf.extend_from_slice(if headers.is_some() { b"HPUB " } else { b"PUB " });
    buf.extend_from_slice(subject.as_bytes());
    buf.push(b' ');
    if let Some(r) = reply {
        buf.extend_from_slice(r.as_bytes());
        buf.push(b' ');
    }
    match headers {
        Some(h) => {
            let hlen = h.encoded_len();
            push_num(buf, hlen as u64);
            buf.push(b' ');
            push_num(buf, (hlen + payload.len()) as u64);
            buf.extend_from_slice(b"\r\n");
            h.encode(buf);
        }
        None => {
            push_num(buf, payload.len() as u64);
            buf.extend_from_slice(b"\r\n");
        }
    }
    buf.extend_from_slice(payload);
    buf.extend_from_slice(b"\r\n");
}

/// The bytes `encode_pub` will send for the message body (headers plus
/// payload), to compare with the server's `max_payload`.
pub fn body_len(headers: Option<&HeaderMap>, payload: &[u8]) -> usize {
    payload.len() + headers.map_or(0, HeaderMap::encoded_len)
}

/// Appends `SUB subject [queue] sid\r\n`.
pub fn encode_sub(buf: &mut Vec<u8>, subject: &str, queue: Option<&str>, sid: u64) {
    buf.extend_from_slice(b"SUB ");
    buf.extend_from_slice(subject.as_bytes());
    buf.push(b' ');
    if let Some(q) = queue {
        buf.extend_from_slice(q.as_bytes());
        buf.push(b' ');
    }
    push_num(buf, sid);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `UNSUB sid [max]\r\n`.
pub fn encode_unsub(buf: &mut Vec<u8>, sid: u64, max: Option<u64>) {
    buf.extend_from_slice(b"UNSUB ");
    push_num(buf, sid);
    if let Some(m) = max {
        buf.push(b' ');
        push_num(buf, m);
    }
    buf.extend_from_slice(b"\r\n");
}

/// Appends `CONNECT {json}\r\n`.
pub fn encode_connect(buf: &mut Vec<u8>, json: &str) {
    buf.extend_from_slice(b"CONNECT ");
    buf.extend_from_slice(json.as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// Appends `PING\r\n`.
pub fn encode_ping(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"PING\r\n");
}

/// Appends `PONG\r\n`.
pub fn encode_pong(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"PONG\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn one(buf: &[u8]) -> (ServerOp<'_>, usize) {
        decode(buf, MAX).unwrap().unwrap()
    }

    #[test]
    fn simple_ops() {
        assert_eq!(one(b"PING\r\n"), (ServerOp::Ping, 6));
        assert_eq!(one(b"pong\r\n"), (ServerOp::Pong, 6));
        assert_eq!(one(b"+OK\r\n"), (ServerOp::Ok, 5));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n").0,
            ServerOp::Err("Authorization Violation")
        );
        assert_eq!(one(b"INFO {\"a\":1} \r\n").0, ServerOp::Info("{\"a\":1}"));
    }

    #[test]
    fn msg_forms() {
        let (op, n) = one(b"MSG a.b 12 reply.x 3\r\nabc\r\nXX");
        assert_eq!(n, 27);
        assert_eq!(
            op,
            ServerOp::Msg {
                subject: "a.b",
                sid: 12,
                reply: Some("reply.x"),
                headers: None,
                payload: b"abc"
            }
        );
        let (op, _) = one(b"MSG  a\t1   0\r\n\r\n");
        assert!(matches!(
            op,
            ServerOp::Msg {
                subject: "a",
                sid: 1,
                payload: b"",
                ..
            }
        ));
        let buf = b"HMSG s 2 r 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nxyz\r\n";
        let (op, n) = one(buf);
        assert_eq!(n, buf.len());
        assert_eq!(
            op,
            ServerOp::Msg {
                subject: "s",
                sid: 2,
                reply: Some("r"),
                headers: Some(b"NATS/1.0\r\nA: b\r\n\r\n"),
                payload: b"xyz"
            }
        );
        let buf = b"HMSG s 2 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n";
        assert!(matches!(
            one(buf).0,
            ServerOp::Msg {
                reply: None,
                payload: b"",
                ..
            }
        ));
    }

    #[test]
    fn partial_and_errors() {
        assert_eq!(decode(b"", MAX), Ok(None));
        assert_eq!(decode(b"MSG a 1 5\r\nab", MAX), Ok(None));
        assert_eq!(decode(b"MSG a 1 5\r\nabcde", MAX), Ok(None));
        assert!(decode(b"MSG a 1 5\r\nabcdeXY", MAX).is_err());
        assert!(decode(b"MSG a 1\r\n", MAX).is_err());
        assert!(decode(b"MSG a x 1\r\nb\r\n", MAX).is_err());
        assert!(decode(b"MSG a 1 -1\r\n", MAX).is_err());
        assert!(decode(b"MSG a 1 99\r\n", 10).is_err());
        assert!(decode(b"HMSG a 1 9 3\r\n", MAX).is_err());
        assert!(decode(b"FOO\r\n", MAX).is_err());
        assert!(decode(b"\x00", MAX).is_err());
        assert!(decode(b"\xff\xfe\r\n", MAX).is_err());
    }

    #[test]
    fn encodes() {
        let mut b = Vec::new();
        encode_pub(&mut b, "a", None, None, b"hi");
        encode_pub(&mut b, "a", Some("r"), None, b"");
        encode_sub(&mut b, "x.*", Some("q"), 3);
        encode_sub(&mut b, "y", None, 10);
        encode_unsub(&mut b, 3, Some(5));
        encode_unsub(&mut b, 0, None);
        encode_ping(&mut b);
        encode_pong(&mut b);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "PUB a 2\r\nhi\r\nPUB a r 0\r\n\r\nSUB x.* q 3\r\nSUB y 10\r\nUNSUB 3 5\r\nUNSUB 0\r\nPING\r\nPONG\r\n"
        );
        let mut h = HeaderMap::new();
        h.insert("A", "b");
        let mut b = Vec::new();
        encode_pub(&mut b, "s", Some("r"), Some(&h), b"xyz");
        assert_eq!(&b[..], b"HPUB s r 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nxyz\r\n");
        assert_eq!(body_len(Some(&h), b"xyz"), 21);
    }

    #[test]
    fn subjects() {
        assert!(check_subject("a.b.>").is_ok());
        assert!(check_subject("").is_err());
        assert!(check_subject("a b").is_err());
        assert!(check_subject("a\r\n").is_err());
    }
}
