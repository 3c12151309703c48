//! The router: priorities and backtracking, conflicts, 404/405, trailing
//! slashes, groups, raw (undecoded) matching, a property test against a
//! naive matcher, and the GitHub API route set.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;

use fibra_http::router::{InsertError, Lookup, MatchError, Params, RouteTable, Tree};

const GITHUB_ROUTES: &str = include_str!("router/github_routes.txt");

/// Counts this thread's allocations, to show that lookups make none.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a
// const-initialised thread-local without a destructor, so touching it never
// allocates or re-enters the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn github_routes() -> impl Iterator<Item = &'static str> {
    GITHUB_ROUTES.lines().filter(|line| line.starts_with('/'))
}

fn tree(routes: &[&'static str]) -> Tree<&'static str> {
    let mut tree = Tree::new();
    for route in routes {
        tree.insert(route, *route)
            .unwrap_or_else(|e| panic!("inserting {route}: {e}"));
    }
    tree
}

/// Asserts that `path` matches `route` with exactly `params`.
#[track_caller]
fn assert_match(tree: &Tree<&str>, path: &str, route: &str, params: &[(&str, &str)]) {
    match tree.at(path) {
        Ok(m) => {
            assert_eq!((*m.value, m.route), (route, route), "route for {path}");
            let got: Vec<_> = m.params.iter().collect();
            assert_eq!(got, params, "params for {path}");
        }
        Err(e) => panic!("{path} should match {route}, got {e:?}"),
    }
}

#[track_caller]
fn assert_miss(tree: &Tree<&str>, path: &str, expected: MatchError) {
    match tree.at(path) {
        Ok(m) => panic!("{path} should not match, matched {}", m.route),
        Err(e) => assert_eq!(e, expected, "error for {path}"),
    }
}

#[track_caller]
fn assert_conflict(tree: &mut Tree<&'static str>, route: &'static str, existing: &str) {
    match tree.insert(route, route) {
        Err(e @ InsertError::Conflict { .. }) => {
            assert_eq!(e.existing(), Some(existing), "{e}");
            assert_eq!(e.route(), route);
            assert!(e.to_string().contains(existing), "{e}");
        }
        other => panic!("inserting {route}: expected a conflict with {existing}, got {other:?}"),
    }
}

#[track_caller]
fn assert_malformed(route: &str) {
    let mut tree = Tree::new();
    match tree.insert(route, ()) {
        Err(e @ InsertError::Malformed { .. }) => assert!(e.to_string().contains(route)),
        other => panic!("inserting {route}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn static_beats_param_beats_catch_all() {
    let t = tree(&["/users/new", "/users/:id", "/users/*rest"]);
    assert_match(&t, "/users/new", "/users/new", &[]);
    assert_match(&t, "/users/42", "/users/:id", &[("id", "42")]);
    assert_match(&t, "/users/newer", "/users/:id", &[("id", "newer")]);
    assert_match(&t, "/users/ne", "/users/:id", &[("id", "ne")]);
    assert_match(
        &t,
        "/users/42/posts",
        "/users/*rest",
        &[("rest", "42/posts")],
    );
    assert_match(&t, "/users/new/", "/users/*rest", &[("rest", "new/")]);
    // The catch-all needs at least one byte.
    assert_miss(&t, "/users/", MatchError::NotFound);
}

#[test]
fn backtracks_from_a_static_prefix_to_the_param() {
    let t = tree(&["/users/new/form", "/users/:id/posts", "/users/newsletter"]);
    // `new` matches statically but `/posts` is not below it.
    assert_match(&t, "/users/new/posts", "/users/:id/posts", &[("id", "new")]);
    // `news` shares the static prefix `new` then fails inside the node.
    assert_match(
        &t,
        "/users/news/posts",
        "/users/:id/posts",
        &[("id", "news")],
    );
    assert_match(&t, "/users/new/form", "/users/new/form", &[]);
    assert_match(&t, "/users/newsletter", "/users/newsletter", &[]);
    assert_miss(&t, "/users/new/other", MatchError::NotFound);
}

#[test]
fn backtracks_through_several_levels() {
    let t = tree(&[
        "/a/b/c/d",
        "/a/:x/c/e",
        "/a/:x/:y/f",
        "/a/*rest",
        "/:top/b/c/g",
    ]);
    assert_match(&t, "/a/b/c/d", "/a/b/c/d", &[]);
    assert_match(&t, "/a/b/c/e", "/a/:x/c/e", &[("x", "b")]);
    assert_match(&t, "/a/b/c/f", "/a/:x/:y/f", &[("x", "b"), ("y", "c")]);
    assert_match(&t, "/a/b/c/g", "/a/*rest", &[("rest", "b/c/g")]);
    assert_match(&t, "/z/b/c/g", "/:top/b/c/g", &[("top", "z")]);
    // Params pushed on a failed branch are gone from the result.
    assert_match(&t, "/a/b/c/h", "/a/*rest", &[("rest", "b/c/h")]);
}

#[test]
fn params_and_catch_all_capture_whole_segments() {
    let t = tree(&["/files/:dir/:name", "/static/*path", "/", "/a:b"]);
    assert_match(
        &t,
        "/files/etc/passwd",
        "/files/:dir/:name",
        &[("dir", "etc"), ("name", "passwd")],
    );
    assert_miss(&t, "/files/etc", MatchError::NotFound);
    assert_miss(&t, "/files//passwd", MatchError::NotFound);
    assert_match(
        &t,
        "/static/css/site.css",
        "/static/*path",
        &[("path", "css/site.css")],
    );
    assert_match(&t, "/static//", "/static/*path", &[("path", "/")]);
    assert_match(&t, "/", "/", &[]);
    // `:` inside a segment is an ordinary byte.
    assert_match(&t, "/a:b", "/a:b", &[]);
    assert_miss(&t, "/a:c", MatchError::NotFound);
    // Non-ASCII values are split on `/` only.
    assert_match(
        &t,
        "/files/été/naïve",
        "/files/:dir/:name",
        &[("dir", "été"), ("name", "naïve")],
    );
}

#[test]
fn percent_encoded_bytes_are_matched_as_they_are() {
    let t = tree(&["/files/:name", "/caf%C3%A9", "/café", "/a%2Fb/c"]);
    // An encoded slash does not split a segment: decoding is the server's
    // job, after routing.
    assert_match(&t, "/files/a%2Fb", "/files/:name", &[("name", "a%2Fb")]);
    assert_match(&t, "/caf%C3%A9", "/caf%C3%A9", &[]);
    assert_match(&t, "/café", "/café", &[]);
    assert_miss(&t, "/caf%c3%a9", MatchError::NotFound);
    assert_match(&t, "/a%2Fb/c", "/a%2Fb/c", &[]);
    assert_miss(&t, "/a/b/c", MatchError::NotFound);
}

#[test]
fn more_than_four_params_spill_to_the_heap() {
    let t = tree(&["/:a/:b/:c/:d/:e/:f"]);
    assert_match(
        &t,
        "/1/2/3/4/5/6",
        "/:a/:b/:c/:d/:e/:f",
        &[
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
            ("e", "5"),
            ("f", "6"),
        ],
    );
    let m = t.at("/1/2/3/4/5/6").unwrap();
    assert_eq!(m.params.get("f"), Some("6"));
    assert_eq!(m.params.len(), 6);
    assert_eq!(Params::new().get("a"), None);
}

#[test]
fn duplicate_routes_conflict() {
    let mut t = tree(&["/users/:id", "/files/*path", "/", "/about"]);
    assert_conflict(&mut t, "/users/:id", "/users/:id");
    assert_conflict(&mut t, "/files/*path", "/files/*path");
    assert_conflict(&mut t, "/", "/");
    assert_conflict(&mut t, "/about", "/about");
    let e = t.insert("/about", "again").unwrap_err();
    assert_eq!(e.to_string(), "route `/about` is already registered");
}

#[test]
fn different_names_at_one_position_conflict() {
    let mut t = tree(&["/users/:id", "/users/:id/posts/:post", "/files/*path"]);
    assert_conflict(&mut t, "/users/:name", "/users/:id");
    assert_conflict(&mut t, "/users/:user/comments", "/users/:id");
    assert_conflict(
        &mut t,
        "/users/:id/posts/:p/likes",
        "/users/:id/posts/:post",
    );
    assert_conflict(&mut t, "/files/*rest", "/files/*path");
    let e = t.insert("/users/:name", "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "route `/users/:name` conflicts with registered route `/users/:id`"
    );
}

#[test]
fn a_failed_insert_leaves_the_tree_as_it_was() {
    let mut t = tree(&["/users/:id/posts", "/users/:id"]);
    assert!(t.insert("/users/:uid/posts/extra", "x").is_err());
    assert!(t.insert("/users/:id", "x").is_err());
    assert_eq!(t.len(), 2);
    assert_match(&t, "/users/1/posts", "/users/:id/posts", &[("id", "1")]);
    assert_match(&t, "/users/1", "/users/:id", &[("id", "1")]);
    assert_miss(&t, "/users/1/posts/extra", MatchError::NotFound);
}

#[test]
fn static_param_and_catch_all_may_share_a_position() {
    let mut t = tree(&["/x/", "/x/*rest", "/x/:id", "/x/y"]);
    assert!(t.insert("/x/:id/z", "/x/:id/z").is_ok());
    assert_match(&t, "/x/", "/x/", &[]);
    assert_match(&t, "/x/y", "/x/y", &[]);
    assert_match(&t, "/x/1/z", "/x/:id/z", &[("id", "1")]);
    assert_match(&t, "/x/1/q", "/x/*rest", &[("rest", "1/q")]);
}

#[test]
fn malformed_routes_are_rejected() {
    assert_malformed("users");
    assert_malformed("");
    assert_malformed("/users/:");
    assert_malformed("/users/:/x");
    assert_malformed("/files/*");
    assert_malformed("/files/*path/more");
    assert_malformed("/files/*path/");
    assert_malformed("/:id/:id");
    assert_malformed("/:id/*id");
}

#[test]
fn tree_reports_trailing_slash_misses() {
    let t = tree(&["/users", "/posts/", "/users/:id", "/files/*path", "/"]);
    assert_miss(&t, "/users/", MatchError::WithoutTrailingSlash);
    assert_miss(&t, "/posts", MatchError::WithTrailingSlash);
    assert_miss(&t, "/users/1/", MatchError::WithoutTrailingSlash);
    assert_miss(&t, "/files", MatchError::NotFound);
    assert_miss(&t, "/nope", MatchError::NotFound);
    assert_miss(&t, "/nope/", MatchError::NotFound);
    assert_miss(&t, "", MatchError::WithTrailingSlash);
    let empty: Tree<()> = Tree::new();
    assert_eq!(empty.at("/").unwrap_err(), MatchError::NotFound);
}

fn router(routes: &[(&str, &'static str)]) -> RouteTable<&'static str> {
    let mut router = RouteTable::new();
    for (method, route) in routes {
        router.route(method, route, *route).unwrap();
    }
    router
}

#[test]
fn lookup_finds_the_route_of_the_method() {
    let r = router(&[("GET", "/users/:id"), ("POST", "/users"), ("GET", "/users")]);
    match r.lookup("GET", "/users/7") {
        Lookup::Found(m) => {
            assert_eq!((*m.value, m.route), ("/users/:id", "/users/:id"));
            assert_eq!(m.params.get("id"), Some("7"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.lookup("POST", "/users"), Lookup::Found(m) if *m.value == "/users"));
    // Methods are case-sensitive.
    assert_eq!(
        r.lookup("get", "/users"),
        Lookup::MethodNotAllowed {
            allow: vec!["GET", "POST"]
        }
    );
}

#[test]
fn method_not_allowed_lists_the_matching_methods() {
    let r = router(&[
        ("GET", "/users/:id"),
        ("PUT", "/users/:id"),
        ("DELETE", "/users/:id"),
        ("POST", "/users"),
        ("PATCH", "/users/*rest"),
        ("PURGE", "/users/:id"),
    ]);
    assert_eq!(
        r.lookup("POST", "/users/1"),
        Lookup::MethodNotAllowed {
            allow: vec!["GET", "PUT", "DELETE", "PATCH", "PURGE"]
        }
    );
    assert_eq!(
        r.lookup("GET", "/users"),
        Lookup::MethodNotAllowed {
            allow: vec!["POST"]
        }
    );
    assert_eq!(
        r.lookup("OPTIONS", "/users/1/x"),
        Lookup::MethodNotAllowed {
            allow: vec!["PATCH"]
        }
    );
    assert_eq!(
        r.allowed("/users/1"),
        ["GET", "PUT", "DELETE", "PATCH", "PURGE"]
    );
    assert!(r.allowed("/nope").is_empty());
    assert_eq!(r.lookup("GET", "/nope"), Lookup::NotFound);
    assert_eq!(r.lookup("TRACE", "/nope"), Lookup::NotFound);
}

#[test]
fn methods_must_be_tokens_and_failed_routes_add_no_method() {
    let mut r: RouteTable<()> = RouteTable::new();
    assert!(matches!(
        r.route("", "/", ()),
        Err(InsertError::Malformed { .. })
    ));
    assert!(matches!(
        r.route("GET /", "/", ()),
        Err(InsertError::Malformed { .. })
    ));
    assert!(r.route("POST", "no-slash", ()).is_err());
    r.route("GET", "/", ()).unwrap();
    assert_eq!(r.allowed("/"), ["GET"]);
    assert!(r.tree("POST").is_none());
    assert_eq!(r.tree("GET").map(Tree::len), Some(1));
}

#[test]
fn trailing_slash_redirects_both_ways() {
    let mut r = router(&[
        ("GET", "/users"),
        ("GET", "/docs/"),
        ("GET", "/users/:id"),
        ("POST", "/forms/"),
    ]);
    assert_eq!(
        r.lookup("GET", "/users/"),
        Lookup::RedirectTrailingSlash("/users".into())
    );
    assert_eq!(
        r.lookup("GET", "/docs"),
        Lookup::RedirectTrailingSlash("/docs/".into())
    );
    assert_eq!(
        r.lookup("GET", "/users/1/"),
        Lookup::RedirectTrailingSlash("/users/1".into())
    );
    assert_eq!(
        r.lookup("POST", "/forms"),
        Lookup::RedirectTrailingSlash("/forms/".into())
    );
    // Only the request's own method is considered for a redirect.
    assert_eq!(r.lookup("GET", "/forms"), Lookup::NotFound);
    assert_eq!(r.lookup("GET", "/"), Lookup::NotFound);
    r.set_redirect_trailing_slash(false);
    assert_eq!(r.lookup("GET", "/users/"), Lookup::NotFound);
    assert_eq!(r.lookup("GET", "/docs"), Lookup::NotFound);
}

#[test]
fn a_method_matching_exactly_beats_a_redirect() {
    let r = router(&[("GET", "/a"), ("POST", "/a/")]);
    assert_eq!(
        r.lookup("GET", "/a/"),
        Lookup::MethodNotAllowed {
            allow: vec!["POST"]
        }
    );
    assert_eq!(
        r.lookup("POST", "/a"),
        Lookup::MethodNotAllowed { allow: vec!["GET"] }
    );
}

#[test]
fn groups_prefix_their_routes() {
    let mut r = RouteTable::new();
    {
        let mut api = r.group("/api/");
        api.route("GET", "/status", "status").unwrap();
        let mut users = api.group("/users/:id");
        users.route("GET", "/", "user").unwrap();
        users.route("GET", "/posts", "posts").unwrap();
        assert!(matches!(
            users.route("GET", "posts", "x"),
            Err(InsertError::Malformed { .. })
        ));
        let e = users.route("GET", "/posts", "again").unwrap_err();
        assert_eq!(e.existing(), Some("/api/users/:id/posts"));
    }
    r.route("GET", "/status", "root status").unwrap();

    let found = |path| match r.lookup("GET", path) {
        Lookup::Found(m) => (*m.value, m.params.iter().collect::<Vec<_>>()),
        other => panic!("{path}: {other:?}"),
    };
    assert_eq!(found("/api/status"), ("status", vec![]));
    assert_eq!(found("/api/users/9/"), ("user", vec![("id", "9")]));
    assert_eq!(found("/api/users/9/posts"), ("posts", vec![("id", "9")]));
    assert_eq!(found("/status"), ("root status", vec![]));
}

#[test]
fn every_github_route_matches_its_own_template() {
    let mut r = RouteTable::new();
    let routes: Vec<&str> = github_routes().collect();
    assert_eq!(routes.len(), 130);
    for route in &routes {
        r.route("GET", route, *route)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for route in &routes {
        let (path, params) = fill(route);
        match r.lookup("GET", &path) {
            Lookup::Found(m) => {
                assert_eq!(*m.value, *route, "{path}");
                let got: Vec<(String, String)> = m
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                assert_eq!(got, params, "{path}");
            }
            other => panic!("{path}: {other:?}"),
        }
        assert_eq!(
            r.lookup("POST", &path),
            Lookup::MethodNotAllowed { allow: vec!["GET"] }
        );
    }
    let tree = r.tree("GET").unwrap();
    assert_eq!(tree.len(), 130);
    assert_eq!(
        r.lookup("GET", "/repos/o/r/milestones"),
        Lookup::RedirectTrailingSlash("/repos/o/r/milestones/".into())
    );
    assert_eq!(r.lookup("GET", "/repos/o/r/nothing"), Lookup::NotFound);
}

#[test]
fn found_lookups_do_not_allocate() {
    let mut r = RouteTable::new();
    for route in github_routes() {
        r.route("GET", route, route).unwrap();
    }
    r.route("GET", "/:a/:b/:c/:d/:e", "five").unwrap();
    let paths: Vec<String> = github_routes().map(|route| fill(route).0).collect();
    let before = allocations();
    for path in &paths {
        assert!(matches!(r.lookup("GET", path), Lookup::Found(_)), "{path}");
    }
    assert_eq!(allocations(), before, "lookups allocated");
    // A fifth parameter spills to the heap: the counter does see allocations.
    assert!(matches!(r.lookup("GET", "/1/2/3/4/5"), Lookup::Found(m) if m.params.len() == 5));
    assert!(allocations() > before);
}

/// Fills a route's parameters with distinct sample values.
fn fill(route: &str) -> (String, Vec<(String, String)>) {
    let mut params = Vec::new();
    let segments: Vec<String> = route
        .split('/')
        .enumerate()
        .map(|(i, segment)| match segment.strip_prefix([':', '*']) {
            Some(name) => {
                let value = format!("{name}-{i}");
                params.push((name.to_owned(), value.clone()));
                value
            }
            None => segment.to_owned(),
        })
        .collect();
    (segments.join("/"), params)
}

// --- property test against a naive matcher ---------------------------------

/// xorshift64*: deterministic, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Segments sharing prefixes, so the tree has to split nodes.
const WORDS: &[&str] = &["a", "b", "ab", "abc", "ba", "abd", "é"];

/// A random route. Parameter names depend only on the depth, so two routes
/// never put different names at one position; duplicates are filtered out.
fn random_route(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(4);
    let mut route = String::new();
    for i in 0..depth {
        route.push('/');
        match rng.below(10) {
            0..=5 => route.push_str(rng.pick(WORDS)),
            6..=8 => route.push_str(&format!(":p{i}")),
            _ => {
                route.push_str(&format!("*c{i}"));
                return route;
            }
        }
    }
    if rng.below(6) == 0 {
        route.push('/');
    }
    route
}

fn random_path(rng: &mut Rng, routes: &[String]) -> String {
    if rng.below(2) == 0 {
        // A route's own template with sample values, often a hit.
        let route = &routes[rng.below(routes.len())];
        let mut path: Vec<String> = Vec::new();
        for segment in route.split('/') {
            if segment.starts_with(':') {
                path.push(rng.pick(&["a", "ab", "x", "abc", ""]).to_owned());
            } else if segment.starts_with('*') {
                path.push(rng.pick(&["a", "x/y", "a/", "ab/abc", ""]).to_owned());
            } else {
                path.push(segment.to_owned());
            }
        }
        let mut path = path.join("/");
        if rng.below(4) == 0 {
            path.push('/');
        }
        return path;
    }
    let mut path = String::new();
    for _ in 0..1 + rng.below(5) {
        path.push('/');
        path.push_str(rng.pick(&["a", "b", "ab", "abc", "abd", "x", "", "é", "ab:"]));
    }
    path
}

/// The route of highest priority that matches `path`, found by trying every
/// route: at the first segment where two matching routes differ, static
/// beats parameter beats catch-all.
fn naive<'r>(routes: &'r [String], path: &str) -> Option<(&'r str, Pairs)> {
    let mut best: Option<(Rank, &str, Pairs)> = None;
    for route in routes {
        let Some((rank, params)) = naive_match(route, path) else {
            continue;
        };
        match &best {
            Some((best_rank, _, _)) if *best_rank <= rank => {}
            _ => best = Some((rank, route, params)),
        }
    }
    best.map(|(_, route, params)| (route, params))
}

/// Per segment: 0 static, 1 parameter, 2 catch-all; lower wins.
type Rank = Vec<u8>;
type Pairs = Vec<(String, String)>;

fn naive_match(route: &str, path: &str) -> Option<(Rank, Pairs)> {
    let route_segments: Vec<&str> = route[1..].split('/').collect();
    let path = path.strip_prefix('/')?;
    let mut rest = path;
    let mut rank = Vec::new();
    let mut params = Vec::new();
    for (i, segment) in route_segments.iter().enumerate() {
        let last = i + 1 == route_segments.len();
        if let Some(name) = segment.strip_prefix('*') {
            if rest.is_empty() {
                return None;
            }
            rank.push(2);
            params.push((name.to_owned(), rest.to_owned()));
            return Some((rank, params));
        }
        let (head, tail) = match rest.split_once('/') {
            Some((head, tail)) if !last => (head, Some(tail)),
            Some(_) => return None,
            None if last => (rest, None),
            None => return None,
        };
        if let Some(name) = segment.strip_prefix(':') {
            if head.is_empty() {
                return None;
            }
            rank.push(1);
            params.push((name.to_owned(), head.to_owned()));
        } else if *segment == head {
            rank.push(0);
        } else {
            return None;
        }
        rest = tail.unwrap_or("");
    }
    Some((rank, params))
}

#[test]
fn matches_like_a_naive_matcher_on_random_route_sets() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut hits, mut redirects, mut misses) = (0, 0, 0);
    for _ in 0..300 {
        let mut unique = BTreeSet::new();
        let count = 1 + rng.below(24);
        let routes: Vec<String> = (0..count)
            .map(|_| random_route(&mut rng))
            .filter(|route| unique.insert(route.clone()))
            .collect();
        let mut tree = Tree::new();
        for route in &routes {
            tree.insert(route, route.clone())
                .unwrap_or_else(|e| panic!("{e} in {routes:?}"));
        }
        for _ in 0..60 {
            let path = random_path(&mut rng, &routes);
            let got = tree.at(&path).map(|m| {
                let params: Vec<(String, String)> = m
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                (m.route.to_owned(), params)
            });
            let want = naive(&routes, &path);
            match (&got, want) {
                (Ok((route, params)), Some((want_route, want_params))) => {
                    assert_eq!(
                        (route.as_str(), params),
                        (want_route, &want_params),
                        "{path} in {routes:?}"
                    );
                    hits += 1;
                }
                (Err(e), None) => {
                    let toggled = match path.strip_suffix('/') {
                        Some(without) if !without.is_empty() => Some(without.to_owned()),
                        Some(_) => None,
                        None => Some(format!("{path}/")),
                    };
                    let want = match toggled.filter(|p| naive(&routes, p).is_some()) {
                        None => MatchError::NotFound,
                        Some(_) if path.ends_with('/') => MatchError::WithoutTrailingSlash,
                        Some(_) => MatchError::WithTrailingSlash,
                    };
                    assert_eq!(*e, want, "{path} in {routes:?}");
                    if want == MatchError::NotFound {
                        misses += 1;
                    } else {
                        redirects += 1;
                    }
                }
                (got, want) => panic!("{path} in {routes:?}: tree {got:?}, naive {want:?}"),
            }
        }
    }
    // The generator must exercise every outcome.
    assert!(
        hits > 3000 && redirects > 300 && misses > 3000,
        "{hits} {redirects} {misses}"
    );
}

#[test]
fn routes_for_every_method_come_after_the_methods_own() {
    let mut r = RouteTable::new();
    r.route("GET", "/a/:x", "get").unwrap();
    r.route_any("/a/:y", "any").unwrap();
    r.route_any("/sub/", "sub").unwrap();
    r.route_any("/sub/*rest", "sub-rest").unwrap();
    r.group("/g").route_any("/h", "g-any").unwrap();
    assert!(matches!(
        r.route_any("/a/:z", "x"),
        Err(InsertError::Conflict { .. })
    ));
    let found = |method, path| match r.lookup(method, path) {
        Lookup::Found(m) => *m.value,
        other => panic!("{method} {path}: {other:?}"),
    };
    assert_eq!(found("GET", "/a/1"), "get");
    assert_eq!(found("DELETE", "/a/1"), "any");
    assert_eq!(found("BREW", "/sub/"), "sub");
    assert_eq!(found("GET", "/sub/x/y"), "sub-rest");
    assert_eq!(found("PUT", "/g/h"), "g-any");
    // The bare prefix redirects for any method; no 405 where `any` matches.
    assert_eq!(
        r.lookup("POST", "/sub"),
        Lookup::RedirectTrailingSlash("/sub/".to_owned())
    );
    assert_eq!(r.lookup("POST", "/nowhere"), Lookup::NotFound);
}
