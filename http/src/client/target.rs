//! URLs as the client needs them: where to connect, what to put on the
//! request line and in `Host`, how to follow a `Location`.

use std::path::PathBuf;

use http::Uri;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::{Error, ErrorKind, Result};

/// The transport a URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
    /// `http+unix://%2Fpath%2Fto%2Fsocket/path`: HTTP over a Unix socket.
    Unix,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Unix => "http+unix",
        }
    }
}

/// A parsed request URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) uri: Uri,
    pub(crate) scheme: Scheme,
    /// Host name or IP literal, without IPv6 brackets (for DNS and SNI).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The socket of an `http+unix` URL (`None` for the `localhost`
    /// placeholder, which keeps the socket of the URL it came from).
    pub(crate) unix_path: Option<PathBuf>,
    /// The `Host` header: host, and port when not the scheme's default.
    pub(crate) host_header: String,
    /// `user:password` from the URL, if any.
    pub(crate) userinfo: Option<String>,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target> {
        // `http::Uri` refuses `%` in a host: take the socket path out and
        // keep `localhost` in its place.
        let unix_prefix = "http+unix://";
        if url.len() > unix_prefix.len()
            && url.is_char_boundary(unix_prefix.len())
            && url[..unix_prefix.len()].eq_ignore_ascii_case(unix_prefix)
        {
            let rest = &url[unix_prefix.len()..];
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (socket, path) = rest.split_at(end);
            let path = if path.starts_with('?') || path.is_empty() {
                format!("/{path}")
            } else {
                path.to_owned()
            };
            let uri: Uri = format!("http+unix://localhost{path}")
                .parse()
                .map_err(|e| {
                    Error::new(ErrorKind::Builder, format!("invalid URL {url:?}")).with_source(e)
                })?;
            let mut t = Target::from_uri(uri)?;
            if !socket.eq_ignore_ascii_case("localhost") {
                t.unix_path = Some(PathBuf::from(percent_decode(socket)));
            }
            return Ok(t);
        }
        let uri: Uri = url.parse().map_err(|e| {
            Error::new(ErrorKind::Builder, format!("invalid URL {url:?}")).with_source(e)
        })?;
        Target::from_uri(uri)
    }

    pub(crate) fn from_uri(uri: Uri) -> Result<Target> {
        let bad = |why: &str| {
            Error::new(ErrorKind::Builder, format!("invalid URL: {why}")).with_url(&uri)
        };
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) if s.eq_ignore_ascii_case("http+unix") => Scheme::Unix,
            Some(_) => return Err(bad("unsupported scheme")),
            None => return Err(bad("no scheme")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?.clone();
        let (userinfo, _) = match authority.as_str().rsplit_once('@') {
            Some((u, rest)) => (Some(percent_decode(u)), rest),
            None => (None, authority.as_str()),
        };
        let raw_host = authority.host();
        if raw_host.is_empty() {
            return Err(bad("empty host"));
        }
        let host = raw_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let default_port = if scheme == Scheme::Https { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let (unix_path, host_header) = if scheme == Scheme::Unix {
            (None, "localhost".to_owned())
        } else if port == default_port {
            (None, raw_host.to_ascii_lowercase())
        } else {
            (None, format!("{}:{port}", raw_host.to_ascii_lowercase()))
        };
        Ok(Target {
            uri,
            scheme,
            host,
            port,
            unix_path,
            host_header,
            userinfo,
        })
    }

    /// The origin-form request target: `/path?query`.
    pub(crate) fn origin_form(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// The absolute-form request target for a proxy, without userinfo.
    pub(crate) fn absolute_form(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_header,
            self.origin_form()
        )
    }

    /// Whether `other` is the same host and port (credentials stay only
    /// then on a redirect).
    pub(crate) fn same_origin_host(&self, other: &Target) -> bool {
        self.host == other.host && self.port == other.port && self.unix_path == other.unix_path
    }
}

