//! The router's errors.

use std::error::Error;
use std::fmt;

/// Why a route could not be registered.
///
/// Registration errors are programming errors in the route table, so they
/// name the route and, for a conflict, the route already registered that it
/// collides with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertError {
    /// The route cannot coexist with a route registered before it: the same
    /// route again, the same route with other parameter names, or a
    /// parameter or catch-all whose name differs from the one already at
    /// that position.
    Conflict {
        /// The route being registered.
        route: String,
        /// The registered route it conflicts with.
        existing: String,
    },
    /// The route itself is malformed: it does not start with `/`, has an
    /// empty or repeated parameter name, or a catch-all that is not the last
    /// segment; or the method is not an HTTP token.
    Malformed {
        /// The route being registered (or the method, for a bad method).
        route: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl InsertError {
    /// For a conflict, the registered route the new one collides with.
    pub fn existing(&self) -> Option<&str> {
        match self {
            InsertError::Conflict { existing, .. } => Some(existing),
            InsertError::Malformed { .. } => None,
        }
    }

    /// The route that could not be registered.
    pub fn route(&self) -> &str {
        match self {
            InsertError::Conflict { route, .. } | InsertError::Malformed { route, .. } => route,
        }
    }
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Conflict { route, existing } if route == existing => {
                write!(f, "route `{route}` is already registered")
            }
            InsertError::Conflict { route, existing } => {
                write!(
                    f,
                    "route `{route}` conflicts with registered route `{existing}`"
                )
            }
            InsertError::Malformed { route, reason } => {
                write!(f, "malformed route `{route}`: {reason}")
            }
        }
    }
}

impl Error for InsertError {}

/// Why a path matched no route of a [`Tree`](super::Tree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchError {
    /// No route matches, with or without a trailing slash.
    NotFound,
    /// No route matches, but one would with a `/` appended.
    WithTrailingSlash,
    /// No route matches, but one would without the trailing `/`.
    WithoutTrailingSlash,
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchError::NotFound => "no route matches the path",
            MatchError::WithTrailingSlash => "no route matches; one would with a trailing slash",
            MatchError::WithoutTrailingSlash => {
                "no route matches; one would without the trailing slash"
            }
        })
    }
}

impl Error for MatchError {}
