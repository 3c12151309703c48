//! The handler-level router: the radix [`router`](crate::router) tree
//! storing handlers, with middleware, as a [`Handler`] for the server.

use std::fmt;
use std::sync::Arc;

use http::{header, HeaderValue, Method, StatusCode};

use crate::middleware::{Middleware, Next, Shared};
use crate::router::{self, InsertError, Lookup};
use crate::urlencoded;
use crate::{Error, Handler, Request, Response};

/// What a route stores: its handler, the group middleware around it, and
/// its template.
struct Endpoint {
    handler: Arc<dyn Handler>,
    middleware: Arc<[Shared]>,
    route: Arc<str>,
    /// `"GET /users/:id"` (`"* /path"` for every method): the coroutine
    /// label for the long-run monitor.
    label: Arc<str>,
}

/// Routes requests to handlers by method and path, with middleware: Go's
/// `http.ServeMux` with chi's groups and middleware. It is itself a
/// [`Handler`], so `server.serve(router)` serves it.
///
/// Routes use the syntax of the [`router`](crate::router) module:
/// static segments, `:name` parameters (one segment) and a final `*name`
/// catch-all; a static segment beats a parameter, which beats a catch-all.
/// Handlers read parameters with [`Request::param`], percent-decoded.
/// Group and route middleware see the parameters and
/// [`Request::route`] too; global middleware runs before routing, so it sees
/// them only after calling [`Next::run`].
///
/// - `HEAD` requests are routed to the `GET` route when the path has no
///   `HEAD` route (the server sends no body).
/// - A path that matches routes of other methods only is answered `405`
///   with an `Allow` header (which lists `HEAD` with `GET`, and `OPTIONS`);
///   an `OPTIONS` request to it is answered `204` with the same `Allow`.
/// - A path that misses only by its trailing slash is redirected: `301` for
///   `GET` and `HEAD`, `308` otherwise (the method and body are kept), with
///   the query string.
/// - Anything else gets `404` (see [`Router::not_found`]).
///
/// Registration methods such as [`Router::get`] panic when a route
/// conflicts with one already registered, naming both: route tables are
/// built at startup, where a panic is a clear failure. [`Router::try_route`]
/// returns the error instead.
///
/// ```no_run
/// use fibra_http::middleware::Logger;
/// use fibra_http::{handler_fn, Router, Server};
///
/// let mut router = Router::new();
/// router.middleware(Logger::new());
/// router.get("/users/:id", handler_fn(|req, resp| {
///     resp.text(format!("user {}\n", req.param("id").unwrap_or("?")));
///     Ok(())
/// }));
/// router.group("/api", |api| {
///     api.get("/status", handler_fn(|_, resp| {
///         resp.text("ok\n");
///         Ok(())
///     }));
/// });
/// fibra_runtime::run(|| Server::bind("127.0.0.1:8080")?.serve(router)).unwrap();
/// ```
pub struct Router {
    routes: router::RouteTable<Endpoint>,
    middleware: Vec<Shared>,
    not_found: Option<Arc<dyn Handler>>,
}

impl Router {
    /// An empty router: every request gets `404`.
    pub fn new() -> Router {
        Router {
            routes: router::RouteTable::new(),
            middleware: Vec::new(),
            not_found: None,
        }
    }

