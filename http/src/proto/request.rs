//! Request head parsing with the framing rules that stop request smuggling.

use std::mem::MaybeUninit;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, StatusCode, Uri, Version};

/// Size limits applied while parsing a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line plus headers) in bytes: `431`.
    pub max_header_bytes: usize,
    /// Most header fields: `431`.
    pub max_headers: usize,
    /// Longest request target: `414`.
    pub max_uri: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri: 8 * 1024,
        }
    }
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target.
    pub uri: Uri,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The header fields, in order.
    pub headers: HeaderMap,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may serve another request after this one
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue` (HTTP/1.1 only).
    pub expect_continue: bool,
}

/// Why a request head was refused; [`ParseError::status`] is the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Malformed or ambiguous: `400 Bad Request`.
    BadRequest(&'static str),
    /// Request target too long: `414 URI Too Long`.
    UriTooLong,
    /// Head too large or too many fields: `431 Request Header Fields Too
    /// Large`.
    HeadersTooLarge,
    /// A transfer coding the server does not implement: `501`.
    NotImplemented(&'static str),
    /// An `Expect` value other than `100-continue`: `417`.
    ExpectationFailed,
}

impl ParseError {
    /// The status code to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ParseError::UriTooLong => StatusCode::URI_TOO_LONG,
            ParseError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ParseError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ParseError::ExpectationFailed => StatusCode::EXPECTATION_FAILED,
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::BadRequest(why) => write!(f, "bad request: {why}"),
            ParseError::UriTooLong => f.write_str("request target too long"),
            ParseError::HeadersTooLarge => f.write_str("request head too large"),
            ParseError::NotImplemented(why) => write!(f, "not implemented: {why}"),
            ParseError::ExpectationFailed => f.write_str("unsupported expectation"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Slack for the method and version around the target on the request line.
const REQUEST_LINE_SLACK: usize = 64;

/// Header slots tried on the stack first; a head with more fields is parsed
/// again with `Limits::max_headers` slots on the heap. Small, because the
/// stack of every connection coroutine keeps the pages it once touched.
const STACK_HEADERS: usize = 16;

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a head within the
/// limits (read more and call again), or the head and the number of bytes it
/// took.
///
/// # Errors
/// A [`ParseError`] when the head is malformed, ambiguous about its body's
/// length, or over a limit in `limits`.
pub fn parse_request_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, ParseError> {
    let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); STACK_HEADERS];
    let first = limits.max_headers.min(STACK_HEADERS);
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, &mut slots[..first]) {
        Err(httparse::Error::TooManyHeaders) if limits.max_headers > first => {
            let mut slots = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); limits.max_headers];
            let mut req = httparse::Request::new(&mut []);
            let status = req.parse_with_uninit_headers(buf, &mut slots);
            build_head(buf, limits, &req, status)
        }
        status => build_head(buf, limits, &req, status),
    }
}

/// What the framing rules need from the header fields, noted while they are
/// copied into the `HeaderMap`.
#[derive(Default)]
struct Framed<'a> {
    transfer_encoding: Vec<&'a [u8]>,
    content_length: Vec<&'a [u8]>,
    hosts: usize,
    close: bool,
    keep: bool,
    expect: Option<&'a [u8]>,
    bad_expect: bool,
}

/// Turns httparse's result into a [`RequestHead`], applying the limits and
/// the framing rules.
fn build_head(
    buf: &[u8],
    limits: &Limits,
    req: &httparse::Request<'_, '_>,
    status: httparse::Result<usize>,
) -> Result<Option<(RequestHead, usize)>, ParseError> {
    let n = match status {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            let line_end = buf.iter().position(|&b| b == b'\n');
            if line_end.is_none() && buf.len() > limits.max_uri + REQUEST_LINE_SLACK {
                return Err(ParseError::UriTooLong);
            }
            if buf.len() > limits.max_header_bytes {
                return Err(ParseError::HeadersTooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadersTooLarge),
        Err(e) => return Err(ParseError::BadRequest(httparse_reason(e))),
    };
    let path = req.path.unwrap_or_default();
    if path.len() > limits.max_uri {
        return Err(ParseError::UriTooLong);
    }
    if n > limits.max_header_bytes {
        return Err(ParseError::HeadersTooLarge);
    }
    let method = parse_method(req.method.unwrap_or_default())?;
    let uri = parse_target(path)?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ParseError::BadRequest("unsupported version")),
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    let mut f = Framed::default();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ParseError::BadRequest("invalid header name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| ParseError::BadRequest("invalid header value"))?;
        note_field(&mut f, &name, h.value);
        headers.append(name, value);
    }
    let framing = framing(&f, version)?;
    if version == Version::HTTP_11 && f.hosts != 1 {
        return Err(ParseError::BadRequest("HTTP/1.1 needs exactly one Host"));
    }
    let keep_alive = !f.close && (version == Version::HTTP_11 || f.keep);
    let mut expect_continue = false;
    if version == Version::HTTP_11 {
        if f.bad_expect {
            return Err(ParseError::ExpectationFailed);
        }
        expect_continue = f.expect.is_some();
    }
    let head = RequestHead {
        method,
        uri,
        version,
        headers,
        framing,
        keep_alive,
        expect_continue,
    };
    Ok(Some((head, n)))
}

