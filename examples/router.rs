//! A small routed application: parameters, groups with middleware, JSON,
//! and static files.
//!
//! ```text
//! cargo run --example router --features json
//! curl http://127.0.0.1:8080/hello/you
//! curl -X POST -d '{"name":"ada"}' http://127.0.0.1:8080/api/v1/users
//! curl http://127.0.0.1:8080/api/v1/users/1
//! curl -H 'Authorization: Bearer letmein' -X DELETE http://127.0.0.1:8080/api/v1/users/1
//! curl --compressed http://127.0.0.1:8080/static/router.rs
//! ```
//!
//! Static files come from the `examples/` directory (or the directory
//! given as the first argument). `ADDR=127.0.0.1:9000` listens elsewhere.
//! The `Logger` middleware logs through `tracing`; install a subscriber
//! to see its lines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use fibra::http::middleware::{middleware_fn, Cors, Gzip, Logger, Recover, RequestId};
use fibra::http::{Error, Request, Response, Router, Server, StaticFiles, StatusCode};

/// Users by id, each a JSON object of string fields.
type Users = Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>;

fn hello(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let name = req.param("name").unwrap_or("world");
    resp.text(format!("hello, {name}\n"));
    Ok(())
}

fn user_id(req: &Request) -> Result<u64, Error> {
    req.param("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::bad_request("the user id must be a number"))
}

fn main() -> std::io::Result<()> {
    let static_dir = std::env::args().nth(1).unwrap_or_else(|| "examples".into());
    let users: Users = Arc::default();

    let mut router = Router::new();
    router
        .middleware(Logger::new())
        .middleware(RequestId::new())
        .middleware(Recover::new())
        .middleware(Cors::new().allow_origin("http://localhost:3000"))
        .middleware(Gzip::new());

    router.get("/hello/:name", hello);
    router.get(
        "/panic",
        |_: &mut Request, _: &mut Response| -> Result<(), Error> {
            panic!("a bug in a handler: answered 500, the server keeps going")
        },
    );
    router.get("/static/*path", StaticFiles::new(&static_dir)?);

    router.group("/api/v1", |api| {
        let (list, show, create, delete) = (users.clone(), users.clone(), users.clone(), users);
        api.get("/users", move |_: &mut Request, resp: &mut Response| {
            let users = list.lock().unwrap_or_else(|e| e.into_inner());
            resp.json(&*users)?;
            Ok(())
        });
        api.get(
            "/users/:id",
            move |req: &mut Request, resp: &mut Response| {
                let id = user_id(req)?;
                let users = show.lock().unwrap_or_else(|e| e.into_inner());
                let user = users
                    .get(&id)
                    .ok_or_else(|| Error::new(StatusCode::NOT_FOUND, "no such user"))?;
                resp.json(user)?;
                Ok(())
            },
        );
        api.post("/users", move |req: &mut Request, resp: &mut Response| {
            let user: BTreeMap<String, String> = req.json()?;
            let mut users = create.lock().unwrap_or_else(|e| e.into_inner());
            let id = users.keys().next_back().map_or(1, |last| last + 1);
            users.insert(id, user);
            resp.status(StatusCode::CREATED)
                .header("location", &format!("/api/v1/users/{id}"))?;
            resp.json(&BTreeMap::from([("id", id)]))?;
            Ok(())
        });
        // Deleting needs a token: a nested group with its own middleware.
        api.group("/", |admin| {
            admin.middleware(middleware_fn(|req, resp, next| {
                if req.header("authorization") != Some("Bearer letmein") {
                    resp.status(StatusCode::UNAUTHORIZED).text("unauthorized\n");
                    return Ok(());
                }
                next.run(req, resp)
            }));
            admin.delete(
                "/users/:id",
                move |req: &mut Request, resp: &mut Response| {
                    let id = user_id(req)?;
                    let mut users = delete.lock().unwrap_or_else(|e| e.into_inner());
                    users.remove(&id);
                    resp.status(StatusCode::NO_CONTENT);
                    Ok(())
                },
            );
        });
    });

    fibra::run(move || {
        let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
        let server = Server::bind(addr.as_str())?;
        println!("listening on http://{}/", server.local_addr()?);
        server.serve(router)
    })
}
