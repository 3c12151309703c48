//! The handler-level router over a real server: parameters, priorities,
//! 404, 405 with `Allow`, HEAD and OPTIONS, trailing-slash redirects,
//! groups and registration conflicts.

mod util;

use std::panic::{self, AssertUnwindSafe};

use fibra_http::router::InsertError;
use fibra_http::{handler_fn, Config, Error, Method, Request, Response, Router};
use util::{get, send, start};

/// A handler answering `name` followed by the route, params and method.
fn named(name: &'static str) -> impl fibra_http::Handler {
    move |req: &mut Request, resp: &mut Response| -> Result<(), Error> {
        let params: Vec<String> = req.params().map(|(k, v)| format!("{k}={v}")).collect();
        resp.text(format!(
            "{name} {} [{}] {}",
            req.route().unwrap_or("-"),
            params.join(","),
            req.method()
        ));
        Ok(())
    }
}

fn app() -> Router {
    let mut r = Router::new();
    r.get("/", named("root"))
        .get("/users/:id", named("user"))
        .get("/users/new", named("new-user"))
        .post("/users", named("create-user"))
        .delete("/users/:id", named("delete-user"))
        .get("/users/:id/posts/:post", named("post"))
        .get("/files/*path", named("files"))
        .get("/files/special", named("special"))
        .get("/dir/", named("dir"))
        .put("/items/:id", named("put-item"))
        .head("/only-head", named("head"))
        .get("/only-head", named("get-of-head"))
        .route(
            Method::from_bytes(b"PURGE").unwrap(),
            "/cache",
            named("purge"),
        );
    r.group("/api", |api| {
        api.get("/status", named("status"));
        api.group("/v1/", |v1| {
            v1.get("/things/:thing", named("thing"));
        });
    });
    r
}

#[test]
fn params_are_captured_and_decoded() {
    let s = start(Config::default(), app());
    let r = get(s.addr, "/users/42", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "user /users/:id [id=42] GET");
    let r = get(s.addr, "/users/7/posts/hello%20world?x=1", "");
    assert_eq!(
        r.text(),
        "post /users/:id/posts/:post [id=7,post=hello world] GET"
    );
    // An encoded slash stays inside its parameter; `+` is not a space.
    let r = get(s.addr, "/users/a%2Fb+c", "");
    assert_eq!(r.text(), "user /users/:id [id=a/b+c] GET");
    let r = get(s.addr, "/files/a/b/c.txt", "");
    assert_eq!(r.text(), "files /files/*path [path=a/b/c.txt] GET");
    let r = get(s.addr, "/api/v1/things/x", "");
    assert_eq!(r.text(), "thing /api/v1/things/:thing [thing=x] GET");
    let r = get(s.addr, "/api/status", "");
    assert_eq!(r.text(), "status /api/status [] GET");
    let r = get(s.addr, "/", "");
    assert_eq!(r.text(), "root / [] GET");
}

#[test]
fn static_routes_beat_parameters_and_catch_alls() {
    let s = start(Config::default(), app());
    assert_eq!(
        get(s.addr, "/users/new", "").text(),
        "new-user /users/new [] GET"
    );
    assert_eq!(
        get(s.addr, "/files/special", "").text(),
        "special /files/special [] GET"
    );
    assert_eq!(
        get(s.addr, "/files/specialx", "").text(),
        "files /files/*path [path=specialx] GET"
    );
}

#[test]
fn unknown_paths_get_404() {
    let s = start(Config::default(), app());
    let r = get(s.addr, "/nowhere", "");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "404 page not found\n");
    assert_eq!(get(s.addr, "/users/1/posts", "").status, 404);
}

#[test]
fn custom_not_found() {
    let mut r = app();
    r.not_found(handler_fn(|req, resp| {
        resp.status(fibra_http::StatusCode::NOT_FOUND)
            .text(format!("no {}", req.path()));
        Ok(())
    }));
    let s = start(Config::default(), r);
    let r = get(s.addr, "/nowhere", "");
    assert_eq!((r.status, r.text().as_str()), (404, "no /nowhere"));
}