/// Records the framing-relevant fields (standard names compare by a tag,
/// not by string).
fn note_field<'a>(f: &mut Framed<'a>, name: &HeaderName, value: &'a [u8]) {
    if *name == header::CONTENT_LENGTH {
        f.content_length.push(value);
    } else if *name == header::TRANSFER_ENCODING {
        f.transfer_encoding.push(value);
    } else if *name == header::HOST {
        f.hosts += 1;
    } else if *name == header::CONNECTION {
        for token in list_elements(value) {
            f.close |= token.eq_ignore_ascii_case(b"close");
            f.keep |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    } else if *name == header::EXPECT {
        if value.eq_ignore_ascii_case(b"100-continue") {
            f.expect = Some(value);
        } else {
            f.bad_expect = true;
        }
    }
}

/// The method; the common ones without a lookup.
fn parse_method(m: &str) -> Result<Method, ParseError> {
    Ok(match m {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "HEAD" => Method::HEAD,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        _ => Method::from_bytes(m.as_bytes())
            .map_err(|_| ParseError::BadRequest("invalid method"))?,
    })
}

/// The request target as a `Uri`. An origin-form target (`/path?query`,
/// nearly every request) is parsed as a path and query only, which is all
/// it can be, skipping the scheme and authority parsing.
fn parse_target(path: &str) -> Result<Uri, ParseError> {
    let bad = |_| ParseError::BadRequest("invalid request target");
    if path.starts_with('/') {
        let pq = PathAndQuery::try_from(path).map_err(bad)?;
        Ok(Uri::from(pq))
    } else {
        path.parse().map_err(bad)
    }
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid version",
    }
}

/// The comma-separated, trimmed, non-empty elements of a list field value.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
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

/// Decides the body framing (RFC 9112 section 6.3), refusing every
/// ambiguous combination rather than guessing.
fn framing(f: &Framed<'_>, version: Version) -> Result<Framing, ParseError> {
    if !f.transfer_encoding.is_empty() {
        if version == Version::HTTP_10 {
            return Err(ParseError::BadRequest("Transfer-Encoding in HTTP/1.0"));
        }
        if !f.content_length.is_empty() {
            return Err(ParseError::BadRequest(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        // Empty list elements are tolerated, but a field with no coding at
        // all is not.
        if f.transfer_encoding.iter().any(|v| trim_ows(v).is_empty()) {
            return Err(ParseError::BadRequest("empty Transfer-Encoding"));
        }
        let mut codings = f
            .transfer_encoding
            .iter()
            .flat_map(|v| list_elements(v))
            .peekable();
        let mut chunked_before_last = false;
        let mut others_before_last = false;
        while let Some(coding) = codings.next() {
            let chunked = coding.eq_ignore_ascii_case(b"chunked");
            if codings.peek().is_none() {
                if !chunked {
                    break;
                }
                if chunked_before_last {
                    return Err(ParseError::BadRequest("chunked applied twice"));
                }
                if others_before_last {
                    return Err(ParseError::NotImplemented("transfer coding"));
                }
                return Ok(Framing::Chunked);
            }
            chunked_before_last |= chunked;
            others_before_last |= !chunked;
        }
        return Err(ParseError::BadRequest(
            "final transfer coding is not chunked",
        ));
    }
    let mut length: Option<u64> = None;
    for v in &f.content_length {
        for part in v.split(|&b| b == b',') {
            let n = parse_content_length(trim_ows(part))
                .ok_or(ParseError::BadRequest("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::BadRequest("conflicting Content-Length"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) | None => Framing::None,
        Some(n) => Framing::Length(n),
    })
}

/// `1*DIGIT`, overflow-checked; no sign, no spaces, no hex.
fn parse_content_length(s: &[u8]) -> Option<u64> {
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

    fn parse(s: &[u8]) -> Result<Option<(RequestHead, usize)>, ParseError> {
        parse_request_head(s, &Limits::default())
    }

    fn status(s: &[u8]) -> u16 {
        match parse(s) {
            Ok(Some(_)) => 200,
            Ok(None) => 0,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn simple_get() {
        let raw = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\n\r\nrest";
        let (h, n) = parse(raw).unwrap().unwrap();
        assert_eq!(n, raw.len() - 4);
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.uri.path(), "/a");
        assert_eq!(h.uri.query(), Some("b=c"));
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(h.framing, Framing::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
    }

    #[test]
    fn partial_heads() {
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
        for i in 0..raw.len() {
            assert!(parse(&raw[..i]).unwrap().is_none(), "prefix {i}");
        }
        let (h, _) = parse(raw).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Length(3));
    }

    #[test]
    fn keep_alive_rules() {
        let h = |s: &[u8]| parse(s).unwrap().unwrap().0.keep_alive;
        assert!(!h(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(h(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!h(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n"
        ));
        assert!(h(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    #[test]
    fn framing_rules() {
        let f = |s: &[u8]| parse(s).unwrap().unwrap().0.framing;
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Framing::Chunked
        );
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
            Framing::None
        );
    }

    #[test]
    fn smuggling_is_refused() {
        let bad: &[&[u8]] = &[
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHo(st: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        ];
        for raw in bad {
            assert_eq!(status(raw), 400, "{:?}", String::from_utf8_lossy(raw));
        }
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n"),
            417
        );
    }

    #[test]
    fn limits() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
        assert_eq!(status(long.as_bytes()), 414);
        let partial = format!("GET /{}", "a".repeat(9000));
        assert_eq!(status(partial.as_bytes()), 414);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "a".repeat(17000)
        );
        assert_eq!(status(big.as_bytes()), 431);
        let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..100 {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(status(many.as_bytes()), 431);
    }

    #[test]
    fn expect_continue() {
        let raw = b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
        assert!(parse(raw).unwrap().unwrap().0.expect_continue);
        let raw = b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
        assert!(!parse(raw).unwrap().unwrap().0.expect_continue);
    }
}
