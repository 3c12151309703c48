//! The PostgreSQL frontend/backend wire protocol (version 3.0), sans I/O:
//! `encode_*` functions append a frontend message to a buffer, [`decode`]
//! splits one backend message off the front of a byte slice, borrowing from
//! it. No sockets, no runtime; malformed input is an error, never a panic.

use std::fmt;
use std::ops::Range;

/// Protocol version 3.0 as sent in the startup message.
pub const PROTOCOL_VERSION: i32 = 196_608;
/// The request code of an `SSLRequest`.
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// The request code of a `CancelRequest`.
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// Largest backend message accepted (1 GiB, the server's own limit).
pub const MAX_MESSAGE_LEN: usize = 1 << 30;

/// A malformed backend message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtoError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ProtoError> {
    Err(ProtoError(msg.into()))
}

// ---------------------------------------------------------------- encoding

/// Starts a tagged message; returns the offset of its length field.
fn begin(buf: &mut Vec<u8>, tag: u8) -> usize {
    buf.push(tag);
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    at
}

/// Patches the length field at `at` to cover everything written since.
fn finish(buf: &mut [u8], at: usize) {
    let len = i32::try_from(buf.len() - at).unwrap_or(i32::MAX);
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn cstr(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
}

/// `StartupMessage` with the given parameters (user, database, …).
pub fn encode_startup(buf: &mut Vec<u8>, params: &[(&str, &str)]) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    for (k, v) in params {
        cstr(buf, k);
        cstr(buf, v);
    }
    buf.push(0);
    finish(buf, at);
}

/// `SSLRequest`.
pub fn encode_ssl_request(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
}

/// `CancelRequest` for the backend `process_id` with its `secret_key`.
pub fn encode_cancel_request(buf: &mut Vec<u8>, process_id: i32, secret_key: i32) {
    buf.extend_from_slice(&16i32.to_be_bytes());
    buf.extend_from_slice(&CANCEL_REQUEST_CODE.to_be_bytes());
    buf.extend_from_slice(&process_id.to_be_bytes());
    buf.extend_from_slice(&secret_key.to_be_bytes());
}

/// `PasswordMessage` (cleartext or md5 hash).
pub fn encode_password(buf: &mut Vec<u8>, password: &[u8]) {
    let at = begin(buf, b'p');
    buf.extend_from_slice(password);
    buf.push(0);
    finish(buf, at);
}

/// `SASLInitialResponse`.
pub fn encode_sasl_initial(buf: &mut Vec<u8>, mechanism: &str, data: &[u8]) {
    let at = begin(buf, b'p');
    cstr(buf, mechanism);
    buf.extend_from_slice(&i32::try_from(data.len()).unwrap_or(i32::MAX).to_be_bytes());
    buf.extend_from_slice(data);
    finish(buf, at);
}

/// `SASLResponse`.
pub fn encode_sasl_response(buf: &mut Vec<u8>, data: &[u8]) {
    let at = begin(buf, b'p');
    buf.extend_from_slice(data);
    finish(buf, at);
}

/// `Query` (simple protocol).
pub fn encode_query(buf: &mut Vec<u8>, sql: &str) {
    let at = begin(buf, b'Q');
    cstr(buf, sql);
    finish(buf, at);
}

/// `Parse`: prepares `sql` as statement `name` with the given parameter
/// type OIDs (0 lets the server infer).
pub fn encode_parse(buf: &mut Vec<u8>, name: &str, sql: &str, param_types: &[u32]) {
    let at = begin(buf, b'P');
    cstr(buf, name);
    cstr(buf, sql);
    buf.extend_from_slice(&(param_types.len() as i16).to_be_bytes());
    for t in param_types {
        buf.extend_from_slice(&t.to_be_bytes());
    }
    finish(buf, at);
}

/// `Describe` of a statement (`b'S'`) or portal (`b'P'`).
pub fn encode_describe(buf: &mut Vec<u8>, kind: u8, name: &str) {
    let at = begin(buf, b'D');
    buf.push(kind);
    cstr(buf, name);
    finish(buf, at);
}

