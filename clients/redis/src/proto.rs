//! The RESP2/RESP3 wire format, sans I/O: commands are encoded into a
//! `Vec<u8>`, replies decoded from a byte slice. No sockets here.
//!
//! [`decode`] returns [`Decoded::Complete`] with the value and the bytes it
//! took, or [`Decoded::Partial`] when more input is needed. [`Limits`]
//! bound nesting depth, bulk and aggregate lengths and line lengths, so a
//! broken or hostile server cannot make the client allocate without bound:
//! nothing is allocated for a bulk string before all its bytes are there,
//! and aggregates reserve no more slots than the input could fill.
//!
//! [`Scanner`] finds where a reply ends without building it, resumably, so
//! a large reply arriving in many reads is walked once, not once per read.

use std::fmt;

use crate::error::ServerError;

/// A reply from the server (RESP2 or RESP3).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nil: RESP2 `$-1`/`*-1`, RESP3 `_`.
    Nil,
    /// An integer (`:`).
    Int(i64),
    /// A bulk string (`$`): binary-safe bytes.
    Bulk(Vec<u8>),
    /// A simple string (`+`), such as `OK`.
    Simple(String),
    /// An error reply (`-` or RESP3 `!`). At top level a reply like this is
    /// turned into [`Error`](crate::Error); inside arrays (EXEC,
    /// pipelines) it stays a value.
    Error(ServerError),
    /// An array (`*`).
    Array(Vec<Value>),
    /// A RESP3 map (`%`), in the server's order.
    Map(Vec<(Value, Value)>),
    /// A RESP3 set (`~`).
    Set(Vec<Value>),
    /// A RESP3 double (`,`).
    Double(f64),
    /// A RESP3 boolean (`#`).
    Bool(bool),
    /// A RESP3 big number (`(`), as its decimal digits.
    BigNumber(String),
    /// A RESP3 verbatim string (`=`): a three-letter format (`txt`, `mkd`)
    /// and the text.
    Verbatim {
        /// The format, such as `txt`.
        format: String,
        /// The text.
        text: String,
    },
    /// A RESP3 push message (`>`): pub/sub messages, invalidations.
    Push(Vec<Value>),
}

/// Bounds on what [`decode`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of aggregates (arrays, maps, sets, pushes).
    pub max_depth: usize,
    /// Longest bulk string, in bytes.
    pub max_bulk_len: usize,
    /// Most elements in one aggregate (pairs for a map).
    pub max_aggregate_len: usize,
    /// Longest line (simple string, error, number), without CRLF.
    pub max_line_len: usize,
    /// Most bytes of one whole reply, which is buffered before it is
    /// decoded; a larger reply fails with a protocol error.
    pub max_reply_len: usize,
}

impl Default for Limits {
    /// Depth 64, bulk strings up to 512 MiB (Redis's own
    /// `proto-max-bulk-len`), 2^32 elements per aggregate, 64 KiB lines,
    /// replies up to 1 GiB.
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_bulk_len: 512 << 20,
            max_aggregate_len: 1 << 32,
            max_line_len: 64 << 10,
            max_reply_len: 1 << 30,
        }
    }
}

/// The outcome of [`decode`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A whole value and how many input bytes it took.
    Complete(Value, usize),
    /// The input ends inside a value: read more and call again.
    Partial,
}

/// Input that is not RESP, or breaks a [`Limits`] bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    msg: String,
}

impl ProtocolError {
    fn new(msg: impl Into<String>) -> ProtocolError {
        ProtocolError { msg: msg.into() }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP protocol error: {}", self.msg)
    }
}

impl std::error::Error for ProtocolError {}

/// Decodes one value from the front of `buf`.
///
/// # Errors
/// [`ProtocolError`] for input that is not RESP (unknown type byte, bad
/// number, missing CRLF) or that breaks one of `limits`.
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Decoded, ProtocolError> {
    let p = Parser { buf, limits };
    Ok(match p.value(0, 0)? {
        Some((v, end)) => Decoded::Complete(v, end),
        None => Decoded::Partial,
    })
}

type Step<T> = Result<Option<(T, usize)>, ProtocolError>;

struct Parser<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
}

