//! Sending a request: checkout, one exchange on a connection, the stale
//! connection retry, and redirects.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use fibra_runtime::pool::{Pool, PoolError};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use super::config::Config;
use super::conn::{with_optional_deadline, with_optional_timeout, Conn, HostManager, PoolKey};
use super::error::{Error, ErrorKind, Result};
use super::proxy::Proxy;
use super::request::{Body, BodyKind, Request};
use super::response::{RawBody, Response};
use super::target::{base64, resolve, Scheme, Target};
use super::Client;
use crate::proto::{
    encode_chunk, encode_last_chunk, encode_request_head, parse_response_head,
    response_body_framing, ResponseHead,
};

/// Bodies up to this size go out in the same write as the head.
const COALESCE_BODY: usize = 16 * 1024;
/// How long to wait for a server's answer after it stopped taking the body.
const EARLY_ANSWER_WAIT: Duration = Duration::from_millis(500);
/// Informational (1xx) responses skipped before the final one.
const MAX_INFORMATIONAL: usize = 8;

/// A failed exchange, and whether repeating it on a new connection is safe
/// (nothing of a response arrived, and the connection had served before).
struct Failure {
    error: Error,
    retryable: bool,
}

impl Failure {
    fn fatal(error: Error) -> Failure {
        Failure {
            error,
            retryable: false,
        }
    }
}

