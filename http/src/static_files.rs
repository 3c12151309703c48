//! Serving files from a directory: Go's `http.FileServer`.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use http::{header, HeaderValue, Method, StatusCode};

use crate::proto::{fmt_http_date, parse_http_date};
use crate::urlencoded;
use crate::{Error, Handler, Request, Response};

/// Bodies up to this size are read in one blocking call and sent buffered;
/// larger ones stream in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// Serves the files under a directory, mounted at a catch-all route:
///
/// ```no_run
/// use fibra_http::{Router, StaticFiles};
///
/// let mut router = Router::new();
/// router.get("/static/*path", StaticFiles::new("./public")?);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// - `GET` and `HEAD` (others get `405`), with `Content-Type` from the
///   file's extension (`mime_guess`'s table), `Last-Modified`, `ETag` and `Accept-Ranges`.
/// - Conditional requests: `If-None-Match`, and `If-Modified-Since`
///   without it, answered `304 Not Modified`.
/// - One byte range (`Range: bytes=a-b`, `a-`, `-n`): `206` with
///   `Content-Range`, or `416` when unsatisfiable; `If-Range` is honoured.
///   A request for several ranges gets the whole file.
/// - A directory is served by its `index.html`, or `404` without one.
///
/// The path comes from the route parameter named `path` (see
/// [`StaticFiles::param`]), or the whole request path when the route has
/// none. It is percent-decoded, then refused with `400` when a segment is
/// `..` or it holds a NUL byte or backslash, or starts with `/`, so encoded
/// traversal (`%2e%2e`, `%2f`) is caught after decoding. The file found is
/// then resolved with `canonicalize` and must lie under the (canonical)
/// root, so a symbolic link pointing outside it gets `404`.
///
/// File system calls block the thread, so they run on the blocking pool
/// ([`fibra_runtime::blocking`]): one call opens and checks the file and
/// reads it whole when it is at most 64 KiB; larger files stream in 64 KiB
/// blocking reads, each written to the client before the next.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    param: String,
}

/// An opened file, checked to be a regular file under the root.
struct Opened {
    file: File,
    meta: Metadata,
    path: PathBuf,
    /// The first bytes, when the whole requested range is small.
    head: Option<Vec<u8>>,
}

impl StaticFiles {
    /// Serves the files under `root`.
    ///
    /// # Errors
    /// When `root` cannot be resolved (it does not exist) or is not a
    /// directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<StaticFiles> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(StaticFiles {
            root,
            param: "path".into(),
        })
    }

    /// Takes the file path from the route parameter `name` (default
    /// `path`, as in `/static/*path`).
    pub fn param(mut self, name: impl Into<String>) -> StaticFiles {
        self.param = name.into();
        self
    }

    /// The (canonical) directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The segments of a decoded relative path, or `None` if it must be
/// refused.
fn segments(rel: &str) -> Option<Vec<String>> {
    if rel.starts_with('/') || rel.contains(['\0', '\\']) {
        return None;
    }
    let mut out = Vec::new();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s => out.push(s.to_owned()),
        }
    }
    Some(out)
}

/// Resolves `segments` under `root` and opens the file (on the blocking
/// pool). A path escaping the root reads as not found.
fn open(root: &Path, segments: &[String]) -> io::Result<Opened> {
    let mut path = root.to_path_buf();
    path.extend(segments);
    let outside = || io::Error::new(io::ErrorKind::NotFound, "outside the root");
    let mut path = resolve(&path)?;
    if !path.starts_with(root) {
        return Err(outside());
    }
    let mut meta = fs::metadata(&path)?;
    if meta.is_dir() {
        path = resolve(&path.join("index.html"))?;
        if !path.starts_with(root) {
            return Err(outside());
        }
        meta = fs::metadata(&path)?;
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "not a regular file",
        ));
    }
    let file = File::open(&path)?;
    Ok(Opened {
        file,
        meta,
        path,
        head: None,
    })
}

