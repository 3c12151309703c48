//! The Memcached text protocol, sans I/O: commands are encoded into a
//! `Vec<u8>`, replies are decoded from a byte slice. No sockets here.
//!
//! [`decode`] reads one reply *unit*: a status line (`STORED`, `END`, a
//! number…) or a line with its data block (`VALUE … \r\n<data>\r\n`,
//! meta `VA …`). A `get` of three keys therefore decodes as up to three
//! [`Reply::Value`]s followed by [`Reply::End`]; the caller drives the loop.
//!
//! ```
//! use fibra_memcache::proto::{self, Reply, Status};
//!
//! let mut buf = Vec::new();
//! proto::encode_get(&mut buf, false, [b"k".as_slice()]);
//! assert_eq!(buf, b"get k\r\n");
//!
//! let wire = b"VALUE k 5 3\r\nabc\r\nEND\r\n";
//! let Status::Complete(Reply::Value(v), n) = proto::decode(wire).unwrap() else { panic!() };
//! assert_eq!((v.key, v.flags, v.data), (&b"k"[..], 5, &b"abc"[..]));
//! assert_eq!(proto::decode(&wire[n..]).unwrap(), Status::Complete(Reply::End, 5));
//! assert_eq!(proto::decode(&wire[..8]).unwrap(), Status::Partial);
//! ```

use std::fmt;

/// Longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;
/// Largest data block [`decode`] accepts (memcached's own ceiling for `-I`).
pub const MAX_VALUE_LEN: usize = 1 << 30;
/// Longest reply line [`decode`] waits for before calling the stream broken.
pub const MAX_LINE_LEN: usize = 8 * 1024;

/// What [`decode`] found at the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole reply and the number of bytes it used.
    Complete(T, usize),
    /// The buffer ends inside a reply: read more and decode again from the
    /// same start.
    Partial,
}

/// One item of a `get`/`gets`/`gat`/`gats` reply, borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// The key as the server echoed it.
    pub key: &'a [u8],
    /// The opaque 32-bit flags stored with the item.
    pub flags: u32,
    /// The CAS unique, present for `gets`/`gats`.
    pub cas: Option<u64>,
    /// The data block, without its trailing `\r\n`.
    pub data: &'a [u8],
}

/// A meta-command reply (`HD`, `VA`, `EN`, `NF`, `NS`, `EX`, `MN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta<'a> {
    /// The two-letter status code, e.g. `*b"VA"`.
    pub code: [u8; 2],
    /// The return flags after the code (and size), space-separated.
    pub flags: &'a [u8],
    /// The data block of a `VA` reply.
    pub data: Option<&'a [u8]>,
}

