//! Request routing: from a method and a path to a registered value.
//!
//! A [`RouteTable`] keeps one radix [`Tree`] per method. Routes are paths whose
//! segments are static text, `:name` parameters (one whole segment) or a
//! final `*name` catch-all (the rest of the path, at least one byte). At
//! every position a static segment beats a parameter, which beats a
//! catch-all; when the preferred branch fails further down the search
//! backtracks, so the most specific route that matches wins. Conflicting
//! routes are rejected when they are registered, never at lookup.
//!
//! [`RouteTable::lookup`] tells a handler apart from a 404, a 405 (with the
//! methods for the `Allow` header) and, optionally, a redirect to the same
//! path with its trailing slash added or removed. It does not allocate on
//! the found path. Paths are matched as raw bytes: percent-encoding is not
//! decoded (the server decodes parameter values after routing, so `%2F`
//! never splits a segment), and the query string must be cut off first.
//!
//! The table is generic over the value it stores: [`crate::Router`] (the
//! handler router with middleware that users register routes on) stores
//! handlers in one; tests can store anything. (It is named `RouteTable`, not
//! `Router`, so that `Router` and `Group` mean one thing in this crate:
//! [`crate::Router`] and [`crate::Group`].)
//!
//! ```
//! use fibra_http::router::{Lookup, RouteTable};
//!
//! let mut router = RouteTable::new();
//! router.route("GET", "/users/:id", "show user").unwrap();
//! router.route("DELETE", "/users/:id", "delete user").unwrap();
//! let mut api = router.group("/api/v1");
//! api.route("GET", "/status", "status").unwrap();
//!
//! match router.lookup("GET", "/users/42") {
//!     Lookup::Found(m) => {
//!         assert_eq!(*m.value, "show user");
//!         assert_eq!(m.params.get("id"), Some("42"));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! assert!(matches!(router.lookup("GET", "/api/v1/status"), Lookup::Found(_)));
//! assert_eq!(
//!     router.lookup("PUT", "/users/42"),
//!     Lookup::MethodNotAllowed { allow: vec!["GET", "DELETE"] }
//! );
//! assert_eq!(
//!     router.lookup("GET", "/users/42/"),
//!     Lookup::RedirectTrailingSlash("/users/42".to_owned())
//! );
//! assert_eq!(router.lookup("GET", "/nowhere"), Lookup::NotFound);
//! ```

mod error;
mod params;
mod tree;

pub use error::{InsertError, MatchError};
pub use params::{Iter, Params};
pub use tree::{Match, Tree};

use std::fmt;

/// Routes per method, with 404, 405 and trailing-slash redirects.
///
/// Methods are strings compared exactly (HTTP methods are case-sensitive):
/// `"GET"`, `"POST"`, or any other token.
pub struct RouteTable<T> {
    // Registration order: it is the order of the `Allow` list.
    methods: Vec<(Box<str>, Tree<T>)>,
    /// Routes for every method ([`RouteTable::route_any`]), tried after the
    /// request method's own.
    any: Tree<T>,
    redirect_trailing_slash: bool,
}

/// The outcome of [`RouteTable::lookup`].
#[derive(Debug)]
pub enum Lookup<'r, 'p, T> {
    /// A route of the request's method matches.
    Found(Match<'r, 'p, T>),
    /// No route of the request's method matches, but routes of these other
    /// methods do, in registration order: answer 405 with
    /// `Allow: allow.join(", ")`.
    MethodNotAllowed {
        /// The methods that have a route matching the path.
        allow: Vec<&'r str>,
    },
    /// No route matches, but one of the request's method would with the
    /// trailing slash added or removed: redirect to this path (301 for GET
    /// and HEAD, 308 otherwise, keeping the query string). Only reported when
    /// [`RouteTable::set_redirect_trailing_slash`] is on (the default) and no
    /// other method matches the path as it is.
    RedirectTrailingSlash(String),
    /// Nothing matches: 404.
    NotFound,
}

impl<T: PartialEq> PartialEq for Lookup<'_, '_, T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Lookup::Found(a), Lookup::Found(b)) => {
                a.value == b.value && a.route == b.route && a.params == b.params
            }
            (Lookup::MethodNotAllowed { allow: a }, Lookup::MethodNotAllowed { allow: b }) => {
                a == b
            }
            (Lookup::RedirectTrailingSlash(a), Lookup::RedirectTrailingSlash(b)) => a == b,
            (Lookup::NotFound, Lookup::NotFound) => true,
            _ => false,
        }
    }
}

impl<T> RouteTable<T> {
    /// An empty router, with trailing-slash redirects on.
    pub fn new() -> Self {
        RouteTable {
            methods: Vec::new(),
            any: Tree::new(),
            redirect_trailing_slash: true,
        }
    }

    /// Whether a path that misses only by its trailing slash yields
    /// [`Lookup::RedirectTrailingSlash`] (`true`, the default) or
    /// [`Lookup::NotFound`].
    pub fn set_redirect_trailing_slash(&mut self, on: bool) {
        self.redirect_trailing_slash = on;
    }