    /// Adds global middleware, run for every request (including `404`,
    /// `405`, redirects and automatic `OPTIONS` answers, so that, for
    /// example, [`Cors`](crate::middleware::Cors) can answer preflight
    /// requests for any path), in the order added, outside group and route
    /// middleware. It applies to routes registered before and after it.
    pub fn middleware(&mut self, middleware: impl Middleware) -> &mut Router {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Sets the handler for requests that match no route (default: `404`
    /// with `404 page not found`). It runs inside the global middleware.
    pub fn not_found(&mut self, handler: impl Handler) -> &mut Router {
        self.not_found = Some(Arc::new(handler));
        self
    }

    /// Whether a path that misses only by its trailing slash is redirected
    /// (`true`, the default) or gets `404`.
    pub fn redirect_trailing_slash(&mut self, on: bool) -> &mut Router {
        self.routes.set_redirect_trailing_slash(on);
        self
    }

    /// Registers `handler` for `method` requests whose path matches `route`.
    ///
    /// # Errors
    /// [`InsertError::Conflict`] naming the registered route when `route`
    /// conflicts with one of the same method; [`InsertError::Malformed`]
    /// when it is malformed.
    pub fn try_route(
        &mut self,
        method: Method,
        route: &str,
        handler: impl Handler,
    ) -> Result<&mut Router, InsertError> {
        self.insert(
            Some(method),
            route,
            Arc::new(handler),
            Arc::from(Vec::new()),
        )?;
        Ok(self)
    }

    /// Registers `handler` for `method` (`None`: every method) on `route`.
    fn insert(
        &mut self,
        method: Option<Method>,
        route: &str,
        handler: Arc<dyn Handler>,
        middleware: Arc<[Shared]>,
    ) -> Result<(), InsertError> {
        let label = format!("{} {route}", method.as_ref().map_or("*", Method::as_str));
        let endpoint = Endpoint {
            handler,
            middleware,
            route: Arc::from(route),
            label: Arc::from(label),
        };
        match method {
            Some(method) => self.routes.route(method.as_str(), route, endpoint),
            None => self.routes.route_any(route, endpoint),
        }
    }

    /// Registers `handler` for requests of every method whose path matches
    /// `route`, like a Go `ServeMux` pattern without a method. A route
    /// registered for the request's own method wins over it.
    ///
    /// # Errors
    /// As [`Router::try_route`], the conflicts being with other routes for
    /// every method.
    pub fn try_any(
        &mut self,
        route: &str,
        handler: impl Handler,
    ) -> Result<&mut Router, InsertError> {
        self.insert(None, route, Arc::new(handler), Arc::from(Vec::new()))?;
        Ok(self)
    }

    /// Registers `handler` for every method on `route` (see
    /// [`Router::try_any`]).
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn any(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        if let Err(e) = self.try_any(route, handler) {
            panic!("fibra-http: cannot register {route} for every method: {e}");
        }
        self
    }

    /// Go's subtree pattern: `prefix` (which ends with `/`) and every path
    /// under it, for every method. `subtree("/publish/", h)` registers
    /// `/publish/` and `/publish/*rest` with [`Router::any`], so `h` serves
    /// `/publish/`, `/publish/a` and `/publish/a/b` and reads what follows
    /// the prefix with `req.param("rest")` (`None` for the prefix itself);
    /// the trailing-slash redirect sends `/publish` to `/publish/` (`301`
    /// for `GET` and `HEAD`, `308` for other methods, where Go always
    /// answers `301`). More specific routes registered beside it win, as in
    /// Go; `subtree("/", h)` catches every path no other route matches.
    ///
    /// ```
    /// use fibra_http::{handler_fn, Router};
    ///
    /// let mut router = Router::new();
    /// router.subtree("/publish/", handler_fn(|req, resp| {
    ///     resp.text(format!("publishing {:?}\n", req.param("rest")));
    ///     Ok(())
    /// }));
    /// router.get("/publish/status", handler_fn(|_, resp| {
    ///     resp.text("ok\n");
    ///     Ok(())
    /// }));
    /// ```
    ///
    /// # Panics
    /// When `prefix` does not start and end with `/`, or conflicts with a
    /// route registered for every method (see [`Router::route`]).
    pub fn subtree(&mut self, prefix: &str, handler: impl Handler) -> &mut Router {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        for route in subtree_routes(prefix) {
            if let Err(e) = self.insert(None, &route, handler.clone(), Arc::from(Vec::new())) {
                panic!("fibra-http: cannot register subtree {prefix}: {e}");
            }
        }
        self
    }

    /// Registers `handler` for `method` requests whose path matches `route`.
    ///
    /// # Panics
    /// When the route conflicts with a registered one or is malformed (see
    /// [`Router::try_route`]).
    pub fn route(&mut self, method: Method, route: &str, handler: impl Handler) -> &mut Router {
        if let Err(e) = self.try_route(method.clone(), route, handler) {
            panic!("fibra-http: cannot register {method} {route}: {e}");
        }
        self
    }

    /// Registers a `GET` route (also used for `HEAD`).
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn get(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::GET, route, handler)
    }

    /// Registers a `POST` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn post(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::POST, route, handler)
    }