/// One decoded reply unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// `VALUE <key> <flags> <bytes> [<cas>]` and its data block.
    Value(Value<'a>),
    /// `END`: the last line of a retrieval or `stats` reply.
    End,
    /// `STORED`.
    Stored,
    /// `NOT_STORED`: the condition of `add`/`replace`/`append`/`prepend`
    /// failed.
    NotStored,
    /// `EXISTS`: a `cas` lost to a newer write.
    Exists,
    /// `NOT_FOUND`.
    NotFound,
    /// `DELETED`.
    Deleted,
    /// `TOUCHED`.
    Touched,
    /// `OK` (`flush_all`, `verbosity`).
    Ok,
    /// The new value after `incr`/`decr`.
    Number(u64),
    /// `STAT <name> <value>`, one line of a `stats` reply.
    Stat {
        /// The statistic's name.
        name: &'a [u8],
        /// Its value, the rest of the line.
        value: &'a [u8],
    },
    /// `VERSION <version>`.
    Version(&'a [u8]),
    /// `ERROR [<message>]`: the server did not know the command.
    Error(&'a [u8]),
    /// `CLIENT_ERROR <message>`: the request was malformed.
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <message>`: the server could not carry it out.
    ServerError(&'a [u8]),
    /// A meta-command reply.
    Meta(Meta<'a>),
}

/// A reply the decoder cannot make sense of: the stream is out of step and
/// the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError {
    msg: &'static str,
}

impl ProtoError {
    fn new(msg: &'static str) -> ProtoError {
        ProtoError { msg }
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed memcached reply: {}", self.msg)
    }
}

impl std::error::Error for ProtoError {}

/// Why a key was refused before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty.
    Empty,
    /// The key is longer than [`MAX_KEY_LEN`] bytes (its length).
    TooLong(usize),
    /// The key holds a space or a control character (the byte and its
    /// position).
    BadByte(u8, usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("invalid memcached key: empty"),
            KeyError::TooLong(n) => write!(
                f,
                "invalid memcached key: {n} bytes, the limit is {MAX_KEY_LEN}"
            ),
            KeyError::BadByte(b, at) => write!(
                f,
                "invalid memcached key: byte {b:#04x} at {at} (spaces and control characters are not allowed)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks a key: 1 to 250 bytes, none of them a space or an ASCII control
/// character (bytes above 0x7f, e.g. UTF-8, are allowed, as memcached does).
///
/// # Errors
/// The first rule the key breaks.
pub fn validate_key(key: &[u8]) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    match key.iter().position(|&b| b <= b' ' || b == 0x7f) {
        Some(at) => Err(KeyError::BadByte(key[at], at)),
        None => Ok(()),
    }
}

/// The storage commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCommand {
    /// Store unconditionally.
    Set,
    /// Store only if the key is absent.
    Add,
    /// Store only if the key is present.
    Replace,
    /// Add the data after the existing value (flags and expiry ignored).
    Append,
    /// Add the data before the existing value (flags and expiry ignored).
    Prepend,
    /// Store only if the item's CAS unique is still this one.
    Cas(u64),
}

impl StoreCommand {
    fn name(self) -> &'static [u8] {
        match self {
            StoreCommand::Set => b"set",
            StoreCommand::Add => b"add",
            StoreCommand::Replace => b"replace",
            StoreCommand::Append => b"append",
            StoreCommand::Prepend => b"prepend",
            StoreCommand::Cas(_) => b"cas",
        }
    }
}

fn push_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn push_arg_u64(buf: &mut Vec<u8>, n: u64) {
    buf.push(b' ');
    push_u64(buf, n);
}

/// `get <key>*` (or `gets` when `cas`). Keys are written as given: check
/// them with [`validate_key`] first.
pub fn encode_get<K: AsRef<[u8]>>(buf: &mut Vec<u8>, cas: bool, keys: impl IntoIterator<Item = K>) {
    buf.extend_from_slice(if cas { b"gets" } else { b"get" });
    for k in keys {
        buf.push(b' ');
        buf.extend_from_slice(k.as_ref());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `gat <exptime> <key>*` (or `gats` when `cas`): get and touch.
pub fn encode_gat<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    cas: bool,
    exptime: u32,
    keys: impl IntoIterator<Item = K>,
) {
    buf.extend_from_slice(if cas { b"gats" } else { b"gat" });
    push_arg_u64(buf, exptime.into());
    for k in keys {
        buf.push(b' ');
        buf.extend_from_slice(k.as_ref());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `<cmd> <key> <flags> <exptime> <bytes> [<cas>]\r\n<data>\r\n`.
pub fn encode_store(
    buf: &mut Vec<u8>,
    cmd: StoreCommand,
    key: &[u8],
    flags: u32,
    exptime: u32,
    data: &[u8],
) {
    buf.reserve(key.len() + data.len() + 48);
    buf.extend_from_slice(cmd.name());
    buf.push(b' ');
    buf.extend_from_slice(key);
    push_arg_u64(buf, flags.into());
    push_arg_u64(buf, exptime.into());
    push_arg_u64(buf, data.len() as u64);
    if let StoreCommand::Cas(unique) = cmd {
        push_arg_u64(buf, unique);
    }
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// `delete <key>`.
pub fn encode_delete(buf: &mut Vec<u8>, key: &[u8]) {
    buf.extend_from_slice(b"delete ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b"\r\n");
}

/// `incr <key> <delta>` (or `decr` when `!incr`).
pub fn encode_arith(buf: &mut Vec<u8>, incr: bool, key: &[u8], delta: u64) {
    buf.extend_from_slice(if incr { b"incr " } else { b"decr " });
    buf.extend_from_slice(key);
    push_arg_u64(buf, delta);
    buf.extend_from_slice(b"\r\n");
}

/// `ma <key> N<exptime> J<initial> D<delta> [MD] v`: meta arithmetic that
/// creates a missing counter at `initial` (no change applied) in the same
/// round trip. Replies [`Reply::Meta`] `VA` with the new value.
pub fn encode_meta_arith(
    buf: &mut Vec<u8>,
    incr: bool,
    key: &[u8],
    delta: u64,
    initial: u64,
    exptime: u32,
) {
    buf.extend_from_slice(b"ma ");
    buf.extend_from_slice(key);
    buf.extend_from_slice(b" N");
    push_u64(buf, exptime.into());
    buf.extend_from_slice(b" J");
    push_u64(buf, initial);
    buf.extend_from_slice(b" D");
    push_u64(buf, delta);
    if !incr {
        buf.extend_from_slice(b" MD");
    }
    buf.extend_from_slice(b" v\r\n");
}

/// `touch <key> <exptime>`.
pub fn encode_touch(buf: &mut Vec<u8>, key: &[u8], exptime: u32) {
    buf.extend_from_slice(b"touch ");
    buf.extend_from_slice(key);
    push_arg_u64(buf, exptime.into());
    buf.extend_from_slice(b"\r\n");
}

/// `flush_all [<delay>]`.
pub fn encode_flush_all(buf: &mut Vec<u8>, delay: Option<u32>) {
    buf.extend_from_slice(b"flush_all");
    if let Some(d) = delay {
        push_arg_u64(buf, d.into());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `stats [<group>]` (`group` such as `items` or `slabs`; written as
/// given).
pub fn encode_stats(buf: &mut Vec<u8>, group: Option<&str>) {
    buf.extend_from_slice(b"stats");
    if let Some(g) = group {
        buf.push(b' ');
        buf.extend_from_slice(g.as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `version`.
pub fn encode_version(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"version\r\n");
}

fn parse_u64(s: &[u8]) -> Result<u64, ProtoError> {
    if s.is_empty() || s.len() > 20 {
        return Err(ProtoError::new("bad number"));
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(ProtoError::new("bad number"));
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ProtoError::new("number out of range"))
    })
}

fn parse_u32(s: &[u8]) -> Result<u32, ProtoError> {
    u32::try_from(parse_u64(s)?).map_err(|_| ProtoError::new("flags out of range"))
}

fn parse_len(s: &[u8]) -> Result<usize, ProtoError> {
    let n = parse_u64(s)?;
    if n > MAX_VALUE_LEN as u64 {
        return Err(ProtoError::new("data block too large"));
    }
    Ok(n as usize)
}

/// Splits `line` at the first space: (word, rest without the space).
fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

/// The data block of `n` bytes after a line of `line_len` bytes (with its
/// `\r\n`), and the total length of the unit.
fn data_block(buf: &[u8], line_len: usize, n: usize) -> Result<Option<(&[u8], usize)>, ProtoError> {
    let end = line_len + n;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtoError::new("data block not followed by CRLF"));
    }
    Ok(Some((&buf[line_len..end], end + 2)))
}

/// Decodes the reply unit at the start of `buf`.
///
/// # Errors
/// [`ProtoError`] when the bytes are not a memcached reply (or a line runs
/// past [`MAX_LINE_LEN`] without its `\r\n`, or a data block past
/// [`MAX_VALUE_LEN`]); the connection is then out of step.
pub fn decode(buf: &[u8]) -> Result<Status<Reply<'_>>, ProtoError> {
    let scan = &buf[..buf.len().min(MAX_LINE_LEN)];
    let Some(nl) = scan.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_LINE_LEN {
            Err(ProtoError::new("line too long"))
        } else {
            Ok(Status::Partial)
        };
    };
    if nl == 0 || buf[nl - 1] != b'\r' {
        return Err(ProtoError::new("line not ended by CRLF"));
    }
    let line = &buf[..nl - 1];
    let line_len = nl + 1;
    let done = |r| Ok(Status::Complete(r, line_len));
    let (word, rest) = split_word(line);
    match word {
        b"VALUE" => {
            let mut it = rest.split(|&b| b == b' ');
            let key = it.next().filter(|k| !k.is_empty());
            let key = key.ok_or(ProtoError::new("VALUE without a key"))?;
            let flags = parse_u32(it.next().unwrap_or_default())?;
            let n = parse_len(it.next().unwrap_or_default())?;
            let cas = it.next().map(parse_u64).transpose()?;
            if it.next().is_some() {
                return Err(ProtoError::new("VALUE line has extra fields"));
            }
            Ok(match data_block(buf, line_len, n)? {
                Some((data, total)) => Status::Complete(
                    Reply::Value(Value {
                        key,
                        flags,
                        cas,
                        data,
                    }),
                    total,
                ),
                None => Status::Partial,
            })
        }
        b"VA" => {
            let (size, flags) = split_word(rest);
            let n = parse_len(size)?;
            Ok(match data_block(buf, line_len, n)? {
                Some((data, total)) => Status::Complete(
                    Reply::Meta(Meta {
                        code: *b"VA",
                        flags,
                        data: Some(data),
                    }),
                    total,
                ),
                None => Status::Partial,
            })
        }
        b"HD" | b"EN" | b"NF" | b"NS" | b"EX" | b"MN" => done(Reply::Meta(Meta {
            code: [word[0], word[1]],
            flags: rest,
            data: None,
        })),
        b"END" if rest.is_empty() => done(Reply::End),
        b"STORED" if rest.is_empty() => done(Reply::Stored),
        b"NOT_STORED" if rest.is_empty() => done(Reply::NotStored),
        b"EXISTS" if rest.is_empty() => done(Reply::Exists),
        b"NOT_FOUND" if rest.is_empty() => done(Reply::NotFound),
        b"DELETED" if rest.is_empty() => done(Reply::Deleted),
        b"TOUCHED" if rest.is_empty() => done(Reply::Touched),
        b"OK" if rest.is_empty() => done(Reply::Ok),
        b"ERROR" => done(Reply::Error(rest)),
        b"CLIENT_ERROR" => done(Reply::ClientError(rest)),
        b"SERVER_ERROR" => done(Reply::ServerError(rest)),
        b"VERSION" => done(Reply::Version(rest)),
        b"STAT" => {
            let (name, value) = split_word(rest);
            if name.is_empty() {
                return Err(ProtoError::new("STAT without a name"));
            }
            done(Reply::Stat { name, value })
        }
        // Some servers pad an in-place incr/decr result with spaces.
        w if w.first().is_some_and(u8::is_ascii_digit) && rest.iter().all(|&b| b == b' ') => {
            done(Reply::Number(parse_u64(w)?))
        }
        _ => Err(ProtoError::new("unknown reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Reply<'_>, usize) {
        match decode(buf) {
            Ok(Status::Complete(r, n)) => (r, n),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn encodes_commands() {
        let mut b = Vec::new();
        encode_get(&mut b, true, ["a", "b"]);
        encode_gat(&mut b, false, 10, ["a"]);
        encode_store(&mut b, StoreCommand::Set, b"k", 7, 0, b"v\r\n");
        encode_store(&mut b, StoreCommand::Cas(99), b"k", 0, 30, b"");
        encode_delete(&mut b, b"k");
        encode_arith(&mut b, false, b"n", 18446744073709551615);
        encode_meta_arith(&mut b, true, b"n", 2, 5, 60);
        encode_touch(&mut b, b"k", 1);
        encode_flush_all(&mut b, None);
        encode_flush_all(&mut b, Some(5));
        encode_stats(&mut b, Some("items"));
        encode_version(&mut b);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "gets a b\r\ngat 10 a\r\nset k 7 0 3\r\nv\r\n\r\ncas k 0 30 0 99\r\n\r\n\
             delete k\r\ndecr n 18446744073709551615\r\nma n N60 J5 D2 v\r\ntouch k 1\r\n\
             flush_all\r\nflush_all 5\r\nstats items\r\nversion\r\n"
        );
    }

    #[test]
    fn decodes_status_lines() {
        for (wire, want) in [
            (&b"END\r\n"[..], Reply::End),
            (b"STORED\r\n", Reply::Stored),
            (b"NOT_STORED\r\n", Reply::NotStored),
            (b"EXISTS\r\n", Reply::Exists),
            (b"NOT_FOUND\r\n", Reply::NotFound),
            (b"DELETED\r\n", Reply::Deleted),
            (b"TOUCHED\r\n", Reply::Touched),
            (b"OK\r\n", Reply::Ok),
            (b"ERROR\r\n", Reply::Error(b"")),
            (
                b"CLIENT_ERROR bad data chunk\r\n",
                Reply::ClientError(b"bad data chunk"),
            ),
            (
                b"SERVER_ERROR out of memory\r\n",
                Reply::ServerError(b"out of memory"),
            ),
            (b"VERSION 1.6.18\r\n", Reply::Version(b"1.6.18")),
            (b"42\r\n", Reply::Number(42)),
            (b"7   \r\n", Reply::Number(7)),
            (
                b"STAT libevent 2.1.12-stable x\r\n",
                Reply::Stat {
                    name: b"libevent",
                    value: b"2.1.12-stable x",
                },
            ),
            (
                b"HD c5\r\n",
                Reply::Meta(Meta {
                    code: *b"HD",
                    flags: b"c5",
                    data: None,
                }),
            ),
        ] {
            assert_eq!(complete(wire), (want, wire.len()));
        }
    }

    #[test]
    fn decodes_values_binary_safe() {
        let wire = b"VALUE k 4294967295 5 12\r\na\r\nb\0\r\nEND\r\n";
        let (r, n) = complete(wire);
        assert_eq!(
            r,
            Reply::Value(Value {
                key: b"k",
                flags: u32::MAX,
                cas: Some(12),
                data: b"a\r\nb\0",
            })
        );
        assert_eq!(complete(&wire[n..]), (Reply::End, 5));
        let va = b"VA 2 t\r\n15\r\n";
        assert_eq!(
            complete(va),
            (
                Reply::Meta(Meta {
                    code: *b"VA",
                    flags: b"t",
                    data: Some(b"15"),
                }),
                va.len()
            )
        );
    }

    #[test]
    fn partial_until_whole() {
        let wire = b"VALUE key 0 10\r\n0123456789\r\n";
        for cut in 0..wire.len() {
            assert_eq!(decode(&wire[..cut]), Ok(Status::Partial), "cut {cut}");
        }
        assert!(matches!(decode(wire), Ok(Status::Complete(_, 28))));
    }

    #[test]
    fn rejects_garbage() {
        for wire in [
            &b"HELLO\r\n"[..],
            b"END\n",
            b"\r\n",
            b"STORED x\r\n",
            b"VALUE k x 1\r\na\r\n",
            b"VALUE k 0 1 2 3\r\na\r\n",
            b"VALUE k 4294967296 1\r\na\r\n",
            b"VALUE k 0 1\r\nab\r\n",
            b"VALUE k 0 99999999999\r\n",
            b"VALUE  0 1\r\na\r\n",
            b"99999999999999999999999\r\n",
            b"STAT\r\n",
        ] {
            assert!(decode(wire).is_err(), "{:?}", String::from_utf8_lossy(wire));
        }
        assert!(decode(&[b'x'; MAX_LINE_LEN]).is_err());
        assert_eq!(decode(&[b'x'; MAX_LINE_LEN - 1]), Ok(Status::Partial));
    }

    #[test]
    fn validates_keys() {
        assert_eq!(validate_key(b"user:42"), Ok(()));
        assert_eq!(validate_key("clé".as_bytes()), Ok(()));
        assert_eq!(validate_key(&[b'a'; 250]), Ok(()));
        assert_eq!(validate_key(&[b'a'; 251]), Err(KeyError::TooLong(251)));
        assert_eq!(validate_key(b""), Err(KeyError::Empty));
        assert_eq!(validate_key(b"a b"), Err(KeyError::BadByte(b' ', 1)));
        assert_eq!(validate_key(b"a\r\n"), Err(KeyError::BadByte(b'\r', 1)));
        assert_eq!(validate_key(b"\0"), Err(KeyError::BadByte(0, 0)));
        assert_eq!(validate_key(b"a\x7f"), Err(KeyError::BadByte(0x7f, 1)));
    }
}
