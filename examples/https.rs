//! An HTTPS server whose certificate is reloaded on SIGHUP, without a
//! restart: `cargo run --example https -- CERT KEY [ADDR]`. With the test
//! certificate:
//!
//! ```text
//! cargo run --example https -- net/tests/data/localhost.pem net/tests/data/localhost.key
//! curl --cacert net/tests/data/ca.pem https://localhost:8443/
//! kill -HUP <pid>    # after replacing the files
//! ```

use fibra::http::{handler_fn, tls, Server};
use fibra::signal::{self, SIGHUP};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(cert), Some(key)) = (args.next(), args.next()) else {
        eprintln!("usage: https CERT KEY [ADDR]");
        std::process::exit(2);
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8443".into());
    fibra::run(move || {
        let server = Server::bind_tls(addr.as_str(), tls::Config::from_pem_files(&cert, &key)?)?;
        println!("listening on https://{}/", server.local_addr()?);

        let reloader = server.tls_reloader().expect("a TLS server");
        let hangups = signal::notify(&[SIGHUP])?;
        fibra::spawn(move || {
            while hangups.recv().is_ok() {
                // Open connections keep their session; new ones get the
                // new certificate. A bad file keeps the old one.
                match tls::Config::from_pem_files(&cert, &key) {
                    Ok(config) => {
                        reloader.reload(config);
                        eprintln!("certificate reloaded");
                    }
                    Err(e) => eprintln!("reload failed, keeping the old certificate: {e}"),
                }
            }
        });

        server.serve(handler_fn(|req, resp| {
            let tls = req.tls().expect("served over TLS");
            resp.text(format!(
                "hello over TLS, {} (SNI {})\n",
                req.remote_addr(),
                tls.server_name().unwrap_or("none")
            ));
            Ok(())
        }))
    })
}
