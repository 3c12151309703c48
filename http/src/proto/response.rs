//! Response head and chunk encoding.

use http::header::{self, HeaderMap};
use http::{StatusCode, Version};

use super::date::with_date;

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body at all (1xx, 204, 304): no length header is written.
    NoBody,
    /// `Content-Length: n` (also used for `HEAD`, with the body left out).
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 streaming).
    CloseDelimited,
}

/// Appends a response head to `out`: status line, `Date` (unless present in
/// `headers`), the caller's headers except `Content-Length`,
/// `Transfer-Encoding` and `Connection` (which follow from `framing` and
/// `keep_alive`), then the blank line.
///
/// `version` is the request's version; the status line echoes it.
/// `keep_alive` is whether the connection stays open afterwards: `false`
/// writes `Connection: close`, and on HTTP/1.0 `true` writes
/// `Connection: keep-alive`. Header values are written as they are: the
/// caller must have refused CR, LF and NUL (the `http` crate does).
pub fn encode_response_head(
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    framing: ResponseFraming,
    keep_alive: bool,
    out: &mut Vec<u8>,
) {
    // The status line, Date and framing lines, and the caller's fields,
    // estimated once rather than grown piece by piece.
    out.reserve(128 + headers.len() * 48);
    out.extend_from_slice(if version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    if !headers.contains_key(header::DATE) {
        with_date(|d| {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(d);
            out.extend_from_slice(b"\r\n");
        });
    }
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // An upgrade response carries its own `Connection: upgrade`.
    let upgrade = status == StatusCode::SWITCHING_PROTOCOLS;
    if upgrade {
        for value in headers.get_all(header::CONNECTION) {
            out.extend_from_slice(b"connection: ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    match framing {
        ResponseFraming::NoBody | ResponseFraming::CloseDelimited => {}
        ResponseFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            push_decimal(n, out);
            out.extend_from_slice(b"\r\n");
        }
        ResponseFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if !upgrade {
        if !keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        } else if version == Version::HTTP_10 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk of a chunked body. An empty `data` writes nothing (an
/// empty chunk would end the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let len = data.len();
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4) as usize;
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[(len >> (i * 4)) & 0xf]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without allocating.
fn push_decimal(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends the last chunk and an empty trailer section.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn head_with_length() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("999"));
        let mut out = Vec::new();
        encode_response_head(
            Version::HTTP_11,
            StatusCode::OK,
            &h,
            ResponseFraming::Length(5),
            true,
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\ndate: "), "{s}");
        assert!(
            s.ends_with("content-type: text/plain\r\ncontent-length: 5\r\n\r\n"),
            "{s}"
        );
        assert!(!s.contains("999"));
    }

    #[test]
    fn head_http10_and_close() {
        let mut h = HeaderMap::new();
        h.insert(header::DATE, HeaderValue::from_static("x"));
        let mut out = Vec::new();
        encode_response_head(
            Version::HTTP_10,
            StatusCode::NOT_FOUND,
            &h,
            ResponseFraming::CloseDelimited,
            false,
            &mut out,
        );
        assert_eq!(
            out,
            b"HTTP/1.0 404 Not Found\r\ndate: x\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        encode_chunk(b"hello world, this is it", &mut out);
        encode_chunk(b"", &mut out);
        encode_last_chunk(&mut out);
        assert_eq!(out, b"17\r\nhello world, this is it\r\n0\r\n\r\n");
        for len in [1usize, 15, 16, 255, 256, 4096, 65535, 1 << 20] {
            let mut out = Vec::new();
            encode_chunk(&vec![b'x'; len], &mut out);
            assert!(out.starts_with(format!("{len:x}\r\n").as_bytes()), "{len}");
        }
    }

    #[test]
    fn decimal_lengths() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(n, &mut out);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
