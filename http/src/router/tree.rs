//! One radix tree of routes: the routes of one method.
//!
//! The tree is keyed by bytes. A node holds a run of static bytes
//! (`prefix`) and, below it, up to three kinds of children, tried in this
//! order when looking a path up:
//!
//! 1. static children, indexed by their first byte (`indices[i]` is the
//!    first byte of `children[i]`, and no two children share one);
//! 2. one parameter child (`:name`), which takes the bytes up to the next
//!    `/` (at least one) and continues in its own static subtree;
//! 3. one catch-all child (`*name`), which takes the rest of the path (at
//!    least one byte).
//!
//! When a branch fails deeper down, the search backtracks and tries the next
//! kind, so `/users/new` beats `/users/:id` for `/users/new` but
//! `/users/new/posts` still reaches `/users/:id/posts`. Parameter and
//! catch-all children only hang off nodes whose bytes end in `/`, so every
//! captured value is a whole segment (or the whole rest) of the path.

use super::error::{InsertError, MatchError};
use super::params::{Name, Params};

/// A set of routes for one method, matched against request paths.
///
/// A route is a path made of `/`-separated segments. A segment is static
/// text, a parameter `:name` that matches one whole non-empty segment, or, as
/// the last segment only, a catch-all `*name` that matches the rest of the
/// path (at least one byte, slashes included). `:` and `*` are special only
/// at the start of a segment; elsewhere they are ordinary bytes.
///
/// Priority is static > parameter > catch-all at every position, with
/// backtracking. Paths are matched byte for byte: percent-encoded bytes are
/// not decoded (`/a%2Fb` is one segment), which is the server's job once a
/// route has been chosen.
///
/// ```
/// use fibra_http::router::{MatchError, Tree};
///
/// let mut tree = Tree::new();
/// tree.insert("/users/new", "form").unwrap();
/// tree.insert("/users/:id", "show").unwrap();
/// tree.insert("/files/*path", "file").unwrap();
///
/// assert_eq!(*tree.at("/users/new").unwrap().value, "form");
/// let m = tree.at("/users/42").unwrap();
/// assert_eq!((*m.value, m.params.get("id")), ("show", Some("42")));
/// assert_eq!(tree.at("/files/a/b.txt").unwrap().params.get("path"), Some("a/b.txt"));
/// assert_eq!(tree.at("/users/42/").unwrap_err(), MatchError::WithoutTrailingSlash);
/// assert_eq!(tree.at("/nope").unwrap_err(), MatchError::NotFound);
/// ```
#[derive(Debug)]
pub struct Tree<T> {
    // INVARIANT: the root's prefix is `/`, which starts every route.
    root: Node<T>,
    len: usize,
}

/// A successful lookup: the route's value, its template and its parameters.
#[derive(Clone, Debug)]
pub struct Match<'t, 'p, T> {
    /// The value registered with the route.
    pub value: &'t T,
    /// The route as it was registered, for example `/users/:id`; handy as a
    /// low-cardinality label for logs and metrics.
    pub route: &'t str,
    /// The parameters, borrowing their values from the path.
    pub params: Params<'t, 'p>,
}

#[derive(Debug)]
struct Node<T> {
    // INVARIANT: not empty.
    prefix: Box<[u8]>,
    // INVARIANT: `indices.len() == children.len()`, `indices[i]` is
    // `children[i].prefix[0]`, and the bytes in `indices` are distinct.
    indices: Vec<u8>,
    children: Vec<Node<T>>,
    // INVARIANT: `param` and `catch_all` are `None` unless the bytes from
    // the root to the end of `prefix` end in `/`.
    param: Option<Box<ParamNode<T>>>,
    catch_all: Option<Box<CatchAll<T>>>,
    leaf: Option<Leaf<T>>,
}

#[derive(Debug)]
struct ParamNode<T> {
    name: Name,
    /// The route that introduced this parameter, named in conflicts.
    origin: Box<str>,
    /// The route that ends with this parameter.
    leaf: Option<Leaf<T>>,
    /// The routes that go on after it; the prefix starts with `/`.
    next: Option<Box<Node<T>>>,
}

#[derive(Debug)]
struct CatchAll<T> {
    name: Name,
    leaf: Leaf<T>,
}

#[derive(Debug)]
struct Leaf<T> {
    value: T,
    route: Box<str>,
}