#[test]
fn other_methods_get_405_with_allow() {
    let s = start(Config::default(), app());
    let r = send(s.addr, "PUT /users/42 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 405);
    // Methods in registration order, HEAD with GET, and OPTIONS.
    assert_eq!(r.header("allow"), Some("GET, DELETE, HEAD, OPTIONS"));
    let r = send(
        s.addr,
        "DELETE /users HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    let r = get(s.addr, "/cache", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("PURGE, OPTIONS"));
    let r = send(s.addr, "PURGE /cache HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.text(), "purge /cache [] PURGE");
}

#[test]
fn options_is_answered_with_allow() {
    let s = start(Config::default(), app());
    let r = send(s.addr, "OPTIONS /users/42 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, DELETE, HEAD, OPTIONS"));
    let r = send(s.addr, "OPTIONS /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn head_uses_get_unless_it_has_its_own_route() {
    let s = start(Config::default(), app());
    // The GET handler runs (it sees the HEAD method); no body is sent.
    let r = send(s.addr, "HEAD /users/42 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        r.header("content-length"),
        Some("user /users/:id [id=42] HEAD".len().to_string().as_str())
    );
    // The explicit HEAD route wins; the body is suppressed by the server.
    let r = send(s.addr, "HEAD /only-head HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some("head /only-head [] HEAD".len().to_string().as_str())
    );
    assert_eq!(
        get(s.addr, "/only-head", "").text(),
        "get-of-head /only-head [] GET"
    );
}

#[test]
fn trailing_slash_redirects() {
    let s = start(Config::default(), app());
    let r = get(s.addr, "/users/42/?a=1&b=2", "");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/users/42?a=1&b=2"));
    let r = get(s.addr, "/dir", "");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/dir/"));
    let r = send(s.addr, "HEAD /dir HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 301);
    let r = send(
        s.addr,
        "PUT /items/9/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/items/9"));
    // `//host` would be an open redirect to another site: 404 instead.
    let mut r = Router::new();
    r.get("/:a/", named("a"));
    let s2 = start(Config::default(), r);
    assert_eq!(get(s2.addr, "/x", "").status, 301);
    assert_eq!(get(s2.addr, "//evil.example", "").status, 404);
}

#[test]
fn redirects_can_be_turned_off() {
    let mut r = app();
    r.redirect_trailing_slash(false);
    let s = start(Config::default(), r);
    assert_eq!(get(s.addr, "/users/42/", "").status, 404);
}

#[test]
fn conflicts_are_reported_at_registration() {
    let mut r = Router::new();
    r.get("/users/:id", named("a"));
    let err = r
        .try_route(Method::GET, "/users/:name", named("b"))
        .unwrap_err();
    assert!(matches!(err, InsertError::Conflict { .. }), "{err:?}");
    assert_eq!(err.existing(), Some("/users/:id"));
    // The same route for another method is fine.
    assert!(r.try_route(Method::PUT, "/users/:id", named("c")).is_ok());

    let panic = panic::catch_unwind(AssertUnwindSafe(|| {
        r.get("/users/:id", named("d"));
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("GET /users/:id") && msg.contains("already registered"),
        "{msg}"
    );

    let panic = panic::catch_unwind(AssertUnwindSafe(|| {
        r.group("/g", |g| {
            g.get("/x/:a", named("e"));
            g.get("/x/:b", named("f"));
        });
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("/g/x/:b") && msg.contains("/g/x/:a"), "{msg}");

    let mut g_err = None;
    r.group("/h", |g| {
        g_err = g.try_route(Method::GET, "no-slash", named("g")).err()
    });
    assert!(matches!(g_err, Some(InsertError::Malformed { .. })));
}

#[test]
fn group_middleware_after_a_route_panics() {
    let mut r = Router::new();
    let panic = panic::catch_unwind(AssertUnwindSafe(|| {
        r.group("/g", |g| {
            g.get("/x", named("x"));
            g.middleware(fibra_http::middleware::Logger::new());
        });
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("before registering routes"), "{msg}");
}