/// `Close` of a statement (`b'S'`) or portal (`b'P'`).
pub fn encode_close(buf: &mut Vec<u8>, kind: u8, name: &str) {
    let at = begin(buf, b'C');
    buf.push(kind);
    cstr(buf, name);
    finish(buf, at);
}

/// Writes the `Bind` parameter values; see [`encode_bind`].
pub enum BindParam<'a> {
    /// SQL NULL.
    Null,
    /// A binary-format value.
    Value(&'a [u8]),
}

/// `Bind` with every parameter and every result column in binary format.
/// `values` holds the parameters' encodings back to back; `ranges[i]` is
/// parameter i's slice of it, `None` for NULL.
pub fn encode_bind(
    buf: &mut Vec<u8>,
    portal: &str,
    statement: &str,
    values: &[u8],
    ranges: &[Option<Range<usize>>],
) {
    let at = begin(buf, b'B');
    cstr(buf, portal);
    cstr(buf, statement);
    // One format code applying to all parameters: binary.
    buf.extend_from_slice(&1i16.to_be_bytes());
    buf.extend_from_slice(&1i16.to_be_bytes());
    buf.extend_from_slice(&(ranges.len() as i16).to_be_bytes());
    for r in ranges {
        match r {
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(r) => {
                buf.extend_from_slice(&(r.len() as i32).to_be_bytes());
                buf.extend_from_slice(&values[r.clone()]);
            }
        }
    }
    // One result format code for all columns: binary.
    buf.extend_from_slice(&1i16.to_be_bytes());
    buf.extend_from_slice(&1i16.to_be_bytes());
    finish(buf, at);
}

/// `Execute` of a portal, returning at most `max_rows` rows (0: all).
pub fn encode_execute(buf: &mut Vec<u8>, portal: &str, max_rows: i32) {
    let at = begin(buf, b'E');
    cstr(buf, portal);
    buf.extend_from_slice(&max_rows.to_be_bytes());
    finish(buf, at);
}

/// `Sync`.
pub fn encode_sync(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[b'S', 0, 0, 0, 4]);
}

/// `Flush`.
pub fn encode_flush(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[b'H', 0, 0, 0, 4]);
}

/// `Terminate`.
pub fn encode_terminate(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[b'X', 0, 0, 0, 4]);
}

/// `CopyData`.
pub fn encode_copy_data(buf: &mut Vec<u8>, data: &[u8]) {
    let at = begin(buf, b'd');
    buf.extend_from_slice(data);
    finish(buf, at);
}

/// `CopyDone`.
pub fn encode_copy_done(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[b'c', 0, 0, 0, 4]);
}

/// `CopyFail` with a reason.
pub fn encode_copy_fail(buf: &mut Vec<u8>, reason: &str) {
    let at = begin(buf, b'f');
    cstr(buf, reason);
    finish(buf, at);
}

// ---------------------------------------------------------------- decoding

/// A field of a `RowDescription`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// Column name.
    pub name: &'a str,
    /// OID of the source table, or 0.
    pub table_oid: u32,
    /// Attribute number in the source table, or 0.
    pub column_id: i16,
    /// OID of the column's type.
    pub type_oid: u32,
    /// `pg_type.typlen`.
    pub type_size: i16,
    /// Type modifier.
    pub type_modifier: i32,
    /// 0 text, 1 binary.
    pub format: i16,
}