/// A route split into static runs and parameters.
enum Piece<'a> {
    Static(&'a [u8]),
    Param(&'a str),
    CatchAll(&'a str),
}

impl<T> Tree<T> {
    /// An empty tree.
    pub fn new() -> Self {
        Tree {
            root: Node::new(b"/"),
            len: 0,
        }
    }

    /// How many routes are registered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no route is registered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Registers `route` with `value`.
    ///
    /// # Errors
    ///
    /// [`InsertError::Malformed`] if the route does not start with `/`, has
    /// an empty or repeated parameter name, or a catch-all before the last
    /// segment. [`InsertError::Conflict`], naming the registered route, if
    /// the route is already registered (under any parameter names) or puts a
    /// parameter or catch-all where one of another name already is. On error
    /// the tree still matches exactly what it matched before.
    pub fn insert(&mut self, route: &str, value: T) -> Result<(), InsertError> {
        let pieces = parse(route)?;
        let Some((Piece::Static(first), rest)) = pieces.split_first() else {
            unreachable!("a parsed route starts with a static `/`");
        };
        self.root.insert_static(first, rest, route, value)?;
        self.len += 1;
        Ok(())
    }

    /// Looks `path` up.
    ///
    /// Never allocates when the path matches a route with at most four
    /// parameters.
    ///
    /// # Errors
    ///
    /// When no route matches, tells whether one would with a trailing slash
    /// added or removed ([`MatchError::WithTrailingSlash`],
    /// [`MatchError::WithoutTrailingSlash`]) or not ([`MatchError::NotFound`]).
    #[inline]
    pub fn at<'t, 'p>(&'t self, path: &'p str) -> Result<Match<'t, 'p, T>, MatchError> {
        self.find(path).ok_or_else(|| self.trailing_slash(path))
    }

    /// Looks `path` up without the trailing-slash check on a miss.
    #[inline]
    pub(crate) fn find<'t, 'p>(&'t self, path: &'p str) -> Option<Match<'t, 'p, T>> {
        let mut params = Params::new();
        if !path.starts_with('/') {
            return None;
        }
        let leaf = self.root.find(path, 1, &mut params)?;
        Some(Match {
            value: &leaf.value,
            route: &leaf.route,
            params,
        })
    }

    /// For a `path` that matched nothing: would it match with its trailing
    /// slash toggled?
    pub(crate) fn trailing_slash(&self, path: &str) -> MatchError {
        match path.strip_suffix('/') {
            Some("") => MatchError::NotFound,
            Some(without) if self.find(without).is_some() => MatchError::WithoutTrailingSlash,
            Some(_) => MatchError::NotFound,
            None if self.find(&format!("{path}/")).is_some() => MatchError::WithTrailingSlash,
            None => MatchError::NotFound,
        }
    }
}

impl<T> Default for Tree<T> {
    fn default() -> Self {
        Tree::new()
    }
}

impl<T> Node<T> {
    fn new(prefix: &[u8]) -> Self {
        Node {
            prefix: prefix.into(),
            indices: Vec::new(),
            children: Vec::new(),
            param: None,
            catch_all: None,
            leaf: None,
        }
    }

    /// Finds the route for `path[pos..]`, where `pos` is just past this
    /// node's prefix. On `None`, `params` may hold parameters of the failed
    /// branches: the caller truncates it to what it was before the call.
    ///
    /// Descends in a loop and recurses only where a node has a later
    /// alternative to come back to (a static child with a parameter or
    /// catch-all beside it, a parameter with a catch-all beside it).
    fn find<'t, 'p>(
        &'t self,
        path: &'p str,
        mut pos: usize,
        params: &mut Params<'t, 'p>,
    ) -> Option<&'t Leaf<T>> {
        let bytes = path.as_bytes();
        let mut node = self;
        'descend: loop {
            let Some(&first) = bytes.get(pos) else {
                // Every child needs at least one more byte.
                return node.leaf.as_ref();
            };

            if let Some(i) = node.indices.iter().position(|&b| b == first) {
                let child = &node.children[i];
                // The index already matched the first byte.
                if starts_with(&bytes[pos + 1..], &child.prefix[1..]) {
                    let end = pos + child.prefix.len();
                    if node.param.is_none() && node.catch_all.is_none() {
                        node = child;
                        pos = end;
                        continue 'descend;
                    }
                    let saved = params.len();
                    if let Some(leaf) = child.find(path, end, params) {
                        return Some(leaf);
                    }
                    params.truncate(saved);
                }
            }

            if let Some(param) = &node.param {
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| b == b'/')
                    .map_or(bytes.len(), |n| pos + n);
                if end > pos {
                    let saved = params.len();
                    // `pos` follows a `/` and `end` is a `/` or the end, so
                    // both are character boundaries.
                    params.push(&param.name, &path[pos..end]);
                    if end == bytes.len() {
                        if let Some(leaf) = &param.leaf {
                            return Some(leaf);
                        }
                    } else if let Some(next) = &param.next {
                        // `bytes[end]` and `next.prefix[0]` are both `/`.
                        if starts_with(&bytes[end + 1..], &next.prefix[1..]) {
                            let after = end + next.prefix.len();
                            if node.catch_all.is_none() {
                                node = next;
                                pos = after;
                                continue 'descend;
                            }
                            if let Some(leaf) = next.find(path, after, params) {
                                return Some(leaf);
                            }
                        }
                    }
                    params.truncate(saved);
                }
            }

            let catch_all = node.catch_all.as_ref()?;
            params.push(&catch_all.name, &path[pos..]);
            return Some(&catch_all.leaf);
        }
    }

    /// Inserts a route whose remaining bytes start with the static run `s`
    /// at this node, whose own prefix starts at the same position.
    fn insert_static(
        &mut self,
        s: &[u8],
        rest: &[Piece<'_>],
        route: &str,
        value: T,
    ) -> Result<(), InsertError> {
        let common = self
            .prefix
            .iter()
            .zip(s)
            .take_while(|(a, b)| a == b)
            .count();
        if common < self.prefix.len() {
            self.split(common);
        }
        let s = &s[common..];
        let Some(&first) = s.first() else {
            return self.insert_pieces(rest, route, value);
        };
        match self.indices.iter().position(|&b| b == first) {
            Some(i) => self.children[i].insert_static(s, rest, route, value),
            None => {
                let mut child = Node::new(s);
                child.insert_pieces(rest, route, value)?;
                self.indices.push(first);
                self.children.push(child);
                Ok(())
            }
        }
    }

    /// Moves everything past `prefix[..at]` into a single static child.
    fn split(&mut self, at: usize) {
        let child = Node {
            prefix: self.prefix[at..].into(),
            indices: std::mem::take(&mut self.indices),
            children: std::mem::take(&mut self.children),
            param: self.param.take(),
            catch_all: self.catch_all.take(),
            leaf: self.leaf.take(),
        };
        self.prefix = self.prefix[..at].into();
        self.indices = vec![child.prefix[0]];
        self.children = vec![child];
    }

    /// Inserts the rest of a route just past this node's prefix.
    fn insert_pieces(
        &mut self,
        pieces: &[Piece<'_>],
        route: &str,
        value: T,
    ) -> Result<(), InsertError> {
        match pieces.split_first() {
            None => set_leaf(&mut self.leaf, route, value),
            Some((Piece::Param(name), rest)) => {
                let param = self.param.get_or_insert_with(|| {
                    Box::new(ParamNode {
                        name: Name((*name).into()),
                        origin: route.into(),
                        leaf: None,
                        next: None,
                    })
                });
                if *param.name.0 != **name {
                    return Err(conflict(route, &param.origin));
                }
                match rest.split_first() {
                    None => set_leaf(&mut param.leaf, route, value),
                    Some((Piece::Static(s), rest)) => match &mut param.next {
                        Some(next) => next.insert_static(s, rest, route, value),
                        None => {
                            let mut next = Node::new(s);
                            next.insert_pieces(rest, route, value)?;
                            param.next = Some(Box::new(next));
                            Ok(())
                        }
                    },
                    Some(_) => unreachable!("a parsed parameter is followed by a static `/`"),
                }
            }
            Some((Piece::CatchAll(name), _)) => match &self.catch_all {
                Some(existing) => Err(conflict(route, &existing.leaf.route)),
                None => {
                    self.catch_all = Some(Box::new(CatchAll {
                        name: Name((*name).into()),
                        leaf: Leaf {
                            value,
                            route: route.into(),
                        },
                    }));
                    Ok(())
                }
            },
            Some((Piece::Static(_), _)) => unreachable!("parsed static runs are merged"),
        }
    }
}

/// `haystack.starts_with(prefix)` without a call to `memcmp`: prefixes are
/// short, and the call costs more than the comparison.
#[inline]
fn starts_with(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack.iter().zip(prefix).all(|(a, b)| a == b)
}

fn set_leaf<T>(slot: &mut Option<Leaf<T>>, route: &str, value: T) -> Result<(), InsertError> {
    match slot {
        Some(existing) => Err(conflict(route, &existing.route)),
        None => {
            *slot = Some(Leaf {
                value,
                route: route.into(),
            });
            Ok(())
        }
    }
}

fn conflict(route: &str, existing: &str) -> InsertError {
    InsertError::Conflict {
        route: route.to_owned(),
        existing: existing.to_owned(),
    }
}

/// Splits a route into pieces: it always starts with a static run, static
/// runs are never adjacent, and a parameter is followed by a static run
/// starting with `/` or by nothing.
fn parse(route: &str) -> Result<Vec<Piece<'_>>, InsertError> {
    let malformed = |reason| InsertError::Malformed {
        route: route.to_owned(),
        reason,
    };
    if !route.starts_with('/') {
        return Err(malformed("a route must start with `/`"));
    }
    let bytes = route.as_bytes();
    let mut pieces = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut static_start = 0;
    let mut start = 1; // of the current segment, just past a `/`
    loop {
        let end = route[start..].find('/').map_or(route.len(), |n| start + n);
        let segment = &route[start..end];
        if let Some(kind @ (b':' | b'*')) = segment.bytes().next() {
            let name = &segment[1..];
            if name.is_empty() {
                return Err(malformed(
                    "a parameter needs a name, as in `:id` or `*path`",
                ));
            }
            if names.contains(&name) {
                return Err(malformed("two parameters have the same name"));
            }
            names.push(name);
            pieces.push(Piece::Static(&bytes[static_start..start]));
            if kind == b'*' {
                if end != route.len() {
                    return Err(malformed("a catch-all `*name` must be the last segment"));
                }
                pieces.push(Piece::CatchAll(name));
            } else {
                pieces.push(Piece::Param(name));
            }
            static_start = end;
        }
        if end == route.len() {
            break;
        }
        start = end + 1;
    }
    if static_start < route.len() {
        pieces.push(Piece::Static(&bytes[static_start..]));
    }
    Ok(pieces)
}