/// The `Content-Type` for a file name's extension, from `mime_guess`'s
/// table; text gets `charset=utf-8`, an unknown extension
/// `application/octet-stream`.
fn content_type(path: &Path) -> HeaderValue {
    let Some(mime) = mime_guess::from_path(path).first_raw() else {
        return HeaderValue::from_static("application/octet-stream");
    };
    if mime.starts_with("text/") || mime == "application/javascript" {
        if let Ok(v) = HeaderValue::try_from(format!("{mime}; charset=utf-8")) {
            return v;
        }
    }
    HeaderValue::from_static(mime)
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// The whole body (no range, several ranges, or an invalid header).
    Full,
    /// Bytes `start..start + len`.
    Part { start: u64, len: u64 },
    /// No requested byte exists: `416`.
    Unsatisfiable,
}

fn parse_range(value: &str, len: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let parse = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match parse(suffix) {
            None => Range::Full,
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => {
                let n = n.min(len);
                Range::Part {
                    start: len - n,
                    len: n,
                }
            }
        },
        (first, last) => {
            let Some(start) = parse(first) else {
                return Range::Full;
            };
            let end = if last.is_empty() {
                None
            } else {
                match parse(last) {
                    Some(end) if end >= start => Some(end),
                    _ => return Range::Full,
                }
            };
            if start >= len {
                return Range::Unsatisfiable;
            }
            let end = end.unwrap_or(len - 1).min(len - 1);
            Range::Part {
                start,
                len: end - start + 1,
            }
        }
    }
}

/// Whether an `If-None-Match` value lists `etag` (weak comparison).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let etag = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == etag)
}

fn io_status(e: &io::Error) -> StatusCode {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Resolves `path`; failures other than a denied permission (a missing
/// file, a symbolic link loop, a name too long) read as not found.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    fs::canonicalize(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => e,
        _ => io::Error::new(io::ErrorKind::NotFound, e),
    })
}

impl Handler for StaticFiles {
    fn call(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        let method = req.method().clone();
        if method != Method::GET && method != Method::HEAD {
            resp.header("allow", "GET, HEAD")?
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .text("405 method not allowed\n");
            return Ok(());
        }
        let rel = match req.param(&self.param) {
            Some(p) => p.to_owned(),
            None => {
                let decoded = urlencoded::decode_path(req.path());
                decoded.strip_prefix('/').unwrap_or(&decoded).to_owned()
            }
        };
        let Some(segments) = segments(&rel) else {
            return Err(Error::bad_request("invalid file path"));
        };
        let range_header = req.header("range").map(str::to_owned);
        let root = self.root.clone();
        let is_get = method == Method::GET;
        let opened = fibra_runtime::blocking(move || -> io::Result<Opened> {
            let mut opened = open(&root, &segments)?;
            // The common case, a small file fetched whole, in one trip to
            // the pool.
            if is_get && range_header.is_none() && opened.meta.len() <= CHUNK as u64 {
                let mut buf = Vec::with_capacity(opened.meta.len() as usize);
                (&opened.file).read_to_end(&mut buf)?;
                opened.head = Some(buf);
            }
            Ok(opened)
        });
        let mut opened = match opened {
            Ok(o) => o,
            Err(e) => {
                let status = io_status(&e);
                if status.is_server_error() {
                    tracing::warn!(error = %e, path = %rel, "fibra-http: static file error");
                }
                return Err(Error::new(status, status.canonical_reason().unwrap_or("")));
            }
        };
        let size = match &opened.head {
            Some(buf) => buf.len() as u64,
            None => opened.meta.len(),
        };
        let mtime = opened
            .meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let last_modified = mtime.map(|d| fmt_http_date(d.as_secs()));
        let etag = mtime.map(|d| format!("\"{size:x}-{:x}\"", d.as_nanos()));

        let h = resp.headers_mut();
        if let Some(lm) = &last_modified {
            h.insert(header::LAST_MODIFIED, HeaderValue::from_str(lm)?);
        }
        if let Some(tag) = &etag {
            h.insert(header::ETAG, HeaderValue::from_str(tag)?);
        }

        // Conditional GET: If-None-Match wins over If-Modified-Since.
        let not_modified = match (req.header("if-none-match"), &etag) {
            (Some(inm), Some(tag)) => etag_matches(inm, tag),
            (Some(_), None) => false,
            (None, _) => match (req.header("if-modified-since"), mtime) {
                (Some(ims), Some(mtime)) => {
                    parse_http_date(ims).is_some_and(|ims| mtime.as_secs() <= ims)
                }
                _ => false,
            },
        };
        if not_modified {
            resp.status(StatusCode::NOT_MODIFIED);
            return Ok(());
        }

        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, content_type(&opened.path));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