    /// Registers `value` for requests with `method` whose path matches
    /// `route`. See [`Tree`] for the route syntax.
    ///
    /// # Errors
    ///
    /// [`InsertError::Malformed`] if `method` is not an HTTP token or the
    /// route is malformed; [`InsertError::Conflict`] if it conflicts with a
    /// route of the same method (see [`Tree::insert`]).
    pub fn route(&mut self, method: &str, route: &str, value: T) -> Result<(), InsertError> {
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(InsertError::Malformed {
                route: method.to_owned(),
                reason: "the method is not an HTTP token",
            });
        }
        let index = match self.methods.iter().position(|(m, _)| **m == *method) {
            Some(index) => index,
            None => {
                self.methods.push((method.into(), Tree::new()));
                self.methods.len() - 1
            }
        };
        let tree = &mut self.methods[index].1;
        let result = tree.insert(route, value);
        if tree.is_empty() {
            // Keep a failed first route from adding the method to `Allow`.
            self.methods.remove(index);
        }
        result
    }

    /// Registers `value` for requests of every method whose path matches
    /// `route` (Go's `ServeMux` patterns without a method). A route of the
    /// request's own method that matches wins over it; it is never
    /// answered with 405.
    ///
    /// # Errors
    ///
    /// [`InsertError::Malformed`] if the route is malformed;
    /// [`InsertError::Conflict`] if it conflicts with another route for
    /// every method.
    pub fn route_any(&mut self, route: &str, value: T) -> Result<(), InsertError> {
        self.any.insert(route, value)
    }

    /// A builder that registers routes under `prefix`: `group("/api")` then
    /// `route("GET", "/users", v)` registers `/api/users`. A trailing `/` on
    /// the prefix is ignored; the prefix may hold parameters.
    pub fn group(&mut self, prefix: &str) -> TableGroup<'_, T> {
        TableGroup {
            router: self,
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// Finds what handles `method` on `path` (the path only: no query).
    ///
    /// Does not allocate when a route of `method` matches with at most four
    /// parameters. The 405, redirect and 404 outcomes look the path up in
    /// the other methods' trees and allocate.
    #[inline]
    pub fn lookup<'r, 'p>(&'r self, method: &str, path: &'p str) -> Lookup<'r, 'p, T> {
        let own = self.tree(method);
        if let Some(tree) = own {
            if let Some(found) = tree.find(path) {
                return Lookup::Found(found);
            }
        }
        if !self.any.is_empty() {
            if let Some(found) = self.any.find(path) {
                return Lookup::Found(found);
            }
        }
        let allow = self.allowed(path);
        if !allow.is_empty() {
            return Lookup::MethodNotAllowed { allow };
        }
        if self.redirect_trailing_slash {
            for tree in own.into_iter().chain(Some(&self.any)) {
                match tree.trailing_slash(path) {
                    MatchError::WithTrailingSlash => {
                        return Lookup::RedirectTrailingSlash(format!("{path}/"));
                    }
                    MatchError::WithoutTrailingSlash => {
                        let without = &path[..path.len() - 1];
                        return Lookup::RedirectTrailingSlash(without.to_owned());
                    }
                    MatchError::NotFound => {}
                }
            }
        }
        Lookup::NotFound
    }

    /// The methods, in registration order, that have a route matching
    /// `path`: the `Allow` header of a 405, or of a reply to `OPTIONS`.
    pub fn allowed(&self, path: &str) -> Vec<&str> {
        self.methods
            .iter()
            .filter(|(_, tree)| tree.find(path).is_some())
            .map(|(method, _)| &**method)
            .collect()
    }

    /// The tree of `method`'s routes, if it has any.
    #[inline]
    pub fn tree(&self, method: &str) -> Option<&Tree<T>> {
        // A byte loop: methods are a few bytes, shorter than a call to
        // `memcmp` is worth.
        let method = method.as_bytes();
        self.methods
            .iter()
            .find(|(m, _)| m.len() == method.len() && m.bytes().zip(method).all(|(a, &b)| a == b))
            .map(|(_, tree)| tree)
    }
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        RouteTable::new()
    }
}

impl<T> fmt::Debug for RouteTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteTable")
            .field(
                "methods",
                &self
                    .methods
                    .iter()
                    .map(|(m, t)| (m, t.len()))
                    .collect::<Vec<_>>(),
            )
            .field("any", &self.any.len())
            .field("redirect_trailing_slash", &self.redirect_trailing_slash)
            .finish()
    }
}

/// Registers routes under a common prefix; from [`RouteTable::group`].
pub struct TableGroup<'r, T> {
    router: &'r mut RouteTable<T>,
    prefix: String,
}

impl<T> TableGroup<'_, T> {
    /// Registers `value` for `method` on the group's prefix followed by
    /// `route`, which must start with `/`.
    ///
    /// # Errors
    ///
    /// As [`RouteTable::route`], for the joined route.
    pub fn route(&mut self, method: &str, route: &str, value: T) -> Result<(), InsertError> {
        if !route.starts_with('/') {
            return Err(InsertError::Malformed {
                route: route.to_owned(),
                reason: "a route in a group must start with `/`",
            });
        }
        self.router
            .route(method, &format!("{}{route}", self.prefix), value)
    }

    /// Registers `value` for every method on the group's prefix followed
    /// by `route`, which must start with `/`; see [`RouteTable::route_any`].
    ///
    /// # Errors
    ///
    /// As [`RouteTable::route_any`], for the joined route.
    pub fn route_any(&mut self, route: &str, value: T) -> Result<(), InsertError> {
        if !route.starts_with('/') {
            return Err(InsertError::Malformed {
                route: route.to_owned(),
                reason: "a route in a group must start with `/`",
            });
        }
        self.router
            .route_any(&format!("{}{route}", self.prefix), value)
    }

    /// A nested group, whose prefix is this group's followed by `prefix`.
    pub fn group(&mut self, prefix: &str) -> TableGroup<'_, T> {
        TableGroup {
            prefix: format!("{}{}", self.prefix, prefix.trim_end_matches('/')),
            router: self.router,
        }
    }
}

impl<T> fmt::Debug for TableGroup<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableGroup")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// `tchar` of RFC 9110, section 5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
