//! Route parameters captured by a lookup.

use std::fmt;
use std::iter::Chain;
use std::slice;

/// How many parameters a [`Params`] holds without allocating.
///
/// Four covers every route of the GitHub API; a fifth parameter moves the
/// extra ones to a `Vec`.
const INLINE: usize = 4;

/// The parameters of a matched route, in the order they appear in the route.
///
/// Names borrow from the router (lifetime `'k`), values borrow from the
/// request path (lifetime `'v`), so a lookup copies no bytes. Up to four
/// parameters are stored inline; creating a `Params` never allocates.
///
/// Values are the raw bytes of the path, still percent-encoded: decoding is
/// the server's job, done after routing so that an encoded `/` (`%2F`) never
/// splits a segment.
///
/// ```
/// use fibra_http::router::Tree;
///
/// let mut tree = Tree::new();
/// tree.insert("/repos/:owner/:repo", ()).unwrap();
/// let m = tree.at("/repos/rust-lang/rust").unwrap();
/// assert_eq!(m.params.get("owner"), Some("rust-lang"));
/// assert_eq!(m.params.get("repo"), Some("rust"));
/// assert_eq!(m.params.get("missing"), None);
/// let pairs: Vec<_> = m.params.iter().collect();
/// assert_eq!(pairs, [("owner", "rust-lang"), ("repo", "rust")]);
/// ```
#[derive(Clone)]
pub struct Params<'k, 'v> {
    // INVARIANT: entries `0..min(len, INLINE)` are in `inline` (with a
    // name), the others (if any) are `spill[..len - INLINE]`, and `spill`
    // holds nothing more.
    //
    // A name is a thin `&Name` into the tree rather than a `&str`: it keeps
    // `Params`, which every lookup returns by value, small to move.
    inline: [Entry<'k, 'v>; INLINE],
    len: usize,
    spill: Vec<Entry<'k, 'v>>,
}

type Entry<'k, 'v> = (Option<&'k Name>, &'v str);

/// A parameter's name, as the tree stores it.
#[derive(Debug)]
pub(crate) struct Name(pub(crate) Box<str>);

impl<'k, 'v> Params<'k, 'v> {
    /// An empty set of parameters. Does not allocate.
    #[inline]
    pub fn new() -> Self {
        Params {
            inline: [(None, ""); INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// The value of the parameter `name`, if the route has one by that name.
    pub fn get(&self, name: &str) -> Option<&'v str> {
        self.iter().find(|&(k, _)| k == name).map(|(_, v)| v)
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `(name, value)` pairs, in route order.
    pub fn iter(&self) -> Iter<'_, 'k, 'v> {
        Iter {
            inner: self.inline[..self.len.min(INLINE)]
                .iter()
                .chain(self.spill.iter()),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, name: &'k Name, value: &'v str) {
        if self.len < INLINE {
            self.inline[self.len] = (Some(name), value);
        } else {
            self.spill.push((Some(name), value));
        }
        self.len += 1;
    }

    /// Drops the parameters after the first `len` (backtracking).
    #[inline]
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.spill.truncate(len.saturating_sub(INLINE));
        }
    }
}

impl Default for Params<'_, '_> {
    fn default() -> Self {
        Params::new()
    }
}

impl fmt::Debug for Params<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for Params<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Params<'_, '_> {}

impl<'a, 'k, 'v> IntoIterator for &'a Params<'k, 'v> {
    type Item = (&'k str, &'v str);
    type IntoIter = Iter<'a, 'k, 'v>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the `(name, value)` pairs of [`Params`], from
/// [`Params::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a, 'k, 'v> {
    inner: Chain<slice::Iter<'a, Entry<'k, 'v>>, slice::Iter<'a, Entry<'k, 'v>>>,
}

impl<'k, 'v> Iterator for Iter<'_, 'k, 'v> {
    type Item = (&'k str, &'v str);

    fn next(&mut self) -> Option<Self::Item> {
        let &(name, value) = self.inner.next()?;
        Some((name.map_or("", |name| &name.0), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_, '_, '_> {}

#[cfg(test)]
mod tests {
    use super::{Name, Params};

    #[test]
    fn spills_past_the_inline_capacity_and_truncates_back() {
        let names = ["a", "b", "c", "d", "e", "f"];
        let boxed: Vec<Name> = names.iter().map(|&n| Name(n.into())).collect();
        let x = Name("x".into());
        let mut params = Params::new();
        for (name, value) in boxed.iter().zip(names) {
            params.push(name, value);
        }
        assert_eq!(params.len(), 6);
        assert_eq!(params.get("f"), Some("f"));
        assert!(params.iter().map(|(k, _)| k).eq(names));
        params.truncate(5);
        assert_eq!(params.get("f"), None);
        assert_eq!(params.get("e"), Some("e"));
        params.truncate(2);
        assert_eq!(params.iter().len(), 2);
        assert_eq!(params.get("c"), None);
        params.push(&x, "1");
        assert_eq!(params.get("x"), Some("1"));
        assert_eq!(format!("{params:?}"), r#"{"a": "a", "b": "b", "x": "1"}"#);
    }
}