        let mut range = match req.header("range") {
            Some(r) => parse_range(r, size),
            None => Range::Full,
        };
        if let Some(if_range) = req.header("if-range") {
            let current = if if_range.trim_start().starts_with('"') {
                etag.as_deref()
            } else {
                last_modified.as_deref()
            };
            if current != Some(if_range.trim()) {
                range = Range::Full;
            }
        }
        let (start, len) = match range {
            Range::Full => (0, size),
            Range::Part { start, len } => {
                resp.status(StatusCode::PARTIAL_CONTENT).header(
                    "content-range",
                    &format!("bytes {start}-{}/{size}", start + len - 1),
                )?;
                (start, len)
            }
            Range::Unsatisfiable => {
                resp.headers_mut().remove(header::CONTENT_TYPE);
                resp.status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header("content-range", &format!("bytes */{size}"))?;
                return Ok(());
            }
        };

        if let Some(buf) = opened.head.take() {
            resp.body(buf);
            return Ok(());
        }
        resp.header("content-length", &len.to_string())?;
        if method == Method::HEAD || len == 0 {
            return Ok(());
        }
        if len <= CHUNK as u64 {
            let file = opened.file;
            let buf = fibra_runtime::blocking(move || read_at(&file, start, len as usize))?;
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            resp.body(buf);
            return Ok(());
        }
        stream(opened.file, start, len, resp)
    }
}

/// Reads `len` bytes at `offset`.
fn read_at(mut file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Streams `len` bytes from `offset`, one blocking read of up to [`CHUNK`]
/// bytes at a time.
fn stream(file: File, offset: u64, len: u64, resp: &mut Response) -> Result<(), Error> {
    let mut w = resp.writer();
    let mut file = Some(file);
    let mut buf = Vec::with_capacity(CHUNK);
    let mut pos = offset;
    let mut left = len;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let (f, b, r) = {
            let f = file.take().expect("file is put back after each read");
            let mut b = std::mem::take(&mut buf);
            fibra_runtime::blocking(move || {
                b.resize(want, 0);
                let r = (&f)
                    .seek(SeekFrom::Start(pos))
                    .and_then(|_| (&f).read_exact(&mut b));
                (f, b, r)
            })
        };
        // A file shrinking under us ends the response early; the server
        // then closes the connection, as the length was promised.
        r?;
        w.write_all(&b)?;
        pos += want as u64;
        left -= want as u64;
        file = Some(f);
        buf = b;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{content_type, etag_matches, parse_range, segments, Range};
    use std::path::Path;

    #[test]
    fn content_types() {
        let ct = |p: &str| content_type(Path::new(p));
        assert_eq!(ct("a/index.HTML"), "text/html; charset=utf-8");
        assert_eq!(ct("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(ct("logo.png"), "image/png");
        assert_eq!(ct("data.json"), "application/json");
        assert_eq!(ct("font.woff2"), "font/woff2");
        assert_eq!(ct("noext"), "application/octet-stream");
        assert_eq!(ct("x.unknownext"), "application/octet-stream");
    }

    #[test]
    fn ranges() {
        let part = |start, len| Range::Part { start, len };
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 10));
        assert_eq!(parse_range("bytes=90-200", 100), part(90, 10));
        assert_eq!(parse_range("bytes=-5", 100), part(95, 5));
        assert_eq!(parse_range("bytes=-500", 100), part(0, 100));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Full);
        assert_eq!(parse_range("bytes=5-1", 100), Range::Full);
        assert_eq!(parse_range("items=0-1", 100), Range::Full);
        assert_eq!(parse_range("bytes=a-b", 100), Range::Full);
        assert_eq!(parse_range("bytes=+1-2", 100), Range::Full);
    }

    #[test]
    fn path_segments() {
        assert_eq!(segments("a/b.txt"), Some(vec!["a".into(), "b.txt".into()]));
        assert_eq!(segments("a//./b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(segments(""), Some(vec![]));
        assert_eq!(segments("../x"), None);
        assert_eq!(segments("a/../../x"), None);
        assert_eq!(segments("/etc/passwd"), None);
        assert_eq!(segments("a\0b"), None);
        assert_eq!(segments("a\\..\\b"), None);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\", \"b\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }
}