    /// Registers a `PUT` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn put(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::PUT, route, handler)
    }

    /// Registers a `DELETE` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn delete(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::DELETE, route, handler)
    }

    /// Registers a `PATCH` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn patch(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::PATCH, route, handler)
    }

    /// Registers a `HEAD` route (without one, `HEAD` uses the `GET` route).
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn head(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::HEAD, route, handler)
    }

    /// Registers an `OPTIONS` route (without one, `OPTIONS` is answered
    /// `204` with `Allow`).
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn options(&mut self, route: &str, handler: impl Handler) -> &mut Router {
        self.route(Method::OPTIONS, route, handler)
    }

    /// Registers routes under `prefix` with `f`, which receives a [`Group`]
    /// that may have its own middleware; groups nest.
    ///
    /// # Panics
    /// As [`Router::route`], for the group's routes; and when `f` adds
    /// group middleware after registering a route in the group.
    pub fn group(&mut self, prefix: &str, f: impl FnOnce(&mut Group<'_>)) -> &mut Router {
        let mut group = Group {
            router: self,
            prefix: prefix.trim_end_matches('/').to_owned(),
            middleware: Vec::new(),
            routed: false,
        };
        f(&mut group);
        self
    }

    /// Routes one request (inside the global middleware).
    fn dispatch(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        let path = req.path();
        let mut method = req.method().as_str();
        if *req.method() == Method::HEAD
            && self
                .routes
                .tree("HEAD")
                .is_none_or(|tree| tree.find(path).is_none())
        {
            method = "GET";
        }
        match self.routes.lookup(method, path) {
            Lookup::Found(m) => {
                let params = m
                    .params
                    .iter()
                    .map(|(k, v)| (Box::from(k), urlencoded::decode_path(v)))
                    .collect();
                let endpoint = m.value;
                fibra_runtime::coroutine::set_label(&endpoint.label);
                req.set_route(endpoint.route.clone(), params);
                if endpoint.middleware.is_empty() {
                    return endpoint.handler.call(req, resp);
                }
                let call =
                    |req: &mut Request, resp: &mut Response| endpoint.handler.call(req, resp);
                Next::new(&endpoint.middleware, &call).run(req, resp)
            }
            Lookup::MethodNotAllowed { mut allow } => {
                if allow.contains(&"GET") && !allow.contains(&"HEAD") {
                    allow.push("HEAD");
                }
                if !allow.contains(&"OPTIONS") {
                    allow.push("OPTIONS");
                }
                let allow = allow.join(", ");
                let options = *req.method() == Method::OPTIONS;
                resp.header(header::ALLOW.as_str(), &allow)?;
                if options {
                    resp.status(StatusCode::NO_CONTENT);
                } else {
                    resp.status(StatusCode::METHOD_NOT_ALLOWED)
                        .text("405 method not allowed\n");
                }
                Ok(())
            }
            Lookup::RedirectTrailingSlash(mut location) if !location.starts_with("//") => {
                if let Some(query) = req.raw_query() {
                    location.push('?');
                    location.push_str(query);
                }
                let status = if method == "GET" || *req.method() == Method::HEAD {
                    StatusCode::MOVED_PERMANENTLY
                } else {
                    StatusCode::PERMANENT_REDIRECT
                };
                let location = HeaderValue::try_from(location)
                    .map_err(|_| Error::bad_request("invalid path"))?;
                resp.headers_mut().insert(header::LOCATION, location);
                resp.status(status);
                Ok(())
            }
            _ => match &self.not_found {
                Some(handler) => handler.call(req, resp),
                None => {
                    resp.status(StatusCode::NOT_FOUND)
                        .text("404 page not found\n");
                    Ok(())
                }
            },
        }
    }
}

/// The two routes of a subtree pattern: the prefix and its catch-all.
///
/// # Panics
/// When `prefix` does not start and end with `/`.
fn subtree_routes(prefix: &str) -> [String; 2] {
    assert!(
        prefix.starts_with('/') && prefix.ends_with('/'),
        "fibra-http: a subtree prefix starts and ends with `/`, not {prefix:?}"
    );
    [prefix.to_owned(), format!("{prefix}*rest")]
}

impl Handler for Router {
    fn call(&self, req: &mut Request, resp: &mut Response) -> Result<(), Error> {
        if self.middleware.is_empty() {
            return self.dispatch(req, resp);
        }
        let dispatch = |req: &mut Request, resp: &mut Response| self.dispatch(req, resp);
        Next::new(&self.middleware, &dispatch).run(req, resp)
    }
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("middleware", &self.middleware.len())
            .finish_non_exhaustive()
    }
}

/// Routes under a common prefix with their own middleware; from
/// [`Router::group`].
///
/// ```
/// use fibra_http::middleware::middleware_fn;
/// use fibra_http::{handler_fn, Router, StatusCode};
///
/// let mut router = Router::new();
/// router.group("/admin", |admin| {
///     admin.middleware(middleware_fn(|req, resp, next| {
///         if req.header("x-admin-token") != Some("secret") {
///             resp.status(StatusCode::FORBIDDEN);
///             return Ok(());
///         }
///         next.run(req, resp)
///     }));
///     admin.delete("/users/:id", handler_fn(|req, resp| {
///         resp.text(format!("deleted {}\n", req.param("id").unwrap_or_default()));
///         Ok(())
///     }));
/// });
/// ```
pub struct Group<'r> {
    router: &'r mut Router,
    prefix: String,
    middleware: Vec<Shared>,
    /// A route or nested group was registered: middleware can no longer be
    /// added.
    routed: bool,
}