/// One backend message, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `AuthenticationOk`.
    AuthenticationOk,
    /// `AuthenticationCleartextPassword`.
    AuthenticationCleartextPassword,
    /// `AuthenticationMD5Password` with its salt.
    AuthenticationMd5Password([u8; 4]),
    /// `AuthenticationSASL` with the NUL-separated mechanism list.
    AuthenticationSasl(&'a [u8]),
    /// `AuthenticationSASLContinue` with server data.
    AuthenticationSaslContinue(&'a [u8]),
    /// `AuthenticationSASLFinal` with server data.
    AuthenticationSaslFinal(&'a [u8]),
    /// Another authentication request (Kerberos, GSS, SSPI…), by code.
    AuthenticationOther(i32),
    /// `BackendKeyData`: process ID and secret key for cancel requests.
    BackendKeyData {
        /// Backend process ID.
        process_id: i32,
        /// Secret key.
        secret_key: i32,
    },
    /// `BindComplete`.
    BindComplete,
    /// `CloseComplete`.
    CloseComplete,
    /// `CommandComplete` with its tag (`INSERT 0 1`, `SELECT 5`, …).
    CommandComplete(&'a str),
    /// `CopyData`.
    CopyData(&'a [u8]),
    /// `CopyDone`.
    CopyDone,
    /// `CopyInResponse` (overall format, column count).
    CopyInResponse(i8, usize),
    /// `CopyOutResponse` (overall format, column count).
    CopyOutResponse(i8, usize),
    /// `CopyBothResponse`.
    CopyBothResponse,
    /// `DataRow`: the column count and the raw column data that follows.
    DataRow(DataRowBody<'a>),
    /// `EmptyQueryResponse`.
    EmptyQueryResponse,
    /// `ErrorResponse`.
    ErrorResponse(Fields<'a>),
    /// `NoData`.
    NoData,
    /// `NoticeResponse`.
    NoticeResponse(Fields<'a>),
    /// `NotificationResponse`.
    NotificationResponse {
        /// Process ID of the notifying backend.
        process_id: i32,
        /// Channel name.
        channel: &'a str,
        /// Payload.
        payload: &'a str,
    },
    /// `ParameterDescription`: the parameter type OIDs.
    ParameterDescription(Vec<u32>),
    /// `ParameterStatus`.
    ParameterStatus {
        /// Parameter name.
        name: &'a str,
        /// Its value.
        value: &'a str,
    },
    /// `ParseComplete`.
    ParseComplete,
    /// `PortalSuspended`.
    PortalSuspended,
    /// `ReadyForQuery` with the transaction status (`I`, `T` or `E`).
    ReadyForQuery(u8),
    /// `RowDescription`.
    RowDescription(Vec<FieldDescription<'a>>),
    /// `NegotiateProtocolVersion`: the newest minor version supported.
    NegotiateProtocolVersion(i32),
}

/// The columns of a `DataRow`, validated: each column's range in the body
/// is inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRowBody<'a> {
    /// The message body after the column count.
    pub data: &'a [u8],
    /// Column count.
    pub len: usize,
}

impl<'a> DataRowBody<'a> {
    /// Each column's range in `data`, `None` for NULL. Validated by
    /// [`decode`], so this never fails.
    pub fn ranges(&self) -> impl Iterator<Item = Option<Range<usize>>> + 'a {
        let data = self.data;
        let mut pos = 0usize;
        (0..self.len).map(move |_| {
            let len = i32::from_be_bytes(data[pos..pos + 4].try_into().unwrap_or([0; 4]));
            pos += 4;
            if len < 0 {
                None
            } else {
                let r = pos..pos + len as usize;
                pos += len as usize;
                Some(r)
            }
        })
    }
}

/// The fields of an `ErrorResponse` or `NoticeResponse`: (code, value)
/// pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<'a>(pub Vec<(u8, &'a str)>);

impl<'a> Fields<'a> {
    /// The value of the field with type `code` (`b'C'` SQLSTATE, `b'M'`
    /// message, …).
    pub fn get(&self, code: u8) -> Option<&'a str> {
        self.0.iter().find(|(c, _)| *c == code).map(|(_, v)| *v)
    }
}

/// A cursor over a message body.
struct Body<'a> {
    buf: &'a [u8],
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if self.buf.len() < n {
            return err("message shorter than its contents");
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ProtoError> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, ProtoError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, ProtoError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn count(&mut self) -> Result<usize, ProtoError> {
        let n = self.i16()?;
        usize::try_from(n).or_else(|_| err("negative count"))
    }
    fn cstr(&mut self) -> Result<&'a str, ProtoError> {
        let end = match self.buf.iter().position(|&b| b == 0) {
            Some(e) => e,
            None => return err("unterminated string"),
        };
        let s = std::str::from_utf8(&self.buf[..end]).or_else(|_| err("string is not UTF-8"))?;
        self.buf = &self.buf[end + 1..];
        Ok(s)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
    fn done(&self) -> Result<(), ProtoError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            err("trailing bytes in message")
        }
    }
}

/// The length of the complete message at the front of `buf`, if all of it
/// is there (tag byte, length, body).
///
/// # Errors
/// A length field below 4 or above [`MAX_MESSAGE_LEN`].
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 || len as usize > MAX_MESSAGE_LEN {
        return err(format!("bad message length {len}"));
    }
    let total = 1 + len as usize;
    Ok((buf.len() >= total).then_some(total))
}

/// Decodes the backend message at the front of `buf`: `Ok(None)` if more
/// bytes are needed, else the message and how many bytes it used.
///
/// # Errors
/// A malformed message (bad length, unknown tag, truncated fields).
pub fn decode(buf: &[u8]) -> Result<Option<(Message<'_>, usize)>, ProtoError> {
    let Some(total) = frame_len(buf)? else {
        return Ok(None);
    };
    let msg = parse(buf[0], &buf[5..total])?;
    Ok(Some((msg, total)))
}

fn fields<'a>(b: &mut Body<'a>) -> Result<Vec<(u8, &'a str)>, ProtoError> {
    let mut out = Vec::new();
    loop {
        let code = b.u8()?;
        if code == 0 {
            break;
        }
        out.push((code, b.cstr()?));
    }
    Ok(out)
}

/// Parses the body of a backend message with the given tag.
///
/// # Errors
/// A malformed body or an unknown tag.
pub fn parse(tag: u8, body: &[u8]) -> Result<Message<'_>, ProtoError> {
    let mut b = Body { buf: body };
    let msg = match tag {
        b'R' => match b.i32()? {
            0 => Message::AuthenticationOk,
            3 => Message::AuthenticationCleartextPassword,
            5 => {
                let s = b.take(4)?;
                Message::AuthenticationMd5Password([s[0], s[1], s[2], s[3]])
            }
            10 => Message::AuthenticationSasl(b.rest()),
            11 => Message::AuthenticationSaslContinue(b.rest()),
            12 => Message::AuthenticationSaslFinal(b.rest()),
            n => {
                b.rest();
                Message::AuthenticationOther(n)
            }
        },
        b'K' => Message::BackendKeyData {
            process_id: b.i32()?,
            secret_key: b.i32()?,
        },
        b'2' => Message::BindComplete,
        b'3' => Message::CloseComplete,
        b'C' => Message::CommandComplete(b.cstr()?),
        b'd' => Message::CopyData(b.rest()),
        b'c' => Message::CopyDone,
        b'G' | b'H' => {
            let format = b.u8()? as i8;
            let n = b.count()?;
            b.take(
                n.checked_mul(2)
                    .ok_or_else(|| ProtoError("overflow".into()))?,
            )?;
            if tag == b'G' {
                Message::CopyInResponse(format, n)
            } else {
                Message::CopyOutResponse(format, n)
            }
        }
        b'W' => {
            b.rest();
            Message::CopyBothResponse
        }
        b'D' => {
            let n = b.count()?;
            let data = b.rest();
            // Validate column lengths now so that `ranges` cannot fail.
            let mut pos = 0usize;
            for _ in 0..n {
                if data.len() < pos + 4 {
                    return err("DataRow truncated");
                }
                let len =
                    i32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
                pos += 4;
                if len >= 0 {
                    pos += len as usize;
                    if pos > data.len() {
                        return err("DataRow column overruns the message");
                    }
                } else if len != -1 {
                    return err("DataRow column has a negative length");
                }
            }
            if pos != data.len() {
                return err("trailing bytes in DataRow");
            }
            Message::DataRow(DataRowBody { data, len: n })
        }
        b'I' => Message::EmptyQueryResponse,
        b'E' => Message::ErrorResponse(Fields(fields(&mut b)?)),
        b'N' => Message::NoticeResponse(Fields(fields(&mut b)?)),
        b'n' => Message::NoData,
        b'A' => Message::NotificationResponse {
            process_id: b.i32()?,
            channel: b.cstr()?,
            payload: b.cstr()?,
        },
        b't' => {
            let n = b.count()?;
            let mut types = Vec::with_capacity(n.min(b.buf.len() / 4));
            for _ in 0..n {
                types.push(b.i32()? as u32);
            }
            Message::ParameterDescription(types)
        }
        b'S' => Message::ParameterStatus {
            name: b.cstr()?,
            value: b.cstr()?,
        },
        b'1' => Message::ParseComplete,
        b's' => Message::PortalSuspended,
        b'Z' => Message::ReadyForQuery(b.u8()?),
        b'T' => {
            let n = b.count()?;
            let mut out = Vec::with_capacity(n.min(b.buf.len() / 19));
            for _ in 0..n {
                out.push(FieldDescription {
                    name: b.cstr()?,
                    table_oid: b.i32()? as u32,
                    column_id: b.i16()?,
                    type_oid: b.i32()? as u32,
                    type_size: b.i16()?,
                    type_modifier: b.i32()?,
                    format: b.i16()?,
                });
            }
            Message::RowDescription(out)
        }
        b'v' => {
            let v = b.i32()?;
            b.rest();
            Message::NegotiateProtocolVersion(v)
        }
        t => return err(format!("unknown message tag {:?}", t as char)),
    };
    b.done()?;
    Ok(msg)
}