/// Resolves a `Location` value against the URL it came from (RFC 3986
/// section 5, with dot segments removed).
pub(crate) fn resolve(base: &Uri, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    // Strip a fragment: it never goes on the wire.
    let location = location.split('#').next().unwrap_or_default();
    let has_scheme = location.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if has_scheme {
        return Some(location.to_owned());
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?.as_str();
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let (path, query) = match location.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (location, None),
    };
    let merged = if path.is_empty() {
        base.path().to_owned()
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{path}")
    };
    let query = match (path.is_empty(), query) {
        (_, Some(q)) => Some(q),
        (true, None) => base.query(),
        (false, None) => None,
    };
    let mut out = format!("{scheme}://{authority}{}", remove_dot_segments(&merged));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Appends `pairs`, form-urlencoded, to the query of `uri`.
pub(crate) fn append_query(uri: &Uri, pairs: &[(String, String)]) -> Result<Uri> {
    if pairs.is_empty() {
        return Ok(uri.clone());
    }
    let s = uri.to_string();
    let base = s.split('#').next().unwrap_or_default();
    let mut out = base.to_owned();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    if uri.path_and_query().is_none() && !base.ends_with('/') {
        out.push('/');
    }
    for (k, v) in pairs {
        out.push(sep);
        sep = '&';
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    out.parse()
        .map_err(|e| Error::new(ErrorKind::Builder, "invalid query").with_source(e))
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub(crate) fn form_encode(s: &str, out: &mut String) {
    out.extend(form_urlencoded::byte_serialize(s.as_bytes()));
}

/// Everything but RFC 3986's unreserved characters, escaped in a socket path.
const SOCKET_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes a socket path for an `http+unix` URL's host.
pub fn unix_socket_host(path: &std::path::Path) -> String {
    utf8_percent_encode(&path.to_string_lossy(), SOCKET_PATH).to_string()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Standard base64, for `Basic` credentials.
pub(crate) fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("https://Example.com/a?b=1").unwrap();
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port),
            (Scheme::Https, "example.com", 443)
        );
        assert_eq!(t.host_header, "example.com");
        assert_eq!(t.origin_form(), "/a?b=1");
        let t = Target::parse("http://u:p%40@[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.host_header, "[::1]:8080");
        assert_eq!(t.userinfo.as_deref(), Some("u:p@"));
        assert_eq!(t.origin_form(), "/");
        let t = Target::parse("http+unix://%2Ftmp%2Fs.sock/x").unwrap();
        assert_eq!(t.unix_path, Some(PathBuf::from("/tmp/s.sock")));
        assert_eq!(t.origin_form(), "/x");
        let t = Target::parse("http+unix://%2Fs?q").unwrap();
        assert_eq!(t.unix_path, Some(PathBuf::from("/s")));
        assert_eq!(t.origin_form(), "/?q");
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("/relative").is_err());
    }

    #[test]
    fn resolves_locations() {
        let base: Uri = "http://h/a/b/c?q".parse().unwrap();
        let r = |l: &str| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(r("https://o/x").as_deref(), Some("https://o/x"));
        assert_eq!(r("//o2/y").as_deref(), Some("http://o2/y"));
        assert_eq!(r("/abs?z").as_deref(), Some("http://h/abs?z"));
        assert_eq!(r("d").as_deref(), Some("http://h/a/b/d"));
        assert_eq!(r("../d").as_deref(), Some("http://h/a/d"));
        assert_eq!(r("./").as_deref(), Some("http://h/a/b/"));
        assert_eq!(r("?n").as_deref(), Some("http://h/a/b/c?n"));
        assert_eq!(r("../../../../x#f").as_deref(), Some("http://h/x"));
        assert_eq!(r(""), None);
    }

    #[test]
    fn queries_and_base64() {
        let u: Uri = "http://h".parse().unwrap();
        let q = append_query(&u, &[("a b".into(), "1&2".into())]).unwrap();
        assert_eq!(q.to_string(), "http://h/?a+b=1%262");
        let u: Uri = "http://h/p?x=1".parse().unwrap();
        let q = append_query(&u, &[("y".into(), "é".into())]).unwrap();
        assert_eq!(q.to_string(), "http://h/p?x=1&y=%C3%A9");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }
}
