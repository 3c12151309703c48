//! Cross-Origin Resource Sharing.

use std::time::Duration;

use http::{header, HeaderValue, Method, StatusCode};

use super::{add_vary, error_into_response, Middleware, Next};
use crate::{Error, Request, Response};

/// Answers CORS preflight requests and adds the CORS headers to responses
/// for allowed origins (the Fetch standard's CORS protocol).
///
/// A preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) from an allowed origin is answered
/// `204` with `Access-Control-Allow-Origin`, `-Methods`, `-Headers` and
/// `-Max-Age`, without running the handler; from another origin it gets
/// `403`. Other requests from an allowed origin run as usual and get
/// `Access-Control-Allow-Origin` (plus `-Credentials` and `-Expose-Headers`
/// when configured), on error responses too. Requests without `Origin` pass
/// through untouched. Register it as global middleware so that preflight
/// requests reach it for every path.
///
/// ```
/// use fibra_http::middleware::Cors;
/// use fibra_http::Router;
///
/// let mut router = Router::new();
/// router.middleware(
///     Cors::new()
///         .allow_origin("https://app.example")
///         .allow_methods(["GET", "POST", "DELETE"])
///         .allow_headers(["content-type", "authorization"])
///         .allow_credentials(true),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    /// `None`: any origin.
    origins: Option<Vec<String>>,
    methods: String,
    /// `None`: echo the requested headers.
    headers: Option<String>,
    expose: Option<String>,
    credentials: bool,
    max_age: Option<Duration>,
}

impl Cors {
    /// A policy allowing no origin yet, the methods `GET, HEAD, POST, PUT,
    /// PATCH, DELETE`, the header `content-type`, and a max age of 10
    /// minutes.
    pub fn new() -> Cors {
        Cors {
            origins: Some(Vec::new()),
            methods: "GET, HEAD, POST, PUT, PATCH, DELETE".into(),
            headers: Some("content-type".into()),
            expose: None,
            credentials: false,
            max_age: Some(Duration::from_secs(600)),
        }
    }

    /// Allows requests from `origin` (compared exactly, such as
    /// `https://app.example:8443`).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Cors {
        if let Some(list) = &mut self.origins {
            list.push(origin.into());
        }
        self
    }

    /// Allows every origin. Without credentials the responses say
    /// `Access-Control-Allow-Origin: *`; with them they echo the origin.
    pub fn allow_any_origin(mut self) -> Cors {
        self.origins = None;
        self
    }

    /// The methods preflight requests may ask for (replacing the default).
    pub fn allow_methods<'a>(mut self, methods: impl IntoIterator<Item = &'a str>) -> Cors {
        self.methods = join(methods);
        self
    }

    /// The request headers preflight requests may ask for (replacing the
    /// default).
    pub fn allow_headers<'a>(mut self, headers: impl IntoIterator<Item = &'a str>) -> Cors {
        self.headers = Some(join(headers));
        self
    }

    /// Allows whatever request headers a preflight asks for.
    pub fn allow_any_header(mut self) -> Cors {
        self.headers = None;
        self
    }

    /// Response headers the browser may show to scripts
    /// (`Access-Control-Expose-Headers`).
    pub fn expose_headers<'a>(mut self, headers: impl IntoIterator<Item = &'a str>) -> Cors {
        self.expose = Some(join(headers));
        self
    }

    /// Whether requests may carry cookies and credentials
    /// (`Access-Control-Allow-Credentials: true`).
    pub fn allow_credentials(mut self, on: bool) -> Cors {
        self.credentials = on;
        self
    }

    /// How long browsers may cache a preflight answer (`None`: no
    /// `Access-Control-Max-Age`).
    pub fn max_age(mut self, max_age: Option<Duration>) -> Cors {
        self.max_age = max_age;
        self
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        match &self.origins {
            None => true,
            Some(list) => list.iter().any(|o| o == origin),
        }
    }

    /// `Access-Control-Allow-Origin` and friends for an allowed origin.
    fn set_origin_headers(&self, resp: &mut Response, origin: &HeaderValue) {
        let h = resp.headers_mut();
        if self.origins.is_none() && !self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        } else {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            add_vary(h, "Origin");
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

impl Cors {
    /// The headers of an actual (not preflight) request's response.
    fn set_actual_headers(&self, resp: &mut Response, origin: &HeaderValue) -> Result<(), Error> {
        self.set_origin_headers(resp, origin);
        if let Some(expose) = &self.expose {
            resp.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_str(expose)?,
            );
        }
        Ok(())
    }
}

impl Default for Cors {
    fn default() -> Cors {
        Cors::new()
    }
}

fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

impl Middleware for Cors {
    fn handle(&self, req: &mut Request, resp: &mut Response, next: Next<'_>) -> Result<(), Error> {
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            return next.run(req, resp);
        };
        let allowed = origin.to_str().is_ok_and(|o| self.origin_allowed(o));
        let preflight = *req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            if !allowed {
                resp.status(StatusCode::FORBIDDEN)
                    .text("CORS origin not allowed\n");
                return Ok(());
            }
            self.set_origin_headers(resp, &origin);
            let requested = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned();
            let h = resp.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_str(&self.methods)?,
            );
            match (&self.headers, requested) {
                (Some(list), _) => {
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        HeaderValue::from_str(list)?,
                    );
                }
                (None, Some(requested)) => {
                    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
                    add_vary(h, "Access-Control-Request-Headers");
                }
                (None, None) => {}
            }
            if let Some(age) = self.max_age {
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from(age.as_secs()),
                );
            }
            resp.status(StatusCode::NO_CONTENT);
            return Ok(());
        }
        if !allowed {
            return next.run(req, resp);
        }
        // Before the handler, for streamed responses; again after, as an
        // error response starts with no headers.
        self.set_actual_headers(resp, &origin)?;
        let result = next.run(req, resp);
        let result = error_into_response(resp, result);
        if !resp.head_sent() {
            self.set_actual_headers(resp, &origin)?;
        }
        result
    }
}