fn is_closed_kind(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

impl Client {
    /// Sends `request`, following redirects, and returns the response once
    /// its head has arrived. The request timeout (per request, or the
    /// client's) covers everything up to the end of the response body.
    ///
    /// # Errors
    /// [`Error::is_connect`] when no connection can be opened;
    /// [`Error::is_timeout`] when a connect, handshake, pool, header or
    /// request deadline passes; [`Error::is_request`] when sending fails;
    /// [`Error::is_response`] for a malformed or missing response head;
    /// [`Error::is_redirect`] after too many redirects;
    /// [`Error::is_canceled`] when the calling coroutine is canceled.
    pub fn execute(&self, request: Request) -> Result<Response> {
        let timeout = request.timeout.or(self.shared.config.timeout);
        let deadline = timeout.map(|t| Instant::now() + t);
        let url = request.target.uri.clone();
        with_optional_deadline(deadline, || self.follow(request, deadline))
            .map_err(|e| e.with_url(&url))
    }

    fn follow(&self, mut req: Request, deadline: Option<Instant>) -> Result<Response> {
        let max = self.shared.config.max_redirects;
        let mut redirects = 0;
        loop {
            let replay = req.body.try_clone();
            let mut resp = self.send(&mut req, deadline)?;
            let status = resp.status();
            if max == 0 || !is_redirect(status) {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get(header::LOCATION) else {
                return Ok(resp);
            };
            if redirects >= max {
                return Err(Error::new(
                    ErrorKind::Redirect,
                    format!("stopped after {max} redirects"),
                ));
            }
            let next = location
                .to_str()
                .ok()
                .and_then(|l| resolve(&req.target.uri, l))
                .ok_or_else(|| Error::new(ErrorKind::Redirect, "invalid Location header"))?;
            let mut next = Target::parse(&next).map_err(|e| {
                Error::new(ErrorKind::Redirect, "cannot follow the redirect").with_source(e)
            })?;
            if next.scheme == Scheme::Unix && next.unix_path.is_none() {
                next.unix_path.clone_from(&req.target.unix_path);
            }
            if matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            ) {
                match replay {
                    Some(body) => req.body = body,
                    // A streamed body cannot be sent again: the caller gets
                    // the redirect itself, as Go does.
                    None => return Ok(resp),
                }
            } else {
                if req.method != Method::HEAD {
                    req.method = Method::GET;
                }
                req.body = Body::empty();
                for h in [
                    header::CONTENT_TYPE,
                    header::CONTENT_LENGTH,
                    header::TRANSFER_ENCODING,
                    header::CONTENT_ENCODING,
                ] {
                    req.headers.remove(h);
                }
            }
            if !req.target.same_origin_host(&next) {
                for h in [
                    header::AUTHORIZATION,
                    header::COOKIE,
                    header::PROXY_AUTHORIZATION,
                    header::WWW_AUTHENTICATE,
                ] {
                    req.headers.remove(h);
                }
            }
            resp.drain();
            drop(resp);
            req.target = next;
            redirects += 1;
        }
    }

    fn pool(&self, key: PoolKey, proxy: Option<Proxy>) -> Pool<HostManager> {
        let cfg = &self.shared.config;
        let mut pools = self.shared.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&key) {
            return pool.clone();
        }
        pools
            .entry(key.clone())
            .or_insert_with(|| {
                Pool::builder()
                    .max_size(cfg.max_connections_per_host)
                    .max_idle(cfg.max_idle_per_host)
                    .checkout_timeout(cfg.pool_timeout)
                    .idle_timeout(cfg.idle_timeout)
                    .test_on_checkout(true)
                    .build(HostManager::new(key, proxy, cfg.clone()))
            })
            .clone()
    }

    /// One request and its response head, on a pooled connection; retried
    /// once on a new connection when a reused one turns out to be stale.
    fn send(&self, req: &mut Request, deadline: Option<Instant>) -> Result<Response> {
        let cfg = &self.shared.config;
        let unix = req
            .target
            .unix_path
            .clone()
            .or_else(|| cfg.unix_socket.clone());
        if unix.is_none() && req.target.scheme == Scheme::Unix {
            return Err(Error::new(
                ErrorKind::Builder,
                "an http+unix URL needs a socket path",
            ));
        }
        let proxy = match unix {
            Some(_) => None,
            None => cfg.proxies.for_target(&req.target).cloned(),
        };
        // A forwarding proxy would not pass an upgrade on (`Upgrade` is
        // hop-by-hop): such a request to a plain-HTTP origin goes through
        // a `CONNECT` tunnel, as `https://` always does.
        let tunnel = proxy.is_some()
            && req.target.scheme == Scheme::Http
            && req.headers.contains_key(header::UPGRADE);
        let key = PoolKey::new(&req.target, unix.as_ref(), proxy.as_ref(), tunnel);
        let pool = self.pool(key, proxy.clone());
        // The proxy the request head is written for (absolute form).
        let forward_proxy = proxy.as_ref().filter(|_| !tunnel);
        let idempotent = matches!(
            req.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        let mut retried = false;
        loop {
            let replay = if idempotent && !retried {
                req.body.try_clone()
            } else {
                None
            };
            let mut conn = pool.get().map_err(|e| match e {
                PoolError::Connect(e) => e,
                PoolError::Canceled => Error::new(ErrorKind::Canceled, "canceled"),
                PoolError::TimedOut => Error::new(
                    ErrorKind::Timeout,
                    "timed out waiting for a pooled connection",
                ),
                _ => Error::new(ErrorKind::Connect, e.to_string()),
            })?;
            let reused = conn.served > 0;
            let body = std::mem::replace(&mut req.body, Body::empty());
            match round_trip(cfg, &mut conn, req, body, forward_proxy) {
                Ok((head, body_sent)) => {
                    let framing = match response_body_framing(&req.method, &head) {
                        Ok(f) => f,
                        Err(e) => {
                            conn.discard();
                            return Err(Error::new(ErrorKind::Response, "bad response framing")
                                .with_source(e));
                        }
                    };
                    let asked_close = req
                        .headers
                        .get(header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                    if !body_sent || head.status == StatusCode::SWITCHING_PROTOCOLS {
                        // The server answered before the body went out (the
                        // connection is out of step), or switched protocols:
                        // the connection never goes back to the pool.
                        conn.broken = true;
                    }
                    let raw = if head.status == StatusCode::SWITCHING_PROTOCOLS && body_sent {
                        RawBody::switched(conn)
                    } else {
                        RawBody::new(conn, framing, head.keep_alive && !asked_close, deadline)
                    };
                    return Ok(Response::new(
                        head.status,
                        head.version,
                        head.headers,
                        req.target.uri.clone(),
                        raw,
                        cfg.decompress,
                        cfg.max_body_bytes,
                    ));
                }
                Err(f) => {
                    conn.discard();
                    match replay {
                        Some(body) if f.retryable && reused => {
                            tracing::debug!(error = %f.error, "fibra-http: retrying on a new connection");
                            req.body = body;
                            retried = true;
                        }
                        _ => return Err(f.error),
                    }
                }
            }
        }
    }
}

fn is_redirect(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// The request head's bytes.
fn encode_head(
    cfg: &Config,
    req: &Request,
    body: &Body,
    proxy: Option<&Proxy>,
    expect: bool,
) -> Vec<u8> {
    let mut h = HeaderMap::with_capacity(req.headers.len() + 8);
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: HeaderValue| {
        if !req.headers.contains_key(&name) && !h.contains_key(&name) {
            h.insert(name, value);
        }
    };
    if let Ok(v) = HeaderValue::from_str(&req.target.host_header) {
        set(&mut h, header::HOST, v);
    }
    for (name, value) in &cfg.default_headers {
        if !req.headers.contains_key(name) {
            h.append(name.clone(), value.clone());
        }
    }
    for (name, value) in &req.headers {
        if *name != header::CONTENT_LENGTH && *name != header::TRANSFER_ENCODING {
            h.append(name.clone(), value.clone());
        }
    }
    set(
        &mut h,
        header::USER_AGENT,
        HeaderValue::from_static(concat!("fibra-http/", env!("CARGO_PKG_VERSION"))),
    );
    set(&mut h, header::ACCEPT, HeaderValue::from_static("*/*"));
    if cfg.decompress && !req.headers.contains_key(header::RANGE) {
        set(
            &mut h,
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate"),
        );
    }
    if let Some(user) = &req.target.userinfo {
        if let Ok(v) = HeaderValue::from_str(&format!("Basic {}", base64(user.as_bytes()))) {
            set(&mut h, header::AUTHORIZATION, v);
        }
    }
    match body.len() {
        Some(0) => {
            if matches!(req.method, Method::POST | Method::PUT | Method::PATCH) {
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            }
        }
        Some(n) => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        None => {
            h.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
        }
    }
    if expect {
        h.insert(header::EXPECT, HeaderValue::from_static("100-continue"));
    }
    let absolute = proxy.is_some() && req.target.scheme == Scheme::Http;
    if absolute {
        if let Some(auth) = proxy.and_then(|p| p.auth.clone()) {
            set(&mut h, header::PROXY_AUTHORIZATION, auth);
        }
    }
    let mut out = Vec::with_capacity(256);
    if absolute {
        encode_request_head(&req.method, &req.target.absolute_form(), &h, &mut out);
    } else {
        encode_request_head(&req.method, req.target.origin_form(), &h, &mut out);
    }
    out
}

/// Writes the body after the head.
fn write_body(conn: &mut Conn, body: Body) -> io::Result<()> {
    match body.kind {
        BodyKind::Empty => Ok(()),
        BodyKind::Bytes(b) => conn.stream.write_all(&b),
        BodyKind::Reader {
            mut reader,
            len: Some(len),
        } => {
            let copied = io::copy(&mut (&mut reader).take(len), &mut conn.stream)?;
            if copied < len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "request body ended {} bytes short of its length",
                        len - copied
                    ),
                ));
            }
            Ok(())
        }
        BodyKind::Reader {
            mut reader,
            len: None,
        } => {
            let mut buf = vec![0u8; 16 * 1024];
            let mut out = Vec::with_capacity(buf.len() + 32);
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                out.clear();
                if n == 0 {
                    encode_last_chunk(&mut out);
                    return conn.stream.write_all(&out);
                }
                encode_chunk(&buf[..n], &mut out);
                conn.stream.write_all(&out)?;
            }
        }
    }
}