/// Finds the CRLF-terminated line starting at `pos`: `Some((line, next))`.
fn line(buf: &[u8], pos: usize, max: usize) -> Step<&[u8]> {
    let rest = &buf[pos.min(buf.len())..];
    match rest.iter().position(|&b| b == b'\r') {
        Some(i) if i > max => Err(ProtocolError::new("line too long")),
        Some(i) => match rest.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((&rest[..i], pos + i + 2))),
            Some(_) => Err(ProtocolError::new("CR not followed by LF")),
        },
        None if rest.len() > max => Err(ProtocolError::new("line too long")),
        None => Ok(None),
    }
}

fn parse_int(s: &[u8]) -> Result<i64, ProtocolError> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(ProtocolError::new("bad integer"));
    }
    let mut n: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(ProtocolError::new("bad integer"));
        }
        let d = i64::from(c - b'0');
        n = if neg {
            n.checked_mul(10).and_then(|n| n.checked_sub(d))
        } else {
            n.checked_mul(10).and_then(|n| n.checked_add(d))
        }
        .ok_or_else(|| ProtocolError::new("integer overflow"))?;
    }
    Ok(n)
}

/// A length header: `None` for -1 (nil), an error for other negatives or
/// lengths above `max`.
fn parse_len(s: &[u8], max: usize, what: &str) -> Result<Option<usize>, ProtocolError> {
    let n = parse_int(s)?;
    if n == -1 {
        return Ok(None);
    }
    let n =
        usize::try_from(n).map_err(|_| ProtocolError::new(format!("negative {what} length")))?;
    if n > max {
        return Err(ProtocolError::new(format!(
            "{what} length {n} over the limit {max}"
        )));
    }
    Ok(Some(n))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Parser<'_> {
    fn line(&self, pos: usize) -> Step<&[u8]> {
        line(self.buf, pos, self.limits.max_line_len)
    }

    /// The `len` bytes of a blob at `pos`, followed by CRLF.
    fn blob(&self, pos: usize, len: usize) -> Step<&[u8]> {
        let end = pos.checked_add(len).and_then(|e| e.checked_add(2));
        match end {
            Some(end) if end <= self.buf.len() => {
                if &self.buf[end - 2..end] != b"\r\n" {
                    return Err(ProtocolError::new("bulk string not followed by CRLF"));
                }
                Ok(Some((&self.buf[pos..pos + len], end)))
            }
            Some(_) => Ok(None),
            None => Err(ProtocolError::new("bulk length overflow")),
        }
    }

    fn value(&self, pos: usize, depth: usize) -> Step<Value> {
        let Some(&tag) = self.buf.get(pos) else {
            return Ok(None);
        };
        let Some((head, next)) = self.line(pos + 1)? else {
            return Ok(None);
        };
        let v = match tag {
            b'+' => (Value::Simple(text(head)), next),
            b'-' => (Value::Error(ServerError::new(text(head))), next),
            b':' => (Value::Int(parse_int(head)?), next),
            b'(' => {
                let ok = !head.is_empty()
                    && head
                        .iter()
                        .enumerate()
                        .all(|(i, c)| c.is_ascii_digit() || (i == 0 && (*c == b'-' || *c == b'+')));
                if !ok {
                    return Err(ProtocolError::new("bad big number"));
                }
                (Value::BigNumber(text(head)), next)
            }
            b'_' => {
                if !head.is_empty() {
                    return Err(ProtocolError::new("bad null"));
                }
                (Value::Nil, next)
            }
            b'#' => match head {
                b"t" => (Value::Bool(true), next),
                b"f" => (Value::Bool(false), next),
                _ => return Err(ProtocolError::new("bad boolean")),
            },
            b',' => (Value::Double(parse_double(head)?), next),
            b'$' | b'!' | b'=' => {
                if head == b"?" {
                    return Err(ProtocolError::new("streamed strings are not supported"));
                }
                let Some(len) = parse_len(head, self.limits.max_bulk_len, "bulk")? else {
                    if tag == b'$' {
                        return Ok(Some((Value::Nil, next)));
                    }
                    return Err(ProtocolError::new("negative blob length"));
                };
                let Some((data, end)) = self.blob(next, len)? else {
                    return Ok(None);
                };
                let v = match tag {
                    b'$' => Value::Bulk(data.to_vec()),
                    b'!' => Value::Error(ServerError::new(text(data))),
                    _ => {
                        if data.len() < 4 || data[3] != b':' {
                            return Err(ProtocolError::new("bad verbatim string"));
                        }
                        Value::Verbatim {
                            format: text(&data[..3]),
                            text: text(&data[4..]),
                        }
                    }
                };
                (v, end)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                if head == b"?" {
                    return Err(ProtocolError::new("streamed aggregates are not supported"));
                }
                if depth >= self.limits.max_depth {
                    return Err(ProtocolError::new("nesting too deep"));
                }
                let Some(n) = parse_len(head, self.limits.max_aggregate_len, "aggregate")? else {
                    if tag == b'*' {
                        return Ok(Some((Value::Nil, next)));
                    }
                    return Err(ProtocolError::new("negative aggregate length"));
                };
                // Every element takes at least 3 bytes (":0\r\n" is 4), so
                // never reserve more than the input could hold.
                let room = (self.buf.len() - next) / 3 + 1;
                let mut at = next;
                if tag == b'%' || tag == b'|' {
                    let mut pairs = Vec::with_capacity(n.min(room / 2));
                    for _ in 0..n {
                        let Some((k, a)) = self.value(at, depth + 1)? else {
                            return Ok(None);
                        };
                        let Some((v, b)) = self.value(a, depth + 1)? else {
                            return Ok(None);
                        };
                        pairs.push((k, v));
                        at = b;
                    }
                    if tag == b'|' {
                        // An attribute annotates the value after it; the
                        // client has no use for it and drops it.
                        return self.value(at, depth);
                    }
                    (Value::Map(pairs), at)
                } else {
                    let mut items = Vec::with_capacity(n.min(room));
                    for _ in 0..n {
                        let Some((v, a)) = self.value(at, depth + 1)? else {
                            return Ok(None);
                        };
                        items.push(v);
                        at = a;
                    }
                    let v = match tag {
                        b'*' => Value::Array(items),
                        b'~' => Value::Set(items),
                        _ => Value::Push(items),
                    };
                    (v, at)
                }
            }
            _ => return Err(ProtocolError::new(format!("unknown type byte 0x{tag:02x}"))),
        };
        Ok(Some(v))
    }
}

