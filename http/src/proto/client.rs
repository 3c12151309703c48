//! The client side of the wire format: request heads out, response heads in.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use super::Framing;

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The header fields, in order.
    pub headers: HeaderMap,
    /// Whether the server lets the connection carry another request
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBodyFraming {
    /// No body, a `Content-Length` body or a chunked body.
    Framed(Framing),
    /// The body runs until the server closes the connection.
    UntilClose,
}

/// Why a response head was refused. The connection cannot be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// Malformed or ambiguous head.
    Malformed(&'static str),
    /// The head is larger than the limit, or has too many fields.
    TooLarge,
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseError::Malformed(why) => write!(f, "malformed response head: {why}"),
            ResponseError::TooLarge => f.write_str("response head too large"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// Parses a response head from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a head no longer than
/// `max_bytes` (read more and call again), or the head and the number of
/// bytes it took.
///
/// # Errors
/// [`ResponseError::Malformed`] for an invalid status line or field;
/// [`ResponseError::TooLarge`] past `max_bytes` or `max_headers`.
pub fn parse_response_head(
    buf: &[u8],
    max_bytes: usize,
    max_headers: usize,
) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
    let mut storage = vec![httparse::EMPTY_HEADER; max_headers];
    let mut resp = httparse::Response::new(&mut storage);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_bytes {
                return Err(ResponseError::TooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooLarge),
        Err(httparse::Error::Status) => return Err(ResponseError::Malformed("invalid status")),
        Err(httparse::Error::Version) => return Err(ResponseError::Malformed("invalid version")),
        Err(_) => return Err(ResponseError::Malformed("invalid header field")),
    };
    if n > max_bytes {
        return Err(ResponseError::TooLarge);
    }
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ResponseError::Malformed("unsupported version")),
    };
    let status = resp
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(ResponseError::Malformed("invalid status"))?;
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ResponseError::Malformed("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| ResponseError::Malformed("invalid header value"))?;
        headers.append(name, value);
    }
    let mut close = false;
    let mut keep = false;
    for token in tokens(&headers, &header::CONNECTION) {
        close |= token.eq_ignore_ascii_case(b"close");
        keep |= token.eq_ignore_ascii_case(b"keep-alive");
    }
    let keep_alive = !close && (version == Version::HTTP_11 || keep);
    let head = ResponseHead {
        version,
        status,
        headers,
        keep_alive,
    };
    Ok(Some((head, n)))
}

/// Decides how the body of a response to `method` is delimited (RFC 9112
/// section 6.3).
///
/// # Errors
/// [`ResponseError::Malformed`] for an invalid or conflicting
/// `Content-Length`, or a chunked coding that is not the last one.
pub fn response_body_framing(
    method: &Method,
    head: &ResponseHead,
) -> Result<ResponseBodyFraming, ResponseError> {
    let status = head.status;
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (*method == Method::CONNECT && status.is_success())
    {
        return Ok(ResponseBodyFraming::Framed(Framing::None));
    }
    let headers = &head.headers;
    if headers.contains_key(header::TRANSFER_ENCODING) && head.version == Version::HTTP_11 {
        let codings: Vec<&[u8]> = tokens(headers, &header::TRANSFER_ENCODING).collect();
        let chunked = |c: &&[u8]| c.eq_ignore_ascii_case(b"chunked");
        return match codings.split_last() {
            Some((last, rest)) if chunked(last) => {
                if rest.iter().any(chunked) {
                    Err(ResponseError::Malformed("chunked applied twice"))
                } else {
                    Ok(ResponseBodyFraming::Framed(Framing::Chunked))
                }
            }
            _ if codings.iter().any(chunked) => {
                Err(ResponseError::Malformed("chunked is not the final coding"))
            }
            _ => Ok(ResponseBodyFraming::UntilClose),
        };
    }
    let mut length: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let n = parse_decimal(trim_ows(part))
                .ok_or(ResponseError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ResponseError::Malformed("conflicting Content-Length"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => ResponseBodyFraming::Framed(Framing::None),
        Some(n) => ResponseBodyFraming::Framed(Framing::Length(n)),
        None => ResponseBodyFraming::UntilClose,
    })
}

/// Encodes an HTTP/1.1 request head: the request line with `target` (origin
/// form `/path?query`, or absolute form for a proxy), then `headers`.
pub fn encode_request_head(method: &Method, target: &str, headers: &HeaderMap, out: &mut Vec<u8>) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn tokens<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
        parse_response_head(s.as_bytes(), 1024, 16)
    }

    fn framing(method: Method, s: &str) -> Result<ResponseBodyFraming, ResponseError> {
        let (head, _) = parse(s).unwrap().unwrap();
        response_body_framing(&method, &head)
    }

    #[test]
    fn parses_heads_split_anywhere() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        for cut in 0..raw.len() - 5 {
            assert!(parse(&raw[..cut]).unwrap().is_none(), "cut {cut}");
        }
        let (head, n) = parse(raw).unwrap().unwrap();
        assert_eq!(n, raw.len() - 5);
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.keep_alive);
        assert_eq!(head.headers["x-a"], "b");
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |s: &str| parse(s).unwrap().unwrap().0.keep_alive;
        assert!(!ka("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"));
        assert!(!ka("HTTP/1.0 200 OK\r\n\r\n"));
        assert!(ka("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn refuses_bad_heads() {
        assert!(matches!(
            parse("HTTP/1.1 abc OK\r\n\r\n"),
            Err(ResponseError::Malformed(_))
        ));
        assert!(matches!(
            parse("HTTP/2 200 OK\r\n\r\n"),
            Err(ResponseError::Malformed(_))
        ));
        assert!(matches!(
            parse("garbage\r\n\r\n"),
            Err(ResponseError::Malformed(_))
        ));
        let long = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(2000));
        assert_eq!(parse(&long).unwrap_err(), ResponseError::TooLarge);
        let many: String = (0..20).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(
            parse(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")).unwrap_err(),
            ResponseError::TooLarge
        );
    }

    #[test]
    fn body_framing() {
        use ResponseBodyFraming::*;
        let get = Method::GET;
        assert_eq!(
            framing(get.clone(), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
            Ok(Framed(Framing::Length(3)))
        );
        assert_eq!(
            framing(Method::HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
            Ok(Framed(Framing::None))
        );
        assert_eq!(
            framing(get.clone(), "HTTP/1.1 204 No Content\r\n\r\n"),
            Ok(Framed(Framing::None))
        );
        assert_eq!(
            framing(
                get.clone(),
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            ),
            Ok(Framed(Framing::Chunked))
        );
        assert_eq!(
            framing(get.clone(), "HTTP/1.1 200 OK\r\n\r\n"),
            Ok(UntilClose)
        );
        assert!(framing(
            get.clone(),
            "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"
        )
        .is_err());
        assert!(framing(get.clone(), "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(framing(
            get,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
        )
        .is_err());
    }

    #[test]
    fn encodes_request_heads() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        let mut out = Vec::new();
        encode_request_head(&Method::GET, "/a?b", &headers, &mut out);
        assert_eq!(out, b"GET /a?b HTTP/1.1\r\nhost: example.com\r\n\r\n");
    }
}
