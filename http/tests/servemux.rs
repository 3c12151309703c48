//! Go `ServeMux` habits over a real server: routes for every method
//! (`Router::any`) and subtree patterns (`Router::subtree`) with the
//! redirect from the bare prefix.

mod util;

use fibra_http::{Config, Error, Request, Response, Router};
use util::{get, send, start};

/// A handler answering `name`, the route, the `rest` parameter and the
/// method.
fn named(name: &'static str) -> impl fibra_http::Handler {
    move |req: &mut Request, resp: &mut Response| -> Result<(), Error> {
        resp.text(format!(
            "{name} {} {:?} {}",
            req.route().unwrap_or("-"),
            req.param("rest"),
            req.method()
        ));
        Ok(())
    }
}

fn request(method: &str, target: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
}

#[test]
fn any_serves_every_method_and_yields_to_a_method_route() {
    let mut r = Router::new();
    r.any("/hook", named("hook"))
        .post("/hook", named("post-hook"));
    r.group("/api", |api| {
        api.any("/echo/:x", named("echo"));
    });
    let s = start(Config::default(), r);
    for method in ["GET", "PUT", "DELETE", "PATCH", "PURGE", "OPTIONS"] {
        let resp = send(s.addr, &request(method, "/hook"));
        assert_eq!(resp.status, 200, "{method}");
        assert_eq!(resp.text(), format!("hook /hook None {method}"));
    }
    // A route of the request's own method wins, as in Go.
    assert_eq!(
        send(s.addr, &request("POST", "/hook")).text(),
        "post-hook /hook None POST"
    );
    let resp = send(s.addr, "HEAD /hook HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(
        send(s.addr, &request("DELETE", "/api/echo/7")).text(),
        "echo /api/echo/:x None DELETE"
    );
    assert_eq!(get(s.addr, "/nope", "").status, 404);
}

#[test]
fn subtree_matches_the_prefix_and_everything_under_it() {
    let mut r = Router::new();
    r.subtree("/publish/", named("publish"))
        .get("/publish/status", named("status"));
    let s = start(Config::default(), r);

    let resp = get(s.addr, "/publish/", "");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "publish /publish/ None GET");
    assert_eq!(
        get(s.addr, "/publish/a", "").text(),
        "publish /publish/*rest Some(\"a\") GET"
    );
    assert_eq!(
        send(s.addr, &request("POST", "/publish/a/b/c")).text(),
        "publish /publish/*rest Some(\"a/b/c\") POST"
    );
    // The more specific route wins for its method only.
    assert_eq!(
        get(s.addr, "/publish/status", "").text(),
        "status /publish/status None GET"
    );
    assert_eq!(
        send(s.addr, &request("PUT", "/publish/status")).text(),
        "publish /publish/*rest Some(\"status\") PUT"
    );
    // Outside the subtree: 404, not the subtree.
    assert_eq!(get(s.addr, "/publisher", "").status, 404);
    assert_eq!(get(s.addr, "/", "").status, 404);
}

#[test]
fn the_bare_prefix_redirects_to_the_subtree() {
    let mut r = Router::new();
    r.subtree("/publish/", named("publish"));
    r.group("/v2", |v2| {
        v2.subtree("/files/", named("files"));
    });
    let s = start(Config::default(), r);
    let resp = get(s.addr, "/publish?x=1", "");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("/publish/?x=1"));
    // Other methods keep their method and body: 308 (Go answers 301).
    let resp = send(s.addr, &request("POST", "/publish"));
    assert_eq!(resp.status, 308);
    assert_eq!(resp.header("location"), Some("/publish/"));
    let resp = get(s.addr, "/v2/files", "");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("/v2/files/"));
    assert_eq!(
        get(s.addr, "/v2/files/x/y", "").text(),
        "files /v2/files/*rest Some(\"x/y\") GET"
    );
}

#[test]
fn a_root_subtree_catches_whatever_nothing_else_matches() {
    let mut r = Router::new();
    r.subtree("/", named("root"))
        .get("/users/:id", named("user"));
    let s = start(Config::default(), r);
    assert_eq!(get(s.addr, "/", "").text(), "root / None GET");
    assert_eq!(
        get(s.addr, "/anything/at/all", "").text(),
        "root /*rest Some(\"anything/at/all\") GET"
    );
    assert_eq!(
        get(s.addr, "/users/3", "").text(),
        "user /users/:id None GET"
    );
    // No 405 for a path a route of another method has: the subtree takes it.
    assert_eq!(
        send(s.addr, &request("DELETE", "/users/3")).text(),
        "root /*rest Some(\"users/3\") DELETE"
    );
}

#[test]
#[should_panic(expected = "starts and ends with `/`")]
fn a_subtree_prefix_must_end_with_a_slash() {
    Router::new().subtree("/publish", named("publish"));
}