/// Splits a SASL mechanism list (NUL-separated, empty-terminated).
pub fn sasl_mechanisms(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == 0).filter(|m| !m.is_empty())
}

/// The number of rows a `CommandComplete` tag reports (`INSERT 0 5` → 5),
/// 0 for tags without a count.
pub fn rows_affected(tag: &str) -> u64 {
    tag.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn ready_for_query() {
        let b = msg(b'Z', b"I");
        assert_eq!(decode(&b).unwrap(), Some((Message::ReadyForQuery(b'I'), 6)));
        assert_eq!(decode(&b[..5]).unwrap(), None);
        assert_eq!(decode(&b[..2]).unwrap(), None);
    }

    #[test]
    fn data_row() {
        let mut body = 3i16.to_be_bytes().to_vec();
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"hi");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let b = msg(b'D', &body);
        let (m, n) = decode(&b).unwrap().unwrap();
        assert_eq!(n, b.len());
        let Message::DataRow(row) = m else { panic!() };
        let r: Vec<_> = row.ranges().collect();
        assert_eq!(r, vec![Some(4..6), None, Some(14..14)]);
        assert_eq!(&row.data[4..6], b"hi");
    }

    #[test]
    fn data_row_overrun_is_an_error() {
        let mut body = 1i16.to_be_bytes().to_vec();
        body.extend_from_slice(&100i32.to_be_bytes());
        assert!(decode(&msg(b'D', &body)).is_err());
    }

    #[test]
    fn error_response_fields() {
        let b = msg(b'E', b"SERROR\0C23505\0Mduplicate\0\0");
        let (m, _) = decode(&b).unwrap().unwrap();
        let Message::ErrorResponse(f) = m else {
            panic!()
        };
        assert_eq!(f.get(b'C'), Some("23505"));
        assert_eq!(f.get(b'M'), Some("duplicate"));
        assert_eq!(f.get(b'D'), None);
    }

    #[test]
    fn row_description() {
        let mut body = 1i16.to_be_bytes().to_vec();
        body.extend_from_slice(b"id\0");
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&23i32.to_be_bytes());
        body.extend_from_slice(&4i16.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        let b = msg(b'T', &body);
        let (m, _) = decode(&b).unwrap().unwrap();
        let Message::RowDescription(f) = m else {
            panic!()
        };
        assert_eq!(f[0].name, "id");
        assert_eq!(f[0].type_oid, 23);
    }

    #[test]
    fn bad_inputs() {
        assert!(decode(&[b'Z', 0, 0, 0, 3]).is_err());
        assert!(decode(&[b'Z', 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&msg(b'?', b"")).is_err());
        assert!(decode(&msg(b'Z', b"")).is_err());
        assert!(decode(&msg(b'Z', b"II")).is_err());
        assert!(decode(&msg(b'C', b"no nul")).is_err());
        assert!(decode(&msg(b'T', &(-1i16).to_be_bytes())).is_err());
    }

    #[test]
    fn encodes() {
        let mut b = Vec::new();
        encode_query(&mut b, "SELECT 1");
        assert_eq!(b, msg(b'Q', b"SELECT 1\0"));
        b.clear();
        encode_sync(&mut b);
        assert_eq!(b, msg(b'S', b""));
        b.clear();
        encode_startup(&mut b, &[("user", "u")]);
        assert_eq!(&b[..4], &(b.len() as i32).to_be_bytes());
        assert_eq!(&b[4..8], &PROTOCOL_VERSION.to_be_bytes());
        assert_eq!(&b[8..], b"user\0u\0\0");
        b.clear();
        encode_bind(&mut b, "", "s1", b"abcd", &[Some(0..4), None]);
        let mut want = b"\0s1\0".to_vec();
        want.extend_from_slice(&[0, 1, 0, 1, 0, 2, 0, 0, 0, 4]);
        want.extend_from_slice(b"abcd");
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 1, 0, 1]);
        assert_eq!(b, msg(b'B', &want));
    }

    #[test]
    fn tags() {
        assert_eq!(rows_affected("INSERT 0 5"), 5);
        assert_eq!(rows_affected("UPDATE 12"), 12);
        assert_eq!(rows_affected("BEGIN"), 0);
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn stream() -> Vec<u8> {
            let mut v = Vec::new();
            for (tag, body) in [
                (b'1', &b""[..]),
                (b'2', b""),
                (b'C', b"SELECT 1\0"),
                (b'S', b"TimeZone\0UTC\0"),
                (b'Z', b"T"),
                (b'A', b"\0\0\0\x07chan\0payload\0"),
            ] {
                v.push(tag);
                v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
                v.extend_from_slice(body);
            }
            v
        }

        fn decode_all(chunks: &[&[u8]]) -> Vec<String> {
            let mut buf = Vec::new();
            let mut out = Vec::new();
            for c in chunks {
                buf.extend_from_slice(c);
                while let Some((m, n)) = decode(&buf).unwrap() {
                    out.push(format!("{m:?}"));
                    buf.drain(..n);
                }
            }
            assert!(buf.is_empty());
            out
        }

        proptest! {
            #[test]
            fn random_splits_decode_the_same(cuts in proptest::collection::vec(0usize..200, 0..10)) {
                let s = stream();
                let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (s.len() + 1)).collect();
                cuts.sort_unstable();
                let mut chunks = Vec::new();
                let mut last = 0;
                for c in cuts {
                    chunks.push(&s[last..c]);
                    last = c;
                }
                chunks.push(&s[last..]);
                prop_assert_eq!(decode_all(&chunks), decode_all(&[&s]));
            }

            #[test]
            fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                let _ = decode(&bytes);
                for tag in [b'R', b'D', b'T', b'E', b'A', b't', b'G', b'K'] {
                    let _ = parse(tag, &bytes);
                }
            }
        }
    }
}