fn parse_double(s: &[u8]) -> Result<f64, ProtocolError> {
    let bad = || ProtocolError::new("bad double");
    let s = std::str::from_utf8(s).map_err(|_| bad())?;
    match s {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ if s
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c)) =>
        {
            s.parse().map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Finds where one reply ends without building it, resumably: call
/// [`Scanner::scan`] with the growing input (same start, more bytes) until
/// it returns the reply's length, then [`decode`] once.
///
/// It checks the length limits but not nesting depth; [`decode`] does.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    pos: usize,
    pending: usize,
}

impl Scanner {
    /// A scanner at the start of a reply.
    pub fn new() -> Scanner {
        Scanner { pos: 0, pending: 1 }
    }

    /// Walks on through `buf` (which must start where the reply does and
    /// extend the input of earlier calls) and returns `Some(len)` once the
    /// reply is complete, resetting itself for the next reply.
    ///
    /// # Errors
    /// [`ProtocolError`] for input that is not RESP or breaks `limits`.
    pub fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ProtocolError> {
        if self.pending == 0 {
            *self = Scanner::new();
        }
        while self.pending > 0 {
            let Some(&tag) = buf.get(self.pos) else {
                return Ok(None);
            };
            let Some((head, next)) = line(buf, self.pos + 1, limits.max_line_len)? else {
                return Ok(None);
            };
            let mut end = next;
            let mut add = 0usize;
            match tag {
                b'+' | b'-' | b':' | b'(' | b'_' | b'#' | b',' => {}
                b'$' | b'!' | b'=' => {
                    if let Some(len) = parse_len(head, limits.max_bulk_len, "bulk")? {
                        end = next
                            .checked_add(len)
                            .and_then(|e| e.checked_add(2))
                            .ok_or_else(|| ProtocolError::new("bulk length overflow"))?;
                        if end > buf.len() {
                            return Ok(None);
                        }
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let n = parse_len(head, limits.max_aggregate_len, "aggregate")?.unwrap_or(0);
                    add = if tag == b'%' || tag == b'|' { n * 2 } else { n };
                }
                _ => return Err(ProtocolError::new(format!("unknown type byte 0x{tag:02x}"))),
            }
            self.pos = end;
            // An attribute is followed by the value it annotates.
            let done = usize::from(tag != b'|');
            self.pending = self.pending - done + add;
        }
        let len = self.pos;
        self.pos = 0;
        Ok(Some(len))
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn push_len(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string (`$len\r\nbytes\r\n`): a command argument.
pub fn encode_bulk(arg: &[u8], out: &mut Vec<u8>) {
    push_len(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// Appends a command: an array of bulk strings, the name first.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    push_len(out, b'*', args.len());
    for a in args {
        encode_bulk(a.as_ref(), out);
    }
}

/// Appends a value as a RESP3 server would send it (RESP2 for the types
/// RESP2 has). Simple strings and error lines must hold no CR or LF. For
/// tests, fuzzing and fake servers.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    let line = |out: &mut Vec<u8>, tag: u8, s: &str| {
        out.push(tag);
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    match v {
        Value::Nil => out.extend_from_slice(b"_\r\n"),
        Value::Int(n) => {
            out.push(b':');
            push_int(out, *n);
            out.extend_from_slice(b"\r\n");
        }
        Value::Bulk(b) => encode_bulk(b, out),
        Value::Simple(s) => line(out, b'+', s),
        Value::Error(e) => line(out, b'-', e.as_str()),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            let tag = match v {
                Value::Array(_) => b'*',
                Value::Set(_) => b'~',
                _ => b'>',
            };
            push_len(out, tag, items.len());
            for i in items {
                encode_value(i, out);
            }
        }
        Value::Map(pairs) => {
            push_len(out, b'%', pairs.len());
            for (k, v) in pairs {
                encode_value(k, out);
                encode_value(v, out);
            }
        }
        Value::Double(d) => {
            let s = if d.is_nan() {
                "nan".to_owned()
            } else if d.is_infinite() {
                if *d > 0.0 { "inf" } else { "-inf" }.to_owned()
            } else {
                format!("{d:?}")
            };
            line(out, b',', &s);
        }
        Value::Bool(b) => line(out, b'#', if *b { "t" } else { "f" }),
        Value::BigNumber(n) => line(out, b'(', n),
        Value::Verbatim { format, text } => {
            push_len(out, b'=', format.len() + 1 + text.len());
            out.extend_from_slice(format.as_bytes());
            out.push(b':');
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(b: &[u8]) -> Result<Decoded, ProtocolError> {
        decode(b, &Limits::default())
    }

    fn full(b: &[u8]) -> Value {
        match dec(b).unwrap() {
            Decoded::Complete(v, n) => {
                assert_eq!(n, b.len(), "consumed");
                v
            }
            Decoded::Partial => panic!("partial: {:?}", String::from_utf8_lossy(b)),
        }
    }

    #[test]
    fn resp2_types() {
        assert_eq!(full(b"+OK\r\n"), Value::Simple("OK".into()));
        assert_eq!(full(b":-42\r\n"), Value::Int(-42));
        assert_eq!(full(b"$3\r\na\r\n\r\n"), Value::Bulk(b"a\r\n".to_vec()));
        assert_eq!(full(b"$0\r\n\r\n"), Value::Bulk(vec![]));
        assert_eq!(full(b"$-1\r\n"), Value::Nil);
        assert_eq!(full(b"*-1\r\n"), Value::Nil);
        assert_eq!(
            full(b"*2\r\n:1\r\n*1\r\n+x\r\n"),
            Value::Array(vec![
                Value::Int(1),
                Value::Array(vec![Value::Simple("x".into())])
            ])
        );
        let Value::Error(e) = full(b"-WRONGTYPE Operation against a key\r\n") else {
            panic!()
        };
        assert_eq!(e.code(), "WRONGTYPE");
        assert_eq!(e.message(), "Operation against a key");
    }

    #[test]
    fn resp3_types() {
        assert_eq!(full(b"_\r\n"), Value::Nil);
        assert_eq!(full(b"#t\r\n"), Value::Bool(true));
        assert_eq!(full(b",1.5\r\n"), Value::Double(1.5));
        assert_eq!(full(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
        assert_eq!(
            full(b"(-123456789012345678901\r\n"),
            Value::BigNumber("-123456789012345678901".into())
        );
        assert_eq!(
            full(b"=8\r\ntxt:abcd\r\n"),
            Value::Verbatim {
                format: "txt".into(),
                text: "abcd".into()
            }
        );
        assert_eq!(
            full(b"%1\r\n+a\r\n:1\r\n"),
            Value::Map(vec![(Value::Simple("a".into()), Value::Int(1))])
        );
        assert_eq!(full(b"~1\r\n:1\r\n"), Value::Set(vec![Value::Int(1)]));
        assert_eq!(full(b">1\r\n:1\r\n"), Value::Push(vec![Value::Int(1)]));
        assert!(matches!(full(b"!3\r\nERR\r\n"), Value::Error(e) if e.code() == "ERR"));
        // Attributes are dropped.
        assert_eq!(full(b"|1\r\n+ttl\r\n:3\r\n:7\r\n"), Value::Int(7));
        assert_eq!(
            full(b"*1\r\n|1\r\n+a\r\n:3\r\n:7\r\n"),
            Value::Array(vec![Value::Int(7)])
        );
    }

    #[test]
    fn partial_and_consumed() {
        assert_eq!(dec(b"").unwrap(), Decoded::Partial);
        assert_eq!(dec(b"+OK").unwrap(), Decoded::Partial);
        assert_eq!(dec(b"+OK\r").unwrap(), Decoded::Partial);
        assert_eq!(dec(b"$5\r\nab").unwrap(), Decoded::Partial);
        assert_eq!(dec(b"*2\r\n:1\r\n").unwrap(), Decoded::Partial);
        assert_eq!(
            dec(b":1\r\n:2\r\n").unwrap(),
            Decoded::Complete(Value::Int(1), 4)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"?x\r\n"[..],
            b":12a\r\n",
            b":\r\n",
            b":99999999999999999999\r\n",
            b"$-2\r\n",
            b"$2\r\nabc\r\n",
            b"+a\rb\r\n",
            b"#x\r\n",
            b",abc\r\n",
            b"=2\r\nab\r\n",
            b"_x\r\n",
            b"%-1\r\n",
            b"$?\r\n",
        ] {
            assert!(dec(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn limits_bound_memory() {
        let l = Limits {
            max_depth: 3,
            max_bulk_len: 10,
            max_aggregate_len: 5,
            max_line_len: 8,
            max_reply_len: 1 << 10,
        };
        assert!(decode(b"$11\r\n", &l).is_err());
        assert!(decode(b"$10\r\n", &l).unwrap() == Decoded::Partial);
        assert!(decode(b"*6\r\n", &l).is_err());
        assert!(decode(b"*1\r\n*1\r\n*1\r\n*1\r\n", &l).is_err());
        assert!(decode(b"*1\r\n*1\r\n*1\r\n:1\r\n", &l).is_ok());
        assert!(decode(b"+123456789", &l).is_err());
        assert!(decode(b"+123456789\r\n", &l).is_err());
        // A huge declared length with little input allocates little.
        let d = Limits::default();
        assert_eq!(
            decode(b"*4000000000\r\n:1\r\n", &d).unwrap(),
            Decoded::Partial
        );
        assert_eq!(decode(b"$500000000\r\nabc", &d).unwrap(), Decoded::Partial);
    }

    #[test]
    fn commands() {
        let mut out = Vec::new();
        encode_command(&["SET", "k", ""], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let mut n = Vec::new();
        push_int(&mut n, i64::MIN);
        assert_eq!(n, i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn scanner_matches_decode() {
        let l = Limits::default();
        let input: &[u8] = b"*3\r\n$3\r\nabc\r\n%1\r\n+k\r\n|1\r\n+a\r\n:1\r\n:2\r\n>0\r\n:9\r\n";
        let first = 4 + 9 + 4 + 4 + 4 + 4 + 4 + 4 + 4;
        for cut in 0..input.len() {
            let mut s = Scanner::new();
            let a = s.scan(&input[..cut], &l).unwrap();
            let b = s.scan(input, &l).unwrap();
            if cut >= first {
                assert_eq!(a, Some(first));
            } else {
                assert_eq!(a, None, "cut {cut}");
                assert_eq!(b, Some(first));
            }
        }
        let mut s = Scanner::new();
        assert_eq!(s.scan(input, &l).unwrap(), Some(first));
        assert_eq!(s.scan(&input[first..], &l).unwrap(), Some(4));
    }
}
