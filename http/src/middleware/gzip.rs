//! gzip response compression.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use http::{header, HeaderValue, StatusCode};

use super::{add_vary, Middleware, Next};
use crate::{Error, Request, Response};

/// Compresses buffered response bodies with gzip when the client accepts
/// it (`Accept-Encoding`, honouring `q=0`), the body is at least
/// [`Gzip::min_size`] bytes and its `Content-Type` is textual (`text/*`,
/// JSON, JavaScript, XML, SVG, WebAssembly and the like). It sets
/// `Content-Encoding: gzip` and adds `Accept-Encoding` to `Vary` (also on
/// uncompressed responses that could have been compressed, for caches).
///
/// Compression runs on the blocking pool ([`fibra_runtime::blocking`]):
/// it is CPU work, and the deflate state is too large for a coroutine's
/// stack in debug builds.
///
/// Not covered: streamed bodies ([`Response::writer`]) pass uncompressed,
/// as do responses that already have a `Content-Encoding`, partial content
/// (`206`) and bodiless statuses.
#[derive(Debug, Clone)]
pub struct Gzip {
    min_size: usize,
    level: u32,
}

impl Gzip {
    /// Compression at level 6 for bodies of 1 KiB and more.
    pub fn new() -> Gzip {
        Gzip {
            min_size: 1024,
            level: 6,
        }
    }

    /// The smallest body compressed (smaller ones gain little or grow).
    pub fn min_size(mut self, bytes: usize) -> Gzip {
        self.min_size = bytes;
        self
    }

    /// The compression level, from 0 (none) to 9 (smallest, slowest).
    pub fn level(mut self, level: u32) -> Gzip {
        self.level = level.min(9);
        self
    }
}

impl Default for Gzip {
    fn default() -> Gzip {
        Gzip::new()
    }
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip`, `x-gzip` or
/// `*` with a non-zero weight).
pub(crate) fn accepts_gzip(accept: &str) -> bool {
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q_zero = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return !q_zero;
        }
        if coding == "*" {
            star = Some(!q_zero);
        }
    }
    star.unwrap_or(false)
}

/// Whether compressing a body of this media type is worth it.
fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/wasm"
                | "application/x-www-form-urlencoded"
                | "image/svg+xml"
                | "image/x-icon"
        )
}

impl Middleware for Gzip {
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        let accepted = req
            .headers()
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(accepts_gzip);
        next.run(req, resp)?;
        let status = resp.status_code();
        if resp.head_sent()
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || status == StatusCode::PARTIAL_CONTENT
            || resp.headers().contains_key(header::CONTENT_ENCODING)
            || resp.buffered_body().len() < self.min_size
            || !resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(compressible)
        {
            return Ok(());
        }
        add_vary(resp.headers_mut(), "Accept-Encoding");
        if !accepted {
            return Ok(());
        }
        let body = resp.take_body();
        let level = self.level;
        // On the blocking pool: compression is CPU work, and miniz_oxide
        // builds its ~300 KiB of state on the stack in debug builds, more
        // than a coroutine's stack holds.
        let (body, compressed) = fibra_runtime::blocking(move || {
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::new(level));
            let compressed = encoder.write_all(&body).and_then(|()| encoder.finish());
            (body, compressed)
        });
        match compressed {
            Ok(compressed) => {
                let h = resp.headers_mut();
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                h.remove(header::CONTENT_LENGTH);
                // A strong validator names the uncompressed bytes.
                if let Some(etag) = h.get(header::ETAG).cloned() {
                    if !etag.as_bytes().starts_with(b"W/") {
                        let mut weak = b"W/".to_vec();
                        weak.extend_from_slice(etag.as_bytes());
                        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
                            h.insert(header::ETAG, weak);
                        }
                    }
                }
                resp.body(compressed);
            }
            Err(e) => {
                tracing::warn!(error = %e, "fibra-http: gzip failed; sending uncompressed");
                resp.body(body);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{accepts_gzip, compressible};

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=1.0, br"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("GZIP"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.0, *"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br, *;q=0"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn compressible_types() {
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/json"));
        assert!(compressible("application/problem+json"));
        assert!(!compressible("image/png"));
        assert!(!compressible("application/octet-stream"));
    }
}
