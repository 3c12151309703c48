//! The smallest fibra HTTP server: `cargo run --example http_hello`, then
//! `curl 'http://127.0.0.1:8080/?name=you'`.

use fibra::http::{Error, Request, Response, Server};

fn hello(req: &mut Request, resp: &mut Response) -> Result<(), Error> {
    let name = req.query_param("name").unwrap_or_else(|| "world".into());
    resp.text(format!("hello, {name}\n"));
    Ok(())
}

fn main() -> std::io::Result<()> {
    fibra::run(|| {
        let server = Server::bind("127.0.0.1:8080")?;
        println!("listening on http://{}/", server.local_addr()?);
        server.serve(hello)
    })
}