impl Group<'_> {
    /// Adds middleware for the group's routes (and its nested groups'),
    /// inside the global middleware and the enclosing groups', in the order
    /// added.
    ///
    /// # Panics
    /// When a route or nested group was already registered in this group
    /// (it would not apply to them): add middleware first.
    pub fn middleware(&mut self, middleware: impl Middleware) -> &mut Self {
        assert!(
            !self.routed,
            "fibra-http: group `{}`: add middleware before registering routes",
            self.prefix
        );
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Registers `handler` for `method` on the group's prefix followed by
    /// `route` (which must start with `/`).
    ///
    /// # Errors
    /// As [`Router::try_route`], for the joined route.
    pub fn try_route(
        &mut self,
        method: Method,
        route: &str,
        handler: impl Handler,
    ) -> Result<&mut Self, InsertError> {
        self.try_insert(Some(method), route, Arc::new(handler))?;
        Ok(self)
    }

    fn try_insert(
        &mut self,
        method: Option<Method>,
        route: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<(), InsertError> {
        if !route.starts_with('/') {
            return Err(InsertError::Malformed {
                route: route.to_owned(),
                reason: "a route in a group must start with `/`",
            });
        }
        self.routed = true;
        let full = format!("{}{route}", self.prefix);
        let chain: Arc<[Shared]> = Arc::from(self.middleware.clone());
        self.router.insert(method, &full, handler, chain)
    }

    /// Registers `handler` for every method on the group's prefix followed
    /// by `route`; see [`Router::any`].
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn any(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        if let Err(e) = self.try_insert(None, route, Arc::new(handler)) {
            panic!(
                "fibra-http: cannot register {}{route} for every method: {e}",
                self.prefix
            );
        }
        self
    }

    /// Go's subtree pattern under the group's prefix; see
    /// [`Router::subtree`].
    ///
    /// # Panics
    /// As [`Router::subtree`].
    pub fn subtree(&mut self, prefix: &str, handler: impl Handler) -> &mut Self {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        for route in subtree_routes(prefix) {
            if let Err(e) = self.try_insert(None, &route, handler.clone()) {
                panic!(
                    "fibra-http: cannot register subtree {}{prefix}: {e}",
                    self.prefix
                );
            }
        }
        self
    }

    /// Registers `handler` for `method` on the group's prefix followed by
    /// `route`.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn route(&mut self, method: Method, route: &str, handler: impl Handler) -> &mut Self {
        if let Err(e) = self.try_route(method.clone(), route, handler) {
            panic!(
                "fibra-http: cannot register {method} {}{route}: {e}",
                self.prefix
            );
        }
        self
    }

    /// Registers a `GET` route (also used for `HEAD`).
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn get(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::GET, route, handler)
    }

    /// Registers a `POST` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn post(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::POST, route, handler)
    }

    /// Registers a `PUT` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn put(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::PUT, route, handler)
    }

    /// Registers a `DELETE` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn delete(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::DELETE, route, handler)
    }

    /// Registers a `PATCH` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn patch(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::PATCH, route, handler)
    }

    /// Registers a `HEAD` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn head(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::HEAD, route, handler)
    }

    /// Registers an `OPTIONS` route.
    ///
    /// # Panics
    /// As [`Router::route`].
    pub fn options(&mut self, route: &str, handler: impl Handler) -> &mut Self {
        self.route(Method::OPTIONS, route, handler)
    }

    /// A nested group under this group's prefix followed by `prefix`,
    /// running this group's middleware outside its own.
    ///
    /// # Panics
    /// As [`Router::group`].
    pub fn group(&mut self, prefix: &str, f: impl FnOnce(&mut Group<'_>)) -> &mut Self {
        self.routed = true;
        let mut nested = Group {
            prefix: format!("{}{}", self.prefix, prefix.trim_end_matches('/')),
            middleware: self.middleware.clone(),
            routed: false,
            router: self.router,
        };
        f(&mut nested);
        self
    }
}

impl fmt::Debug for Group<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("prefix", &self.prefix)
            .field("middleware", &self.middleware.len())
            .finish_non_exhaustive()
    }
}