/// Reads one response head (informational ones included).
fn read_one_head(cfg: &Config, conn: &mut Conn, fresh: &mut bool) -> Result<ResponseHead, Failure> {
    let limit = cfg.max_header_bytes;
    loop {
        if !conn.buffered().is_empty() {
            *fresh = false;
            match parse_response_head(conn.buffered(), limit, cfg.max_headers) {
                Ok(Some((head, n))) => {
                    conn.consume(n);
                    return Ok(head);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(Failure::fatal(
                        Error::new(ErrorKind::Response, "invalid response from the server")
                            .with_source(e),
                    ))
                }
            }
        }
        match conn.fill(limit + 1) {
            Ok(0) => {
                return Err(Failure {
                    retryable: *fresh,
                    error: Error::io(
                        ErrorKind::Response,
                        "connection closed before a response arrived",
                        io::ErrorKind::UnexpectedEof.into(),
                    ),
                })
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Failure {
                    retryable: *fresh && is_closed_kind(&e),
                    error: Error::io(ErrorKind::Response, "reading the response head failed", e),
                })
            }
        }
    }
}

/// Reads heads until a final (non-1xx) one, within the header timeout.
fn read_final_head(
    cfg: &Config,
    conn: &mut Conn,
    fresh: &mut bool,
) -> Result<ResponseHead, Failure> {
    with_optional_timeout(cfg.response_header_timeout, || {
        for _ in 0..MAX_INFORMATIONAL {
            let head = read_one_head(cfg, conn, fresh)?;
            if !head.status.is_informational() || head.status == StatusCode::SWITCHING_PROTOCOLS {
                return Ok(head);
            }
        }
        Err(Failure::fatal(Error::new(
            ErrorKind::Response,
            "too many informational responses",
        )))
    })
}

