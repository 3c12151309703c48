//! Proxy settings: explicit, or from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`.

use http::HeaderValue;

use super::error::{Error, ErrorKind, Result};
use super::target::{base64, Scheme, Target};

/// An HTTP proxy: requests to `http://` URLs are sent to it in absolute
/// form; `https://` URLs go through a `CONNECT` tunnel.
///
/// Credentials in the proxy URL (`http://user:pass@proxy:3128`) are sent as
/// `Proxy-Authorization: Basic`.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) auth: Option<HeaderValue>,
    applies_to_http: bool,
    applies_to_https: bool,
}

impl Proxy {
    /// A proxy for `http://` requests only.
    ///
    /// # Errors
    /// [`Error::is_builder`] for a URL that is not `http://host[:port]`.
    pub fn http(url: &str) -> Result<Proxy> {
        Proxy::parse(url, true, false)
    }

    /// A proxy for `https://` requests only (through `CONNECT`).
    ///
    /// # Errors
    /// As [`Proxy::http`].
    pub fn https(url: &str) -> Result<Proxy> {
        Proxy::parse(url, false, true)
    }

    /// A proxy for both `http://` and `https://` requests.
    ///
    /// # Errors
    /// As [`Proxy::http`].
    pub fn all(url: &str) -> Result<Proxy> {
        Proxy::parse(url, true, true)
    }

    fn parse(url: &str, http: bool, https: bool) -> Result<Proxy> {
        // `proxy:3128` without a scheme means http, as curl and Go take it.
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let t = Target::parse(&url)?;
        if t.scheme != Scheme::Http {
            return Err(Error::new(
                ErrorKind::Builder,
                "only http:// proxies are supported",
            ));
        }
        let auth = match &t.userinfo {
            Some(u) => Some(
                HeaderValue::from_str(&format!("Basic {}", base64(u.as_bytes()))).map_err(|e| {
                    Error::new(ErrorKind::Builder, "bad proxy credentials").with_source(e)
                })?,
            ),
            None => None,
        };
        let port = if t.uri.port_u16().is_none() {
            80
        } else {
            t.port
        };
        Ok(Proxy {
            host: t.host,
            port,
            auth,
            applies_to_http: http,
            applies_to_https: https,
        })
    }
}

/// The proxies a client uses, and the hosts that bypass them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    list: Vec<Proxy>,
    no_proxy: Vec<String>,
    /// Loopback destinations bypass the proxy (Go's rule for proxies from
    /// the environment).
    skip_loopback: bool,
}

impl Proxies {
    pub(crate) fn add(&mut self, p: Proxy) {
        self.list.push(p);
    }

    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.no_proxy.clear();
    }

    /// Proxies from the environment: `HTTP_PROXY`, `HTTPS_PROXY` (either
    /// case; the lower-case name wins), `NO_PROXY`. Invalid values are
    /// ignored, with a debug log.
    pub(crate) fn from_env(get: impl Fn(&str) -> Option<String>) -> Proxies {
        let var = |name: &str| {
            get(&name.to_ascii_lowercase())
                .or_else(|| get(name))
                .filter(|v| !v.trim().is_empty())
        };
        let mut p = Proxies {
            skip_loopback: true,
            ..Proxies::default()
        };
        for (name, http, https) in [("HTTP_PROXY", true, false), ("HTTPS_PROXY", false, true)] {
            if let Some(v) = var(name) {
                match Proxy::parse(v.trim(), http, https) {
                    Ok(proxy) => p.list.push(proxy),
                    Err(e) => tracing::debug!(%e, "fibra-http: ignoring {name}"),
                }
            }
        }
        if let Some(v) = var("NO_PROXY") {
            p.no_proxy = v
                .split(',')
                .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
        }
        p
    }

    /// The proxy for `target`, if any.
    pub(crate) fn for_target(&self, target: &Target) -> Option<&Proxy> {
        let host = target.host.as_str();
        if target.scheme == Scheme::Unix
            || (self.skip_loopback && is_loopback(host))
            || self.no_proxy.iter().any(|n| {
                n == "*"
                    || host == n
                    || host
                        .strip_suffix(n.as_str())
                        .is_some_and(|p| p.ends_with('.'))
            })
        {
            return None;
        }
        self.list.iter().find(|p| match target.scheme {
            Scheme::Http => p.applies_to_http,
            Scheme::Https => p.applies_to_https,
            Scheme::Unix => false,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment() {
        let env = |name: &str| match name {
            "HTTP_PROXY" => Some("http://u:p@proxy:3128".to_owned()),
            "https_proxy" => Some("proxy2".to_owned()),
            "NO_PROXY" => Some("internal.example, .corp".to_owned()),
            _ => None,
        };
        let p = Proxies::from_env(env);
        let t = |u: &str| Target::parse(u).unwrap();
        let http = p.for_target(&t("http://example.com/")).unwrap();
        assert_eq!((http.host.as_str(), http.port), ("proxy", 3128));
        assert_eq!(http.auth.as_ref().unwrap(), "Basic dTpw");
        let https = p.for_target(&t("https://example.com/")).unwrap();
        assert_eq!((https.host.as_str(), https.port), ("proxy2", 80));
        assert!(p.for_target(&t("http://internal.example/")).is_none());
        assert!(p.for_target(&t("http://a.internal.example/")).is_none());
        assert!(p.for_target(&t("http://x.corp/")).is_none());
        assert!(p.for_target(&t("http://xcorp/")).is_some());
        assert!(p.for_target(&t("http://127.0.0.1:8080/")).is_none());
        assert!(p.for_target(&t("http://localhost/")).is_none());
    }
}