/// One exchange: returns the final response head and whether the body was
/// sent (it is not when the server answered an `Expect: 100-continue`
/// request with a final status).
fn round_trip(
    cfg: &Config,
    conn: &mut Conn,
    req: &Request,
    body: Body,
    proxy: Option<&Proxy>,
) -> Result<(ResponseHead, bool), Failure> {
    let expect = req
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        || cfg
            .expect_continue_threshold
            .is_some_and(|t| body.len().is_some_and(|n| n >= t));
    let mut head = encode_head(cfg, req, &body, proxy, expect);
    let send_err = |e: io::Error| Failure {
        retryable: is_closed_kind(&e),
        error: Error::io(ErrorKind::Request, "sending the request failed", e),
    };
    let mut fresh = true;
    if expect {
        conn.stream.write_all(&head).map_err(send_err)?;
        let early = with_optional_timeout(Some(cfg.expect_continue_timeout), || {
            read_one_head(cfg, conn, &mut fresh)
        });
        match early {
            Ok(h) if h.status.is_informational() && h.status != StatusCode::SWITCHING_PROTOCOLS => {
            }
            Ok(h) => return Ok((h, false)),
            Err(f) if f.error.is_timeout() && !scope_expired() => {}
            Err(f) => return Err(f),
        }
        if let Err(e) = write_body(conn, body) {
            return early_answer(cfg, conn, e);
        }
    } else {
        let small = match &body.kind {
            BodyKind::Bytes(b) if b.len() <= COALESCE_BODY => Some(b.clone()),
            _ => None,
        };
        match small {
            Some(b) => {
                head.extend_from_slice(&b);
                conn.stream.write_all(&head).map_err(send_err)?;
            }
            None => {
                conn.stream.write_all(&head).map_err(send_err)?;
                if let Err(e) = write_body(conn, body) {
                    return early_answer(cfg, conn, e);
                }
            }
        }
    }
    let head = read_final_head(cfg, conn, &mut fresh)?;
    Ok((head, true))
}

/// Sending the body failed: a server that refuses a body often answers
/// and closes before reading it (`413`, `401`), so that answer, if it
/// arrives soon, is the result; otherwise the write error is.
fn early_answer(
    cfg: &Config,
    conn: &mut Conn,
    write_error: io::Error,
) -> Result<(ResponseHead, bool), Failure> {
    let fatal = Failure::fatal(Error::io(
        ErrorKind::Request,
        "sending the request body failed",
        write_error,
    ));
    if fatal.error.is_timeout() || fatal.error.is_canceled() {
        return Err(fatal);
    }
    let mut fresh = false;
    let head = with_optional_timeout(Some(EARLY_ANSWER_WAIT), || {
        read_final_head(cfg, conn, &mut fresh)
    });
    match head {
        Ok(head) => Ok((head, false)),
        Err(_) => Err(fatal),
    }
}

/// Whether an enclosing deadline (the request timeout) has passed.
fn scope_expired() -> bool {
    fibra_runtime::scope_deadline().is_some_and(|d| Instant::now() >= d)
}
